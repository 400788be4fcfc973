//! The work-stealing worker: its run loop, the shared scheduler state, and how tasks are
//! scheduled onto it.
//!
//! Each worker owns a local ring (`queue.rs`) and a LIFO slot. A task woken by the task
//! running on the same worker goes to the LIFO slot and runs next (the message-passing
//! fast path, as in Go and tokio); a task that yields goes to the back of the ring.
//! Spawns and wakes from outside go to the injection queue. Idle workers steal half of a
//! random victim's ring (or its LIFO slot, so a task blocking its worker strands nothing),
//! and when there is nothing anywhere they park — one of them in the I/O driver.
//!
//! Fairness: every `GLOBAL_INTERVAL` ticks the injection queue is checked before the
//! local ring; every `EVENT_INTERVAL` ticks the driver is polled without blocking; at most
//! `MAX_LIFO_POLLS` LIFO tasks run in a row.

use super::idle::Idle;
use super::inject::Inject;
use super::park::Parker;
use super::queue::{CAPACITY, Queue};
use crate::coop;
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use crate::pad::CachePadded;
use crate::sched::local::EVENT_INTERVAL;
use crate::sched::metrics::{OwnerCounters, SharedCounter};
use crate::task::hooks::Hooks;
use crate::task::list::OwnedTasks;
use crate::task::raw::Header;
use crate::task::{Notified, Schedule, Task, TaskHooks};
use std::cell::Cell;
use std::ptr::{self, NonNull};

/// Ticks between injection-queue checks that come before the local ring.
const GLOBAL_INTERVAL: u32 = 61;
/// LIFO tasks run back to back before the slot is flushed to the ring.
const MAX_LIFO_POLLS: usize = 3;
/// Ticks between the checks a worker with its own driver makes of it
/// ([`Unpark::needs_early_turn`](crate::Unpark::needs_early_turn)): a few loads and an
/// uncontended lock, so not on every tick of a yield-heavy worker.
const OWN_DRIVER_CHECK_INTERVAL: u32 = 4;

/// Callbacks run on each worker thread as it starts and stops.
pub(crate) type ThreadHook = std::sync::Arc<dyn Fn() + Send + Sync>;

/// What every worker and every task's scheduler handle share.
pub(crate) struct Shared {
    pub(crate) workers: Box<[Remote]>,
    /// Padded: pushed and popped from every thread, and kept off the lines of the
    /// read-mostly fields below.
    pub(crate) inject: CachePadded<Inject<Notified>>,
    pub(crate) idle: Idle,
    pub(crate) owned: OwnedTasks,
    pub(crate) shutdown: AtomicBool,
    owned_closed: AtomicBool,
    /// Spawns from threads that are not this pool's workers.
    pub(crate) remote_spawned: SharedCounter,
    pub(crate) on_thread_start: Option<ThreadHook>,
    pub(crate) on_thread_stop: Option<ThreadHook>,
    pub(crate) hooks: Hooks,
}

/// The part of a worker other threads touch. Aligned to its own cache lines: each worker
/// writes its ring's tail and its LIFO slot all the time, and neighbouring workers must
/// not pay for that (false sharing).
#[repr(align(128))]
pub(crate) struct Remote {
    pub(crate) queue: Queue<Notified>,
    /// A `Notified` given up with `into_raw`, or null.
    lifo: AtomicPtr<Header>,
    pub(crate) parker: Parker,
    /// This worker's counters (written by the worker only).
    pub(crate) counters: OwnerCounters,
}

/// The scheduler handle stored in each task.
#[derive(Clone)]
pub(crate) struct StealScheduler(pub(crate) Arc<Shared>);

/// The worker running on this thread.
struct Context {
    shared: Arc<Shared>,
    index: usize,
    is_searching: Cell<bool>,
    /// Set while this worker turns the I/O driver: the wakes it dispatches then queue
    /// tasks without waking sleepers one by one; `after_driver_turn` wakes one if the
    /// batch left surplus work (a wake per I/O event woke a sleeper for nothing, as the
    /// owner runs the first woken task itself).
    in_driver: Cell<bool>,
    /// Whether this worker has a driver of its own (checked between tasks).
    owns_driver: bool,
    tick: Cell<u32>,
    rng: Cell<u64>,
}

#[cfg(not(trioxide_loom))]
std::thread_local! {
    static WORKER: Cell<Option<NonNull<Context>>> = const { Cell::new(None) };
}

#[cfg(trioxide_loom)]
loom::thread_local! {
    static WORKER: Cell<Option<NonNull<Context>>> = Cell::new(None);
}

