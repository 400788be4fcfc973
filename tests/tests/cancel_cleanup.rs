//! Cancellation with async cleanup end to end: `on_cancel` in tasks, scopes and
//! timeouts; the grace deadline; `shield`; and `CancelScope` deadlines and nesting.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::UnixStream;
use trioxide::runtime::{Flavor, Runtime};
use trioxide::time::{Instant, sleep};
use trioxide::{CancelScope, on_cancel, shield};
use trioxide_tests::rt_test;

/// A runtime of `flavor` whose cleanups get 30 ms of grace.
fn short_grace_runtime(flavor: Flavor) -> Runtime {
    Runtime::builder()
        .flavor(flavor)
        .cancel_grace(Duration::from_millis(30))
        .build()
        .unwrap()
}

fn flag() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

rt_test! {
    async fn on_cancel_cleanup_that_awaits_io_completes_before_the_handle_resolves() {
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        let cleaned = flag();
        let c = cleaned.clone();
        // Cancel once the guard is in place: before the task's first poll there is no
        // cleanup to run (a loaded machine may not have polled it after a short sleep).
        let (armed_tx, armed) = trioxide::sync::oneshot::channel();
        let task = trioxide::spawn(async move {
            let mut theirs = theirs;
            let _guard = on_cancel(async move {
                sleep(Duration::from_millis(5)).await;
                theirs.write_all(b"bye").await.unwrap(); // cleanup does real I/O
                c.store(true, Ordering::SeqCst);
            });
            let _ = armed_tx.send(());
            std::future::pending::<()>().await
        });
        armed.await.unwrap();
        task.cancel();
        let result = task.await;
        assert!(result.unwrap_err().is_cancelled());
        assert!(cleaned.load(Ordering::SeqCst), "the handle resolved only after the cleanup");
        let mut buf = [0u8; 3];
        ours.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"bye");
    }
}

rt_test! {
    async fn a_guard_dropped_without_cancellation_does_not_run() {
        let ran = flag();
        let r = ran.clone();
        trioxide::spawn(async move {
            let _guard = on_cancel(async move { r.store(true, Ordering::SeqCst) });
            sleep(Duration::from_millis(1)).await;
        })
        .await
        .unwrap();
        sleep(Duration::from_millis(10)).await;
        assert!(!ran.load(Ordering::SeqCst));
    }
}

#[test]
fn cleanup_is_cut_off_at_the_grace_deadline() {
    for flavor in [Flavor::CurrentThread, Flavor::WorkStealing] {
        let rt = short_grace_runtime(flavor);
        rt.block_on(async {
            let finished = flag();
            let f = finished.clone();
            let (armed_tx, armed_rx) = trioxide::sync::oneshot::channel();
            let task = trioxide::spawn(async move {
                let _guard = on_cancel(async move {
                    sleep(Duration::from_secs(3600)).await;
                    f.store(true, Ordering::SeqCst);
                });
                armed_tx.send(()).unwrap();
                std::future::pending::<()>().await
            });
            // Cancel once the task holds its guard: a task cancelled before its first
            // poll has no cleanup to run (a worker slow to poll it, on a loaded machine,
            // made the handle resolve at once and the lower bound below fail).
            armed_rx.await.unwrap();
            let start = Instant::now();
            task.cancel();
            assert!(task.await.unwrap_err().is_cancelled());
            let took = start.elapsed();
            assert!(
                took >= Duration::from_millis(30),
                "{flavor:?}: waited for the grace: {took:?}"
            );
            assert!(
                took < Duration::from_secs(20),
                "{flavor:?}: cut off at the grace deadline"
            );
            assert!(!finished.load(Ordering::SeqCst));
        });
    }
}

/// A task's `on_cancel` cleanup that awaits `cancelled()` sees it resolved at once (its
/// task is cancelled), and the grace period still bounds what it does next.
#[test]
fn cancelled_in_a_tasks_cleanup_resolves_at_once_and_the_grace_still_holds() {
    for flavor in [Flavor::CurrentThread, Flavor::WorkStealing] {
        let rt = short_grace_runtime(flavor);
        rt.block_on(async {
            let (armed_tx, armed_rx) = trioxide::sync::oneshot::channel();
            let resolved = flag();
            let r = resolved.clone();
            let task = trioxide::spawn(async move {
                let _guard = on_cancel(async move {
                    trioxide::cancelled().await;
                    r.store(true, Ordering::SeqCst);
                    sleep(Duration::from_secs(3600)).await;
                });
                armed_tx.send(()).unwrap();
                std::future::pending::<()>().await
            });
            armed_rx.await.unwrap();
            task.cancel();
            let joined = trioxide::time::timeout(Duration::from_secs(20), task)
                .await
                .unwrap_or_else(|_| panic!("{flavor:?}: the cleanup outlived its grace"));
            assert!(joined.unwrap_err().is_cancelled());
            assert!(resolved.load(Ordering::SeqCst), "{flavor:?}");
        });
    }
}

