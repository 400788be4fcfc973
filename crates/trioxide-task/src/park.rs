//! Parking: how an idle executor waits for work. The executor only knows [`Park`]; the
//! default [`ThreadPark`] blocks the thread, and the trioxide facade plugs in the reactor
//! (epoll / io_uring wait bounded by the next timer), which is how I/O and timers reach
//! the task core without the task core knowing about I/O.

use std::sync::Arc;
use std::time::Duration;

/// Wakes a parked executor from any thread.
pub trait Unpark: Send + Sync + 'static {
    /// Makes the current or next `park` return promptly.
    fn unpark(&self);
}

/// Blocks an idle executor until there is work.
pub trait Park {
    /// Waits until unparked, `timeout` elapses (`Some(ZERO)`: just poll for events), or
    /// events arrive; dispatches those events (waking their tasks) before returning.
    fn park(&mut self, timeout: Option<Duration>);

    /// A handle that interrupts `park` from any thread.
    fn unparker(&self) -> Arc<dyn Unpark>;
}

/// Parks the OS thread (`std::thread::park`); the default for a bare `LocalExecutor`.
pub struct ThreadPark {
    unparker: Arc<ThreadUnpark>,
}

struct ThreadUnpark(crate::loom::thread::Thread);

impl Unpark for ThreadUnpark {
    fn unpark(&self) {
        self.0.unpark();
    }
}

impl ThreadPark {
    /// A parker for the calling thread.
    pub fn new() -> Self {
        ThreadPark {
            unparker: Arc::new(ThreadUnpark(crate::loom::thread::current())),
        }
    }
}

impl Default for ThreadPark {
    fn default() -> Self {
        Self::new()
    }
}

impl Park for ThreadPark {
    #[cfg(not(trioxide_loom))]
    fn park(&mut self, timeout: Option<Duration>) {
        match timeout {
            None => std::thread::park(),
            Some(d) if d.is_zero() => {}
            Some(d) => std::thread::park_timeout(d),
        }
    }

    /// Under loom there is no clock: a timed park is a yield (a spurious wake-up).
    #[cfg(trioxide_loom)]
    fn park(&mut self, timeout: Option<Duration>) {
        match timeout {
            None => crate::loom::thread::park(),
            Some(_) => crate::loom::thread::yield_now(),
        }
    }

    fn unparker(&self) -> Arc<dyn Unpark> {
        self.unparker.clone()
    }
}
