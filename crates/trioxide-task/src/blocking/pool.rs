//! [`BlockingPool`]: the threads, the `surplus` accounting that decides when to start one,
//! the worker loop with its keep-alive retirement, and shutdown.
//!
//! The algorithm (tokio's blocking pool with a crossbeam hand-off) is described in the
//! parent module's docs. The invariants this file keeps, all under `Inner::state`:
//! 1. `surplus` = (workers counted as waiting) − (jobs pushed and not yet received). A
//!    worker counts as waiting from its start, and again each time it finishes a job,
//!    until its wait ends in a received job (−1 waiting, −1 job: no change) or it exits.
//! 2. A spawner pushes under the lock, so `surplus` and the channel change together; it
//!    starts a thread iff `surplus < 0` after counting its job and `threads < max`.
//! 3. A worker exits only under the lock, after `try_pop` found the channel empty; it
//!    decrements `surplus` and `threads` in that same critical section. So a job is never
//!    queued with every thread gone: either the exiting worker's check sees it, or the
//!    job's spawner locks afterwards and sees the lower counts.
//! 4. `tx` is `None` once shutdown began; no job is pushed after that, and exiting workers
//!    leave their `JoinHandle` in `workers` for shutdown to join.

use super::channel::{self, Receiver, Sender};
use super::task::{BlockingSchedule, BlockingTask};
use super::{BlockingConfig, Pop};
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Condvar, Mutex, MutexGuard};
use crate::loom::thread::JoinHandle as ThreadHandle;
use crate::task::list::OwnedTasks;
use crate::task::{JoinHandle, Notified, Task, new_task};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::PoisonError;
use std::time::Duration;

// The shim has no thread builder; loom's and std's have the same `name`/`spawn` API.
#[cfg(trioxide_loom)]
use loom::thread::Builder;
#[cfg(not(trioxide_loom))]
use std::thread::Builder;

/// How long dropping the last [`BlockingPool`] handle waits for running closures.
const DROP_TIMEOUT: Duration = Duration::from_millis(100);

/// A pool of threads for blocking work: file I/O, DNS lookups, CPU-heavy computations,
/// anything that would stall an executor thread.
///
/// Threads start on demand, when no thread is idle, up to
/// [`max_threads`](BlockingConfig::max_threads); beyond that, work queues up. A thread
/// idle for [`keep_alive`](BlockingConfig::keep_alive) exits.
///
/// `BlockingPool` is `Send + Sync` and cheap to clone: clones are handles to one pool (an
/// `Arc` inside). Dropping the last handle shuts the pool down with a short bounded wait
/// (100 ms): queued closures are cancelled; a closure still running then keeps its
/// thread, which is detached, and its result still reaches its `JoinHandle`.
///
/// ```
/// use trioxide_task::{BlockingConfig, BlockingPool, LocalExecutor};
/// use std::time::Duration;
///
/// let pool = BlockingPool::new(BlockingConfig::default());
/// let ex = LocalExecutor::new();
/// let sum = pool.spawn_blocking(|| (1..=100u32).sum::<u32>());
/// assert_eq!(ex.block_on(sum).unwrap(), 5050);
/// assert!(pool.shutdown(Duration::from_secs(5)));
/// ```
#[derive(Clone)]
pub struct BlockingPool {
    handle: Arc<Handle>,
}

/// The user-facing handle count: the last one shuts the pool down on drop. (Workers and
/// tasks hold `Inner` directly, so they don't keep the pool open.)
struct Handle {
    inner: Arc<Inner>,
}

/// The pool proper, shared by handles, workers and the scheduler in each task.
pub(crate) struct Inner {
    state: Mutex<State>,
    /// Signalled each time a worker exits (shutdown waits on it).
    exited: Condvar,
    rx: Receiver,
    owned: OwnedTasks,
    /// Workers inside their wait on the channel (a metric, not used for decisions).
    idle: AtomicUsize,
    config: BlockingConfig,
    on_thread_start: Option<ThreadHook>,
    on_thread_stop: Option<ThreadHook>,
}

/// A callback run on each pool thread as it starts or stops.
type ThreadHook = std::sync::Arc<dyn Fn() + Send + Sync>;