/// The grace period bounds a scope child's cleanup that watches `cancelled()`: the bound
/// is not a timeout that could be delivered to it (which would let it run on forever).
#[test]
fn a_scope_cleanup_watching_cancelled_is_still_cut_off_at_the_grace_deadline() {
    for flavor in [Flavor::CurrentThread, Flavor::WorkStealing] {
        // On a thread of its own: a cleanup the grace does not bound hangs the runtime
        // (an outer timeout would wait for it as a cleanup of its own).
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = short_grace_runtime(flavor);
            rt.block_on(async {
                let scope = trioxide::scope(|s| async move {
                    s.spawn(async {
                        let _guard = on_cancel(async {
                            trioxide::select! {
                                _ = trioxide::cancelled() => {}
                                _ = sleep(Duration::from_secs(3600)) => {}
                            }
                            sleep(Duration::from_secs(3600)).await;
                        });
                        std::future::pending::<()>().await
                    });
                    s.spawn_fallible(async {
                        sleep(Duration::from_millis(2)).await;
                        Err::<(), _>(std::io::Error::other("fails the scope"))
                    });
                });
                let outcome = scope.await;
                assert_eq!(outcome.unwrap_err().failures().len(), 1);
            });
            let _ = done_tx.send(());
        });
        done_rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{flavor:?}: the cleanup outlived its grace"));
    }
}

rt_test! {
    async fn a_timeout_runs_the_cleanup_before_it_reports_elapsed() {
        let cleaned = flag();
        let c = cleaned.clone();
        let out = trioxide::time::timeout(Duration::from_millis(5), async move {
            let _guard = on_cancel(async move {
                sleep(Duration::from_millis(10)).await;
                c.store(true, Ordering::SeqCst);
            });
            sleep(Duration::from_secs(3600)).await;
        })
        .await;
        assert!(out.is_err());
        assert!(cleaned.load(Ordering::SeqCst));
    }
}

rt_test! {
    async fn a_cancelled_scope_waits_for_its_childrens_cleanups() {
        let cleanups = Arc::new(AtomicUsize::new(0));
        let result = trioxide::scope(|s| {
            let cleanups = cleanups.clone();
            async move {
                for _ in 0..3 {
                    let c = cleanups.clone();
                    s.spawn(async move {
                        let _guard = on_cancel(async move {
                            sleep(Duration::from_millis(5)).await;
                            c.fetch_add(1, Ordering::SeqCst);
                        });
                        std::future::pending::<()>().await
                    });
                }
                let c = cleanups.clone();
                let (guarded_tx, guarded_rx) = trioxide::sync::oneshot::channel();
                s.spawn_parallel(async move {
                    let _guard = on_cancel(async move {
                        sleep(Duration::from_millis(5)).await;
                        c.fetch_add(1, Ordering::SeqCst);
                    });
                    guarded_tx.send(()).unwrap();
                    std::future::pending::<()>().await
                });
                // Cancel once every child holds its guard (a child cancelled before its
                // first poll has no cleanup to run; under load a fixed sleep was
                // sometimes too short for the parallel one to start): the borrowed
                // children are polled right after the body's poll returns `Pending`.
                trioxide::yield_now().await;
                guarded_rx.await.unwrap();
                s.cancel();
            }
        })
        .await;
        // The body itself finished (right after `cancel`), so the scope returns its value.
        assert!(result.is_ok());
        assert_eq!(cleanups.load(Ordering::SeqCst), 4, "every cancelled child cleaned up exactly once");
    }
}

rt_test! {
    async fn shielded_cleanup_completes_under_an_outer_cancel() {
        let saved = flag();
        let s = saved.clone();
        let (started_tx, started_rx) = trioxide::sync::oneshot::channel();
        let task = trioxide::spawn(async move {
            shield(async move {
                started_tx.send(()).unwrap();
                sleep(Duration::from_millis(20)).await;
                s.store(true, Ordering::SeqCst);
            })
            .await;
            std::future::pending::<()>().await
        });
        // Cancel once the shielded part runs (a fixed 2 ms raced the task's first poll).
        started_rx.await.unwrap();
        task.cancel();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(saved.load(Ordering::SeqCst), "the shielded part ran to completion");
    }
}

