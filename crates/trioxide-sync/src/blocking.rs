//! Blocking bridges and spin back-off.
//!
//! [`block_on`] drives one future to completion on the calling thread with a waker that
//! unparks it — the classic park/unpark executor (as in `futures::executor::block_on` and
//! `pollster`). The `*_blocking` methods of the channels are `block_on` of their async
//! twins, so the two share one code path and one waiter protocol. The waker is cached per
//! thread (no allocation per call, and `will_wake` holds across calls). The mpsc channels
//! retry with [`Backoff`] before they register and call `block_on`, as
//! crossbeam-channel's blocking operations do.
//!
//! [`Backoff`] and [`CachePadded`] are crossbeam-utils' exponential back-off, reduced: spin a few rounds, then
//! yield the thread. Under loom every round yields, so the model checker can schedule the
//! thread the spinner is waiting for.

#[cfg(not(trioxide_loom))]
use crate::loom::sync::atomic::{AtomicBool, Ordering::*};
use crate::loom::thread;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Wake, Waker};

/// Wakes the thread that is blocked in [`block_on`]: sets `woken`, and unparks the thread
/// if the flag was clear (if it was set, whoever set it already unparked).
#[cfg(not(trioxide_loom))]
struct ThreadWaker {
    thread: thread::Thread,
    /// A wake-up the blocked thread has not consumed yet. Set by the waker with an RMW,
    /// consumed by the blocked thread with an RMW (acquire), so the re-poll that follows
    /// sees everything the waker published before waking.
    woken: AtomicBool,
}

#[cfg(not(trioxide_loom))]
impl Wake for ThreadWaker {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        if !self.woken.swap(true, AcqRel) {
            self.thread.unpark();
        }
    }
}

#[cfg(not(trioxide_loom))]
std::thread_local! {
    /// This thread's [`ThreadWaker`], reused across `block_on` calls so that a blocking
    /// send or receive allocates nothing and re-registers the same waker (`will_wake`).
    /// A nested `block_on` finds the slot empty and makes its own.
    static THREAD_WAKER: std::cell::Cell<Option<StdArc<ThreadWaker>>> =
        const { std::cell::Cell::new(None) };
}

/// Runs `future` to completion on this thread, parking between polls.
///
/// Must not be called from inside an async task: it blocks the executor's thread.
#[cfg(not(trioxide_loom))]
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    // `std::sync::Arc` here is the waker's own reference count, not shared state, so it
    // need not go through the loom shim.
    let inner = THREAD_WAKER.take().unwrap_or_else(|| {
        StdArc::new(ThreadWaker {
            thread: thread::current(),
            woken: AtomicBool::new(false),
        })
    });
    // A wake-up left over from an earlier call (a stale registration) only costs a poll.
    inner.woken.store(false, Relaxed);
    let waker = Waker::from(inner.clone());
    let mut cx = Context::from_waker(&waker);
    let out = loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            break out;
        }
        while !inner.woken.load(Relaxed) {
            thread::park();
        }
        // Consume the wake-up (acquire: see what the waker published).
        let was_woken = inner.woken.swap(false, Acquire);
        debug_assert!(was_woken);
    };
    drop(waker);
    THREAD_WAKER.set(Some(inner));
    out
}

/// Under loom, a flag and a condition variable stand in for park/unpark: loom treats an
/// `unpark` that reaches a thread blocked elsewhere (say in `join`) as a broken wake-up,
/// while a late wake-up is harmless with std's park token.
#[cfg(trioxide_loom)]
struct FlagWaker {
    woken: crate::loom::sync::Mutex<bool>,
    cv: crate::loom::sync::Condvar,
}

#[cfg(trioxide_loom)]
impl Wake for FlagWaker {
    fn wake(self: StdArc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &StdArc<Self>) {
        *crate::lock(&self.woken) = true;
        self.cv.notify_one();
    }
}

