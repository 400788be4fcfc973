//! White-box tests of the io_uring driver, and the helpers the op tests share: a driver
//! that skips the test where io_uring is unavailable, and a `block_on` that drives the
//! ring between polls (ops complete only inside `Driver::wait`).

use super::{UringDriver, probe};
use crate::driver::{Driver, Event, Interest, ready};
use std::future::Future;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A driver, or `None` (after printing why) where io_uring is unavailable.
pub(crate) fn driver_or_skip(test: &str) -> Option<UringDriver> {
    match probe() {
        Ok(()) => Some(UringDriver::new().expect("probe passed, setup must work")),
        Err(e) => {
            eprintln!("skipping {test}: {e}");
            None
        }
    }
}

/// Polls `fut` to completion, waiting on `driver` whenever it is pending.
pub(crate) fn block_on<F: Future>(driver: &UringDriver, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    let mut events = Vec::new();
    for _ in 0..10_000 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        driver
            .wait(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        events.clear();
    }
    panic!("operation did not complete");
}

/// Waits on `driver` until `done()` (at most `rounds` waits of 10 ms).
pub(crate) fn turn_until(driver: &UringDriver, mut done: impl FnMut() -> bool, rounds: usize) {
    let mut events = Vec::new();
    for _ in 0..rounds {
        if done() {
            return;
        }
        driver
            .wait(&mut events, Some(Duration::from_millis(10)))
            .unwrap();
        events.clear();
    }
}

fn wait_for(driver: &UringDriver, token: u64, bit: usize) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..50 {
        driver
            .wait(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        if events
            .iter()
            .any(|e| e.token == token && e.ready & bit != 0)
        {
            return events;
        }
    }
    panic!("no event for token {token} with bit {bit:#x}: {events:?}");
}

#[test]
fn reports_readable_and_unparks() {
    let Some(driver) = driver_or_skip("reports_readable_and_unparks") else {
        return;
    };
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    driver.register(b.as_raw_fd(), 7, Interest::Both).unwrap();
    wait_for(&driver, 7, ready::WRITABLE);
    a.write_all(b"x").unwrap();
    wait_for(&driver, 7, ready::READABLE);
    // Edge-like: after the data is consumed, new data reports again.
    let mut buf = [0; 8];
    assert_eq!(std::io::Read::read(&mut &b, &mut buf).unwrap(), 1);
    a.write_all(b"y").unwrap();
    wait_for(&driver, 7, ready::READABLE);
    let mut events = Vec::new();
    driver.unpark().unwrap();
    driver.wait(&mut events, None).unwrap();
    assert!(
        events.iter().all(|e| e.token == 7),
        "an unpark returns with no event of its own"
    );
    driver.deregister(b.as_raw_fd()).unwrap();
    assert_eq!(
        driver.deregister(b.as_raw_fd()).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
}

#[test]
fn double_register_is_eexist() {
    let Some(driver) = driver_or_skip("double_register_is_eexist") else {
        return;
    };
    let (_a, b) = UnixStream::pair().unwrap();
    driver.register(b.as_raw_fd(), 1, Interest::Both).unwrap();
    let err = driver
        .register(b.as_raw_fd(), 2, Interest::Both)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
    assert_eq!(driver.registered(), 1);
    assert!(driver.register(-1, 3, Interest::Both).is_err());
}

#[test]
fn deregistered_poll_reports_nothing_more() {
    let Some(driver) = driver_or_skip("deregistered_poll_reports_nothing_more") else {
        return;
    };
    let (mut a, b) = UnixStream::pair().unwrap();
    driver
        .register(b.as_raw_fd(), 11, Interest::Readable)
        .unwrap();
    driver.deregister(b.as_raw_fd()).unwrap();
    a.write_all(b"ignored").unwrap();
    let mut events = Vec::new();
    for _ in 0..3 {
        driver
            .wait(&mut events, Some(Duration::from_millis(20)))
            .unwrap();
    }
    assert!(events.iter().all(|e| e.token != 11), "{events:?}");
}

#[test]
fn unpark_from_another_thread_wakes_a_blocked_wait() {
    let Some(driver) = driver_or_skip("unpark_from_another_thread") else {
        return;
    };
    let driver = Arc::new(driver);
    for _ in 0..20 {
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let driver = driver.clone();
            std::thread::spawn(move || {
                tx.send(()).unwrap();
                let mut events = Vec::new();
                driver.wait(&mut events, None).unwrap();
            })
        };
        rx.recv().unwrap();
        driver.unpark().unwrap();
        waiter.join().unwrap();
    }
}

