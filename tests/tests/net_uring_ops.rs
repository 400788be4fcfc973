//! The socket operations that have an io_uring form of their own, end to end on every
//! flavor and both backends: multishot accept behind `TcpListener::accept` (connections
//! queued before anyone accepts, accept futures dropped mid-wait, a listener dropped with
//! connections still queued), `TcpStream::connect_timeout` (a linked timeout on io_uring)
//! and owned-buffer UDP (`sendmsg` / `recvmsg` on io_uring).

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::{TcpListener, TcpStream, UdpSocket};
use trioxide_tests::rt_test;

/// A listener whose accept queue is full (backlog 0 plus one connection nobody accepts):
/// the kernel drops further SYNs, so connects to it stay pending.
fn full_listener() -> (std::net::TcpListener, std::net::TcpStream, SocketAddr) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) again on our own listening socket only changes its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let filler = std::net::TcpStream::connect(addr).unwrap();
    (listener, filler, addr)
}

rt_test! {
    async fn connections_queued_before_accept_are_all_accepted() {
        const N: usize = 50;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<TcpStream> = {
            let mut v = Vec::new();
            for _ in 0..N {
                v.push(TcpStream::connect(addr).await.unwrap());
            }
            v
        };
        for _ in 0..N {
            let (conn, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, conn.peer_addr().unwrap());
            (&conn).write_all(b"k").await.unwrap();
        }
        for c in &clients {
            let mut b = [0u8; 1];
            (&*c).read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"k");
        }
    }
}

rt_test! {
    async fn dropped_accept_futures_lose_no_connection() {
        const N: usize = 40;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut accepted = Vec::new();
        let mut clients = Vec::new();
        for i in 0..N {
            // An accept that gives up (its future dropped mid-wait), then a client, then an
            // accept that must get exactly that client.
            let gave_up = trioxide::move_on_after(Duration::from_millis(1), listener.accept()).await;
            assert!(gave_up.is_none(), "nobody connected yet");
            let client = TcpStream::connect(addr).await.unwrap();
            (&client).write_all(&[i as u8]).await.unwrap();
            let (conn, _) = trioxide::time::timeout(Duration::from_secs(10), listener.accept())
                .await
                .expect("the client is accepted within 10 s")
                .unwrap();
            let mut b = [0u8; 1];
            (&conn).read_exact(&mut b).await.unwrap();
            assert_eq!(b[0], i as u8, "the accepted connection is the new client's");
            accepted.push(conn);
            clients.push(client);
        }
        assert_eq!(accepted.len(), N);
    }
}

rt_test! {
    async fn a_listener_dropped_with_queued_connections_closes_them() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Arm the accept path (on io_uring: the multishot accept) with one connection.
        let first = TcpStream::connect(addr).await.unwrap();
        let (_conn, _) = listener.accept().await.unwrap();
        // These arrive while nobody accepts; on io_uring the kernel accepts them for us.
        let waiting: Vec<TcpStream> = {
            let mut v = Vec::new();
            for _ in 0..10 {
                v.push(TcpStream::connect(addr).await.unwrap());
            }
            v
        };
        drop(listener);
        // Every waiting client sees its connection end (EOF or reset) within 10 s: no
        // descriptor of an accepted-but-untaken connection was leaked.
        for c in &waiting {
            let mut b = [0u8; 1];
            let res = trioxide::time::timeout(Duration::from_secs(10), (&*c).read(&mut b))
                .await
                .expect("the queued connection is closed within 10 s");
            match res {
                Ok(0) => {}
                Ok(n) => panic!("read {n} bytes from a never-accepted connection"),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
            }
        }
        drop(first);
    }
}

rt_test! {
    async fn connect_timeout_gives_up_on_a_silent_listener() {
        let (_listener, _filler, addr) = full_listener();
        let start = Instant::now();
        let err = TcpStream::connect_timeout(&addr, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(200), "gave up early: {waited:?}");
        assert!(waited < Duration::from_secs(10), "gave up late: {waited:?}");
    }
}

rt_test! {
    async fn connect_timeout_connects_and_reports_refusal() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect_timeout(&addr, Duration::from_secs(30)).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (&client).write_all(b"hello").await.unwrap();
        let mut got = [0u8; 5];
        (&server).read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        drop(listener);
        let err = TcpStream::connect_timeout(&addr, Duration::from_secs(30))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    }
}

