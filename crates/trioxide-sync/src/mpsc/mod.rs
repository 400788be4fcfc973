//! Multi-producer, single-consumer channels: [`channel`] (bounded, a lock-free Vyukov
//! ring, see `array.rs`) and [`unbounded`] (a lock-free linked list of blocks, see
//! `list.rs`), behind one [`Sender`] / [`Receiver`] pair — crossbeam-channel's "flavours
//! behind an enum" layout.
//!
//! Waking follows "register, then re-check" on both sides:
//!
//! 1. The one receiver parks its waker in an `AtomicWaker`, then raises the
//!    `rx_waiting` flag (release) and issues a `SeqCst` fence; a sender, after a
//!    successful push, reads the flag ordered after its push (a `SeqCst` load right
//!    after the queue's `SeqCst` claiming CAS) and wakes the receiver only if it sees
//!    the flag. This orders "raise the flag, then re-check the queue" against "push,
//!    then read the flag": either the sender sees the flag, or the receiver's re-check
//!    sees the message (the store-buffering pattern, as crossbeam-channel's
//!    `SyncWaker::is_empty`). So a push costs one load (a plain `mov` on x86) of a line
//!    the senders only read — not a fence, nor two RMWs on a line all of them write.
//!    The receiver lowers the flag when it gets a message; the first sender to see it
//!    raised lowers it too (a swap that acquires the raise, and with it the
//!    registration made before), as it wakes the receiver, so a burst of sends into a
//!    waiting channel wakes once, and wakes the waker registered for that wait.
//! 2. Senders blocked on a full ring wait in a `WaitList` (a slab FIFO under a mutex,
//!    with a lock-free "anyone waiting?" count); every successful pop wakes the oldest.
//!    A sender woken then dropped passes its wake-up on.
//! 3. Closing — [`Receiver::close`], dropping the receiver, dropping the last sender —
//!    marks the queue closed (a bit on its tail) and then wakes every waiter, who re-check
//!    and see the mark.
//!
//! Messages still queued when the receiver goes are dropped by the receiver's `Drop`.

pub(crate) mod array;
pub(crate) mod list;
mod send;

use crate::atomic_waker::AtomicWaker;
use crate::blocking::{Backoff, CachePadded, block_on};
use crate::loom::load_after_seqcst_rmw;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*, fence};
use crate::waiters::WaitList;
pub(crate) use send::WaitingSend;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The receiver is gone or closed the channel; the value comes back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sending on a closed channel")]
pub struct SendError<T>(pub T);

/// Why [`Sender::try_send`] gave the value back.
#[derive(Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    /// The channel is at capacity.
    #[error("sending on a full channel")]
    Full(T),
    /// The receiver is gone or closed the channel.
    #[error("sending on a closed channel")]
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(v) | Self::Closed(v) => v,
        }
    }
}

/// Why [`Receiver::try_recv`] returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    /// No message now; senders remain.
    #[error("receiving on an empty channel")]
    Empty,
    /// No message, and none will come: every sender is gone, or the channel was closed.
    #[error("receiving on an empty and disconnected channel")]
    Disconnected,
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// A flavour's push failure.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError<T> {
    Full(T),
    Closed(T),
}

/// A flavour's pop failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PopError {
    Empty,
    Closed,
}

/// The two queue flavours (shared with [`mpmc`](crate::mpmc)).
pub(crate) enum Flavor<T> {
    Array(array::Array<T>),
    List(list::List<T>),
}

impl<T> Flavor<T> {
    pub(crate) fn bounded(cap: usize) -> Self {
        Self::Array(array::Array::new(cap))
    }

    pub(crate) fn unbounded() -> Self {
        Self::List(list::List::new())
    }

    /// Pushes `msg`, running `claimed` right after the claiming `SeqCst` CAS, before the
    /// message is written (`array.rs` rule 5, `list.rs` rule 6): where a channel looks
    /// for waiting receivers; returns what `claimed` returned.
    pub(crate) fn push_with<R>(
        &self,
        msg: T,
        claimed: impl FnOnce() -> R,
    ) -> Result<R, PushError<T>> {
        match self {
            Self::Array(a) => a.push_with(msg, claimed),
            Self::List(l) => l.push_with(msg, claimed),
        }
    }

