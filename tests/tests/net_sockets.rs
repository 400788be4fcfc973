//! Sockets end to end: a TCP echo with 1,000 concurrent loopback connections, connect
//! errors, UDP and Unix-domain round trips, and I/O objects outliving their runtime.

use std::time::Duration;
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use trioxide_tests::rt_test;

/// Raises the soft open-file limit to the hard one (1,000 connections need ~2,000 fds).
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write or read the rlimit we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max.min(65_536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

rt_test! {
    async fn tcp_echo_with_a_thousand_concurrent_connections() {
        raise_fd_limit();
        const CONNS: usize = 1000;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = trioxide::spawn(async move {
            for _ in 0..CONNS {
                let (mut conn, _) = listener.accept().await.unwrap();
                trioxide::spawn(async move {
                    let mut buf = [0u8; 1024];
                    loop {
                        let n = conn.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        conn.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        let clients: Vec<_> = (0..CONNS)
            .map(|i| {
                trioxide::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    let msg = format!("hello from client {i}");
                    stream.write_all(msg.as_bytes()).await.unwrap();
                    let mut back = vec![0u8; msg.len()];
                    stream.read_exact(&mut back).await.unwrap();
                    assert_eq!(back, msg.as_bytes());
                    stream.close().await.unwrap();
                    let mut rest = Vec::new();
                    assert_eq!(stream.read_to_end(&mut rest).await.unwrap(), 0);
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        server.await.unwrap();
    }
}

rt_test! {
    async fn connect_to_a_closed_port_is_refused() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}

rt_test! {
    async fn tcp_streams_report_addresses_and_options() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, peer) = listener.accept().await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        assert_eq!(server.peer_addr().unwrap(), peer);
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        // Borrowed-buffer helpers on &TcpStream.
        assert_eq!(client.write_some(b"abc").await.unwrap(), 3);
        let mut buf = [0u8; 3];
        let mut got = 0;
        while got < 3 {
            got += server.read_some(&mut buf[got..]).await.unwrap();
        }
        assert_eq!(&buf, b"abc");
    }
}

rt_test! {
    async fn udp_round_trip() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_addr = b.local_addr().unwrap();
        let echo = trioxide::spawn(async move {
            let mut buf = [0u8; 64];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            b.send_to(&buf[..n], from).await.unwrap();
        });
        a.send_to(b"datagram", b_addr).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"datagram");
        assert_eq!(from, b_addr);
        echo.await.unwrap();
        a.connect(b_addr).await.unwrap();
        assert_eq!(a.peer_addr().unwrap(), b_addr);
    }
}

rt_test! {
    async fn unix_listener_and_pair_round_trip() {
        let dir = std::env::temp_dir().join(format!("trioxide-unix-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("sock-{:?}", std::thread::current().id()).replace(['(', ')'], ""));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let server = trioxide::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 5];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
        });
        let mut client = UnixStream::connect(&path).await.unwrap();
        client.write_all(b"unix!").await.unwrap();
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"unix!");
        server.await.unwrap();
        let _ = std::fs::remove_file(&path);

        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.write_all(b"pair").await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pair");
    }
}

rt_test! {
    async fn a_reader_waits_for_data_that_arrives_later() {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let reader = trioxide::spawn(async move {
            let mut buf = [0u8; 4];
            b.read_exact(&mut buf).await.unwrap();
            buf
        });
        trioxide::time::sleep(Duration::from_millis(20)).await;
        a.write_all(b"late").await.unwrap();
        assert_eq!(&reader.await.unwrap(), b"late");
    }
}

#[test]
fn sockets_outside_a_runtime_are_an_error_not_a_panic() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let err = TcpListener::from_std(std_listener).unwrap_err();
    assert!(
        err.to_string().contains("wrap the code in trioxide::run"),
        "{err}"
    );
}

#[test]
fn io_objects_that_outlive_their_runtime_fail_instead_of_hanging() {
    let rt = trioxide::Runtime::new().unwrap();
    let (a, b) = rt.block_on(async { UnixStream::pair().unwrap() });
    drop(rt);
    let rt2 = trioxide::Runtime::new().unwrap();
    let err = rt2.block_on(async move {
        let mut b = b;
        let mut buf = [0u8; 1];
        b.read(&mut buf).await.unwrap_err()
    });
    assert!(err.to_string().contains("was shut down"), "{err}");
    drop(a);
}

rt_test! {
    async fn owned_buffer_reads_and_writes_round_trip() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = trioxide::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut total = Vec::new();
            let mut buf = Vec::with_capacity(4096);
            while total.len() < 100_000 {
                let (n, back) = conn.read_owned(buf).await;
                let n = n.unwrap();
                assert!(n > 0);
                total.extend_from_slice(&back[..n]);
                buf = back;
            }
            let (res, _) = conn.write_all_owned(total.clone()).await;
            res.unwrap();
            total
        });
        let client = TcpStream::connect(addr).await.unwrap();
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (res, sent) = client.write_all_owned(payload.clone()).await;
        res.unwrap();
        assert_eq!(sent, payload, "the buffer comes back intact");
        let mut echoed = Vec::new();
        let mut buf = Vec::with_capacity(8192);
        while echoed.len() < payload.len() {
            let (n, back) = client.read_owned(buf).await;
            echoed.extend_from_slice(&back[..n.unwrap()]);
            buf = back;
        }
        assert_eq!(echoed, payload);
        assert_eq!(server.await.unwrap(), payload);
    }
}

