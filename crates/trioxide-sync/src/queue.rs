//! asyncio's queues — `Queue`, `LifoQueue`, `PriorityQueue` — made thread-safe.
//!
//! The algorithm is CPython's `asyncio/queues.py` (3.13): one buffer, a FIFO of blocked
//! getters and one of blocked putters, an unfinished-task counter released by `task_done`
//! and awaited by `join`, and the 3.13 `shutdown(immediate)` state. Each `put` wakes one
//! getter and each `get` wakes one putter; a woken waiter that is dropped before it could
//! use its turn passes the wake-up on, exactly like `_wakeup_next` in CPython. Where asyncio
//! relies on running on one thread, here one `Mutex` guards the whole state, and waiters
//! live in a [`Waiters`](crate::waiters::Waiters) slab under that lock.
//!
//! A queue is a handle: [`Clone`] gives another handle to the *same* queue (an `Arc`
//! inside), so hand clones to producer and consumer tasks as you would pass an
//! `asyncio.Queue` around.

use crate::lock;
use crate::loom::sync::{Arc, Mutex};
use crate::waiters::{Status, Waiters, wake_all};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// The queue was shut down (asyncio's `QueueShutDown`). From [`Queue::put`] it carries the
/// value that was not queued; from [`Queue::get`] it carries `()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("queue is shut down")]
pub struct QueueShutDown<T = ()>(pub T);

/// Why [`Queue::try_put`] gave the value back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryPutError<T> {
    /// The queue holds `maxsize` items (asyncio's `QueueFull`).
    #[error("queue is full")]
    Full(T),
    /// The queue was shut down (asyncio's `QueueShutDown`).
    #[error("queue is shut down")]
    ShutDown(T),
}

impl<T> TryPutError<T> {
    /// The value that was not queued.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(v) | Self::ShutDown(v) => v,
        }
    }
}

/// Why [`Queue::try_get`] returned no item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryGetError {
    /// The queue is empty (asyncio's `QueueEmpty`).
    #[error("queue is empty")]
    Empty,
    /// The queue is empty and was shut down (asyncio's `QueueShutDown`).
    #[error("queue is shut down")]
    ShutDown,
}

/// [`Queue::task_done`] was called more times than items were put (asyncio's
/// `ValueError: task_done() called too many times`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("task_done() called too many times")]
pub struct TaskDoneError;

mod sealed {
    pub trait Sealed {}
}

/// The order a queue hands items out in: [`Fifo`], [`Lifo`] or [`Priority`]. Sealed.
pub trait Kind<T>: sealed::Sealed {
    /// The buffer holding the items.
    #[doc(hidden)]
    type Buf: Default;
    #[doc(hidden)]
    fn push(buf: &mut Self::Buf, value: T);
    #[doc(hidden)]
    fn pop(buf: &mut Self::Buf) -> Option<T>;
    #[doc(hidden)]
    fn len(buf: &Self::Buf) -> usize;
}

/// First in, first out (`asyncio.Queue`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Fifo;
/// Last in, first out (`asyncio.LifoQueue`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Lifo;
/// Smallest first (`asyncio.PriorityQueue`, a binary heap like Python's `heapq`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Priority;

impl sealed::Sealed for Fifo {}
impl sealed::Sealed for Lifo {}
impl sealed::Sealed for Priority {}

impl<T> Kind<T> for Fifo {
    type Buf = VecDeque<T>;
    fn push(buf: &mut Self::Buf, value: T) {
        buf.push_back(value);
    }
    fn pop(buf: &mut Self::Buf) -> Option<T> {
        buf.pop_front()
    }
    fn len(buf: &Self::Buf) -> usize {
        buf.len()
    }
}

impl<T> Kind<T> for Lifo {
    type Buf = Vec<T>;
    fn push(buf: &mut Self::Buf, value: T) {
        buf.push(value);
    }
    fn pop(buf: &mut Self::Buf) -> Option<T> {
        buf.pop()
    }
    fn len(buf: &Self::Buf) -> usize {
        buf.len()
    }
}

