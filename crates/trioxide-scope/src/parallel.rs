//! Parallel children's handles: a `spawn_parallel` child's result is its task's own
//! output, read through the task's `JoinHandle` (no second allocation for a result slot).
//!
//! The task's join waker is shared with the scope: at spawn the scope registers its one
//! shared join waker (`ParallelDone` in `scope.rs`), which settles the scope's count of
//! running parallel children when the task completes. A handle that is dropped early
//! detaches with that waker kept (`JoinHandle::detach_keep_waker`), and a handle that is
//! awaited before the task finished swaps in a [`Forward`] waker that wakes both the
//! scope's waker and the awaiting task — allocated only on that path. Every task thus
//! wakes the scope's waker exactly once:
//! 1. registered at spawn, it is woken by the task at completion, unless a `Forward`
//!    took it back first (`WakerSwap::Registered { previous }`);
//! 2. a `Forward` holding it wakes it when the task wakes the `Forward` (once, at
//!    completion);
//! 3. if the swap found the task completed after taking the waker back
//!    (`WakerSwap::Completed { previous: Some(..) }`), the handle wakes it itself.

use crate::error::ChildError;
use crate::loom::sync::Mutex;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use trioxide_task::{JoinError, JoinHandle, WakerSwap};

/// What a parallel child's task returns: the child's value, or why there is none (the
/// failure itself went to the scope).
pub(crate) type ChildOutput<T> = Result<T, ChildError>;

/// The handle side of a parallel child.
pub(crate) struct TaskChild<T> {
    /// `None` once the result was taken.
    join: Option<JoinHandle<ChildOutput<T>>>,
    /// Registered as the task's join waker while this handle is awaited.
    forward: Option<Arc<Forward>>,
}

/// The join waker of an awaited parallel child: wakes the scope's shared waker (which it
/// took over) and the task awaiting the handle.
struct Forward {
    inner: Mutex<ForwardState>,
}

#[derive(Default)]
struct ForwardState {
    /// The task completed and woke this waker.
    fired: bool,
    /// The scope's shared join waker this one replaced.
    scope: Option<Waker>,
    /// Whoever awaits the handle.
    awaiting: Option<Waker>,
}

impl Forward {
    /// Hands over the scope's waker taken back by the swap; wakes it at once if the task
    /// already fired this `Forward`.
    fn take_over(&self, scope: Option<Waker>) {
        let mut state = self.inner.lock().unwrap();
        if state.fired {
            drop(state);
            if let Some(scope) = scope {
                scope.wake();
            }
        } else {
            state.scope = scope;
        }
    }

    /// Stores the awaiting task's waker; `false` if the task already completed (the
    /// caller then reads the result instead of waiting).
    fn set_awaiting(&self, waker: &Waker) -> bool {
        let mut state = self.inner.lock().unwrap();
        if state.fired {
            return false;
        }
        match &state.awaiting {
            Some(w) if w.will_wake(waker) => {}
            _ => state.awaiting = Some(waker.clone()),
        }
        true
    }

    /// The handle is gone: nobody to wake but the scope.
    fn clear_awaiting(&self) {
        let awaiting = self.inner.lock().unwrap().awaiting.take();
        drop(awaiting);
    }
}

impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let (scope, awaiting) = {
            let mut state = self.inner.lock().unwrap();
            state.fired = true;
            (state.scope.take(), state.awaiting.take())
        };
        if let Some(scope) = scope {
            scope.wake();
        }
        if let Some(awaiting) = awaiting {
            awaiting.wake();
        }
    }
}

/// The child's result from its task's.
fn child_result<T>(joined: Result<ChildOutput<T>, JoinError>) -> Result<T, ChildError> {
    match joined {
        Ok(result) => result,
        Err(JoinError::Cancelled) => Err(ChildError::Cancelled),
        // The child's own panics are caught inside the task (and reported to the scope);
        // this is a destructor that panicked while the child was being cancelled.
        Err(_) => Err(ChildError::Failed),
    }
}

impl<T> TaskChild<T> {
    /// The handle of a task whose join waker is the scope's (registered by the caller).
    pub(crate) fn new(join: JoinHandle<ChildOutput<T>>) -> Self {
        TaskChild {
            join: Some(join),
            forward: None,
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// The result if the task has finished (`None` while it runs, or once taken).
    pub(crate) fn try_result(&mut self) -> Option<Result<T, ChildError>> {
        let joined = self.join.as_mut()?.try_join()?;
        self.join = None;
        self.forward = None;
        Some(child_result(joined))
    }

    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, ChildError>> {
        if self.join.is_none() {
            panic!("ScopeHandle polled after it returned the child's result");
        }
        if let Some(result) = self.try_result() {
            return Poll::Ready(result);
        }
        if let Some(forward) = &self.forward {
            if forward.set_awaiting(cx.waker()) {
                return Poll::Pending;
            }
            // Completed since `try_result` looked: read it now.
            return Poll::Ready(self.try_result().expect("the task completed"));
        }
        let forward = Arc::new(Forward {
            inner: Mutex::new(ForwardState {
                awaiting: Some(cx.waker().clone()),
                ..ForwardState::default()
            }),
        });
        let join = self.join.as_mut().expect("checked above");
        match join.swap_waker(&Waker::from(forward.clone())) {
            WakerSwap::Registered { previous } => {
                forward.take_over(previous);
                self.forward = Some(forward);
                Poll::Pending
            }
            WakerSwap::Completed { previous } => {
                // Rule 3 of the module docs: the task will not wake the scope's waker.
                if let Some(scope) = previous {
                    scope.wake();
                }
                Poll::Ready(self.try_result().expect("the task completed"))
            }
        }
    }
}

impl<T> Drop for TaskChild<T> {
    fn drop(&mut self) {
        if let Some(forward) = self.forward.take() {
            forward.clear_awaiting();
        }
        if let Some(join) = self.join.take() {
            // The scope still needs its wake-up when the task completes.
            join.detach_keep_waker();
        }
    }
}
