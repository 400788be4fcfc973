//! Loom models of the work-stealing pool's parking (the real code under
//! `--cfg trioxide_loom`): a task injected just as the only worker parks must still run
//! (no lost wake-up), and shutdown racing a wake from another thread neither hangs nor
//! leaks (loom reports leaked `Arc`s).
#![cfg(trioxide_loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use trioxide_task::{LocalExecutor, ThreadPark, WorkStealing, WorkStealingConfig};

fn pool() -> WorkStealing {
    WorkStealing::new(
        WorkStealingConfig {
            workers: 1,
            ..Default::default()
        },
        Box::new(ThreadPark::new()),
    )
    .unwrap()
}

#[test]
fn a_task_injected_as_the_last_worker_parks_still_runs() {
    loom::model(|| {
        let pool = pool();
        // The worker may be searching, parking or parked when this lands.
        let handle = pool.spawn(async { 7 });
        assert_eq!(LocalExecutor::new().block_on(handle).unwrap(), 7);
        drop(pool);
    });
}

#[test]
fn shutdown_races_a_spawn_from_another_thread() {
    loom::model(|| {
        let pool = pool();
        let spawner = pool.spawner();
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let other = loom::thread::spawn(move || {
            spawner.spawn(async move {
                r.fetch_add(1, Ordering::SeqCst);
            })
        });
        drop(pool); // shuts down while the other thread may be spawning
        let handle = other.join().unwrap();
        // Either it ran before shutdown, or it was cancelled; never left pending.
        assert!(handle.is_finished());
        assert!(ran.load(Ordering::SeqCst) <= 1);
    });
}
