//! Async cleanup on cancellation: the hook that lets a future being cancelled hand work
//! to whoever cancelled it.
//!
//! Cancellation in Rust is a drop. Whoever drops a future *because it was cancelled* (the
//! task harness for `JoinHandle::cancel`, a scope cancelling its children, a timeout
//! elapsing) does it inside [`drop_collecting_cleanups`]; while that drop runs, guards
//! inside the future (`trioxide::on_cancel`, `trioxide::shield`) call [`defer_cleanup`]
//! to hand over a `'static` future, and the canceller then runs those futures to
//! completion before it reports the cancellation. A drop that is not a cancellation
//! (the future finished, or the runtime is shutting down) collects nothing, so
//! `defer_cleanup` refuses and the guard simply drops its future.

pub use crate::child_cancel::ChildCancelSlot;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A cleanup future handed over by a cancelled future.
pub type Cleanup = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

thread_local! {
    static COLLECTOR: RefCell<Option<Vec<Cleanup>>> = const { RefCell::new(None) };
}

/// Runs `f` (which drops a cancelled future, possibly in place) as a *cancellation*:
/// the cleanup futures deferred meanwhile are returned. Nested collections keep their
/// own cleanups.
pub fn collect_cleanups(f: impl FnOnce()) -> Vec<Cleanup> {
    let outer = COLLECTOR.with(|c| c.borrow_mut().replace(Vec::new()));
    struct Restore(Option<Option<Vec<Cleanup>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                COLLECTOR.with(|c| *c.borrow_mut() = outer);
            }
        }
    }
    let mut restore = Restore(Some(outer));
    f();
    let collected = COLLECTOR
        .with(|c| c.borrow_mut().take())
        .unwrap_or_default();
    COLLECTOR.with(|c| *c.borrow_mut() = restore.0.take().expect("set above"));
    collected
}

/// Drops `value` as a *cancellation*: cleanup futures its guards defer are returned.
pub fn drop_collecting_cleanups<T>(value: T) -> Vec<Cleanup> {
    collect_cleanups(move || drop(value))
}

/// Hands `cleanup` to the canceller if a cancellation drop is running on this thread;
/// gives it back otherwise (the caller then just drops it).
pub fn defer_cleanup(cleanup: Cleanup) -> Result<(), Cleanup> {
    COLLECTOR.with(|c| match c.borrow_mut().as_mut() {
        Some(list) => {
            list.push(cleanup);
            Ok(())
        }
        None => Err(cleanup),
    })
}

/// Whether a cancellation drop is running on this thread (a guard's `Drop` can ask).
pub fn is_cancelling() -> bool {
    COLLECTOR.with(|c| c.borrow().is_some())
}

/// Runs several cleanups concurrently to completion (each in turn is polled when
/// the combined future is polled; finished ones are dropped at once). If the combined
/// future is itself dropped by an outer cancellation before it finished, the unfinished
/// cleanups are handed on to that outer canceller (cleanups are shielded).
pub fn join_cleanups(cleanups: Vec<Cleanup>) -> Cleanup {
    Box::pin(JoinCleanups { pending: cleanups })
}

struct JoinCleanups {
    pending: Vec<Cleanup>,
}

