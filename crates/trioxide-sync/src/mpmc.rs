//! Multi-producer, multi-consumer channels in the style of `async-channel`: both halves
//! clone. The queues are the same lock-free flavours as [`mpsc`](crate::mpsc) — the Vyukov
//! ring and the block list are MPMC algorithms already — and only the waiting differs:
//!
//! 1. Receivers wait in a `WaitList` (FIFO) instead of a single `AtomicWaker`; each
//!    successful push wakes the oldest waiting receiver, each successful pop the oldest
//!    waiting sender. Both sides "register, then re-check".
//! 2. A receiver (or sender) woken and then dropped before it used its turn passes the
//!    wake-up on, so a cancelled `recv` never strands a message.
//! 3. The last sender's drop, the last receiver's drop and `close` mark the queue closed
//!    and wake every waiter on both sides. The last receiver drops what is left.

use crate::blocking::block_on;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*};
use crate::mpsc::{
    Flavor, PopError, PushError, SendError, TryRecvError, TrySendError, WaitingSend,
};
use crate::waiters::WaitList;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

struct Chan<T> {
    flavor: Flavor<T>,
    senders: AtomicUsize,
    receivers: AtomicUsize,
    recv_waiters: WaitList,
    send_waiters: WaitList,
}

impl<T> Chan<T> {
    fn push(&self, msg: T) -> Result<(), PushError<T>> {
        // Push, then look for waiting receivers right after the claiming `SeqCst` CAS
        // (`array.rs` rule 5, `list.rs` rule 6): a `SeqCst` load, no fence.
        let queued = self
            .flavor
            .push_with(msg, || self.recv_waiters.any_queued_after_seqcst_rmw())?;
        if queued {
            self.recv_waiters.notify_queued();
        }
        Ok(())
    }

    fn pop(&self) -> Result<T, PopError> {
        match &self.flavor {
            Flavor::Array(a) => {
                // Free a slot, then look for blocked senders, right after the claim.
                let (msg, queued) =
                    a.pop_with(|| self.send_waiters.any_queued_after_seqcst_rmw())?;
                if queued {
                    self.send_waiters.notify_queued();
                }
                Ok(msg)
            }
            // Unbounded: no sender ever waits.
            Flavor::List(l) => l.pop(),
        }
    }

    fn close(&self) -> bool {
        let first = self.flavor.close();
        self.send_waiters.notify_all();
        self.recv_waiters.notify_all();
        first
    }
}

fn new_chan<T>(flavor: Flavor<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        flavor,
        senders: AtomicUsize::new(1),
        receivers: AtomicUsize::new(1),
        recv_waiters: WaitList::new(),
        send_waiters: WaitList::new(),
    });
    (
        Sender { chan: chan.clone() },
        Receiver {
            chan,
            stream_key: None,
        },
    )
}

/// A bounded MPMC channel of capacity `cap` (panics if `cap == 0`).
pub fn channel<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    new_chan(Flavor::bounded(cap))
}

/// An unbounded MPMC channel.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new_chan(Flavor::unbounded())
}

/// The sending half; clone for more producers.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half; clone for more consumers (each message goes to one of them).
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// The waiter slot of the `Stream` impl.
    stream_key: Option<usize>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Relaxed);
        Self {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.receivers.fetch_add(1, Relaxed);
        Self {
            chan: self.chan.clone(),
            stream_key: None,
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.chan.senders.fetch_sub(1, AcqRel) == 1 {
            self.chan.close();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Some(key) = self.stream_key.take() {
            self.chan.recv_waiters.remove_and_pass_on(key);
        }
        if self.chan.receivers.fetch_sub(1, AcqRel) == 1 {
            self.chan.close();
            while self.chan.flavor.pop().is_ok() {}
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpmc::Sender")
            .field("len", &self.len())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpmc::Receiver")
            .field("len", &self.len())
            .finish()
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while a bounded channel is full.
    ///
    /// Cancel-safe in the tokio sense: a dropped future did not send its value (it is
    /// dropped with it) and passes on any wake-up it had received.
    pub fn send(&self, value: T) -> Send<'_, T> {
        Send {
            chan: &self.chan,
            send: WaitingSend::new(value),
        }
    }

    /// Sends `value` if there is room now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.push(value).map_err(|e| match e {
            PushError::Full(v) => TrySendError::Full(v),
            PushError::Closed(v) => TrySendError::Closed(v),
        })
    }

    /// Sends `value`, blocking the thread while the channel is full.
    pub fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        block_on(self.send(value))
    }

    /// Closes the channel for everyone; returns whether this call closed it.
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed.
    pub fn is_closed(&self) -> bool {
        self.chan.flavor.is_closed()
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.chan.flavor.len()
    }

    /// Whether no message is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound; `None` when unbounded.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.flavor.capacity()
    }
}

