//! The runtime context of the current thread: which runtime's `Handle` `spawn`, `sleep`
//! and the sockets use. Set by `block_on` for its duration, so code inside a runtime finds
//! it and code outside gets a clear error.

use super::builder::{Flavor, IoBackend};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use trioxide_reactor::Reactor;
use trioxide_reactor::timers::Timers;
use trioxide_task::{BlockingPool, JoinHandle, Spawner, StealSpawner};

/// Where `spawn` sends tasks.
pub(crate) enum SpawnTarget {
    /// The current-thread executor.
    Local(Spawner),
    /// The work-stealing pool.
    Steal(StealSpawner),
    /// The cores of a thread-per-core runtime, round-robin (from outside the cores).
    RoundRobin(Arc<[Spawner]>, std::sync::atomic::AtomicUsize),
}

/// What a handle reaches: the scheduler, the reactor and the timers.
pub(crate) struct Shared {
    /// Set once, right after the scheduler is built.
    pub(crate) spawn: std::sync::OnceLock<SpawnTarget>,
    pub(crate) blocking: BlockingPool,
    pub(crate) flavor: Flavor,
    pub(crate) reactor: Arc<Reactor>,
    pub(crate) timers: Arc<Timers>,
    pub(crate) backend: IoBackend,
    pub(crate) debug: bool,
    /// The task hooks (debug mode and/or user task hooks): present iff spawns are
    /// recorded.
    pub(crate) hooks: Option<Arc<crate::debug::hooks::RuntimeHooks>>,
    /// Where `metrics()` reads from (shared by all of the runtime's handles).
    pub(crate) metrics: Arc<crate::metrics::Sources>,
    pub(crate) cancel_grace: std::time::Duration,
    /// Every core's spawner, for `spawn_on` (thread-per-core only).
    pub(crate) cores: Option<Arc<[Spawner]>>,
    /// The workers' own rings (WorkStealing on io_uring; `reactor` is the first of them).
    pub(crate) worker_io: Option<Arc<super::worker_io::WorkerIo>>,
}

/// A cheap, clonable, `Send + Sync` reference to a runtime: spawn onto it from any
/// thread, or find the current one with [`Handle::current`].
#[derive(Clone)]
pub struct Handle {
    pub(crate) shared: Arc<Shared>,
}

/// Why [`Handle::spawn_on`] could not spawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnOnError {
    /// The runtime is not `Flavor::ThreadPerCore`.
    #[error("spawn_on needs a Flavor::ThreadPerCore runtime; use spawn on other flavors")]
    NotThreadPerCore,
    /// `core` is out of range.
    #[error("there is no core {core}: the runtime has {cores} cores (0..{cores})")]
    NoSuchCore {
        /// The requested core.
        core: usize,
        /// How many cores there are.
        cores: usize,
    },
}

/// The error of [`Handle::try_current`]: this thread is not inside a trioxide runtime.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no trioxide runtime is running on this thread; wrap the code in trioxide::run(..)")]
pub struct NoRuntime;

