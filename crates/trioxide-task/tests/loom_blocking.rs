//! Loom model checks of the blocking pool's hand-off (`--cfg trioxide_loom`): a spawn
//! racing a busy worker, a spawn racing a worker through its idle → retire path (this one
//! fails if the retiring worker's `surplus`/`threads` update is split across two lock
//! acquisitions, or if it retires without re-checking the channel), a spawn racing
//! shutdown, and a cancel racing a worker picking the job up. Under loom the pool's channel is a loom
//! `Mutex<VecDeque>` and the keep-alive wait is one `yield_now`, so a worker may retire at
//! any point the model picks; `surplus` and the thread count are the pool's real code.
//!
//! "No lost job" shows as every `block_on` returning (a lost job would leave the handle
//! pending forever: loom reports a deadlock); "exactly once" as the closure's run count
//! matching the handle's result; leaks as loom's `Arc` leak check at the end of a model.
//!
//! Run with `RUSTFLAGS="--cfg trioxide_loom -C debug-assertions" CARGO_TARGET_DIR=target/loom
//! LOOM_MAX_PREEMPTIONS=2 cargo test --release -p trioxide-task --test loom_blocking`.
#![cfg(trioxide_loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use std::time::Duration;
use trioxide_task::{BlockingConfig, BlockingPool, JoinError, JoinHandle, LocalExecutor};

/// A one-thread pool, so every job goes through the same worker's lifecycle.
fn one_thread_pool() -> BlockingPool {
    BlockingPool::new(BlockingConfig {
        max_threads: 1,
        keep_alive: Duration::from_millis(1),
        ..BlockingConfig::default()
    })
}

/// Spawns a job that counts its runs and returns `value`.
fn counted(pool: &BlockingPool, runs: &Arc<AtomicUsize>, value: u32) -> JoinHandle<u32> {
    let runs = runs.clone();
    pool.spawn_blocking(move || {
        runs.fetch_add(1, Ordering::SeqCst);
        value
    })
}

#[test]
fn second_spawn_races_the_worker_running_the_first() {
    loom::model(|| {
        let pool = one_thread_pool();
        let ex = LocalExecutor::new();
        let runs = Arc::new(AtomicUsize::new(0));
        // The first job starts the worker; the second is queued while that worker runs
        // the first (it is at the cap, so no thread is started) or lands after it.
        let first = counted(&pool, &runs, 1);
        let second = counted(&pool, &runs, 2);
        assert_eq!(ex.block_on(first).unwrap(), 1);
        assert_eq!(
            ex.block_on(second).unwrap(),
            2,
            "the second job was not lost"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(pool.threads() <= 1, "the cap holds");
        assert!(pool.shutdown(Duration::from_secs(1)));
        assert_eq!(pool.threads(), 0);
    });
}

#[test]
fn spawn_after_a_job_races_the_idle_worker_retiring() {
    loom::model(|| {
        let pool = one_thread_pool();
        let ex = LocalExecutor::new();
        let runs = Arc::new(AtomicUsize::new(0));
        assert_eq!(ex.block_on(counted(&pool, &runs, 1)).unwrap(), 1);
        // The worker is now going back to wait, timing out, or retiring; this spawn must
        // either reach it or see it gone and start a new thread.
        assert_eq!(ex.block_on(counted(&pool, &runs, 2)).unwrap(), 2);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(pool.threads() <= 1, "the cap holds");
        drop(pool);
    });
}

#[test]
fn spawn_races_shutdown() {
    loom::model(|| {
        let pool = one_thread_pool();
        let runs = Arc::new(AtomicUsize::new(0));
        let spawner = {
            let (pool, runs) = (pool.clone(), runs.clone());
            thread::spawn(move || counted(&pool, &runs, 7))
        };
        let all_exited = pool.shutdown(Duration::from_secs(1));
        let handle = spawner.join().unwrap();
        let ex = LocalExecutor::new();
        match ex.block_on(handle) {
            Ok(value) => {
                assert_eq!(value, 7);
                assert_eq!(runs.load(Ordering::SeqCst), 1, "ran exactly once");
            }
            Err(JoinError::Cancelled) => {
                assert_eq!(runs.load(Ordering::SeqCst), 0, "a cancelled job never runs");
            }
            Err(err) => panic!("unexpected {err:?}"),
        }
        assert!(all_exited);
        drop(pool);
    });
}

#[test]
fn cancel_races_the_worker_starting_the_job() {
    loom::model(|| {
        let pool = one_thread_pool();
        let runs = Arc::new(AtomicUsize::new(0));
        let handle = counted(&pool, &runs, 3);
        handle.cancel();
        let ex = LocalExecutor::new();
        match ex.block_on(handle) {
            Ok(value) => {
                assert_eq!(value, 3);
                assert_eq!(runs.load(Ordering::SeqCst), 1, "started before the cancel");
            }
            Err(JoinError::Cancelled) => assert_eq!(runs.load(Ordering::SeqCst), 0),
            Err(err) => panic!("unexpected {err:?}"),
        }
    });
}
