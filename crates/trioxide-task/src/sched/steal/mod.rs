//! The work-stealing scheduler: N worker threads, each with a local ring and a LIFO slot,
//! a global injection queue, stealing of half a random victim's ring, and parking that
//! wakes at most one searching worker at a time. One parked worker at a time waits in
//! the shared I/O driver — or, with `with_worker_drivers`, each worker in its own.
//!
//! Files: `queue` (the lock-free local ring), `inject` (the global queue), `idle`
//! (searching / sleeping bookkeeping), `park` (per-worker parker over the shared driver),
//! `worker` (the run loop and `Schedule` impl).

mod idle;
mod inject;
mod park;
pub(crate) mod queue;
mod worker;

use crate::loom::sync::{Arc, Mutex};
use crate::park::Park;
use crate::sched::metrics::SchedulerMetrics;
use crate::task::{JoinHandle, new_task};
use park::{Parker, SharedDriver};
use std::fmt;
use std::future::Future;
use std::io;
use std::time::{Duration, Instant};
use worker::{Remote, Shared, StealScheduler, ThreadHook};

/// How to build a [`WorkStealing`] pool.
pub struct WorkStealingConfig {
    /// Worker threads (at least 1).
    pub workers: usize,
    /// Name prefix of the worker threads (`{name}-{index}`).
    pub thread_name: String,
    /// Called on each worker thread before it runs any task.
    pub on_thread_start: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
    /// Called on each worker thread after it stopped running tasks.
    pub on_thread_stop: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
    /// Called around the pool's tasks: spawns, timed polls, unread panics, shutdown (see
    /// [`TaskHooks`](crate::TaskHooks)). `None` (the default) costs nothing.
    pub hooks: Option<std::sync::Arc<dyn crate::TaskHooks>>,
}

impl Default for WorkStealingConfig {
    fn default() -> Self {
        WorkStealingConfig {
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            thread_name: "trioxide-worker".into(),
            on_thread_start: None,
            on_thread_stop: None,
            hooks: None,
        }
    }
}

impl fmt::Debug for WorkStealingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkStealingConfig")
            .field("workers", &self.workers)
            .field("thread_name", &self.thread_name)
            .finish_non_exhaustive()
    }
}

/// A multi-threaded, work-stealing executor for `Send` futures.
///
/// ```
/// use trioxide_task::{WorkStealing, WorkStealingConfig, ThreadPark, LocalExecutor};
/// let pool = WorkStealing::new(
///     WorkStealingConfig { workers: 2, ..Default::default() },
///     Box::new(ThreadPark::new()),
/// ).unwrap();
/// let handles: Vec<_> = (0..100u64).map(|i| pool.spawn(async move { i * 2 })).collect();
/// let sum: u64 = LocalExecutor::new().block_on(async {
///     let mut sum = 0;
///     for h in handles { sum += h.await.unwrap(); }
///     sum
/// });
/// assert_eq!(sum, 9900);
/// ```
pub struct WorkStealing {
    shared: Arc<Shared>,
    threads: Mutex<Vec<crate::loom::thread::JoinHandle<()>>>,
}

/// Spawns onto a [`WorkStealing`] pool from any thread.
#[derive(Clone)]
pub struct StealSpawner {
    shared: Arc<Shared>,
}

/// A pool needs at least one worker.
fn check_workers(n: usize) -> io::Result<()> {
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a work-stealing pool needs at least one worker",
        ));
    }
    Ok(())
}

impl WorkStealing {
    /// Starts the workers. `driver` is the `Park` one idle worker at a time waits in (the
    /// facade passes its reactor; a plain `ThreadPark` works for CPU-only pools).
    pub fn new(
        config: WorkStealingConfig,
        driver: Box<dyn Park + Send>,
    ) -> io::Result<WorkStealing> {
        check_workers(config.workers)?;
        let driver = Arc::new(SharedDriver::new(driver));
        let parkers = (0..config.workers)
            .map(|_| Parker::new(driver.clone()))
            .collect();
        Self::start(config, parkers)
    }

    /// Starts one worker per entry of `drivers`, each parking in its own driver (and
    /// polling it every few ticks), never on a condvar. This is the shape of an I/O
    /// backend with one instance per thread — io_uring, where a request's completion work
    /// runs on the thread that submitted it, so each worker must be the one that submits
    /// and waits on its ring. The drivers coordinate anything they share (timers)
    /// themselves. `config.workers` is ignored: the pool has `drivers.len()` workers.
    pub fn with_worker_drivers(
        config: WorkStealingConfig,
        drivers: Vec<Box<dyn Park + Send>>,
    ) -> io::Result<WorkStealing> {
        check_workers(drivers.len())?;
        let parkers = drivers
            .into_iter()
            .map(|driver| Parker::new(Arc::new(SharedDriver::with_owner(driver, true))))
            .collect();
        Self::start(config, parkers)
    }