#[test]
fn timeout_bounds_the_wait_and_counts_one_enter() {
    let Some(driver) = driver_or_skip("timeout_bounds_the_wait") else {
        return;
    };
    let mut events = Vec::new();
    // Drain the setup's CQE-less state first.
    driver.wait(&mut events, Some(Duration::ZERO)).unwrap();
    let before = driver.enter_count();
    let start = std::time::Instant::now();
    driver
        .wait(&mut events, Some(Duration::from_millis(30)))
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(25));
    assert_eq!(
        driver.enter_count() - before,
        1,
        "one io_uring_enter per wait"
    );
    assert!(events.is_empty());
}

/// The kernel cancels a thread's requests when it exits. A poll submitted by a waiter
/// thread that then exits must be re-armed, not lost.
#[test]
fn poll_survives_the_exit_of_the_thread_that_submitted_it() {
    let Some(driver) = driver_or_skip("poll_survives_thread_exit") else {
        return;
    };
    let driver = Arc::new(driver);
    let (mut a, b) = UnixStream::pair().unwrap();
    driver
        .register(b.as_raw_fd(), 5, Interest::Readable)
        .unwrap();
    {
        let driver = driver.clone();
        // This thread's wait submits the poll (and the wake-up poll), then it exits.
        std::thread::spawn(move || {
            let mut events = Vec::new();
            driver.wait(&mut events, Some(Duration::ZERO)).unwrap();
        })
        .join()
        .unwrap();
    }
    // The kernel's cancellation is absorbed: no error is reported...
    let mut events = Vec::new();
    for _ in 0..3 {
        driver
            .wait(&mut events, Some(Duration::from_millis(10)))
            .unwrap();
    }
    assert!(
        events.iter().all(|e| e.ready & ready::ERROR == 0),
        "{events:?}"
    );
    // ... and the re-armed poll keeps reporting new data, edge after edge.
    let mut buf = [0; 32];
    for _ in 0..2 {
        a.write_all(b"after exit").unwrap();
        let events = wait_for(&driver, 5, ready::READABLE);
        assert!(
            events.iter().all(|e| e.ready & ready::ERROR == 0),
            "{events:?}"
        );
        assert_eq!(std::io::Read::read(&mut &b, &mut buf).unwrap(), 10);
    }
    // The wake-up poll was re-armed too.
    let waiter = {
        let driver = driver.clone();
        std::thread::spawn(move || {
            let mut events = Vec::new();
            driver.wait(&mut events, None).unwrap();
        })
    };
    driver.unpark().unwrap();
    waiter.join().unwrap();
}

/// An op whose submitting thread exited is resubmitted instead of failing.
#[test]
fn op_survives_the_exit_of_the_thread_that_submitted_it() {
    let Some(driver) = driver_or_skip("op_survives_thread_exit") else {
        return;
    };
    let driver = Arc::new(driver);
    let (mut a, b) = UnixStream::pair().unwrap();
    let recv = driver.ops().recv(b.as_raw_fd(), Vec::with_capacity(16));
    {
        let driver = driver.clone();
        std::thread::spawn(move || {
            let mut events = Vec::new();
            driver.wait(&mut events, Some(Duration::ZERO)).unwrap();
        })
        .join()
        .unwrap();
    }
    a.write_all(b"still here").unwrap();
    let (res, buf) = block_on(&driver, recv);
    assert_eq!(res.unwrap(), 10);
    assert_eq!(buf, b"still here");
}

