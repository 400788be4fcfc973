//! The io_uring driver behind `Reactor`: readiness round trips, `poll_io` with a real
//! waker while another thread turns the reactor, unpark across threads, and reuse of a
//! descriptor number after deregistration.

mod support;

use std::future::{Future, poll_fn};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::{ThreadWaker, block_on, uring_reactor_or_skip};
use trioxide_reactor::{Direction, Driver, Interest, ready};

#[test]
fn readiness_round_trip_through_the_reactor() {
    let Some(reactor) = uring_reactor_or_skip("readiness_round_trip_through_the_reactor") else {
        return;
    };
    assert_eq!(reactor.backend_name(), "io_uring");
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let reg = reactor.register(b.as_raw_fd()).unwrap();
    // Writable at once; readable once the peer writes.
    block_on(&reactor, poll_fn(|cx| reg.poll_ready(cx, Direction::Write))).unwrap();
    a.write_all(b"hello").unwrap();
    let ev = block_on(&reactor, poll_fn(|cx| reg.poll_ready(cx, Direction::Read))).unwrap();
    assert_ne!(ev.ready & ready::READABLE, 0);
    let mut buf = [0; 16];
    assert_eq!((&b).read(&mut buf).unwrap(), 5);
    // Drained: the next read hits EAGAIN and clears readiness, so `poll_io` is pending...
    let waker = std::task::Waker::from(ThreadWaker::new());
    let mut cx = std::task::Context::from_waker(&waker);
    let read = |buf: &mut [u8]| (&b).read(buf);
    assert!(
        reg.poll_io(&mut cx, Direction::Read, || read(&mut buf))
            .is_pending()
    );
    // ... until new data arrives: the multishot poll reports the new edge.
    a.write_all(b"again").unwrap();
    let n = block_on(
        &reactor,
        poll_fn(|cx| reg.poll_io(cx, Direction::Read, || read(&mut buf))),
    )
    .unwrap();
    assert_eq!(&buf[..n], b"again");
    // A closed peer reports READ_CLOSED.
    drop(a);
    let ev = block_on(&reactor, poll_fn(|cx| reg.poll_ready(cx, Direction::Read))).unwrap();
    assert_ne!(ev.ready & (ready::READ_CLOSED | ready::READABLE), 0);
    assert_eq!(read(&mut buf).unwrap(), 0);
}