    fn start(config: WorkStealingConfig, parkers: Vec<Parker>) -> io::Result<WorkStealing> {
        let n = parkers.len();
        let workers: Box<[Remote]> = parkers.into_iter().map(Remote::new).collect();
        let shared = Arc::new(Shared::new(
            workers,
            config.on_thread_start.map(|h| h as ThreadHook),
            config.on_thread_stop.map(|h| h as ThreadHook),
            crate::task::hooks::Hooks(config.hooks),
        ));
        let mut threads = Vec::with_capacity(n);
        for index in 0..n {
            let for_worker = shared.clone();
            let spawned = spawn_thread(format!("{}-{index}", config.thread_name), move || {
                worker::run_worker(for_worker, index)
            });
            match spawned {
                Ok(t) => threads.push(t),
                Err(err) => {
                    shared.begin_shutdown();
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(err);
                }
            }
        }
        Ok(WorkStealing {
            shared,
            threads: Mutex::new(threads),
        })
    }

    /// The index of the worker running on this thread, if it is one of this pool's.
    pub fn current_worker(&self) -> Option<usize> {
        worker::current_worker_index(&self.shared)
    }

    /// Spawns a task; from a worker it goes to that worker's queue, otherwise to the
    /// injection queue.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        spawn_on(&self.shared, future)
    }

    /// A handle that spawns onto this pool from anywhere.
    pub fn spawner(&self) -> StealSpawner {
        StealSpawner {
            shared: self.shared.clone(),
        }
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.shared.workers.len()
    }

    /// Tasks spawned and not yet finished.
    pub fn live_tasks(&self) -> usize {
        self.shared.owned.len()
    }

    /// Successful steals so far.
    pub fn steals(&self) -> u64 {
        self.metrics().steals
    }

    /// The pool's counters, summed over its workers (see [`SchedulerMetrics`]).
    pub fn metrics(&self) -> SchedulerMetrics {
        metrics_of(&self.shared)
    }

    /// Tasks waiting in the injection queue.
    pub fn injector_depth(&self) -> usize {
        self.shared.inject.len()
    }

    /// Cancels every task (each future is dropped on a worker), stops the workers and
    /// waits up to `timeout` for them. Returns `false` if a worker was still busy (e.g. in
    /// a task that blocks its thread) when the time ran out; it is then left detached.
    pub fn shutdown_timeout(&self, timeout: Duration) -> bool {
        self.shared.begin_shutdown();
        let deadline = Instant::now().checked_add(timeout);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap());
        let mut all_joined = true;
        for t in threads {
            if !join_until(t, deadline) {
                all_joined = false;
            }
        }
        if all_joined {
            self.shared.finish_shutdown();
        }
        all_joined
    }
}

#[cfg(not(trioxide_loom))]
fn spawn_thread(
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(name).spawn(f)
}

#[cfg(trioxide_loom)]
fn spawn_thread(
    _name: String,
    f: impl FnOnce() + 'static,
) -> io::Result<loom::thread::JoinHandle<()>> {
    Ok(loom::thread::spawn(f))
}

#[cfg(not(trioxide_loom))]
fn join_until(t: std::thread::JoinHandle<()>, deadline: Option<Instant>) -> bool {
    while let Some(deadline) = deadline {
        if t.is_finished() {
            break;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    t.join().is_ok()
}

#[cfg(trioxide_loom)]
fn join_until(t: loom::thread::JoinHandle<()>, _deadline: Option<Instant>) -> bool {
    t.join().is_ok()
}

/// Sums the workers' counters.
fn metrics_of(shared: &Shared) -> SchedulerMetrics {
    let mut m = SchedulerMetrics {
        workers: shared.workers.len(),
        live_tasks: shared.owned.len(),
        spawned: shared.remote_spawned.get(),
        injector_depth: shared.inject.len(),
        ..SchedulerMetrics::default()
    };
    for worker in shared.workers.iter() {
        worker.counters.add_to(&mut m);
    }
    m
}

fn spawn_on<F>(shared: &Arc<Shared>, future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send,
{
    let (task, notified, handle) = new_task(future, StealScheduler(shared.clone()));
    match shared.owned.bind(task) {
        Ok(()) => shared.schedule_spawn(notified),
        Err(task) => {
            drop(notified);
            task.shutdown();
        }
    }
    handle
}

impl StealSpawner {
    /// The index of the worker running on this thread, if it is one of this pool's.
    pub fn current_worker(&self) -> Option<usize> {
        worker::current_worker_index(&self.shared)
    }

    /// Spawns `future` on the pool (cancelled at once if the pool was shut down).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        spawn_on(&self.shared, future)
    }

    /// Whether the pool was shut down.
    pub fn is_closed(&self) -> bool {
        self.shared.owned.is_closed()
    }

    /// The pool's counters (as [`WorkStealing::metrics`]).
    pub fn metrics(&self) -> SchedulerMetrics {
        metrics_of(&self.shared)
    }
}

impl Drop for WorkStealing {
    fn drop(&mut self) {
        self.shutdown_timeout(Duration::MAX);
    }
}

impl fmt::Debug for WorkStealing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkStealing")
            .field("workers", &self.workers())
            .field("live_tasks", &self.live_tasks())
            .finish()
    }
}

impl fmt::Debug for StealSpawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StealSpawner").finish_non_exhaustive()
    }
}