rt_test! {
    async fn dropping_owned_reads_mid_flight_is_safe_and_loses_no_later_data() {
        let (a, b) = {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let client = TcpStream::connect(addr).await.unwrap();
            let (server, _) = listener.accept().await.unwrap();
            (client, server)
        };
        // A storm of reads that are dropped before any data arrives.
        for _ in 0..200 {
            let read = b.read_owned(Vec::with_capacity(64));
            let out = trioxide::time::timeout(Duration::from_micros(50), read).await;
            assert!(out.is_err());
        }
        // Data sent afterwards is read by a fresh read.
        let (res, _) = a.write_all_owned(b"after the storm".to_vec()).await;
        res.unwrap();
        let mut got = Vec::new();
        while got.len() < 15 {
            let (n, buf) = b.read_owned(Vec::with_capacity(64)).await;
            got.extend_from_slice(&buf[..n.unwrap()]);
        }
        assert_eq!(got, b"after the storm");
    }
}

rt_test! {
    /// A short write clears the write readiness only when the socket buffer filled: a
    /// vectored write of more slices than one `sendmsg` takes (IOV_MAX) is short with room
    /// left, and the next write must still go through rather than wait for a writable
    /// event that never comes. Small reads after a short read keep working too.
    async fn short_transfers_that_leave_room_or_data_do_not_stall() {
        use std::io::IoSlice;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = trioxide::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = conn.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        let bytes: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let slices: Vec<IoSlice<'_>> = bytes.chunks(1).map(IoSlice::new).collect();
        let mut sent = 0;
        while sent < bytes.len() {
            let rest: Vec<IoSlice<'_>> = slices[sent..].to_vec();
            let n = trioxide::time::timeout(
                std::time::Duration::from_secs(10),
                std::future::poll_fn(|cx| {
                    trioxide::io::AsyncWrite::poll_write_vectored(
                        std::pin::Pin::new(&mut client),
                        cx,
                        &rest,
                    )
                }),
            )
            .await
            .expect("a vectored write after a short one stalled")
            .unwrap();
            assert!(n > 0 && n <= 1024, "one sendmsg takes at most IOV_MAX slices");
            sent += n;
        }
        drop(client);
        assert_eq!(reader.await.unwrap(), bytes);
    }
}

rt_test! {
    /// `BufReader` over a TCP stream: a line-oriented exchange (asyncio's `readline`)
    /// with lines written in odd pieces and the reader's writes passing through.
    async fn buffered_lines_over_tcp() {
        use trioxide::io::{AsyncBufReadExt, BufReader};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = trioxide::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut reader = BufReader::with_capacity(7, conn);
            let mut line = String::new();
            let mut n = 0;
            while reader.read_line(&mut line).await.unwrap() > 0 {
                n += 1;
                // Echo each line back through the same BufReader (writes pass through).
                reader.write_all(line.to_uppercase().as_bytes()).await.unwrap();
                line.clear();
            }
            n
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.set_nodelay(true).unwrap();
        let text = "first line\nsecond\r\n\nlast one without a newline";
        for piece in text.as_bytes().chunks(5) {
            client.write_all(piece).await.unwrap();
            trioxide::time::sleep(Duration::from_millis(1)).await;
        }
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut lines = BufReader::new(client).lines();
        let mut got = Vec::new();
        while let Some(l) = lines.next_line().await.unwrap() {
            got.push(l);
        }
        assert_eq!(got, ["FIRST LINE", "SECOND", "", "LAST ONE WITHOUT A NEWLINE"]);
        assert_eq!(server.await.unwrap(), 4);
    }
}
