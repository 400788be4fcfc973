//! Structured concurrency end to end: every rule of scopes has a test that fails when
//! the rule is broken.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::scope::{ChildError, Failure};
use trioxide::time::sleep;
use trioxide_tests::rt_test;

#[derive(Debug)]
struct Boom(&'static str);
impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "boom {}", self.0)
    }
}
impl std::error::Error for Boom {}

rt_test! {
    async fn the_scope_returns_only_after_every_child_finished() {
        let finished = AtomicUsize::new(0);
        let parallel_done = Arc::new(AtomicUsize::new(0));
        let result = trioxide::scope(|s| {
            let finished = &finished; // borrowed
            let parallel_done = parallel_done.clone();
            async move {
                for i in 0..5u64 {
                    s.spawn(async move {
                        sleep(Duration::from_millis(5 * i)).await;
                        finished.fetch_add(1, Ordering::SeqCst);
                    });
                }
                for _ in 0..5 {
                    let done = parallel_done.clone();
                    s.spawn_parallel(async move {
                        sleep(Duration::from_millis(10)).await;
                        done.fetch_add(1, Ordering::SeqCst);
                    });
                }
                "body value"
            }
        })
        .await;
        assert_eq!(result.unwrap(), "body value");
        assert_eq!(finished.load(Ordering::SeqCst), 5);
        assert_eq!(parallel_done.load(Ordering::SeqCst), 5);
    }
}

rt_test! {
    async fn handles_give_results_after_the_scope_like_task_result() {
        async fn process_item(item: &str) -> String {
            sleep(Duration::from_millis(5)).await;
            format!("Processed {item}")
        }
        let mut handles = Vec::new();
        trioxide::scope(|tg| {
            let handles = &mut handles;
            async move {
                handles.push(tg.create_task(process_item("A")));
                handles.push(tg.create_task(process_item("B")));
                handles.push(tg.spawn_parallel(async { "parallel".to_string() }));
            }
        })
        .await
        .unwrap();
        let results: Vec<String> = handles.into_iter().map(|h| h.result().unwrap()).collect();
        assert_eq!(results, ["Processed A", "Processed B", "parallel"]);
    }
}

rt_test! {
    async fn the_first_error_cancels_siblings_and_the_body() {
        let sibling_finished = AtomicBool::new(false);
        let body_finished = AtomicBool::new(false);
        let result = trioxide::scope(|s| {
            let (sibling_finished, body_finished) = (&sibling_finished, &body_finished);
            async move {
                let slow = s.spawn(async move {
                    sleep(Duration::from_secs(3600)).await;
                    sibling_finished.store(true, Ordering::SeqCst);
                });
                s.spawn_fallible(async {
                    sleep(Duration::from_millis(5)).await;
                    Err::<(), _>(Boom("first"))
                });
                sleep(Duration::from_secs(3600)).await;
                body_finished.store(true, Ordering::SeqCst);
                drop(slow);
            }
        })
        .await;
        let err = result.unwrap_err();
        assert_eq!(err.failures().len(), 1, "a cancelled sibling is not an error: {err}");
        assert!(matches!(&err.failures()[0], Failure::Error(e) if e.to_string() == "boom first"));
        assert!(!sibling_finished.load(Ordering::SeqCst));
        assert!(!body_finished.load(Ordering::SeqCst));
        assert!(err.to_string().contains("boom first"));
    }
}

rt_test! {
    /// `try_scope`: a body that fails (`?`) cancels the children, borrowed and parallel,
    /// and the scope returns that error once they stopped — never hanging on them.
    async fn a_try_scope_body_error_cancels_the_children_and_fails_the_scope() {
        let borrowed_cleaned = Arc::new(AtomicBool::new(false));
        let parallel_cleaned = Arc::new(AtomicBool::new(false));
        let (b, p) = (borrowed_cleaned.clone(), parallel_cleaned.clone());
        let result = trioxide::time::timeout(
            Duration::from_secs(10),
            trioxide::try_scope(|s| async move {
                s.spawn(async move {
                    let _cleanup = trioxide::on_cancel(async move { b.store(true, Ordering::SeqCst) });
                    sleep(Duration::from_secs(3600)).await;
                });
                s.spawn_parallel(async move {
                    let _cleanup = trioxide::on_cancel(async move { p.store(true, Ordering::SeqCst) });
                    sleep(Duration::from_secs(3600)).await;
                });
                sleep(Duration::from_millis(5)).await;
                Err::<u32, _>(Boom("body"))?;
                Ok::<_, Boom>(1)
            }),
        )
        .await
        .expect("the scope waited for children it should have cancelled");
        let err = result.unwrap_err();
        assert_eq!(err.failures().len(), 1, "{err}");
        assert!(matches!(&err.failures()[0], Failure::Error(e) if e.to_string() == "boom body"));
        assert!(borrowed_cleaned.load(Ordering::SeqCst), "the borrowed child was cancelled");
        assert!(parallel_cleaned.load(Ordering::SeqCst), "the parallel child was cancelled");

        // A body that succeeds: its value, once every child finished.
        let done = AtomicBool::new(false);
        let ok = trioxide::try_scope(|s| {
            let done = &done;
            async move {
                s.spawn(async move {
                    sleep(Duration::from_millis(5)).await;
                    done.store(true, Ordering::SeqCst);
                });
                Ok::<_, Boom>(7)
            }
        })
        .await;
        assert_eq!(ok.unwrap(), 7);
        assert!(done.load(Ordering::SeqCst));

        // A child's error first, then the body's (it was cancelled before failing itself):
        // only the child's error.
        let err = trioxide::try_scope(|s| async move {
            s.spawn_fallible(async { Err::<(), _>(Boom("child")) });
            sleep(Duration::from_secs(3600)).await;
            Err::<(), _>(Boom("body, never"))
        })
        .await
        .unwrap_err();
        let seen: Vec<String> = err.failures().iter().map(|f| f.to_string()).collect();
        assert_eq!(seen, ["error: boom child"]);
    }
}

