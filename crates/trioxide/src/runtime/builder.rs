//! `Runtime::builder()`: flavor, worker threads, I/O backend and debug mode, checked at
//! `build()` with typed errors.

use super::Runtime;
use std::fmt;

/// How tasks are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Flavor {
    /// One thread runs everything (asyncio's model). The default until the work-stealing
    /// scheduler lands.
    #[default]
    CurrentThread,
    /// N workers stealing work from each other (tokio's multi-thread model).
    WorkStealing,
    /// N independent single-threaded executors, one per core (glommio / monoio's model).
    ThreadPerCore,
}

/// Which I/O backend drives sockets and files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Io {
    /// io_uring where the kernel allows it, else epoll.
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
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// The defaults: current-thread flavor, automatic I/O backend, debug mode from the
    /// `TRIOXIDE_DEBUG` environment variable.
    pub fn new() -> Self {
        let debug = std::env::var_os("TRIOXIDE_DEBUG").is_some_and(|v| v != "0" && !v.is_empty());
        Builder {
            flavor: Flavor::default(),
            worker_threads: None,
            io: Io::default(),
            debug,
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

    /// Builds the runtime.
    pub fn build(&self) -> Result<Runtime, BuildError> {
        if self.worker_threads == Some(0) {
            return Err(BuildError::ZeroWorkerThreads);
        }
        match self.flavor {
            Flavor::CurrentThread => {}
            Flavor::WorkStealing => {
                return Err(BuildError::Unsupported(
                    "Flavor::WorkStealing is not available in this version of trioxide yet; \
                     use Flavor::CurrentThread"
                        .into(),
                ));
            }
            Flavor::ThreadPerCore => {
                return Err(BuildError::Unsupported(
                    "Flavor::ThreadPerCore is not available in this version of trioxide yet; \
                     use Flavor::CurrentThread"
                        .into(),
                ));
            }
        }
        let backend = match self.io {
            Io::Auto | Io::Epoll => IoBackend::Epoll,
            Io::IoUring => {
                return Err(BuildError::Unsupported(
                    "the io_uring backend is not available in this version of trioxide yet; \
                     use Io::Auto or Io::Epoll"
                        .into(),
                ));
            }
        };
        Runtime::new_current_thread(self, backend)
    }
}
