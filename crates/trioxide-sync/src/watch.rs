//! A watch channel: one value, many observers, only the latest matters — tokio's
//! `sync::watch` semantics.
//!
//! The algorithm: one mutex guards the value, a version counter and two `Waiters`
//! lists (receivers waiting in `changed`, senders waiting in `closed`). Each receiver
//! remembers the version it last saw; `send` bumps the version and wakes every receiver
//! (a broadcast). `changed` completes when the version differs from the one seen, and
//! marks it seen. Borrowing holds the lock, so keep [`Ref`]s short.

pub use crate::mpsc::SendError;

use crate::lock;
use crate::loom::sync::{Arc, Mutex, MutexGuard};
use crate::waiters::{Waiters, wake_all};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The sender is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("watch sender dropped")]
pub struct RecvError;

struct State<T> {
    value: T,
    version: u64,
    sender_alive: bool,
    receivers: usize,
    rx_waiters: Waiters,
    tx_waiters: Waiters,
}

/// A watch channel holding `init`.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use trioxide_sync::watch;
///
/// let (tx, mut rx) = watch::channel("starting");
/// tx.send("ready").unwrap();
/// rx.changed().await.unwrap(); // a value this receiver has not seen
/// assert_eq!(*rx.borrow_and_update(), "ready");
/// # });
/// ```
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(State {
        value: init,
        version: 0,
        sender_alive: true,
        receivers: 1,
        rx_waiters: Waiters::new(),
        tx_waiters: Waiters::new(),
    }));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

/// Publishes new values.
pub struct Sender<T> {
    shared: Arc<Mutex<State<T>>>,
}

/// Observes the value; clone for more observers.
pub struct Receiver<T> {
    shared: Arc<Mutex<State<T>>>,
    seen: u64,
}

/// A borrow of the current value (holds the channel's lock: keep it short).
pub struct Ref<'a, T> {
    guard: MutexGuard<'a, State<T>>,
    has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// Whether this value was new to the receiver that borrowed it.
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T> Sender<T> {
    /// Publishes `value` and wakes the receivers; gives it back if there are none.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if lock(&self.shared).receivers == 0 {
            return Err(SendError(value));
        }
        drop(self.send_replace(value));
        Ok(())
    }

    /// Publishes `value` whether or not anyone watches; returns the old value.
    pub fn send_replace(&self, value: T) -> T {
        let mut old = value;
        self.send_modify(|v| std::mem::swap(v, &mut old));
        old
    }

    /// Modifies the value in place and wakes the receivers.
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        let mut st = lock(&self.shared);
        modify(&mut st.value);
        st.version += 1;
        let mut wakers = Vec::new();
        st.rx_waiters.notify_all(&mut wakers);
        drop(st);
        wake_all(wakers);
    }

    /// Borrows the current value.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: lock(&self.shared),
            has_changed: false,
        }
    }

    /// A new receiver; the current value counts as seen.
    pub fn subscribe(&self) -> Receiver<T> {
        let mut st = lock(&self.shared);
        st.receivers += 1;
        Receiver {
            shared: self.shared.clone(),
            seen: st.version,
        }
    }

    /// Live receivers.
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared).receivers
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.receiver_count() == 0
    }

    /// Waits until every receiver is gone. Cancel-safe.
    pub async fn closed(&self) {
        let mut key = None;
        std::future::poll_fn(|cx| {
            let mut st = lock(&self.shared);
            if st.receivers == 0 {
                if let Some(k) = key.take() {
                    st.tx_waiters.remove(k);
                }
                return Poll::Ready(());
            }
            st.tx_waiters.register(&mut key, cx.waker(), ());
            Poll::Pending
        })
        .await;
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut st = lock(&self.shared);
        st.sender_alive = false;
        let mut wakers = Vec::new();
        st.rx_waiters.notify_all(&mut wakers);
        drop(st);
        wake_all(wakers);
    }
}

impl<T> Receiver<T> {
    /// Borrows the current value without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        let guard = lock(&self.shared);
        let has_changed = guard.version != self.seen;
        Ref { guard, has_changed }
    }

    /// Borrows the current value and marks it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = lock(&self.shared);
        let has_changed = guard.version != self.seen;
        self.seen = guard.version;
        Ref { guard, has_changed }
    }

    /// Whether a value not yet seen is there; errors once the sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        let st = lock(&self.shared);
        if !st.sender_alive {
            return Err(RecvError);
        }
        Ok(st.version != self.seen)
    }

    /// Waits for a value not yet seen and marks it seen; errors once the sender is gone
    /// and the newest value has been seen.
    ///
    /// Cancel-safe: nothing is marked seen unless the future completes.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        Changed {
            rx: self,
            key: None,
        }
        .await
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        lock(&self.shared).receivers += 1;
        Self {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut st = lock(&self.shared);
        st.receivers -= 1;
        let mut wakers = Vec::new();
        if st.receivers == 0 {
            st.tx_waiters.notify_all(&mut wakers);
        }
        drop(st);
        wake_all(wakers);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

struct Changed<'a, T> {
    rx: &'a mut Receiver<T>,
    key: Option<usize>,
}

impl<T> Future for Changed<'_, T> {
    type Output = Result<(), RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = this.rx.shared.clone();
        let mut st = lock(&shared);
        let res = if st.version != this.rx.seen {
            this.rx.seen = st.version;
            Ok(())
        } else if !st.sender_alive {
            Err(RecvError)
        } else {
            st.rx_waiters.register(&mut this.key, cx.waker(), ());
            return Poll::Pending;
        };
        if let Some(key) = this.key.take() {
            st.rx_waiters.remove(key);
        }
        Poll::Ready(res)
    }
}

impl<T> Drop for Changed<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.rx.shared).rx_waiters.remove(key);
        }
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::blocking::block_on;
    use std::pin::pin;
    use std::task::Waker;

    #[test]
    fn latest_value_and_changed() {
        let (tx, mut rx) = channel(0);
        assert_eq!(*rx.borrow(), 0);
        assert_eq!(rx.has_changed(), Ok(false));
        let mut cx = Context::from_waker(Waker::noop());
        {
            let mut changed = pin!(rx.changed());
            assert!(changed.as_mut().poll(&mut cx).is_pending());
            tx.send(1).unwrap();
            tx.send(2).unwrap();
            assert_eq!(changed.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
        }
        assert_eq!(*rx.borrow(), 2);
        let rx2 = tx.subscribe();
        assert!(!rx2.borrow().has_changed());
        tx.send_modify(|v| *v += 1);
        assert!(rx.borrow_and_update().has_changed());
        assert_eq!(rx.has_changed(), Ok(false));
        drop(tx);
        assert_eq!(block_on(rx.changed()), Err(RecvError));
    }

    #[test]
    fn send_without_receivers_and_closed() {
        let (tx, rx) = channel("a");
        let rx2 = rx.clone();
        drop(rx);
        assert!(!tx.is_closed());
        drop(rx2);
        block_on(tx.closed());
        assert_eq!(tx.send("b"), Err(SendError("b")));
        assert_eq!(tx.send_replace("c"), "a");
        assert_eq!(*tx.borrow(), "c");
    }
}
