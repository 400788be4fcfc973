//! The bridge between the task core and the reactor: a `Park` that waits in the I/O
//! driver for at most the time until the next timer, then fires due timers.

use std::sync::Arc;
use std::time::{Duration, Instant};
use trioxide_reactor::Reactor;
use trioxide_reactor::timers::Timers;
use trioxide_task::{Park, Unpark};

/// Parks a scheduler thread in the reactor.
pub(crate) struct ReactorPark {
    pub(crate) reactor: Arc<Reactor>,
    pub(crate) timers: Arc<Timers>,
}

struct ReactorUnpark(Arc<Reactor>);

impl Unpark for ReactorUnpark {
    fn unpark(&self) {
        self.0.unpark();
    }
}

impl ReactorPark {
    fn turn(&self, wait: Option<Duration>) {
        if let Err(err) = self.reactor.turn(wait) {
            // epoll_wait only fails on programming errors (EBADF/EINVAL); report them
            // rather than spinning silently.
            eprintln!("trioxide: the I/O driver failed: {err}");
        }
    }
}

impl Park for ReactorPark {
    fn park(&mut self, timeout: Option<Duration>) {
        if timeout.is_some_and(|t| t.is_zero()) {
            self.turn(timeout);
        } else {
            let next_timer = self.timers.prepare_park(Instant::now());
            let wait = match (timeout, next_timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            self.turn(wait);
            self.timers.finish_park();
        }
        self.timers.process(Instant::now());
    }

    fn unparker(&self) -> Arc<dyn Unpark> {
        Arc::new(ReactorUnpark(self.reactor.clone()))
    }
}
