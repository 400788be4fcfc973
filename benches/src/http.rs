//! HTTP/1.1 hello-world: hyper on trioxide (WorkStealing, epoll) vs the same hyper
//! version and handler on tokio's multi-thread runtime, both with 2 workers.
//!
//! One load generator serves both: its own tokio current-thread runtime on its own thread,
//! 100 keep-alive connections, each sending requests back to back with a minimal
//! hand-written HTTP/1.1 client (so the client's cost is small and identical for both
//! servers). `http1_hello` times a fixed number of requests (its ratio is the inverse of
//! the requests/s ratio), `http1_hello_p99` reports the 99th-percentile request latency of
//! a run, and `http1_hello_tpc_uring` times the same load against hyper on the
//! ThreadPerCore flavor over io_uring (it found core rings paying an interrupt per socket
//! event: 2.3x tokio's time before they were set up as owned rings).

use crate::Bench;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::runtime::Io;

const WORKERS: usize = 2;
const CONNECTIONS: usize = 100;
const REQUESTS_PER_CONNECTION: usize = 200;
const REQUEST: &[u8] = b"GET /bench HTTP/1.1\r\nhost: localhost\r\n\r\n";

/// The handler both servers run.
async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, World!",
    ))))
}

/// How the trioxide servers hand a connection to hyper.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Transport {
    /// The stream's own (readiness-based) hyper traits.
    Stream,
    /// `CompletionIo`: io_uring receive and send operations on owned buffers.
    Completion,
}

/// Accepts forever, serving each connection with hyper in a task of its own (on a
/// ThreadPerCore core, on that core).
async fn accept_loop(listener: trioxide::net::TcpListener, transport: Transport) {
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            continue;
        };
        let _ = conn.set_nodelay(true);
        drop(trioxide::spawn(async move {
            let http = hyper::server::conn::http1::Builder::new();
            let service = hyper::service::service_fn(hello);
            let _ = match transport {
                Transport::Stream => http.serve_connection(conn, service).await,
                Transport::Completion => {
                    let conn = trioxide::compat::CompletionIo::new(conn);
                    http.serve_connection(conn, service).await
                }
            };
        }));
    }
}

/// Starts hyper on a trioxide runtime (WorkStealing, epoll) in a background thread;
/// returns its address.
pub(crate) fn trioxide_server() -> SocketAddr {
    trioxide_server_on(Io::Epoll)
}

/// Starts hyper on a WorkStealing trioxide runtime on `io` in a background thread;
/// returns its address.
pub(crate) fn trioxide_server_on(io: Io) -> SocketAddr {
    trioxide_server_with(io, Transport::Stream)
}

/// Starts hyper on a WorkStealing trioxide runtime on `io`, over `transport`, in a
/// background thread; returns its address.
pub(crate) fn trioxide_server_with(io: Io, transport: Transport) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = trioxide::Runtime::builder()
            .flavor(trioxide::runtime::Flavor::WorkStealing)
            .worker_threads(WORKERS)
            .io(io)
            .build()
            .expect("trioxide runtime");
        rt.block_on(async move {
            let listener = trioxide::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            accept_loop(listener, transport).await;
        });
    });
    rx.recv().unwrap()
}

/// Starts hyper on a ThreadPerCore trioxide runtime (2 pinned cores on `io`), one
/// `SO_REUSEPORT` listener per core (the kernel spreads the connections over them);
/// returns the address.
pub(crate) fn trioxide_server_per_core(io: Io, transport: Transport) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = trioxide::Runtime::builder()
            .flavor(trioxide::runtime::Flavor::ThreadPerCore)
            .worker_threads(WORKERS)
            .pin_threads(true)
            .io(io)
            .build()
            .expect("trioxide runtime");
        rt.block_on(async move {
            let handle = trioxide::Handle::current();
            let mut addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
            let mut loops = Vec::new();
            for core in 0..WORKERS {
                let (bound_tx, bound_rx) = trioxide_sync::oneshot::channel();
                loops.push(
                    handle
                        .spawn_on(core, async move {
                            let listener = trioxide::net::TcpListener::bind_reuse_port(addr)
                                .await
                                .unwrap();
                            bound_tx.send(listener.local_addr().unwrap()).unwrap();
                            accept_loop(listener, transport).await;
                        })
                        .expect("a ThreadPerCore runtime"),
                );
                addr = bound_rx.await.unwrap();
            }
            tx.send(addr).unwrap();
            for l in loops {
                let _ = l.await;
            }
        });
    });
    rx.recv().unwrap()
}

