//! `LocalExecutor`: a current-thread executor you can drive by hand.
//!
//! It runs `!Send` futures (`spawn_local`) as well as `Send` ones, all on the thread that
//! owns it. Wakes from that thread push to a plain local queue; wakes from other threads
//! go through a mutex-protected remote queue and unpark the executor only if it sleeps
//! (a Dekker-style handshake on `sleeping` and `remote_len`). Both sides use
//! read-modify-write operations for the handshake — the waker increments `remote_len`
//! then swaps `sleeping`; the executor swaps `sleeping` then re-reads `remote_len` with
//! `fetch_add(0)` — so the two RMW chains order themselves even under acquire/release
//! alone, which is also how loom models them.
//!
//! Driving: `block_on` runs a root future to completion, polling tasks in between and
//! parking through its [`Park`] when idle; `tick` polls one ready task; `run_until_stalled`
//! polls until none is ready — the building blocks of a custom event loop.
//!
//! Order: the executor is generic over a [`SchedulePolicy`] (default [`Fifo`]). Wakes land
//! in the core's wake queue; each time the executor needs a task it hands the queue to the
//! policy (`SchedulePolicy::next`), which picks. `Fifo` pops the wake queue itself (after
//! one emptiness check of its own queue), statically dispatched: the default executor
//! costs what a plain FIFO executor costs.

use crate::coop;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::park::{Park, ThreadPark, Unpark};
use crate::sched::metrics::{OwnerCounters, SchedulerMetrics, SharedCounter};
use crate::sched::policy::{Fifo, ReadyTask, SchedulePolicy};
use crate::task::hooks::Hooks;
use crate::task::list::OwnedTasks;
use crate::task::{JoinHandle, Notified, Schedule, Task, TaskHooks, new_task};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// Tasks polled between two non-blocking checks of the I/O driver and timers.
pub const EVENT_INTERVAL: u32 = 61;
/// Every this many ticks the remote queue is drained before the local one, so a busy
/// local queue cannot starve tasks woken from other threads.
const REMOTE_INTERVAL: u32 = 31;

/// A single-threaded executor for `!Send` and `Send` futures.
///
/// ```
/// use trioxide_task::LocalExecutor;
/// use std::rc::Rc;
///
/// let ex = LocalExecutor::new();
/// let shared = Rc::new(5); // not Send
/// let task = ex.spawn_local({ let shared = shared.clone(); async move { *shared * 2 } });
/// assert_eq!(ex.block_on(task).unwrap(), 10);
/// ```
///
/// The type parameter is the ready-queue order ([`SchedulePolicy`]); see
/// [`with_policy`](LocalExecutor::with_policy).
pub struct LocalExecutor<P: SchedulePolicy = Fifo> {
    shared: Arc<Shared>,
    core: Box<Core>,
    park: RefCell<Box<dyn Park>>,
    policy: RefCell<P>,
    _not_send: PhantomData<*const ()>,
}

/// Owner-thread state.
struct Core {
    /// The executor's shared state, so code running on this thread can spawn onto it.
    shared: Arc<Shared>,
    /// Tasks woken on this thread, in wake order, not yet handed to the policy.
    queue: RefCell<VecDeque<ReadyTask>>,
    tick: Cell<u32>,
    /// `block_on`/`tick` is on the stack: a nested call would re-enter a running task.
    running: Cell<bool>,
}

/// State shared with wakers and spawners on any thread.
pub(crate) struct Shared {
    remote: Mutex<Remote>,
    remote_len: AtomicUsize,
    sleeping: AtomicBool,
    owned: OwnedTasks,
    unpark: std::sync::Arc<dyn Unpark>,
    hooks: Hooks,
    /// Written by the owner thread only.
    counters: OwnerCounters,
    /// Spawns from other threads.
    remote_spawned: SharedCounter,
}

struct Remote {
    queue: VecDeque<ReadyTask>,
    closed: bool,
}

/// Handle to the executor as stored in each task.
#[derive(Clone)]
struct LocalScheduler(Arc<Shared>);

#[cfg(not(trioxide_loom))]
std::thread_local! {
    /// The core of the executor being driven on this thread, if any.
    static CURRENT: Cell<Option<NonNull<Core>>> = const { Cell::new(None) };
}

#[cfg(trioxide_loom)]
loom::thread_local! {
    /// The core of the executor being driven on this thread, if any.
    static CURRENT: Cell<Option<NonNull<Core>>> = Cell::new(None);
}

/// The core of the executor driving this thread.
fn current_core() -> Option<NonNull<Core>> {
    CURRENT.with(|c| c.get())
}

