//! Cancellation storms: owned buffers outlive dropped futures. Every dropped op's slot
//! stays held (its buffer owned by the driver) until its CQE arrives, then is freed; after
//! the storm no slot is left, so every buffer was freed exactly once (a slot holds exactly
//! one buffer and is freed exactly once, see the slab's white-box tests).

mod support;

use std::future::Future;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::task::{Context, Waker};
use support::{ops, turn_until, uring_reactor_or_skip};

const PAIRS: usize = 250;
const RECVS_PER_SOCKET: usize = 4;

fn poll_once<F: Future + Unpin>(fut: &mut F) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(fut).poll(&mut cx).is_ready()
}

#[test]
fn drop_mid_recv_storm() {
    let Some(reactor) = uring_reactor_or_skip("drop_mid_recv_storm") else {
        return;
    };
    let ops = ops(&reactor);
    let pairs: Vec<(UnixStream, UnixStream)> =
        (0..PAIRS).map(|_| UnixStream::pair().unwrap()).collect();
    let mut futures = Vec::new();
    for (_, b) in &pairs {
        for _ in 0..RECVS_PER_SOCKET {
            futures.push(ops.recv(b.as_raw_fd(), Vec::with_capacity(4096)));
        }
    }
    assert_eq!(futures.len(), 1000);
    // Get them into the kernel and parked there (no data yet), with wakers stored.
    reactor.turn(Some(std::time::Duration::ZERO)).unwrap();
    for fut in &mut futures {
        assert!(!poll_once(fut), "no data was sent");
    }
    reactor.turn(Some(std::time::Duration::ZERO)).unwrap();
    assert_eq!(ops.in_flight(), 1000);
    // Data races the cancellations on half of the sockets: some recvs complete into
    // buffers whose futures are gone.
    for (a, _) in pairs.iter().step_by(2) {
        (&*a).write_all(&[7; 64]).unwrap();
    }
    drop(futures);
    assert!(
        ops.in_flight() > 0,
        "dropped ops keep their slot (and buffer) until the kernel answers"
    );
    assert!(
        turn_until(&reactor, || ops.in_flight() == 0, 500),
        "{} slots never freed",
        ops.in_flight()
    );
    // The sockets still work: nothing was consumed by a freed buffer after the fact.
    drop(pairs);
    assert_eq!(ops.in_flight(), 0);
}

#[test]
fn drop_before_submission_then_close_the_sockets() {
    let Some(reactor) = uring_reactor_or_skip("drop_before_submission") else {
        return;
    };
    let ops = ops(&reactor);
    let pairs: Vec<(UnixStream, UnixStream)> =
        (0..PAIRS).map(|_| UnixStream::pair().unwrap()).collect();
    let mut futures = Vec::new();
    for (_, b) in &pairs {
        for _ in 0..RECVS_PER_SOCKET {
            futures.push(ops.recv(b.as_raw_fd(), vec![0; 512]));
        }
    }
    // Dropped while the SQEs are still queued (never waited for): the recvs and their
    // cancels reach the kernel together.
    drop(futures);
    drop(pairs); // peers closed: any recv that escaped its cancel completes with EOF
    assert!(
        turn_until(&reactor, || ops.in_flight() == 0, 500),
        "{} slots never freed",
        ops.in_flight()
    );
}

#[test]
fn completed_but_unpolled_ops_are_freed_on_drop() {
    let Some(reactor) = uring_reactor_or_skip("completed_but_unpolled_ops_are_freed_on_drop")
    else {
        return;
    };
    let ops = ops(&reactor);
    let (a, b) = UnixStream::pair().unwrap();
    (&a).write_all(&[1; 100]).unwrap();
    let futures: Vec<_> = (0..100)
        .map(|_| ops.recv(b.as_raw_fd(), Vec::with_capacity(1)))
        .collect();
    assert!(turn_until(
        &reactor,
        || {
            // All 100 one-byte recvs complete, but no future takes its result.
            reactor.turn(Some(std::time::Duration::ZERO)).unwrap();
            ops.in_flight() == 100
        },
        50
    ));
    drop(futures);
    assert_eq!(
        ops.in_flight(),
        0,
        "completed slots are freed by the drop itself"
    );
}
