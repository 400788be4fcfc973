//! Black-box tests of `BlockingPool`: results and panics through the `JoinHandle`, a
//! blocking sleep that does not stall a `LocalExecutor`, scaling up to the thread cap and
//! no further, idle retirement, cancellation before the start, and shutdown.
//!
//! Ordering comes from channels and counters; the only clocks are generous deadlines
//! (seconds) on waits that normally end in milliseconds.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use trioxide_task::{
    BlockingConfig, BlockingPool, JoinError, LocalExecutor, spawn_local, yield_now,
};

/// Generous bound for waits that normally take milliseconds.
const DEADLINE: Duration = Duration::from_secs(10);

fn pool_with(max_threads: usize, keep_alive: Duration) -> BlockingPool {
    BlockingPool::new(BlockingConfig {
        max_threads,
        keep_alive,
        ..BlockingConfig::default()
    })
}

/// Polls `cond` until it holds, failing after `DEADLINE`.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A job that reports it started, then blocks until the returned sender fires (or drops).
fn gated_job(pool: &BlockingPool) -> (trioxide_task::JoinHandle<&'static str>, mpsc::Sender<()>) {
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let handle = pool.spawn_blocking(move || {
        started_tx.send(()).unwrap();
        let _ = go_rx.recv_timeout(DEADLINE);
        "gated"
    });
    started_rx
        .recv_timeout(DEADLINE)
        .expect("the gated job starts");
    (handle, go_tx)
}

#[test]
fn results_come_back_through_the_handle() {
    let pool = BlockingPool::default();
    let ex = LocalExecutor::new();
    let caller = std::thread::current().id();
    let handles: Vec<_> = (0..8u64)
        .map(|i| pool.spawn_blocking(move || (i * i, std::thread::current().id())))
        .collect();
    ex.block_on(async {
        for (i, handle) in handles.into_iter().enumerate() {
            let (square, thread) = handle.await.unwrap();
            assert_eq!(square, (i * i) as u64);
            assert_ne!(thread, caller, "the closure ran on a pool thread");
        }
    });
}

#[test]
fn panics_come_back_as_join_error_panicked() {
    let pool = pool_with(1, Duration::from_secs(10));
    let ex = LocalExecutor::new();
    let boom = pool.spawn_blocking(|| -> u32 { panic!("blocking kaboom") });
    let err = ex.block_on(boom).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "task panicked: blocking kaboom");
    // The thread survived the panic and serves the next job.
    assert_eq!(ex.block_on(pool.spawn_blocking(|| 7)).unwrap(), 7);
    assert_eq!(pool.threads(), 1);
}

#[test]
fn a_blocking_sleep_does_not_stall_other_tasks() {
    let pool = BlockingPool::default();
    let ex = LocalExecutor::new();
    let ticks = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (t, d) = (ticks.clone(), done.clone());
    // The blocking job sleeps, then waits (generously) until it has seen the ticker
    // advance while it was running: if the sleep stalled the executor, it never would.
    let job = pool.spawn_blocking(move || {
        let before = t.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        let deadline = Instant::now() + DEADLINE;
        while t.load(Ordering::SeqCst) < before + 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        t.load(Ordering::SeqCst) - before
    });
    let advanced = ex.block_on(async move {
        let ticker = spawn_local(async move {
            while !d.load(Ordering::SeqCst) {
                ticks.fetch_add(1, Ordering::SeqCst);
                yield_now().await;
            }
        });
        let advanced = job.await.unwrap();
        done.store(true, Ordering::SeqCst);
        ticker.await.unwrap();
        advanced
    });
    assert!(advanced >= 3, "the ticker ran {advanced} times meanwhile");
}

#[test]
fn threads_scale_up_to_the_cap_and_no_further() {
    const CAP: usize = 4;
    const JOBS: usize = 16;
    let pool = pool_with(CAP, Duration::from_secs(10));
    let ex = LocalExecutor::new();
    let running = Arc::new(AtomicUsize::new(0));
    let max_running = Arc::new(AtomicUsize::new(0));
    let max_threads = Arc::new(AtomicUsize::new(0));
    // The first CAP jobs meet at a barrier: proof that CAP threads run at once.
    let barrier = Arc::new(Barrier::new(CAP));
    let handles: Vec<_> = (0..JOBS)
        .map(|i| {
            let (running, max_running) = (running.clone(), max_running.clone());
            let (max_threads, pool2, barrier) =
                (max_threads.clone(), pool.clone(), barrier.clone());
            pool.spawn_blocking(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                max_running.fetch_max(now, Ordering::SeqCst);
                max_threads.fetch_max(pool2.threads(), Ordering::SeqCst);
                if i < CAP {
                    barrier.wait();
                }
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                i
            })
        })
        .collect();
    assert!(pool.threads() <= CAP);
    ex.block_on(async {
        for (i, handle) in handles.into_iter().enumerate() {
            assert_eq!(handle.await.unwrap(), i);
        }
    });
    assert_eq!(pool.threads(), CAP, "the pool grew to its cap");
    assert!(max_threads.load(Ordering::SeqCst) <= CAP);
    assert!(max_running.load(Ordering::SeqCst) <= CAP);
    assert!(pool.shutdown(DEADLINE));
}