#[test]
fn poll_io_with_a_real_waker_while_another_thread_turns() {
    let Some(reactor) = uring_reactor_or_skip("poll_io_with_a_real_waker") else {
        return;
    };
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let turner = {
        let reactor = reactor.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                reactor.turn(None).unwrap();
            }
        })
    };
    let reg_b = reactor.register(b.as_raw_fd()).unwrap();
    let writer = {
        let a = a.try_clone().unwrap();
        std::thread::spawn(move || {
            for i in 0..200u8 {
                loop {
                    match (&a).write(&[i]) {
                        Ok(_) => break,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                        Err(e) => panic!("{e}"),
                    }
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let waker_state = ThreadWaker::new();
    let waker = std::task::Waker::from(waker_state.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let mut received = Vec::new();
    let start = std::time::Instant::now();
    while received.len() < 200 {
        let polled = reg_b.poll_io(&mut cx, Direction::Read, || {
            let mut buf = [0; 64];
            (&b).read(&mut buf).map(|n| buf[..n].to_vec())
        });
        match polled {
            std::task::Poll::Ready(Ok(bytes)) => received.extend(bytes),
            std::task::Poll::Ready(Err(e)) => panic!("{e}"),
            std::task::Poll::Pending => std::thread::park_timeout(Duration::from_secs(10)),
        }
    }
    assert_eq!(received, (0..200u8).collect::<Vec<_>>());
    // A lost wake-up would show as a 10 s park timeout.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "a wake-up was lost"
    );
    assert!(
        waker_state.wakes.load(Ordering::SeqCst) > 0,
        "the reactor woke the waker"
    );
    writer.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    reactor.unpark();
    turner.join().unwrap();
}

#[test]
fn unpark_wakes_a_turn_on_another_thread() {
    let Some(reactor) = uring_reactor_or_skip("unpark_wakes_a_turn_on_another_thread") else {
        return;
    };
    for _ in 0..50 {
        let (tx, rx) = std::sync::mpsc::channel();
        let turner = {
            let reactor = reactor.clone();
            std::thread::spawn(move || {
                tx.send(()).unwrap();
                reactor.turn(None).unwrap();
            })
        };
        rx.recv().unwrap();
        reactor.unpark();
        turner.join().unwrap();
    }
}

#[test]
fn deregister_then_reuse_the_descriptor_number() {
    let Some(reactor) = uring_reactor_or_skip("deregister_then_reuse") else {
        return;
    };
    let (mut a1, b1) = UnixStream::pair().unwrap();
    b1.set_nonblocking(true).unwrap();
    let fd = b1.as_raw_fd();
    let reg1 = reactor.register(fd).unwrap();
    a1.write_all(b"old").unwrap();
    block_on(&reactor, poll_fn(|cx| reg1.poll_ready(cx, Direction::Read))).unwrap();
    drop(reg1);
    drop(b1);
    // Find a new socket that got the same number (the lowest free descriptor).
    let mut spare = Vec::new();
    let (mut a2, b2) = loop {
        let (x, y) = UnixStream::pair().unwrap();
        if y.as_raw_fd() == fd {
            break (x, y);
        }
        if x.as_raw_fd() == fd {
            break (y, x);
        }
        spare.push((x, y));
        assert!(spare.len() < 64, "descriptor {fd} was not reused");
    };
    b2.set_nonblocking(true).unwrap();
    let reg2 = reactor.register(b2.as_raw_fd()).unwrap();
    // The old peer's activity must not reach the new registration. (The old socket is
    // really closed by now — its poll was cancelled at once — so the write may fail with
    // EPIPE; either way nothing may show up on the new one.)
    let _ = a1.write_all(b"stale");
    drop(a1);
    for _ in 0..3 {
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
    }
    let mut buf = [0; 8];
    assert_eq!(
        (&b2).read(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    // ... while its own peer's data does.
    a2.write_all(b"new").unwrap();
    let n = block_on(
        &reactor,
        poll_fn(|cx| reg2.poll_io(cx, Direction::Read, || (&b2).read(&mut buf))),
    )
    .unwrap();
    assert_eq!(&buf[..n], b"new");
}

#[test]
fn driver_trait_object_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<trioxide_reactor::uring::UringDriver>();
    assert_send_sync::<trioxide_reactor::uring::UringOps>();
    assert_send_sync::<trioxide_reactor::uring::Op<trioxide_reactor::uring::BufResult>>();
    let Some(reactor) = uring_reactor_or_skip("driver_trait_object_is_send_and_sync") else {
        return;
    };
    let driver = trioxide_reactor::uring::UringDriver::new().unwrap();
    let (_a, b) = UnixStream::pair().unwrap();
    driver
        .register(b.as_raw_fd(), 3, Interest::Readable)
        .unwrap();
    assert_eq!(driver.registered(), 1);
    drop(reactor);
}

/// Registrations and ops made on this thread while another thread is blocked in
/// `Reactor::turn(None)`: the blocked waiter is woken to submit them, and completions
/// wake this thread's waker.
#[test]
fn submissions_while_another_thread_is_blocked_in_turn() {
    let Some(reactor) = uring_reactor_or_skip("submissions_while_blocked") else {
        return;
    };
    let ops = support::ops(&reactor);
    let stop = Arc::new(AtomicBool::new(false));
    let turner = {
        let reactor = reactor.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                reactor.turn(None).unwrap();
            }
        })
    };
    let waker_state = ThreadWaker::new();
    let waker = std::task::Waker::from(waker_state.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let start = std::time::Instant::now();
    for round in 0..50u8 {
        let (mut a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let reg = reactor.register(b.as_raw_fd()).unwrap();
        let mut recv = std::pin::pin!(ops.recv(b.as_raw_fd(), Vec::with_capacity(8)));
        assert!(recv.as_mut().poll(&mut cx).is_pending());
        a.write_all(&[round]).unwrap();
        let (res, buf) = loop {
            match recv.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(out) => break out,
                std::task::Poll::Pending => std::thread::park_timeout(Duration::from_secs(10)),
            }
        };
        assert_eq!(res.unwrap(), 1);
        assert_eq!(buf, [round]);
        // Readiness registered from this thread is reported by the turner too.
        a.write_all(&[round]).unwrap();
        loop {
            match reg.poll_ready(&mut cx, Direction::Read) {
                std::task::Poll::Ready(ev) => {
                    assert_ne!(ev.unwrap().ready & ready::READABLE, 0);
                    break;
                }
                std::task::Poll::Pending => std::thread::park_timeout(Duration::from_secs(10)),
            }
        }
    }
    // A lost wake-up would show as a 10 s park timeout.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "a wake-up was lost"
    );
    assert_eq!(ops.in_flight(), 0);
    stop.store(true, Ordering::SeqCst);
    reactor.unpark();
    turner.join().unwrap();
}

#[test]
fn turn_counts_completed_operations_and_the_ring_fd_polls_readable() {
    let Some(reactor) = uring_reactor_or_skip("turn_counts_completed_operations") else {
        return;
    };
    let ops = reactor
        .uring_ops()
        .expect("an io_uring reactor has ops")
        .clone();
    let mut sleep = Box::pin(ops.sleep(Duration::from_millis(200)));
    let waker = std::task::Waker::from(ThreadWaker::new());
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(sleep.as_mut().poll(&mut cx).is_pending());
    // Submit, then wait for the ring's fd the way a host event loop would.
    assert_eq!(reactor.turn(Some(Duration::ZERO)).unwrap(), 0);
    let mut fds = [libc::pollfd {
        fd: reactor.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: `fds` is a valid one-element pollfd array for the duration of the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 10_000) };
    assert_eq!(n, 1, "the ring's fd did not poll readable within 10 s");
    assert_eq!(
        reactor.turn(Some(Duration::ZERO)).unwrap(),
        1,
        "the timeout's completion counts as dispatched"
    );
    assert!(sleep.as_mut().poll(&mut cx).is_ready());
}

/// An owned ring (`IORING_SETUP_COOP_TASKRUN`) still wakes its owner blocked in an
/// unbounded wait when another thread unparks it, many times over.
#[test]
fn owned_ring_wakes_a_blocked_owner_on_unpark() {
    if trioxide_reactor::uring::probe().is_err() {
        return;
    }
    let reactor = trioxide_reactor::Reactor::io_uring_owned().unwrap();
    for round in 0..200 {
        let (tx, rx) = std::sync::mpsc::channel();
        let owner = {
            let reactor = reactor.clone();
            std::thread::spawn(move || {
                reactor.turn(None).unwrap();
                tx.send(()).unwrap();
            })
        };
        std::thread::sleep(Duration::from_millis(2));
        reactor.unpark();
        rx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("round {round}: the owner was not woken"));
        owner.join().unwrap();
    }
}

/// Waits (at most 10 s) until `reactor` has a completion posted, e.g. the wake-up poll's
/// after an `unpark` (the kernel posts it from task work, not inside `unpark`).
fn wait_until_posted(reactor: &trioxide_reactor::Reactor) {
    let start = std::time::Instant::now();
    while !reactor.work_waiting() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the unpark's completion was never posted"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// An unpark whose completion another thread reaps is not lost: an idle WorkStealing
/// worker dispatches a neighbour's posted completions (`dispatch_posted`) or turns a
/// stuck neighbour's ring (`try_turn_now`) before it sleeps, and so may take the
/// wake-up meant for that neighbour while it is between deciding to sleep and entering
/// its wait. The owner's next wait must still return at once (it slept through a timer
/// keeper's unpark before: a lost timer wake-up).
#[test]
fn an_unpark_reaped_by_another_thread_still_wakes_the_owner() {
    if trioxide_reactor::uring::probe().is_err() {
        eprintln!("skipping: io_uring unavailable here");
        return;
    }
    let reactor = trioxide_reactor::Reactor::io_uring_owned().unwrap();
    for take in ["dispatch_posted", "try_turn_now"] {
        // The owner's first turn submits the ring's wake-up poll from this thread.
        reactor.turn(Some(Duration::ZERO)).unwrap();
        reactor.unpark();
        wait_until_posted(&reactor);
        std::thread::scope(|s| {
            s.spawn(|| match take {
                "dispatch_posted" => reactor.dispatch_posted().unwrap(),
                _ => reactor.try_turn_now().unwrap(),
            })
            .join()
            .unwrap()
        });
        assert!(
            !reactor.work_waiting(),
            "{take}: the neighbour reaped the wake-up"
        );
        let start = std::time::Instant::now();
        reactor.turn(Some(Duration::from_secs(30))).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{take}: the owner slept through an unpark that came before its wait"
        );
    }
}

/// The ring polls a descriptor only while a task may wait for it: `register` alone
/// submits nothing, the first pending `poll_ready` arms the poll (which then reports the
/// readiness the socket already had), and `leave_driver_while_unwatched` stops it, so
/// data that arrives meanwhile posts no completion — until the next wait arms it again.
#[test]
fn the_ring_polls_a_descriptor_only_while_a_task_may_wait_for_it() {
    let Some(reactor) =
        uring_reactor_or_skip("the_ring_polls_a_descriptor_only_while_a_task_may_wait_for_it")
    else {
        return;
    };
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let submitted = || reactor.driver_stats().submitted;
    let before = submitted();
    let reg = reactor.register(b.as_raw_fd()).unwrap();
    reactor.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        submitted(),
        before,
        "registering alone must not submit a poll"
    );

    // Data already there when the first wait arms the poll: it is reported.
    a.write_all(b"early").unwrap();
    let ev = block_on(&reactor, poll_fn(|cx| reg.poll_ready(cx, Direction::Read))).unwrap();
    assert_ne!(ev.ready & ready::READABLE, 0);
    assert_eq!(submitted(), before + 1, "one poll armed");
    let mut buf = [0; 16];
    assert_eq!((&b).read(&mut buf).unwrap(), 5);
    reg.clear_readiness(ev);

    // Unwatched: the poll is cancelled and new data leaves the readiness unset.
    reg.leave_driver_while_unwatched();
    assert_eq!(submitted(), before + 2, "one cancel");
    a.write_all(b"later").unwrap();
    for _ in 0..3 {
        reactor.turn(Some(Duration::from_millis(5))).unwrap();
    }
    let waker = std::task::Waker::from(ThreadWaker::new());
    let mut cx = std::task::Context::from_waker(&waker);
    // The wait re-arms, and the new poll reports the data that arrived unwatched.
    assert!(reg.poll_ready(&mut cx, Direction::Read).is_pending());
    let ev = block_on(&reactor, poll_fn(|cx| reg.poll_ready(cx, Direction::Read))).unwrap();
    assert_ne!(ev.ready & ready::READABLE, 0);
    assert_eq!((&b).read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"later");

    // A waiting task keeps the watch.
    reg.clear_readiness(ev);
    assert!(reg.poll_ready(&mut cx, Direction::Read).is_pending());
    let armed = submitted();
    reg.leave_driver_while_unwatched();
    assert_eq!(submitted(), armed, "a waiter keeps the poll");
    a.write_all(b"x").unwrap();
    block_on(&reactor, poll_fn(|cx| reg.poll_ready(cx, Direction::Read))).unwrap();
}
