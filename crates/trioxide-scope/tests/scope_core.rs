//! The scope crate on its own, over the task crate's `LocalExecutor` (and a one-worker
//! work-stealing pool for parallel children): no reactor, no timers — so these tests also
//! run under Miri (`cargo xtask miri`), which checks the scope's unsafe-free but
//! pointer-heavy bookkeeping (child slots, per-child wakers, the shared join waker) for
//! undefined behaviour and leaks.
#![cfg(not(trioxide_loom))]

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use trioxide_scope::{
    ChildError, Failure, LocalScopeFuture, SpawnerSource, scope_local, scope_with,
};
use trioxide_task::{LocalExecutor, ThreadPark, WorkStealing, WorkStealingConfig, yield_now};

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

/// A future that is pending `n` times (waking itself each time), then ready.
fn pending_times(n: usize) -> impl Future<Output = ()> {
    let mut left = n;
    std::future::poll_fn(move |cx| {
        if left == 0 {
            return Poll::Ready(());
        }
        left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

#[test]
fn borrowed_children_interleave_and_write_to_the_callers_frame() {
    let ex = LocalExecutor::new();
    let log = std::cell::RefCell::new(Vec::new());
    let out = ex.block_on(scope_local(None, |s| {
        let log = &log;
        async move {
            for id in 0..3 {
                s.spawn(async move {
                    for step in 0..3 {
                        log.borrow_mut().push((id, step));
                        yield_now().await;
                    }
                });
            }
            "body"
        }
    }));
    assert_eq!(out.unwrap(), "body");
    let log = log.into_inner();
    assert_eq!(log.len(), 9);
    // Every child got past its first step before any finished: they ran concurrently.
    let first_third: Vec<_> = log[..3].iter().map(|&(_, step)| step).collect();
    assert_eq!(first_third, vec![0, 0, 0]);
}

#[test]
fn a_failure_cancels_the_siblings_and_is_reported_with_every_panic() {
    let ex = LocalExecutor::new();
    let sibling_finished = Cell::new(false);
    let result = ex.block_on(scope_local(None, |s| {
        let sibling_finished = &sibling_finished;
        async move {
            s.spawn(async move {
                pending_times(1000).await;
                sibling_finished.set(true);
            });
            s.spawn_fallible(async { Err::<(), _>("boom") });
            s.spawn(async {
                yield_now().await;
                panic!("kaboom")
            });
            pending_times(1000).await;
        }
    }));
    let err = result.unwrap_err();
    assert!(!sibling_finished.get(), "the long sibling was cancelled");
    let failures = err.failures();
    assert!(matches!(&failures[0], Failure::Error(e) if e.to_string() == "boom"));
    // The panicking child was cancelled by the first failure before it could panic.
    assert_eq!(failures.len(), 1, "{failures:?}");
}

#[test]
fn handles_report_values_and_cancellation_after_the_scope() {
    let ex = LocalExecutor::new();
    let (a, b) = ex.block_on(async {
        let mut handles = None;
        let _ = scope_with(None, |s| {
            let handles = &mut handles;
            async move {
                let a = s.spawn(async { 7 });
                let b = s.spawn(std::future::pending::<u32>());
                yield_now().await;
                *handles = Some((a, b));
                s.cancel();
            }
        })
        .await;
        handles.unwrap()
    });
    assert_eq!(a.result(), Ok(7));
    assert_eq!(b.result(), Err(ChildError::Cancelled));
}

#[test]
fn dropping_the_scope_future_drops_every_borrowed_child() {
    let drops = Rc::new(Cell::new(0));
    struct CountDrop(Rc<Cell<u32>>);
    impl Drop for CountDrop {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    let ex = LocalExecutor::new();
    ex.block_on(async {
        let d = drops.clone();
        let mut fut = Box::pin(scope_local(None, move |s| async move {
            for _ in 0..4 {
                let guard = CountDrop(d.clone());
                s.spawn(async move {
                    let _guard = guard;
                    std::future::pending::<()>().await
                });
            }
            std::future::pending::<()>().await
        }));
        // Poll once so every child starts, then drop the scope.
        std::future::poll_fn(|cx| {
            assert!(fut.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        drop(fut);
    });
    assert_eq!(drops.get(), 4);
}

#[test]
fn parallel_children_all_finish_before_the_scope_returns() {
    let pool = pool();
    let spawner = SpawnerSource::Fixed(Arc::new(pool.spawner()));
    let done = Arc::new(AtomicUsize::new(0));
    let ex = LocalExecutor::new();
    let d = done.clone();
    let total = ex.block_on(scope_with(spawner, move |s| async move {
        let handles: Vec<_> = (0..20u64)
            .map(|i| {
                let d = d.clone();
                s.spawn_parallel(async move {
                    yield_now().await;
                    d.fetch_add(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    }));
    assert_eq!(total.unwrap(), (0..20).sum::<u64>());
    assert_eq!(done.load(Ordering::SeqCst), 20);
    drop(pool);
}

#[test]
fn dropped_and_abandoned_parallel_handles_still_hold_the_scope_open() {
    // A handle dropped at once detaches keeping the scope's join waker; one polled once
    // (its forwarding waker registered) and then dropped passes it on: either way the
    // scope waits for the child.
    let pool = pool();
    let spawner = SpawnerSource::Fixed(Arc::new(pool.spawner()));
    let done = Arc::new(AtomicUsize::new(0));
    let ex = LocalExecutor::new();
    let d = done.clone();
    let result = ex.block_on(scope_with(spawner, move |s| async move {
        for _ in 0..10 {
            let d = d.clone();
            drop(s.spawn_parallel(async move {
                pending_times(3).await;
                d.fetch_add(1, Ordering::SeqCst);
            }));
        }
        let d = d.clone();
        let mut abandoned = s.spawn_parallel(async move {
            pending_times(3).await;
            d.fetch_add(1, Ordering::SeqCst);
        });
        std::future::poll_fn(|cx| {
            let _ = std::pin::Pin::new(&mut abandoned).poll(cx);
            Poll::Ready(())
        })
        .await;
        drop(abandoned);
    }));
    assert!(result.is_ok());
    assert_eq!(done.load(Ordering::SeqCst), 11);
    drop(pool);
}

#[test]
fn a_cancelled_scope_cancels_its_parallel_children() {
    let pool = pool();
    let spawner = SpawnerSource::Fixed(Arc::new(pool.spawner()));
    let ex = LocalExecutor::new();
    let handles = ex.block_on(async {
        let mut handles = Vec::new();
        let result = scope_with(spawner, |s| {
            let handles = &mut handles;
            async move {
                for _ in 0..5 {
                    handles.push(s.spawn_parallel(std::future::pending::<()>()));
                }
                s.spawn_fallible(async { Err::<(), _>("stop") });
                std::future::pending::<()>().await
            }
        })
        .await;
        assert!(result.is_err());
        handles
    });
    for h in handles {
        assert_eq!(h.result(), Err(ChildError::Cancelled));
    }
    drop(pool);
}

#[test]
fn local_scopes_take_children_that_are_not_send() {
    let ex = LocalExecutor::new();
    let shared = Rc::new(std::cell::RefCell::new(Vec::new()));
    let out = ex.block_on(scope_local(None, |s| {
        let shared = shared.clone();
        async move {
            let handles: Vec<_> = (0..3)
                .map(|i| {
                    let shared = shared.clone();
                    s.spawn(async move {
                        yield_now().await;
                        shared.borrow_mut().push(i);
                        Rc::new(i * 10) // a !Send output, read back through the handle
                    })
                })
                .collect();
            let mut sum = 0;
            for h in handles {
                sum += *h.await.unwrap();
            }
            sum
        }
    }));
    assert_eq!(out.unwrap(), 30);
    assert_eq!(shared.borrow().len(), 3);
}

#[test]
fn a_local_scope_reports_failures_like_a_send_scope() {
    let ex = LocalExecutor::new();
    let flag = Rc::new(Cell::new(false));
    let f = flag.clone();
    let result = ex.block_on(scope_local(None, move |s| async move {
        s.spawn(async move {
            pending_times(100).await;
            f.set(true);
        });
        let failing = s.spawn_fallible(async { Err::<Rc<()>, _>("local failure") });
        assert_eq!(failing.await.unwrap_err(), ChildError::Failed);
    }));
    let err = result.unwrap_err();
    assert!(matches!(&err.failures()[0], Failure::Error(e) if e.to_string() == "local failure"));
    assert!(!flag.get(), "the sibling was cancelled");
}

/// Compiles only if `T` is not `Send`: with a `Send` type both impls apply and the
/// inferred parameter is ambiguous.
trait AmbiguousIfSend<A> {
    fn check() {}
}
impl<T: ?Sized> AmbiguousIfSend<()> for T {}
impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}

#[test]
fn local_scope_futures_and_handles_are_not_send() {
    type Body = std::future::Ready<()>;
    <LocalScopeFuture<'static, Body> as AmbiguousIfSend<_>>::check();
    <trioxide_scope::LocalScopeHandle<u32> as AmbiguousIfSend<_>>::check();
    <trioxide_scope::LocalScope<'static> as AmbiguousIfSend<_>>::check();
}

/// Waits for whichever comes first: `cancelled()` (returns `true`) or `work`.
async fn cancelled_or<F: Future<Output = ()>>(work: F) -> bool {
    let mut watch = std::pin::pin!(trioxide_task::cancel::cancelled());
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if watch.as_mut().poll(cx).is_ready() {
            return Poll::Ready(true);
        }
        work.as_mut().poll(cx).map(|()| false)
    })
    .await
}

#[test]
fn a_child_awaiting_cancelled_is_told_instead_of_dropped_and_cleans_up_borrowing() {
    let ex = LocalExecutor::new();
    let mut report = Vec::new();
    let result = ex.block_on(scope_local(None, |s| {
        let report = &mut report;
        async move {
            s.spawn(async move {
                let was_cancelled = cancelled_or(std::future::pending()).await;
                // Async cleanup that borrows from the caller's frame.
                yield_now().await;
                report.push(if was_cancelled {
                    "cleaned up"
                } else {
                    "finished"
                });
            });
            s.spawn(async {
                yield_now().await;
            });
            s.spawn_fallible(async {
                yield_now().await;
                Err::<(), _>("sibling failed")
            });
        }
    }));
    let err = result.unwrap_err();
    assert_eq!(err.failures().len(), 1, "only the sibling's failure");
    assert_eq!(report, ["cleaned up"]);
}

#[test]
fn a_body_awaiting_cancelled_sees_scope_cancel_and_returns_its_value() {
    let ex = LocalExecutor::new();
    let out = ex.block_on(scope_local(None, |s| async move {
        let s2 = s.clone();
        s.spawn(async move {
            yield_now().await;
            s2.cancel();
        });
        let was_cancelled = cancelled_or(std::future::pending()).await;
        // Children spawned once the scope is cancelled start out cancelled.
        let late = s.spawn(async { 1 });
        assert_eq!(late.await, Err(ChildError::Cancelled));
        was_cancelled
    }));
    assert!(
        out.unwrap(),
        "the body's cancelled() resolved and its value came back"
    );
}

#[test]
fn a_child_that_stopped_watching_is_dropped_as_usual() {
    let ex = LocalExecutor::new();
    let finished = Cell::new(false);
    let result = ex.block_on(scope_local(None, |s| {
        let finished = &finished;
        async move {
            s.spawn(async move {
                // Watches briefly, then stops (the cancelled() future is dropped).
                let _ = cancelled_or(yield_now()).await;
                std::future::pending::<()>().await;
                finished.set(true);
            });
            s.spawn_fallible(async {
                pending_times(3).await;
                Err::<(), _>("boom")
            });
        }
    }));
    assert!(result.is_err());
    assert!(!finished.get());
}
