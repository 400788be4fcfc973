//! The bridge between the task core and the reactor: a `Park` that waits in the I/O
//! driver for at most the time until the next timer, then fires due timers.
//!
//! # Paused time (autojump)
//! When the timers' clock is paused (`Builder::start_paused`, `time::pause`), an idle
//! executor does not sleep until the next timer: it *jumps* the clock there, the way
//! Trio's `MockClock(autojump_threshold=0)` and tokio's paused clock do. The rule, checked
//! each time the executor has no ready task:
//! 1. poll the reactor without blocking; if it reports readiness or a completed
//!    operation, dispatch it and do not jump (the woken tasks run first);
//! 2. if a blocking-pool job (`to_thread`) is pending, do not jump: wait for real (its
//!    completion wakes the executor), since the job runs on real time;
//! 3. otherwise jump to the earliest timer's deadline and fire it; with no timer armed,
//!    wait in the reactor for real (only I/O or another thread can wake us).
//!
//! So a task waiting on a socket whose peer is another task of the same runtime is not
//! starved: the peer's write is visible to the non-blocking poll of step 1 before time
//! moves (loopback delivery happens inside the writer's syscall). What the rule cannot
//! see is I/O from *outside* the runtime that has not arrived yet (a remote server, another
//! process, a thread that is not a blocking-pool job): under paused time such a wait races
//! with the jumps, and a timeout around it fires at once in virtual time. Use real time
//! (or `time::resume()`) around such I/O.

use super::worker_io::WorkerIo;
use std::sync::Arc;
use std::time::Duration;
use trioxide_reactor::Reactor;
use trioxide_reactor::timers::Timers;
use trioxide_task::{BlockingPool, Park, Unpark};

/// Parks a scheduler thread in the reactor.
pub(crate) struct ReactorPark {
    reactor: Arc<Reactor>,
    timers: Arc<Timers>,
    /// The runtime's blocking pool: its pending jobs hold back autojumps.
    blocking: Option<BlockingPool>,
    /// With a ring per worker (`worker_io`): this worker's place among the rings. Only
    /// the worker that is the timers' keeper sleeps with their deadline.
    ring: Option<WorkerRing>,
}

/// A WorkStealing worker's place among the rings of `worker_io`.
struct WorkerRing {
    io: Arc<WorkerIo>,
    index: usize,
    /// Each neighbour's ring-turn count at this worker's last look.
    neighbour_turns: Vec<u64>,
}

/// The shorter of two optional waits (`None`: no limit).
fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

struct ReactorUnpark(Arc<Reactor>);

impl Unpark for ReactorUnpark {
    fn unpark(&self) {
        self.0.unpark();
    }

    fn needs_early_turn(&self) -> bool {
        // Not the submissions this worker queued itself: they go to the kernel together
        // when it runs out of tasks or at its periodic poll (flushing them every few
        // tasks cost one system call per few operations).
        self.0.needs_owner_turn()
    }
}

impl ReactorPark {
    /// Parks in `reactor`, firing `timers`; `blocking` is the runtime's pool (if it has
    /// one here), whose pending jobs hold back autojumps.
    pub(crate) fn new(
        reactor: Arc<Reactor>,
        timers: Arc<Timers>,
        blocking: Option<BlockingPool>,
    ) -> ReactorPark {
        ReactorPark {
            reactor,
            timers,
            blocking,
            ring: None,
        }
    }

    /// Parks worker `index` of a runtime with a ring per worker in that worker's ring.
    pub(crate) fn for_worker(
        io: &Arc<WorkerIo>,
        index: usize,
        timers: Arc<Timers>,
        blocking: Option<BlockingPool>,
    ) -> ReactorPark {
        ReactorPark {
            ring: Some(WorkerRing {
                io: io.clone(),
                index,
                neighbour_turns: vec![u64::MAX; io.reactors.len()],
            }),
            ..Self::new(io.reactors[index].clone(), timers, blocking)
        }
    }

    fn turn(&self, wait: Option<Duration>) -> usize {
        match self.reactor.turn(wait) {
            Ok(n) => n,
            Err(err) => {
                // epoll_wait only fails on programming errors (EBADF/EINVAL); report them
                // rather than spinning silently.
                eprintln!("trioxide: the I/O driver failed: {err}");
                0
            }
        }
    }

    /// Parks a worker of a runtime with a ring per worker (`worker_io`): first takes over
    /// what busy neighbours' rings posted; else sleeps in its own ring — with the timers'
    /// deadline if it becomes their keeper, and no longer than `NEIGHBOUR_CHECK` while a
    /// neighbour is awake.
    fn park_worker(&mut self, timeout: Option<Duration>) {
        let Some(ring) = &mut self.ring else { return };
        if ring
            .io
            .dispatch_others(ring.index, &mut ring.neighbour_turns)
            > 0
        {
            return; // run the tasks those events woke first
        }
        let Some(WorkerRing { io, index, .. }) = &self.ring else {
            return;
        };
        let index = *index;
        let timeout = earliest(timeout, Some(io.set_asleep(index, true)));
        if io.try_keep_timers(index) {
            self.park_with_timers(timeout);
            io.release_timers(index);
        } else {
            self.turn(timeout); // another worker keeps the timers
        }
        io.set_asleep(index, false);
    }

    /// Sleeps in the driver no longer than the next timer's deadline (or jumps the paused
    /// clock there).
    fn park_with_timers(&self, timeout: Option<Duration>) {
        if self.timers.clock().is_paused() && self.autojump() {
            return;
        }
        let next_timer = self.timers.prepare_park(self.timers.now());
        self.turn(earliest(timeout, next_timer));
        self.timers.finish_park();
    }

    /// The executor is idle and the clock is paused: dispatch ready I/O, or jump to the
    /// next timer (module docs). Returns `false` if the caller should wait for real.
    fn autojump(&self) -> bool {
        let events = self.turn(Some(Duration::ZERO));
        let fired = self.timers.process(self.timers.now());
        if events > 0 || fired > 0 {
            return true;
        }
        if self
            .blocking
            .as_ref()
            .is_some_and(|pool| pool.pending_jobs() > 0)
        {
            return false;
        }
        self.timers.jump_to_next() > 0
    }
}

impl Park for ReactorPark {
    fn park(&mut self, timeout: Option<Duration>) {
        if let Some(ring) = &self.ring {
            ring.io.count_turn(ring.index);
        }
        if timeout.is_some_and(|t| t.is_zero()) {
            self.turn(timeout);
        } else if self.ring.is_some() {
            self.park_worker(timeout);
        } else {
            self.park_with_timers(timeout);
        }
        self.timers.process(self.timers.now());
    }

    fn unparker(&self) -> Arc<dyn Unpark> {
        Arc::new(ReactorUnpark(self.reactor.clone()))
    }
}