rt_test! {
    /// A panic in the body is a failure like a child's: it cancels the children and the
    /// scope returns it (the runtime and the caller survive).
    async fn a_panicking_body_fails_the_scope_and_cancels_the_children() {
        let cleaned = Arc::new(AtomicBool::new(false));
        let c = cleaned.clone();
        let result = trioxide::scope(|s| async move {
            s.spawn_parallel(async move {
                let _cleanup = trioxide::on_cancel(async move { c.store(true, Ordering::SeqCst) });
                sleep(Duration::from_secs(3600)).await;
            });
            sleep(Duration::from_millis(5)).await;
            panic!("the body gave up");
        })
        .await;
        let err = result.unwrap_err();
        let seen: Vec<String> = err.failures().iter().map(|f| f.to_string()).collect();
        assert_eq!(seen, ["panic: the body gave up"]);
        assert!(cleaned.load(Ordering::SeqCst), "the child was cancelled and cleaned up");
    }
}

#[test]
fn failures_before_the_cancellation_took_effect_are_all_collected() {
    // Two parallel children on two workers fail at the same moment (a barrier releases
    // both inside one poll each): the second failure happens before the first one's
    // cancellation can take effect (at the next poll boundary), so both are collected.
    let rt = trioxide::Runtime::builder()
        .flavor(trioxide::runtime::Flavor::WorkStealing)
        .worker_threads(2)
        .build()
        .unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let (b1, b2) = (barrier.clone(), barrier);
    let result = rt.block_on(trioxide::scope(|s| async move {
        s.spawn_parallel_fallible(async move {
            b1.wait();
            Err::<(), _>(Boom("one"))
        });
        s.spawn_parallel(async move {
            b2.wait();
            panic!("two")
        });
    }));
    let failures = result.unwrap_err().into_failures();
    let mut seen: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
    seen.sort();
    assert_eq!(seen, ["error: boom one", "panic: two"]);
}

rt_test! {
    async fn a_borrowed_sibling_after_the_first_failure_never_runs() {
        let ran = AtomicBool::new(false);
        let result = trioxide::scope(|s| {
            let ran = &ran;
            async move {
                s.spawn_fallible(async { Err::<(), _>(Boom("first")) });
                s.spawn(async move { ran.store(true, Ordering::SeqCst) });
            }
        })
        .await;
        assert_eq!(result.unwrap_err().failures().len(), 1);
        assert!(!ran.load(Ordering::SeqCst));
    }
}

rt_test! {
    async fn a_parallel_panic_fails_the_scope_and_the_runtime_survives() {
        let result = trioxide::scope(|s| async move {
            s.spawn_parallel(async { panic!("parallel boom") });
        })
        .await;
        let err = result.unwrap_err();
        assert!(matches!(&err.failures()[0], Failure::Panic(m) if m.message() == "parallel boom"));
        // Still serving.
        assert_eq!(trioxide::spawn(async { 1 }).await.unwrap(), 1);
    }
}

rt_test! {
    /// The error group keeps each panic's payload, not only its text: borrowed and
    /// parallel children's panics can be carried on with `resume_unwind` as raised.
    async fn a_childs_panic_payload_can_be_re_raised() {
        #[derive(Debug, PartialEq)]
        struct Custom(u32);
        fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}
        fn re_raised(err: trioxide::scope::ScopeError) -> u32 {
            assert_send_sync(&err);
            let mut failures = err.into_failures();
            assert_eq!(failures.len(), 1);
            let Failure::Panic(panic) = failures.remove(0) else {
                panic!("not a panic")
            };
            assert_eq!(panic.message(), "<non-string panic payload>");
            let payload = panic.into_payload();
            let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                std::panic::resume_unwind(payload)
            }));
            again.unwrap_err().downcast::<Custom>().unwrap().0
        }
        let borrowed = trioxide::scope(|s| async move {
            s.spawn(async { std::panic::panic_any(Custom(1)) });
        })
        .await;
        assert_eq!(re_raised(borrowed.unwrap_err()), 1);
        let parallel = trioxide::scope(|s| async move {
            s.spawn_parallel(async { std::panic::panic_any(Custom(2)) });
        })
        .await;
        assert_eq!(re_raised(parallel.unwrap_err()), 2);
    }
}

