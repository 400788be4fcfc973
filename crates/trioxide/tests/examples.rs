//! Runs each example (`echo_server`, `pipeline`, `to_thread`, `wait_first`, `chat`)
//! through `cargo run`, so the current source is what is checked, and checks what it
//! prints. The servers are also driven from outside by std-socket clients.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// Generous bound for any single socket read or write in these tests.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

fn cargo_example(name: &str, args: &[&str]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["run", "--quiet", "-p", "trioxide", "--example", name, "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// Runs an example to the end; returns its stdout lines. Fails on a non-zero exit.
fn run_example(name: &str, args: &[&str]) -> Vec<String> {
    let out = cargo_example(name, args)
        .output()
        .expect("cargo runs the example");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    assert!(
        out.status.success(),
        "example {name} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_string).collect()
}

/// A running example server, killed if the test fails before it exits.
struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    port: u16,
}

impl Server {
    /// Starts `name` with `args` and reads the port from its `... listening on ADDR`
    /// banner.
    fn start(name: &str, args: &[&str]) -> Server {
        let mut child = cargo_example(name, args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("cargo runs the example");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut banner = String::new();
        stdout.read_line(&mut banner).unwrap();
        let port = banner
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in the banner {banner:?}"));
        Server {
            child,
            stdout,
            port,
        }
    }

    fn connect(&self) -> TcpStream {
        let conn = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        conn.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        conn.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        conn
    }

    /// Waits for the server to exit by itself; returns the rest of its output.
    fn finish(mut self) -> Vec<String> {
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the server exits cleanly: {status}");
        rest.lines().map(str::to_string).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn position(lines: &[String], pred: impl Fn(&str) -> bool) -> Option<usize> {
    lines.iter().position(|l| pred(l))
}

#[test]
fn wait_first_reports_the_first_task_and_cancels_the_other_nine() {
    let lines = run_example("wait_first", &[]);
    let done: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("Task completed with result: "))
        .collect();
    assert!(
        done.iter().any(|l| *l == "Task completed with result: 0"),
        "task 0 sleeps no time, so it is done first: {lines:?}"
    );
    let cancelled: usize = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("Cancelled ")?
                .strip_suffix(" pending task(s)")
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no cancel count in {lines:?}"));
    let late = lines
        .iter()
        .filter(|l| l.starts_with("Task finished before its cancel"))
        .count();
    assert_eq!(done.len() + cancelled + late, 10, "{lines:?}");
    assert!(
        cancelled >= 5,
        "most tasks sleep long enough to be cancelled: {lines:?}"
    );
}

#[test]
fn to_thread_keeps_the_ticker_running_during_the_blocking_call() {
    let lines = run_example("to_thread", &[]);
    let completed = position(&lines, |l| l == "Task completed")
        .unwrap_or_else(|| panic!("the blocking call's result is printed: {lines:?}"));
    let ticks_before = lines[..completed]
        .iter()
        .filter(|l| l.starts_with("tick "))
        .count();
    assert!(
        ticks_before >= 1,
        "the event loop ticked while the 1 s blocking call ran: {lines:?}"
    );
    let reported = format!("The ticker ticked {ticks_before} time(s) while the blocking call ran");
    assert_eq!(lines.last(), Some(&reported));
}

#[test]
fn pipeline_delivers_every_item_and_the_bounded_queue_holds_the_producer_back() {
    let lines = run_example("pipeline", &[]);
    let consumed: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("Consumed: "))
        .collect();
    let want: Vec<String> = (0..10).map(|i| (i * 2).to_string()).collect();
    assert_eq!(consumed, want, "every item, doubled, in order: {lines:?}");

    // Part 2: at each `put i`, the queue holds at most 2 and the consumer has already
    // taken all but 2 of the i + 1 items put so far.
    let mut got = Vec::new();
    let mut puts = 0;
    for line in &lines {
        if let Some(item) = line.strip_prefix("bounded: got ") {
            got.push(item.parse::<u64>().unwrap());
        } else if let Some(rest) = line.strip_prefix("bounded: put ") {
            let (item, holds) = rest.split_once(", queue holds ").unwrap();
            let item: usize = item.parse().unwrap();
            let held: usize = holds.strip_suffix(" of 2").unwrap().parse().unwrap();
            assert!(held <= 2, "the bound holds: {line}");
            assert!(
                got.len() + 2 > item,
                "put {item} returned with only {} item(s) taken: the producer was not held back\n{lines:?}",
                got.len()
            );
            puts += 1;
        }
    }
    assert_eq!(puts, 8, "{lines:?}");
    assert_eq!(got, (0..8).collect::<Vec<u64>>(), "every item, in order");
}

#[test]
fn echo_server_demo_echoes_for_three_clients_then_stops() {
    let lines = run_example("echo_server", &["--demo"]);
    for id in 0..3 {
        let want = format!("client {id}: 5 line(s) echoed back unchanged");
        assert!(lines.contains(&want), "missing {want:?} in {lines:?}");
    }
    let left = lines
        .iter()
        .filter(|l| l.ends_with("left after 80 bytes"))
        .count();
    assert_eq!(left, 3, "each connection echoed its 5 lines: {lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("server: served 3 connection(s)")
    );
}

#[test]
fn echo_server_echoes_to_outside_clients_and_stops_after_n_connections() {
    let server = Server::start("echo_server", &["--port", "0", "--connections", "2"]);
    let mut first = server.connect();
    let mut second = server.connect(); // two open at once: one task each
    for (conn, text) in [(&mut first, "hello\n"), (&mut second, "world, twice\n")] {
        conn.write_all(text.as_bytes()).unwrap();
        let mut back = vec![0u8; text.len()];
        conn.read_exact(&mut back).unwrap();
        assert_eq!(back, text.as_bytes());
    }
    drop(first);
    drop(second);
    let rest = server.finish();
    assert_eq!(
        rest.last().map(String::as_str),
        Some("server: served 2 connection(s)"),
        "{rest:?}"
    );
}

#[test]
fn chat_demo_clients_see_every_message_and_leave() {
    let lines = run_example("chat", &["--demo"]);
    for name in ["alice", "bob", "carol"] {
        for want in [
            format!("{name} saw 9 of 9 messages"),
            format!("server: {name} left"),
        ] {
            assert!(lines.contains(&want), "missing {want:?} in {lines:?}");
        }
    }
    assert!(lines.contains(&"server: 3 client(s) came and went".to_string()));
    assert_eq!(
        lines.last().map(String::as_str),
        Some("everyone saw every message")
    );
}

/// A line reader over a std socket.
fn next_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .expect("a line within the timeout");
    line.trim_end().to_string()
}

/// Reads lines until `want`; returns the lines before it.
fn read_until(reader: &mut BufReader<TcpStream>, want: &str) -> Vec<String> {
    let mut before = Vec::new();
    loop {
        let line = next_line(reader);
        assert!(!line.is_empty(), "stream ended before {want:?}: {before:?}");
        if line == want {
            return before;
        }
        before.push(line);
    }
}

#[test]
fn chat_server_fans_out_between_outside_clients() {
    let server = Server::start("chat", &["--port", "0", "--connections", "2"]);
    let ann = server.connect();
    let mut ann_in = BufReader::new(ann.try_clone().unwrap());
    (&ann).write_all(b"ann\n").unwrap();
    assert_eq!(next_line(&mut ann_in), "welcome ann");
    let ben = server.connect();
    let mut ben_in = BufReader::new(ben.try_clone().unwrap());
    (&ben).write_all(b"ben\n").unwrap();
    assert_eq!(next_line(&mut ben_in), "welcome ben");
    read_until(&mut ann_in, "* ben joined"); // ann is told about ben

    (&ann).write_all(b"hi ben\n").unwrap();
    read_until(&mut ben_in, "ann: hi ben");
    read_until(&mut ann_in, "ann: hi ben"); // the sender gets its own line too
    (&ben).write_all(b"bye ann\n").unwrap();
    read_until(&mut ann_in, "ben: bye ann");

    (&ann).write_all(b"/quit\n").unwrap();
    read_until(&mut ann_in, "bye");
    assert_eq!(
        next_line(&mut ann_in),
        "",
        "the server closes ann's connection"
    );
    read_until(&mut ben_in, "* ann left");
    drop((ben, ben_in)); // leaving by closing the connection works too

    let rest = server.finish();
    assert!(rest.contains(&"server: ann left".to_string()), "{rest:?}");
    assert!(rest.contains(&"server: ben left".to_string()), "{rest:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("server: 2 client(s) came and went")
    );
}