rt_test! {
    async fn dropped_connect_timeouts_storm() {
        let (_listener, _filler, addr) = full_listener();
        for _ in 0..100 {
            let gave_up = trioxide::move_on_after(
                Duration::from_millis(1),
                TcpStream::connect_timeout(&addr, Duration::from_secs(3600)),
            )
            .await;
            let what = gave_up.map(|r| r.map(|_| ()).map_err(|e| e.to_string()));
            assert!(
                what.is_none(),
                "a silent listener never completes a connect: {what:?}"
            );
        }
    }
}

rt_test! {
    async fn owned_udp_round_trip_with_sender() {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_addr = b.local_addr().unwrap();
        for i in 0..20u8 {
            let (res, buf) = a.send_to_owned(vec![i; 100 + i as usize], b_addr).await;
            assert_eq!(res.unwrap(), 100 + i as usize);
            assert_eq!(buf.len(), 100 + i as usize);
            let (res, buf) = b.recv_from_owned(Vec::with_capacity(2048)).await;
            let (n, from) = res.unwrap();
            assert_eq!((n, from), (100 + i as usize, a.local_addr().unwrap()));
            assert!(buf.iter().all(|&x| x == i) && buf.len() == n);
        }
        // Truncation: a datagram longer than the capacity is cut, as with recvfrom.
        let (res, _) = a.send_to_owned(vec![9; 64], b_addr).await;
        res.unwrap();
        let (res, buf) = b.recv_from_owned(Vec::with_capacity(16)).await;
        assert_eq!(res.unwrap().0, 16);
        assert_eq!(buf, [9; 16]);
    }
}

rt_test! {
    async fn dropped_udp_receives_storm_then_delivery() {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        for _ in 0..200 {
            let r = trioxide::move_on_after(
                Duration::from_millis(1),
                sock.recv_from_owned(Vec::with_capacity(1500)),
            )
            .await;
            assert!(r.is_none(), "nothing was sent yet");
        }
        // The socket still delivers to the next receive.
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let recv = trioxide::spawn(async move { sock.recv_from_owned(Vec::with_capacity(64)).await });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !recv.is_finished() {
            assert!(Instant::now() < deadline, "no datagram received within 10 s");
            sender.send_to(b"late", addr).await.unwrap();
            trioxide::time::sleep(Duration::from_millis(20)).await;
        }
        let (res, buf) = recv.await.unwrap();
        assert_eq!(res.unwrap().0, 4);
        assert_eq!(buf, b"late");
    }
}

rt_test! {
    /// An owned read dropped before its worker submitted it must not reach a socket that
    /// took its descriptor number later: the SQE names the number, which the kernel
    /// resolves at submission. Within one poll a task starts a read (queued), drops it,
    /// closes the stream, and connects a new socket (which gets the freed number) whose
    /// peer then writes; the new socket must still read every byte. (The cancel of the
    /// dropped read used to wait in the queue with the read itself on a worker's ring,
    /// so both were submitted later, on the new socket, and the read took its bytes.)
    async fn a_dropped_owned_read_never_reaches_a_socket_reusing_its_number() {
        use std::future::Future;
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        let outcome = trioxide::spawn(async {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let _client = std::net::TcpStream::connect(addr).unwrap();
            let (accepted, _) = listener.accept().unwrap();
            let stream = TcpStream::from_std(accepted).unwrap();
            let old_fd = stream.as_raw_fd();
            // Make the stream known to this worker's ring first.
            stream.set_nodelay(true).unwrap();
            // A future that is ready at once does not yield: all of this is one poll.
            std::future::poll_fn(|cx| {
                let mut read = std::pin::pin!(stream.read_owned(Vec::with_capacity(64)));
                assert!(read.as_mut().poll(cx).is_pending(), "no data was sent");
                std::task::Poll::Ready(())
            })
            .await;
            drop(stream);
            let mut new_client = std::net::TcpStream::connect(addr).unwrap();
            let (new_server, _) = listener.accept().unwrap();
            let reused = new_client.as_raw_fd() == old_fd;
            (&new_server).write_all(b"precious").unwrap();
            // Let the worker turn its ring (submitting whatever was still queued).
            trioxide::time::sleep(Duration::from_millis(50)).await;
            new_client
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut got = [0u8; 8];
            let read = new_client.read_exact(&mut got).map(|()| got);
            (reused, read)
        })
        .await
        .unwrap();
        let (reused, read) = outcome;
        if !reused {
            eprintln!("the descriptor number was not reused here: nothing to check");
            return;
        }
        assert_eq!(
            read.expect("the new socket's bytes were taken by the dropped read"),
            *b"precious"
        );
    }
}
