//! One io_uring ring per worker for `Flavor::WorkStealing`.
//!
//! io_uring runs a request's completion work (the task work that posts a poll's CQE, or
//! finishes a receive) on the thread that *submitted* it. With one ring shared by every
//! worker, whichever worker happened to wait in the ring submitted each socket's poll, so
//! most events first had to wake that other thread just to post their CQE, then the waiter
//! — two wake-ups per event, and a WorkStealing echo server ran at a third of tokio's
//! speed. Here each worker owns a ring: it is the only thread that waits on it and (apart
//! from a full queue) the only one that submits to it, so a socket's events are handled on
//! the worker that registered it, inside that worker's own wait.
//!
//! - **Which ring.** [`Handle::reactor`](super::Handle) gives the current worker's ring on
//!   a worker thread, and the first worker's elsewhere (the `block_on` thread, blocking
//!   pool threads), whose worker then submits for them. A socket keeps the ring it was
//!   registered with; a task woken by that ring's events is queued on its worker, so a
//!   connection's task settles where its socket lives, and stealing still spreads load.
//! - **Parking.** Every worker sleeps in its own ring (woken through the ring's eventfd),
//!   never on a condvar.
//! - **Busy neighbours.** A worker checks its ring between tasks (a load of the ring's
//!   shared memory, no system call) and dispatches whatever it posted. Before sleeping, a
//!   worker also dispatches the completions already posted on the other rings; while any
//!   neighbour is awake it sleeps at most [`NEIGHBOUR_CHECK`] and looks again. A
//!   neighbour that stayed awake without turning its ring for that long is stuck in one
//!   poll: then the idle worker also submits what the stuck one queued. So a blocked
//!   worker delays its sockets' events by about `NEIGHBOUR_CHECK`, not for as long as it
//!   blocks (blocking code still belongs in `to_thread`).
//! - **Timers** stay one wheel. One parked worker at a time is its *keeper*: it sleeps no
//!   longer than the next deadline, and a sooner timer armed meanwhile unparks it
//!   ([`WorkerIo::unpark_timer_keeper`]). The others sleep until I/O or an unpark; every
//!   worker fires due timers whenever it wakes or polls its ring.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use trioxide_reactor::Reactor;

/// `timer_keeper` when no worker is the keeper.
const NO_KEEPER: usize = 0;

/// How long an idle worker sleeps at most while another worker is running: then it
/// looks after that worker's ring (`dispatch_others`), in case it is stuck in one poll.
pub(crate) const NEIGHBOUR_CHECK: Duration = Duration::from_millis(10);

/// The longest a worker sleeps in its ring, whatever else: a safety net. Every wake-up
/// has its path (I/O, an unpark, the timer keeper's deadline). One cancellation test
/// hung once under heavy CI load: a neighbour's `dispatch_others` had reaped a
/// worker's unpark (the timer keeper's, or shutdown's) just before that worker waited
/// (fixed in the io_uring driver, which now keeps such a wake-up for its waiter; see
/// `a_neighbour_reaping_the_keepers_ring_does_not_lose_its_unpark`). The net stays
/// because an idle worker that looks around four times a second costs nothing
/// measurable and would turn a wake-up bug not yet found into a delay.
pub(crate) const MAX_SLEEP: Duration = Duration::from_millis(250);

/// The rings of a WorkStealing runtime's workers.
pub(crate) struct WorkerIo {
    /// Worker `i`'s reactor at index `i`.
    pub(crate) reactors: Box<[Arc<Reactor>]>,
    /// The worker sleeping with the timers' deadline, plus one (`NO_KEEPER`: none).
    timer_keeper: AtomicUsize,
    /// Whether worker `i` is asleep in its ring.
    asleep: Box<[AtomicBool]>,
    /// How many times worker `i` turned its ring: a neighbour that sees no change over a
    /// `NEIGHBOUR_CHECK` while the worker is awake knows it is stuck in a poll.
    turns: Box<[AtomicU64]>,
}

impl WorkerIo {
    pub(crate) fn new(reactors: Vec<Arc<Reactor>>) -> Arc<WorkerIo> {
        let asleep = reactors.iter().map(|_| AtomicBool::new(false)).collect();
        let turns = reactors.iter().map(|_| AtomicU64::new(0)).collect();
        Arc::new(WorkerIo {
            reactors: reactors.into(),
            timer_keeper: AtomicUsize::new(NO_KEEPER),
            asleep,
            turns,
        })
    }

