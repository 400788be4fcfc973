//! Runs the `hello_server` example (hyper on trioxide) as a child process and talks to it:
//! both routes through a hyper client running on trioxide and through `curl` (when
//! installed), 1,000 keep-alive requests on 100 concurrent connections, a slowloris peer
//! that must not hold the server, and a graceful `SIGINT` that finishes the request in
//! flight and exits with status 0.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;
use trioxide::compat::HyperIo;
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::TcpStream;
use trioxide::runtime::{Flavor, Runtime};

/// Generous bounds: the CI machine is a loaded 2-core box.
const WITHIN: Duration = Duration::from_secs(30);

/// The example running as a child process, killed if the test fails first.
struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut child = Command::new(cargo)
            .args(["run", "--quiet", "-p", "trioxide", "--features", "hyper"])
            .args(["--example", "hello_server", "--", "--addr", "127.0.0.1:0"])
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("cargo runs the example");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let banner = read_line(&mut stdout);
        let addr = banner
            .trim()
            .strip_prefix("Server started at http://")
            .unwrap_or_else(|| panic!("unexpected banner {banner:?}"))
            .parse()
            .expect("the banner has the bound address");
        Server {
            child,
            stdout,
            addr,
        }
    }

    /// Sends `SIGINT`, as Ctrl-C in a terminal would.
    fn interrupt(&self) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: `kill` with the pid of our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    }

    /// Waits for the child to exit (killing it after `WITHIN`), returning its status.
    fn wait(mut self) -> std::process::ExitStatus {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(started.elapsed() < WITHIN, "the server did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_line(stdout: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    line
}

fn client_runtime() -> Runtime {
    Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .worker_threads(2)
        .build()
        .unwrap()
}

/// A hyper HTTP/1.1 client connection on trioxide; its connection task runs detached.
async fn connect(addr: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
        .await
        .unwrap();
    drop(trioxide::spawn(conn));
    sender
}

async fn get(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> String {
    sender.ready().await.unwrap();
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap();
    let res = sender.send_request(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[test]
fn hello_server_serves_hyper_clients_curl_many_keep_alive_requests_and_survives_slowloris() {
    let server = Server::start(&["--header-timeout-ms", "1000"]);
    let addr = server.addr;

    // Both routes, through curl if this machine has it.
    for (path, want) in [("/", "Hello, Anonymous!"), ("/Alice", "Hello, Alice!")] {
        match Command::new("curl")
            .args(["-s", "--max-time", "20", &format!("http://{addr}{path}")])
            .output()
        {
            Ok(out) => {
                assert!(out.status.success(), "curl failed: {out:?}");
                assert_eq!(String::from_utf8(out.stdout).unwrap(), want);
            }
            Err(err) => eprintln!("curl unavailable ({err}): skipping the curl check of {path}"),
        }
    }

    client_runtime().block_on(async move {
        // Both routes through a hyper client on trioxide, on one keep-alive connection.
        let mut sender = connect(addr).await;
        assert_eq!(get(&mut sender, "/").await, "Hello, Anonymous!");
        assert_eq!(get(&mut sender, "/Alice").await, "Hello, Alice!");

        // A slowloris peer: half a request head, then a byte at a time.
        let slowloris = trioxide::spawn(async move {
            let mut conn = TcpStream::connect(addr).await.unwrap();
            conn.write_all(b"GET /slow HTTP/1.1\r\nx-slow: ")
                .await
                .unwrap();
            let mut buf = [0u8; 256];
            loop {
                match trioxide::move_on_after(Duration::from_millis(300), conn.read(&mut buf)).await
                {
                    Some(Ok(0)) | Some(Err(_)) => return, // the server closed it
                    Some(Ok(_)) => {}                     // e.g. a 408 before the close
                    None => {
                        if conn.write_all(b"a").await.is_err() {
                            return;
                        }
                    }
                }
            }
        });

        // 1,000 keep-alive requests on 100 concurrent connections, while it trickles.
        let clients: Vec<_> = (0..100)
            .map(|c| {
                trioxide::spawn(async move {
                    let mut sender = connect(addr).await;
                    for r in 0..10 {
                        let name = format!("c{c}r{r}");
                        assert_eq!(
                            get(&mut sender, &format!("/{name}")).await,
                            format!("Hello, {name}!")
                        );
                    }
                })
            })
            .collect();
        let served = trioxide::fail_after(WITHIN, trioxide::join_all(clients)).await;
        for client in served.expect("1,000 requests within the bound") {
            client.unwrap();
        }
        // The header timeout (1 s) ends the slowloris connection.
        trioxide::fail_after(WITHIN, slowloris)
            .await
            .expect("the server closed the slowloris connection")
            .unwrap();
        // And the server still answers.
        let mut sender = connect(addr).await;
        assert_eq!(get(&mut sender, "/after").await, "Hello, after!");
    });
    drop(server);
}

#[test]
fn sigint_finishes_the_request_in_flight_then_exits_cleanly() {
    // Each request takes 1.5 s; the grace period is far longer, so it must finish. The
    // header timeout (which also ends idle keep-alive connections) is long too, so only
    // the graceful shutdown can close the idle connection before `WITHIN`.
    let mut server = Server::start(&[
        "--delay-ms",
        "1500",
        "--grace-ms",
        "60000",
        "--header-timeout-ms",
        "60000",
    ]);
    let addr = server.addr;
    let rt = client_runtime();
    let (idle, in_flight) = rt.block_on(async move {
        // A keep-alive connection left idle: graceful shutdown closes it at once.
        let mut idle = connect(addr).await;
        assert_eq!(get(&mut idle, "/warmup").await, "Hello, warmup!");
        let in_flight = trioxide::spawn(async move {
            let mut sender = connect(addr).await;
            get(&mut sender, "/Slow").await
        });
        (idle, in_flight)
    });
    assert_eq!(
        read_line(&mut server.stdout).trim(),
        "request started: /warmup"
    );
    assert_eq!(
        read_line(&mut server.stdout).trim(),
        "request started: /Slow"
    );
    server.interrupt();
    let body = rt.block_on(async { trioxide::fail_after(WITHIN, in_flight).await });
    assert_eq!(
        body.unwrap().unwrap(),
        "Hello, Slow!",
        "the in-flight request finished"
    );
    let mut rest = String::new();
    for _ in 0..2 {
        rest.push_str(&read_line(&mut server.stdout));
    }
    // The idle keep-alive connection is still open on our side: the server closes it.
    let status = server.wait();
    drop(idle);
    assert!(status.success(), "exit status {status:?}");
    assert!(rest.contains("Shutting down"), "{rest}");
    assert!(
        rest.contains("Server stopped: every connection finished"),
        "{rest}"
    );
}
