//! `LocalExecutor`: a current-thread executor you can drive by hand.
//!
//! It runs `!Send` futures (`spawn_local`) as well as `Send` ones, all on the thread that
//! owns it. Wakes from that thread push to a plain local queue; wakes from other threads
//! go through a mutex-protected remote queue and unpark the executor only if it sleeps
//! (a Dekker-style handshake on `sleeping` and `remote_len`, both `SeqCst`).
//!
//! Driving: `block_on` runs a root future to completion, polling tasks in between and
//! parking through its [`Park`] when idle; `tick` polls one ready task; `run_until_stalled`
//! polls until none is ready — the building blocks of a custom event loop.

use crate::coop;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::park::{Park, ThreadPark, Unpark};
use crate::task::list::OwnedTasks;
use crate::task::{JoinHandle, Notified, Schedule, Task, new_task};
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
pub struct LocalExecutor {
    shared: Arc<Shared>,
    core: Box<Core>,
    park: RefCell<Box<dyn Park>>,
    _not_send: PhantomData<*const ()>,
}

/// Owner-thread state.
struct Core {
    queue: RefCell<VecDeque<Notified>>,
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
    unpark: Arc<dyn Unpark>,
}

struct Remote {
    queue: VecDeque<Notified>,
    closed: bool,
}

/// Handle to the executor as stored in each task.
#[derive(Clone)]
struct LocalScheduler(Arc<Shared>);

thread_local! {
    /// The executor being driven on this thread, if any.
    static CURRENT: Cell<Option<(NonNull<Shared>, NonNull<Core>)>> = const { Cell::new(None) };
}

impl Schedule for LocalScheduler {
    fn schedule(&self, task: Notified) {
        let me = NonNull::from(&*self.0);
        let local = CURRENT
            .with(|c| c.get())
            .filter(|(s, _)| *s == me)
            .map(|(_, core)| core);
        match local {
            // SAFETY: CURRENT points at the core of the executor being driven on this
            // thread; it is reset before that executor's borrow ends (EnterGuard).
            Some(core) => unsafe { core.as_ref() }.queue.borrow_mut().push_back(task),
            None => self.0.push_remote(task),
        }
    }

    fn release(&self, task: &Task) -> Option<Task> {
        self.0.owned.remove(task)
    }
}

impl Shared {
    fn push_remote(&self, task: Notified) {
        let mut remote = self.remote.lock().unwrap();
        if remote.closed {
            drop(remote);
            drop(task); // shut down: the task was already cancelled
            return;
        }
        remote.queue.push_back(task);
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

    fn spawn<F>(self: &Arc<Self>, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        let (task, notified, handle) = new_task(future, LocalScheduler(self.clone()));
        match self.owned.bind(task) {
            Ok(()) => LocalScheduler(self.clone()).schedule(notified),
            Err(task) => {
                drop(notified);
                task.shutdown();
            }
        }
        handle
    }
}

/// Restores the previous `CURRENT` (and clears `running`) on drop.
struct EnterGuard<'a> {
    core: &'a Core,
    prev: Option<(NonNull<Shared>, NonNull<Core>)>,
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
        self.woken.store(true, Ordering::SeqCst);
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
        let shared = Arc::new(Shared {
            remote: Mutex::new(Remote {
                queue: VecDeque::new(),
                closed: false,
            }),
            remote_len: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            owned: OwnedTasks::new(),
            unpark: park.unparker(),
        });
        LocalExecutor {
            shared,
            core: Box::new(Core {
                queue: RefCell::new(VecDeque::with_capacity(256)),
                tick: Cell::new(0),
                running: Cell::new(false),
            }),
            park: RefCell::new(Box::new(park)),
            _not_send: PhantomData,
        }
    }

    /// Spawns a future that need not be `Send`; it runs on this executor's thread.
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        self.shared.spawn(future)
    }

    /// Spawns a `Send` future (same as `spawn_local`; here for symmetry with `Spawner`).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        self.shared.spawn(future)
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

    /// Whether a task is ready to be polled.
    pub fn has_ready_tasks(&self) -> bool {
        !self.core.queue.borrow().is_empty() || self.shared.remote_len.load(Ordering::SeqCst) > 0
    }

    fn enter(&self, what: &str) -> EnterGuard<'_> {
        assert!(
            !self.core.running.get(),
            "LocalExecutor::{what} called from inside a task of the same executor; \
             `.await` the future instead of driving the executor re-entrantly"
        );
        self.core.running.set(true);
        let me = (NonNull::from(&*self.shared), NonNull::from(&*self.core));
        let prev = CURRENT.with(|c| c.replace(Some(me)));
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
        let task = self.core.queue.borrow_mut().pop_front();
        if task.is_some() {
            return task;
        }
        if self.pull_remote() {
            self.core.queue.borrow_mut().pop_front()
        } else {
            None
        }
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
        self.shared.sleeping.store(true, Ordering::SeqCst);
        if woken() || self.has_ready_tasks() {
            self.shared.sleeping.store(false, Ordering::SeqCst);
            park.park(Some(Duration::ZERO));
            return;
        }
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
            let woken = || root.woken.load(Ordering::SeqCst);
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
        for task in self.shared.owned.close_and_drain() {
            task.shutdown();
        }
        loop {
            let mut drained: Vec<Notified> = self.core.queue.borrow_mut().drain(..).collect();
            drained.extend(self.shared.remote.lock().unwrap().queue.drain(..));
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

impl Drop for LocalExecutor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for LocalExecutor {
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
        self.shared.spawn(future)
    }

    /// Whether the executor behind this handle was dropped.
    pub fn is_closed(&self) -> bool {
        self.shared.owned.is_closed()
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
    let (shared, _) = CURRENT.with(|c| c.get()).ok_or(NoExecutor)?;
    // SAFETY: CURRENT holds `Arc::as_ptr` of the running executor's `Arc<Shared>`, which
    // outlives this call; bumping the count first makes `from_raw` own a new reference.
    let shared = unsafe {
        Arc::increment_strong_count(shared.as_ptr());
        Arc::from_raw(shared.as_ptr())
    };
    Ok(shared.spawn(future))
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
    let (shared, _) = CURRENT.with(|c| c.get())?;
    // SAFETY: as in `try_spawn_local`.
    let shared = unsafe {
        Arc::increment_strong_count(shared.as_ptr());
        Arc::from_raw(shared.as_ptr())
    };
    Some(Spawner { shared })
}