/// Runs `future` to completion on this thread, waiting on a condition variable between
/// polls (the loom build's stand-in for park/unpark).
#[cfg(trioxide_loom)]
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let flag = StdArc::new(FlagWaker {
        woken: crate::loom::sync::Mutex::new(false),
        cv: crate::loom::sync::Condvar::new(),
    });
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        let mut woken = crate::lock(&flag.woken);
        while !*woken {
            woken = flag
                .cv
                .wait(woken)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *woken = false;
    }
}

/// Pads and aligns a value to 128 bytes (two cache lines, for adjacent-line prefetch), so
/// a channel's head and tail do not false-share (crossbeam-utils' `CachePadded`).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// One spin-wait hint: `spin_loop` on hardware; a thread yield under loom, so the model
/// checker schedules the thread being waited for.
pub(crate) fn spin_hint() {
    if cfg!(trioxide_loom) {
        thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

/// Exponential back-off for the short spins of the lock-free rings.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    /// Spins before this many steps, yields after.
    const SPIN_LIMIT: u32 = 6;
    /// After this many steps a waiter should block instead ([`is_completed`]).
    ///
    /// [`is_completed`]: Self::is_completed
    const YIELD_LIMIT: u32 = 10;

    /// A fresh back-off.
    pub(crate) fn new() -> Self {
        Self { step: 0 }
    }

    /// Spins briefly (a CAS lost to another thread: retry soon).
    pub(crate) fn spin(&mut self) {
        if cfg!(trioxide_loom) {
            thread::yield_now();
            return;
        }
        for _ in 0..1u32 << self.step.min(Self::SPIN_LIMIT) {
            std::hint::spin_loop();
        }
        if self.step <= Self::SPIN_LIMIT {
            self.step += 1;
        }
    }

    /// Waits a little, longer each call: spin, then yield the thread.
    pub(crate) fn snooze(&mut self) {
        if cfg!(trioxide_loom) || self.step > Self::SPIN_LIMIT {
            thread::yield_now();
        } else {
            for _ in 0..1u32 << self.step {
                std::hint::spin_loop();
            }
        }
        if self.step <= Self::YIELD_LIMIT {
            self.step += 1;
        }
    }

    /// Whether the back-off has run its course: a waiter should park now rather than
    /// snooze again (crossbeam-utils' `Backoff::is_completed`).
    /// Under loom it is complete from the start, so a spin-then-block loop tries once and
    /// blocks, keeping the models small.
    pub(crate) fn is_completed(&self) -> bool {
        cfg!(trioxide_loom) || self.step > Self::YIELD_LIMIT
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;

    #[test]
    fn block_on_ready_and_cross_thread_wake() {
        assert_eq!(block_on(async { 7 }), 7);
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let handle = std::thread::spawn(move || rx.recv().unwrap().wake());
        let mut sent = Some(tx);
        let out = block_on(std::future::poll_fn(|cx| match sent.take() {
            Some(tx) => {
                tx.send(cx.waker().clone()).unwrap();
                Poll::Pending
            }
            None => Poll::Ready(1),
        }));
        assert_eq!(out, 1);
        handle.join().unwrap();
    }

    #[test]
    fn block_on_reuses_its_waker_and_nests() {
        for round in 0..3 {
            let (tx, rx) = std::sync::mpsc::channel::<Waker>();
            let handle = std::thread::spawn(move || rx.recv().unwrap().wake());
            let mut sent = Some(tx);
            let out = block_on(std::future::poll_fn(|cx| match sent.take() {
                Some(tx) => {
                    tx.send(cx.waker().clone()).unwrap();
                    Poll::Pending
                }
                // A nested call gets a waker of its own and leaves the outer one be.
                None => Poll::Ready(block_on(async { round })),
            }));
            assert_eq!(out, round);
            handle.join().unwrap();
        }
    }

    #[test]
    fn backoff_terminates() {
        let mut b = Backoff::new();
        for _ in 0..20 {
            b.snooze();
        }
    }
}
