//! `Notify`: wake one task or all of them, with a stored permit — tokio's `sync::Notify`
//! semantics, implemented as a mutex-guarded [`Waiters`] FIFO instead of tokio's
//! intrusive list.
//!
//! Protocol (all under the lock):
//!
//! 1. `notify_one` pops the oldest waiter and marks it notified; with nobody waiting it
//!    stores one permit (permits do not accumulate), which the next `notified()` consumes.
//! 2. `notify_waiters` bumps a generation counter and releases every queued waiter; it
//!    stores no permit. A [`Notified`] future records the generation when it is *created*,
//!    so one created before `notify_waiters` completes even if it was never polled.
//! 3. A future woken by `notify_one` and dropped before it returned passes the
//!    notification on (to the next waiter, or back into the permit).

use crate::lock;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use crate::waiters::{Status, Waiters, wake_all};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

struct State {
    permit: bool,
    waiters: Waiters,
}

/// Notifies tasks waiting in [`notified`](Notify::notified).
pub struct Notify {
    state: Mutex<State>,
    /// `notify_waiters` calls so far; written under the lock (rule 2).
    generation: AtomicUsize,
}

impl Default for Notify {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Notify")
            .field("permit", &st.permit)
            .field("waiting", &st.waiters.len())
            .finish()
    }
}

impl Notify {
    /// A `Notify` with no permit and no waiter.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                permit: false,
                waiters: Waiters::new(),
            }),
            generation: AtomicUsize::new(0),
        }
    }

    /// Wakes the oldest waiter, or stores a permit for the next one (rule 1).
    pub fn notify_one(&self) {
        let waker = Self::notify_one_locked(&mut lock(&self.state));
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn notify_one_locked(st: &mut State) -> Option<Waker> {
        let waker = st.waiters.notify_one();
        if waker.is_none() {
            st.permit = true;
        }
        waker
    }

    /// Wakes every task waiting now, and every [`Notified`] future created before this
    /// call; stores no permit (rule 2).
    pub fn notify_waiters(&self) {
        let mut st = lock(&self.state);
        self.generation.fetch_add(1, SeqCst);
        let mut wakers = Vec::new();
        st.waiters.notify_all(&mut wakers);
        drop(st);
        wake_all(wakers);
    }

    /// A future that completes on the next notification.
    ///
    /// Cancel-safe: a notification it received from `notify_one` but did not return passes
    /// to the next waiter (or back into the permit) when the future is dropped.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            generation: self.generation.load(SeqCst),
            key: None,
            done: false,
        }
    }
}

/// Future of [`Notify::notified`].
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    notify: &'a Notify,
    generation: usize,
    key: Option<usize>,
    done: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(());
        }
        let mut st = lock(&this.notify.state);
        let woken = match this.key {
            Some(key) => st.waiters.status(key) != Status::Waiting,
            None => false,
        };
        let ready = woken
            || this.notify.generation.load(SeqCst) != this.generation
            || std::mem::take(&mut st.permit);
        if ready {
            if let Some(key) = this.key.take() {
                st.waiters.remove(key);
            }
            this.done = true;
            return Poll::Ready(());
        }
        st.waiters.register(&mut this.key, cx.waker(), ());
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut st = lock(&self.notify.state);
        let (status, ()) = st.waiters.remove(key);
        let waker = if status == Status::Notified {
            Notify::notify_one_locked(&mut st)
        } else {
            None
        };
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notified")
            .field("registered", &self.key.is_some())
            .finish()
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use std::pin::pin;

    fn poll(f: Pin<&mut Notified<'_>>) -> Poll<()> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn permit_is_stored_once() {
        let n = Notify::new();
        n.notify_one();
        n.notify_one();
        assert!(poll(pin!(n.notified())).is_ready());
        assert!(poll(pin!(n.notified())).is_pending());
    }

    #[test]
    fn notify_one_is_fifo_and_passed_on_drop() {
        let n = Notify::new();
        let mut a = Box::pin(n.notified());
        let mut b = pin!(n.notified());
        assert!(poll(a.as_mut()).is_pending());
        assert!(poll(b.as_mut()).is_pending());
        n.notify_one();
        drop(a); // woken, never returned: the notification moves to `b`
        assert!(poll(b.as_mut()).is_ready());
        assert!(!lock(&n.state).permit);
    }

    #[test]
    fn notify_waiters_reaches_created_futures_only() {
        let n = Notify::new();
        let mut polled = pin!(n.notified());
        assert!(poll(polled.as_mut()).is_pending());
        let mut unpolled = pin!(n.notified());
        n.notify_waiters();
        let mut later = pin!(n.notified());
        assert!(poll(polled.as_mut()).is_ready());
        assert!(poll(unpolled.as_mut()).is_ready());
        assert!(poll(later.as_mut()).is_pending());
    }
}
