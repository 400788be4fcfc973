//! A broadcast chat server over TCP: every line a client sends reaches every client
//! connected at the time, through one [`trioxide::sync::broadcast`] channel.
//!
//! Not a seed program on its own: it grows the seed's "each request in its own
//! coroutine" server into one where the connections talk to each other.
//!
//! ```text
//! cargo run -p trioxide --example chat -- --demo
//! cargo run -p trioxide --example chat -- --port 7001 --connections 2
//! ```
//!
//! The protocol is lines of text: the first line a client sends is its name, the server
//! answers `welcome <name>`, then every line becomes `<name>: <line>` for everyone
//! (the sender too), `* <name> joined` / `* <name> left` announce arrivals and
//! departures, and `/quit` (or closing the connection) leaves. With `--demo`, three
//! scripted clients join in-process, each sends three messages, each checks that it saw
//! all nine, and each leaves with `/quit`; the server stops once all three have left.
//! Without `--demo` it serves `--port` (default 7001) until `--connections N` clients
//! have come and gone (forever without it); try two `nc localhost 7001`.
//!
//! What to look at:
//! - The sessions are *borrowing* scope children: `s.spawn(session(conn, &hub))`
//!   borrows the broadcast sender from the server's stack frame — no `Arc` — which is
//!   sound because no child can outlive the scope.
//! - A session waits on two things at once with [`trioxide::select!`]: the next line
//!   from its socket and the next message from the hub. Both branches are cancel-safe
//!   (the line reader keeps partial lines in its own buffer; `broadcast::Receiver::recv`
//!   consumes a message only when it returns it), so the loser of each round loses
//!   nothing.
//! - Leaving is clean on both sides: the session drops its receiver (the hub stops
//!   keeping messages for it) and announces the departure; after `/quit` it also says
//!   `bye` and shuts its write half down, and the client reads to end of stream. A
//!   client that just closes the connection leaves the same way, minus the farewell.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use trioxide::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use trioxide::net::{TcpListener, TcpStream};
use trioxide::sync::Barrier;
use trioxide::sync::broadcast::{self, RecvError};

/// Messages the hub keeps for a receiver that has not read them yet; one that falls
/// further behind is told how many it missed.
const HUB_CAPACITY: usize = 256;

/// Writes one line to a shared stream.
async fn send_line(mut conn: &TcpStream, line: &str) -> std::io::Result<()> {
    conn.write_all(format!("{line}\n").as_bytes()).await
}

/// One client's session: its name, then its lines out to the hub and the hub's
/// messages back to it, until it leaves.
async fn session(conn: TcpStream, hub: &broadcast::Sender<Arc<str>>) -> std::io::Result<()> {
    // `next_line` is cancel-safe: a line read in part when `select!` drops it is kept.
    let mut lines = BufReader::new(&conn).lines();
    let Some(name) = lines.next_line().await? else {
        return Ok(()); // left before saying who it is
    };
    let mut inbox = hub.subscribe(); // before the welcome: it sees everything after it
    send_line(&conn, &format!("welcome {name}")).await?;
    let _ = hub.send(format!("* {name} joined").into());
    // `true` when the client said `/quit` and still listens for the farewell.
    let said_quit = loop {
        trioxide::select! {
            line = lines.next_line() => match line? {
                Some(line) if line == "/quit" => break true,
                Some(line) => {
                    let _ = hub.send(format!("{name}: {line}").into());
                }
                None => break false, // the client closed the connection
            },
            message = inbox.recv() => match message {
                Ok(message) => send_line(&conn, &message).await?,
                Err(RecvError::Lagged(missed)) => {
                    send_line(&conn, &format!("* you missed {missed} message(s)")).await?;
                }
                Err(RecvError::Closed) => break false,
            },
        }
    };
    drop(inbox); // the hub keeps nothing more for this client
    let _ = hub.send(format!("* {name} left").into());
    println!("server: {name} left");
    if said_quit {
        send_line(&conn, "bye").await?;
        conn.shutdown(std::net::Shutdown::Write)?; // end of stream for the client
    }
    Ok(())
}