thread_local! {
    static CURRENT: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

impl Handle {
    /// The runtime running on this thread.
    ///
    /// # Panics
    /// Outside a runtime, with a message saying what to do; see [`Handle::try_current`].
    #[track_caller]
    pub fn current() -> Handle {
        match Self::try_current() {
            Ok(h) => h,
            Err(_) => panic!(
                "Handle::current called outside a runtime; wrap the code in trioxide::run(..)"
            ),
        }
    }

    /// The runtime running on this thread, or an error (never panics).
    pub fn try_current() -> Result<Handle, NoRuntime> {
        CURRENT.with(|c| c.borrow().clone()).ok_or(NoRuntime)
    }

    /// Spawns a task on this runtime, from any thread.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        self.spawn_named(None, Location::caller(), future)
    }

    /// `spawn`, recording `name` and `at` when the runtime records spawns.
    pub(crate) fn spawn_named<F>(
        &self,
        name: Option<Cow<'static, str>>,
        at: &'static Location<'static>,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        self.spawn_with_meta(
            || crate::debug::SpawnMeta {
                name,
                at: Some(at),
                parent: None,
            },
            future,
        )
    }

    /// `spawn`, handing `meta()` to the task hooks when the runtime records spawns.
    pub(crate) fn spawn_with_meta<F>(
        &self,
        meta: impl FnOnce() -> crate::debug::SpawnMeta,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        if self.shared.hooks.is_some() {
            crate::debug::with_spawn_meta(meta(), || self.spawn_inner(future))
        } else {
            self.spawn_inner(future)
        }
    }

    /// Calls `f` with the scheduler that `spawn` would start a task on (how scopes spawn
    /// their parallel children without boxing them), inside the spawn context that the
    /// task hooks read when the runtime records spawns.
    pub(crate) fn with_spawner<R>(
        &self,
        meta: impl FnOnce() -> crate::debug::SpawnMeta,
        f: impl FnOnce(trioxide_task::SpawnerRef<'_>) -> R,
    ) -> R {
        let spawn = || self.with_target(f);
        if self.shared.hooks.is_some() {
            crate::debug::with_spawn_meta(meta(), spawn)
        } else {
            spawn()
        }
    }

    fn spawn_inner<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        self.with_target(|spawner| spawner.spawn(future))
    }

    /// Runs `f` with the scheduler a new task goes to: the executor or pool, or the next
    /// core round-robin (thread-per-core, from outside the cores).
    fn with_target<R>(&self, f: impl FnOnce(trioxide_task::SpawnerRef<'_>) -> R) -> R {
        match self
            .shared
            .spawn
            .get()
            .expect("the scheduler is built with the handle")
        {
            SpawnTarget::Local(s) => f(s.into()),
            SpawnTarget::Steal(s) => f(s.into()),
            SpawnTarget::RoundRobin(cores, next) => {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % cores.len();
                f((&cores[i]).into())
            }
        }
    }

    /// Spawns a task on core `core` of a thread-per-core runtime.
    #[track_caller]
    pub fn spawn_on<F>(&self, core: usize, future: F) -> Result<JoinHandle<F::Output>, SpawnOnError>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        let cores = self
            .shared
            .cores
            .as_ref()
            .ok_or(SpawnOnError::NotThreadPerCore)?;
        let spawner = cores.get(core).ok_or(SpawnOnError::NoSuchCore {
            core,
            cores: cores.len(),
        })?;
        if self.shared.hooks.is_some() {
            let meta = crate::debug::SpawnMeta {
                at: Some(Location::caller()),
                ..Default::default()
            };
            Ok(crate::debug::with_spawn_meta(meta, || {
                spawner.spawn(future)
            }))
        } else {
            Ok(spawner.spawn(future))
        }
    }

    /// Number of cores of a thread-per-core runtime (`None` for other flavors).
    pub fn cores(&self) -> Option<usize> {
        self.shared.cores.as_ref().map(|c| c.len())
    }

    /// Runs a blocking closure on this runtime's blocking pool.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.shared.blocking.spawn_blocking(f)
    }

    /// The scheduler flavor of this runtime.
    pub fn flavor(&self) -> Flavor {
        self.shared.flavor
    }

    /// The I/O backend this runtime uses.
    pub fn io_backend(&self) -> IoBackend {
        self.shared.backend
    }

    /// How long cancellation cleanups may run (`Builder::cancel_grace`).
    pub fn cancel_grace(&self) -> std::time::Duration {
        self.shared.cancel_grace
    }

    /// Whether debug mode is on.
    pub fn is_debug(&self) -> bool {
        self.shared.debug
    }

    /// The live task tree of this runtime (see [`crate::debug::dump`]): empty, saying how
    /// to turn it on, unless debug mode (or a user task hook) is on.
    pub fn dump(&self) -> crate::debug::TaskDump {
        crate::debug::dump_of(self.shared.hooks.as_deref())
    }

    /// The runtime's counters (see [`RuntimeMetrics`](crate::metrics::RuntimeMetrics)),
    /// from any thread, debug mode or not.
    pub fn metrics(&self) -> crate::metrics::RuntimeMetrics {
        self.shared.metrics.read()
    }

    /// The reactor that I/O objects created on this thread register with: on a worker
    /// with its own ring, that ring (see `worker_io`); otherwise the runtime's.
    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        if let Some(io) = &self.shared.worker_io
            && let Some(SpawnTarget::Steal(pool)) = self.shared.spawn.get()
            && let Some(index) = pool.current_worker()
        {
            return io.reactor(index);
        }
        &self.shared.reactor
    }

    /// Every reactor of the runtime's schedulers (one, or one per worker ring).
    pub(crate) fn shutdown_reactors(&self) {
        match &self.shared.worker_io {
            Some(io) => io.shutdown(),
            None => self.shared.reactor.shutdown(),
        }
    }

    /// A timer sooner than the sleeping driver's wake-up was armed: wake that driver.
    pub(crate) fn unpark_timer_driver(&self) {
        match &self.shared.worker_io {
            Some(io) => io.unpark_timer_keeper(),
            None => self.shared.reactor.unpark(),
        }
    }

    pub(crate) fn timers(&self) -> &Arc<Timers> {
        &self.shared.timers
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("io_backend", &self.shared.backend)
            .finish()
    }
}

/// Restores the previous context on drop (unless it never replaced it).
pub(crate) struct ContextGuard {
    prev: Option<Handle>,
    restore: bool,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if self.restore {
            let prev = self.prev.take();
            CURRENT.with(|c| *c.borrow_mut() = prev);
        }
    }
}