    pub(crate) fn pop(&self) -> Result<T, PopError> {
        match self {
            Self::Array(a) => a.pop(),
            Self::List(l) => l.pop(),
        }
    }

    /// Marks the queue closed; returns whether this call did it.
    pub(crate) fn close(&self) -> bool {
        match self {
            Self::Array(a) => a.close(),
            Self::List(l) => l.close(),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Self::Array(a) => a.is_closed(),
            Self::List(l) => l.is_closed(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Array(a) => a.len(),
            Self::List(l) => l.len(),
        }
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        match self {
            Self::Array(a) => Some(a.capacity()),
            Self::List(_) => None,
        }
    }
}

/// State shared by every handle of one channel.
struct Chan<T> {
    flavor: Flavor<T>,
    /// Live `Sender`s.
    senders: AtomicUsize,
    /// The receiver's waker (rule 1). Every push writes its state word, so it has a
    /// cache line of its own: sharing one with the ring's read-mostly fields (`cap`,
    /// `buffer`, …) would make every message bounce that line between the cores.
    rx_waker: CachePadded<AtomicWaker>,
    /// The receiver is (about to be) waiting for a message (rule 1). Read by every push,
    /// so it has its own line too.
    rx_waiting: CachePadded<AtomicBool>,
    /// Senders blocked on a full ring (rule 2); padded for the same reason (every pop
    /// touches its count).
    send_waiters: CachePadded<WaitList>,
    /// Tasks in [`Sender::closed`].
    closed_waiters: WaitList,
}

impl<T> Chan<T> {
    fn push(&self, msg: T) -> Result<(), PushError<T>> {
        // Push, then read the flag (rule 1), right after the claim, which is what the
        // receiver's re-check sees (`array.rs` rule 5, `list.rs` rule 6). The claim is a
        // `SeqCst` CAS, so a `SeqCst` load orders the read after it and no fence is
        // needed (`load_after_seqcst_rmw`).
        let waiting = self
            .flavor
            .push_with(msg, || load_after_seqcst_rmw(|o| self.rx_waiting.load(o)))?;
        // The first sender to see the flag lowers it and wakes the receiver; the rest
        // need not (the woken receiver re-raises it before it waits again).
        // Acquire: see the registration that came before the raise we lower.
        if waiting && self.rx_waiting.swap(false, Acquire) {
            self.rx_waker.wake();
        }
        Ok(())
    }

    fn pop(&self) -> Result<T, PopError> {
        match &self.flavor {
            Flavor::Array(a) => {
                // Free a slot, then look for blocked senders (rule 2), right after the
                // claiming `SeqCst` CAS (`array.rs` rule 5), so without a fence.
                let (msg, queued) =
                    a.pop_with(|| self.send_waiters.any_queued_after_seqcst_rmw())?;
                if queued {
                    self.send_waiters.notify_queued();
                }
                Ok(msg)
            }
            Flavor::List(l) => l.pop(),
        }
    }

    /// Closes the queue and wakes everyone (rule 3).
    fn close(&self) {
        self.flavor.close();
        self.send_waiters.notify_all();
        self.closed_waiters.notify_all();
        self.rx_waker.wake();
    }

    fn is_closed(&self) -> bool {
        self.flavor.is_closed()
    }

    /// The receiver got a message: it is not waiting (rule 1). Only the receiver writes
    /// the flag, so a load first keeps the line shared while it is already down.
    fn rx_not_waiting(&self) {
        if self.rx_waiting.load(Relaxed) {
            self.rx_waiting.store(false, Relaxed);
        }
    }

    fn len(&self) -> usize {
        self.flavor.len()
    }

