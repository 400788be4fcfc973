//! The runtime: a scheduler joined to a reactor and timers, built by [`Builder`].
//!
//! Today's flavor is `CurrentThread`: a `LocalExecutor` that parks in the epoll reactor.
//! The work-stealing and thread-per-core flavors plug in behind the same `Runtime` and
//! `Handle` API.

mod builder;
mod context;
mod park;

pub use builder::{BuildError, Builder, Flavor, Io, IoBackend};
pub(crate) use context::with_current;
pub use context::{Handle, NoRuntime};

use std::future::Future;
use std::sync::Arc;
use trioxide_reactor::Reactor;
use trioxide_reactor::timers::Timers;
use trioxide_task::{JoinHandle, LocalExecutor};

/// A trioxide runtime (asyncio's event loop).
///
/// ```
/// let rt = trioxide::Runtime::new().unwrap();
/// let answer = rt.block_on(async {
///     let task = trioxide::spawn(async { 21 * 2 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
///
/// Dropping the runtime cancels every task still alive (their futures are dropped on the
/// runtime's thread) and shuts the reactor down, so I/O objects that outlive it fail with
/// an error instead of hanging.
pub struct Runtime {
    /// Always `Some` until `drop`.
    executor: Option<LocalExecutor>,
    handle: Handle,
}

impl Runtime {
    /// A runtime with the default configuration.
    pub fn new() -> Result<Runtime, BuildError> {
        Builder::new().build()
    }

    /// Configure a runtime.
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn new_current_thread(
        builder: &Builder,
        backend: IoBackend,
    ) -> Result<Runtime, BuildError> {
        let reactor = Reactor::epoll().map_err(|source| BuildError::Io {
            what: "epoll instance",
            source,
        })?;
        let timers = Timers::new();
        let executor = LocalExecutor::with_park(park::ReactorPark {
            reactor: reactor.clone(),
            timers: timers.clone(),
        });
        let handle = Handle {
            shared: Arc::new(context::Shared {
                spawner: executor.spawner(),
                reactor,
                timers,
                backend,
                debug: builder.debug,
            }),
        };
        Ok(Runtime {
            executor: Some(executor),
            handle,
        })
    }

    /// Runs `future` to completion on this thread, driving every task, timer and socket
    /// of the runtime meanwhile.
    ///
    /// # Panics
    /// If called from inside a runtime (use `.await` there).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _context = context::enter_runtime(&self.handle);
        self.executor().block_on(future)
    }

    /// Spawns a task; it runs while the runtime is driven by `block_on`.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        self.handle.spawn(future)
    }

    fn executor(&self) -> &LocalExecutor {
        self.executor
            .as_ref()
            .expect("the executor lives until the runtime is dropped")
    }

    /// A handle to this runtime, for other threads.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The I/O backend chosen at `build()`.
    pub fn io_backend(&self) -> IoBackend {
        self.handle.io_backend()
    }

    /// Tasks spawned and not yet finished.
    pub fn live_tasks(&self) -> usize {
        self.executor().live_tasks()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Cancel the tasks first (inside the context, so their destructors may still use
        // the runtime), then fail any I/O object that outlives us.
        let context = context::enter_runtime_for_drop(&self.handle);
        drop(self.executor.take());
        drop(context);
        self.handle.reactor().shutdown();
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("io_backend", &self.io_backend())
            .field("live_tasks", &self.live_tasks())
            .finish()
    }
}

/// Runs `future` on a new default runtime and returns its output (asyncio's
/// `asyncio.run(main())`).
///
/// # Panics
/// If called inside a runtime, or if the runtime cannot be built.
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    if Handle::try_current().is_ok() {
        panic!(
            "trioxide::run called inside a runtime: this would block the thread that drives \
             it. Use `.await` on the future instead, or trioxide::spawn it"
        );
    }
    let rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(err) => panic!("trioxide::run could not build a runtime: {err}"),
    };
    rt.block_on(future)
}