impl Schedule for LocalScheduler {
    fn schedule(&self, task: Notified) {
        if let Some(core) = current_core() {
            // SAFETY: CURRENT points at the core of the executor being driven on this
            // thread; it is reset before that executor's borrow ends (EnterGuard).
            let core = unsafe { core.as_ref() };
            if std::ptr::eq(&*core.shared, &*self.0) {
                core.queue.borrow_mut().push_back(ReadyTask(task));
                return;
            }
        }
        self.0.push_remote(task);
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.0.owned.remove(task)
    }

    fn hooks(&self) -> Option<&dyn TaskHooks> {
        self.0.hooks.get()
    }
}

impl Shared {
    /// Counts a spawn: in the owner's block on the owner thread, else in the shared one.
    fn count_spawn(&self) {
        let on_owner = current_core().is_some_and(|core| {
            // SAFETY: CURRENT points at the core being driven on this thread (EnterGuard).
            std::ptr::eq(&*unsafe { core.as_ref() }.shared, self)
        });
        if on_owner {
            OwnerCounters::bump(&self.counters.spawned);
        } else {
            self.remote_spawned.add_one();
        }
    }

    /// The executor's counters.
    fn metrics(&self) -> SchedulerMetrics {
        let mut m = SchedulerMetrics {
            workers: 1,
            live_tasks: self.owned.len(),
            spawned: self.remote_spawned.get(),
            injector_depth: self.remote_len.load(Ordering::Relaxed),
            ..SchedulerMetrics::default()
        };
        self.counters.add_to(&mut m);
        m
    }

    fn push_remote(&self, task: Notified) {
        let mut remote = self.remote.lock().unwrap();
        if remote.closed {
            drop(remote);
            drop(task); // shut down: the task was already cancelled
            return;
        }
        remote.queue.push_back(ReadyTask(task));
        self.remote_len.fetch_add(1, Ordering::SeqCst);
        drop(remote);
        self.notify();
    }

    /// Unparks the executor if it is (about to be) asleep.
    fn notify(&self) {
        if self.sleeping.swap(false, Ordering::SeqCst) {
            self.unpark.unpark();
        }
    }
}

/// Spawns `future` onto the executor behind `shared`.
fn spawn_on<F>(shared: &Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    shared.count_spawn();
    let scheduler = LocalScheduler(shared.clone());
    let (task, notified, handle) = new_task(future, scheduler.clone());
    match shared.owned.bind(task) {
        Ok(()) => scheduler.schedule(notified),
        Err(task) => {
            drop(notified);
            task.shutdown();
        }
    }
    handle
}

/// Restores the previous `CURRENT` (and clears `running`) on drop.
struct EnterGuard<'a> {
    core: &'a Core,
    prev: Option<NonNull<Core>>,
}

impl Drop for EnterGuard<'_> {
    fn drop(&mut self) {
        self.core.running.set(false);
        CURRENT.with(|c| c.set(self.prev));
    }
}

/// The root future's waker in `block_on`.
struct RootWake {
    woken: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for RootWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.swap(true, Ordering::SeqCst);
        self.shared.notify();
    }
}

impl LocalExecutor {
    /// An executor that parks its thread when idle.
    pub fn new() -> Self {
        Self::with_park(ThreadPark::new())
    }

    /// An executor that waits for work through `park` (the facade passes its reactor).
    pub fn with_park(park: impl Park + 'static) -> Self {
        Self::build(park, Fifo::default(), Hooks(None))
    }

    /// An executor that waits through `park` and calls `hooks` around its tasks: each
    /// spawn, each poll (timed), unread panics, shutdown (see [`TaskHooks`]).
    pub fn with_hooks(park: impl Park + 'static, hooks: std::sync::Arc<dyn TaskHooks>) -> Self {
        Self::build(park, Fifo::default(), Hooks(Some(hooks)))
    }
}

impl<P: SchedulePolicy> LocalExecutor<P> {
    /// An executor that waits through `park` and polls ready tasks in the order `policy`
    /// chooses (for example [`Seeded`](crate::Seeded) for reproducible random
    /// interleavings, or a priority queue of your own).
    pub fn with_policy(park: impl Park + 'static, policy: P) -> Self {
        Self::build(park, policy, Hooks(None))
    }

    /// [`with_policy`](Self::with_policy) plus [`TaskHooks`] around every task.
    pub fn with_policy_and_hooks(
        park: impl Park + 'static,
        policy: P,
        hooks: Option<std::sync::Arc<dyn TaskHooks>>,
    ) -> Self {
        Self::build(park, policy, Hooks(hooks))
    }

