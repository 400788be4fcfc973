//! Loom models of scopes over the real code (`--cfg trioxide_loom`): a parallel child
//! completing on a worker while the scope is being cancelled, and the last child
//! finishing while the scope's future is dropped. Loom explores the interleavings and
//! reports leaked `Arc`s; the models check every handle resolves exactly once.
#![cfg(trioxide_loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use trioxide_scope::{ChildError, SpawnerSource, scope_with};
use trioxide_task::{LocalExecutor, ThreadPark, WorkStealing, WorkStealingConfig};

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

#[test]
fn a_parallel_child_completes_while_the_scope_is_cancelled() {
    loom::model(|| {
        let pool = pool();
        let spawner = SpawnerSource::Fixed(Arc::new(pool.spawner()));
        let ex = LocalExecutor::new();
        let (result, handle) = ex.block_on(async {
            let mut handle = None;
            let result = scope_with(spawner, |s| {
                let handle = &mut handle;
                async move {
                    *handle = Some(s.spawn_parallel(async { 5 }));
                    s.cancel(); // races the child running on the worker
                }
            })
            .await;
            (result, handle.unwrap())
        });
        // The body finished, so the scope returns its value; the child either ran or
        // was cancelled, never left pending.
        assert!(result.is_ok());
        match handle.result() {
            Ok(v) => assert_eq!(v, 5),
            Err(e) => assert_eq!(e, ChildError::Cancelled),
        }
        drop(pool);
    });
}

#[test]
fn the_last_child_finishes_while_the_scope_future_is_dropped() {
    loom::model(|| {
        let pool = pool();
        let spawner = SpawnerSource::Fixed(Arc::new(pool.spawner()));
        let ex = LocalExecutor::new();
        let handle = ex.block_on(async {
            let mut handle = None;
            let mut fut = Box::pin(scope_with(spawner, |s| {
                let handle = &mut handle;
                async move {
                    *handle = Some(s.spawn_parallel(async { 9 }));
                    std::future::pending::<()>().await
                }
            }));
            // One poll starts the body and the child, then the scope is dropped while
            // the child may be finishing on the worker.
            let _ = futures_poll_once(fut.as_mut()).await;
            drop(fut);
            handle.unwrap()
        });
        drop(pool); // joins the worker: the child has finished or was cancelled
        match handle.result() {
            Ok(v) => assert_eq!(v, 9),
            Err(e) => assert_eq!(e, ChildError::Cancelled),
        }
    });
}

#[test]
fn an_awaited_parallel_handle_races_its_childs_completion() {
    // The handle swaps its forwarding waker in while the child completes on the worker:
    // the scope's count is settled exactly once either way (else the scope hangs, or
    // returns before the child finished).
    loom::model(|| {
        let pool = pool();
        let spawner = SpawnerSource::Fixed(Arc::new(pool.spawner()));
        let ex = LocalExecutor::new();
        let value = ex.block_on(scope_with(spawner, |s| async move {
            s.spawn_parallel(async { 5 }).await
        }));
        assert_eq!(value.unwrap(), Ok(5));
        drop(pool);
    });
}

#[test]
fn a_handle_polled_once_then_dropped_races_its_childs_completion() {
    loom::model(|| {
        let pool = pool();
        let spawner = SpawnerSource::Fixed(Arc::new(pool.spawner()));
        let ex = LocalExecutor::new();
        let done = loom::sync::Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        let result = ex.block_on(scope_with(spawner, |s| async move {
            let mut handle = s.spawn_parallel(async move {
                flag.store(true, loom::sync::atomic::Ordering::SeqCst);
            });
            let _ = futures_poll_once(&mut handle).await;
            drop(handle);
        }));
        assert!(result.is_ok());
        assert!(
            done.load(loom::sync::atomic::Ordering::SeqCst),
            "the scope returned only after the child"
        );
        drop(pool);
    });
}

async fn futures_poll_once<F: Future + Unpin>(mut f: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| match Pin::new(&mut f).poll(cx) {
        std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}