/// Runs `f` with the worker context of this thread, if it is a worker of `shared`.
fn with_local_worker<R>(shared: &Shared, f: impl FnOnce(&Context) -> R) -> Option<R> {
    let cx = WORKER.with(|w| w.get())?;
    // SAFETY: WORKER points at the Context on the stack of `run_worker` of this thread,
    // and is cleared before that frame returns.
    let cx = unsafe { cx.as_ref() };
    ptr::eq(&*cx.shared, shared).then(|| f(cx))
}

/// The index of the worker of `shared` running on this thread, if any.
pub(crate) fn current_worker_index(shared: &Shared) -> Option<usize> {
    with_local_worker(shared, |cx| cx.index)
}

impl Remote {
    pub(crate) fn new(parker: Parker) -> Self {
        Remote {
            queue: Queue::new(),
            lifo: AtomicPtr::new(ptr::null_mut()),
            parker,
            counters: OwnerCounters::new(),
        }
    }

    /// Takes the LIFO task (owner or thief).
    fn take_lifo(&self) -> Option<Notified> {
        // A plain load first: the slot is empty after most polls, and the swap is a full
        // barrier. Only the owner fills the slot, so an owner that reads it empty is
        // right; a thief that reads a stale empty slot just steals nothing from it.
        if self.lifo.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let ptr = self.lifo.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: non-null pointers in the slot come from `Notified::into_raw`, and the
        // swap gave this one to us alone.
        NonNull::new(ptr).map(|p| unsafe { Notified::from_raw(p) })
    }

    /// Puts `task` in the LIFO slot, returning the task it displaced.
    fn replace_lifo(&self, task: Notified) -> Option<Notified> {
        let prev = self.lifo.swap(task.into_raw().as_ptr(), Ordering::AcqRel);
        // SAFETY: as in `take_lifo`.
        NonNull::new(prev).map(|p| unsafe { Notified::from_raw(p) })
    }

    fn has_work(&self) -> bool {
        !self.queue.is_empty() || !self.lifo.load(Ordering::Acquire).is_null()
    }
}

impl Shared {
    pub(crate) fn new(
        workers: Box<[Remote]>,
        on_thread_start: Option<ThreadHook>,
        on_thread_stop: Option<ThreadHook>,
        hooks: Hooks,
    ) -> Self {
        let n = workers.len();
        Shared {
            workers,
            inject: CachePadded(Inject::new()),
            idle: Idle::new(n),
            owned: OwnedTasks::new(),
            shutdown: AtomicBool::new(false),
            owned_closed: AtomicBool::new(false),
            remote_spawned: SharedCounter::new(),
            on_thread_start,
            on_thread_stop,
            hooks,
        }
    }

    /// Queues a newly spawned task: the back of this worker's ring, or the injector.
    pub(crate) fn schedule_spawn(&self, task: Notified) {
        let task = match with_local_worker(self, |cx| cx.index) {
            Some(index) => {
                OwnerCounters::bump(&self.workers[index].counters.spawned);
                let queue = &self.workers[index].queue;
                // SAFETY: we are worker `index`'s own thread.
                unsafe { queue.push_back(task, &*self.inject) };
                // The spawner keeps running: even one queued task is surplus should it
                // block this worker.
                let len = queue.len();
                if len == 1 || surplus_appeared(len) {
                    self.notify_parked();
                }
                return;
            }
            None => task,
        };
        self.remote_spawned.add_one();
        self.push_remote(task);
    }

    fn schedule_task(&self, task: Notified, is_yield: bool) {
        let local = with_local_worker(self, |cx| (cx.index, cx.in_driver.get()));
        let Some((index, in_driver)) = local else {
            self.push_remote(task);
            return;
        };
        let remote = &self.workers[index];
        let task = if is_yield {
            task
        } else {
            match remote.replace_lifo(task) {
                None => {
                    // The LIFO task is stealable: make sure someone can steal it should
                    // the current task block this worker. (Not from a driver turn: no
                    // task is running that could block, see `after_driver_turn`.)
                    if !in_driver {
                        self.notify_parked();
                    }
                    return;
                }
                Some(displaced) => displaced,
            }
        };
        // SAFETY: we are worker `index`'s own thread.
        unsafe { remote.queue.push_back(task, &*self.inject) };
        if !in_driver && surplus_appeared(remote.queue.len()) {
            self.notify_parked();
        }
    }

    fn push_remote(&self, task: Notified) {
        match self.inject.push(task) {
            Ok(()) => self.notify_parked(),
            Err(task) => drop(task), // shutting down: the task was cancelled
        }
    }

