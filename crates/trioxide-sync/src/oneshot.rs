//! A one-shot channel: one value from one [`Sender`] to one [`Receiver`], lock-free.
//!
//! The algorithm is tokio's `sync::oneshot` reduced to three state bits over one atomic
//! word, with the value in an `UnsafeCell` and a futures-style `AtomicWaker` per side:
//!
//! 1. `VALUE_SENT` — the value is in the cell and belongs to the receiver. Only the sender
//!    sets it, with a CAS that fails if `RX_CLOSED` is already set; so "value sent" and
//!    "receiver closed first" are mutually exclusive and the value has one owner.
//! 2. The sender writes the cell *before* its CAS (release); the receiver reads it only
//!    *after* observing `VALUE_SENT` (acquire). If the CAS sees `RX_CLOSED` instead, the
//!    sender still owns the cell and takes the value back (`send` returns `Err(value)`).
//! 3. `RX_CLOSED` — the receiver dropped or called `close`; set by `fetch_or`, then the
//!    sender's `closed()` waker is woken.
//! 4. `TX_DROPPED` — the sender went away without sending; set by `fetch_or`, then the
//!    receiver is woken and completes with [`RecvError`].
//! 5. `RX_WAITING` — the receiver registered a waker; set by `fetch_or` *after* the
//!    registration. The sender wakes the receiver (rules 1 and 4) only if its own RMW on
//!    the state saw this bit. Both are RMWs on one word, so either the sender's RMW sees
//!    the bit, or the receiver's `fetch_or` comes later and its re-check sees the value
//!    or the drop. A value sent before the receiver polls so costs no waker traffic.
//!
//! A value the receiver never takes is dropped with the shared cell, when the last of the
//! two handles goes.

use crate::atomic_waker::AtomicWaker;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The value is in the cell and belongs to the receiver (rule 1).
const VALUE_SENT: usize = 0b001;
/// The receiver closed or dropped (rule 3).
const RX_CLOSED: usize = 0b010;
/// The sender dropped without sending (rule 4).
const TX_DROPPED: usize = 0b100;
/// The receiver has registered its waker (rule 5).
const RX_WAITING: usize = 0b1000;

/// The sender went away without sending a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("oneshot sender dropped without sending")]
pub struct RecvError;

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// No value yet; the sender is still there.
    #[error("no value sent yet")]
    Empty,
    /// No value will come: the sender is gone, the receiver closed, or the value was
    /// already received.
    #[error("oneshot channel closed")]
    Closed,
}

struct Inner<T> {
    state: AtomicUsize,
    value: UnsafeCell<Option<T>>,
    rx_waker: AtomicWaker,
    tx_waker: AtomicWaker,
}

// SAFETY: the cell is accessed by one side at a time as rules 1–2 order it, so sharing
// `Inner` only ever moves a `T` between threads: `T: Send` suffices.
unsafe impl<T: Send> Sync for Inner<T> {}

/// Sends the value; consumed by [`send`](Sender::send).
pub struct Sender<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// Receives the value; a future resolving to `Result<T, RecvError>`.
pub struct Receiver<T> {
    inner: Option<Arc<Inner<T>>>,
}

/// A new one-shot channel.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use trioxide_sync::oneshot;
///
/// let (tx, rx) = oneshot::channel();
/// tokio::spawn(async move { tx.send("reply").unwrap() });
/// assert_eq!(rx.await, Ok("reply"));
/// # });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicUsize::new(0),
        value: UnsafeCell::new(None),
        rx_waker: AtomicWaker::new(),
        tx_waker: AtomicWaker::new(),
    });
    (
        Sender {
            inner: Some(inner.clone()),
        },
        Receiver { inner: Some(inner) },
    )
}

