//! Network faults end to end, on every flavor and both I/O backends: half-close, a
//! 64 MiB checksummed transfer each way at once, refused connects, a peer that resets
//! mid-write (typed error, no panic, no `SIGPIPE`), and a peer that never reads (the
//! writer stays pending with bounded memory and can be cancelled).

use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::{TcpListener, TcpStream, UnixStream};
use trioxide_tests::rt_test;

/// A connected (client, server) pair on loopback.
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = trioxide::spawn(async move { listener.accept().await.unwrap().0 });
    let client = TcpStream::connect(addr).await.unwrap();
    (client, accept.await.unwrap())
}

/// Makes `close` of `stream` send a RST instead of a FIN (`SO_LINGER` with timeout 0).
fn set_linger_zero(stream: &impl AsRawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: passes a pointer to a `linger` and its size.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt(SO_LINGER)");
}

/// One `poll_write_vectored` (the extension traits have no vectored write).
async fn write_vectored<'a, S>(
    stream: &'a S,
    bufs: &[std::io::IoSlice<'_>],
) -> std::io::Result<usize>
where
    &'a S: futures_io::AsyncWrite + Unpin,
{
    let mut s = stream;
    std::future::poll_fn(|cx| {
        futures_io::AsyncWrite::poll_write_vectored(std::pin::Pin::new(&mut s), cx, bufs)
    })
    .await
}

/// A deterministic byte stream: word `i` of stream `seed` (xorshift-mixed).
fn word(seed: u64, i: u64) -> u64 {
    let mut x = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^ (x >> 29)
}

/// An order-sensitive checksum (FNV-1a over 64-bit words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Checksum(u64);