    /// Wakes one sleeping worker if nobody is searching for work.
    pub(crate) fn notify_parked(&self) {
        if let Some(worker) = self.idle.worker_to_notify() {
            self.workers[worker].parker.unpark();
        }
    }

    fn any_work(&self) -> bool {
        !self.inject.is_empty() || self.workers.iter().any(Remote::has_work)
    }

    /// Cancels every task (once), dropping idle futures on the calling worker.
    fn close_owned(&self) {
        if !self.owned_closed.swap(true, Ordering::AcqRel) {
            let pending = self.owned.close_and_drain();
            if let Some(hooks) = self.hooks.get()
                && !pending.is_empty()
            {
                let ids: Vec<_> = pending.iter().map(Task::id).collect();
                hooks.on_shutdown(&ids);
            }
            for task in pending {
                task.shutdown();
            }
        }
    }

    /// Starts shutdown: workers leave their loops at the next check.
    pub(crate) fn begin_shutdown(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        for w in self.workers.iter() {
            w.parker.unpark();
        }
    }

    /// Drops what the injector still holds (after the workers stopped).
    pub(crate) fn finish_shutdown(&self) {
        self.close_owned();
        drop(self.inject.close());
    }
}

impl Schedule for StealScheduler {
    fn schedule(&self, task: Notified) {
        self.0.schedule_task(task, false);
    }

    fn yield_now(&self, task: Notified) {
        self.0.schedule_task(task, true);
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.0.owned.remove(task)
    }

    fn hooks(&self) -> Option<&dyn TaskHooks> {
        self.0.hooks.get()
    }
}

/// Whether a push that left `len` tasks in the ring should look for a sleeper to wake.
///
/// One queued task is what this worker runs next anyway: only surplus is worth sharing.
/// And only when surplus *appears* (the ring reaches two): a worker that looked at this
/// ring while it held two or more would have stolen instead of parking, so sleepers can
/// only have missed the push that created the surplus — and that push checks, as does
/// every sixteenth after it (cheap insurance; each check is an atomic RMW on a line all
/// workers share, which a yield-heavy worker would otherwise pay on every yield).
fn surplus_appeared(len: usize) -> bool {
    len == 2 || (len > 2 && len.is_multiple_of(16))
}

