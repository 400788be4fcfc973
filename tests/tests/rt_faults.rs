//! Faults are contained: panics in a future's `Drop` (after completion and during
//! cancellation), in many tasks at once, and in blocking closures come back through the
//! handles; panics in a waker's `wake` — fired by a timer, by I/O readiness, or by a task
//! finishing under a foreign `JoinHandle` waker — are caught in the driver and the
//! scheduler; and the runtime keeps serving.

use std::time::Duration;
use trioxide_tests::rt_test;

struct PanicOnDrop;
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("drop panicked");
    }
}

rt_test! {
    async fn a_panic_in_drop_after_completion_is_reported() {
        let task = trioxide::spawn(async {
            let _bomb = PanicOnDrop;
            5
        });
        let err = task.await.unwrap_err();
        assert!(err.is_panic() && err.to_string().contains("drop panicked"), "{err}");
        assert_eq!(trioxide::spawn(async { 1 }).await.unwrap(), 1, "still serving");
    }
}

rt_test! {
    async fn a_panic_in_drop_during_cancellation_is_reported() {
        // Cancel only once the task holds its bomb: cancelled before its first poll (a
        // loaded machine), it would have nothing to drop.
        let (armed_tx, armed) = trioxide::sync::oneshot::channel();
        let task = trioxide::spawn(async move {
            let _bomb = PanicOnDrop;
            let _ = armed_tx.send(());
            trioxide::time::sleep(Duration::from_secs(3600)).await;
        });
        armed.await.unwrap();
        task.cancel();
        let err = task.await.unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        assert_eq!(trioxide::spawn(async { 2 }).await.unwrap(), 2, "still serving");
    }
}

rt_test! {
    async fn a_thousand_panicking_tasks_do_not_take_the_runtime_down() {
        let handles: Vec<_> = (0..1000)
            .map(|i| trioxide::spawn(async move { if i % 2 == 0 { panic!("task {i}") } else { i } }))
            .collect();
        let mut ok = 0;
        let mut panicked = 0;
        for h in handles {
            match h.await {
                Ok(_) => ok += 1,
                Err(e) if e.is_panic() => panicked += 1,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!((ok, panicked), (500, 500));
        let blocking = trioxide::to_thread(|| panic!("blocking panic")).await.unwrap_err();
        assert!(blocking.is_panic());
        assert_eq!(trioxide::spawn(async { 3 }).await.unwrap(), 3);
    }
}

/// A waker that panics when woken: a foreign combinator's, say.
struct PanickingWaker;

impl std::task::Wake for PanickingWaker {
    fn wake(self: std::sync::Arc<Self>) {
        panic!("the waker panicked");
    }
}

/// Polls `fut` once with a waker that panics when it fires, then leaves it pending.
async fn register_panicking_waker<F: std::future::Future + Unpin>(fut: &mut F) {
    let waker = std::task::Waker::from(std::sync::Arc::new(PanickingWaker));
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(std::pin::Pin::new(fut).poll(&mut cx).is_pending());
}

rt_test! {
    async fn a_panicking_waker_fired_by_a_timer_leaves_the_runtime_serving() {
        let mut sleep = Box::pin(trioxide::time::sleep(Duration::from_millis(5)));
        register_panicking_waker(&mut sleep).await;
        // The timer fires inside the runtime's driver, which calls the waker.
        trioxide::time::sleep(Duration::from_millis(50)).await;
        let answer = trioxide::spawn(async { 42 }).await.unwrap();
        assert_eq!(answer, 42);
        drop(sleep);
    }
}

rt_test! {
    async fn a_panicking_waker_fired_by_io_readiness_leaves_the_runtime_serving() {
        use trioxide::io::{AsyncReadExt, AsyncWriteExt};
        let (mut a, mut b) = trioxide::net::UnixStream::pair().unwrap();
        let mut buf = [0u8; 4];
        {
            let mut read = Box::pin(a.read(&mut buf));
            register_panicking_waker(&mut read).await;
            // The readiness event is dispatched by the driver, which calls the waker.
            b.write_all(b"ping").await.unwrap();
            trioxide::time::sleep(Duration::from_millis(50)).await;
        }
        b.write_all(b"pong").await.unwrap();
        let mut got = Vec::new();
        while got.len() < 8 {
            let mut chunk = [0u8; 8];
            let n = a.read(&mut chunk).await.unwrap();
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(&got, b"pingpong");
        assert_eq!(trioxide::spawn(async { 7 }).await.unwrap(), 7);
    }
}

rt_test! {
    async fn a_panicking_join_waker_leaves_the_runtime_serving() {
        let (tx, rx) = trioxide::sync::oneshot::channel::<()>();
        let mut handle = trioxide::spawn(async move {
            rx.await.unwrap();
            5
        });
        register_panicking_waker(&mut handle).await;
        // The task completes on a worker, which wakes the handle's (panicking) waker.
        tx.send(()).unwrap();
        trioxide::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(handle.await.unwrap(), 5);
        assert_eq!(trioxide::spawn(async { 9 }).await.unwrap(), 9);
    }
}