/// Starts hyper on a tokio runtime in a background thread; returns its address.
pub(crate) fn tokio_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let _ = conn.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioHyperIo(conn), hyper::service::service_fn(hello))
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

/// The load generator: its own single-threaded tokio runtime on its own thread, shared
/// by both sides so both are loaded the same way.
fn generator() -> &'static tokio::runtime::Runtime {
    static GENERATOR: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    GENERATOR.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("generator runtime")
    })
}

/// One load run against `addr`: every connection's latencies, and the run's wall time.
fn load(addr: SocketAddr) -> (Vec<Duration>, Duration) {
    // block_on on a thread of its own: the generator never shares the servers' threads.
    std::thread::scope(|s| {
        s.spawn(|| {
            generator().block_on(async move {
                let start = Instant::now();
                let clients: Vec<_> = (0..CONNECTIONS)
                    .map(|_| tokio::spawn(client(addr)))
                    .collect();
                let mut latencies = Vec::with_capacity(CONNECTIONS * REQUESTS_PER_CONNECTION);
                for c in clients {
                    latencies.extend(c.await.unwrap());
                }
                (latencies, start.elapsed())
            })
        })
        .join()
        .unwrap()
    })
}

/// One keep-alive connection sending requests back to back; returns their latencies.
async fn client(addr: SocketAddr) -> Vec<Duration> {
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.set_nodelay(true).unwrap();
    let mut buf = Vec::with_capacity(1024);
    let mut latencies = Vec::with_capacity(REQUESTS_PER_CONNECTION);
    for _ in 0..REQUESTS_PER_CONNECTION {
        let sent = Instant::now();
        conn.write_all(REQUEST).await.unwrap();
        read_response(&mut conn, &mut buf).await;
        latencies.push(sent.elapsed());
    }
    latencies
}

/// Reads one response (head, then `content-length` bytes of body) into `buf`.
async fn read_response(conn: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) {
    buf.clear();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).unwrap();
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            if buf.len() >= end + 4 + len {
                assert_eq!(buf.len(), end + 4 + len, "one response at a time");
                return;
            }
        }
        let n = conn.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Serves hyper's hello world on `server` (`trioxide`, `trioxide-uring`,
/// `trioxide-uring-completion`, `trioxide-tpc-uring`, `trioxide-tpc-uring-completion` or
/// `tokio`) in this process until it is killed, for an out-of-process load generator
/// (wrk); prints the address on stdout first.
pub fn serve(server: &str) -> ! {
    let addr = match server {
        "trioxide" => trioxide_server(),
        "trioxide-uring" => trioxide_server_on(Io::IoUring),
        "trioxide-uring-completion" => trioxide_server_with(Io::IoUring, Transport::Completion),
        "trioxide-tpc-uring" => trioxide_server_per_core(Io::IoUring, Transport::Stream),
        "trioxide-tpc-uring-completion" => {
            trioxide_server_per_core(Io::IoUring, Transport::Completion)
        }
        "tokio" => tokio_server(),
        other => {
            eprintln!(
                "unknown server {other:?}: trioxide, trioxide-uring, trioxide-uring-completion, \
                 trioxide-tpc-uring, trioxide-tpc-uring-completion or tokio"
            );
            std::process::exit(2)
        }
    };
    println!("{addr}");
    loop {
        std::thread::park();
    }
}