/// The body of worker thread `index`.
pub(crate) fn run_worker(shared: Arc<Shared>, index: usize) {
    if let Some(hook) = &shared.on_thread_start {
        hook();
    }
    let cx = Context {
        shared: shared.clone(),
        index,
        is_searching: Cell::new(false),
        in_driver: Cell::new(false),
        owns_driver: shared.workers[index].parker.owns_driver(),
        tick: Cell::new(0),
        rng: Cell::new(
            0x9E37_79B9_7F4A_7C15 ^ (index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
        ),
    };
    struct ClearWorker;
    impl Drop for ClearWorker {
        fn drop(&mut self) {
            WORKER.with(|w| w.set(None));
        }
    }
    WORKER.with(|w| w.set(Some(NonNull::from(&cx))));
    let _clear = ClearWorker;
    cx.run();
    cx.drain_on_exit();
    drop(_clear);
    if let Some(hook) = &shared.on_thread_stop {
        hook();
    }
}

impl Context {
    fn remote(&self) -> &Remote {
        &self.shared.workers[self.index]
    }

    fn run(&self) {
        let shared = &*self.shared;
        if self.owns_driver {
            // Turn its own driver once before the first task: the driver then knows
            // which thread drives it (io_uring: whose own submissions may wait for its
            // next turn, and who submits its cancellations at once).
            self.turn_driver_nonblocking();
        }
        loop {
            if shared.shutdown.load(Ordering::Acquire) {
                return;
            }
            let tick = self.tick.get().wrapping_add(1);
            self.tick.set(tick);
            // A worker with its own driver also polls it whenever the driver says work
            // is waiting (a cheap check, every few ticks): nobody else would reap it.
            // Its own queued submissions do not count (see `Unpark::needs_early_turn`):
            // they go to the kernel together at the periodic poll or when it parks.
            if tick.is_multiple_of(EVENT_INTERVAL)
                || (self.owns_driver
                    && tick.is_multiple_of(OWN_DRIVER_CHECK_INTERVAL)
                    && self.remote().parker.driver_needs_early_turn())
            {
                self.turn_driver_nonblocking();
            }
            if let Some(task) = self.next_local_task(tick) {
                self.run_task(task);
                continue;
            }
            if let Some(task) = self.steal_work() {
                self.run_task(task);
                continue;
            }
            self.park();
        }
    }

    /// Polls the driver without blocking and shares out what it woke.
    fn turn_driver_nonblocking(&self) {
        self.in_driver.set(true);
        self.remote().parker.poll_driver_nonblocking();
        self.after_driver_turn();
    }

    fn next_local_task(&self, tick: u32) -> Option<Notified> {
        let shared = &*self.shared;
        if tick.is_multiple_of(GLOBAL_INTERVAL)
            && let Some(task) = shared.inject.pop()
        {
            return Some(task);
        }
        // SAFETY: this is the worker's own thread.
        if let Some(task) = unsafe { self.remote().queue.pop() } {
            return Some(task);
        }
        if let Some(task) = self.remote().take_lifo() {
            return Some(task);
        }
        // Pull a fair share of the injector into the ring.
        let share = (shared.inject.len() / shared.workers.len() + 1).min(CAPACITY / 2);
        let mut first = None;
        shared.inject.pop_batch(share, |task| {
            if first.is_none() {
                first = Some(task);
            } else {
                // SAFETY: this is the worker's own thread.
                unsafe { self.remote().queue.push_back(task, &*shared.inject) };
            }
        });
        first
    }

    fn run_task(&self, task: Notified) {
        if self.is_searching.replace(false) && self.shared.idle.stop_searching() {
            // The last searcher found work: wake another to keep looking.
            self.shared.notify_parked();
        }
        self.poll(task);
        for _ in 0..MAX_LIFO_POLLS {
            match self.remote().take_lifo() {
                Some(next) if coop::has_budget_remaining() => self.poll(next),
                Some(next) => {
                    self.requeue(next);
                    return;
                }
                None => return,
            }
        }
        if let Some(next) = self.remote().take_lifo() {
            self.requeue(next);
        }
    }

    fn poll(&self, task: Notified) {
        OwnerCounters::bump(&self.remote().counters.polls);
        task.run();
    }

    fn requeue(&self, task: Notified) {
        // SAFETY: this is the worker's own thread.
        unsafe { self.remote().queue.push_back(task, &*self.shared.inject) };
    }

    fn next_random(&self, n: usize) -> usize {
        // xorshift64*: cheap and good enough to spread steal victims.
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
    }

    fn steal_work(&self) -> Option<Notified> {
        let shared = &*self.shared;
        if !self.is_searching.get() {
            if !shared.idle.try_start_searching() {
                return None;
            }
            self.is_searching.set(true);
        }
        let n = shared.workers.len();
        let start = self.next_random(n);
        let me = self.remote();
        for i in 0..n {
            let victim_index = (start + i) % n;
            if victim_index == self.index {
                continue;
            }
            let victim = &shared.workers[victim_index];
            // SAFETY: we own `me` (our own queue) and it is not the victim's.
            if let Some(task) = unsafe { victim.queue.steal_into(&me.queue) } {
                OwnerCounters::bump(&me.counters.steals);
                return Some(task);
            }
            if let Some(task) = victim.take_lifo() {
                OwnerCounters::bump(&me.counters.steals);
                return Some(task);
            }
        }
        shared.inject.pop()
    }

    fn park(&self) {
        let shared = &*self.shared;
        let was_searching = self.is_searching.replace(false);
        let last_searcher = shared.idle.park(self.index, was_searching);
        if last_searcher && shared.any_work() {
            shared.notify_parked();
        }
        let parked = !shared.shutdown.load(Ordering::SeqCst);
        if parked {
            OwnerCounters::bump(&self.remote().counters.parks);
            self.in_driver.set(true);
            self.remote().parker.park(None);
        }
        let notified = shared.idle.unpark(self.index);
        self.is_searching.set(notified);
        if parked {
            // Only now: while still on the sleepers' list, it could pick itself to wake.
            self.after_driver_turn();
        }
    }

    /// Ends a driver turn: if the tasks it woke are more than the one this worker runs
    /// next, wakes one sleeper to share them (it steals; the chain of searchers wakes
    /// more if needed).
    fn after_driver_turn(&self) {
        self.in_driver.set(false);
        let remote = self.remote();
        let has_lifo = !remote.lifo.load(Ordering::Acquire).is_null();
        let queued = remote.queue.len();
        if queued + usize::from(has_lifo) > 1 {
            self.shared.notify_parked();
        }
    }

    /// On shutdown: cancel every task (the first worker out does it, dropping futures
    /// here, on a worker), then drop what is still queued locally.
    fn drain_on_exit(&self) {
        if self.is_searching.replace(false) {
            self.shared.idle.stop_searching();
        }
        self.shared.close_owned();
        // SAFETY: this is the worker's own thread.
        while let Some(task) = unsafe { self.remote().queue.pop() } {
            drop(task);
        }
        drop(self.remote().take_lifo());
    }
}
