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
//! [`sync`] (channels and queues, from `trioxide-sync`). With the `macros` feature (on by
//! default), [`main`] and [`test`] run an `async fn` on a runtime.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod cancel;
pub mod combine;
pub mod compat;
pub mod debug;
pub mod fs;
pub mod io;
mod loom;
pub mod metrics;
pub mod net;
pub mod runtime;
pub mod scope;
pub mod signal;
pub mod task;
pub mod testing;
pub mod time;

pub use cancel::{CancelGuard, CancelScope, DEFAULT_CANCEL_GRACE, Shielded, on_cancel, shield};
pub use combine::{
    AsCompleted, Finished, JoinAll, RaceAll, TryJoinAll, Wait, as_completed, join_all, race,
    race_all, try_join_all, wait,
};
pub use runtime::{Handle, Runtime, run};
pub use scope::{
    TimedOut, fail_after, fail_at, move_on_after, move_on_at, scope, scope_local, try_scope,
};
pub use trioxide_sync as sync;
pub use trioxide_task::cancel::{Cancelled, ReraiseCancel, cancelled, reraise_cancel};
pub use trioxide_task::{
    CancelHandle, Fifo, JoinError, JoinHandle, LocalExecutor, PanicPayload, Park, ReadyTask,
    SchedulePolicy, Seeded, Spawner, TaskHooks, TaskId, ThreadPark, Unpark, YieldNow, coop,
    yield_now,
};

/// Runs an `async fn main` on a trioxide runtime, built from the attribute's options with
/// [`Runtime::builder()`](Runtime::builder) (asyncio's `asyncio.run(main())` as an
/// attribute).
///
/// ```
/// use std::time::Duration;
///
/// #[trioxide::main(flavor = "current_thread", io = "epoll")]
/// async fn main() -> Result<(), trioxide::JoinError> {
///     let task = trioxide::spawn(async {
///         trioxide::time::sleep(Duration::from_millis(5)).await;
///         21 * 2
///     });
///     assert_eq!(task.await?, 42);
///     Ok(())
/// }
/// ```
///
/// Options: `flavor = "current_thread" | "work_stealing" | "thread_per_core"`,
/// `worker_threads = N` (multi-threaded flavors only),
/// `io = "auto" | "io_uring" | "epoll"`, and for tests `start_paused = true` (virtual time,
/// [`Builder::start_paused`](runtime::Builder::start_paused)) and `seed = N` (seeded
/// scheduling, [`Builder::seed`](runtime::Builder::seed)), which need — and, without a
/// `flavor`, select — `"current_thread"`; without options, the builder's defaults. If the
/// runtime cannot be built, `main` panics with
/// `trioxide::main: could not build the runtime: {error}`.
#[cfg(feature = "macros")]
#[doc(inline)]
pub use trioxide_macros::main;

/// Runs an `async fn` test on a fresh trioxide runtime; takes the same options as
/// [`main`](macro@main).
///
/// With `start_paused = true` the clock stands still and jumps to the next timer whenever
/// the test is idle, so timeouts of minutes run in microseconds at exact virtual instants:
///
/// ```
/// use std::time::Duration;
/// use trioxide::time::{Instant, sleep};
///
/// #[trioxide::test(start_paused = true)]
/// async fn an_hour_passes_at_once() {
///     let start = Instant::now();
///     sleep(Duration::from_secs(3600)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
/// }
/// # fn main() {}
/// ```
///
/// ```
/// #[trioxide::test(io = "epoll")]
/// async fn spawned_tasks_finish() {
///     let task = trioxide::spawn(async { 1 + 1 });
///     assert_eq!(task.await.unwrap(), 2);
/// }
/// # fn main() {}
/// ```
///
/// Other attributes (`#[should_panic]`, `#[ignore]`) stay on the generated `#[test]`
/// function; do not add `#[test]` yourself.
#[cfg(feature = "macros")]
#[doc(inline)]
pub use trioxide_macros::test;

use std::borrow::Cow;
use std::future::Future;
use std::panic::Location;

/// Spawns a task on the current runtime (asyncio's `create_task`). It starts running at
/// the runtime's next scheduling point; awaiting the handle gives its result.
///
/// # Panics
/// Outside a runtime: "trioxide::spawn called outside a runtime; wrap the code in
/// trioxide::run(..)".
///
/// ```
/// trioxide::run(async {
///     let task = trioxide::spawn(async { 6 * 7 });
///     // The task runs concurrently; awaiting the handle gives its result.
///     assert_eq!(task.await.unwrap(), 42);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    let at = Location::caller();
    runtime::with_current("trioxide::spawn", |handle| {
        handle.spawn_named(None, at, future)
    })
}

/// Spawns a `!Send` task on the current thread.
///
/// It runs on the thread that called it: on a `CurrentThread` runtime that is the
/// runtime's thread; on a `WorkStealing` runtime it must be called from the root future
/// (inside `block_on` / `run`), whose thread runs such tasks.
///
/// # Panics
/// Outside a runtime, like [`spawn`]; and on a work-stealing worker thread, whose tasks
/// may move between threads.
///
/// ```
/// use std::rc::Rc;
/// use trioxide::runtime::{Flavor, Runtime};
///
/// let rt = Runtime::builder().flavor(Flavor::CurrentThread).build().unwrap();
/// rt.block_on(async {
///     let shared = Rc::new(5); // not Send: trioxide::spawn would refuse it
///     let task = trioxide::spawn_local(async move { *shared + 1 });
///     assert_eq!(task.await.unwrap(), 6);
/// });
/// ```
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    spawn_local_named(None, Location::caller(), future)
}

/// `spawn_local` with a name and location for debug mode.
#[track_caller]
pub(crate) fn spawn_local_named<F>(
    name: Option<Cow<'static, str>>,
    at: &'static Location<'static>,
    future: F,
) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    let spawned = if runtime::current_records_spawns() {
        let meta = debug::SpawnMeta {
            name,
            at: Some(at),
            parent: None,
        };
        debug::with_spawn_meta(meta, || trioxide_task::try_spawn_local(future))
    } else {
        trioxide_task::try_spawn_local(future)
    };
    match spawned {
        Ok(handle) => handle,
        Err(_) if Handle::try_current().is_ok() => panic!(
            "trioxide::spawn_local called on a work-stealing worker thread, where tasks move \
             between threads; call it from the root future (inside trioxide::run), or use \
             Flavor::CurrentThread, or trioxide::spawn for Send futures"
        ),
        Err(_) => panic!(
            "trioxide::spawn_local called outside a runtime; wrap the code in trioxide::run(..)"
        ),
    }
}

/// Runs a blocking or CPU-heavy closure on the runtime's blocking pool and returns a
/// handle to its result (asyncio's `await asyncio.to_thread(f)`). The async threads keep
/// running other tasks meanwhile.
///
/// Cancelling the handle before the closure started means it never runs; once it runs,
/// it cannot be interrupted.
///
/// ```
/// let result = trioxide::run(async {
///     trioxide::to_thread(|| {
///         std::thread::sleep(std::time::Duration::from_millis(10)); // blocking
///         "Task completed"
///     })
///     .await
///     .unwrap()
/// });
/// assert_eq!(result, "Task completed");
/// ```
///
/// # Panics
/// Outside a runtime, like [`spawn`].
#[track_caller]
pub fn to_thread<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    runtime::with_current("trioxide::to_thread", |handle| handle.spawn_blocking(f))
}

/// tokio's name for [`to_thread`].
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    runtime::with_current("trioxide::spawn_blocking", |handle| {
        handle.spawn_blocking(f)
    })
}

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeExample;
