//! Echo: `conns` TCP connections to an echo server, all open at once, each exchanging
//! `messages` request-reply messages of varying length; every reply is the request, intact
//! and in order, and the server saw every connection open at the same time.
//!
//! The server runs in a child process (this test binary re-run with a marker variable and
//! a filter selecting [`echo_server_child`]) on the same configuration: each side then needs
//! one descriptor per connection, so 10,000 connections fit a 20,000-descriptor hard
//! limit. Where the limit (or the ephemeral port range) is too small even so, the run says
//! so and scales down instead of failing.

use crate::support::{
    Mode, bounded, configs, one_at_a_time, raise_fd_limit, runtime, settles_to_zero,
};
use std::io::{BufRead, BufReader, Lines};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::{TcpListener, TcpStream};
use trioxide::sync::Barrier;

/// Marks the child process: `<config name> <connections> <limit in seconds>`.
const CHILD_ENV: &str = "TRIOXIDE_STRESS_ECHO_SERVER";
/// Descriptors kept free for the runtime, the child pipe and the test harness.
const FD_MARGIN: u64 = 256;
/// Ephemeral ports kept free for everything else on the machine.
const PORT_MARGIN: u64 = 2_000;

#[test]
fn many_concurrent_echo_connections_lose_and_reorder_nothing() {
    let _serial = one_at_a_time();
    let mode = Mode::from_env();
    let conns = fit_connections(mode.pick(500, 10_000));
    let messages = mode.pick(20, 100);
    let limit = mode.pick(Duration::from_secs(60), Duration::from_secs(300));
    for (name, flavor, io) in configs() {
        for round in 0..mode.rounds() {
            let Some(rt) = runtime(flavor, io) else {
                break;
            };
            let server = EchoServer::start(name, conns, limit);
            let what =
                format!("echo {name} round {round}: {conns} connections x {messages} messages");
            let sent = bounded(&what, limit, || {
                rt.block_on(clients(server.addr, conns, messages, round))
            });
            assert_eq!(
                settles_to_zero(|| rt.live_tasks()),
                0,
                "{name}: a client stayed live"
            );
            // Dropping the runtime closes the clients' sockets for good: on io_uring an
            // idle runtime can leave a dropped stream open until the ring is next entered
            // (tests/tests/net_uring_close_idle.rs), and the server waits for every FIN.
            drop(rt);
            let (peak, received) = server.finish();
            assert_eq!(
                received, sent,
                "{name}: the server received every byte sent"
            );
            assert_eq!(peak, conns, "{name}: every connection was open at once");
            println!(
                "stress: echo {name}: {peak} connections open at once, {sent} bytes echoed \
                 intact and in order"
            );
        }
    }
}

/// The connections this machine allows, `want` at most, saying why when fewer.
fn fit_connections(want: usize) -> usize {
    let fds = raise_fd_limit();
    let by_fds = fds.saturating_sub(FD_MARGIN) as usize;
    let by_ports = ephemeral_ports().saturating_sub(PORT_MARGIN) as usize;
    let fit = want.min(by_fds).min(by_ports).max(1);
    if fit < want {
        println!(
            "stress: echo scaled down to {fit} connections (wanted {want}): RLIMIT_NOFILE \
             allows {fds} descriptors per process, the ephemeral port range {} ports",
            ephemeral_ports()
        );
    }
    fit
}

/// The size of `net.ipv4.ip_local_port_range` (a generous guess where it cannot be read).
fn ephemeral_ports() -> u64 {
    let range =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut ends = range
        .split_whitespace()
        .filter_map(|s| s.parse::<u64>().ok());
    match (ends.next(), ends.next()) {
        (Some(lo), Some(hi)) if hi >= lo => hi - lo + 1,
        _ => 28_000,
    }
}

/// The message `m` of connection `c`: distinct, of varying length (8 to 300 bytes).
fn message(c: usize, m: usize) -> Vec<u8> {
    let head = format!("{c}.{m}:");
    let len = 8 + (c * 31 + m * 17) % 293;
    let mut msg = head.into_bytes();
    msg.resize(len.max(msg.len()), b'a' + (m % 26) as u8);
    msg
}

