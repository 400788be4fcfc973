//! The runtime: a scheduler joined to a reactor, timers and a blocking pool, built by
//! [`Builder`].
//!
//! - `CurrentThread`: a `LocalExecutor` that parks in the reactor; everything runs on the
//!   thread that calls `block_on`.
//! - `WorkStealing` (the default): a pool of workers; one idle worker at a time waits in
//!   the reactor. `block_on` runs the root future on the calling thread in a small
//!   `LocalExecutor`, so `spawn_local` works there.

mod affinity;
mod builder;
mod context;
mod hooks;
mod park;
mod per_core;
mod worker_io;

pub use affinity::current_cpu;
pub use builder::{BuildError, Builder, Flavor, IO_ENV, Io, IoBackend};
pub use context::{Handle, NoRuntime, SpawnOnError};
pub(crate) use context::{clock_now, current_records_spawns, with_current, with_local_uring_ops};
pub use hooks::TaskMeta;
pub(crate) use hooks::{TaskHookFn, UserHooks};

use context::SpawnTarget;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trioxide_reactor::time::Clock;
use trioxide_reactor::timers::Timers;
use trioxide_task::{
    BlockingConfig, BlockingPool, JoinHandle, LocalExecutor, Seeded, TaskHooks, ThreadPark,
    WorkStealing, WorkStealingConfig,
};

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
/// runtime's own threads), stops the blocking pool and shuts the reactor down, so I/O
/// objects that outlive it fail with an error instead of hanging.
pub struct Runtime {
    /// Runs the root future (and, for `CurrentThread`, every task). `Some` until drop.
    local: Option<RootExecutor>,
    /// The workers of `WorkStealing`.
    pool: Option<WorkStealing>,
    /// The cores of `ThreadPerCore`.
    cores: Option<per_core::Cores>,
    blocking: BlockingPool,
    handle: Handle,
    /// Debug mode's stuck-poll watchdog (stopped on drop).
    watchdog: Option<crate::debug::watchdog::Watchdog>,
}

impl Runtime {
    /// A runtime with the default configuration (work stealing, one worker per core).
    pub fn new() -> Result<Runtime, BuildError> {
        Builder::new().build()
    }

