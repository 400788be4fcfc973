//! Helpers shared by the io_uring tests: a reactor that skips the test where io_uring is
//! unavailable, a waker that unparks a thread, and a `block_on` that turns the reactor
//! between polls (io_uring ops and readiness complete only while someone waits).

#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use trioxide_reactor::Reactor;
use trioxide_reactor::uring::{UringOps, probe};

/// An io_uring reactor, or `None` (after printing why) where io_uring is unavailable.
pub fn uring_reactor_or_skip(test: &str) -> Option<Arc<Reactor>> {
    match probe() {
        Ok(()) => Some(Reactor::io_uring().expect("probe passed, Reactor::io_uring must work")),
        Err(e) => {
            eprintln!("skipping {test}: {e}");
            None
        }
    }
}

/// The reactor's io_uring ops.
pub fn ops(reactor: &Reactor) -> UringOps {
    reactor
        .uring_ops()
        .expect("an io_uring reactor has ops")
        .clone()
}

/// A waker that counts its wakes and unparks the thread that created it.
pub struct ThreadWaker {
    thread: std::thread::Thread,
    pub wakes: AtomicUsize,
}

impl ThreadWaker {
    pub fn new() -> Arc<ThreadWaker> {
        Arc::new(ThreadWaker {
            thread: std::thread::current(),
            wakes: AtomicUsize::new(0),
        })
    }
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Polls `fut` to completion on this thread, turning `reactor` whenever it is pending.
pub fn block_on<F: Future>(reactor: &Reactor, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let waker = Waker::from(ThreadWaker::new());
    let mut cx = Context::from_waker(&waker);
    for _ in 0..10_000 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        reactor.turn(Some(Duration::from_millis(100))).unwrap();
    }
    panic!("future did not complete");
}

/// Turns `reactor` until `done()`, at most `rounds` turns of 10 ms.
pub fn turn_until(reactor: &Reactor, mut done: impl FnMut() -> bool, rounds: usize) -> bool {
    for _ in 0..rounds {
        if done() {
            return true;
        }
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
    }
    done()
}
