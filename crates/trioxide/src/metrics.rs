//! [`RuntimeMetrics`]: what a runtime has done, counted always (debug mode or not) and
//! cheaply — each worker's counters are written only by that worker, on its own cache
//! line, with relaxed loads and stores (`trioxide_task::SchedulerMetrics`); the drivers
//! count their system calls on the thread that makes them; a reading sums them all.
//!
//! Read it with [`Runtime::metrics`](crate::Runtime::metrics) or
//! [`Handle::metrics`](crate::Handle::metrics) from any thread.

use std::fmt;
use std::sync::{Arc, OnceLock};
use trioxide_reactor::Reactor;
use trioxide_reactor::timers::Timers;
use trioxide_task::{BlockingPool, SchedulerMetrics, Spawner, StealSpawner};

/// One reading of a runtime's counters. Totals count since the runtime was built; the
/// `live`/`depth`/`armed`/thread fields are the values now. A reading taken while the
/// runtime runs is not one atomic snapshot: each counter is at least what it was when
/// the reading began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeMetrics {
    /// Threads that poll tasks: workers (`WorkStealing`), cores (`ThreadPerCore`), or 1.
    pub workers: usize,
    /// Tasks spawned and not yet finished (blocking tasks excluded). A task that just
    /// finished on another thread may still count for a moment after its `JoinHandle`
    /// returned.
    pub live_tasks: usize,
    /// Tasks spawned in total (blocking tasks excluded).
    pub spawned_tasks: u64,
    /// Task polls in total.
    pub polls: u64,
    /// Tasks one worker took from another's queue.
    pub steals: u64,
    /// Tasks waiting in the shared injection queue (or the cores' remote queues).
    pub injector_depth: usize,
    /// Times a worker went to sleep for lack of work.
    pub parks: u64,
    /// Timers armed now (`sleep`, `timeout`, intervals).
    pub timers_armed: usize,
    /// I/O operations handed to the kernel: io_uring submission entries, or epoll
    /// registrations.
    pub io_submitted: u64,
    /// I/O completions received: io_uring completion entries, or epoll readiness events.
    pub io_completed: u64,
    /// `io_uring_enter` or `epoll_wait` system calls.
    pub io_driver_calls: u64,
    /// Blocking-pool threads alive (busy or idle).
    pub blocking_threads: usize,
    /// Blocking-pool threads idle, waiting for work.
    pub blocking_idle_threads: usize,
}

impl fmt::Display for RuntimeMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "workers {}, live tasks {}, spawned {}, polls {}, steals {}, injector depth {}, parks {}",
            self.workers,
            self.live_tasks,
            self.spawned_tasks,
            self.polls,
            self.steals,
            self.injector_depth,
            self.parks
        )?;
        write!(
            f,
            "timers armed {}, I/O submitted {}, completed {}, driver calls {}, blocking threads {} ({} idle)",
            self.timers_armed,
            self.io_submitted,
            self.io_completed,
            self.io_driver_calls,
            self.blocking_threads,
            self.blocking_idle_threads
        )
    }
}

/// One scheduler of a runtime.
pub(crate) enum Sched {
    Local(Spawner),
    Steal(StealSpawner),
}

impl Sched {
    fn read(&self) -> SchedulerMetrics {
        match self {
            Sched::Local(s) => s.metrics(),
            Sched::Steal(s) => s.metrics(),
        }
    }
}

/// Everything a reading sums, set once when the runtime is built.
pub(crate) struct SourceList {
    /// The schedulers whose threads count as workers.
    pub(crate) schedulers: Vec<Sched>,
    /// The executor `block_on` runs on, when it is not one of `schedulers` (its tasks
    /// count, its thread does not).
    pub(crate) root: Option<Spawner>,
    /// Every reactor and timer wheel (one per core for `ThreadPerCore`).
    /// Each reactor, with the timers it drives (`None`: a wheel counted with another).
    pub(crate) drivers: Vec<(Arc<Reactor>, Option<Arc<Timers>>)>,
    pub(crate) blocking: BlockingPool,
}

/// The runtime-wide place handles read metrics from (shared by every handle of the
/// runtime, including the cores' own).
#[derive(Default)]
pub(crate) struct Sources(OnceLock<SourceList>);

impl Sources {
    pub(crate) fn set(&self, list: SourceList) {
        if self.0.set(list).is_err() {
            unreachable!("metric sources are set once, at build");
        }
    }

    pub(crate) fn read(&self) -> RuntimeMetrics {
        let Some(list) = self.0.get() else {
            return RuntimeMetrics::default();
        };
        let mut sched = list
            .schedulers
            .iter()
            .map(Sched::read)
            .fold(SchedulerMetrics::default(), SchedulerMetrics::merge);
        if let Some(root) = &list.root {
            let workers = sched.workers;
            sched = sched.merge(root.metrics());
            sched.workers = workers;
        }
        let mut m = RuntimeMetrics {
            workers: sched.workers,
            live_tasks: sched.live_tasks,
            spawned_tasks: sched.spawned,
            polls: sched.polls,
            steals: sched.steals,
            injector_depth: sched.injector_depth,
            parks: sched.parks,
            blocking_threads: list.blocking.threads(),
            blocking_idle_threads: list.blocking.idle_threads(),
            ..RuntimeMetrics::default()
        };
        for (reactor, timers) in &list.drivers {
            let io = reactor.driver_stats();
            m.io_submitted += io.submitted;
            m.io_completed += io.completed;
            m.io_driver_calls += io.waits;
            m.timers_armed += timers.as_ref().map_or(0, |t| t.armed());
        }
        m
    }
}
