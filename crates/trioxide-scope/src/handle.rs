//! `ScopeHandle<T>`: a child's result, awaitable inside the scope or read afterwards (the
//! seed's `task1.result()` after the `TaskGroup` block).
//!
//! A borrowed child writes its result to a shared slot; a parallel child's result is its
//! task's output, read through the task's `JoinHandle` (`parallel.rs`).

use crate::error::ChildError;
use crate::loom::sync::{Arc, Mutex};
use crate::parallel::TaskChild;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

pub(crate) struct Slot<T> {
    result: Option<Result<T, ChildError>>,
    taken: bool,
    waiter: Option<Waker>,
}

/// The shared cell a child writes its result to.
pub(crate) type SharedSlot<T> = Arc<Mutex<Slot<T>>>;

pub(crate) fn new_slot<T>() -> SharedSlot<T> {
    Arc::new(Mutex::new(Slot {
        result: None,
        taken: false,
        waiter: None,
    }))
}

/// Stores `result` unless a result is already there; wakes a waiting handle.
pub(crate) fn fill<T>(slot: &SharedSlot<T>, result: Result<T, ChildError>) {
    let waiter = {
        let mut s = slot.lock().unwrap();
        if s.result.is_some() || s.taken {
            return;
        }
        s.result = Some(result);
        s.waiter.take()
    };
    if let Some(w) = waiter {
        w.wake();
    }
}

/// The handle of a child spawned in a scope.
pub struct ScopeHandle<T> {
    inner: Inner<T>,
}

enum Inner<T> {
    /// A borrowed child (or one that never started): the slot it writes to.
    Slot(SharedSlot<T>),
    /// A parallel child: its task.
    Task(TaskChild<T>),
}

impl<T> ScopeHandle<T> {
    pub(crate) fn new(slot: SharedSlot<T>) -> Self {
        ScopeHandle {
            inner: Inner::Slot(slot),
        }
    }

    pub(crate) fn parallel(task: TaskChild<T>) -> Self {
        ScopeHandle {
            inner: Inner::Task(task),
        }
    }

    /// A handle whose child never started because the scope was closed or cancelled.
    pub(crate) fn not_started() -> Self {
        let slot = new_slot();
        fill(&slot, Err(ChildError::Cancelled));
        ScopeHandle::new(slot)
    }

    /// Whether the child finished (with a value, a failure or by cancellation).
    pub fn is_finished(&self) -> bool {
        match &self.inner {
            Inner::Slot(slot) => {
                let s = slot.lock().unwrap();
                s.result.is_some() || s.taken
            }
            Inner::Task(task) => task.is_finished(),
        }
    }

    /// The child's result; meant for after the scope returned, when every child has
    /// finished (inside the scope, `.await` the handle instead: a child that has not
    /// finished yet reports `ChildError::Cancelled` here).
    pub fn result(mut self) -> Result<T, ChildError> {
        match &mut self.inner {
            Inner::Slot(slot) => slot
                .lock()
                .unwrap()
                .result
                .take()
                .unwrap_or(Err(ChildError::Cancelled)),
            Inner::Task(task) => task.try_result().unwrap_or(Err(ChildError::Cancelled)),
        }
    }
}

impl<T> Future for ScopeHandle<T> {
    type Output = Result<T, ChildError>;

    /// Waits for the child. Cancel-safe: dropping the `await` loses nothing.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = match &mut self.get_mut().inner {
            Inner::Slot(slot) => slot,
            Inner::Task(task) => return task.poll(cx),
        };
        let mut s = slot.lock().unwrap();
        if let Some(result) = s.result.take() {
            s.taken = true;
            return Poll::Ready(result);
        }
        if s.taken {
            panic!("ScopeHandle polled after it returned the child's result");
        }
        match &s.waiter {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waiter = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for ScopeHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