    fn capacity(&self) -> Option<usize> {
        self.flavor.capacity()
    }
}

fn new_chan<T>(flavor: Flavor<T>) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        flavor,
        senders: AtomicUsize::new(1),
        rx_waker: CachePadded(AtomicWaker::new()),
        rx_waiting: CachePadded(AtomicBool::new(false)),
        send_waiters: CachePadded(WaitList::new()),
        closed_waiters: WaitList::new(),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// A bounded channel holding at most `cap` messages; senders wait while it is full.
///
/// Panics if `cap == 0` (there are no rendezvous channels).
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use trioxide_sync::mpsc;
///
/// let (tx, mut rx) = mpsc::channel(2);
/// let producer = tokio::spawn(async move {
///     for i in 0..5 {
///         tx.send(i).await.unwrap(); // waits while 2 are queued: back-pressure
///     }
/// }); // dropping the last sender closes the channel
/// let mut got = Vec::new();
/// while let Some(i) = rx.recv().await {
///     got.push(i);
/// }
/// assert_eq!(got, [0, 1, 2, 3, 4]);
/// producer.await.unwrap();
/// # });
/// ```
pub fn channel<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    new_chan(Flavor::bounded(cap))
}

/// An unbounded channel: sending never waits.
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    new_chan(Flavor::unbounded())
}

/// The sending half; clone it for more producers.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
}