rt_test! {
    async fn cancel_scope_cancel_and_reschedule() {
        let scope = CancelScope::new();
        let s2 = scope.clone();
        let canceller = trioxide::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            s2.cancel();
        });
        assert_eq!(scope.run(sleep(Duration::from_secs(3600))).await, None);
        assert!(scope.cancelled_caught());
        canceller.await.unwrap();

        // Rescheduling: a deadline moved later lets the work finish.
        let scope = CancelScope::with_timeout(Duration::from_millis(5));
        scope.set_deadline(Some(Instant::now() + Duration::from_secs(60)));
        assert_eq!(scope.run(async { sleep(Duration::from_millis(20)).await; 7 }).await, Some(7));
        assert!(!scope.cancelled_caught());

        // ... and one moved earlier cuts it short.
        let scope = CancelScope::with_timeout(Duration::from_secs(60));
        let s3 = scope.clone();
        trioxide::spawn(async move {
            sleep(Duration::from_millis(5)).await;
            s3.set_deadline(Some(Instant::now()));
        });
        assert_eq!(scope.run(sleep(Duration::from_secs(3600))).await, None);
    }
}

rt_test! {
    /// One scope run from several places at once (a task's two branches and another
    /// task): a cancel, or a deadline moved earlier, reaches every run, not just the last
    /// one to register.
    async fn a_cancel_scope_run_from_several_places_stops_them_all() {
        for by_deadline in [false, true] {
            let scope = CancelScope::new();
            let (s1, s2, s3) = (scope.clone(), scope.clone(), scope.clone());
            let elsewhere =
                trioxide::spawn(async move { s3.run(sleep(Duration::from_secs(3600))).await });
            let canceller = trioxide::spawn(async move {
                sleep(Duration::from_millis(20)).await;
                if by_deadline {
                    scope.set_deadline(Some(Instant::now()));
                } else {
                    scope.cancel();
                }
            });
            let outcome = trioxide::time::timeout(Duration::from_secs(10), async move {
                let both = trioxide::join!(
                    s1.run(sleep(Duration::from_secs(3600))),
                    s2.run(sleep(Duration::from_secs(3600))),
                );
                (both, elsewhere.await.unwrap())
            })
            .await;
            assert_eq!(
                outcome.expect("a run was never woken"),
                ((None, None), None),
                "by deadline: {by_deadline}"
            );
            canceller.await.unwrap();
        }
    }
}

rt_test! {
    async fn nested_cancel_scopes_the_earliest_deadline_wins() {
        let outer = CancelScope::with_timeout(Duration::from_millis(10));
        let inner = CancelScope::with_timeout(Duration::from_secs(3600));
        let start = Instant::now();
        let out = outer.run(async { inner.run(sleep(Duration::from_secs(3600))).await }).await;
        assert_eq!(out, None);
        assert!(outer.cancelled_caught() && !inner.cancelled_caught());
        assert!(start.elapsed() < Duration::from_secs(20));

        let outer = CancelScope::with_timeout(Duration::from_secs(3600));
        let inner = CancelScope::with_timeout(Duration::from_millis(5));
        let out = outer.run(async { inner.run(sleep(Duration::from_secs(3600))).await }).await;
        assert_eq!(out, Some(None), "the inner deadline fired; the outer scope returned normally");
        assert!(inner.cancelled_caught() && !outer.cancelled_caught());
    }
}

#[test]
fn runtime_shutdown_with_armed_guards_does_not_hang() {
    let rt = Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .build()
        .unwrap();
    for _ in 0..100 {
        drop(rt.spawn(async {
            let _guard = on_cancel(async { sleep(Duration::from_secs(3600)).await });
            std::future::pending::<()>().await
        }));
    }
    rt.block_on(sleep(Duration::from_millis(5)));
    drop(rt); // must return: shutdown does not wait for cleanups
}