impl<T> Sender<T> {
    /// Sends `value`; gives it back if the receiver is gone or closed.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self.inner.take().expect("sender used after send");
        // SAFETY: VALUE_SENT is not set, so the receiver does not touch the cell (rule 2)
        // and this sender, the only one, owns it.
        inner.value.with_mut(|cell| unsafe { *cell = Some(value) });
        let mut state = inner.state.load(Acquire);
        loop {
            if state & RX_CLOSED != 0 {
                // SAFETY: our CAS never succeeded, so the cell is still ours (rule 2).
                let value = inner.value.with_mut(|cell| unsafe { (*cell).take() });
                return Err(value.expect("value written above"));
            }
            match inner
                .state
                .compare_exchange(state, state | VALUE_SENT, AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        if state & RX_WAITING != 0 {
            inner.rx_waker.wake();
        }
        Ok(())
    }

    /// Whether the receiver closed or dropped (a send would fail).
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|i| i.state.load(Acquire) & RX_CLOSED != 0)
    }

    /// Polls for the receiver closing (the engine of [`closed`](Self::closed)).
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(inner) = &self.inner else {
            return Poll::Ready(());
        };
        if inner.state.load(Acquire) & RX_CLOSED != 0 {
            return Poll::Ready(());
        }
        inner.tx_waker.register(cx.waker());
        if inner.state.load(Acquire) & RX_CLOSED != 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Waits until the receiver closes or drops — to stop work nobody awaits.
    ///
    /// Cancel-safe: dropping the future has no effect.
    pub async fn closed(&mut self) {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await;
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && inner.state.fetch_or(TX_DROPPED, AcqRel) & RX_WAITING != 0
        {
            inner.rx_waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Reads the state: the value if sent, an error if none can come, else `None`.
    fn check(&mut self) -> Option<Result<T, TryRecvError>> {
        let Some(inner) = &self.inner else {
            return Some(Err(TryRecvError::Closed));
        };
        let state = inner.state.load(Acquire);
        if state & VALUE_SENT != 0 {
            // SAFETY: VALUE_SENT (acquired) hands the cell to the receiver (rule 2); the
            // sender is done with it.
            let value = inner.value.with_mut(|cell| unsafe { (*cell).take() });
            self.inner = None;
            return Some(value.ok_or(TryRecvError::Closed));
        }
        if state & (TX_DROPPED | RX_CLOSED) != 0 {
            self.inner = None;
            return Some(Err(TryRecvError::Closed));
        }
        None
    }

    /// Takes the value if it has been sent.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.check().unwrap_or(Err(TryRecvError::Empty))
    }

    /// Closes the channel: a later `send` fails. A value sent before still arrives.
    pub fn close(&mut self) {
        if let Some(inner) = &self.inner {
            inner.state.fetch_or(RX_CLOSED, AcqRel);
            inner.tx_waker.wake();
        }
    }

    /// Waits for the value, blocking the thread. Do not call it from async code.
    pub fn recv_blocking(self) -> Result<T, RecvError> {
        crate::blocking::block_on(self)
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.state.fetch_or(RX_CLOSED, AcqRel);
            inner.tx_waker.wake();
        }
    }
}

/// Cancel-safe: the value is taken only when the poll returns it; a dropped receiver
/// closes the channel (the sender's `send` then fails, or the value is dropped).
impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(res) = this.check() {
            return Poll::Ready(res.map_err(|_| RecvError));
        }
        if let Some(inner) = &this.inner {
            // Register, announce it (rule 5), then re-check.
            inner.rx_waker.register(cx.waker());
            inner.state.fetch_or(RX_WAITING, AcqRel);
        }
        match this.check() {
            Some(res) => Poll::Ready(res.map_err(|_| RecvError)),
            None => Poll::Pending,
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver")
            .field("done", &self.inner.is_none())
            .finish()
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::blocking::block_on;
    use std::task::Waker;

    #[test]
    fn send_then_recv() {
        let (tx, rx) = channel();
        assert!(!tx.is_closed());
        tx.send(5).unwrap();
        assert_eq!(block_on(rx), Ok(5));
    }

    #[test]
    fn recv_waits_then_sender_dropped() {
        let (tx, mut rx) = channel::<i32>();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut rx).poll(&mut cx).is_pending());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(tx);
        assert_eq!(Pin::new(&mut rx).poll(&mut cx), Poll::Ready(Err(RecvError)));
    }

    #[test]
    fn send_to_closed_gives_value_back() {
        let (mut tx, mut rx) = channel();
        rx.close();
        assert!(tx.is_closed());
        block_on(tx.closed());
        assert_eq!(tx.send(3), Err(3));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        let (tx, rx) = channel();
        drop(rx);
        assert_eq!(tx.send(4), Err(4));
    }

    #[test]
    fn value_sent_before_close_is_kept() {
        let (tx, mut rx) = channel();
        tx.send(String::from("kept")).unwrap();
        rx.close();
        assert_eq!(rx.try_recv().as_deref(), Ok("kept"));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        let counter = std::sync::Arc::new(());
        let (tx, rx) = channel();
        tx.send(counter.clone()).unwrap();
        drop(rx);
        assert_eq!(std::sync::Arc::strong_count(&counter), 1);
    }
}
