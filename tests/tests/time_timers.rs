//! Timers end to end: sleeps fire in deadline order and never early, `timeout` elapses
//! and cancels its future, intervals tick on schedule, dropped sleeps disarm.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use trioxide::time::{Instant, interval, sleep, sleep_until, timeout};
use trioxide_tests::rt_test;

rt_test! {
    async fn sleeps_fire_in_deadline_order_and_never_early() {
        let start = Instant::now();
        // (deadline in ms, whether the sleep armed a timer), in the order they woke.
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        // Deadlines spread over 50..200 ms, spawned in a scrambled order.
        let delays: Vec<u64> = (0..150u64).map(|i| 50 + (i * 37) % 150).collect();
        let handles: Vec<_> = delays
            .iter()
            .map(|&ms| {
                let order = order.clone();
                trioxide::spawn(async move {
                    let deadline = start + Duration::from_millis(ms);
                    let mut timer = std::pin::pin!(sleep_until(deadline));
                    // A task first polled after its deadline (the spawning thread can
                    // stall that long on a loaded machine) finishes at once, in spawn
                    // order, without a timer: only armed timers say anything about the
                    // wheel's firing order.
                    let armed = std::future::poll_fn(|cx| {
                        std::task::Poll::Ready(timer.as_mut().poll(cx).is_pending())
                    })
                    .await;
                    timer.await;
                    let now = Instant::now();
                    assert!(now >= deadline, "fired {:?} early", deadline - now);
                    order.lock().unwrap().push((ms, armed));
                })
            })
            .collect();
        // Then hold the thread (spawned last, it runs after the sleeps' first polls) past
        // the first deadlines, so that many timers come due in one turn of the wheel:
        // their wake-up order is then the wheel's firing order within a batch.
        let stall = trioxide::spawn(async { std::thread::sleep(Duration::from_millis(80)) });
        for h in handles {
            h.await.unwrap();
        }
        stall.await.unwrap();
        let order = order.lock().unwrap();
        assert_eq!(order.len(), 150);
        // On one thread, wake-up order is firing order, and the wheel fires in deadline
        // order: these deadlines are whole milliseconds apart, so each falls on a tick of
        // its own. (With several workers, tasks woken in one batch run in parallel, so
        // only "never early", checked above, holds.)
        if trioxide::Handle::current().flavor() == trioxide::runtime::Flavor::CurrentThread {
            let fired: Vec<u64> = order
                .iter()
                .filter(|(_, armed)| *armed)
                .map(|(ms, _)| *ms)
                .collect();
            assert!(
                fired.len() >= 2,
                "only {} of 150 sleeps armed a timer: their first polls came 200 ms late",
                fired.len()
            );
            assert!(
                fired.windows(2).all(|w| w[0] < w[1]),
                "out of order: {fired:?}"
            );
        }
    }
}

rt_test! {
    async fn timeout_elapses_and_drops_the_inner_future() {
        struct SetOnDrop(Arc<AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        let start = Instant::now();
        let result = timeout(Duration::from_millis(20), async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
        })
        .await;
        assert!(result.is_err());
        assert_eq!(result.unwrap_err().to_string(), "deadline has elapsed");
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert!(dropped.load(Ordering::SeqCst), "the inner future was cancelled");
    }
}

rt_test! {
    async fn timeout_returns_the_value_when_the_future_wins() {
        let v = timeout(Duration::from_secs(10), async { 5 }).await;
        assert_eq!(v, Ok(5));
        let v = timeout(Duration::ZERO, async { 6 }).await;
        assert_eq!(v, Ok(6), "a ready future wins even a zero timeout");
        let v = timeout(Duration::from_secs(10), sleep(Duration::from_millis(5))).await;
        assert!(v.is_ok());
    }
}

rt_test! {
    async fn interval_ticks_on_a_fixed_schedule() {
        let mut ticker = interval(Duration::from_millis(10));
        let first = ticker.tick().await;
        for i in 1..=5u32 {
            let t = ticker.tick().await;
            assert_eq!(t, first + Duration::from_millis(10) * i);
            assert!(Instant::now() >= t);
        }
    }
}

rt_test! {
    async fn many_dropped_sleeps_disarm_their_timers() {
        for _ in 0..10_000 {
            let s = sleep(Duration::from_secs(60));
            let mut s = std::pin::pin!(s);
            assert!(futures_poll_once(s.as_mut()).await.is_none());
        }
        // All disarmed: a short sleep still completes promptly.
        sleep(Duration::from_millis(1)).await;
    }
}

rt_test! {
    async fn zero_and_past_sleeps_complete_at_once() {
        sleep(Duration::ZERO).await;
        sleep_until(Instant::now() - Duration::from_millis(5)).await;
    }
}

/// Polls `f` once; `Some` if it was ready.
async fn futures_poll_once<F: std::future::Future + Unpin>(mut f: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match std::pin::Pin::new(&mut f).poll(cx) {
        std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}
