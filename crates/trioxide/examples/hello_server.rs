//! The seed's aiohttp "Hello, {name}!" server, on hyper + trioxide: `GET /` answers
//! `Hello, Anonymous!`, `GET /{name}` answers `Hello, {name}!`.
//!
//! `cargo run --release -p trioxide --features hyper --example hello_server` then
//! `curl http://127.0.0.1:8080/Alice`. Options:
//! - `--addr ADDR` (default `127.0.0.1:8080`; port 0 picks a free port; the bound
//!   address is printed on the first line of stdout);
//! - `--header-timeout-ms N` (default 10,000): a client must send a whole request head
//!   within this time, so a slowloris peer trickling a byte a second cannot hold a
//!   connection (hyper's `header_read_timeout`, on trioxide's timer);
//! - `--grace-ms N` (default 10,000): after Ctrl-C (or `SIGTERM`), how long in-flight
//!   requests get to finish before the rest are cancelled;
//! - `--delay-ms N` (default 0): each request waits this long before answering (a stand-in
//!   for real work) and prints `request started: {path}` when it begins.
//!
//! Shutdown follows the pattern of `docs/graceful-shutdown.md`: stop accepting, tell every
//! connection to finish its current request and close (hyper's `graceful_shutdown`),
//! wait for them up to the grace period, cancel the rest, exit with status 0.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use trioxide::compat::TrioxideTimer;
use trioxide::net::{TcpListener, TcpStream};
use trioxide::signal::{Signal, SignalKind, signal};
use trioxide::sync::Event;
use trioxide::time::Instant;
use trioxide::{CancelScope, race};

/// The command line.
#[derive(Debug, Clone, Copy)]
struct Config {
    addr: SocketAddr,
    header_timeout: Duration,
    grace: Duration,
    delay: Duration,
}

impl Config {
    fn from_args() -> Result<Config, String> {
        let mut config = Config {
            addr: "127.0.0.1:8080".parse().unwrap(),
            header_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(10),
            delay: Duration::ZERO,
        };
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let millis = || {
                value
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|e| format!("{flag} {value}: {e}"))
            };
            match flag.as_str() {
                "--addr" => {
                    config.addr = value.parse().map_err(|e| format!("--addr {value}: {e}"))?
                }
                "--header-timeout-ms" => config.header_timeout = millis()?,
                "--grace-ms" => config.grace = millis()?,
                "--delay-ms" => config.delay = millis()?,
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(config)
    }
}

/// `handle(request)` from the seed: the name from the path, or "Anonymous".
async fn hello(
    req: Request<Incoming>,
    delay: Duration,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    if !delay.is_zero() {
        println!("request started: {path}");
        trioxide::time::sleep(delay).await;
    }
    let name = path.trim_start_matches('/');
    let name = if name.is_empty() { "Anonymous" } else { name };
    let mut response = Response::new(Full::new(Bytes::from(format!("Hello, {name}!"))));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// Serves one connection until the client leaves, or, once `stopping` is set, until the
/// request in progress is answered.
async fn serve(conn: TcpStream, stopping: Arc<Event>, config: Config) {
    let _ = conn.set_nodelay(true);
    let service = hyper::service::service_fn(move |req| hello(req, config.delay));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TrioxideTimer::new())
        .header_read_timeout(config.header_timeout);
    let mut connection = pin!(http.serve_connection(conn, service));
    let mut stop = pin!(stopping.wait());
    let mut winding_down = false;
    let result = std::future::poll_fn(|cx| {
        if !winding_down && stop.as_mut().poll(cx).is_ready() {
            winding_down = true;
            connection.as_mut().graceful_shutdown();
        }
        connection.as_mut().poll(cx)
    })
    .await;
    if let Err(err) = result
        && !err.is_incomplete_message()
        && !err.is_timeout()
    {
        eprintln!("connection error: {err}");
    }
}

/// Accepts connections until `interrupt` or `terminate` fires, then shuts down
/// gracefully. Returns how the connections ended.
async fn run_server(
    listener: TcpListener,
    config: Config,
    mut interrupt: Signal,
    mut terminate: Signal,
) -> &'static str {
    let stopping = Arc::new(Event::new());
    let deadline = CancelScope::new();
    let (stopping_ref, deadline_ref) = (&stopping, &deadline);
    let finished = deadline
        .run(trioxide::scope(|s| async move {
            let accept_loop = async {
                #[allow(clippy::infinite_loop)] // it ends when `race` drops it
                loop {
                    match listener.accept().await {
                        Ok((conn, _peer)) => {
                            s.spawn_parallel(serve(conn, stopping_ref.clone(), config));
                        }
                        Err(err) => {
                            // Out of file descriptors (EMFILE/ENFILE) or similar: back off
                            // instead of spinning on a listener that stays readable.
                            eprintln!("accept failed: {err}; retrying shortly");
                            trioxide::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            };
            let signalled = async {
                let mut interrupt = pin!(interrupt.recv());
                let mut terminate = pin!(terminate.recv());
                std::future::poll_fn(|cx| {
                    if interrupt.as_mut().poll(cx).is_ready()
                        || terminate.as_mut().poll(cx).is_ready()
                    {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await
            };
            race(accept_loop, signalled).await;
            drop(listener); // 1. stop accepting
            println!("Shutting down: finishing in-flight requests");
            stopping_ref.set(); // 2. connections finish their request and close
            deadline_ref.set_deadline(Some(Instant::now() + config.grace)); // 3. at most this long
        }))
        .await;
    match finished {
        Some(_) => "every connection finished",
        None => "grace period over: the remaining connections were cancelled",
    }
}

fn main() {
    let config = match Config::from_args() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("hello_server: {err}");
            eprintln!(
                "usage: hello_server [--addr ADDR] [--header-timeout-ms N] [--grace-ms N] [--delay-ms N]"
            );
            std::process::exit(2);
        }
    };
    trioxide::run(async move {
        // Listen for the signals before announcing the address: from then on Ctrl-C is
        // ours to handle (see `trioxide::signal`).
        let interrupt = signal(SignalKind::interrupt()).expect("listen for Ctrl-C");
        let terminate = signal(SignalKind::terminate()).expect("listen for SIGTERM");
        let listener = TcpListener::bind(config.addr).await.expect("bind");
        println!(
            "Server started at http://{}",
            listener.local_addr().unwrap()
        );
        let how = run_server(listener, config, interrupt, terminate).await;
        println!("Server stopped: {how}");
    });
}
