//! `wait` (FirstCompleted, FirstError, AllCompleted, with and without a timeout) and
//! `as_completed` (completion order, as a Stream and through `next`). Completion order is
//! driven by channels, not sleeps, except in the seed-shaped test, whose sleeps are the
//! tasks' "work" and whose checks do not depend on timing. Every test runs on both flavors.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};
use trioxide::sync::oneshot;
use trioxide::time::sleep;
use trioxide::{JoinError, JoinHandle, Wait};

#[macro_use]
mod support;

/// `n` tasks, task `i` returning `i` once its sender is used (a dropped sender makes it
/// panic).
fn gated_tasks(n: usize) -> (Vec<oneshot::Sender<()>>, Vec<JoinHandle<usize>>) {
    (0..n)
        .map(|i| {
            let (tx, rx) = oneshot::channel::<()>();
            let task = trioxide::spawn(async move {
                rx.await.expect("released");
                i
            });
            (tx, task)
        })
        .unzip()
}

/// Waits until `handle`'s task has finished, without taking its result.
async fn until_finished<T>(handle: &JoinHandle<T>) {
    while !handle.is_finished() {
        trioxide::yield_now().await;
    }
}

both_flavors! {
    async fn first_completed_over_ten_sleeping_tasks_like_the_seed() {
        // The seed: 10 tasks sleeping i * 10 ms; wait FIRST_COMPLETED; cancel the rest.
        let tasks: Vec<_> = (1..=10u64)
            .map(|i| trioxide::spawn(async move {
                sleep(Duration::from_millis(i * 10)).await;
                i
            }))
            .collect();
        let ids: Vec<_> = tasks.iter().map(JoinHandle::id).collect();
        let (done, pending) = trioxide::wait(tasks, Wait::FirstCompleted, None).await;
        // Exactly-one is checked with channels below; here only what timing cannot break:
        // something finished, the wait did not wait for the 100 ms task, nothing was lost.
        assert!(!done.is_empty());
        assert!(done.iter().all(|f| f.is_ok()));
        assert!(pending.iter().any(|h| h.id() == ids[9]), "returned before the last task");
        assert_eq!(done.len() + pending.len(), 10);
        for task in &pending {
            task.cancel();
        }
        for task in pending {
            assert!(task.await.unwrap_err().is_cancelled());
        }
    }

    async fn first_completed_returns_exactly_the_first_done_and_the_rest_pending() {
        let (mut txs, tasks) = gated_tasks(10);
        let ids: Vec<_> = tasks.iter().map(JoinHandle::id).collect();
        txs.remove(4).send(()).unwrap();
        let (done, pending) = trioxide::wait(tasks, Wait::FirstCompleted, None).await;
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].id(), ids[4]);
        assert_eq!(*done[0].result().unwrap(), 4);
        assert_eq!(pending.len(), 9);
        let pending_ids: Vec<_> = pending.iter().map(JoinHandle::id).collect();
        let mut want = ids.clone();
        want.remove(4);
        assert_eq!(pending_ids, want, "pending keeps input order");
        assert!(pending.iter().all(|h| !h.is_finished()), "wait cancels nothing");
        // The pending handles still work: release them and collect their results.
        for tx in txs {
            tx.send(()).unwrap();
        }
        let mut rest = Vec::new();
        for task in pending {
            rest.push(task.await.unwrap());
        }
        assert_eq!(rest, [0, 1, 2, 3, 5, 6, 7, 8, 9]);
    }

    async fn done_includes_every_task_finished_by_then() {
        let (mut txs, tasks) = gated_tasks(3);
        let early = trioxide::spawn(async { 100 });
        until_finished(&early).await;
        txs.remove(1).send(()).unwrap();
        let mut handles = tasks;
        handles.push(early);
        let (done, pending) = trioxide::wait(handles, Wait::FirstCompleted, None).await;
        let mut got: Vec<usize> = done.iter().map(|f| *f.result().unwrap()).collect();
        got.sort();
        // 100 had finished before the wait began; 1 may or may not have been seen yet.
        assert!(got.contains(&100));
        assert_eq!(done.len() + pending.len(), 4);
        for tx in txs {
            tx.send(()).unwrap();
        }
        for task in pending {
            task.await.unwrap();
        }
    }

    async fn wait_with_a_timeout_returns_what_is_done_so_far() {
        let (mut txs, tasks) = gated_tasks(3);
        txs.remove(0).send(()).unwrap();
        until_finished(&tasks[0]).await;
        let started = Instant::now();
        let (done, pending) =
            trioxide::wait(tasks, Wait::AllCompleted, Some(Duration::from_millis(30))).await;
        assert!(started.elapsed() >= Duration::from_millis(25));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].result().copied().unwrap(), 0);
        assert_eq!(pending.len(), 2);
        // Nothing done in time: both come back pending, uncancelled.
        let (done, pending) =
            trioxide::wait(pending, Wait::FirstCompleted, Some(Duration::ZERO)).await;
        assert!(done.is_empty());
        assert_eq!(pending.len(), 2);
        for tx in txs {
            tx.send(()).unwrap();
        }
        let (done, pending) = trioxide::wait(pending, Wait::AllCompleted, None).await;
        assert_eq!(done.len(), 2);
        assert!(pending.is_empty());
    }

    async fn first_error_returns_on_a_panic_not_on_a_cancel_or_an_err_value() {
        let (txs, mut tasks) = gated_tasks(4);
        let failing = trioxide::spawn(async {
            trioxide::yield_now().await;
            panic!("task failed");
        });
        let failing_id = failing.id();
        tasks.push(failing);
        let (done, pending) = trioxide::wait(tasks, Wait::FirstError, None).await;
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].id(), failing_id);
        assert!(done[0].result().unwrap_err().is_panic());
        assert_eq!(pending.len(), 4);

        // A cancelled task is not a failure (CPython's `_wait`: `not f.cancelled()`): the
        // wait goes on, with the cancelled task among the done ones, until all finished.
        pending[2].cancel();
        let cancelled_id = pending[2].id();
        until_finished(&pending[2]).await;
        let (polled_tx, polled_rx) = oneshot::channel();
        let waiter = trioxide::spawn(async move {
            let waiting = trioxide::wait(pending, Wait::FirstError, None);
            let mut waiting = std::pin::pin!(waiting);
            // The first poll already finds the cancelled task finished.
            let first = poll_fn(|cx| Poll::Ready(waiting.as_mut().poll(cx).is_ready())).await;
            let _ = polled_tx.send(first);
            waiting.await
        });
        assert!(!polled_rx.await.unwrap(), "the wait returned at a cancellation");
        for tx in txs {
            let _ = tx.send(());
        }
        let (done, pending) = waiter.await.unwrap();
        assert_eq!(done.len(), 4);
        assert!(pending.is_empty());
        let cancelled = done.iter().find(|f| f.id() == cancelled_id).unwrap();
        assert!(matches!(cancelled.result(), Err(JoinError::Cancelled)));
        let err_value = trioxide::spawn(async { Err::<(), &str>("an Err value") });
        let slow = trioxide::spawn(async {
            trioxide::yield_now().await;
            Ok(())
        });
        let (done, pending) = trioxide::wait([err_value, slow], Wait::FirstError, None).await;
        assert_eq!(done.len(), 2);
        assert!(pending.is_empty());
    }

    async fn all_completed_waits_for_every_task() {
        let (txs, tasks) = gated_tasks(5);
        let releaser = trioxide::spawn(async move {
            for tx in txs.into_iter().rev() {
                tx.send(()).unwrap();
                trioxide::yield_now().await;
            }
        });
        let (done, pending) = trioxide::wait(tasks, Wait::AllCompleted, None).await;
        assert!(pending.is_empty());
        let mut got: Vec<usize> = done.into_iter().map(|f| f.into_result().unwrap()).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        releaser.await.unwrap();
        let (done, pending) = trioxide::wait(Vec::<JoinHandle<()>>::new(), Wait::AllCompleted, None).await;
        assert!(done.is_empty() && pending.is_empty());
    }

    async fn as_completed_yields_in_completion_order() {
        let (txs, tasks) = gated_tasks(5);
        let mut txs: Vec<Option<_>> = txs.into_iter().map(Some).collect();
        let mut stream = trioxide::as_completed(tasks);
        assert_eq!(stream.len(), 5);
        let mut order = Vec::new();
        for i in [3, 0, 4, 1, 2] {
            txs[i].take().unwrap().send(()).unwrap();
            order.push(stream.next().await.unwrap().unwrap());
        }
        assert_eq!(order, [3, 0, 4, 1, 2]);
        assert!(stream.is_empty());
        assert!(stream.next().await.is_none());
    }

    async fn as_completed_is_a_stream_and_gives_back_the_rest() {
        use futures_core::Stream;
        let (mut txs, tasks) = gated_tasks(3);
        let failing = trioxide::spawn(async { panic!("task failed") });
        let mut handles = vec![failing];
        handles.extend(tasks);
        let mut stream = trioxide::as_completed(handles);
        assert_eq!(stream.size_hint(), (4, Some(4)));
        let first = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await;
        assert!(first.unwrap().unwrap_err().is_panic());
        txs.remove(2).send(()).unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), 2);
        let rest = stream.into_pending();
        assert_eq!(rest.len(), 2);
        for task in &rest {
            task.cancel();
        }
        for task in rest {
            assert!(task.await.unwrap_err().is_cancelled());
        }
    }
}