    /// Configure a runtime.
    ///
    /// ```
    /// use trioxide::runtime::{Flavor, Io, Runtime};
    ///
    /// let rt = Runtime::builder()
    ///     .flavor(Flavor::WorkStealing)
    ///     .worker_threads(2)
    ///     .io(Io::Auto) // io_uring where the kernel allows it, else epoll
    ///     .build()
    ///     .expect("the runtime builds");
    /// println!("I/O backend: {}", rt.io_backend());
    /// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    pub(crate) fn build(
        builder: &Builder,
        flavor: Flavor,
        backend: IoBackend,
    ) -> Result<Runtime, BuildError> {
        let workers = builder.worker_threads.unwrap_or_else(default_workers);
        // WorkStealing on io_uring: a ring per worker (see `worker_io`); the first one is
        // also the runtime's reactor, for threads that are not workers.
        let worker_io = (flavor == Flavor::WorkStealing && backend == IoBackend::IoUring)
            .then(|| {
                (0..workers)
                    .map(|_| builder::new_owned_reactor(backend))
                    .collect::<Result<Vec<_>, _>>()
                    .map(worker_io::WorkerIo::new)
            })
            .transpose()?;
        let reactor = match &worker_io {
            Some(io) => io.reactors[0].clone(),
            None => builder::new_reactor(backend)?,
        };
        let timers = Timers::with_clock(Clock::new(builder.start_paused));
        let user = &builder.hooks;
        let blocking = BlockingPool::with_thread_hooks(
            BlockingConfig {
                max_threads: builder.max_blocking_threads,
                keep_alive: builder.thread_keep_alive,
                thread_name: format!("{}-blocking", builder.thread_name),
            },
            user.on_thread_start.clone(),
            user.on_thread_stop.clone(),
        );
        let driver =
            park::ReactorPark::new(reactor.clone(), timers.clone(), Some(blocking.clone()));
        let debug_log = builder.debug.then(|| crate::debug::hooks::DebugLog {
            slow_poll: builder.slow_poll_threshold,
            sink: builder
                .debug_log
                .clone()
                .unwrap_or_else(crate::debug::LogSink::stderr),
        });
        let hooks = crate::debug::hooks::RuntimeHooks::for_runtime(debug_log, user);
        let metrics = Arc::new(crate::metrics::Sources::default());
        let handle = Handle {
            shared: Arc::new(context::Shared {
                spawn: std::sync::OnceLock::new(),
                blocking: blocking.clone(),
                reactor: reactor.clone(),
                timers: timers.clone(),
                backend,
                flavor,
                debug: builder.debug,
                hooks: hooks.clone(),
                metrics: metrics.clone(),
                cancel_grace: builder.cancel_grace,
                cores: None,
                worker_io: worker_io.clone(),
            }),
        };
        let mut cores = None;
        let (local, pool, target) = match flavor {
            Flavor::CurrentThread => {
                let local = match builder.seed {
                    Some(seed) => RootExecutor::Seeded(LocalExecutor::with_policy_and_hooks(
                        driver,
                        Seeded::new(seed),
                        hooks.clone().map(|h| h as Arc<dyn TaskHooks>),
                    )),
                    None => RootExecutor::Fifo(local_executor(driver, &hooks)),
                };
                let target = SpawnTarget::Local(local.spawner());
                (local, None, target)
            }
            Flavor::WorkStealing => {
                // Workers enter the runtime context as they start. The hook holds a weak
                // reference so the pool does not keep its own handle alive.
                let weak = Arc::downgrade(&handle.shared);
                let (on_start, on_stop) = (user.clone(), user.clone());
                let config = WorkStealingConfig {
                    workers,
                    thread_name: builder.thread_name.clone(),
                    on_thread_start: Some(Arc::new(move || {
                        context::enter_worker_thread(&weak);
                        on_start.thread_started();
                    })),
                    on_thread_stop: Some(Arc::new(move || {
                        on_stop.thread_stopping();
                        context::leave_worker_thread();
                    })),
                    hooks: hooks.clone().map(|h| h as Arc<dyn TaskHooks>),
                };
                let started = match &worker_io {
                    Some(io) => {
                        let drivers = (0..workers)
                            .map(|index| {
                                Box::new(park::ReactorPark::for_worker(
                                    io,
                                    index,
                                    timers.clone(),
                                    Some(blocking.clone()),
                                ))
                                    as Box<dyn trioxide_task::Park + Send>
                            })
                            .collect();
                        WorkStealing::with_worker_drivers(config, drivers)
                    }
                    None => WorkStealing::new(config, Box::new(driver)),
                };
                let pool = started.map_err(|source| BuildError::Io {
                    what: "worker threads",
                    source,
                })?;
                let target = SpawnTarget::Steal(pool.spawner());
                (
                    RootExecutor::Fifo(local_executor(ThreadPark::new(), &hooks)),
                    Some(pool),
                    target,
                )
            }
            Flavor::ThreadPerCore => {
                let n = builder.worker_threads.unwrap_or_else(default_workers);
                let started = per_core::start(builder, n, backend, &blocking, &hooks, &metrics)?;
                let target = SpawnTarget::RoundRobin(
                    started.spawners.clone(),
                    std::sync::atomic::AtomicUsize::new(0),
                );
                cores = Some(started);
                // The calling thread drives its own reactor for the root future.
                (
                    RootExecutor::Fifo(local_executor(driver, &hooks)),
                    None,
                    target,
                )
            }
        };
        if handle.shared.spawn.set(target).is_err() {
            unreachable!("the spawn target is set once");
        }
        let mut handle = handle;
        if let Some(started) = &cores {
            Arc::get_mut(&mut handle.shared)
                .expect("not shared yet")
                .cores = Some(started.spawners.clone());
        }
        metrics.set(sources(&local, pool.as_ref(), cores.as_ref(), &handle));
        let watchdog = hooks
            .as_ref()
            .and_then(|h| crate::debug::watchdog::Watchdog::start(h, &builder.thread_name));
        Ok(Runtime {
            local: Some(local),
            pool,
            cores,
            blocking,
            handle,
            watchdog,
        })
    }

    /// Runs `future` to completion on this thread, driving the runtime meanwhile.
    ///
    /// # Panics
    /// If called from inside a runtime (use `.await` there).
    ///
    /// ```
    /// let rt = trioxide::Runtime::new().unwrap();
    /// let out = rt.block_on(async {
    ///     trioxide::time::sleep(std::time::Duration::from_millis(1)).await;
    ///     "slept"
    /// });
    /// assert_eq!(out, "slept");
    /// ```
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _context = context::enter_runtime(&self.handle);
        self.local().block_on(future)
    }

    /// Spawns a task on the runtime.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the runtime's blocking pool (see [`crate::to_thread`]).
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    fn local(&self) -> &RootExecutor {
        self.local
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

    /// The scheduler flavor.
    pub fn flavor(&self) -> Flavor {
        self.handle.flavor()
    }

    /// The runtime's counters (see [`RuntimeMetrics`](crate::metrics::RuntimeMetrics)):
    /// tasks, polls, steals, parks, timers, I/O and blocking threads, counted always.
    pub fn metrics(&self) -> crate::metrics::RuntimeMetrics {
        self.handle.metrics()
    }

    /// The live task tree (see [`crate::debug::dump`]).
    pub fn dump(&self) -> crate::debug::TaskDump {
        self.handle.dump()
    }

    /// Tasks spawned and not yet finished.
    pub fn live_tasks(&self) -> usize {
        self.local().live_tasks() + self.pool.as_ref().map_or(0, WorkStealing::live_tasks)
    }

    /// Shuts down, waiting at most `timeout` for the workers and blocking threads: every
    /// task is cancelled (its future dropped on a worker); a thread still busy when the
    /// time runs out (a blocking task) is left detached. Returns whether everything
    /// stopped in time.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> bool {
        self.shutdown(timeout)
    }

    fn shutdown(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let left = || {
            deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            })
        };
        let mut in_time = true;
        if let Some(mut cores) = self.cores.take() {
            in_time &= cores.shutdown(deadline);
        }
        if let Some(pool) = self.pool.take() {
            in_time &= pool.shutdown_timeout(left());
            if in_time {
                drop(pool);
            } else {
                std::mem::forget(pool); // its busy worker still runs; never join it
            }
        }
        // Cancel the root executor's tasks inside the context, so their destructors may
        // still use the runtime.
        let context = context::enter_runtime_for_drop(&self.handle);
        drop(self.local.take());
        drop(context);
        in_time &= self.blocking.shutdown(left());
        self.handle.shutdown_reactors();
        drop(self.watchdog.take());
        in_time
    }
}

