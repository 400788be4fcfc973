//! Parking: how an idle executor waits for work. The executor only knows [`Park`]; the
//! default [`ThreadPark`] blocks the thread, and the trioxide facade plugs in the reactor
//! (epoll / io_uring wait bounded by the next timer), which is how I/O and timers reach
//! the task core without the task core knowing about I/O.

use crate::loom::sync::{Condvar, Mutex, MutexGuard};
use std::sync::Arc;
use std::time::Duration;

/// Wakes a parked executor from any thread.
pub trait Unpark: Send + Sync + 'static {
    /// Makes the current or next `park` return promptly.
    fn unpark(&self);

    /// Whether the driver has work that a non-blocking `park` should handle before the
    /// worker runs out of tasks (io_uring: completions posted, or submissions from other
    /// threads), as far as it can tell without a system call. A worker that owns its
    /// driver checks this between tasks; `false` (the default) leaves it to the periodic
    /// non-blocking park. Work that is better batched (submissions the worker itself
    /// queued meanwhile) should not count.
    fn needs_early_turn(&self) -> bool {
        false
    }
}

/// Blocks an idle executor until there is work.
pub trait Park {
    /// Waits until unparked, `timeout` elapses (`Some(ZERO)`: just poll for events), or
    /// events arrive; dispatches those events (waking their tasks) before returning.
    fn park(&mut self, timeout: Option<Duration>);

    /// A handle that interrupts `park` from any thread.
    fn unparker(&self) -> Arc<dyn Unpark>;
}

/// Blocks the calling thread on a condvar until unparked; the default for a bare
/// `LocalExecutor` and the driver of CPU-only `WorkStealing` pools. Any thread may park
/// on it (the wake-up is a token, as with `std::thread::park`, but not tied to the
/// thread that created it).
pub struct ThreadPark {
    unparker: Arc<ThreadUnpark>,
}

struct ThreadUnpark {
    notified: Mutex<bool>,
    condvar: Condvar,
}

impl Unpark for ThreadUnpark {
    fn unpark(&self) {
        *self.notified.lock().unwrap() = true;
        self.condvar.notify_one();
    }
}

impl ThreadPark {
    /// A new parker with no pending wake-up.
    pub fn new() -> Self {
        ThreadPark {
            unparker: Arc::new(ThreadUnpark {
                notified: Mutex::new(false),
                condvar: Condvar::new(),
            }),
        }
    }
}

impl Default for ThreadPark {
    fn default() -> Self {
        Self::new()
    }
}

impl Park for ThreadPark {
    fn park(&mut self, timeout: Option<Duration>) {
        let inner = &*self.unparker;
        let mut notified = inner.notified.lock().unwrap();
        match timeout {
            Some(d) if d.is_zero() => {}
            None => {
                while !*notified {
                    notified = inner.condvar.wait(notified).unwrap();
                }
            }
            Some(d) => notified = wait_timeout(inner, notified, d),
        }
        *notified = false;
    }

    fn unparker(&self) -> Arc<dyn Unpark> {
        self.unparker.clone()
    }
}

#[cfg(not(trioxide_loom))]
fn wait_timeout<'a>(
    inner: &ThreadUnpark,
    guard: MutexGuard<'a, bool>,
    timeout: Duration,
) -> MutexGuard<'a, bool> {
    let (guard, _) = inner
        .condvar
        .wait_timeout_while(guard, timeout, |n| !*n)
        .unwrap();
    guard
}

/// Under loom there is no clock: a timed wait is a yield (a spurious return).
#[cfg(trioxide_loom)]
fn wait_timeout<'a>(
    inner: &'a ThreadUnpark,
    guard: MutexGuard<'a, bool>,
    _timeout: Duration,
) -> MutexGuard<'a, bool> {
    drop(guard);
    crate::loom::thread::yield_now();
    inner.notified.lock().unwrap()
}