fn p99(mut latencies: Vec<Duration>) -> Duration {
    latencies.sort();
    latencies[latencies.len() * 99 / 100]
}

/// Both HTTP rows.
pub fn benches() -> Vec<Bench> {
    let ours = Arc::new(OnceLock::new());
    let theirs = Arc::new(OnceLock::new());
    let (ours2, theirs2) = (ours.clone(), theirs.clone());
    let tpc_uring = Arc::new(OnceLock::new());
    let ws_uring = Arc::new(OnceLock::new());
    let (theirs3, theirs4) = (theirs.clone(), theirs.clone());
    let ws_completion = Arc::new(OnceLock::new());
    let theirs5 = theirs.clone();
    vec![
        Bench {
            name: "http1_hello_uring",
            what: "the same load on hyper over WorkStealing on io_uring (the default backend here; readiness-based I/O); tokio as in http1_hello",
            trioxide: Box::new(move || {
                load(*ws_uring.get_or_init(|| trioxide_server_on(Io::IoUring))).1
            }),
            tokio: Box::new(move || load(*theirs4.get_or_init(tokio_server)).1),
        },
        Bench {
            name: "http1_hello_uring_completion",
            what: "the same load on hyper over WorkStealing on io_uring through CompletionIo (RECV/SEND operations on owned buffers, one io_uring_enter per tick); tokio as in http1_hello",
            trioxide: Box::new(move || {
                load(
                    *ws_completion
                        .get_or_init(|| trioxide_server_with(Io::IoUring, Transport::Completion)),
                )
                .1
            }),
            tokio: Box::new(move || load(*theirs5.get_or_init(tokio_server)).1),
        },
        Bench {
            name: "http1_hello_tpc_uring",
            what: "the same load on hyper over ThreadPerCore (2 pinned cores, io_uring, readiness-based I/O), a SO_REUSEPORT listener per core; tokio as in http1_hello",
            trioxide: Box::new(move || {
                load(
                    *tpc_uring
                        .get_or_init(|| trioxide_server_per_core(Io::IoUring, Transport::Stream)),
                )
                .1
            }),
            tokio: Box::new(move || load(*theirs3.get_or_init(tokio_server)).1),
        },
        Bench {
            name: "http1_hello",
            what: "hyper HTTP/1.1 hello world: 20,000 requests on 100 keep-alive connections (2 workers; ratio = inverse requests/s ratio)",
            trioxide: Box::new(move || load(*ours.get_or_init(trioxide_server)).1),
            tokio: Box::new(move || load(*theirs.get_or_init(tokio_server)).1),
        },
        Bench {
            name: "http1_hello_p99",
            what: "the same load: 99th-percentile request latency of a run",
            trioxide: Box::new(move || p99(load(*ours2.get_or_init(trioxide_server)).0)),
            tokio: Box::new(move || p99(load(*theirs2.get_or_init(tokio_server)).0)),
        },
    ]
}

/// A tokio `TcpStream` as a hyper transport (what hyper-util's `TokioIo` does), so the
/// tokio side runs the very same hyper server code.
struct TokioHyperIo(tokio::net::TcpStream);

impl hyper::rt::Read for TokioHyperIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        // SAFETY: tokio's `ReadBuf` only writes initialised bytes into the slice and never
        // de-initialises any.
        let mut tbuf = tokio::io::ReadBuf::uninit(unsafe { buf.as_mut() });
        match tokio::io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, &mut tbuf) {
            Poll::Ready(Ok(())) => {
                let n = tbuf.filled().len();
                // SAFETY: the read initialised (filled) these `n` bytes.
                unsafe { buf.advance(n) };
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl hyper::rt::Write for TokioHyperIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.0), cx)
    }

    fn is_write_vectored(&self) -> bool {
        tokio::io::AsyncWrite::is_write_vectored(&self.0)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        tokio::io::AsyncWrite::poll_write_vectored(Pin::new(&mut self.0), cx, bufs)
    }
}