/// The executor that runs `block_on`'s root future: FIFO, or seeded for
/// `Builder::seed` (a type parameter, so the default keeps its static dispatch).
enum RootExecutor {
    Fifo(LocalExecutor),
    Seeded(LocalExecutor<Seeded>),
}

impl RootExecutor {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        match self {
            RootExecutor::Fifo(ex) => ex.block_on(future),
            RootExecutor::Seeded(ex) => ex.block_on(future),
        }
    }

    fn spawner(&self) -> trioxide_task::Spawner {
        match self {
            RootExecutor::Fifo(ex) => ex.spawner(),
            RootExecutor::Seeded(ex) => ex.spawner(),
        }
    }

    fn live_tasks(&self) -> usize {
        match self {
            RootExecutor::Fifo(ex) => ex.live_tasks(),
            RootExecutor::Seeded(ex) => ex.live_tasks(),
        }
    }
}

/// What `metrics()` sums for a runtime of these parts.
fn sources(
    local: &RootExecutor,
    pool: Option<&WorkStealing>,
    cores: Option<&per_core::Cores>,
    handle: &Handle,
) -> crate::metrics::SourceList {
    use crate::metrics::Sched;
    let top = (handle.shared.reactor.clone(), handle.timers().clone());
    let (schedulers, root, drivers) = match (pool, cores) {
        (Some(pool), _) => (
            vec![Sched::Steal(pool.spawner())],
            Some(local.spawner()),
            match &handle.shared.worker_io {
                // One wheel: count its timers once, with the first ring.
                Some(io) => (io.reactors.iter().cloned())
                    .zip(
                        std::iter::once(Some(handle.timers().clone()))
                            .chain(std::iter::repeat(None)),
                    )
                    .collect(),
                None => vec![(top.0, Some(top.1))],
            },
        ),
        (None, Some(cores)) => {
            let mut drivers = vec![(top.0, Some(top.1))];
            drivers.extend(
                cores
                    .drivers
                    .iter()
                    .map(|(r, t)| (r.clone(), Some(t.clone()))),
            );
            let schedulers = cores.spawners.iter().cloned().map(Sched::Local).collect();
            (schedulers, Some(local.spawner()), drivers)
        }
        (None, None) => (
            vec![Sched::Local(local.spawner())],
            None,
            vec![(top.0, Some(top.1))],
        ),
    };
    crate::metrics::SourceList {
        schedulers,
        root,
        drivers,
        blocking: handle.shared.blocking.clone(),
    }
}

/// A `LocalExecutor` over `park`, with the runtime's task hooks when there are any.
pub(crate) fn local_executor(
    park: impl trioxide_task::Park + 'static,
    hooks: &Option<Arc<crate::debug::hooks::RuntimeHooks>>,
) -> LocalExecutor {
    match hooks {
        Some(hooks) => LocalExecutor::with_hooks(park, hooks.clone()),
        None => LocalExecutor::with_park(park),
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.local.is_some() {
            self.shutdown(Duration::MAX);
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("flavor", &self.flavor())
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
///
/// ```
/// let answer = trioxide::run(async {
///     let task = trioxide::spawn(async { 40 + 2 });
///     task.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
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