struct State {
    /// The channel's sending half; `None` once shutdown began (rule 4).
    tx: Option<Sender>,
    /// Threads alive (started and not yet exited).
    threads: usize,
    /// Waiting workers minus queued jobs (rule 1).
    surplus: isize,
    /// Thread handles, to join them at shutdown; a worker retiring before shutdown removes
    /// (detaches) its own.
    workers: HashMap<usize, ThreadHandle<()>>,
    next_id: usize,
}

#[cfg(not(trioxide_loom))]
std::thread_local! {
    /// On a pool thread: its pool's address and its worker id.
    static WORKER: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

#[cfg(trioxide_loom)]
loom::thread_local! {
    /// On a pool thread: its pool's address and its worker id.
    static WORKER: Cell<Option<(usize, usize)>> = Cell::new(None);
}

impl BlockingPool {
    /// A pool with no threads yet; they start as work arrives.
    pub fn new(config: BlockingConfig) -> Self {
        Self::with_thread_hooks(config, None, None)
    }

    /// A pool whose threads call `on_start` before their first job and `on_stop` as they
    /// exit (after leaving the pool's thread count, so `shutdown` may return first).
    pub fn with_thread_hooks(
        mut config: BlockingConfig,
        on_start: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
        on_stop: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
    ) -> Self {
        config.max_threads = config.max_threads.max(1);
        let (tx, rx) = channel::channel();
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                tx: Some(tx),
                threads: 0,
                surplus: 0,
                workers: HashMap::new(),
                next_id: 0,
            }),
            exited: Condvar::new(),
            rx,
            owned: OwnedTasks::new(),
            idle: AtomicUsize::new(0),
            config,
            on_thread_start: on_start,
            on_thread_stop: on_stop,
        });
        BlockingPool {
            handle: Arc::new(Handle { inner }),
        }
    }

    fn inner(&self) -> &Arc<Inner> {
        &self.handle.inner
    }

    /// Runs `f` on a pool thread; the handle gives its result.
    ///
    /// - A panic in `f` comes back as `JoinError::Panicked`.
    /// - [`JoinHandle::cancel`] before `f` started means it never runs (`Cancelled`);
    ///   once it runs it cannot be interrupted, and the handle gets its result.
    /// - After [`shutdown`](Self::shutdown), the handle resolves to `Cancelled` at once
    ///   and `f` is dropped unrun.
    ///
    /// # Panics
    /// If the OS refuses to start a thread while the pool has none.
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner();
        let scheduler = BlockingSchedule(inner.clone());
        let (task, notified, handle) = new_task(BlockingTask::new(f), scheduler);
        match inner.owned.bind(task) {
            Ok(()) => Inner::schedule(inner, notified),
            Err(task) => {
                drop(notified);
                task.shutdown();
            }
        }
        handle
    }

    /// Threads alive now (idle or busy).
    pub fn threads(&self) -> usize {
        self.inner().lock_state().threads
    }

    /// Jobs spawned and not yet finished (queued or running).
    pub fn pending_jobs(&self) -> usize {
        self.inner().owned.len()
    }

    /// Threads waiting for work now (a snapshot, for tests and metrics).
    pub fn idle_threads(&self) -> usize {
        self.inner().idle.load(Ordering::Relaxed)
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.inner().lock_state().tx.is_none()
    }

    /// Stops the pool: later spawns resolve to `Cancelled` at once, queued closures are
    /// dropped unrun (their handles resolve to `Cancelled`), then waits up to `timeout`
    /// for running closures to finish and every thread to exit. Returns whether all did.
    ///
    /// Closures still running after `timeout` are not interrupted: their threads are
    /// detached and exit when the closure returns, and the result still reaches the
    /// `JoinHandle`. Called from a closure running on this pool, it does not wait for its
    /// own thread. Calling it again waits again.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.inner().shutdown(timeout)
    }
}

impl Default for BlockingPool {
    /// A pool with [`BlockingConfig::default`].
    fn default() -> Self {
        Self::new(BlockingConfig::default())
    }
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPool")
            .field("threads", &self.threads())
            .field("idle_threads", &self.idle_threads())
            .field("max_threads", &self.inner().config.max_threads)
            .finish()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.shutdown(DROP_TIMEOUT);
    }
}

