//! Executor-neutral async synchronization: channels, asyncio-style queues and locks.
//!
//! `trioxide-sync` depends on no other trioxide crate — only on `std::task::Waker` — so
//! its primitives work under trioxide, under tokio, and from plain threads.
//!
//! - [`Queue`], [`LifoQueue`], [`PriorityQueue`]: asyncio's queues (with `task_done`,
//!   `join` and Python 3.13's `shutdown`), thread-safe and cheaply clonable.
//! - [`mpsc`]: multi-producer single-consumer channels, bounded (a lock-free Vyukov ring)
//!   and unbounded (a lock-free linked list of blocks).
//! - [`oneshot`]: a single value from one task to another.
//! - [`Notify`], [`Semaphore`], [`Mutex`], [`Event`]: task coordination.
//!
//! Every async method documents whether it is *cancel-safe*: whether dropping its future
//! before completion (say, in a `select`) can lose a message or a wake-up.
#![deny(unsafe_op_in_unsafe_fn)]
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

/// Locks `mutex`, ignoring poisoning: every critical section in this crate leaves its
/// state consistent before any call that could panic.
pub(crate) fn lock<T>(mutex: &loom::sync::Mutex<T>) -> loom::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
