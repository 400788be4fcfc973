//! The task core of trioxide: one-allocation tasks with a bit-packed atomic state word,
//! allocation-free wakers, `JoinHandle` with cancellation, executors, and the blocking
//! thread pool ([`BlockingPool`]).
//!
//! This crate knows nothing of I/O: an executor waits for work through the [`Park`] trait,
//! and the `trioxide` facade plugs the reactor in there.
//!
//! ```
//! use trioxide_task::{LocalExecutor, JoinError};
//!
//! let ex = LocalExecutor::new();
//! let ok = ex.spawn_local(async { 1 + 1 });
//! let boom = ex.spawn_local(async { panic!("boom") });
//! let slow = ex.spawn_local(std::future::pending::<()>());
//! slow.cancel();
//! ex.block_on(async {
//!     assert_eq!(ok.await.unwrap(), 2);
//!     assert!(boom.await.unwrap_err().is_panic());
//!     assert!(matches!(slow.await, Err(JoinError::Cancelled)));
//! });
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod blocking;
pub mod cancel;
mod child_cancel;
pub mod coop;
mod loom;
mod pad;
mod park;
mod sched;
mod task;
mod yield_now;

pub use blocking::{BlockingConfig, BlockingPool};
pub use park::{Park, ThreadPark, Unpark};
pub use sched::any::SpawnerRef;
pub use sched::local::{
    EVENT_INTERVAL, LocalExecutor, NoExecutor, Spawner, current_spawner, spawn_local,
    try_spawn_local,
};
pub use sched::metrics::SchedulerMetrics;
pub use sched::policy::{Fifo, ReadyTask, SchedulePolicy, Seeded};
pub use sched::steal::{StealSpawner, WorkStealing, WorkStealingConfig};
pub use task::{
    CancelHandle, JoinError, JoinHandle, PanicPayload, TaskHooks, TaskId, TaskProbe, TaskState,
    WakerSwap, current_task_id,
};
pub use yield_now::{YieldNow, yield_now};

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeExample;