/// The receiving half (one per channel). Also a [`Stream`](futures_core::Stream).
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.senders.fetch_add(1, Relaxed);
        Self {
            chan: self.chan.clone(),
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

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.chan.len())
            .field("capacity", &self.chan.capacity())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.chan.len())
            .field("capacity", &self.chan.capacity())
            .finish()
    }
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while a bounded channel is full.
    ///
    /// Cancel-safe in the tokio sense: if the future is dropped before completing, the
    /// value was not sent (it is dropped with the future), and a wake-up the future had
    /// received passes to the next waiting sender.
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

    /// Sends `value`, blocking the thread while a bounded channel is full. Do not call it
    /// from async code.
    pub fn send_blocking(&self, value: T) -> Result<(), SendError<T>> {
        // Retry with back-off before registering as a waiter: room is usually a few
        // hundred nanoseconds away, and waiting costs a lock and a park (crossbeam-channel
        // does the same). Under loom the back-off is complete at once: one try.
        let mut value = value;
        let mut backoff = Backoff::new();
        loop {
            match self.chan.push(value) {
                Ok(()) => return Ok(()),
                Err(PushError::Closed(v)) => return Err(SendError(v)),
                Err(PushError::Full(v)) => value = v,
            }
            if backoff.is_completed() {
                break;
            }
            backoff.snooze();
        }
        block_on(self.send(value))
    }

    /// Whether the receiver closed the channel or is gone.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Waits until the receiver closes the channel or is dropped — to stop producing
    /// for nobody (e.g. in a `select` next to the work).
    ///
    /// Cancel-safe: dropping the future has no effect on the channel.
    pub async fn closed(&self) {
        struct Registration<'a>(&'a WaitList, Option<usize>);
        impl Drop for Registration<'_> {
            fn drop(&mut self) {
                if let Some(key) = self.1.take() {
                    self.0.remove(key);
                }
            }
        }
        let mut reg = Registration(&self.chan.closed_waiters, None);
        std::future::poll_fn(|cx| {
            if self.chan.is_closed() {
                return Poll::Ready(());
            }
            // Register, then re-check (the closer marks first, then wakes).
            reg.0.register(&mut reg.1, cx.waker());
            if self.chan.is_closed() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no message is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound of a bounded channel; `None` for an unbounded one.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }

    /// Whether `self` and `other` send into the same channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Receiver<T> {
    /// Receives the next message, waiting for one; `None` once the channel is closed (or
    /// every sender is gone) and drained.
    ///
    /// Cancel-safe: a message is taken only when the future returns it.
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv { rx: self }
    }

    /// Polls for the next message (the engine of [`recv`](Self::recv) and the `Stream`).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.chan.pop() {
            Ok(v) => {
                self.chan.rx_not_waiting();
                return Poll::Ready(Some(v));
            }
            Err(PopError::Closed) => return Poll::Ready(None),
            Err(PopError::Empty) => {}
        }
        // Register, raise the flag, then re-check (rule 1). Registering first, and
        // raising with a release store that the waking sender's swap acquires, makes the
        // sender that lowers this raise wake this waker (or a later one), never an older
        // one still in the slot: with the other order a sender delayed between its flag
        // read and its swap could lower this raise and wake a stale waker (say, of the
        // task the receiver was polled in before), and the wake-up would be lost (found
        // by loom, `mpsc_two_sends_one_wake` with 3 preemptions).
        self.chan.rx_waker.register(cx.waker());
        self.chan.rx_waiting.store(true, Release);
        fence(SeqCst);
        match self.chan.pop() {
            Ok(v) => {
                self.chan.rx_not_waiting();
                Poll::Ready(Some(v))
            }
            Err(PopError::Closed) => Poll::Ready(None),
            Err(PopError::Empty) => Poll::Pending,
        }
    }

    /// Receives a message if one is queued now.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.pop().map_err(|e| match e {
            PopError::Empty => TryRecvError::Empty,
            PopError::Closed => TryRecvError::Disconnected,
        })
    }

    /// Receives the next message, blocking the thread. Do not call it from async code.
    pub fn recv_blocking(&mut self) -> Option<T> {
        // Retry with back-off before registering the waker, as `send_blocking` does.
        let mut backoff = Backoff::new();
        loop {
            match self.chan.pop() {
                Ok(v) => {
                    self.chan.rx_not_waiting();
                    return Some(v);
                }
                Err(PopError::Closed) => return None,
                Err(PopError::Empty) => {}
            }
            if backoff.is_completed() {
                break;
            }
            backoff.snooze();
        }
        block_on(self.recv())
    }

    /// Waits for at least one message, then moves up to `limit` queued messages into
    /// `buf`; returns how many. Returns 0 when `limit == 0` or the channel is closed and
    /// drained.
    ///
    /// Cancel-safe: messages are moved only when the future completes.
    pub async fn recv_many(&mut self, buf: &mut Vec<T>, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        let Some(first) = self.recv().await else {
            return 0;
        };
        buf.push(first);
        let mut n = 1;
        while n < limit {
            match self.chan.pop() {
                Ok(v) => {
                    buf.push(v);
                    n += 1;
                }
                Err(_) => break,
            }
        }
        n
    }

    /// Closes the channel: senders fail from now on, blocked senders wake, and messages
    /// already queued can still be received.
    pub fn close(&mut self) {
        self.chan.close();
    }

    /// Whether the channel is closed (by [`close`](Self::close) or by every sender going).
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no message is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound of a bounded channel; `None` for an unbounded one.
    pub fn capacity(&self) -> Option<usize> {
        self.chan.capacity()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.close();
        // Drop what is left now rather than when the last sender goes.
        while self.chan.pop().is_ok() {}
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), None)
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
    rx: &'a mut Receiver<T>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn bounded_basics() {
        let (tx, mut rx) = channel(2);
        assert_eq!(tx.capacity(), Some(2));
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(rx.len(), 2);
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.recv_blocking(), Some(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.recv_blocking(), None);
    }

    #[test]
    fn blocked_sender_woken_by_recv_and_by_close() {
        let (tx, mut rx) = channel(1);
        tx.try_send(0).unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let mut send = tx.send(1);
        assert!(Pin::new(&mut send).poll(&mut cx).is_pending());
        assert_eq!(rx.try_recv(), Ok(0));
        assert_eq!(Pin::new(&mut send).poll(&mut cx), Poll::Ready(Ok(())));
        let mut send = tx.send(2);
        assert!(Pin::new(&mut send).poll(&mut cx).is_pending());
        rx.close();
        assert!(tx.is_closed());
        assert_eq!(
            Pin::new(&mut send).poll(&mut cx),
            Poll::Ready(Err(SendError(2)))
        );
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }

    #[test]
    fn unbounded_and_recv_many() {
        let (tx, mut rx) = unbounded();
        assert_eq!(tx.capacity(), None);
        for i in 0..10 {
            tx.try_send(i).unwrap();
        }
        let mut buf = Vec::new();
        assert_eq!(block_on(rx.recv_many(&mut buf, 4)), 4);
        assert_eq!(block_on(rx.recv_many(&mut buf, 100)), 6);
        assert_eq!(buf, (0..10).collect::<Vec<_>>());
        drop(rx);
        assert!(matches!(tx.try_send(1), Err(TrySendError::Closed(1))));
        assert_eq!(block_on(tx.send(2)), Err(SendError(2)));
    }
}