impl Future for JoinCleanups {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut i = 0;
        while i < self.pending.len() {
            if self.pending[i].as_mut().poll(cx).is_ready() {
                // A cleanup that was itself cancelled while cleaning up would defer into
                // the outer collector; a finished one is dropped outside any collection.
                drop(self.pending.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if self.pending.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for JoinCleanups {
    fn drop(&mut self) {
        for cleanup in self.pending.drain(..) {
            // Refused outside a cancellation (runtime shutdown): then it is dropped.
            drop(defer_cleanup(cleanup));
        }
    }
}

/// Resolves when the current task is asked to cancel (`JoinHandle::cancel`) — or when a
/// timeout, a cancel scope or the scope child it runs in is cancelled — while this future
/// is being awaited — so a task can watch for its own cancellation in a `select!` and
/// react (clean up, finish early, or carry on). While a `cancelled()` future is pending, a
/// cancellation it watches is *delivered* to it as a wake-up instead of dropping the
/// work (asyncio's catchable `CancelledError`); when no `cancelled()` is pending,
/// cancellation drops the future as usual. After it resolves, the work is no longer
/// cancelled: what it does next is up to it — finish (the task's handle, the timeout or
/// the cancel scope then reports its value) or [`reraise_cancel`].
///
/// What it watches, from where it is first polled outwards: every timeout and cancel
/// scope (`trioxide::time::timeout`, `move_on_after`, `fail_after`, `CancelScope::run`)
/// around it, up to and including the innermost scope child (or scope body) it runs in;
/// with no scope child around it, the task itself. Levels beyond that scope child are
/// not watched: delivery would leave the rest of that child's subtree running
/// uncancelled (see `child_cancel.rs`).
///
/// A delivered timeout, cancel scope or scope child stays cancelled (as a Trio cancel
/// scope): a later `cancelled()` inside it resolves at once. The task's own delivery is
/// taken by the `cancelled()` that resolves; if none takes it by the end of the poll
/// (the watcher lost a `select!`, or resolved through a timeout), it becomes a plain
/// cancellation. In a cancelled task's `on_cancel` cleanup it resolves at once.
///
/// Outside a task and a scope (e.g. in the root future of `block_on`, with no timeout
/// around it) it never resolves.
///
/// ```
/// use trioxide_task::{LocalExecutor, cancel::cancelled, yield_now};
/// let ex = LocalExecutor::new();
/// let task = ex.spawn_local(async {
///     cancelled().await; // woken by the cancel below instead of being dropped
///     "cleaned up and finished"
/// });
/// ex.run_until_stalled();
/// task.cancel();
/// assert_eq!(ex.block_on(task).unwrap(), "cleaned up and finished");
/// ```
pub fn cancelled() -> Cancelled {
    Cancelled {
        started: false,
        levels: Vec::new(),
        task: None,
        watching: false,
    }
}

/// The future of [`cancelled`].
#[must_use = "futures do nothing unless awaited"]
pub struct Cancelled {
    /// The first poll happened (the watched levels and task are known).
    started: bool,
    /// The timeouts, cancel scopes and scope child watched, innermost first, each with
    /// this future's watcher id there (valid while `watching`).
    levels: Vec<(
        crate::loom::sync::Arc<crate::child_cancel::ChildCancel>,
        u64,
    )>,
    /// The task, when no scope child is around this future.
    task: Option<crate::task::TaskRef>,
    /// Registered with `levels` and `task` (undone when it resolves or is dropped).
    watching: bool,
}

impl Cancelled {
    fn unwatch(&mut self) {
        if !std::mem::replace(&mut self.watching, false) {
            return;
        }
        for (level, id) in &self.levels {
            level.unwatch(*id);
        }
        if let Some(task) = &self.task {
            task.state().unwatch_cancel();
        }
    }
}

impl Future for Cancelled {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.started {
            self.started = true;
            let (levels, watch_task) = crate::child_cancel::current_levels();
            self.levels = levels.into_iter().map(|level| (level, 0)).collect();
            if watch_task {
                self.task = crate::task::TaskRef::current();
            }
        }
        if self.levels.is_empty() && self.task.is_none() {
            return Poll::Pending; // outside a task: nothing can cancel it
        }
        if !self.watching {
            self.watching = true;
            for (level, id) in &mut self.levels {
                *id = level.watch(cx.waker());
            }
        } else {
            for (level, id) in &self.levels {
                level.register(*id, cx.waker());
            }
        }
        if self.levels.iter().any(|(level, _)| level.is_delivered()) {
            self.unwatch();
            return Poll::Ready(());
        }
        if let Some(task) = &self.task {
            // Registers the task as watching, or consumes a delivered cancellation (the
            // request itself wakes the task: it schedules it).
            if task.state().watch_cancel() {
                self.unwatch();
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

/// Carries a caught cancellation on — asyncio's bare `raise` in
/// `except CancelledError:` — or cancels the current task (or scope child) from inside.
///
/// After [`cancelled()`] resolved, the work is no longer cancelled and would report
/// whatever it returns. Awaiting `reraise_cancel()` instead asks for the cancellation
/// again and never resolves. It aims at the innermost level that delivered one — a
/// timeout (which then returns `Elapsed`), a cancel scope (`None`), a scope's borrowed
/// child (dropped; its handle reports `ChildError::Cancelled`) or body (the scope is
/// cancelled with it) — else at the innermost scope child, else at the task: the task's
/// future is dropped when the current poll returns (its `on_cancel` cleanups run as for
/// any cancellation) and its handle gives `Err(JoinError::Cancelled)`. Generic over its output so it fits any return position
/// (`return reraise_cancel().await`). A `cancelled()` still pending elsewhere in the same
/// task or child catches the new request like any other.
///
/// # Panics
/// Outside a task and a scope child (e.g. in the root future of `block_on`), where there
/// is nothing to cancel.
///
/// ```
/// use trioxide_task::{LocalExecutor, cancel::{cancelled, reraise_cancel}};
/// let ex = LocalExecutor::new();
/// let task = ex.spawn_local(async {
///     cancelled().await;
///     // ... async cleanup here ...
///     reraise_cancel::<&str>().await
/// });
/// ex.run_until_stalled();
/// task.cancel();
/// assert!(ex.block_on(task).unwrap_err().is_cancelled());
/// ```
pub fn reraise_cancel<T>() -> ReraiseCancel<T> {
    ReraiseCancel {
        requested: false,
        _output: std::marker::PhantomData,
    }
}

/// The future of [`reraise_cancel`]; it never resolves.
#[must_use = "futures do nothing unless awaited"]
pub struct ReraiseCancel<T> {
    requested: bool,
    _output: std::marker::PhantomData<fn() -> T>,
}

impl<T> Future for ReraiseCancel<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        if !self.requested {
            self.requested = true;
            use crate::child_cancel::{ReraiseTarget, reraise_target};
            if let ReraiseTarget::Level(level) = reraise_target() {
                // Its scope, timeout or cancel scope drops the future right after this
                // poll (`ChildCancelSlot::take_reraised`).
                level.reraise();
            } else if let Some(task) = crate::task::TaskRef::current() {
                task.cancel();
            } else {
                panic!(
                    "reraise_cancel() awaited outside a task: there is no task to cancel \
                     (spawn the work with trioxide::spawn, or return from the root future)"
                );
            }
        }
        Poll::Pending
    }
}

impl<T> std::fmt::Debug for ReraiseCancel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReraiseCancel")
            .field("requested", &self.requested)
            .finish()
    }
}

impl Drop for Cancelled {
    fn drop(&mut self) {
        self.unwatch();
    }
}

impl std::fmt::Debug for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancelled")
            .field("levels", &self.levels.len())
            .field("watching", &self.watching)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Guard;
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = defer_cleanup(Box::pin(async {}));
        }
    }

    #[test]
    fn only_cancellation_drops_collect() {
        assert!(!is_cancelling());
        assert_eq!(drop_collecting_cleanups((Guard, Guard)).len(), 2);
        drop(Guard); // a plain drop: refused, nothing leaks
        assert!(!is_cancelling());
        // Nested: the inner collection does not leak into the outer one.
        struct Nested;
        impl Drop for Nested {
            fn drop(&mut self) {
                assert_eq!(drop_collecting_cleanups(Guard).len(), 1);
            }
        }
        assert_eq!(drop_collecting_cleanups((Nested, Guard)).len(), 1);
    }

    #[test]
    fn reraise_outside_a_task_says_what_to_do_instead() {
        let outside = std::panic::catch_unwind(|| {
            crate::LocalExecutor::new().block_on(reraise_cancel::<()>());
        });
        let payload = outside.unwrap_err();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(message.contains("outside a task"), "{message}");
    }

    #[test]
    fn unfinished_cleanups_survive_an_outer_cancellation() {
        let inner = join_cleanups(vec![Box::pin(std::future::pending()), Box::pin(async {})]);
        let handed_on = drop_collecting_cleanups(inner);
        assert_eq!(handed_on.len(), 2, "both were still pending");
    }
}