/// Runs every client; returns the bytes sent (each came back intact).
async fn clients(addr: SocketAddr, conns: usize, messages: usize, round: usize) -> u64 {
    let connected = Arc::new(Barrier::new(conns));
    let exchanged = Arc::new(Barrier::new(conns));
    let handles: Vec<_> = (0..conns)
        .map(|c| {
            let (connected, exchanged) = (connected.clone(), exchanged.clone());
            trioxide::spawn(async move {
                let mut stream = TcpStream::connect(addr)
                    .await
                    .expect("connect to the echo server");
                connected.wait().await;
                let mut sent = 0u64;
                let mut back = Vec::new();
                for m in 0..messages {
                    let msg = message(c + round, m);
                    stream.write_all(&msg).await.expect("write a message");
                    back.resize(msg.len(), 0);
                    stream.read_exact(&mut back).await.expect("read its echo");
                    assert_eq!(back, msg, "connection {c} message {m}: intact, in order");
                    sent += msg.len() as u64;
                }
                // Keep the connection open until every client got this far.
                exchanged.wait().await;
                sent
            })
        })
        .collect();
    let mut sent = 0;
    for handle in handles {
        sent += handle.await.expect("every client finishes");
    }
    sent
}

/// The echo server child process, as the parent sees it.
struct EchoServer {
    /// `None` once waited for; a server dropped before that (a failed round) is killed.
    child: Option<Child>,
    lines: Lines<BufReader<ChildStdout>>,
    addr: SocketAddr,
}

impl EchoServer {
    /// Starts the child on configuration `name` and reads the address it listens on.
    fn start(name: &str, conns: usize, limit: Duration) -> EchoServer {
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "echo::echo_server_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{name} {conns} {}", limit.as_secs()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the echo server child");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the echo server child printed its address")
                .unwrap();
            // The harness may print on the same line first ("test ... ").
            if let Some((_, addr)) = line.split_once("echo-server listening ") {
                break addr.trim().parse().expect("a socket address");
            }
        };
        EchoServer {
            child: Some(child),
            lines,
            addr,
        }
    }

    /// Waits for the child to finish; returns (peak open connections, bytes received).
    fn finish(mut self) -> (usize, u64) {
        let mut report = None;
        for line in self.lines.by_ref() {
            let line = line.unwrap();
            if let Some((_, rest)) = line.split_once("echo-server served ") {
                let mut fields = rest.split_whitespace().map(|f| f.parse::<u64>().unwrap());
                report = Some((fields.next().unwrap() as usize, fields.next().unwrap()));
            } else if let Some((_, said)) = line.split_once("stress:") {
                println!("stress:{said} (server)");
            }
        }
        let status = self.child.take().unwrap().wait().unwrap();
        assert!(status.success(), "the echo server child failed: {status}");
        report.expect("the echo server child reported what it served")
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // the round failed: do not leave the server waiting
            let _ = child.wait();
        }
    }
}

/// The echo server, in the child process only (it returns at once elsewhere): accepts the
/// connections, echoes each until its client closes, and prints the peak number of open
/// connections and the bytes it echoed.
#[test]
fn echo_server_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // only meaningful in the child process
    };
    let mut fields = spec.split_whitespace();
    let name = fields.next().unwrap();
    let conns: usize = fields.next().unwrap().parse().unwrap();
    let limit = Duration::from_secs(fields.next().unwrap().parse().unwrap());
    raise_fd_limit();
    let (_, flavor, io) = configs()
        .find(|(n, _, _)| *n == name)
        .expect("a known configuration");
    let rt = runtime(flavor, io).expect("the parent built this configuration");
    let (peak, bytes) = bounded(&format!("echo server {name}"), limit, || {
        rt.block_on(serve(conns))
    });
    println!("echo-server served {peak} {bytes}");
}

async fn serve(conns: usize) -> (usize, u64) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the echo server");
    println!("echo-server listening {}", listener.local_addr().unwrap());
    let open = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let mut handlers = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (mut conn, _) = listener.accept().await.expect("accept a client");
        let now = open.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(now, Ordering::SeqCst);
        let (open, bytes) = (open.clone(), bytes.clone());
        handlers.push(trioxide::spawn(async move {
            let mut buf = [0u8; 4096];
            loop {
                let n = conn.read(&mut buf).await.expect("read from a client");
                if n == 0 {
                    break; // the client closed: the loop is bounded by its messages
                }
                conn.write_all(&buf[..n]).await.expect("echo to a client");
                bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            open.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    drop(listener);
    for handler in handlers {
        handler.await.expect("every handler finishes");
    }
    (peak.load(Ordering::SeqCst), bytes.load(Ordering::SeqCst))
}