/// The io_uring operations to submit an operation on a descriptor registered with `home`
/// through: on a worker of a WorkStealing runtime with a ring per worker (`worker_io`)
/// that `home` belongs to, the *current* worker's ring — only a ring's own worker submits
/// to it, so an op pushed to another worker's ring would wait for that worker's next
/// check — else `home`'s own.
///
/// `f(ops, arg)` is called with that ring borrowed, not cloned (an op submitted through it
/// holds the ring itself). When `home` does not run on io_uring, `f` is not called and
/// `arg` comes back as the error.
pub(crate) fn with_local_uring_ops<A, R>(
    home: &Arc<Reactor>,
    arg: A,
    f: impl FnOnce(&trioxide_reactor::uring::UringOps, A) -> R,
) -> Result<R, A> {
    CURRENT
        .with(|c| {
            let current = c.try_borrow().ok();
            let local = current.as_ref().and_then(|current| {
                let handle = current.as_ref()?;
                let own = handle.reactor();
                // The common case: the descriptor is registered with this very ring.
                if !Arc::ptr_eq(own, home) {
                    let io = handle.shared.worker_io.as_ref()?;
                    // Not on a worker of `home`'s runtime: another runtime's descriptor.
                    io.reactors
                        .iter()
                        .any(|r| Arc::ptr_eq(r, home))
                        .then_some(())?;
                }
                own.uring_ops()
            });
            match local {
                Some(ops) => Ok(f(ops, arg)),
                None => Err((arg, f)),
            }
        })
        .or_else(|(arg, f)| match home.uring_ops() {
            Some(ops) => Ok(f(ops, arg)),
            None => Err(arg),
        })
}

/// The advice for a nested `run`/`block_on`.
const NESTED_RUN: &str = "trioxide::run (or Runtime::block_on) called inside a runtime: this \
    would block the thread that drives it. Use `.await` on the future instead, or \
    trioxide::spawn it";

/// Makes `handle` the current runtime, panicking if one is already running here.
#[track_caller]
pub(crate) fn enter_runtime(handle: &Handle) -> ContextGuard {
    // Borrowed means we are inside `with_current`'s callback: a runtime is current.
    let prev = CURRENT.with(|c| c.try_borrow_mut().map(|mut c| c.replace(handle.clone())));
    match prev {
        Ok(None) => ContextGuard {
            prev: None,
            restore: true,
        },
        Ok(prev) => {
            CURRENT.with(|c| *c.borrow_mut() = prev);
            panic!("{NESTED_RUN}");
        }
        Err(_) => panic!("{NESTED_RUN}"),
    }
}

/// The current instant on this thread's runtime clock (the system clock outside a
/// runtime).
pub(crate) fn clock_now() -> std::time::Instant {
    CURRENT
        .try_with(|c| match c.try_borrow().ok().as_deref() {
            Some(Some(handle)) => Some(handle.shared.timers.now()),
            _ => None,
        })
        .ok()
        .flatten()
        .unwrap_or_else(std::time::Instant::now)
}

/// Whether this thread is inside a runtime that records spawns (debug mode or user task
/// hooks; no reference counting).
pub(crate) fn current_records_spawns() -> bool {
    CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|h| h.shared.hooks.is_some())
    })
}

/// Runs `f` with the current handle, or panics with `what` and the usual advice.
///
/// `f` borrows the thread's handle instead of a clone of it: a clone would be two atomic
/// operations on the runtime's one shared reference count, from every worker, on every
/// spawn and every new timer.
#[track_caller]
pub(crate) fn with_current<R>(what: &str, f: impl FnOnce(&Handle) -> R) -> R {
    CURRENT.with(|c| match c.borrow().as_ref() {
        Some(h) => f(h),
        None => panic!("{what} called outside a runtime; wrap the code in trioxide::run(..)"),
    })
}

/// Like `enter_runtime`, but tolerates an outer context (a runtime dropped inside another
/// runtime's task) by simply replacing it for the duration. Inside `with_current`'s
/// callback (a future dropped by a refused spawn, say) the context cannot be replaced and
/// is left as it is.
pub(crate) fn enter_runtime_for_drop(handle: &Handle) -> ContextGuard {
    let prev = CURRENT.with(|c| c.try_borrow_mut().map(|mut c| c.replace(handle.clone())));
    match prev {
        Ok(prev) => ContextGuard {
            prev,
            restore: true,
        },
        Err(_) => ContextGuard {
            prev: None,
            restore: false,
        },
    }
}

/// Makes a worker thread part of its runtime for the thread's whole life.
pub(crate) fn enter_worker_thread(shared: &std::sync::Weak<Shared>) {
    let handle = shared.upgrade().map(|shared| Handle { shared });
    CURRENT.with(|c| *c.borrow_mut() = handle);
}

/// Clears a worker thread's runtime context before it exits.
pub(crate) fn leave_worker_thread() {
    let handle = CURRENT.with(|c| c.borrow_mut().take());
    drop(handle);
}
