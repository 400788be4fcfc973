//! `#[trioxide::test]` end to end: the generated tests build a runtime (with options, and
//! with the builder's defaults), run real async work on it (timers, spawned tasks), keep
//! `#[should_panic]`, and report a runtime that cannot be built by panicking.

use std::time::{Duration, Instant};
use trioxide::runtime::{Handle, IoBackend};

#[trioxide::test(flavor = "current_thread")]
async fn current_thread_runs_spawned_tasks_and_timers() {
    let started = Instant::now();
    let tasks: Vec<_> = (0..10u64)
        .map(|i| {
            trioxide::spawn(async move {
                trioxide::time::sleep(Duration::from_millis(5)).await;
                i * i
            })
        })
        .collect();
    let mut sum = 0;
    for task in tasks {
        sum += task.await.unwrap();
    }
    assert_eq!(sum, (0..10u64).map(|i| i * i).sum());
    assert!(started.elapsed() >= Duration::from_millis(5));
}

#[trioxide::test(io = "epoll")]
async fn io_option_reaches_the_builder() {
    assert_eq!(Handle::current().io_backend(), IoBackend::Epoll);
    trioxide::time::sleep(Duration::from_millis(1)).await;
}

#[trioxide::test]
async fn no_options_use_the_builder_defaults() {
    let task = trioxide::spawn(async {
        trioxide::yield_now().await;
        "done"
    });
    assert_eq!(task.await.unwrap(), "done");
}

/// Tests may return `Result`, and `?` in the body infers as in the `async fn`.
#[trioxide::test]
async fn results_and_question_marks() -> Result<(), trioxide::JoinError> {
    let value = trioxide::spawn(async { 3 }).await?;
    assert_eq!(value, 3);
    Ok(())
}

#[trioxide::test]
#[should_panic(expected = "panicked after an await")]
async fn should_panic_is_kept() {
    trioxide::time::sleep(Duration::from_millis(1)).await;
    panic!("panicked after an await");
}

#[trioxide::test(flavor = "thread_per_core", worker_threads = 2)]
async fn thread_per_core_options_reach_the_builder() {
    let handle = trioxide::Handle::current();
    assert_eq!(handle.flavor(), trioxide::runtime::Flavor::ThreadPerCore);
    assert_eq!(handle.cores(), Some(2));
    let on_core_1 = handle
        .spawn_on(1, async { std::thread::current().name().map(String::from) })
        .unwrap()
        .await
        .unwrap();
    assert!(on_core_1.unwrap().ends_with("-core-1"));
}

#[trioxide::test]
#[ignore = "checks only that #[ignore] is kept on the generated test"]
async fn ignore_is_kept() {
    panic!("ignored tests do not run");
}