    /// The policy, to inspect it between ticks (do not hold the borrow across a tick).
    pub fn policy(&self) -> std::cell::Ref<'_, P> {
        self.policy.borrow()
    }

    fn build(park: impl Park + 'static, policy: P, hooks: Hooks) -> Self {
        let shared = Arc::new(Shared {
            remote: Mutex::new(Remote {
                queue: VecDeque::new(),
                closed: false,
            }),
            remote_len: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            owned: OwnedTasks::new(),
            unpark: park.unparker(),
            hooks,
            counters: OwnerCounters::new(),
            remote_spawned: SharedCounter::new(),
        });
        LocalExecutor {
            shared: shared.clone(),
            core: Box::new(Core {
                shared: shared.clone(),
                queue: RefCell::new(VecDeque::with_capacity(256)),
                tick: Cell::new(0),
                running: Cell::new(false),
            }),
            park: RefCell::new(Box::new(park)),
            policy: RefCell::new(policy),
            _not_send: PhantomData,
        }
    }

    /// Spawns a future that need not be `Send`; it runs on this executor's thread.
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        spawn_on(&self.shared, future)
    }

    /// Spawns a `Send` future (same as `spawn_local`; here for symmetry with `Spawner`).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        spawn_on(&self.shared, future)
    }

    /// A `Send + Sync` handle that spawns `Send` futures onto this executor from any
    /// thread.
    pub fn spawner(&self) -> Spawner {
        Spawner {
            shared: self.shared.clone(),
        }
    }

    /// Tasks spawned and not yet finished.
    pub fn live_tasks(&self) -> usize {
        self.shared.owned.len()
    }

    /// The executor's counters (see [`SchedulerMetrics`]).
    pub fn metrics(&self) -> SchedulerMetrics {
        self.shared.metrics()
    }

    /// Whether a task is ready to be polled.
    pub fn has_ready_tasks(&self) -> bool {
        !self.core.queue.borrow().is_empty()
            || !self.policy.borrow().is_empty()
            || self.shared.remote_len.load(Ordering::SeqCst) > 0
    }

    fn enter(&self, what: &str) -> EnterGuard<'_> {
        assert!(
            !self.core.running.get(),
            "LocalExecutor::{what} called from inside a task of the same executor; \
             `.await` the future instead of driving the executor re-entrantly"
        );
        self.core.running.set(true);
        let prev = CURRENT.with(|c| c.replace(Some(NonNull::from(&*self.core))));
        EnterGuard {
            core: &self.core,
            prev,
        }
    }

    /// Polls one ready task. Returns `false` if no task was ready. Never blocks.
    pub fn tick(&self) -> bool {
        let _enter = self.enter("tick");
        self.run_one()
    }

    /// Polls ready tasks until none is left; returns how many polls ran. Never blocks.
    pub fn run_until_stalled(&self) -> usize {
        let _enter = self.enter("run_until_stalled");
        let mut polls = 0;
        while self.run_one() {
            polls += 1;
        }
        polls
    }

    /// Waits (through the executor's `Park`) for events for at most `timeout`, dispatching
    /// what arrived; `None` waits until something wakes the executor.
    pub fn park(&self, timeout: Option<Duration>) {
        let _enter = self.enter("park");
        self.park_inner(timeout, &|| false);
    }

    fn run_one(&self) -> bool {
        match self.next_task() {
            Some(task) => {
                OwnerCounters::bump(&self.shared.counters.polls);
                task.run();
                true
            }
            None => false,
        }
    }

    fn next_task(&self) -> Option<Notified> {
        let tick = self.core.tick.get().wrapping_add(1);
        self.core.tick.set(tick);
        if tick.is_multiple_of(REMOTE_INTERVAL) {
            self.pull_remote();
        }
        let task = self.pick();
        if task.is_some() {
            return task;
        }
        if self.pull_remote() {
            self.pick()
        } else {
            None
        }
    }

    /// Asks the policy for the next task, handing it what was woken meanwhile. The
    /// borrows end before the task runs (it may wake others).
    #[inline]
    fn pick(&self) -> Option<Notified> {
        let mut woken = self.core.queue.borrow_mut();
        self.policy.borrow_mut().next(&mut woken).map(|t| t.0)
    }

    /// Moves every remotely woken task to the local queue; `true` if there were any.
    fn pull_remote(&self) -> bool {
        if self.shared.remote_len.load(Ordering::Acquire) == 0 {
            return false;
        }
        let mut remote = self.shared.remote.lock().unwrap();
        self.shared.remote_len.store(0, Ordering::Relaxed);
        let mut local = self.core.queue.borrow_mut();
        let moved = !remote.queue.is_empty();
        local.append(&mut remote.queue);
        moved
    }

    /// Parks unless work is already there. `woken` says whether a root future is pending
    /// a poll; it is checked after announcing sleep so a concurrent wake is never lost.
    fn park_inner(&self, timeout: Option<Duration>, woken: &dyn Fn() -> bool) {
        let mut park = self.park.borrow_mut();
        if timeout.is_some_and(|t| t.is_zero()) {
            park.park(timeout);
            return;
        }
        self.shared.sleeping.swap(true, Ordering::SeqCst);
        let pending = woken()
            || !self.core.queue.borrow().is_empty()
            || !self.policy.borrow().is_empty()
            || self.shared.remote_len.fetch_add(0, Ordering::SeqCst) > 0;
        if pending {
            self.shared.sleeping.store(false, Ordering::SeqCst);
            park.park(Some(Duration::ZERO));
            return;
        }
        OwnerCounters::bump(&self.shared.counters.parks);
        park.park(timeout);
        self.shared.sleeping.store(false, Ordering::SeqCst);
    }

    /// Runs `future` to completion on this thread, polling spawned tasks meanwhile and
    /// parking when there is nothing to do.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let _enter = self.enter("block_on");
        let root = std::sync::Arc::new(RootWake {
            woken: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        let waker = Waker::from(root.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let mut since_io = 0;
        loop {
            if root.woken.swap(false, Ordering::AcqRel) {
                if let Poll::Ready(out) = coop::with_budget(|| future.as_mut().poll(&mut cx)) {
                    return out;
                }
                since_io += 1;
            }
            let mut polled = 0;
            while polled < EVENT_INTERVAL && self.run_one() {
                polled += 1;
            }
            since_io += polled;
            let woken = || root.woken.fetch_or(false, Ordering::SeqCst);
            if polled == 0 && !woken() {
                self.park_inner(None, &woken);
                since_io = 0;
            } else if since_io >= EVENT_INTERVAL {
                self.park_inner(Some(Duration::ZERO), &woken);
                since_io = 0;
            }
        }
    }

    /// Cancels every task: each future is dropped here, on the executor's thread.
    fn shutdown(&mut self) {
        let _enter = self.enter("drop");
        self.shared.remote.lock().unwrap().closed = true;
        let pending = self.shared.owned.close_and_drain();
        if let Some(hooks) = self.shared.hooks.get()
            && !pending.is_empty()
        {
            let ids: Vec<_> = pending.iter().map(Task::id).collect();
            hooks.on_shutdown(&ids);
        }
        for task in pending {
            task.shutdown();
        }
        loop {
            let mut drained: Vec<ReadyTask> = self.core.queue.borrow_mut().drain(..).collect();
            drained.extend(self.shared.remote.lock().unwrap().queue.drain(..));
            let mut policy = self.policy.borrow_mut();
            while let Some(task) = policy.pop() {
                drained.push(task);
            }
            drop(policy);
            if drained.is_empty() {
                break;
            }
            drop(drained);
        }
    }
}

impl Default for LocalExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: SchedulePolicy> Drop for LocalExecutor<P> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<P: SchedulePolicy> fmt::Debug for LocalExecutor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalExecutor")
            .field("live_tasks", &self.live_tasks())
            .finish()
    }
}