impl<T: Ord> Kind<T> for Priority {
    type Buf = BinaryHeap<Reverse<T>>;
    fn push(buf: &mut Self::Buf, value: T) {
        buf.push(Reverse(value));
    }
    fn pop(buf: &mut Self::Buf) -> Option<T> {
        buf.pop().map(|Reverse(v)| v)
    }
    fn len(buf: &Self::Buf) -> usize {
        buf.len()
    }
}

/// Everything the lock guards.
struct State<T, K: Kind<T>> {
    items: K::Buf,
    /// Items put and not yet marked done (`_unfinished_tasks`).
    unfinished: usize,
    shutdown: bool,
    getters: Waiters,
    putters: Waiters,
    joiners: Waiters,
}

struct Shared<T, K: Kind<T>> {
    maxsize: usize,
    state: Mutex<State<T, K>>,
}

/// An asyncio-style queue, thread-safe; `K` picks the order ([`Fifo`] by default).
///
/// `Queue::new(maxsize)`: `maxsize == 0` means unbounded. Cloning gives another handle to
/// the same queue. See [`LifoQueue`] and [`PriorityQueue`] for the other orders.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use trioxide_sync::Queue;
/// let q = Queue::new(2);
/// q.put(1).await.unwrap();
/// q.try_put(2).unwrap();
/// assert!(q.is_full());
/// assert_eq!(q.get().await, Ok(1));
/// q.task_done().unwrap();
/// q.shutdown(false);
/// assert_eq!(q.get().await, Ok(2)); // what is left drains first
/// assert!(q.get().await.is_err());
/// # });
/// ```
pub struct Queue<T, K: Kind<T> = Fifo> {
    shared: Arc<Shared<T, K>>,
}

impl<T, K: Kind<T>> Clone for Queue<T, K> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T, K: Kind<T>> fmt::Debug for Queue<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("Queue")
            .field("maxsize", &self.shared.maxsize)
            .field("len", &K::len(&st.items))
            .field("unfinished", &st.unfinished)
            .field("shutdown", &st.shutdown)
            .finish()
    }
}

impl<T> Queue<T> {
    /// A FIFO queue holding at most `maxsize` items; `0` means unbounded.
    pub fn new(maxsize: usize) -> Self {
        Self::with_kind(maxsize)
    }
}

impl<T> Default for Queue<T> {
    /// An unbounded FIFO queue.
    fn default() -> Self {
        Self::new(0)
    }
}

impl<T, K: Kind<T>> Queue<T, K> {
    /// A queue of order `K` holding at most `maxsize` items; `0` means unbounded.
    pub fn with_kind(maxsize: usize) -> Self {
        let state = State {
            items: K::Buf::default(),
            unfinished: 0,
            shutdown: false,
            getters: Waiters::new(),
            putters: Waiters::new(),
            joiners: Waiters::new(),
        };
        Self {
            shared: Arc::new(Shared {
                maxsize,
                state: Mutex::new(state),
            }),
        }
    }

    /// The bound given at creation; `0` means unbounded.
    pub fn maxsize(&self) -> usize {
        self.shared.maxsize
    }

    /// Number of items in the queue (asyncio's `qsize`).
    pub fn len(&self) -> usize {
        K::len(&lock(&self.shared.state).items)
    }

    /// Whether the queue holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue holds `maxsize` items (never, when unbounded).
    pub fn is_full(&self) -> bool {
        self.full(&lock(&self.shared.state))
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        lock(&self.shared.state).shutdown
    }

    /// Items put and not yet marked with [`task_done`](Self::task_done).
    pub fn unfinished(&self) -> usize {
        lock(&self.shared.state).unfinished
    }

    fn full(&self, st: &State<T, K>) -> bool {
        self.shared.maxsize > 0 && K::len(&st.items) >= self.shared.maxsize
    }

    /// Queues `value` now, counts it unfinished and wakes one getter. Lock held.
    fn push_locked(st: &mut State<T, K>, value: T) -> Option<Waker> {
        K::push(&mut st.items, value);
        st.unfinished += 1;
        st.getters.notify_one()
    }