impl Inner {
    /// The state, even if a thread panicked while holding it (every update is a few
    /// integer stores that cannot be left half-done).
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `task` and starts a thread if no waiting one is left for it (rule 2).
    /// (Associated functions rather than methods on `Arc<Self>`: loom's `Arc` cannot be a
    /// `self` type.)
    pub(crate) fn schedule(this: &Arc<Inner>, task: Notified) {
        let mut state = this.lock_state();
        let Some(tx) = &state.tx else {
            drop(state);
            drop(task); // shut down: the owned list already cancelled the task
            return;
        };
        tx.push(task);
        state.surplus -= 1;
        if state.surplus < 0
            && state.threads < this.config.max_threads
            && let Err(err) = Inner::start_thread(this, &mut state)
            && state.threads == 0
        {
            drop(state);
            panic!("the blocking pool could not start a thread: {err}");
        }
        // (If a start failed with threads alive, one of them gets to the job when free.)
    }

    /// The task finished: take it out of the owned list.
    pub(crate) fn release(&self, task: &Task) -> Option<Task> {
        self.owned.remove(task)
    }

    fn start_thread(this: &Arc<Inner>, state: &mut State) -> std::io::Result<()> {
        let id = state.next_id;
        let inner = this.clone();
        let handle = Builder::new()
            .name(this.config.thread_name.clone())
            .spawn(move || Inner::run_worker(inner, id))?;
        state.next_id += 1;
        state.threads += 1;
        state.surplus += 1; // the new thread counts as waiting from its start (rule 1)
        state.workers.insert(id, handle);
        Ok(())
    }

    /// The worker loop: wait for a job up to `keep_alive`, run it, repeat; exit on a
    /// timeout with nothing queued, or when the channel is closed and empty.
    fn run_worker(this: Arc<Inner>, id: usize) {
        let this = &*this;
        WORKER.with(|w| w.set(Some((this.addr(), id))));
        if let Some(hook) = &this.on_thread_start {
            hook();
        }
        loop {
            // Counted as waiting in `surplus` here.
            this.idle.fetch_add(1, Ordering::Relaxed);
            let popped = this.rx.pop_timeout(this.config.keep_alive);
            this.idle.fetch_sub(1, Ordering::Relaxed);
            let task = match popped {
                // One waiter and one job fewer: `surplus` is unchanged.
                Pop::Task(task) => task,
                Pop::Timeout | Pop::Closed => {
                    let mut state = this.lock_state();
                    match this.rx.try_pop() {
                        // As above: a job arrived just as the wait ended.
                        Some(task) => task,
                        None => {
                            // Rule 3: leave while holding the lock.
                            state.surplus -= 1;
                            state.threads -= 1;
                            if state.tx.is_some() {
                                drop(state.workers.remove(&id)); // detach: nobody joins
                            }
                            drop(state);
                            this.exited.notify_all();
                            if let Some(hook) = &this.on_thread_stop {
                                hook();
                            }
                            return;
                        }
                    }
                }
            };
            // Never unwinds: the harness catches panics of the closure and of drops.
            task.run();
            this.lock_state().surplus += 1;
        }
    }

    fn addr(&self) -> usize {
        self as *const Inner as usize
    }

    fn shutdown(&self, timeout: Duration) -> bool {
        let tx = self.lock_state().tx.take();
        // Closing the channel wakes the idle workers, which find it empty and exit.
        drop(tx);
        for task in self.owned.close_and_drain() {
            // A queued task is cancelled here (its closure dropped unrun); a running one is
            // only marked and completes with its value.
            task.shutdown();
        }
        // The cancelled tasks' queue entries: each only holds a reference now.
        while let Some(task) = self.rx.try_pop() {
            drop(task);
        }
        self.wait_for_threads(timeout)
    }

