//! Parallel children's handles: a `spawn_parallel` child's result is read from its task,
//! whose join waker the scope shares. Awaiting a handle before the child finished, giving
//! up such an await, dropping handles, and spawning more children in one poll than the
//! coop budget allows must all leave the scope waiting for every child.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use trioxide::scope::ChildError;
use trioxide::sync::Event;
use trioxide_tests::rt_test;

/// Polls `future` once (registering its waker) and gives up.
async fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}

rt_test! {
    async fn awaiting_a_parallel_child_before_it_finished_gives_its_value() {
        let release = Arc::new(Event::new());
        let (waiting_done, r) = (Arc::new(AtomicUsize::new(0)), release.clone());
        let done = waiting_done.clone();
        let value = trioxide::scope(|s| async move {
            let waiting = s.spawn_parallel(async move {
                r.wait().await;
                done.fetch_add(1, Ordering::SeqCst);
            });
            let quick = s.spawn_parallel(async {
                for _ in 0..10 {
                    trioxide::yield_now().await;
                }
                7
            });
            let mut waiting = waiting;
            assert!(poll_once(&mut waiting).await.is_pending(), "it waits for the event");
            let value = quick.await.unwrap();
            release.set();
            assert_eq!(waiting.await, Ok(()));
            value
        })
        .await
        .unwrap();
        assert_eq!(value, 7);
        assert_eq!(waiting_done.load(Ordering::SeqCst), 1);
    }
}

rt_test! {
    async fn a_handle_whose_await_was_given_up_keeps_the_scope_waiting() {
        let (go, release) = (Arc::new(Event::new()), Arc::new(Event::new()));
        let finished = Arc::new(AtomicUsize::new(0));
        let (r, f) = (release.clone(), finished.clone());
        // Releases the child only after the body gave up its await (so the await surely
        // saw it running), and a while after, so the scope has to wait for it.
        let setter = {
            let (go, release) = (go.clone(), release.clone());
            trioxide::spawn(async move {
                go.wait().await;
                for _ in 0..50 {
                    trioxide::yield_now().await;
                }
                release.set();
            })
        };
        trioxide::scope(|s| async move {
            let mut handle = s.spawn_parallel(async move {
                r.wait().await;
                trioxide::yield_now().await;
                f.fetch_add(1, Ordering::SeqCst);
            });
            assert!(poll_once(&mut handle).await.is_pending());
            drop(handle); // the await is given up while the child runs
            go.set();
        })
        .await
        .unwrap();
        assert_eq!(finished.load(Ordering::SeqCst), 1, "the scope waited for the child");
        setter.await.unwrap();
    }
}

rt_test! {
    async fn more_parallel_children_in_one_poll_than_the_coop_budget() {
        // Inside a task, so the body's poll runs under the coop budget (128): every
        // child must still be counted (registering the scope's join waker spends none).
        const CHILDREN: usize = 1_000;
        let finished = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(Event::new());
        let f = finished.clone();
        let r = release.clone();
        let setter = trioxide::spawn(async move {
            for _ in 0..50 {
                trioxide::yield_now().await;
            }
            r.set();
        });
        let results = trioxide::spawn(async move {
            let mut handles = Vec::new();
            trioxide::scope(|s| {
                let (handles, f, release) = (&mut handles, &f, &release);
                async move {
                    for i in 0..CHILDREN {
                        let (f, release) = (f.clone(), release.clone());
                        handles.push(s.spawn_parallel(async move {
                            if i == CHILDREN - 1 {
                                release.wait().await; // the last one outlasts the others
                            }
                            f.fetch_add(1, Ordering::SeqCst);
                            i
                        }));
                    }
                }
            })
            .await
            .unwrap();
            let done = f.load(Ordering::SeqCst);
            let sum: usize = handles.into_iter().map(|h| h.result().unwrap()).sum();
            (done, sum)
        })
        .await
        .unwrap();
        assert_eq!(results.0, CHILDREN, "the scope returned only after every child");
        assert_eq!(results.1, CHILDREN * (CHILDREN - 1) / 2);
        assert_eq!(finished.load(Ordering::SeqCst), CHILDREN);
        setter.await.unwrap();
    }
}

rt_test! {
    async fn a_cancelled_parallel_childs_handle_reports_cancelled() {
        let mut handles = Vec::new();
        let result = trioxide::scope(|s| {
            let handles = &mut handles;
            async move {
                handles.push(s.spawn_parallel(std::future::pending::<u8>()));
                let quick = s.spawn_parallel(async { 1u8 });
                assert_eq!(quick.await, Ok(1));
                s.cancel();
            }
        })
        .await;
        // `Ok`: the body had finished when the cancellation was applied.
        assert!(result.is_ok());
        let handle = handles.pop().unwrap();
        assert!(handle.is_finished());
        assert_eq!(handle.result(), Err(ChildError::Cancelled));
    }
}