    /// Puts `value` without waiting (asyncio's `put_nowait`).
    pub fn try_put(&self, value: T) -> Result<(), TryPutError<T>> {
        let mut st = lock(&self.shared.state);
        if st.shutdown {
            return Err(TryPutError::ShutDown(value));
        }
        if self.full(&st) {
            return Err(TryPutError::Full(value));
        }
        let waker = Self::push_locked(&mut st, value);
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Puts `value`, waiting while the queue is full. Fails with the value once the queue
    /// is shut down (also while waiting).
    ///
    /// Cancel-safe: if the future is dropped before it completes, `value` was not queued
    /// (it is dropped with the future), and a wake-up it had received passes to the next
    /// putter.
    pub fn put(&self, value: T) -> Put<'_, T, K> {
        Put {
            queue: self,
            value: Some(value),
            key: None,
        }
    }

    /// Takes an item without waiting (asyncio's `get_nowait`). After a shutdown, items left
    /// are still returned; then [`TryGetError::ShutDown`].
    pub fn try_get(&self) -> Result<T, TryGetError> {
        let mut st = lock(&self.shared.state);
        match K::pop(&mut st.items) {
            Some(v) => {
                let waker = st.putters.notify_one();
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
                Ok(v)
            }
            None if st.shutdown => Err(TryGetError::ShutDown),
            None => Err(TryGetError::Empty),
        }
    }

    /// Takes an item, waiting while the queue is empty. After a shutdown, drains what is
    /// left, then fails with [`QueueShutDown`].
    ///
    /// Cancel-safe: an item is removed only when the future returns it; a dropped future
    /// that had been woken passes its wake-up to the next getter.
    pub fn get(&self) -> Get<'_, T, K> {
        Get {
            queue: self,
            key: None,
        }
    }

    /// Marks one item as processed. When every item put has been marked, [`join`](Self::join)
    /// returns. Errors if called more times than items were put.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut st = lock(&self.shared.state);
        if st.unfinished == 0 {
            return Err(TaskDoneError);
        }
        st.unfinished -= 1;
        let mut wakers = Vec::new();
        if st.unfinished == 0 {
            st.joiners.notify_all(&mut wakers);
        }
        drop(st);
        wake_all(wakers);
        Ok(())
    }

    /// Waits until every item put has been marked with [`task_done`](Self::task_done).
    ///
    /// Cancel-safe: dropping the future has no effect on the queue.
    pub fn join(&self) -> Join<'_, T, K> {
        Join {
            queue: self,
            key: None,
        }
    }

    /// Shuts the queue down (Python 3.13): `put` and `try_put` fail from now on, and every
    /// blocked putter and getter wakes. With `immediate == false`, getters drain what is left
    /// and then fail. With `immediate == true`, the items left are dropped, the unfinished
    /// count drops by as many, and `join` returns once it reaches zero (items already got
    /// but not marked done still count).
    pub fn shutdown(&self, immediate: bool) {
        let mut st = lock(&self.shared.state);
        st.shutdown = true;
        let mut wakers = Vec::new();
        let mut dropped = None;
        if immediate {
            let items = std::mem::take(&mut st.items);
            st.unfinished = st.unfinished.saturating_sub(K::len(&items));
            dropped = Some(items);
            if st.unfinished == 0 {
                st.joiners.notify_all(&mut wakers);
            }
        }
        st.getters.notify_all(&mut wakers);
        st.putters.notify_all(&mut wakers);
        drop(st);
        // Items run their destructors outside the lock: they may touch this queue.
        drop(dropped);
        wake_all(wakers);
    }
}

/// Future of [`Queue::put`].
#[must_use = "futures do nothing unless polled"]
pub struct Put<'a, T, K: Kind<T> = Fifo> {
    queue: &'a Queue<T, K>,
    value: Option<T>,
    key: Option<usize>,
}

impl<T, K: Kind<T>> Unpin for Put<'_, T, K> {}