rt_test! {
    async fn a_task_can_watch_for_its_own_cancellation_in_a_select() {
        let (started_tx, started_rx) = trioxide::sync::oneshot::channel::<()>();
        let task = trioxide::spawn(async move {
            let mut started = Some(started_tx);
            let mut ticks = 0u32;
            loop {
                trioxide::select! {
                    _ = trioxide::cancelled() => {
                        // asyncio: `except CancelledError:` — clean up, then finish.
                        sleep(Duration::from_millis(2)).await;
                        return format!("stopped after {ticks} ticks");
                    }
                    _ = sleep(Duration::from_millis(1)) => {
                        ticks += 1;
                        if let Some(tx) = started.take() {
                            let _ = tx.send(());
                        }
                    }
                }
            }
        });
        started_rx.await.unwrap();
        task.cancel();
        let out = task.await.unwrap();
        assert!(out.starts_with("stopped after"), "{out}");
    }
}

rt_test! {
    /// asyncio's `except CancelledError: await cleanup(); raise`: the task catches its
    /// cancellation, cleans up asynchronously, then carries the cancellation on — its
    /// handle reports `Cancelled`, and an `on_cancel` guard still armed runs as for any
    /// cancellation.
    async fn a_caught_cancellation_can_be_re_raised() {
        let (started_tx, started_rx) = trioxide::sync::oneshot::channel::<()>();
        let (cleaned, guarded) = (flag(), flag());
        let (c, g) = (cleaned.clone(), guarded.clone());
        let task = trioxide::spawn(async move {
            let _guard = on_cancel(async move { g.store(true, Ordering::SeqCst) });
            trioxide::select! {
                _ = trioxide::cancelled() => {
                    sleep(Duration::from_millis(1)).await; // async cleanup
                    c.store(true, Ordering::SeqCst);
                    trioxide::reraise_cancel::<u32>().await
                }
                _ = async {
                    started_tx.send(()).unwrap();
                    sleep(Duration::from_secs(3600)).await
                } => 0,
            }
        });
        started_rx.await.unwrap();
        task.cancel();
        assert!(task.await.unwrap_err().is_cancelled(), "re-raised");
        assert!(cleaned.load(Ordering::SeqCst), "the caught branch cleaned up first");
        assert!(guarded.load(Ordering::SeqCst), "the guard ran with the re-raised cancel");
    }
}

rt_test! {
    /// Inside a scope: a borrowed child that catches the scope's cancellation and
    /// re-raises it ends as a cancelled child; the body doing the same cancels the scope.
    async fn a_scope_child_and_body_can_re_raise_a_caught_cancellation() {
        use trioxide::scope::ChildError;
        let cleaned = AtomicUsize::new(0);
        let cleaned = &cleaned;
        // (A re-raise that did not end the child would leave the scope waiting.)
        let in_time = Duration::from_secs(10);
        let outcome = trioxide::time::timeout(in_time, trioxide::scope(|s| async move {
            let catcher = s.spawn(async move {
                trioxide::cancelled().await;
                cleaned.fetch_add(1, Ordering::SeqCst);
                trioxide::reraise_cancel::<&str>().await
            });
            s.spawn_fallible(async {
                sleep(Duration::from_millis(5)).await;
                Err::<(), _>(std::io::Error::other("sibling failed"))
            });
            (catcher.await, "the body finished")
        }))
        .await
        .expect("the scope finished");
        // The body was cancelled (dropped) with the scope: only the failure is reported.
        let err = outcome.unwrap_err();
        assert_eq!(err.failures().len(), 1);
        assert_eq!(cleaned.load(Ordering::SeqCst), 1, "the child caught it first");

        let (child_result_tx, child_result_rx) = std::sync::mpsc::channel();
        let outcome = trioxide::time::timeout(in_time, trioxide::scope(|s| async move {
            let catcher = s.spawn(async move {
                trioxide::cancelled().await;
                trioxide::reraise_cancel::<&str>().await
            });
            let canceller = s.clone();
            s.spawn(async move {
                sleep(Duration::from_millis(5)).await;
                canceller.cancel();
            });
            trioxide::select! {
                _ = trioxide::cancelled() => {
                    cleaned.fetch_add(1, Ordering::SeqCst);
                    let _ = child_result_tx.send(catcher.await);
                    trioxide::reraise_cancel::<()>().await
                }
                _ = sleep(Duration::from_secs(3600)) => {}
            }
        }))
        .await
        .expect("the scope finished");
        assert!(outcome.unwrap_err().is_cancelled(), "the body's re-raise");
        assert_eq!(cleaned.load(Ordering::SeqCst), 2, "the body caught it first");
        assert_eq!(child_result_rx.recv().unwrap(), Err(ChildError::Cancelled));
    }
}

