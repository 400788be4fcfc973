//! `to_thread` / `spawn_blocking` end to end, and runtime shutdown with work in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::runtime::{Flavor, Runtime};
use trioxide_tests::rt_test;

rt_test! {
    async fn a_blocking_call_does_not_stall_other_tasks() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let t = ticks.clone();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let ticker = trioxide::spawn(async move {
            loop {
                trioxide::time::sleep(Duration::from_millis(2)).await;
                if t.fetch_add(1, Ordering::SeqCst) >= 5 {
                    return;
                }
            }
        });
        // The blocking closure waits until the ticker has ticked five times: that can only
        // happen if the async side keeps running while the closure blocks its thread.
        let seen = ticks.clone();
        let blocking = trioxide::to_thread(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while seen.load(Ordering::SeqCst) < 5 && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(stop_rx);
            seen.load(Ordering::SeqCst) >= 5
        });
        assert!(blocking.await.unwrap(), "the ticker ran while the closure blocked");
        ticker.await.unwrap();
        drop(stop_tx);
    }
}

rt_test! {
    async fn blocking_results_and_panics_come_back() {
        assert_eq!(trioxide::spawn_blocking(|| 6 * 7).await.unwrap(), 42);
        let err = trioxide::to_thread(|| panic!("blocking boom")).await.unwrap_err();
        assert!(err.is_panic());
        assert!(err.to_string().contains("blocking boom"));
    }
}

#[test]
fn shutdown_timeout_returns_with_a_blocked_task_in_flight() {
    for flavor in [Flavor::CurrentThread, Flavor::WorkStealing] {
        let rt = Runtime::builder().flavor(flavor).build().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let started = Arc::new(AtomicUsize::new(0));
        let s = started.clone();
        let _blocked = rt.spawn_blocking(move || {
            s.store(1, Ordering::SeqCst);
            let _ = rx.recv_timeout(Duration::from_secs(30));
        });
        let pending = rt.spawn(async {
            trioxide::time::sleep(Duration::from_secs(3600)).await;
        });
        while started.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let start = std::time::Instant::now();
        let in_time = rt.shutdown_timeout(Duration::from_millis(200));
        assert!(
            !in_time,
            "{flavor:?}: the blocked closure cannot finish in time"
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{flavor:?}: returned promptly"
        );
        assert!(
            pending.is_finished(),
            "{flavor:?}: pending tasks were cancelled"
        );
        drop(tx);
    }
}

#[test]
fn work_stealing_is_the_default_and_runs_tasks_on_workers() {
    let rt = Runtime::new().unwrap();
    assert_eq!(rt.flavor(), Flavor::WorkStealing);
    let name = rt.block_on(async {
        trioxide::spawn(async { std::thread::current().name().map(String::from) })
            .await
            .unwrap()
    });
    assert!(
        name.unwrap().starts_with("trioxide-"),
        "tasks run on worker threads"
    );
}

#[test]
#[should_panic(expected = "spawn_local called on a work-stealing worker thread")]
fn spawn_local_on_a_worker_says_what_to_do() {
    let rt = Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .build()
        .unwrap();
    let result = rt.block_on(rt.spawn(async {
        drop(trioxide::spawn_local(async {}));
    }));
    if let Err(err) = result {
        std::panic::resume_unwind(err.try_into_panic().unwrap());
    }
}