    /// Makes worker `index` the timer keeper if there is none; `true` if it now is.
    pub(crate) fn try_keep_timers(&self, index: usize) -> bool {
        self.timer_keeper
            .compare_exchange(NO_KEEPER, index + 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Worker `index` stops keeping the timers.
    pub(crate) fn release_timers(&self, index: usize) {
        let _ = self.timer_keeper.compare_exchange(
            index + 1,
            NO_KEEPER,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
    }

    /// A timer sooner than the keeper's wake-up was armed: wake the keeper so it
    /// recomputes its timeout. (A keeper that already woke gets a spurious wake-up, and
    /// one that takes over later reads the new timer itself.)
    pub(crate) fn unpark_timer_keeper(&self) {
        let keeper = self.timer_keeper.load(Ordering::SeqCst);
        if let Some(reactor) = keeper.checked_sub(1).and_then(|i| self.reactors.get(i)) {
            reactor.unpark();
        }
    }

    /// Worker `index` falls asleep in its ring (`true`) or wakes up (`false`). Returns
    /// how long it may sleep at most: [`NEIGHBOUR_CHECK`] while another worker is awake
    /// (it may be stuck in a poll with events posted), else [`MAX_SLEEP`].
    pub(crate) fn set_asleep(&self, index: usize, asleep: bool) -> Duration {
        self.asleep[index].store(asleep, Ordering::SeqCst);
        let neighbour_awake = self
            .asleep
            .iter()
            .enumerate()
            .any(|(i, a)| i != index && !a.load(Ordering::SeqCst));
        if neighbour_awake {
            NEIGHBOUR_CHECK
        } else {
            MAX_SLEEP
        }
    }

    /// Worker `index` is about to turn its own ring.
    pub(crate) fn count_turn(&self, index: usize) {
        self.turns[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Before worker `index` sleeps: dispatches the completions already posted on the
    /// other workers' rings, without a system call — and for a neighbour that is awake
    /// but has not turned its ring since `last_seen` (stuck in one poll), also submits
    /// what it queued (a socket it registered just before blocking is otherwise never
    /// polled). `last_seen` holds each neighbour's turn count from the previous look.
    /// Returns how many events were dispatched.
    pub(crate) fn dispatch_others(&self, index: usize, last_seen: &mut [u64]) -> usize {
        let mut n = 0;
        for (i, reactor) in self.reactors.iter().enumerate() {
            if i == index {
                continue;
            }
            let turns = self.turns[i].load(Ordering::Relaxed);
            if reactor.work_waiting() {
                let stuck = turns == last_seen[i] && !self.asleep[i].load(Ordering::SeqCst);
                n += if stuck {
                    reactor.try_turn_now()
                } else {
                    reactor.dispatch_posted()
                }
                .unwrap_or(0);
            }
            last_seen[i] = turns;
        }
        n
    }

    /// The reactor of worker `index` (modulo the count, for a handle of another runtime
    /// used on this one's worker).
    pub(crate) fn reactor(&self, index: usize) -> &Arc<Reactor> {
        &self.reactors[index % self.reactors.len()]
    }

    /// Shuts every ring's reactor down.
    pub(crate) fn shutdown(&self) {
        for reactor in self.reactors.iter() {
            reactor.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(n: usize) -> Arc<WorkerIo> {
        let reactors = (0..n).map(|_| Reactor::epoll().unwrap()).collect();
        WorkerIo::new(reactors)
    }

    #[test]
    fn one_keeper_at_a_time() {
        let io = io(2);
        assert!(io.try_keep_timers(1));
        assert!(!io.try_keep_timers(0), "worker 1 keeps the timers");
        io.release_timers(0); // not the keeper: no effect
        assert!(!io.try_keep_timers(0));
        io.release_timers(1);
        assert!(io.try_keep_timers(0));
    }

    #[test]
    fn unparking_the_keeper_interrupts_its_turn() {
        let io = io(2);
        assert!(io.try_keep_timers(1));
        io.unpark_timer_keeper();
        // The unpark is pending on worker 1's reactor: its next turn returns at once.
        let start = std::time::Instant::now();
        io.reactors[1]
            .turn(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
        io.unpark_timer_keeper(); // harmless with no sleeper
    }

    /// The timer keeper's unpark survives a neighbour that reaps the keeper's ring in the
    /// moment between the keeper computing its deadline and entering its wait (an idle
    /// worker's `dispatch_others` takes what is posted on the other rings, wake-ups
    /// included): the keeper's wait returns at once, so it re-reads the sooner deadline.
    /// It slept through that unpark before, and the new timer did not fire.
    #[test]
    fn a_neighbour_reaping_the_keepers_ring_does_not_lose_its_unpark() {
        use std::time::{Duration, Instant};
        let Ok(reactors) = (0..2)
            .map(|_| Reactor::io_uring_owned())
            .collect::<std::io::Result<Vec<_>>>()
        else {
            eprintln!("skipped: io_uring unavailable");
            return;
        };
        let io = WorkerIo::new(reactors);
        for stuck in [false, true] {
            // This thread is worker 1: its first turn submits its ring's wake-up poll.
            io.reactors[1].turn(Some(Duration::ZERO)).unwrap();
            assert!(io.try_keep_timers(1));
            // Worker 1 is about to wait (`stuck`: it looks awake and has not turned
            // since worker 0 last looked, so worker 0 also submits for it).
            io.set_asleep(1, !stuck);
            let mut seen = vec![u64::MAX, if stuck { 0 } else { u64::MAX }];
            io.unpark_timer_keeper(); // a timer sooner than its deadline was armed
            let start = Instant::now();
            while !io.reactors[1].work_waiting() {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "no wake-up posted"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            // Worker 0 goes idle and looks after worker 1's ring first.
            std::thread::scope(|s| s.spawn(|| io.dispatch_others(0, &mut seen)).join()).unwrap();
            assert!(
                !io.reactors[1].work_waiting(),
                "worker 0 took worker 1's wake-up"
            );
            let start = Instant::now();
            io.reactors[1].turn(Some(Duration::from_secs(30))).unwrap();
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "stuck = {stuck}: the keeper slept through its unpark"
            );
            io.release_timers(1);
        }
    }

    #[test]
    fn sleep_is_bounded_while_a_neighbour_is_awake() {
        let io = io(2);
        assert_eq!(io.set_asleep(0, true), NEIGHBOUR_CHECK, "worker 1 awake");
        assert_eq!(io.set_asleep(1, true), MAX_SLEEP, "worker 0 sleeps too");
        assert_eq!(io.set_asleep(0, false), MAX_SLEEP);
        assert_eq!(io.set_asleep(0, true), MAX_SLEEP);
        io.set_asleep(1, false);
        assert_eq!(io.set_asleep(0, true), NEIGHBOUR_CHECK);
    }

    /// Two tasks held on two workers at once (a barrier): each registers with its own
    /// worker's ring, a later task on the same worker with the same ring, and the
    /// `block_on` thread with the first worker's.
    #[test]
    fn each_worker_registers_with_its_own_ring() {
        use crate::runtime::{Flavor, Handle, Io};
        let Ok(rt) = crate::Runtime::builder()
            .flavor(Flavor::WorkStealing)
            .worker_threads(2)
            .io(Io::IoUring)
            .build()
        else {
            eprintln!("skipped: io_uring unavailable");
            return;
        };
        let ring_here = || Arc::as_ptr(Handle::current().reactor()) as usize;
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let (root, seen) = rt.block_on(async {
            let tasks: Vec<_> = (0..2)
                .map(|_| {
                    let barrier = barrier.clone();
                    crate::spawn(async move {
                        barrier.wait(); // both workers are in a task now
                        let name = std::thread::current().name().map(String::from);
                        let first = ring_here();
                        crate::yield_now().await;
                        let same_thread = std::thread::current().name().map(String::from) == name;
                        (name, first, same_thread.then(ring_here))
                    })
                })
                .collect();
            let mut seen = Vec::new();
            for t in tasks {
                seen.push(t.await.unwrap());
            }
            (ring_here(), seen)
        });
        let shared = Arc::as_ptr(rt.handle().reactor()) as usize;
        assert_eq!(
            root, shared,
            "the block_on thread uses the runtime's reactor"
        );
        assert_ne!(seen[0].0, seen[1].0, "the two tasks ran on two workers");
        assert_ne!(seen[0].1, seen[1].1, "two workers, two rings");
        for (_, first, again) in &seen {
            if let Some(again) = again {
                assert_eq!(first, again, "one worker, one ring");
            }
        }
        assert!(
            seen.iter().any(|(_, ring, _)| *ring == shared),
            "worker 0's ring is the runtime's"
        );
    }

    #[test]
    fn reactor_index_wraps() {
        let io = io(2);
        assert!(Arc::ptr_eq(io.reactor(3), &io.reactors[1]));
    }
}