rt_test! {
    /// A timeout (and `move_on_after`, `fail_after`) is delivered to a `cancelled()`
    /// pending inside it, like a task's cancellation: the work cleans up in its own time
    /// and its value comes back (`asyncio.wait_for` around a coroutine that swallowed
    /// the `CancelledError`), or it re-raises and the timeout reports `Elapsed` after
    /// the `on_cancel` guards ran. Without a watcher the timeout still drops the work.
    async fn a_timeout_is_delivered_to_a_cancelled_watching_inside_it() {
        let watching = |reraise: bool, guarded: Arc<AtomicBool>| async move {
            let _guard = on_cancel(async move { guarded.store(true, Ordering::SeqCst) });
            trioxide::select! {
                _ = trioxide::cancelled() => {
                    sleep(Duration::from_millis(2)).await; // cleanup outlives the deadline
                    if reraise {
                        return trioxide::reraise_cancel().await;
                    }
                    "cleaned up"
                }
                _ = sleep(Duration::from_secs(3600)) => "slept",
            }
        };
        let guarded = flag();
        let caught = trioxide::time::timeout(
            Duration::from_millis(5),
            watching(false, guarded.clone()),
        )
        .await;
        assert_eq!(caught, Ok("cleaned up"));
        assert!(!guarded.load(Ordering::SeqCst), "not a cancellation in the end");

        let reraised =
            trioxide::move_on_after(Duration::from_millis(5), watching(true, guarded.clone()))
                .await;
        assert_eq!(reraised, None, "re-raised: the timeout fired after all");
        assert!(guarded.load(Ordering::SeqCst), "the guard ran with the re-raise");

        let unwatched = trioxide::fail_after(
            Duration::from_millis(5),
            sleep(Duration::from_secs(3600)),
        )
        .await;
        assert_eq!(unwatched, Err(trioxide::TimedOut));
    }
}

rt_test! {
    /// The same for a `CancelScope`: delivered, the scope did not cut the work short
    /// (`cancelled_caught()` is false and `run` gives the value); re-raised, it did.
    async fn a_cancel_scope_is_delivered_to_a_cancelled_watching_inside_it() {
        let scope = CancelScope::with_timeout(Duration::from_millis(5));
        let out = scope
            .run(async {
                trioxide::cancelled().await;
                "finished on its own terms"
            })
            .await;
        assert_eq!(out, Some("finished on its own terms"));
        assert!(scope.is_cancelled() && !scope.cancelled_caught());

        let scope = CancelScope::new();
        let canceller = scope.clone();
        let out = scope
            .run(async move {
                canceller.cancel();
                trioxide::cancelled().await;
                trioxide::reraise_cancel::<&str>().await
            })
            .await;
        assert_eq!(out, None);
        assert!(scope.cancelled_caught());
    }
}

rt_test! {
    /// A `cancelled()` inside a timeout still watches the task (no scope child around):
    /// cancelling the task is delivered to it as before; and inside a scope child it
    /// watches both the timeout and the child.
    async fn a_cancelled_inside_a_timeout_also_watches_its_task_or_scope_child() {
        let (started_tx, started_rx) = trioxide::sync::oneshot::channel::<()>();
        let task = trioxide::spawn(trioxide::time::timeout(
            Duration::from_secs(3600),
            async move {
                let watch = trioxide::cancelled();
                started_tx.send(()).unwrap();
                watch.await;
                "caught the task's cancel"
            },
        ));
        started_rx.await.unwrap();
        task.cancel();
        assert_eq!(task.await.unwrap(), Ok("caught the task's cancel"));

        let caught = flag();
        let caught_in_child = caught.clone();
        let outcome = trioxide::scope(|s| async move {
            let child = s.spawn(trioxide::time::timeout(Duration::from_secs(3600), async move {
                trioxide::cancelled().await;
                caught_in_child.store(true, Ordering::SeqCst);
                "caught the scope's cancel"
            }));
            let canceller = s.clone();
            s.spawn(async move {
                sleep(Duration::from_millis(2)).await;
                canceller.cancel();
            });
            child.await
        })
        .await;
        // The body was dropped with the cancel; the child finished (not dropped).
        assert!(outcome.unwrap_err().is_cancelled());
        assert!(caught.load(Ordering::SeqCst), "the child's cancelled() resolved");
    }
}

