//! Drop-mid-op storms for the newer io_uring operations: multishot accept, `sendmsg` /
//! `recvmsg` and linked timeouts. After each storm no op slot is left (every buffer,
//! header and timespec was freed exactly once, see `uring_cancel.rs`), and the multishot
//! storm leaves no descriptor open (every accepted-but-untaken connection is closed:
//! its client reads EOF).

mod support;

use std::future::Future;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use support::{block_on, ops, turn_until, uring_reactor_or_skip};

fn poll_once<F: Future + Unpin>(fut: &mut F) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(fut).poll(&mut cx).is_ready()
}

#[test]
fn multishot_accept_storm_leaks_no_descriptor() {
    let Some(reactor) = uring_reactor_or_skip("multishot_accept_storm") else {
        return;
    };
    let ops = ops(&reactor);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let Some(probe) = ops.accept_multishot(listener.as_raw_fd()) else {
        eprintln!("skipping: the kernel lacks multishot accept");
        return;
    };
    drop(probe);
    listener.set_nonblocking(true).unwrap();
    for round in 0..20 {
        let multi = ops.accept_multishot(listener.as_raw_fd()).unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            multi.poll_accept(&mut cx).is_pending(),
            "armed, nobody connected"
        );
        let clients: Vec<TcpStream> = (0..10).map(|_| TcpStream::connect(addr).unwrap()).collect();
        // Take a few (one op, many CQEs), leave the rest queued or still arriving.
        let mut taken = Vec::new();
        while taken.len() < round % 5 {
            match multi.poll_accept(&mut cx) {
                Poll::Ready(Some(fd)) => taken.push(fd.unwrap()),
                Poll::Ready(None) => panic!("multishot accept switched off"),
                Poll::Pending => {
                    reactor.turn(Some(Duration::from_millis(10))).unwrap();
                }
            }
        }
        drop(multi);
        drop(taken);
        assert!(
            turn_until(&reactor, || ops.in_flight() == 0, 500),
            "{} slots never freed",
            ops.in_flight()
        );
        // Connections the cancelled op never accepted are still in the backlog.
        while let Ok((late, _)) = listener.accept() {
            drop(late);
        }
        // Every server end is now closed — taken, queued-but-untaken, or accepted by the
        // op as it was cancelled — so every client reads EOF (or a reset). A leaked
        // descriptor would keep its connection open and this read would time out.
        // (Counting /proc/self/fd would see the other tests of this binary.)
        for mut c in clients {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut b = [0u8; 1];
            match std::io::Read::read(&mut c, &mut b) {
                Ok(0) => {}
                Ok(n) => panic!("read {n} bytes from a closed connection"),
                Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "leaked: {e}"),
            }
        }
    }
}

#[test]
fn multishot_accept_serves_many_connections_with_one_op() {
    let Some(reactor) = uring_reactor_or_skip("multishot_accept_serves_many") else {
        return;
    };
    let ops = ops(&reactor);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let Some(multi) = ops.accept_multishot(listener.as_raw_fd()) else {
        eprintln!("skipping: the kernel lacks multishot accept");
        return;
    };
    let clients: Vec<TcpStream> = (0..64).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut accepted = Vec::new();
    for _ in 0..64 {
        let fd = block_on(&reactor, std::future::poll_fn(|cx| multi.poll_accept(cx)));
        accepted.push(fd.expect("multishot supported").unwrap());
    }
    assert_eq!(ops.in_flight(), 1, "one op accepted all 64");
    let mut peers: Vec<_> = accepted
        .into_iter()
        .map(|fd| std::net::TcpStream::from(fd).peer_addr().unwrap())
        .collect();
    let mut locals: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    peers.sort();
    locals.sort();
    assert_eq!(peers, locals, "exactly the clients, each once");
    drop(multi);
    assert!(turn_until(&reactor, || ops.in_flight() == 0, 500));
}

