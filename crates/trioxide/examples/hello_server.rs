//! The seed's aiohttp "Hello, {name}!" server on trioxide's TCP: routes `/` and
//! `/{name}`, one task per connection, HTTP/1.1 keep-alive, per-connection read
//! timeouts (a slow client cannot hold a task forever), and graceful shutdown on Ctrl-C
//! or after `--requests N`.
//!
//! `cargo run --release --example hello_server` then `curl http://localhost:8080/Alice`.
//! A minimal HTTP/1.1 reader/writer is written out here so the example needs no extra
//! crate; real services would put hyper on trioxide's streams.

use std::time::Duration;
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::{TcpListener, TcpStream};

/// How long a connection may stay silent before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// `handle(request)` from the seed: the name from the path, or "Anonymous".
fn handle(path: &str) -> String {
    let name = path.trim_start_matches('/');
    let name = if name.is_empty() { "Anonymous" } else { name };
    format!("Hello, {name}!")
}

/// Reads one request head (up to the blank line); `None` at EOF or on a bad request.
async fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, bool)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            buf.drain(..end + 4);
            let mut lines = head.lines();
            let mut parts = lines.next()?.split_whitespace();
            let (method, path) = (parts.next()?, parts.next()?);
            if method != "GET" {
                return None;
            }
            let close = lines.any(|l| l.eq_ignore_ascii_case("connection: close"));
            return Some((path.to_string(), close));
        }
        if buf.len() > 16 * 1024 {
            return None; // oversized head
        }
        let mut chunk = [0u8; 1024];
        let n = trioxide::time::timeout(IDLE_TIMEOUT, conn.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn serve(mut conn: TcpStream) {
    let mut buf = Vec::new();
    while let Some((path, close)) = read_request(&mut conn, &mut buf).await {
        let body = handle(&path);
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "connection: close\r\n" } else { "" },
        );
        if conn.write_all(response.as_bytes()).await.is_err() || close {
            return;
        }
    }
}

/// Serves until `max_requests` connections were accepted (or forever with `None`).
pub async fn run_server(listener: TcpListener, max_connections: Option<usize>) {
    trioxide::scope(|s| async move {
        let mut accepted = 0;
        while max_connections.is_none_or(|m| accepted < m) {
            match listener.accept().await {
                Ok((conn, _peer)) => {
                    accepted += 1;
                    s.spawn_parallel(serve(conn));
                }
                Err(err) => {
                    // Out of file descriptors (EMFILE/ENFILE) or similar: back off instead
                    // of spinning on a listener that stays readable.
                    eprintln!("accept failed: {err}; retrying shortly");
                    trioxide::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
    .await
    .expect("connection handlers do not fail");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let max = args
        .iter()
        .position(|a| a == "--connections")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    let port: u16 = args
        .iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(8080);
    trioxide::run(async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        println!(
            "Server started at http://localhost:{}",
            listener.local_addr().unwrap().port()
        );
        run_server(listener, max).await;
    });
}
