//! Parking a worker: sleep in the driver (epoll/io_uring, bounded by the next timer) if
//! no other worker holds it, else on the worker's own condvar.
//!
//! The driver is one `Park` behind a mutex; `try_lock` decides who drives it. Usually all
//! workers share one driver, so exactly one idle worker waits for I/O and timers while
//! the others sleep cheaply; with a driver per worker
//! (`WorkStealing::with_worker_drivers`) each worker always sleeps in its own. `unpark`
//! knows where the worker sleeps and wakes it the right way (condvar notify, or the
//! driver's cross-thread wake), through a four-state atomic so no wake-up is lost.

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Condvar, Mutex};
use crate::park::{Park, Unpark};
use std::time::Duration;

const EMPTY: usize = 0;
const PARKED_CONDVAR: usize = 1;
const PARKED_DRIVER: usize = 2;
const NOTIFIED: usize = 3;

/// The I/O and timer driver shared by all workers.
pub(crate) struct SharedDriver {
    park: Mutex<Box<dyn Park + Send>>,
    unpark: std::sync::Arc<dyn Unpark>,
    /// Whether one worker owns this driver (`WorkStealing::with_worker_drivers`).
    owned: bool,
}

impl SharedDriver {
    /// A driver shared by every worker.
    pub(crate) fn new(park: Box<dyn Park + Send>) -> Self {
        Self::with_owner(park, false)
    }

    /// A driver of one worker (`owned`) or of all.
    pub(crate) fn with_owner(park: Box<dyn Park + Send>, owned: bool) -> Self {
        let unpark = park.unparker();
        SharedDriver {
            park: Mutex::new(park),
            unpark,
            owned,
        }
    }

    /// Polls for ready I/O and due timers without blocking, if no worker is driving.
    pub(crate) fn poll_nonblocking(&self) {
        if let Ok(mut park) = self.park.try_lock() {
            park.park(Some(Duration::ZERO));
        }
    }
}

/// One worker's parker; clones share it.
#[derive(Clone)]
pub(crate) struct Parker {
    inner: Arc<Inner>,
}

struct Inner {
    state: AtomicUsize,
    mutex: Mutex<()>,
    condvar: Condvar,
    driver: Arc<SharedDriver>,
}

impl Parker {
    pub(crate) fn new(driver: Arc<SharedDriver>) -> Self {
        Parker {
            inner: Arc::new(Inner {
                state: AtomicUsize::new(EMPTY),
                mutex: Mutex::new(()),
                condvar: Condvar::new(),
                driver,
            }),
        }
    }

    /// Sleeps until `unpark` (or, when driving, until I/O, a timer or `timeout`).
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        let inner = &*self.inner;
        if inner
            .state
            .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return;
        }
        if let Ok(mut driver) = inner.driver.park.try_lock() {
            if inner
                .state
                .compare_exchange(EMPTY, PARKED_DRIVER, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                inner.state.swap(EMPTY, Ordering::SeqCst); // notified meanwhile
                return;
            }
            driver.park(timeout);
            inner.state.swap(EMPTY, Ordering::SeqCst);
            return;
        }
        let mut guard = inner.mutex.lock().unwrap();
        if inner
            .state
            .compare_exchange(EMPTY, PARKED_CONDVAR, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            inner.state.swap(EMPTY, Ordering::SeqCst);
            return;
        }
        loop {
            guard = inner.condvar.wait(guard).unwrap();
            if inner
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return;
            }
            // spurious wake-up: keep sleeping
        }
    }

    /// Whether this worker has a driver of its own.
    pub(crate) fn owns_driver(&self) -> bool {
        self.inner.driver.owned
    }

    /// Whether the worker's driver says it has work a non-blocking poll would handle
    /// ([`Unpark::needs_early_turn`]).
    pub(crate) fn driver_needs_early_turn(&self) -> bool {
        self.inner.driver.unpark.needs_early_turn()
    }

    /// Polls this worker's driver for ready I/O and due timers without blocking, unless
    /// another worker is driving it (a shared driver).
    pub(crate) fn poll_driver_nonblocking(&self) {
        self.inner.driver.poll_nonblocking();
    }

    /// Wakes the worker (now, or makes its next `park` return at once).
    pub(crate) fn unpark(&self) {
        let inner = &*self.inner;
        match inner.state.swap(NOTIFIED, Ordering::SeqCst) {
            EMPTY | NOTIFIED => {}
            PARKED_CONDVAR => {
                // Taking the lock orders us after the sleeper's state change.
                drop(inner.mutex.lock().unwrap());
                inner.condvar.notify_one();
            }
            PARKED_DRIVER => inner.driver.unpark.unpark(),
            other => unreachable!("parker state {other}"),
        }
    }
}