/// Runs the chat until `max_connections` clients have come and gone (forever with
/// `None`).
async fn serve(listener: TcpListener, max_connections: Option<usize>) {
    let (hub, _) = broadcast::channel::<Arc<str>>(HUB_CAPACITY);
    let hub = &hub;
    let result = trioxide::scope(|s| async move {
        let mut accepted = 0;
        while max_connections.is_none_or(|max| accepted < max) {
            match listener.accept().await {
                Ok((conn, peer)) => {
                    accepted += 1;
                    s.spawn(async move {
                        if let Err(err) = session(conn, hub).await {
                            println!("server: {peer} dropped: {err}");
                        }
                    });
                }
                Err(err) => eprintln!("accept failed: {err}"),
            }
        }
        accepted
    })
    .await;
    let served = result.expect("sessions handle their own errors");
    println!("server: {served} client(s) came and went");
}

/// A scripted demo client: joins as `name`, waits until all `peers` have joined, sends
/// `messages` lines, reads until it saw every client's lines, then leaves. Returns the
/// chat lines it saw.
async fn scripted_client(
    name: String,
    addr: SocketAddr,
    joined: Arc<Barrier>,
    everyone: Vec<String>,
    messages: usize,
) -> std::io::Result<BTreeSet<String>> {
    let conn = TcpStream::connect(addr).await?;
    let mut lines = BufReader::new(&conn).lines();
    send_line(&conn, &name).await?;
    assert_eq!(lines.next_line().await?, Some(format!("welcome {name}")));
    joined.wait().await; // everyone is subscribed: nobody misses a message from now on
    for i in 1..=messages {
        send_line(&conn, &format!("message {i} from {name}")).await?;
    }
    let expected: BTreeSet<String> = everyone
        .iter()
        .flat_map(|who| (1..=messages).map(move |i| format!("{who}: message {i} from {who}")))
        .collect();
    let mut seen = BTreeSet::new();
    while !expected.is_subset(&seen) {
        match lines.next_line().await? {
            Some(line) if line.starts_with("* ") => {} // joins and leaves
            Some(line) => {
                seen.insert(line);
            }
            None => break, // the server went away early: the caller sees what is missing
        }
    }
    send_line(&conn, "/quit").await?;
    while let Some(line) = lines.next_line().await? {
        if line == "bye" {
            break;
        }
    }
    let mut rest = Vec::new();
    // End of stream: the server let go of us (read through the buffer, which may hold
    // the tail).
    lines.into_inner().read_to_end(&mut rest).await?;
    println!("{name} saw {} of {} messages", seen.len(), expected.len());
    Ok(seen)
}

/// `--demo`: a server and three scripted clients in one process.
async fn demo() {
    const MESSAGES: usize = 3;
    let names: Vec<String> = ["alice", "bob", "carol"].map(String::from).to_vec();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    println!("Chat server listening on {addr}");
    let server = trioxide::spawn(serve(listener, Some(names.len())));
    let joined = Arc::new(Barrier::new(names.len()));
    let clients = names.iter().map(|name| {
        trioxide::spawn(scripted_client(
            name.clone(),
            addr,
            joined.clone(),
            names.clone(),
            MESSAGES,
        ))
    });
    let mut everyone_saw_everything = true;
    for seen in trioxide::join_all(clients).await {
        let seen = seen.expect("no client panics").expect("no I/O error");
        everyone_saw_everything &= seen.len() == names.len() * MESSAGES;
    }
    server
        .await
        .expect("the server stops after the demo's clients");
    if everyone_saw_everything {
        println!("everyone saw every message");
    } else {
        println!("some messages were missed");
        std::process::exit(1);
    }
}

/// The value after `--name` on the command line.
fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    trioxide::run(async move {
        if args.iter().any(|a| a == "--demo") {
            demo().await;
        } else {
            let port: u16 = arg(&args, "--port").unwrap_or(7001);
            let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
            println!(
                "Chat server listening on {}",
                listener.local_addr().unwrap()
            );
            serve(listener, arg(&args, "--connections")).await;
        }
    });
}
