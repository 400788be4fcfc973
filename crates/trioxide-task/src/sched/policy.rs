//! Ready-queue policies of the [`LocalExecutor`](super::local::LocalExecutor): which ready
//! task runs next.
//!
//! The executor is generic over a [`SchedulePolicy`]: newly woken tasks are handed to the
//! policy (`push`) and the executor asks it for the next one to poll (`pop`). Two policies
//! ship here:
//! - [`Fifo`], the default: first woken, first run. It keeps the executor's own wake queue
//!   as its queue (it overrides [`SchedulePolicy::next`]), so the default executor pays no
//!   dispatch and no extra copy for being pluggable: the policy is a type parameter, resolved
//!   at compile time.
//! - [`Seeded`]: picks uniformly among the ready tasks with a seeded PCG-32 generator
//!   (O'Neill's permuted congruential generator, XSH-RR output, written here). The same seed
//!   gives the same interleaving; different seeds explore different ones — the basis of
//!   deterministic concurrency testing (`trioxide::testing::explore`).

use crate::task::{Notified, TaskId};
use std::collections::VecDeque;
use std::fmt;

/// A task that is ready to be polled, as handed to a [`SchedulePolicy`].
///
/// Holding one keeps the task queued; the policy gives it back from `pop` for the executor
/// to poll. Dropping it instead (say, a policy that discards tasks) releases the task
/// without polling it, so it would never finish: policies should give every task back.
pub struct ReadyTask(pub(crate) Notified);

impl ReadyTask {
    /// The task's identifier (the same as its `JoinHandle::id()`).
    pub fn id(&self) -> TaskId {
        self.0.id()
    }
}

impl fmt::Debug for ReadyTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReadyTask").field(&self.id()).finish()
    }
}

/// The order in which a [`LocalExecutor`](super::local::LocalExecutor) polls ready tasks.
///
/// ```
/// use std::collections::VecDeque;
/// use trioxide_task::{LocalExecutor, ReadyTask, SchedulePolicy, ThreadPark};
///
/// /// Last woken, first run.
/// #[derive(Default)]
/// struct Lifo(Vec<ReadyTask>);
///
/// impl SchedulePolicy for Lifo {
///     fn push(&mut self, task: ReadyTask) { self.0.push(task) }
///     fn pop(&mut self) -> Option<ReadyTask> { self.0.pop() }
///     fn len(&self) -> usize { self.0.len() }
/// }
///
/// let ex = LocalExecutor::with_policy(ThreadPark::new(), Lifo::default());
/// let order = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// for i in 0..3 {
///     let order = order.clone();
///     ex.spawn_local(async move { order.borrow_mut().push(i) });
/// }
/// ex.run_until_stalled();
/// assert_eq!(*order.borrow(), [2, 1, 0]);
/// ```
pub trait SchedulePolicy: 'static {
    /// Takes a task that became ready.
    fn push(&mut self, task: ReadyTask);

    /// The task to poll next, or `None` if the policy holds none.
    fn pop(&mut self) -> Option<ReadyTask>;

    /// Tasks the policy holds.
    fn len(&self) -> usize;

    /// Whether the policy holds no task.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands the tasks woken since the last call (`woken`, in wake order) to the policy
    /// and returns the task to poll next. The default pushes each woken task then pops;
    /// override it only to avoid that move (as [`Fifo`] does).
    fn next(&mut self, woken: &mut VecDeque<ReadyTask>) -> Option<ReadyTask> {
        while let Some(task) = woken.pop_front() {
            self.push(task);
        }
        self.pop()
    }
}

/// First woken, first polled: the default policy, and the fast path: the executor's wake
/// queue already is in FIFO order, so [`next`](SchedulePolicy::next) pops it directly and
/// the policy's own queue stays empty (it only fills if you `push` to it yourself).
#[derive(Debug, Default)]
pub struct Fifo {
    queue: VecDeque<ReadyTask>,
}

impl SchedulePolicy for Fifo {
    fn push(&mut self, task: ReadyTask) {
        self.queue.push_back(task);
    }

    fn pop(&mut self) -> Option<ReadyTask> {
        self.queue.pop_front()
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    #[inline]
    fn next(&mut self, woken: &mut VecDeque<ReadyTask>) -> Option<ReadyTask> {
        if self.queue.is_empty() {
            return woken.pop_front();
        }
        self.queue.append(woken);
        self.queue.pop_front()
    }
}

/// Picks the next task uniformly at random among the ready ones, from a seeded generator:
/// one seed, one interleaving.
pub struct Seeded {
    rng: Pcg32,
    seed: u64,
    ready: Vec<ReadyTask>,
}

impl Seeded {
    /// A policy whose choices follow `seed`.
    pub fn new(seed: u64) -> Seeded {
        Seeded {
            rng: Pcg32::new(seed),
            seed,
            ready: Vec::new(),
        }
    }

    /// The seed this policy was made with.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

impl fmt::Debug for Seeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seeded")
            .field("seed", &self.seed)
            .field("ready", &self.ready.len())
            .finish()
    }
}

impl SchedulePolicy for Seeded {
    fn push(&mut self, task: ReadyTask) {
        self.ready.push(task);
    }

    fn pop(&mut self) -> Option<ReadyTask> {
        if self.ready.is_empty() {
            return None;
        }
        let i = self.rng.below(self.ready.len());
        Some(self.ready.swap_remove(i))
    }

    fn len(&self) -> usize {
        self.ready.len()
    }
}

/// PCG-32 (XSH-RR): 64-bit LCG state, 32-bit permuted output. Small, fast and with good
/// statistical quality for picking tasks; not for cryptography.
#[derive(Debug, Clone)]
pub(crate) struct Pcg32 {
    state: u64,
}

impl Pcg32 {
    const MULTIPLIER: u64 = 6_364_136_223_846_793_005;
    const INCREMENT: u64 = 1_442_695_040_888_963_407;

    pub(crate) fn new(seed: u64) -> Pcg32 {
        let mut rng = Pcg32 { state: 0 };
        rng.step();
        rng.state = rng.state.wrapping_add(seed);
        rng.step();
        rng
    }

    fn step(&mut self) {
        self.state = self
            .state
            .wrapping_mul(Self::MULTIPLIER)
            .wrapping_add(Self::INCREMENT);
    }

    pub(crate) fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.step();
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    /// A number in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-32 · n).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u128::from(self.next_u32()) * n as u128) >> 32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::Pcg32;

    #[test]
    fn same_seed_same_sequence_other_seed_other_sequence() {
        let draw = |seed| {
            let mut rng = Pcg32::new(seed);
            (0..16).map(|_| rng.next_u32()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn below_stays_in_range_and_reaches_every_value() {
        let mut rng = Pcg32::new(1);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let i = rng.below(5);
            assert!(i < 5);
            seen[i] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
    }
}
