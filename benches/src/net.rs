//! TCP echo on the WorkStealing flavor vs tokio's multi-thread runtime, both with 2
//! workers: 100 loopback connections, each doing round trips of one message (1 KiB or
//! 16 KiB), on trioxide's epoll and io_uring backends. The `_owned` rows use the
//! owned-buffer calls (`read_owned` / `write_all_owned`), which on io_uring are
//! completion-based `RECV` / `SEND` ops instead of readiness plus a syscall.

use crate::Bench;
use std::time::Duration;
use trioxide::runtime::Io;

const WORKERS: usize = 2;
const CONNS: usize = 100;

fn trioxide_rt(io: Io) -> trioxide::Runtime {
    trioxide::Runtime::builder()
        .flavor(trioxide::runtime::Flavor::WorkStealing)
        .worker_threads(WORKERS)
        .io(io)
        .build()
        .expect("trioxide runtime")
}

pub(crate) fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// How the trioxide side moves bytes.
#[derive(Clone, Copy)]
enum Style {
    /// futures-io `read_exact` / `write_all` (readiness on both backends).
    Borrowed,
    /// `read_owned` / `write_all_owned` (completion ops on io_uring).
    Owned,
}

fn echo_bench(
    name: &'static str,
    what: &'static str,
    io: Io,
    style: Style,
    msg: usize,
    rounds: usize,
) -> Bench {
    Bench {
        name,
        what,
        trioxide: Box::new(move || trioxide_rt(io).block_on(trioxide_echo(style, msg, rounds))),
        tokio: Box::new(move || tokio_rt().block_on(tokio_echo(msg, rounds))),
    }
}

/// Every network benchmark.
pub fn benches() -> Vec<Bench> {
    vec![
        echo_bench(
            "ws_tcp_echo_100x1KiB",
            "100 connections x 200 round trips of 1 KiB, WorkStealing (2 workers), epoll",
            Io::Epoll,
            Style::Borrowed,
            1024,
            200,
        ),
        echo_bench(
            "ws_tcp_echo_uring_100x1KiB",
            "the same on io_uring (readiness via multishot poll)",
            Io::IoUring,
            Style::Borrowed,
            1024,
            200,
        ),
        echo_bench(
            "ws_tcp_echo_uring_owned_100x1KiB",
            "the same on io_uring with owned buffers (RECV/SEND ops)",
            Io::IoUring,
            Style::Owned,
            1024,
            200,
        ),
        echo_bench(
            "ws_tcp_echo_100x16KiB",
            "100 connections x 50 round trips of 16 KiB, WorkStealing (2 workers), epoll",
            Io::Epoll,
            Style::Borrowed,
            16 * 1024,
            50,
        ),
        echo_bench(
            "ws_tcp_echo_uring_100x16KiB",
            "the same on io_uring (readiness via multishot poll)",
            Io::IoUring,
            Style::Borrowed,
            16 * 1024,
            50,
        ),
        echo_bench(
            "ws_tcp_echo_uring_owned_100x16KiB",
            "the same on io_uring with owned buffers (RECV/SEND ops)",
            Io::IoUring,
            Style::Owned,
            16 * 1024,
            50,
        ),
    ]
}

/// Reads exactly `len` bytes with owned-buffer reads: one read into `buf` (emptied,
/// capacity `len`) normally gets the whole message; a short read is completed through a
/// second buffer.
pub(crate) async fn read_exact_owned(
    s: &trioxide::net::TcpStream,
    mut buf: Vec<u8>,
    len: usize,
) -> std::io::Result<Vec<u8>> {
    buf.clear();
    buf.reserve_exact(len);
    let (res, mut buf) = s.read_owned(buf).await;
    if res? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let mut rest = Vec::new();
    while buf.len() < len {
        rest.clear();
        rest.reserve_exact(len - buf.len());
        let (res, back) = s.read_owned(rest).await;
        rest = back;
        if res? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&rest);
    }
    Ok(buf)
}

async fn trioxide_echo(style: Style, msg: usize, rounds: usize) -> Duration {
    use trioxide::io::{AsyncReadExt, AsyncWriteExt};
    use trioxide::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = trioxide::spawn(async move {
        for _ in 0..CONNS {
            let (mut c, _) = listener.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            trioxide::spawn(async move {
                match style {
                    Style::Borrowed => {
                        let mut buf = vec![0u8; msg];
                        while c.read_exact(&mut buf).await.is_ok() {
                            c.write_all(&buf).await.unwrap();
                        }
                    }
                    Style::Owned => {
                        let mut buf = Vec::with_capacity(msg);
                        while let Ok(b) = read_exact_owned(&c, buf, msg).await {
                            let (res, b) = c.write_all_owned(b).await;
                            res.unwrap();
                            buf = b;
                        }
                    }
                }
            });
        }
    });
    let mut clients = Vec::new();
    for _ in 0..CONNS {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        clients.push(s);
    }
    let start = std::time::Instant::now();
    let hs: Vec<_> = clients
        .into_iter()
        .map(|mut s| {
            trioxide::spawn(async move {
                let mut msg_buf = vec![7u8; msg];
                let mut back = vec![0u8; msg];
                for _ in 0..rounds {
                    match style {
                        Style::Borrowed => {
                            s.write_all(&msg_buf).await.unwrap();
                            s.read_exact(&mut back).await.unwrap();
                        }
                        Style::Owned => {
                            let (res, b) = s.write_all_owned(msg_buf).await;
                            res.unwrap();
                            msg_buf = b;
                            back = read_exact_owned(&s, back, msg).await.unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    let elapsed = start.elapsed();
    server.await.unwrap();
    elapsed
}

pub(crate) async fn tokio_echo(msg: usize, rounds: usize) -> Duration {
    use tokio::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..CONNS {
            let (c, _) = listener.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            tokio::spawn(tokio_serve(c, msg));
        }
    });
    let mut clients = Vec::new();
    for _ in 0..CONNS {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        clients.push(s);
    }
    let start = std::time::Instant::now();
    tokio_round_trips(clients, msg, rounds).await;
    let elapsed = start.elapsed();
    server.await.unwrap();
    elapsed
}

/// The tokio server side of one connection: echoes `msg`-byte messages until it closes.
pub(crate) async fn tokio_serve(mut c: tokio::net::TcpStream, msg: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; msg];
    while c.read_exact(&mut buf).await.is_ok() {
        c.write_all(&buf).await.unwrap();
    }
}

/// The tokio client side: one task per connection doing `rounds` round trips of `msg`
/// bytes; returns when all are done.
pub(crate) async fn tokio_round_trips(
    clients: Vec<tokio::net::TcpStream>,
    msg: usize,
    rounds: usize,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hs: Vec<_> = clients
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let msg_buf = vec![7u8; msg];
                let mut back = vec![0u8; msg];
                for _ in 0..rounds {
                    s.write_all(&msg_buf).await.unwrap();
                    s.read_exact(&mut back).await.unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
}