impl<T> Receiver<T> {
    /// Receives a message, waiting for one; `None` once closed and drained.
    ///
    /// Cancel-safe: a message is taken only when returned, and a dropped future that had
    /// been woken passes the wake-up to the next receiver.
    pub fn recv(&self) -> Recv<'_, T> {
        Recv {
            chan: &self.chan,
            key: None,
        }
    }

    /// Receives a message if one is queued now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.pop().map_err(|e| match e {
            PopError::Empty => TryRecvError::Empty,
            PopError::Closed => TryRecvError::Disconnected,
        })
    }

    /// Receives a message, blocking the thread.
    pub fn recv_blocking(&self) -> Option<T> {
        block_on(self.recv())
    }

    /// Closes the channel for everyone; returns whether this call closed it.
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel is closed.
    pub fn is_closed(&self) -> bool {
        self.chan.flavor.is_closed()
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.chan.flavor.len()
    }

    /// Whether no message is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound; `None` when unbounded.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.flavor.capacity()
    }
}

/// One receive attempt with the waiter slot `key` (shared by [`Recv`] and the `Stream`).
fn poll_recv<T>(chan: &Chan<T>, key: &mut Option<usize>, cx: &mut Context<'_>) -> Poll<Option<T>> {
    let mut registered = false;
    loop {
        match chan.pop() {
            Ok(v) => {
                if let Some(k) = key.take() {
                    chan.recv_waiters.remove(k);
                }
                return Poll::Ready(Some(v));
            }
            Err(PopError::Closed) => {
                if let Some(k) = key.take() {
                    chan.recv_waiters.remove(k);
                }
                return Poll::Ready(None);
            }
            Err(PopError::Empty) if !registered => {
                chan.recv_waiters.register(key, cx.waker());
                registered = true;
            }
            Err(PopError::Empty) => return Poll::Pending,
        }
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        poll_recv(&this.chan, &mut this.stream_key, cx)
    }
}

/// Future of [`Sender::send`].
#[must_use = "futures do nothing unless polled"]
pub struct Send<'a, T> {
    chan: &'a Chan<T>,
    send: WaitingSend<T>,
}

impl<T> Unpin for Send<'_, T> {}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let chan = this.chan;
        this.send.poll(|v| chan.push(v), &chan.send_waiters, cx)
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        self.send.cancel(&self.chan.send_waiters);
    }
}

/// Future of [`Receiver::recv`].
#[must_use = "futures do nothing unless polled"]
pub struct Recv<'a, T> {
    chan: &'a Chan<T>,
    key: Option<usize>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        poll_recv(this.chan, &mut this.key, cx)
    }
}

impl<T> Drop for Recv<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.chan.recv_waiters.remove_and_pass_on(key);
        }
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::Waker;

    #[test]
    fn cloned_receivers_share_messages() {
        let (tx, rx) = channel(4);
        let rx2 = rx.clone();
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(rx2.try_recv(), Ok(1));
        assert_eq!(rx.recv_blocking(), Some(2));
        drop(tx);
        assert_eq!(rx.recv_blocking(), None);
        assert_eq!(rx2.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn woken_then_dropped_receiver_passes_on() {
        let (tx, rx) = unbounded();
        let mut cx = Context::from_waker(Waker::noop());
        let mut a = Box::pin(rx.recv());
        let mut b = pin!(rx.recv());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        tx.try_send(9).unwrap();
        drop(a);
        assert_eq!(b.as_mut().poll(&mut cx), Poll::Ready(Some(9)));
    }

    #[test]
    fn last_receiver_drop_closes() {
        let (tx, rx) = channel(1);
        let rx2 = rx.clone();
        drop(rx);
        tx.try_send(1).unwrap();
        drop(rx2);
        assert!(tx.is_closed());
        assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)));
    }
}
