//! `Runtime::builder()`: flavor, worker threads, I/O backend and debug mode, checked at
//! `build()` with typed errors.

use super::Runtime;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How tasks are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Flavor {
    /// One thread runs everything (asyncio's model).
    CurrentThread,
    /// N workers stealing work from each other (tokio's multi-thread model). The default.
    #[default]
    WorkStealing,
    /// N independent single-threaded executors, one per core (glommio / monoio's model).
    ThreadPerCore,
}

/// Which I/O backend drives sockets and files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Io {
    /// io_uring where the kernel allows it, else epoll; and epoll for
    /// [`Flavor::CurrentThread`], whose ring could not be set up for one thread (see
    /// `docs/io-backends.md`: every socket event another CPU causes would interrupt it).
    #[default]
    Auto,
    /// io_uring, or fail to build.
    IoUring,
    /// epoll.
    Epoll,
}

/// The backend a built runtime actually uses (`Runtime::io_backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoBackend {
    /// Linux epoll.
    Epoll,
    /// Linux io_uring.
    IoUring,
}

impl fmt::Display for IoBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoBackend::Epoll => "epoll",
            IoBackend::IoUring => "io_uring",
        })
    }
}

/// Why `Builder::build` failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The requested configuration is not available in this build or on this kernel.
    #[error("{0}")]
    Unsupported(String),
    /// `worker_threads(0)`.
    #[error("worker_threads must be at least 1 (got 0)")]
    ZeroWorkerThreads,
    /// An option that only `Flavor::CurrentThread` supports (`start_paused`, `seed`): with
    /// several threads, the order of tasks and the moment time may jump are not the
    /// runtime's to decide.
    #[error(
        "Builder::{option} needs Flavor::CurrentThread (got {flavor:?}); add \
         .flavor(Flavor::CurrentThread) (or flavor = \"current_thread\" in the attribute)"
    )]
    NeedsCurrentThread {
        /// The option.
        option: &'static str,
        /// The flavor that was asked for.
        flavor: Flavor,
    },
    /// `max_blocking_threads(0)`.
    #[error("max_blocking_threads must be at least 1 (got 0)")]
    ZeroBlockingThreads,
    /// `Io::IoUring` was asked for, but io_uring cannot be used here.
    #[error("io_uring is unavailable: {reason}; use Io::Auto to fall back to epoll")]
    IoUringUnavailable {
        /// What the probe found (kernel setting, seccomp, memlock limit, missing opcode).
        reason: String,
    },
    /// The OS refused a resource the runtime needs (epoll instance, eventfd, thread).
    #[error("could not create the runtime's {what}: {source}")]
    Io {
        /// What was being created.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Configures and builds a [`Runtime`].
///
/// ```
/// use trioxide::runtime::{Flavor, Io, Runtime};
/// let rt = Runtime::builder().flavor(Flavor::CurrentThread).io(Io::Epoll).build().unwrap();
/// assert_eq!(rt.block_on(async { 40 + 2 }), 42);
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    pub(crate) flavor: Flavor,
    pub(crate) worker_threads: Option<usize>,
    pub(crate) io: Io,
    pub(crate) debug: bool,
    pub(crate) max_blocking_threads: usize,
    pub(crate) thread_keep_alive: Duration,
    pub(crate) thread_name: String,
    pub(crate) cancel_grace: Duration,
    pub(crate) pin_threads: bool,
    pub(crate) slow_poll_threshold: Duration,
    pub(crate) debug_log: Option<crate::debug::LogSink>,
    pub(crate) start_paused: bool,
    pub(crate) seed: Option<u64>,
    pub(crate) hooks: super::UserHooks,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults: work stealing with one worker per core, automatic I/O backend, up
    /// to 512 blocking threads kept 10 s when idle, debug mode from the `TRIOXIDE_DEBUG`
    /// environment variable.
    pub fn new() -> Self {
        let debug = std::env::var_os("TRIOXIDE_DEBUG").is_some_and(|v| v != "0" && !v.is_empty());
        Builder {
            flavor: Flavor::default(),
            worker_threads: None,
            io: Io::default(),
            debug,
            max_blocking_threads: 512,
            thread_keep_alive: Duration::from_secs(10),
            thread_name: "trioxide".into(),
            cancel_grace: crate::cancel::DEFAULT_CANCEL_GRACE,
            pin_threads: false,
            slow_poll_threshold: crate::debug::DEFAULT_SLOW_POLL_THRESHOLD,
            debug_log: None,
            start_paused: false,
            seed: None,
            hooks: super::UserHooks::default(),
        }
    }

    /// Chooses the scheduler flavor.
    pub fn flavor(&mut self, flavor: Flavor) -> &mut Self {
        self.flavor = flavor;
        self
    }

    /// Number of worker threads for the multi-threaded flavors (default: available
    /// parallelism). Ignored by `CurrentThread`.
    pub fn worker_threads(&mut self, n: usize) -> &mut Self {
        self.worker_threads = Some(n);
        self
    }

    /// Chooses the I/O backend.
    pub fn io(&mut self, io: Io) -> &mut Self {
        self.io = io;
        self
    }

    /// Turns debug mode on or off (asyncio's `debug=True`); overrides `TRIOXIDE_DEBUG`.
    pub fn debug(&mut self, on: bool) -> &mut Self {
        self.debug = on;
        self
    }

    /// In debug mode, polls that take at least this long are reported (default 100 ms,
    /// [`DEFAULT_SLOW_POLL_THRESHOLD`](crate::debug::DEFAULT_SLOW_POLL_THRESHOLD)).
    pub fn slow_poll_threshold(&mut self, threshold: Duration) -> &mut Self {
        self.slow_poll_threshold = threshold;
        self
    }

    /// Where debug mode writes its lines (one call per line, without a newline); the
    /// default writes them to stderr. See [`crate::debug`].
    pub fn debug_log(&mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> &mut Self {
        self.debug_log = Some(crate::debug::LogSink(Arc::new(sink)));
        self
    }

    /// Runs `f` on every thread the runtime starts — workers, cores and blocking-pool
    /// threads — before it runs any task (tokio's `on_thread_start`). Setting it again
    /// replaces it.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.hooks.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on every runtime thread as it stops (after its last task).
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.hooks.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Calls `f` for each task spawned, on the spawning thread, before the task first
    /// runs. Any task hook makes the runtime keep a task registry, as debug mode does
    /// (so [`crate::debug::dump`] works too); it composes with debug mode.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// let spawned = Arc::new(AtomicUsize::new(0));
    /// let seen = spawned.clone();
    /// let rt = trioxide::Runtime::builder()
    ///     .on_task_spawn(move |meta| {
    ///         assert!(meta.spawned_at().is_some());
    ///         seen.fetch_add(1, Ordering::Relaxed);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(async { trioxide::spawn(async {}).await.unwrap() });
    /// assert_eq!(spawned.load(Ordering::Relaxed), 1);
    /// ```
    pub fn on_task_spawn(
        &mut self,
        f: impl Fn(&super::TaskMeta<'_>) + Send + Sync + 'static,
    ) -> &mut Self {
        self.hooks.on_task_spawn = Some(Arc::new(f));
        self
    }

    /// Calls `f` once for each task that finishes (returns, panics or is cancelled, also
    /// at shutdown), on the thread that finished it.
    pub fn on_task_terminate(
        &mut self,
        f: impl Fn(&super::TaskMeta<'_>) + Send + Sync + 'static,
    ) -> &mut Self {
        self.hooks.on_task_terminate = Some(Arc::new(f));
        self
    }

    /// Calls `f` just before each poll of a task, on the polling thread (tokio's
    /// `on_before_task_poll`).
    pub fn on_before_task_poll(
        &mut self,
        f: impl Fn(&super::TaskMeta<'_>) + Send + Sync + 'static,
    ) -> &mut Self {
        self.hooks.before_poll = Some(Arc::new(f));
        self
    }

    /// Calls `f` just after each poll of a task returns, on the polling thread.
    pub fn on_after_task_poll(
        &mut self,
        f: impl Fn(&super::TaskMeta<'_>) + Send + Sync + 'static,
    ) -> &mut Self {
        self.hooks.after_poll = Some(Arc::new(f));
        self
    }

    /// Most threads the blocking pool (`to_thread`) may start (default 512).
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread waits for work before it exits (default 10 s).
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.thread_keep_alive = d;
        self
    }

    /// Name prefix of the runtime's threads (default `"trioxide"`).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// How long `on_cancel` cleanups (and shielded work) may run after a cancellation
    /// before they are cut off (default 5 s).
    pub fn cancel_grace(&mut self, grace: Duration) -> &mut Self {
        self.cancel_grace = grace;
        self
    }

    /// Pins each core thread of `Flavor::ThreadPerCore` to its own CPU (default off).
    pub fn pin_threads(&mut self, on: bool) -> &mut Self {
        self.pin_threads = on;
        self
    }

    /// Starts the runtime with its clock paused (virtual time, for tests): time stands
    /// still while tasks run, and whenever every task waits and no I/O is ready the clock
    /// jumps to the next timer, so an hour of timeouts passes in milliseconds. See
    /// [`crate::time::pause`] for the rules. `Flavor::CurrentThread` only.
    pub fn start_paused(&mut self, on: bool) -> &mut Self {
        self.start_paused = on;
        self
    }

    /// Polls ready tasks in an order drawn from `seed` instead of first-come first-served
    /// (`Flavor::CurrentThread` only): the same seed gives the same interleaving, another
    /// seed another one. Sweep seeds with [`crate::testing::explore`] to find order bugs,
    /// then replay the failing seed. Without I/O or other threads the run is
    /// deterministic; wakes from other threads or the kernel arrive when they arrive.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = Some(seed);
        self
    }

    /// Builds the runtime.
    pub fn build(&self) -> Result<Runtime, BuildError> {
        if self.worker_threads == Some(0) {
            return Err(BuildError::ZeroWorkerThreads);
        }
        if self.flavor != Flavor::CurrentThread {
            if self.start_paused {
                return Err(BuildError::NeedsCurrentThread {
                    option: "start_paused",
                    flavor: self.flavor,
                });
            }
            if self.seed.is_some() {
                return Err(BuildError::NeedsCurrentThread {
                    option: "seed",
                    flavor: self.flavor,
                });
            }
        }
        if self.max_blocking_threads == 0 {
            return Err(BuildError::ZeroBlockingThreads);
        }
        let backend = choose_backend(self.io, self.flavor, self.debug)?;
        Runtime::build(self, self.flavor, backend)
    }
}

/// The environment variable that overrides `Io::Auto` (`epoll` or `io_uring`).
pub const IO_ENV: &str = "TRIOXIDE_IO";

/// Picks the I/O backend: `Io::Auto` probes io_uring and falls back to epoll (saying why
/// in debug mode); `TRIOXIDE_IO` overrides `Auto` for tests and users.
///
/// `Auto` gives a CurrentThread runtime epoll. Its thread is whichever calls `block_on`,
/// and may change, so its ring cannot be an owned (`IORING_SETUP_COOP_TASKRUN`) ring: a
/// request's completion work runs on the thread that submitted it, which might then sleep
/// elsewhere. On a plain ring every socket event another CPU causes interrupts the
/// runtime's thread; hyper on CurrentThread took 2.8x tokio's time on io_uring and 0.85x
/// on epoll. `Io::IoUring` still gives it io_uring.
fn choose_backend(io: Io, flavor: Flavor, debug: bool) -> Result<IoBackend, BuildError> {
    let io = match (io, std::env::var(IO_ENV).ok().as_deref()) {
        (Io::Auto, Some("epoll")) => Io::Epoll,
        (Io::Auto, Some("io_uring")) => Io::IoUring,
        (io, _) => io,
    };
    match io {
        Io::Epoll => Ok(IoBackend::Epoll),
        Io::IoUring => match trioxide_reactor::uring::probe() {
            Ok(()) => Ok(IoBackend::IoUring),
            Err(e) => Err(BuildError::IoUringUnavailable { reason: e.reason }),
        },
        Io::Auto if flavor == Flavor::CurrentThread => {
            if debug {
                eprintln!(
                    "trioxide debug: Io::Auto uses epoll on a CurrentThread runtime \
                     (Io::IoUring forces io_uring)"
                );
            }
            Ok(IoBackend::Epoll)
        }
        Io::Auto => match trioxide_reactor::uring::probe() {
            Ok(()) => Ok(IoBackend::IoUring),
            Err(e) => {
                if debug {
                    eprintln!(
                        "trioxide debug: io_uring unavailable ({}); using epoll",
                        e.reason
                    );
                }
                Ok(IoBackend::Epoll)
            }
        },
    }
}

/// A reactor of the chosen backend.
pub(crate) fn new_reactor(
    backend: IoBackend,
) -> Result<std::sync::Arc<trioxide_reactor::Reactor>, BuildError> {
    make_reactor(backend, false)
}

/// A reactor of the chosen backend that one worker thread owns (on io_uring: a ring set
/// up for a single submitter, see `UringDriver::new_owned`).
pub(crate) fn new_owned_reactor(
    backend: IoBackend,
) -> Result<std::sync::Arc<trioxide_reactor::Reactor>, BuildError> {
    make_reactor(backend, true)
}

fn make_reactor(
    backend: IoBackend,
    owned: bool,
) -> Result<std::sync::Arc<trioxide_reactor::Reactor>, BuildError> {
    let made = match (backend, owned) {
        (IoBackend::Epoll, _) => trioxide_reactor::Reactor::epoll(),
        (IoBackend::IoUring, false) => trioxide_reactor::Reactor::io_uring(),
        (IoBackend::IoUring, true) => trioxide_reactor::Reactor::io_uring_owned(),
    };
    made.map_err(|source| BuildError::Io {
        what: match backend {
            IoBackend::Epoll => "epoll instance",
            IoBackend::IoUring => "io_uring instance",
        },
        source,
    })
}