#[test]
fn stats_count_submissions_completions_and_enters() {
    let Some(driver) = driver_or_skip("stats_count") else {
        return;
    };
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let before = driver.stats();
    driver
        .register(std::os::fd::AsRawFd::as_raw_fd(&b), 7, Interest::Both)
        .unwrap();
    std::io::Write::write_all(&mut a, b"x").unwrap();
    let mut events = Vec::new();
    driver
        .wait(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    let after = driver.stats();
    assert!(
        after.submitted > before.submitted,
        "{before:?} -> {after:?}"
    );
    assert!(
        after.completed > before.completed,
        "{before:?} -> {after:?}"
    );
    assert_eq!(after.waits, driver.enter_count());
    assert!(after.waits > before.waits);
}

/// Deregistering a descriptor whose poll is being woken at that very moment (a second
/// thread keeps writing to the peer while the owner drains and then drops it) must still
/// end the poll: otherwise the kernel keeps the descriptor's file open after `close`, and
/// the peer never sees the connection end. (A `POLL_REMOVE` that met the poll mid-wake-up
/// failed with `-EALREADY` and left it armed; the peer then waited forever.)
#[test]
fn deregister_during_a_wake_up_really_closes_the_descriptor() {
    use std::io::Read;
    use std::time::Instant;
    let Some(driver) = driver_or_skip("deregister_during_a_wake_up_really_closes_the_descriptor")
    else {
        return;
    };
    let mut events = Vec::new();
    for round in 0..200u64 {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        driver
            .register(a.as_raw_fd(), round, Interest::Both)
            .unwrap();
        // This thread submits the poll, so the poll's wake-ups run as its task work.
        driver.wait(&mut events, Some(Duration::ZERO)).unwrap();
        let writer = std::thread::spawn(move || {
            let mut b = b;
            // Writes until the peer is really closed: EPIPE (or a reset).
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if b.write(b"x").is_err() {
                    return true;
                }
            }
            false
        });
        // Drain for a moment so wake-ups keep coming, then drop the descriptor.
        let until = Instant::now() + Duration::from_micros(50 + 37 * (round % 7));
        let mut buf = [0u8; 256];
        while Instant::now() < until {
            let _ = a.read(&mut buf);
        }
        driver.deregister(a.as_raw_fd()).unwrap();
        driver.wait(&mut events, Some(Duration::ZERO)).unwrap();
        drop(a);
        let mut saw_end = false;
        for _ in 0..5000 {
            if writer.is_finished() {
                saw_end = true;
                break;
            }
            driver
                .wait(&mut events, Some(Duration::from_millis(1)))
                .unwrap();
            events.clear();
        }
        assert!(
            saw_end && writer.join().unwrap(),
            "round {round}: the deregistered descriptor is still held open"
        );
    }
}

/// The thread that waits in the ring is told to turn it early only for what it cannot
/// see itself: completions posted, and submissions pushed by other threads. Its own
/// pushes stay queued (`work_waiting` still reports them) for its next wait.
#[test]
fn only_completions_and_other_threads_pushes_need_an_early_turn() {
    let Some(driver) = driver_or_skip("only_completions_and_other_threads_pushes") else {
        return;
    };
    let ops = driver.ops();
    let mut events = Vec::new();
    // This thread becomes the waiter by blocking in the ring once.
    driver
        .wait(&mut events, Some(Duration::from_millis(1)))
        .unwrap();
    driver.wait(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(!driver.needs_owner_turn());

    // Its own push: queued, but no early turn wanted.
    let (a, b) = UnixStream::pair().unwrap();
    let own = ops.recv(b.as_raw_fd(), Vec::with_capacity(8));
    assert!(driver.work_waiting(), "the push is queued");
    assert!(
        !driver.needs_owner_turn(),
        "its own push waits for its wait"
    );

    // Another thread's push: the waiter must submit it soon.
    let from_elsewhere = std::thread::scope(|s| {
        s.spawn(|| ops.recv(a.as_raw_fd(), Vec::with_capacity(8)))
            .join()
    })
    .unwrap();
    assert!(
        driver.needs_owner_turn(),
        "another thread's push needs a turn"
    );
    driver.wait(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(!driver.needs_owner_turn(), "the turn submitted both");

    // A completion posted (the data makes the first recv complete inline or via task
    // work, which the next system call of this thread runs).
    (&a).write_all(b"x").unwrap();
    let start = std::time::Instant::now();
    while !driver.needs_owner_turn() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the completion was never posted"
        );
        // Any system call runs pending task work; `getpid` is about the cheapest.
        let _ = std::process::id();
        std::thread::sleep(Duration::from_millis(1));
    }
    let (res, buf) = block_on(&driver, own);
    assert_eq!((res.unwrap(), buf.as_slice()), (1, &b"x"[..]));
    drop(from_elsewhere);
    turn_until(&driver, || ops.in_flight() == 0, 100);
}
