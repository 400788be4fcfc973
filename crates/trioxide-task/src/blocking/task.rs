//! A blocking closure as a task: [`BlockingTask`], the future that calls the closure on
//! its first poll, and [`BlockingSchedule`], the `Schedule` impl that ties it to its pool.
//!
//! This is tokio's `runtime/blocking/task.rs`: rather than a second task representation,
//! a closure rides the ordinary task cell, so the pool reuses the state machine, the
//! `JoinHandle`, cancellation and panic capture unchanged:
//! - the future never returns `Pending`, so it is polled exactly once, by a pool thread;
//!   that poll runs the closure to the end and cannot be interrupted (a cancel that lands
//!   while it runs is ignored: the task completes with the closure's value);
//! - a cancel before that poll (`JoinHandle::cancel`, or pool shutdown) drops the closure
//!   unrun and completes the task with `JoinError::Cancelled`;
//! - a panic in the closure is caught by the harness and becomes `JoinError::Panicked`;
//! - the closure runs with the coop budget switched off: a pool thread has no executor to
//!   yield to, so leaf futures polled by hand in the closure are never forced to yield.

use super::pool::Inner;
use crate::coop;
use crate::loom::sync::Arc;
use crate::task::{Notified, Schedule, Task};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The future of a blocking task: the closure, until the one poll that calls it.
pub(crate) struct BlockingTask<F>(Option<F>);

impl<F> BlockingTask<F> {
    pub(crate) fn new(f: F) -> Self {
        BlockingTask(Some(f))
    }
}

// The closure is never pinned: the poll moves it out of the `Option` before calling it.
impl<F> Unpin for BlockingTask<F> {}

impl<F, R> Future for BlockingTask<F>
where
    F: FnOnce() -> R,
{
    type Output = R;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<R> {
        let f = self
            .get_mut()
            .0
            .take()
            .expect("a blocking task is polled at most once");
        Poll::Ready(coop::without_budget(f))
    }
}

/// The scheduler stored in each blocking task: a reference to its pool.
pub(crate) struct BlockingSchedule(pub(crate) Arc<Inner>);

impl Schedule for BlockingSchedule {
    /// Hands the task to the pool's channel (or drops it if the pool shut down, which has
    /// already cancelled it through the owned list).
    fn schedule(&self, task: Notified) {
        Inner::schedule(&self.0, task);
    }

    /// Takes the finished task out of the pool's `OwnedTasks`.
    fn release(&self, task: &Task) -> Option<Task> {
        self.0.release(task)
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::task::new_task;
    use crate::{BlockingConfig, BlockingPool, JoinError, LocalExecutor};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::Waker;

    /// A scheduler for polling a `BlockingTask` by hand.
    struct Manual;
    impl Schedule for Manual {
        fn schedule(&self, task: Notified) {
            drop(task);
        }
        fn release(&self, _task: &Task) -> Option<Task> {
            None
        }
    }

    #[test]
    fn the_first_poll_runs_the_closure() {
        let mut task = BlockingTask::new(|| 40 + 2);
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(Pin::new(&mut task).poll(&mut cx), Poll::Ready(42));
        assert!(task.0.is_none(), "the closure was consumed");
    }

    #[test]
    fn a_blocking_task_is_an_ordinary_task() {
        let (task, notified, handle) = new_task(BlockingTask::new(|| "done"), Manual);
        notified.run();
        assert!(handle.is_finished());
        let ex = LocalExecutor::new();
        assert_eq!(ex.block_on(handle).unwrap(), "done");
        drop(task);
    }

    #[test]
    fn a_cancelled_blocking_task_never_runs() {
        let ran = std::sync::Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let (task, notified, handle) = new_task(
            BlockingTask::new(move || flag.store(true, Ordering::SeqCst)),
            Manual,
        );
        handle.cancel();
        notified.run();
        let ex = LocalExecutor::new();
        assert!(matches!(ex.block_on(handle), Err(JoinError::Cancelled)));
        assert!(!ran.load(Ordering::SeqCst));
        drop(task);
    }

    #[test]
    fn a_cancelled_closure_is_dropped_exactly_once() {
        struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let captured = Counted(drops.clone());
        let (task, notified, handle) = new_task(BlockingTask::new(move || drop(captured)), Manual);
        handle.cancel();
        notified.run();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped unrun, once");
        drop((task, handle));
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_closure_runs_outside_the_coop_budget() {
        let pool = BlockingPool::new(BlockingConfig::default());
        let handle = pool.spawn_blocking(|| {
            let mut cx = Context::from_waker(Waker::noop());
            (0..u32::from(coop::BUDGET) * 4).all(|_| coop::poll_proceed(&mut cx).is_ready())
        });
        let ex = LocalExecutor::new();
        assert!(
            ex.block_on(handle).unwrap(),
            "no budget limits a blocking closure"
        );
    }

    #[test]
    fn a_panic_in_the_closure_is_reported() {
        let (task, notified, handle) = new_task(
            BlockingTask::new(|| -> u8 { panic!("blocking boom") }),
            Manual,
        );
        notified.run();
        let ex = LocalExecutor::new();
        let err = ex.block_on(handle).unwrap_err();
        assert_eq!(err.to_string(), "task panicked: blocking boom");
        drop(task);
    }
}
