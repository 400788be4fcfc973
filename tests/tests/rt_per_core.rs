//! The thread-per-core flavor: tasks stay on their core, `spawn_on` targets a core,
//! `spawn_local` works on every core, and shutdown cancels each core's tasks there.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::runtime::{Flavor, Runtime, SpawnOnError};

fn runtime(cores: usize) -> Runtime {
    Runtime::builder()
        .flavor(Flavor::ThreadPerCore)
        .worker_threads(cores)
        .build()
        .unwrap()
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_string()
}

#[test]
fn spawn_stays_on_the_current_core_and_spawn_on_targets_one() {
    let rt = runtime(3);
    rt.block_on(async {
        let handle = trioxide::Handle::current();
        for core in 0..3 {
            let (outer, inner) = handle
                .spawn_on(core, async {
                    let outer = thread_name();
                    // spawn from a core stays on that core
                    let inner = trioxide::spawn(async { thread_name() }).await.unwrap();
                    (outer, inner)
                })
                .unwrap()
                .await
                .unwrap();
            assert!(outer.ends_with(&format!("-core-{core}")), "{outer}");
            assert_eq!(outer, inner);
        }
        assert_eq!(
            handle.spawn_on(3, async {}).unwrap_err(),
            SpawnOnError::NoSuchCore { core: 3, cores: 3 }
        );
    });
}

#[test]
fn spawn_local_works_on_every_core_and_timers_and_io_too() {
    let rt = runtime(2);
    let total = rt.block_on(async {
        let handle = trioxide::Handle::current();
        let mut sum = 0;
        for core in 0..2 {
            sum += handle
                .spawn_on(core, async {
                    let not_send = std::rc::Rc::new(5);
                    let local = trioxide::spawn_local(async move { *not_send });
                    trioxide::time::sleep(Duration::from_millis(2)).await;
                    let (mut a, mut b) = trioxide::net::UnixStream::pair().unwrap();
                    use trioxide::io::{AsyncReadExt, AsyncWriteExt};
                    a.write_all(b"x").await.unwrap();
                    let mut buf = [0u8; 1];
                    b.read_exact(&mut buf).await.unwrap();
                    local.await.unwrap()
                })
                .unwrap()
                .await
                .unwrap();
        }
        sum
    });
    assert_eq!(total, 10);
}

#[test]
fn spawns_from_outside_spread_over_the_cores() {
    let rt = runtime(2);
    let names = rt.block_on(async {
        let handles: Vec<_> = (0..20)
            .map(|_| trioxide::spawn(async { thread_name() }))
            .collect();
        let mut names = Vec::new();
        for h in handles {
            names.push(h.await.unwrap());
        }
        names
    });
    assert!(names.iter().any(|n| n.ends_with("-core-0")));
    assert!(names.iter().any(|n| n.ends_with("-core-1")));
}

#[test]
fn dropping_the_runtime_cancels_tasks_on_their_own_core() {
    struct OnDrop(Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            assert!(
                std::thread::current()
                    .name()
                    .unwrap_or("")
                    .contains("-core-"),
                "dropped on its core"
            );
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = runtime(2);
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let guard = OnDrop(dropped.clone());
            rt.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            })
        })
        .collect();
    rt.block_on(trioxide::time::sleep(Duration::from_millis(10)));
    drop(rt);
    assert_eq!(dropped.load(Ordering::SeqCst), 10);
    assert!(handles.iter().all(|h| h.is_finished()));
}

#[test]
fn spawn_on_other_flavors_is_a_typed_error() {
    let rt = Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .build()
        .unwrap();
    let err = rt.handle().spawn_on(0, async {}).unwrap_err();
    assert_eq!(err, SpawnOnError::NotThreadPerCore);
    assert!(err.to_string().contains("Flavor::ThreadPerCore"));
}

#[test]
fn pinned_cores_still_run() {
    let rt = Runtime::builder()
        .flavor(Flavor::ThreadPerCore)
        .worker_threads(2)
        .pin_threads(true)
        .build()
        .unwrap();
    assert_eq!(rt.block_on(rt.spawn(async { 1 + 1 })).unwrap(), 2);
}
