//! `Runtime::metrics()` / `Handle::metrics()` on every flavor and backend: spawns and
//! polls add up, timers, I/O operations, driver calls, parks and blocking threads move
//! as the work says, and a blocked worker's queued task gets stolen.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use trioxide::Handle;
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::metrics::RuntimeMetrics;
use trioxide::net::{TcpListener, TcpStream};
use trioxide::runtime::{Flavor, Io, Runtime};
use trioxide_tests::rt_test;

fn now() -> RuntimeMetrics {
    Handle::current().metrics()
}

/// Sleeps a little at a time until `done(metrics)` holds, for at most 10 s.
async fn until(what: &str, done: impl Fn(&RuntimeMetrics) -> bool) -> RuntimeMetrics {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = now();
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "{what} never happened: {m:?}");
        trioxide::time::sleep(Duration::from_millis(1)).await;
    }
}

rt_test! {
    async fn spawns_and_polls_add_up() {
        const N: u64 = 200;
        let before = now();
        assert!(before.workers >= 1);
        let handles: Vec<_> = (0..N)
            .map(|i| {
                trioxide::spawn(async move {
                    trioxide::yield_now().await;
                    i
                })
            })
            .collect();
        let mid = now();
        assert!(mid.spawned_tasks >= before.spawned_tasks + N, "{before:?} -> {mid:?}");
        assert!(mid.live_tasks as u64 <= N + before.live_tasks as u64);
        for h in handles {
            h.await.unwrap();
        }
        let after = now();
        assert!(after.polls >= before.polls + 2 * N, "yield = two polls each: {after:?}");
        assert!(after.spawned_tasks >= mid.spawned_tasks);
        until("the tasks leave", |m| m.live_tasks <= before.live_tasks).await;
    }
}

rt_test! {
    async fn timers_armed_are_counted_while_pending() {
        let sleeper = trioxide::spawn(trioxide::time::sleep(Duration::from_secs(30)));
        until("the timer is armed", |m| m.timers_armed >= 1).await;
        sleeper.cancel();
        let _ = sleeper.await;
        until("the timer is disarmed", |m| m.timers_armed == 0).await;
    }
}

rt_test! {
    async fn driver_calls_and_parks_grow_while_sleeping() {
        let before = now();
        for _ in 0..5 {
            trioxide::time::sleep(Duration::from_millis(2)).await;
        }
        let after = until("a park", |m| m.parks > before.parks).await;
        assert!(after.io_driver_calls > before.io_driver_calls, "{before:?} -> {after:?}");
    }
}

rt_test! {
    async fn socket_io_is_submitted_and_completed() {
        let before = now();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = trioxide::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 5];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"hello").await.unwrap();
        let mut back = [0u8; 5];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"hello");
        server.await.unwrap();
        let after = now();
        assert!(after.io_submitted > before.io_submitted, "{before:?} -> {after:?}");
        assert!(after.io_completed > before.io_completed, "{before:?} -> {after:?}");
    }
}

rt_test! {
    async fn blocking_threads_are_counted_live_and_idle() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let job = trioxide::spawn_blocking(move || wait.recv().unwrap());
        until("a busy blocking thread", |m| m.blocking_threads >= 1).await;
        release.send(()).unwrap();
        job.await.unwrap();
        until("the thread idles", |m| m.blocking_idle_threads >= 1).await;
    }
}

/// A 2-worker pool where the task on one worker blocks it until the task it spawned
/// (queued behind it on the same worker) ran: only a steal can get it there.
#[test]
fn a_blocked_workers_queue_is_stolen() {
    for io in [Io::Epoll, Io::IoUring] {
        let Some(rt) = build(
            Runtime::builder()
                .flavor(Flavor::WorkStealing)
                .worker_threads(2)
                .io(io),
        ) else {
            continue;
        };
        let before = rt.metrics();
        let stolen = rt.block_on(async {
            let blocker = trioxide::spawn(async {
                let ran = Arc::new(AtomicBool::new(false));
                let flag = ran.clone();
                let queued = trioxide::spawn(async move { flag.store(true, Ordering::SeqCst) });
                let deadline = Instant::now() + Duration::from_secs(10);
                while !ran.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1)); // blocks this worker
                }
                drop(queued);
                ran.load(Ordering::SeqCst)
            });
            blocker.await.unwrap()
        });
        assert!(
            stolen,
            "{io:?}: the queued task never ran while its worker was blocked"
        );
        let after = rt.metrics();
        assert!(
            after.steals > before.steals,
            "{io:?}: {before:?} -> {after:?}"
        );
        assert_eq!(after.workers, 2);
    }
}

fn build(b: &mut trioxide::runtime::Builder) -> Option<Runtime> {
    match b.build() {
        Ok(rt) => Some(rt),
        Err(trioxide::runtime::BuildError::IoUringUnavailable { reason }) => {
            eprintln!("skipping: io_uring unavailable here ({reason})");
            None
        }
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn metrics_are_readable_from_outside_and_print() {
    let rt = Runtime::builder()
        .flavor(Flavor::ThreadPerCore)
        .worker_threads(2)
        .io(Io::Epoll)
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    rt.block_on(async {
        let tasks: Vec<_> = (0..10).map(|_| trioxide::spawn(async {})).collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let m = std::thread::spawn(move || handle.metrics()).join().unwrap();
    assert_eq!(
        m.workers, 2,
        "cores count as workers, the block_on thread does not"
    );
    assert!(m.spawned_tasks >= 10 && m.polls >= 10, "{m:?}");
    let text = m.to_string();
    assert!(text.contains("workers 2, live tasks "), "{text}");
    assert!(text.contains("driver calls "), "{text}");
}