#[test]
fn idle_threads_retire_after_keep_alive() {
    let pool = pool_with(8, Duration::from_millis(50));
    let ex = LocalExecutor::new();
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let barrier = barrier.clone();
            pool.spawn_blocking(move || {
                barrier.wait();
            })
        })
        .collect();
    ex.block_on(async {
        for handle in handles {
            handle.await.unwrap();
        }
    });
    // Three jobs met at a barrier, so three threads ran; with nothing to do, they retire.
    wait_until("idle threads retire", || pool.threads() == 0);
    assert_eq!(pool.idle_threads(), 0);
    // A retired pool starts threads again on demand.
    assert_eq!(ex.block_on(pool.spawn_blocking(|| 5)).unwrap(), 5);
}

#[test]
fn cancel_before_start_never_runs_the_closure() {
    let pool = pool_with(1, Duration::from_secs(10));
    let ex = LocalExecutor::new();
    let (gated, go) = gated_job(&pool);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let queued = pool.spawn_blocking(move || flag.store(true, Ordering::SeqCst));
    queued.cancel();
    go.send(()).unwrap();
    assert_eq!(ex.block_on(gated).unwrap(), "gated");
    assert!(matches!(ex.block_on(queued), Err(JoinError::Cancelled)));
    // The worker has drained the queue once this job runs after the cancelled one.
    assert_eq!(ex.block_on(pool.spawn_blocking(|| 1)).unwrap(), 1);
    assert!(
        !ran.load(Ordering::SeqCst),
        "a cancelled closure never runs"
    );
}

#[test]
fn cancel_while_running_does_not_interrupt() {
    let pool = pool_with(1, Duration::from_secs(10));
    let ex = LocalExecutor::new();
    let (gated, go) = gated_job(&pool);
    gated.cancel();
    go.send(()).unwrap();
    assert_eq!(
        ex.block_on(gated).unwrap(),
        "gated",
        "a started closure finishes"
    );
}

#[test]
fn shutdown_cancels_queued_work_and_returns_within_its_timeout() {
    let pool = pool_with(1, Duration::from_secs(10));
    let ex = LocalExecutor::new();
    let (gated, go) = gated_job(&pool);
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..4)
        .map(|_| {
            let ran = ran.clone();
            pool.spawn_blocking(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let started = Instant::now();
    let all_exited = pool.shutdown(Duration::from_millis(200));
    let took = started.elapsed();
    assert!(!all_exited, "the gated job was still running");
    assert!(
        took >= Duration::from_millis(200),
        "waited the timeout: {took:?}"
    );
    assert!(took < DEADLINE, "and not much longer: {took:?}");
    ex.block_on(async {
        for handle in queued {
            assert!(matches!(handle.await, Err(JoinError::Cancelled)));
        }
    });
    assert_eq!(ran.load(Ordering::SeqCst), 0, "queued closures never ran");
    // The running closure was not interrupted and its result still arrives.
    go.send(()).unwrap();
    assert_eq!(ex.block_on(gated).unwrap(), "gated");
    wait_until("the detached thread exits", || pool.threads() == 0);
}

#[test]
fn shutdown_waits_for_running_closures() {
    let pool = pool_with(2, Duration::from_secs(10));
    let ex = LocalExecutor::new();
    let (gated, go) = gated_job(&pool);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        go.send(()).unwrap();
    });
    assert!(pool.shutdown(DEADLINE), "everything exited in time");
    assert_eq!(pool.threads(), 0);
    assert_eq!(ex.block_on(gated).unwrap(), "gated");
    releaser.join().unwrap();
}

#[test]
fn spawning_after_shutdown_gives_cancelled() {
    let pool = BlockingPool::default();
    let ex = LocalExecutor::new();
    assert_eq!(ex.block_on(pool.spawn_blocking(|| 1)).unwrap(), 1);
    assert!(pool.shutdown(DEADLINE));
    assert!(pool.is_shutdown());
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let late = pool.spawn_blocking(move || flag.store(true, Ordering::SeqCst));
    assert!(late.is_finished(), "resolved immediately");
    assert!(matches!(ex.block_on(late), Err(JoinError::Cancelled)));
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(pool.threads(), 0, "no thread was started for it");
}

#[test]
fn spawn_blocking_from_inside_a_task() {
    let pool = BlockingPool::default();
    let ex = LocalExecutor::new();
    let out = ex.block_on(async {
        let pool = pool.clone();
        let task = spawn_local(async move { pool.spawn_blocking(|| "from a task").await });
        task.await.unwrap()
    });
    assert_eq!(out.unwrap(), "from a task");
}