#[test]
fn recvmsg_and_sendmsg_drop_storm() {
    let Some(reactor) = uring_reactor_or_skip("recvmsg_and_sendmsg_drop_storm") else {
        return;
    };
    let ops = ops(&reactor);
    let sockets: Vec<UdpSocket> = (0..50)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut recvs = Vec::new();
    for s in &sockets {
        for _ in 0..8 {
            recvs.push(ops.recv_from(s.as_raw_fd(), Vec::with_capacity(2048)));
        }
    }
    reactor.turn(Some(Duration::ZERO)).unwrap();
    for r in &mut recvs {
        assert!(!poll_once(r), "nothing sent yet");
    }
    // Datagrams race the cancellations on every other socket; sends are dropped too.
    let sends: Vec<_> = sockets
        .iter()
        .step_by(2)
        .map(|s| ops.send_to(sender.as_raw_fd(), vec![1; 512], s.local_addr().unwrap()))
        .collect();
    reactor.turn(Some(Duration::ZERO)).unwrap();
    drop(sends);
    drop(recvs);
    assert!(
        turn_until(&reactor, || ops.in_flight() == 0, 500),
        "{} slots never freed",
        ops.in_flight()
    );
}

#[test]
fn linked_timeouts_firing_while_their_ops_are_dropped() {
    let Some(reactor) = uring_reactor_or_skip("linked_timeouts_firing") else {
        return;
    };
    let ops = ops(&reactor);
    let pairs: Vec<_> = (0..200)
        .map(|_| std::os::unix::net::UnixStream::pair().unwrap())
        .collect();
    // Timeouts from 0 to 4 ms: some fire before the drop, some race it, some after.
    let mut futures: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(i, (_, b))| {
            ops.recv_timeout(
                b.as_raw_fd(),
                Vec::with_capacity(128),
                Duration::from_micros((i % 5) as u64 * 1000),
            )
        })
        .collect();
    reactor.turn(Some(Duration::from_millis(2))).unwrap();
    // Keep every third (it must time out), drop the rest mid-flight.
    let kept: Vec<_> = futures
        .drain(..)
        .enumerate()
        .filter_map(|(i, f)| (i % 3 == 0).then_some(f))
        .collect();
    for fut in kept {
        let (res, buf) = block_on(&reactor, fut);
        assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(buf.capacity(), 128);
    }
    assert!(
        turn_until(&reactor, || ops.in_flight() == 0, 500),
        "{} slots never freed",
        ops.in_flight()
    );
}

#[test]
fn connect_timeouts_dropped_mid_connect() {
    let Some(reactor) = uring_reactor_or_skip("connect_timeouts_dropped_mid_connect") else {
        return;
    };
    let ops = ops(&reactor);
    // A listener whose accept queue is full: SYNs are dropped, connects stay pending.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: listen(2) again on our own listening socket only changes its backlog.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let _filler = TcpStream::connect(addr).unwrap();
    let sockets: Vec<_> = (0..100)
        .map(|_| {
            // SAFETY: plain syscall; checked, then owned.
            let fd =
                unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
            assert!(fd >= 0);
            // SAFETY: `fd` was just returned to us.
            unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
        })
        .collect();
    let connects: Vec<_> = sockets
        .iter()
        .map(|s| ops.connect_timeout(s.as_raw_fd(), addr, Duration::from_secs(3600)))
        .collect();
    turn_until(&reactor, || false, 3);
    assert_eq!(ops.in_flight(), 100, "every connect is pending");
    drop(connects);
    assert!(
        turn_until(&reactor, || ops.in_flight() == 0, 500),
        "{} slots never freed",
        ops.in_flight()
    );
    // And one that is allowed to time out reports it.
    let last = &sockets[0];
    let err = block_on(
        &reactor,
        ops.connect_timeout(last.as_raw_fd(), addr, Duration::from_millis(50)),
    );
    // The dropped connect may have left this socket mid-connect (EALREADY) instead.
    let err = err.unwrap_err();
    assert!(
        err.kind() == std::io::ErrorKind::TimedOut || err.raw_os_error() == Some(libc::EALREADY),
        "{err}"
    );
}
