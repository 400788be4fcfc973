//! Faults are contained: panics in a future's `Drop` (after completion and during
//! cancellation), in many tasks at once, and in blocking closures come back through the
//! handles, and the runtime keeps serving.

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
        let task = trioxide::spawn(async {
            let _bomb = PanicOnDrop;
            trioxide::time::sleep(Duration::from_secs(3600)).await;
        });
        trioxide::time::sleep(Duration::from_millis(2)).await;
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
