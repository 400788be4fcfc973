//! Scheduler counters: polls, spawns, steals and parks, counted always and cheaply.
//!
//! Each worker (and each `LocalExecutor`) has an [`OwnerCounters`] block on a cache line
//! of its own, written only by the thread that owns it: an increment is a relaxed load
//! and a relaxed store of the same atomic (no read-modify-write, no shared line), and a
//! reader on another thread sums the blocks. A count read while its owner writes may be
//! one behind; it never goes backwards. Spawns from threads that own no block (a spawn
//! onto the pool from outside it) go to one shared counter with a relaxed `fetch_add`,
//! next to the injector lock such a spawn takes anyway. The design is tokio's per-worker
//! `WorkerMetrics` idea, written for our schedulers.

use crate::loom::sync::atomic::{AtomicU64, Ordering};

/// Counters written by one owner thread only.
#[repr(align(128))]
pub(crate) struct OwnerCounters {
    /// Task polls (including polls that only cancel).
    pub(crate) polls: AtomicU64,
    /// Tasks spawned from the owner thread.
    pub(crate) spawned: AtomicU64,
    /// Tasks taken from another worker's ring or LIFO slot.
    pub(crate) steals: AtomicU64,
    /// Times the owner went to sleep for lack of work.
    pub(crate) parks: AtomicU64,
}

impl OwnerCounters {
    pub(crate) fn new() -> Self {
        OwnerCounters {
            polls: AtomicU64::new(0),
            spawned: AtomicU64::new(0),
            steals: AtomicU64::new(0),
            parks: AtomicU64::new(0),
        }
    }

    /// Adds one to `counter`. Only its owner thread may call this (a concurrent writer
    /// would lose counts; readers are fine).
    #[inline(always)]
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.store(
            counter.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// Adds this block's counts into `into`.
    pub(crate) fn add_to(&self, into: &mut SchedulerMetrics) {
        into.polls += self.polls.load(Ordering::Relaxed);
        into.spawned += self.spawned.load(Ordering::Relaxed);
        into.steals += self.steals.load(Ordering::Relaxed);
        into.parks += self.parks.load(Ordering::Relaxed);
    }
}

/// A counter any thread may add to (spawns from outside the scheduler), on its own line.
#[repr(align(128))]
pub(crate) struct SharedCounter(AtomicU64);

impl SharedCounter {
    pub(crate) fn new() -> Self {
        SharedCounter(AtomicU64::new(0))
    }

    pub(crate) fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One reading of a scheduler's counters (`WorkStealing::metrics`,
/// `LocalExecutor::metrics`, `Spawner::metrics`). Counts are totals since the scheduler
/// was built; `live_tasks` and `injector_depth` are the values now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerMetrics {
    /// Threads polling tasks (1 for a `LocalExecutor`).
    pub workers: usize,
    /// Tasks spawned and not yet finished.
    pub live_tasks: usize,
    /// Tasks spawned in total.
    pub spawned: u64,
    /// Task polls in total.
    pub polls: u64,
    /// Successful steals (work stealing only).
    pub steals: u64,
    /// Times a worker went to sleep for lack of work.
    pub parks: u64,
    /// Tasks waiting in the injection queue (work stealing) or the remote queue (a
    /// `LocalExecutor`).
    pub injector_depth: usize,
}

impl SchedulerMetrics {
    /// The field-by-field sum of two readings (for runtimes made of several schedulers).
    pub fn merge(self, other: SchedulerMetrics) -> SchedulerMetrics {
        SchedulerMetrics {
            workers: self.workers + other.workers,
            live_tasks: self.live_tasks + other.live_tasks,
            spawned: self.spawned + other.spawned,
            polls: self.polls + other.polls,
            steals: self.steals + other.steals,
            parks: self.parks + other.parks,
            injector_depth: self.injector_depth + other.injector_depth,
        }
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;

    #[test]
    fn owner_counters_sum_into_a_reading() {
        let a = OwnerCounters::new();
        OwnerCounters::bump(&a.polls);
        OwnerCounters::bump(&a.polls);
        OwnerCounters::bump(&a.steals);
        let mut m = SchedulerMetrics::default();
        a.add_to(&mut m);
        a.add_to(&mut m);
        assert_eq!((m.polls, m.steals, m.spawned, m.parks), (4, 2, 0, 0));
    }

    #[test]
    fn merge_adds_every_field() {
        let one = SchedulerMetrics {
            workers: 1,
            live_tasks: 2,
            spawned: 3,
            polls: 4,
            steals: 5,
            parks: 6,
            injector_depth: 7,
        };
        let two = one.merge(one);
        assert_eq!(two.workers, 2);
        assert_eq!(two.injector_depth, 14);
        assert_eq!(two.polls, 8);
    }
}