    /// Waits until every thread but the caller's own (if it is one of ours) has exited,
    /// or `timeout` passed; joins the exited ones. Returns whether all exited.
    fn wait_for_threads(&self, timeout: Duration) -> bool {
        let own = WORKER
            .with(|w| w.get())
            .and_then(|(pool, id)| (pool == self.addr()).then_some(id));
        let target = usize::from(own.is_some());
        let mut state = self.lock_state();
        #[cfg(not(trioxide_loom))]
        {
            let deadline = std::time::Instant::now().checked_add(timeout);
            while state.threads > target {
                state = match deadline {
                    None => self
                        .exited
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner),
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(std::time::Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        let waited = self.exited.wait_timeout(state, left);
                        waited.unwrap_or_else(PoisonError::into_inner).0
                    }
                };
            }
        }
        #[cfg(trioxide_loom)]
        {
            // No clock under loom: wait for the threads (the models' closures all return).
            let _ = timeout;
            while state.threads > target {
                state = self.exited.wait(state).unwrap();
            }
        }
        let done = state.threads <= target;
        let handles: Vec<_> = state
            .workers
            .drain()
            .filter(|(id, _)| Some(*id) != own)
            .map(|(_, handle)| handle)
            .collect();
        drop(state);
        if done {
            // Each has left the pool (rule 3); joining only waits for it to unwind.
            for handle in handles {
                let _ = handle.join();
            }
        }
        // Otherwise dropping the handles detaches the threads still running a closure.
        done
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::LocalExecutor;
    use std::time::Instant;

    fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn pool_handles_are_send_sync_and_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<BlockingPool>();
    }

    #[test]
    fn an_idle_thread_is_reused_instead_of_starting_another() {
        let pool = BlockingPool::default();
        let ex = LocalExecutor::new();
        for i in 0..5 {
            assert_eq!(ex.block_on(pool.spawn_blocking(move || i)).unwrap(), i);
            wait_until("the worker waits again", || pool.idle_threads() == 1);
            assert_eq!(pool.threads(), 1);
        }
        assert_eq!(pool.inner().lock_state().surplus, 1);
        assert!(pool.shutdown(Duration::from_secs(5)));
        assert_eq!(pool.threads(), 0);
    }

    #[test]
    fn threads_are_named_from_the_config() {
        let pool = BlockingPool::new(BlockingConfig {
            thread_name: String::from("my-blocking"),
            ..BlockingConfig::default()
        });
        let ex = LocalExecutor::new();
        let name = pool.spawn_blocking(|| std::thread::current().name().map(str::to_owned));
        assert_eq!(ex.block_on(name).unwrap().as_deref(), Some("my-blocking"));
    }

    #[test]
    fn zero_max_threads_means_one() {
        let pool = BlockingPool::new(BlockingConfig {
            max_threads: 0,
            ..BlockingConfig::default()
        });
        let ex = LocalExecutor::new();
        let handles: Vec<_> = (0..3).map(|i| pool.spawn_blocking(move || i)).collect();
        ex.block_on(async {
            for (i, handle) in handles.into_iter().enumerate() {
                assert_eq!(handle.await.unwrap(), i);
            }
        });
        assert_eq!(pool.threads(), 1);
    }

    #[test]
    fn shutdown_from_inside_a_closure_does_not_wait_for_itself() {
        let pool = BlockingPool::default();
        let ex = LocalExecutor::new();
        let inner_pool = pool.clone();
        let handle = pool.spawn_blocking(move || {
            let started = Instant::now();
            let done = inner_pool.shutdown(Duration::from_secs(30));
            (done, started.elapsed())
        });
        let (done, took) = ex.block_on(handle).unwrap();
        assert!(done, "only the calling thread was left");
        assert!(took < Duration::from_secs(10), "took {took:?}");
        wait_until("the last thread exits", || pool.threads() == 0);
    }

    #[test]
    fn dropping_the_last_handle_shuts_down_and_detaches_a_running_closure() {
        let pool = BlockingPool::default();
        let ex = LocalExecutor::new();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let running = pool.spawn_blocking(move || {
            started_tx.send(()).unwrap();
            go_rx.recv_timeout(Duration::from_secs(10)).is_ok()
        });
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let clone = pool.clone();
        drop(pool);
        assert!(!clone.is_shutdown(), "a clone keeps the pool open");
        let dropped_at = Instant::now();
        drop(clone);
        assert!(dropped_at.elapsed() < Duration::from_secs(5));
        go_tx.send(()).unwrap();
        assert!(ex.block_on(running).unwrap(), "the result still arrives");
    }
}