/// Spawns `Send` futures onto a `LocalExecutor` from any thread.
#[derive(Clone)]
pub struct Spawner {
    shared: Arc<Shared>,
}

impl Spawner {
    /// Spawns `future` on the executor; it runs when the executor is next driven. If the
    /// executor was dropped, the task is cancelled at once (its handle reports
    /// `Cancelled`).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        spawn_on(&self.shared, future)
    }

    /// Whether the executor behind this handle was dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.owned.is_closed()
    }

    /// The executor's counters (as [`LocalExecutor::metrics`]), from any thread.
    pub fn metrics(&self) -> SchedulerMetrics {
        self.shared.metrics()
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}

/// The error of [`try_spawn_local`]: no `LocalExecutor` is being driven on this thread.
#[derive(Debug, thiserror::Error)]
#[error(
    "spawn_local called outside a LocalExecutor; call it from a task (or block_on) \
     running on the executor's thread"
)]
pub struct NoExecutor;

/// Spawns a `!Send` future on the executor driving this thread.
pub fn try_spawn_local<F>(future: F) -> Result<JoinHandle<F::Output>, NoExecutor>
where
    F: Future + 'static,
{
    let core = current_core().ok_or(NoExecutor)?;
    // SAFETY: CURRENT points at the core of the executor being driven on this thread,
    // alive for the duration of this call (EnterGuard).
    let shared = unsafe { core.as_ref() }.shared.clone();
    Ok(spawn_on(&shared, future))
}

/// Spawns a `!Send` future on the executor driving this thread.
///
/// # Panics
/// Outside a `LocalExecutor` (see [`try_spawn_local`] for the non-panicking form).
#[track_caller]
pub fn spawn_local<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
{
    match try_spawn_local(future) {
        Ok(handle) => handle,
        Err(err) => panic!("{err}"),
    }
}

/// A `Spawner` for the executor driving this thread, if any.
pub fn current_spawner() -> Option<Spawner> {
    let core = current_core()?;
    // SAFETY: as in `try_spawn_local`.
    let shared = unsafe { core.as_ref() }.shared.clone();
    Some(Spawner { shared })
}
