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

/// A stream connected on core 0 and then used only from core 1, while core 0 has nothing
/// to do but sleep in its driver: on io_uring core 1's operations go to core 0's ring,
/// which only core 0 submits (it is set up for one submitter), so each push must wake
/// core 0. Owned reads and writes and readiness-based ones both complete.
fn a_stream_moved_to_another_core_works_while_its_home_core_sleeps(io: trioxide::runtime::Io) {
    use trioxide::io::{AsyncReadExt, AsyncWriteExt};
    let rt = match Runtime::builder()
        .flavor(Flavor::ThreadPerCore)
        .worker_threads(2)
        .io(io)
        .build()
    {
        Ok(rt) => rt,
        Err(trioxide::runtime::BuildError::IoUringUnavailable { reason }) => {
            eprintln!("skipping: io_uring unavailable here ({reason})");
            return;
        }
        Err(err) => panic!("runtime does not build: {err}"),
    };
    rt.block_on(async {
        let handle = trioxide::Handle::current();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 5];
            for _ in 0..20 {
                conn.read_exact(&mut buf).unwrap();
                conn.write_all(&buf).unwrap();
            }
        });
        let stream = handle
            .spawn_on(0, async move {
                trioxide::net::TcpStream::connect(addr).await.unwrap()
            })
            .unwrap()
            .await
            .unwrap();
        let used_elsewhere = handle
            .spawn_on(1, async move {
                let mut stream = stream;
                for _ in 0..10 {
                    let (res, _) = stream.write_all_owned(b"hello".to_vec()).await;
                    res.unwrap();
                    let mut echoed = Vec::new();
                    while echoed.len() < 5 {
                        let want = Vec::with_capacity(5 - echoed.len());
                        let (n, got) = stream.read_owned(want).await;
                        assert!(n.unwrap() > 0, "the peer closed early");
                        echoed.extend_from_slice(&got);
                    }
                    assert_eq!(echoed, b"hello");
                }
                for _ in 0..10 {
                    stream.write_all(b"hello").await.unwrap();
                    let mut back = [0u8; 5];
                    stream.read_exact(&mut back).await.unwrap();
                    assert_eq!(&back, b"hello");
                }
            })
            .unwrap();
        trioxide::time::timeout(Duration::from_secs(20), used_elsewhere)
            .await
            .expect("operations from core 1 on core 0's ring completed")
            .unwrap();
        peer.join().unwrap();
    });
}

#[test]
fn a_moved_stream_works_while_its_home_core_sleeps_epoll() {
    a_stream_moved_to_another_core_works_while_its_home_core_sleeps(trioxide::runtime::Io::Epoll);
}

#[test]
fn a_moved_stream_works_while_its_home_core_sleeps_uring() {
    a_stream_moved_to_another_core_works_while_its_home_core_sleeps(trioxide::runtime::Io::IoUring);
}