rt_test! {
    async fn dropping_the_scope_future_stops_every_child() {
        let ran_after_drop = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicBool::new(false));
        {
            let (r1, r2) = (ran_after_drop.clone(), ran_after_drop.clone());
            let fut = trioxide::scope(move |s| async move {
                s.spawn(async move {
                    sleep(Duration::from_millis(30)).await;
                    r1.store(true, Ordering::SeqCst);
                });
                s.spawn_parallel(async move {
                    sleep(Duration::from_millis(30)).await;
                    r2.store(true, Ordering::SeqCst);
                });
                std::future::pending::<()>().await
            });
            // Run the scope a little, then drop it mid-flight.
            let outcome = trioxide::time::timeout(Duration::from_millis(5), fut).await;
            assert!(outcome.is_err());
            dropped.store(true, Ordering::SeqCst);
        }
        sleep(Duration::from_millis(80)).await;
        assert!(dropped.load(Ordering::SeqCst));
        assert!(!ran_after_drop.load(Ordering::SeqCst), "no child ran after the scope was dropped");
    }
}

rt_test! {
    async fn cancel_stops_everything_and_returns() {
        let work_done = AtomicUsize::new(0);
        let result = trioxide::scope(|s| {
            let work_done = &work_done;
            async move {
                for _ in 0..10 {
                    s.spawn(async move {
                        sleep(Duration::from_secs(3600)).await;
                        work_done.fetch_add(1, Ordering::SeqCst);
                    });
                }
                let s2 = s.clone();
                s.spawn(async move {
                    sleep(Duration::from_millis(5)).await;
                    s2.cancel();
                });
                42 // the body finishes first: the scope returns its value
            }
        })
        .await;
        assert_eq!(result.unwrap(), 42);
        assert_eq!(work_done.load(Ordering::SeqCst), 0);

        let result = trioxide::scope(|s| async move {
            let s2 = s.clone();
            s.spawn(async move { s2.cancel() });
            std::future::pending::<u32>().await
        })
        .await;
        let err = result.unwrap_err();
        assert!(err.is_cancelled(), "cancelled before the body finished: {err}");
    }
}

rt_test! {
    async fn spawning_after_the_scope_closed_is_cancelled_at_once() {
        let leaked = Arc::new(std::sync::Mutex::new(None));
        let slot = leaked.clone();
        trioxide::scope(move |s| async move {
            *slot.lock().unwrap() = Some(s.clone());
        })
        .await
        .unwrap();
        let leaked = leaked.lock().unwrap().take();
        let late = leaked.unwrap().spawn(async { 1 });
        assert!(late.is_finished());
        assert_eq!(late.result(), Err(ChildError::Cancelled));
    }
}

rt_test! {
    async fn nested_scopes_propagate_failures_outward() {
        let result = trioxide::scope(|outer| async move {
            outer.spawn_fallible(trioxide::scope(|inner| async move {
                inner.spawn_fallible(async { Err::<(), _>(Boom("inner")) });
            }));
        })
        .await;
        let err = result.unwrap_err();
        assert_eq!(err.failures().len(), 1);
        assert!(err.to_string().contains("boom inner"), "{err}");
    }
}

rt_test! {
    async fn move_on_after_and_fail_after() {
        assert_eq!(trioxide::move_on_after(Duration::from_millis(5), sleep(Duration::from_secs(60))).await, None);
        assert_eq!(trioxide::move_on_after(Duration::from_secs(60), async { 3 }).await, Some(3));
        let err = trioxide::fail_after(Duration::from_millis(5), sleep(Duration::from_secs(60))).await;
        assert_eq!(err, Err(trioxide::TimedOut));
        assert_eq!(trioxide::fail_after(Duration::from_secs(60), async { 4 }).await, Ok(4));
    }
}

rt_test! {
    async fn ten_thousand_borrowed_children() {
        let count = AtomicUsize::new(0);
        trioxide::scope(|s| {
            let count = &count;
            async move {
                for _ in 0..10_000 {
                    s.spawn(async move {
                        trioxide::yield_now().await;
                        count.fetch_add(1, Ordering::Relaxed);
                    });
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(count.load(Ordering::Relaxed), 10_000);
    }
}

rt_test! {
    async fn a_child_watching_cancelled_gets_to_clean_up_asynchronously() {
        let cleaned = AtomicBool::new(false);
        let result = trioxide::scope(|s| {
            let cleaned = &cleaned;
            async move {
                s.spawn(async move {
                    trioxide::select! {
                        _ = trioxide::cancelled() => {
                            // Async, borrowing cleanup after the scope's cancellation.
                            sleep(Duration::from_millis(5)).await;
                            cleaned.store(true, Ordering::SeqCst);
                        }
                        _ = sleep(Duration::from_secs(3600)) => {}
                    }
                });
                s.spawn_fallible(async {
                    sleep(Duration::from_millis(5)).await;
                    Err::<(), _>("sibling failed")
                });
            }
        })
        .await;
        let err = result.unwrap_err();
        assert_eq!(err.failures().len(), 1);
        assert!(cleaned.load(Ordering::SeqCst), "the scope waited for the cleanup");
    }
}
