//! A broadcast channel: every receiver sees every message sent after it subscribed, from a
//! bounded ring; a receiver that falls more than `capacity` messages behind loses the
//! oldest and is told so with [`RecvError::Lagged`] — tokio's `sync::broadcast` semantics.
//!
//! The algorithm: one mutex guards a `VecDeque` ring, the absolute position of its oldest
//! message, and a `Waiters` list. Each receiver keeps the position of the next message
//! it wants. `send` appends (evicting the oldest once full) and wakes every waiting
//! receiver — a broadcast, so a dropped receive future loses nothing. A receiver whose
//! position fell below the ring's oldest jumps to the oldest and reports the gap.

pub use crate::mpsc::SendError;

use crate::lock;
use crate::loom::sync::{Arc, Mutex};
use crate::waiters::{Waiters, wake_all};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Why [`Receiver::recv`] returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// Every sender is gone and this receiver has seen every message.
    #[error("broadcast channel closed")]
    Closed,
    /// This receiver fell behind: that many messages were overwritten before it read
    /// them. The next receive returns the oldest message still buffered.
    #[error("receiver lagged behind by {0} messages")]
    Lagged(u64),
}

/// Why [`Receiver::try_recv`] returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// No new message now.
    #[error("broadcast channel empty")]
    Empty,
    /// Every sender is gone and this receiver has seen every message.
    #[error("broadcast channel closed")]
    Closed,
    /// This receiver fell behind by that many messages (see [`RecvError::Lagged`]).
    #[error("receiver lagged behind by {0} messages")]
    Lagged(u64),
}

struct State<T> {
    buf: VecDeque<T>,
    /// Absolute position of `buf[0]`.
    head: u64,
    senders: usize,
    receivers: usize,
    waiters: Waiters,
}

struct Shared<T> {
    cap: usize,
    state: Mutex<State<T>>,
}

/// A broadcast channel keeping the last `capacity` messages. Panics if `capacity == 0`.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use trioxide_sync::broadcast;
///
/// let (tx, mut alice) = broadcast::channel(16);
/// let mut bob = tx.subscribe();
/// tx.send("hello").unwrap(); // every receiver gets its own copy
/// assert_eq!(alice.recv().await, Ok("hello"));
/// assert_eq!(bob.recv().await, Ok("hello"));
/// drop(tx);
/// assert_eq!(alice.recv().await, Err(broadcast::RecvError::Closed));
/// # });
/// ```
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "broadcast capacity must be positive");
    let shared = Arc::new(Shared {
        cap: capacity,
        state: Mutex::new(State {
            buf: VecDeque::with_capacity(capacity),
            head: 0,
            senders: 1,
            receivers: 1,
            waiters: Waiters::new(),
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, next: 0 },
    )
}

/// The sending half; clone for more senders.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// A receiving half: sees every message sent after it subscribed.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// Absolute position of the next message to return.
    next: u64,
}

impl<T> Sender<T> {
    /// Sends `value` to every receiver; returns how many there are. Fails, giving the
    /// value back, when there is none.
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let mut st = lock(&self.shared.state);
        if st.receivers == 0 {
            return Err(SendError(value));
        }
        let evicted = if st.buf.len() == self.shared.cap {
            st.head += 1;
            st.buf.pop_front()
        } else {
            None
        };
        st.buf.push_back(value);
        let n = st.receivers;
        let mut wakers = Vec::new();
        st.waiters.notify_all(&mut wakers);
        drop(st);
        drop(evicted);
        wake_all(wakers);
        Ok(n)
    }

    /// A new receiver that sees messages sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        let mut st = lock(&self.shared.state);
        st.receivers += 1;
        let next = st.head + st.buf.len() as u64;
        Receiver {
            shared: self.shared.clone(),
            next,
        }
    }

    /// Live receivers.
    pub fn receiver_count(&self) -> usize {
        lock(&self.shared.state).receivers
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        lock(&self.shared.state).senders += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut st = lock(&self.shared.state);
        st.senders -= 1;
        let mut wakers = Vec::new();
        if st.senders == 0 {
            st.waiters.notify_all(&mut wakers);
        }
        drop(st);
        wake_all(wakers);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Sender")
            .field("receivers", &self.receiver_count())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("broadcast::Receiver")
            .field("next", &self.next)
            .finish()
    }
}

