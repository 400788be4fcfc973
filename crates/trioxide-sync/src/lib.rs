//! Executor-neutral async synchronization: channels, asyncio-style queues and locks.
//!
//! `trioxide-sync` depends on no other trioxide crate — only on `std::task::Waker` — so
//! its primitives work under trioxide, under tokio, and from plain threads (each channel
//! has `*_blocking` twins of its async methods).
//!
//! - [`Queue`], [`LifoQueue`], [`PriorityQueue`]: asyncio's queues (with `task_done`,
//!   `join` and Python 3.13's `shutdown`), thread-safe; `Clone` gives another handle to
//!   the same queue.
//! - [`mpsc`]: multi-producer single-consumer channels, bounded (a lock-free Vyukov ring,
//!   no allocation per message) and unbounded (a lock-free linked list of blocks).
//! - [`mpmc`]: the same queues with clonable receivers; [`broadcast`] (lagging receivers
//!   get `Lagged(n)`); [`watch`] (latest value); [`oneshot`] (one value, lock-free).
//! - [`Notify`], [`Semaphore`], [`Mutex`] (fair), [`RwLock`] (fair), [`Event`],
//!   [`Barrier`], [`Condition`]: task coordination.
//!
//! Every async method documents whether it is *cancel-safe*: whether dropping its future
//! before completion (say, in a `select`) can lose a message or a wake-up. Where it is, a
//! future that was woken and then dropped passes its wake-up on to the next waiter.
//! Closing a channel, dropping its last sender or receiver, and shutting a queue down wake
//! every waiter.
//!
//! Owned permits and guards (`acquire_owned`, `lock_owned`) take a `std::sync::Arc`.
//!
//! ```
//! # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! # rt.block_on(async {
//! use trioxide_sync::{Queue, mpsc, oneshot};
//!
//! let (tx, mut rx) = mpsc::channel(8);
//! tx.send(1).await.unwrap();
//! assert_eq!(rx.recv().await, Some(1));
//!
//! let (reply, answer) = oneshot::channel();
//! reply.send("done").unwrap();
//! assert_eq!(answer.await, Ok("done"));
//!
//! let q = Queue::new(0);
//! q.put("job").await.unwrap();
//! let job = q.get().await.unwrap();
//! q.task_done().unwrap();
//! q.join().await; // every job put has been marked done
//! # let _ = job;
//! # });
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod atomic_waker;
mod barrier;
mod blocking;
pub mod broadcast;
mod condition;
mod event;
mod loom;
pub mod mpmc;
pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod permit_cell;
mod queue;
mod rwlock;
mod semaphore;
mod waiters;
pub mod watch;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condition::Condition;
pub use event::{Event, EventWait};
pub use mutex::{Mutex, MutexGuard, OwnedMutexGuard, TryLockError};
pub use notify::{Notified, Notify};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{
    AcquireError, OwnedSemaphorePermit, Semaphore, SemaphorePermit, TryAcquireError,
};

pub use queue::{
    Fifo, Get, Join, Kind, Lifo, LifoQueue, Priority, PriorityQueue, Put, Queue, QueueShutDown,
    TaskDoneError, TryGetError, TryPutError,
};

/// asyncio's name for [`TryGetError::Empty`], usable as a pattern: `Err(QueueEmpty)`.
pub use queue::TryGetError::Empty as QueueEmpty;
/// asyncio's name for [`TryPutError::Full`], usable as a pattern: `Err(QueueFull(v))`.
pub use queue::TryPutError::Full as QueueFull;

/// Locks `mutex`, ignoring poisoning: every critical section in this crate leaves its
/// state consistent before any call that could panic.
pub(crate) fn lock<T>(mutex: &loom::sync::Mutex<T>) -> loom::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
