//! `Event`: asyncio's `Event` — a flag tasks wait on — as a mutex-guarded flag plus a
//! [`Waiters`] queue.
//!
//! Protocol: `set` raises the flag and releases every queued waiter (a broadcast, marked
//! `NotifiedAll`); `clear` lowers the flag. A waiter released by `set` returns even if
//! `clear` ran before it was polled again — as in asyncio, where `wait()` returns `True`
//! once woken — so no `set` is ever missed by a task that was waiting for it.

use crate::lock;
use crate::loom::sync::Mutex;
use crate::waiters::{Status, Waiters, wake_all};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

struct State {
    set: bool,
    waiters: Waiters,
}

/// A flag tasks can wait on (`asyncio.Event`).
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use std::sync::Arc;
/// use trioxide_sync::Event;
///
/// let ready = Arc::new(Event::new());
/// let waiter = tokio::spawn({
///     let ready = ready.clone();
///     async move { ready.wait().await }
/// });
/// ready.set(); // wakes every waiter, now and later
/// waiter.await.unwrap();
/// assert!(ready.is_set());
/// # });
/// ```
pub struct Event {
    state: Mutex<State>,
}

impl Default for Event {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}

impl Event {
    /// An event, not set.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                set: false,
                waiters: Waiters::new(),
            }),
        }
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        let mut st = lock(&self.state);
        st.set = true;
        let mut wakers = Vec::new();
        st.waiters.notify_all(&mut wakers);
        drop(st);
        wake_all(wakers);
    }

    /// Clears the flag; later `wait` calls block until the next `set`.
    pub fn clear(&self) {
        lock(&self.state).set = false;
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        lock(&self.state).set
    }

    /// Waits until the flag is set (returns at once if it is).
    ///
    /// Cancel-safe: dropping the future has no effect on the event.
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            key: None,
        }
    }
}

/// Future of [`Event::wait`].
#[must_use = "futures do nothing unless polled"]
pub struct EventWait<'a> {
    event: &'a Event,
    key: Option<usize>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut st = lock(&this.event.state);
        let released = this
            .key
            .is_some_and(|k| st.waiters.status(k) == Status::NotifiedAll);
        if released || st.set {
            if let Some(key) = this.key.take() {
                st.waiters.remove(key);
            }
            return Poll::Ready(());
        }
        st.waiters.register(&mut this.key, cx.waker(), ());
        Poll::Pending
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.event.state).waiters.remove(key);
        }
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("registered", &self.key.is_some())
            .finish()
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::blocking::block_on;
    use std::pin::pin;
    use std::task::Waker;

    #[test]
    fn set_clear_wait() {
        let e = Event::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut w = pin!(e.wait());
        assert!(w.as_mut().poll(&mut cx).is_pending());
        e.set();
        e.clear();
        // Released by the `set`, even though the flag is down again.
        assert!(w.as_mut().poll(&mut cx).is_ready());
        assert!(!e.is_set());
        assert!(pin!(e.wait()).poll(&mut cx).is_pending());
        e.set();
        block_on(e.wait());
        assert!(e.is_set());
    }
}