impl<T: Clone> Receiver<T> {
    fn take(&mut self, st: &State<T>) -> Result<T, TryRecvError> {
        if self.next < st.head {
            let missed = st.head - self.next;
            self.next = st.head;
            return Err(TryRecvError::Lagged(missed));
        }
        let index = (self.next - st.head) as usize;
        match st.buf.get(index) {
            Some(v) => {
                self.next += 1;
                Ok(v.clone())
            }
            None if st.senders == 0 => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Receives the next message if there is one now.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let shared = self.shared.clone();
        let st = lock(&shared.state);
        self.take(&st)
    }

    /// Waits for the next message.
    ///
    /// Cancel-safe: a message is consumed (for this receiver) only when returned; a send
    /// wakes every receiver, so a dropped future hides nothing from the others.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        Recv {
            rx: self,
            key: None,
        }
        .await
    }

    /// Waits for the next message, blocking the thread.
    pub fn recv_blocking(&mut self) -> Result<T, RecvError> {
        crate::blocking::block_on(self.recv())
    }

    /// A new receiver starting at the newest position (like `Sender::subscribe`).
    pub fn resubscribe(&self) -> Self {
        let mut st = lock(&self.shared.state);
        st.receivers += 1;
        let next = st.head + st.buf.len() as u64;
        Self {
            shared: self.shared.clone(),
            next,
        }
    }

    /// Messages this receiver has not seen yet (lagged ones count up to the buffer).
    pub fn len(&self) -> usize {
        let st = lock(&self.shared.state);
        let end = st.head + st.buf.len() as u64;
        (end - self.next.max(st.head)) as usize
    }

    /// Whether this receiver has seen every buffered message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        lock(&self.shared.state).receivers -= 1;
    }
}

struct Recv<'a, T> {
    rx: &'a mut Receiver<T>,
    key: Option<usize>,
}

impl<T: Clone> Future for Recv<'_, T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let shared = this.rx.shared.clone();
        let mut st = lock(&shared.state);
        let res = match this.rx.take(&st) {
            Ok(v) => Ok(v),
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
            Err(TryRecvError::Empty) => {
                st.waiters.register(&mut this.key, cx.waker(), ());
                return Poll::Pending;
            }
        };
        if let Some(key) = this.key.take() {
            st.waiters.remove(key);
        }
        Poll::Ready(res)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.rx.shared.state).waiters.remove(key);
        }
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::blocking::block_on;

    #[test]
    fn every_receiver_sees_every_message() {
        let (tx, mut a) = channel(4);
        let mut b = tx.subscribe();
        assert_eq!(tx.send(1), Ok(2));
        tx.send(2).unwrap();
        assert_eq!(block_on(a.recv()), Ok(1));
        assert_eq!(a.try_recv(), Ok(2));
        assert_eq!(b.len(), 2);
        assert_eq!(block_on(b.recv()), Ok(1));
        assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
        drop(tx);
        assert_eq!(b.try_recv(), Ok(2));
        assert_eq!(block_on(b.recv()), Err(RecvError::Closed));
    }

    #[test]
    fn lagging_receiver_is_told() {
        let (tx, mut rx) = channel(2);
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        assert_eq!(block_on(rx.recv()), Err(RecvError::Lagged(3)));
        assert_eq!(rx.try_recv(), Ok(3));
        assert_eq!(rx.try_recv(), Ok(4));
        let late = rx.resubscribe();
        assert!(late.is_empty());
        drop((rx, late));
        assert_eq!(tx.send(9), Err(SendError(9)));
    }
}
