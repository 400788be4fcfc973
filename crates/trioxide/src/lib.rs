//! trioxide: an async runtime for Rust built around structured concurrency — what
//! Python's asyncio and Trio give (an event loop, tasks, cancellation, timeouts, queues,
//! sockets), with Rust's guarantees.
//!
//! ```
//! use std::time::Duration;
//!
//! async fn greet(name: &str) {
//!     println!("Hello, {name}!");
//!     trioxide::time::sleep(Duration::from_millis(10)).await;
//!     println!("Goodbye, {name}!");
//! }
//!
//! trioxide::run(async {
//!     greet("Alice").await;
//!     greet("Bob").await;
//! });
//! ```
//!
//! The pieces: [`run`] / [`Runtime`] (the event loop), [`spawn`] / [`JoinHandle`] (tasks),
//! [`time`] (sleep, timeout, interval), [`net`] (TCP, UDP, Unix sockets), [`io`]
//! (futures-io traits and helpers), [`LocalExecutor`] (a loop you drive by hand) and
//! [`sync`] (channels and queues, from `trioxide-sync`).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod io;
mod loom;
pub mod net;
pub mod runtime;
pub mod time;

pub use runtime::{Handle, Runtime, run};
pub use trioxide_sync as sync;
pub use trioxide_task::{
    JoinError, JoinHandle, LocalExecutor, PanicPayload, Spawner, TaskId, YieldNow, coop, yield_now,
};

use std::future::Future;

/// Spawns a task on the current runtime (asyncio's `create_task`). It starts running at
/// the runtime's next scheduling point; awaiting the handle gives its result.
///
/// # Panics
/// Outside a runtime: "trioxide::spawn called outside a runtime; wrap the code in
/// trioxide::run(..)".
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    runtime::with_current("trioxide::spawn", |handle| handle.spawn(future))
}

/// Spawns a `!Send` task on the current thread's runtime.
///
/// # Panics
/// Outside a runtime, like [`spawn`].
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    match trioxide_task::try_spawn_local(future) {
        Ok(handle) => handle,
        Err(_) => {
            panic!(
                "trioxide::spawn_local called outside a runtime; wrap the code in trioxide::run(..)"
            )
        }
    }
}