impl Checksum {
    fn new() -> Checksum {
        Checksum(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, chunk: &[u8]) {
        for w in chunk.chunks_exact(8) {
            self.0 = (self.0 ^ u64::from_le_bytes(w.try_into().unwrap()))
                .wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
}

const CHUNK: usize = 64 * 1024;
const TRANSFER: usize = 64 * 1024 * 1024;

/// Writes `TRANSFER` bytes of stream `seed`, then shuts the write half; returns the
/// checksum of what was sent.
async fn send_stream(stream: &TcpStream, seed: u64) -> Checksum {
    let mut sum = Checksum::new();
    let mut chunk = vec![0u8; CHUNK];
    for c in 0..(TRANSFER / CHUNK) as u64 {
        for (i, w) in chunk.chunks_exact_mut(8).enumerate() {
            w.copy_from_slice(&word(seed, c * (CHUNK as u64 / 8) + i as u64).to_le_bytes());
        }
        sum.add(&chunk);
        let mut s = stream;
        s.write_all(&chunk).await.unwrap();
    }
    stream.shutdown(Shutdown::Write).unwrap();
    sum
}

/// Reads to EOF; returns the byte count and checksum of what arrived.
async fn receive_stream(stream: &TcpStream) -> (usize, Checksum) {
    let mut sum = Checksum::new();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    let mut s = stream;
    loop {
        // Whole chunks keep the checksum's word boundaries where the sender's are.
        match s.read_exact(&mut buf).await {
            Ok(()) => {
                sum.add(&buf);
                total += CHUNK;
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("receive failed: {e}"),
        }
    }
    (total, sum)
}

rt_test! {
    async fn half_close_lets_the_peer_read_eof_and_still_reply() {
        let (client, server) = tcp_pair().await;
        let server = trioxide::spawn(async move {
            let mut got = Vec::new();
            (&server).read_to_end(&mut got).await.unwrap();
            // The client's write half is closed; ours is still open.
            let reply = format!("got {} bytes", got.len());
            (&server).write_all(reply.as_bytes()).await.unwrap();
            server.shutdown(Shutdown::Write).unwrap();
            got
        });
        (&client).write_all(b"request body").await.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        (&client).read_to_string(&mut reply).await.unwrap();
        assert_eq!(reply, "got 12 bytes");
        assert_eq!(server.await.unwrap(), b"request body");
    }
}

rt_test! {
    async fn sixty_four_mib_each_way_at_once_arrive_intact() {
        let (client, server) = tcp_pair().await;
        let server = trioxide::spawn(async move {
            let (sent, received) =
                trioxide::join!(send_stream(&server, 2), receive_stream(&server));
            (sent, received)
        });
        let (sent, (n, received)) =
            trioxide::join!(send_stream(&client, 1), receive_stream(&client));
        let (server_sent, (server_n, server_received)) = server.await.unwrap();
        assert_eq!(n, TRANSFER);
        assert_eq!(server_n, TRANSFER);
        assert_eq!(server_received, sent, "client -> server stream intact");
        assert_eq!(received, server_sent, "server -> client stream intact");
        assert_ne!(sent, server_sent, "the two streams differ");
    }
}

rt_test! {
    async fn connect_to_a_port_nobody_listens_on_is_refused() {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        for _ in 0..3 {
            let err = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        }
    }
}

/// Whether `e` is what a write to a reset connection may report.
fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    )
}

/// A connection whose server end read a little and then reset it (RST); returns the
/// client end.
async fn reset_by_peer_mid_write() -> TcpStream {
    let (client, server) = tcp_pair().await;
    let resetter = trioxide::spawn(async move {
        let mut first = [0u8; 1024];
        (&server).read_exact(&mut first).await.unwrap();
        set_linger_zero(&server);
        drop(server);
    });
    // Write until the reset is seen: the first write lands, later ones fail.
    let data = vec![7u8; 256 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        assert!(Instant::now() < deadline, "no reset seen within 10 s");
        if let Err(e) = (&client).write_all(&data).await {
            break e;
        }
    };
    assert!(is_reset(&err), "typed reset error, got {err:?}");
    resetter.await.unwrap();
    client
}

rt_test! {
    async fn peer_reset_mid_write_is_a_typed_error_on_every_write_path() {
        let client = reset_by_peer_mid_write().await;
        // Every later write path reports the broken connection as an error.
        let err = client.write_some(b"more").await.unwrap_err();
        assert!(is_reset(&err), "write_some: {err:?}");
        let bufs = [std::io::IoSlice::new(b"a"), std::io::IoSlice::new(b"b")];
        let err = write_vectored(&client, &bufs).await.unwrap_err();
        assert!(is_reset(&err), "write_vectored: {err:?}");
        let (res, buf) = client.write_all_owned(vec![1u8; 4096]).await;
        assert!(is_reset(&res.unwrap_err()), "write_all_owned");
        assert_eq!(buf.len(), 4096, "the owned buffer comes back");
        // Reading after the reset: an error or EOF, never a hang or panic.
        let mut buf = [0u8; 16];
        match (&client).read(&mut buf).await {
            Ok(0) => {}
            Ok(n) => panic!("read {n} bytes from a reset connection"),
            Err(e) => assert!(is_reset(&e), "read: {e:?}"),
        }
    }
}

rt_test! {
    async fn a_peer_closing_mid_transfer_always_reaches_the_writer() {
        // The peer reads a little and closes while data keeps arriving: every round the
        // writer must see the reset. (On io_uring the closing side's poll was once left
        // armed when its removal met a wake-up in flight; the kernel then kept the socket
        // open, no RST was sent, and the writer hung in about one round in four.)
        for round in 0..20 {
            let reset = trioxide::fail_after(Duration::from_secs(10), reset_by_peer_mid_write()).await;
            assert!(reset.is_ok(), "round {round}: the writer never saw the peer's reset");
        }
    }
}

rt_test! {
    async fn writer_to_a_peer_that_never_reads_stays_pending_and_cancels() {
        let (client, server) = tcp_pair().await;
        let written = Arc::new(AtomicUsize::new(0));
        let progress = written.clone();
        let writer = trioxide::spawn(async move {
            let chunk = vec![3u8; CHUNK];
            loop {
                let n = client.write_some(&chunk).await.unwrap();
                progress.fetch_add(n, Ordering::SeqCst);
            }
        });
        // Wait until the kernel's buffers are full: no progress for 300 ms.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = usize::MAX;
        loop {
            trioxide::time::sleep(Duration::from_millis(300)).await;
            let now = written.load(Ordering::SeqCst);
            if now == last && now > 0 {
                break;
            }
            last = now;
            assert!(Instant::now() < deadline, "the writer never stalled");
        }
        assert!(!writer.is_finished(), "the writer's future is pending");
        // Memory is bounded by the sockets' kernel buffers, not by the writer.
        assert!(last < 64 * 1024 * 1024, "{last} bytes accepted by a peer that never reads");
        writer.cancel();
        let res = trioxide::time::timeout(Duration::from_secs(10), writer)
            .await
            .expect("the cancelled writer finished within 10 s");
        assert!(matches!(res, Err(trioxide::JoinError::Cancelled)), "{res:?}");
        drop(server);
    }
}

rt_test! {
    async fn owned_writer_to_a_peer_that_never_reads_cancels() {
        let (client, server) = tcp_pair().await;
        let writer = trioxide::spawn(async move {
            // 64 MiB in one owned write: on io_uring a send op stays in the kernel.
            let (res, _buf) = client.write_all_owned(vec![5u8; TRANSFER]).await;
            res
        });
        trioxide::time::sleep(Duration::from_millis(200)).await;
        assert!(!writer.is_finished(), "64 MiB cannot fit a never-read socket");
        writer.cancel();
        let res = trioxide::time::timeout(Duration::from_secs(10), writer)
            .await
            .expect("the cancelled writer finished within 10 s");
        assert!(matches!(res, Err(trioxide::JoinError::Cancelled)), "{res:?}");
        // The server end still works after the writer went away.
        let mut some = [0u8; 4096];
        assert!((&server).read(&mut some).await.unwrap() > 0);
    }
}

/// The child process of [`sigpipe_never_kills_the_process`]: restores the default
/// `SIGPIPE` action (kill) that Rust's start-up replaced with "ignore", then writes to
/// reset TCP connections and a closed Unix socket on every configuration.
#[test]
fn sigpipe_child() {
    if std::env::var_os("TRIOXIDE_SIGPIPE_CHILD").is_none() {
        return; // only meaningful in the child process
    }
    // SAFETY: resets one signal's disposition; no handler is installed.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    for &(name, flavor, io) in trioxide_tests::CONFIGS {
        let Some(rt) = trioxide_tests::try_runtime(flavor, io) else {
            continue;
        };
        rt.block_on(async {
            let client = reset_by_peer_mid_write().await;
            let _ = client.write_some(b"x").await;
            let bufs = [std::io::IoSlice::new(b"a")];
            let _ = write_vectored(&client, &bufs).await;
            let _ = client.write_all_owned(vec![1; 64]).await;
            let (a, b) = UnixStream::pair().unwrap();
            drop(b);
            // The peer is closed once the kernel lets go of `b`'s file: at once on epoll;
            // on io_uring when its readiness poll is cancelled, which on a WorkStealing
            // worker's ring that worker does, a moment after the drop on a loaded
            // machine. Until then a write lands in the closed socket's buffer.
            let deadline = Instant::now() + Duration::from_secs(10);
            while (&a).write_all(b"x").await.is_ok() {
                assert!(
                    Instant::now() < deadline,
                    "{name}: writes to a closed peer still succeed after 10 s"
                );
                trioxide::time::sleep(Duration::from_millis(1)).await;
            }
            assert!(write_vectored(&a, &bufs).await.is_err());
        });
        println!("sigpipe-survived {name}");
    }
}

#[test]
fn sigpipe_never_kills_the_process() {
    if std::env::var_os("TRIOXIDE_SIGPIPE_CHILD").is_some() {
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("TRIOXIDE_SIGPIPE_CHILD", "1")
        .args([
            "--exact",
            "sigpipe_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read both pipes while the child runs: a child blocked writing to a full pipe (a
    // panic's backtrace on stderr, say) would otherwise look hung, and its output lost.
    fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    }
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    // A hang in the child fails this test instead of stalling the whole run. The child
    // takes well under a second on an idle machine; the limit is for a loaded one.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the SIGPIPE child hung; its output:\n{}\n{}",
                stdout.join().unwrap(),
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    {
        use std::os::unix::process::ExitStatusExt;
        assert_ne!(
            status.signal(),
            Some(libc::SIGPIPE),
            "killed by SIGPIPE after: {stdout}"
        );
    }
    assert!(status.success(), "child failed: {stdout}\n{stderr}");
    assert!(
        stdout.contains("sigpipe-survived current_thread_epoll"),
        "{stdout}"
    );
}
