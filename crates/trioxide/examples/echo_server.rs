//! A TCP echo server: every byte a client sends comes back to it. One task per
//! connection, all inside one [`trioxide::scope`] (Trio's nursery): the server returns
//! only after every connection task has finished, and a failing handler would cancel the
//! others instead of leaking.
//!
//! Not a seed program on its own — it is the seed's "each request is processed in its
//! own coroutine" server idea in its plainest form.
//!
//! ```text
//! cargo run -p trioxide --example echo_server -- --demo
//! cargo run -p trioxide --example echo_server -- --port 7000 --connections 3
//! ```
//!
//! With `--demo` the server listens on a free port and three in-process clients connect
//! at once, each sending a few lines and checking they come back unchanged; the server
//! stops after those three connections. Otherwise it serves `--port` (default 7000) until
//! `--connections N` connections have come and gone (forever without it); try
//! `nc localhost 7000`.
//!
//! What to look at:
//! - `s.spawn_parallel(echo(conn))`: connection tasks are `Send + 'static` and may run
//!   on any worker; the scope still owns them — it cannot finish before they do.
//! - The accept loop counts connections and leaves the scope body when it reached the
//!   limit; the scope then waits for the connections still open.
//! - Each client in the demo is a plain task; `trioxide::join_all` gathers them.

use std::net::SocketAddr;
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::{TcpListener, TcpStream};

/// Echoes until the client closes its side; returns the number of bytes echoed.
async fn echo(mut conn: TcpStream) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 4096];
    let mut total = 0;
    loop {
        let n = conn.read(&mut buf).await?;
        if n == 0 {
            return Ok(total); // the client is done
        }
        conn.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Accepts connections and echoes on each, one task per connection, until
/// `max_connections` were accepted and have all finished (forever with `None`).
async fn serve(listener: TcpListener, max_connections: Option<usize>) {
    let result = trioxide::scope(|s| async move {
        let mut accepted = 0;
        while max_connections.is_none_or(|max| accepted < max) {
            let (conn, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    continue;
                }
            };
            accepted += 1;
            s.spawn_parallel(async move {
                match echo(conn).await {
                    Ok(bytes) => println!("server: {peer} left after {bytes} bytes"),
                    Err(err) => println!("server: {peer} failed: {err}"),
                }
            });
        }
        accepted
    })
    .await;
    // Here every connection task has finished: the scope waited for them.
    let served = result.expect("connection tasks handle their own errors");
    println!("server: served {served} connection(s)");
}

/// A demo client: sends `lines` one by one and checks each comes back unchanged.
async fn client(id: usize, addr: SocketAddr, lines: usize) -> std::io::Result<()> {
    let mut conn = TcpStream::connect(addr).await?;
    for i in 0..lines {
        let line = format!("client {id} line {i}\n");
        conn.write_all(line.as_bytes()).await?;
        let mut back = vec![0u8; line.len()];
        conn.read_exact(&mut back).await?;
        assert_eq!(back, line.as_bytes(), "the server echoes bytes unchanged");
    }
    println!("client {id}: {lines} line(s) echoed back unchanged");
    Ok(()) // dropping `conn` closes it: the server's read sees end of stream
}

/// The value after `--name` on the command line.
fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let demo = args.iter().any(|a| a == "--demo");
    trioxide::run(async move {
        if demo {
            const CLIENTS: usize = 3;
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("bound");
            println!("Echo server listening on {addr}");
            let server = trioxide::spawn(serve(listener, Some(CLIENTS)));
            let clients = (0..CLIENTS).map(|id| trioxide::spawn(client(id, addr, 5)));
            for result in trioxide::join_all(clients).await {
                result.expect("no client panics").expect("no I/O error");
            }
            server
                .await
                .expect("the server stops after the demo's clients");
        } else {
            let port: u16 = arg(&args, "--port").unwrap_or(7000);
            let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
            let addr = listener.local_addr().expect("bound");
            println!("Echo server listening on {addr}");
            serve(listener, arg(&args, "--connections")).await;
        }
    });
}
