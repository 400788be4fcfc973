//! Runs the `hello_server` example and talks to it with real clients: curl (when
//! installed) and raw keep-alive HTTP/1.1 over a std socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

#[test]
fn hello_server_answers_curl_and_keep_alive_clients() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "-p",
            "trioxide",
            "--example",
            "hello_server",
            "--",
        ])
        .args(["--port", "0", "--connections", "3"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("cargo runs the example");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let port: u16 = first
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .expect("the banner has the port");
    assert!(
        first.starts_with("Server started at http://localhost:"),
        "{first}"
    );

    // 1 and 2: curl, if this machine has it; else plain sockets stand in.
    for (path, want) in [("/", "Hello, Anonymous!"), ("/Alice", "Hello, Alice!")] {
        let url = format!("http://127.0.0.1:{port}{path}");
        let body = match Command::new("curl")
            .args(["-s", "--max-time", "10", &url])
            .output()
        {
            Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap(),
            _ => {
                eprintln!("curl unavailable: using a raw request for {path}");
                raw_get(port, path)
            }
        };
        assert_eq!(body, want);
    }

    // 3: two requests on one keep-alive connection.
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.write_all(b"GET /Bob HTTP/1.1\r\nhost: x\r\n\r\nGET /Carol HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    conn.read_to_string(&mut all).unwrap();
    assert!(
        all.contains("Hello, Bob!") && all.ends_with("Hello, Carol!"),
        "{all}"
    );

    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the server stops by itself after --connections 3"
    );
}

fn raw_get(port: u16, path: &str) -> String {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        conn,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = String::new();
    conn.read_to_string(&mut all).unwrap();
    all.rsplit("\r\n\r\n").next().unwrap().to_string()
}
