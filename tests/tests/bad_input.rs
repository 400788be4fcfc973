//! Misuse of the public API gets a clear error or a panic that says what to do, never a
//! hang, an overflow or a silent wrong answer (one test per case).

use std::time::Duration;
use trioxide::runtime::{BuildError, Runtime};
use trioxide::time::{Instant, sleep, sleep_until, timeout};

fn rt() -> Runtime {
    Runtime::builder()
        .flavor(trioxide::runtime::Flavor::CurrentThread)
        .build()
        .unwrap()
}

#[test]
fn duration_max_deadlines_do_not_overflow() {
    rt().block_on(async {
        // A sleep of Duration::MAX is "never": it neither panics nor fires.
        let never = timeout(Duration::from_millis(5), sleep(Duration::MAX)).await;
        assert!(never.is_err());
        // A timeout of Duration::MAX around a quick future just returns its value.
        assert_eq!(timeout(Duration::MAX, async { 1 }).await, Ok(1));
        assert_eq!(
            trioxide::move_on_after(Duration::MAX, async { 2 }).await,
            Some(2)
        );
        assert_eq!(
            trioxide::fail_after(Duration::MAX, async { 3 }).await,
            Ok(3)
        );
        let scope = trioxide::CancelScope::with_timeout(Duration::MAX);
        assert_eq!(scope.run(async { 4 }).await, Some(4));
    });
}

#[test]
fn deadlines_in_the_past_complete_at_once() {
    rt().block_on(async {
        let past = Instant::now() - Duration::from_secs(1);
        sleep_until(past).await;
        assert!(
            timeout(Duration::ZERO, sleep(Duration::from_secs(1)))
                .await
                .is_err()
        );
    });
}

#[test]
#[should_panic(expected = "the period must be non-zero")]
fn a_zero_interval_period_says_so() {
    rt().block_on(async {
        let _ = trioxide::time::interval(Duration::ZERO);
    });
}

#[test]
#[should_panic(expected = "JoinHandle polled after it returned")]
fn awaiting_a_consumed_join_handle_says_so() {
    rt().block_on(async {
        let mut handle = trioxide::spawn(async { 1 });
        assert_eq!((&mut handle).await.unwrap(), 1);
        let _ = (&mut handle).await; // consumed: a clear panic, not garbage
    });
}

#[test]
#[should_panic(expected = "bounded channel capacity must be positive")]
fn a_zero_capacity_channel_says_so() {
    let _ = trioxide::sync::mpsc::channel::<u8>(0);
}

#[test]
fn task_done_too_often_is_an_error() {
    let q = trioxide::sync::Queue::<u8>::new(0);
    assert!(q.task_done().is_err(), "nothing was put");
    q.try_put(1).unwrap();
    q.try_get().unwrap();
    assert!(q.task_done().is_ok());
    assert!(q.task_done().is_err(), "more task_done calls than items");
}

#[test]
fn zero_threads_are_typed_build_errors() {
    assert!(matches!(
        Runtime::builder().worker_threads(0).build(),
        Err(BuildError::ZeroWorkerThreads)
    ));
    assert!(matches!(
        Runtime::builder().max_blocking_threads(0).build(),
        Err(BuildError::ZeroBlockingThreads)
    ));
}

#[test]
#[should_panic(expected = "called inside a runtime")]
fn block_on_inside_a_runtime_says_what_to_do() {
    let outer = rt();
    let inner = rt();
    outer.block_on(async move { inner.block_on(async {}) });
}

#[test]
fn io_outside_a_runtime_is_an_error() {
    let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = trioxide::net::UdpSocket::from_std(std).unwrap_err();
    assert!(
        err.to_string().contains("wrap the code in trioxide::run"),
        "{err}"
    );
}