impl<T, K: Kind<T>> Future for Put<'_, T, K> {
    type Output = Result<(), QueueShutDown<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let queue = this.queue;
        let mut st = lock(&queue.shared.state);
        let value = this.value.take().expect("Put polled after completion");
        if st.shutdown || !queue.full(&st) {
            if let Some(key) = this.key.take() {
                st.putters.remove(key);
            }
            if st.shutdown {
                return Poll::Ready(Err(QueueShutDown(value)));
            }
            let waker = Queue::push_locked(&mut st, value);
            drop(st);
            if let Some(w) = waker {
                w.wake();
            }
            return Poll::Ready(Ok(()));
        }
        this.value = Some(value);
        st.putters.register(&mut this.key, cx.waker(), ());
        Poll::Pending
    }
}

impl<T, K: Kind<T>> Drop for Put<'_, T, K> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let queue = self.queue;
        let mut st = lock(&queue.shared.state);
        let (status, ()) = st.putters.remove(key);
        let waker = if status == Status::Notified && !queue.full(&st) {
            st.putters.notify_one()
        } else {
            None
        };
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Future of [`Queue::get`].
#[must_use = "futures do nothing unless polled"]
pub struct Get<'a, T, K: Kind<T> = Fifo> {
    queue: &'a Queue<T, K>,
    key: Option<usize>,
}

impl<T, K: Kind<T>> Future for Get<'_, T, K> {
    type Output = Result<T, QueueShutDown>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut st = lock(&this.queue.shared.state);
        let item = K::pop(&mut st.items);
        if item.is_none() && !st.shutdown {
            st.getters.register(&mut this.key, cx.waker(), ());
            return Poll::Pending;
        }
        if let Some(key) = this.key.take() {
            st.getters.remove(key);
        }
        match item {
            Some(v) => {
                let waker = st.putters.notify_one();
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
                Poll::Ready(Ok(v))
            }
            None => Poll::Ready(Err(QueueShutDown(()))),
        }
    }
}

impl<T, K: Kind<T>> Drop for Get<'_, T, K> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut st = lock(&self.queue.shared.state);
        let (status, ()) = st.getters.remove(key);
        let waker = if status == Status::Notified && K::len(&st.items) > 0 {
            st.getters.notify_one()
        } else {
            None
        };
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Future of [`Queue::join`].
#[must_use = "futures do nothing unless polled"]
pub struct Join<'a, T, K: Kind<T> = Fifo> {
    queue: &'a Queue<T, K>,
    key: Option<usize>,
}

impl<T, K: Kind<T>> Future for Join<'_, T, K> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let mut st = lock(&this.queue.shared.state);
        // Released by the broadcast even if new items arrived since (asyncio's Event).
        let released = this
            .key
            .is_some_and(|k| st.joiners.status(k) == Status::NotifiedAll);
        if released || st.unfinished == 0 {
            if let Some(key) = this.key.take() {
                st.joiners.remove(key);
            }
            return Poll::Ready(());
        }
        st.joiners.register(&mut this.key, cx.waker(), ());
        Poll::Pending
    }
}

impl<T, K: Kind<T>> Drop for Join<'_, T, K> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            lock(&self.queue.shared.state).joiners.remove(key);
        }
    }
}

macro_rules! queue_newtype {
    ($(#[$doc:meta])* $name:ident, $kind:ident, $($bound:tt)*) => {
        $(#[$doc])*
        ///
        /// It dereferences to [`Queue`], which has every method.
        pub struct $name<T: $($bound)*>(Queue<T, $kind>);

        impl<T: $($bound)*> $name<T> {
            /// A queue holding at most `maxsize` items; `0` means unbounded.
            pub fn new(maxsize: usize) -> Self {
                Self(Queue::with_kind(maxsize))
            }
        }

        impl<T: $($bound)*> Clone for $name<T> {
            fn clone(&self) -> Self {
                Self(self.0.clone())
            }
        }

        impl<T: $($bound)*> Deref for $name<T> {
            type Target = Queue<T, $kind>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl<T: $($bound)*> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

queue_newtype!(
    /// A last-in, first-out queue (`asyncio.LifoQueue`).
    LifoQueue, Lifo, Sized
);
queue_newtype!(
    /// A queue handing out its smallest item first (`asyncio.PriorityQueue`); put
    /// `(priority, value)` tuples to order by priority.
    PriorityQueue, Priority, Ord
);
