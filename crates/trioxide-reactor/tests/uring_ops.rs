//! Completion-based ops through `Reactor::uring_ops`: a file round trip, an echo over TCP
//! (accept, connect, send, recv, close), and the `io_uring_enter` counts of an echo round
//! trip on both the completion and the readiness path.

mod support;

use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use support::{block_on, ops, uring_reactor_or_skip};
use trioxide_reactor::Direction;
use trioxide_reactor::uring::AT_FDCWD;

#[test]
fn file_round_trip() {
    let Some(reactor) = uring_reactor_or_skip("file_round_trip") else {
        return;
    };
    let ops = ops(&reactor);
    let path = std::env::temp_dir().join(format!("trioxide-uring-ops-{}", std::process::id()));
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC;
    let fd = block_on(&reactor, ops.openat(AT_FDCWD, &path, flags, 0o600)).unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    let (n, data) = block_on(&reactor, ops.write_at(fd.as_raw_fd(), data, 0));
    assert_eq!(n.unwrap(), 64 * 1024);
    block_on(&reactor, ops.fsync(fd.as_raw_fd())).unwrap();
    let meta = block_on(&reactor, ops.statx(&path)).unwrap();
    assert_eq!(meta.stx_size, 64 * 1024);
    let (n, back) = block_on(
        &reactor,
        ops.read_at(fd.as_raw_fd(), Vec::with_capacity(64 * 1024), 0),
    );
    assert_eq!(n.unwrap(), 64 * 1024);
    assert_eq!(back, data);
    block_on(&reactor, ops.close(fd)).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(ops.in_flight(), 0);
}

fn tcp_socket() -> OwnedFd {
    // SAFETY: plain syscall with constant arguments; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "{}", io::Error::last_os_error());
    // SAFETY: `fd` is a fresh descriptor this function owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

#[test]
fn tcp_echo_with_owned_buffers() {
    let Some(reactor) = uring_reactor_or_skip("tcp_echo_with_owned_buffers") else {
        return;
    };
    let ops = ops(&reactor);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = ops.accept(listener.as_raw_fd());
    let client = tcp_socket();
    block_on(&reactor, ops.connect(client.as_raw_fd(), addr)).unwrap();
    let server = block_on(&reactor, accept).unwrap();
    let mut buf = Vec::with_capacity(64);
    for round in 0..10u8 {
        let msg = vec![round; 32];
        let (n, _) = block_on(&reactor, ops.send(client.as_raw_fd(), msg.clone()));
        assert_eq!(n.unwrap(), 32);
        let (n, got) = block_on(&reactor, ops.recv(server.as_raw_fd(), buf));
        assert_eq!(n.unwrap(), 32);
        let (n, _) = block_on(&reactor, ops.send(server.as_raw_fd(), got));
        assert_eq!(n.unwrap(), 32);
        let (n, got) = block_on(
            &reactor,
            ops.recv(client.as_raw_fd(), Vec::with_capacity(64)),
        );
        assert_eq!(n.unwrap(), 32);
        assert_eq!(got, msg);
        buf = got;
        buf.clear();
    }
    block_on(&reactor, ops.close(server)).unwrap();
    let (n, _) = block_on(&reactor, ops.recv(client.as_raw_fd(), buf));
    assert_eq!(n.unwrap(), 0, "EOF after the server closed");
}

/// `io_uring_enter` calls per echo round trip on one thread. Completion path: each side's
/// send and recv are queued together and submitted by one wait. Readiness path: one wait
/// per side for the poll CQE (plus the non-blocking read/write syscalls themselves).
#[test]
fn io_uring_enter_count_per_echo_round_trip() {
    let Some(reactor) = uring_reactor_or_skip("io_uring_enter_count_per_echo_round_trip") else {
        return;
    };
    let ops = ops(&reactor);
    let (a, b) = UnixStream::pair().unwrap();
    const ROUNDS: u64 = 200;
    let before = ops.enter_count();
    let mut buf_a = Vec::with_capacity(64);
    let mut buf_b = Vec::with_capacity(64);
    for _ in 0..ROUNDS {
        // Client send and server recv batched into the same enter.
        let send = ops.send(a.as_raw_fd(), b"ping".to_vec());
        let (n, got) = block_on(&reactor, ops.recv(b.as_raw_fd(), buf_b));
        assert_eq!(n.unwrap(), 4);
        assert_eq!(block_on(&reactor, send).0.unwrap(), 4);
        let send = ops.send(b.as_raw_fd(), got);
        let (n, got) = block_on(&reactor, ops.recv(a.as_raw_fd(), buf_a));
        assert_eq!(n.unwrap(), 4);
        assert_eq!(block_on(&reactor, send).0.unwrap(), 4);
        buf_a = got;
        buf_b = Vec::with_capacity(64);
    }
    let per_trip = (ops.enter_count() - before) as f64 / ROUNDS as f64;
    println!("io_uring ops: {per_trip:.2} io_uring_enter per echo round trip");
    assert!(per_trip <= 4.0, "{per_trip} enters per round trip");

    // The readiness path: the same echo with non-blocking reads and writes through
    // `Registration::poll_io`; io_uring only reports readiness.
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    let reg_a = reactor.register(a.as_raw_fd()).unwrap();
    let reg_b = reactor.register(b.as_raw_fd()).unwrap();
    let before = ops.enter_count();
    let mut buf = [0; 16];
    let noop = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(noop);
    for _ in 0..ROUNDS {
        // Each side first finds nothing to read (EAGAIN clears its readiness), so each
        // read really waits for the poll CQE of the peer's write.
        let pending = reg_b.poll_io(&mut cx, Direction::Read, || (&b).read(&mut buf));
        assert!(pending.is_pending());
        (&a).write_all(b"ping").unwrap();
        let n = block_on(
            &reactor,
            poll_fn(|cx| reg_b.poll_io(cx, Direction::Read, || (&b).read(&mut buf))),
        )
        .unwrap();
        let pending = reg_a.poll_io(&mut cx, Direction::Read, || (&a).read(&mut [0; 16]));
        assert!(pending.is_pending());
        (&b).write_all(&buf[..n]).unwrap();
        block_on(
            &reactor,
            poll_fn(|cx| reg_a.poll_io(cx, Direction::Read, || (&a).read(&mut buf))),
        )
        .unwrap();
    }
    let per_trip = (ops.enter_count() - before) as f64 / ROUNDS as f64;
    println!("io_uring readiness: {per_trip:.2} io_uring_enter per echo round trip");
    assert!(per_trip <= 4.0, "{per_trip} enters per round trip");
}