rt_test! {
    async fn without_a_watcher_cancel_still_drops_the_task() {
        let (watched_tx, watched_rx) = trioxide::sync::oneshot::channel();
        let task = trioxide::spawn(async move {
            {
                // A watcher that is gone again does not protect the task.
                use std::future::Future;
                let mut watch = std::pin::pin!(trioxide::cancelled());
                std::future::poll_fn(|cx| {
                    assert!(watch.as_mut().poll(cx).is_pending(), "not cancelled yet");
                    std::task::Poll::Ready(())
                })
                .await;
            }
            watched_tx.send(()).unwrap();
            sleep(Duration::from_secs(3600)).await;
        });
        // Cancel only once the watcher is gone (a fixed delay raced it on a loaded machine).
        watched_rx.await.unwrap();
        task.cancel();
        assert!(task.await.unwrap_err().is_cancelled());
    }
}

rt_test! {
    async fn a_shielded_cancel_scope_finishes_under_an_outer_cancel() {
        // The outer scope is cancelled while the shielded work runs, and the work goes
        // on past that (it waits to hear of the cancel, then sleeps): it completes, and
        // the outer reports its cancellation only after it. (An outer 5 ms timeout around
        // a 30 ms shielded sleep lost the race when its wake-up came 25 ms late: the
        // timeout polls its future first, which had finished by then.)
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let canceller = outer.clone();
        let (started_tx, started_rx) = trioxide::sync::oneshot::channel();
        let (cancelled_tx, cancelled_rx) = trioxide::sync::oneshot::channel();
        let cancel = trioxide::spawn(async move {
            started_rx.await.unwrap();
            canceller.cancel();
            cancelled_tx.send(()).unwrap();
        });
        let out = outer
            .run(async {
                inner
                    .run_shielded(async move {
                        started_tx.send(()).unwrap();
                        cancelled_rx.await.unwrap();
                        sleep(Duration::from_millis(5)).await;
                        f.store(true, Ordering::SeqCst);
                    })
                    .await
            })
            .await;
        cancel.await.unwrap();
        assert_eq!(out, None, "the outer scope reports its cancellation");
        assert!(outer.cancelled_caught());
        assert!(finished.load(Ordering::SeqCst), "the shielded work completed first");
        assert!(!inner.cancelled_caught(), "nothing cancelled the shielded scope itself");
    }
}

rt_test! {
    async fn a_shielded_cancel_scope_still_obeys_its_own_deadline() {
        // The outer scope is cancelled once the shielded scope runs, and the shielded
        // scope's own deadline is set to 20 ms after that: the deadline, not the outer
        // cancel, stops its hour-long sleep, and the outer waits for that and no longer.
        // (With an outer 5 ms timeout racing an inner 20 ms deadline, a wake-up 15 ms
        // late on a loaded machine let the inner deadline win: the timeout polls its
        // future first, which then returned, and the outer reported no cancellation.)
        let outer = CancelScope::new();
        let inner = CancelScope::new();
        let (canceller, probe) = (outer.clone(), inner.clone());
        let (started_tx, started_rx) = trioxide::sync::oneshot::channel();
        let cancel = {
            let inner = inner.clone();
            trioxide::spawn(async move {
                started_rx.await.unwrap();
                canceller.cancel();
                let cancelled_at = Instant::now();
                inner.set_deadline(Some(cancelled_at + Duration::from_millis(20)));
                cancelled_at
            })
        };
        let started = Instant::now();
        let out = outer
            .run(async {
                inner
                    .run_shielded(async move {
                        started_tx.send(()).unwrap();
                        sleep(Duration::from_secs(3600)).await
                    })
                    .await
            })
            .await;
        let ended = Instant::now();
        let cancelled_at = cancel.await.unwrap();
        assert_eq!(out, None, "the outer scope reports its cancellation");
        assert!(outer.cancelled_caught());
        assert!(probe.cancelled_caught(), "the scope's own deadline cut the sleep");
        assert!(
            ended >= cancelled_at + Duration::from_millis(20),
            "the shielded sleep outlived the outer cancel until its own deadline"
        );
        assert!(started.elapsed() < Duration::from_secs(60));
    }
}

rt_test! {
    async fn an_unshielded_cancel_scope_is_cut_off_by_the_outer_cancel() {
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        let inner = CancelScope::new();
        let outer = trioxide::move_on_after(Duration::from_millis(5), async {
            inner
                .run(async move {
                    sleep(Duration::from_secs(3600)).await;
                    f.store(true, Ordering::SeqCst);
                })
                .await
        })
        .await;
        assert_eq!(outer, None);
        assert!(!finished.load(Ordering::SeqCst));
    }
}
