//! `AtomicWaker`: one waker slot that a single registrant and any number of wakers share
//! without a lock — the algorithm of `futures::task::AtomicWaker` (Carl Lerche's), rewritten
//! on the loom shim.
//!
//! The slot is guarded by a two-bit state word:
//!
//! 1. `register` moves `WAITING -> REGISTERING` (an acquire CAS), writes the waker cell,
//!    then moves `REGISTERING -> WAITING`. Only the thread that won the first CAS touches
//!    the cell, so registration is exclusive.
//! 2. `wake` sets `WAKING` with a `fetch_or`. If the state was `WAITING`, the waker owns the
//!    cell until it clears `WAKING`; it takes the waker out and calls it.
//! 3. If `WAKING` lands while a registration is in progress, the registrant's second CAS
//!    fails; it then takes the waker it just stored, resets the state and calls the waker
//!    itself, so the wake-up is never lost.
//!
//! Users follow "register, then re-check": the registrant's RMWs and the waker's RMW act
//! on one atomic, so either the waker sees the registered waker, or the registrant's CAS
//! reads the waker's store and so sees everything the waker published before waking.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;
use std::task::Waker;

/// Idle: the cell may be registered into or woken.
const WAITING: usize = 0;
/// A `register` call owns the cell.
const REGISTERING: usize = 0b01;
/// A `wake` call owns the cell (or is pending on a registration in progress).
const WAKING: usize = 0b10;

/// A waker slot for one task, woken from any thread.
pub(crate) struct AtomicWaker {
    state: AtomicUsize,
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: the cell is only accessed by whoever owns it through the state protocol above
// (one registrant between REGISTERING transitions, one waker while WAKING), and `Waker` is
// `Send + Sync`, so the slot may be shared and sent across threads.
unsafe impl Send for AtomicWaker {}
// SAFETY: as above; every access to `waker` is serialised by `state`.
unsafe impl Sync for AtomicWaker {}

impl AtomicWaker {
    /// An empty slot.
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(WAITING),
            waker: UnsafeCell::new(None),
        }
    }

    /// Stores `waker` to be woken by the next [`wake`](Self::wake). Only one thread may
    /// register at a time (the owner of the receiving end).
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Acquire, Acquire)
            .unwrap_or_else(|x| x)
        {
            WAITING => {
                // SAFETY: winning WAITING -> REGISTERING gives this thread exclusive access
                // to the cell until it leaves REGISTERING (rule 1).
                self.waker.with_mut(|cell| unsafe {
                    match &*cell {
                        Some(old) if old.will_wake(waker) => {}
                        _ => *cell = Some(waker.clone()),
                    }
                });
                if let Err(actual) =
                    self.state
                        .compare_exchange(REGISTERING, WAITING, AcqRel, Acquire)
                {
                    // A wake arrived meanwhile (rule 3): it left the cell to us.
                    debug_assert_eq!(actual, REGISTERING | WAKING);
                    // SAFETY: the state is still REGISTERING | WAKING, which the concurrent
                    // `wake` saw and backed off from; the cell is still ours.
                    let waker = self.waker.with_mut(|cell| unsafe { (*cell).take() });
                    self.state.swap(WAITING, AcqRel);
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
            }
            WAKING => {
                // A wake is taking the old waker right now: have the task polled again.
                waker.wake_by_ref();
                crate::blocking::spin_hint();
            }
            state => {
                // Concurrent `register` calls break this type's contract; tolerate it.
                debug_assert!(state == REGISTERING || state == REGISTERING | WAKING);
            }
        }
    }

    /// Takes the registered waker, if any, leaving the slot empty.
    pub(crate) fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, AcqRel) {
            WAITING => {
                // SAFETY: setting WAKING on a WAITING state gives this thread exclusive
                // access to the cell until it clears WAKING (rule 2).
                let waker = self.waker.with_mut(|cell| unsafe { (*cell).take() });
                self.state.fetch_and(!WAKING, Release);
                waker
            }
            state => {
                // A registration is in progress (it will wake itself) or another wake owns
                // the cell (it will wake the task).
                debug_assert!(
                    state == REGISTERING || state == REGISTERING | WAKING || state == WAKING
                );
                None
            }
        }
    }

    /// Wakes the registered task, if any.
    pub(crate) fn wake(&self) {
        if let Some(waker) = self.take() {
            waker.wake();
        }
    }
}

impl fmt::Debug for AtomicWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicWaker")
            .field("state", &self.state.load(Relaxed))
            .finish()
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize as Count, Ordering};
    use std::task::Wake;

    struct Counter(Count);
    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn register_then_wake_once() {
        let count = Arc::new(Counter(Count::new(0)));
        let waker = Waker::from(count.clone());
        let slot = AtomicWaker::new();
        slot.wake();
        slot.register(&waker);
        slot.register(&waker);
        slot.wake();
        slot.wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(slot.take().is_none());
    }
}
