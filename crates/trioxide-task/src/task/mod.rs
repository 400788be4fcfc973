//! Tasks: the one-allocation task cell, its state machine, wakers and `JoinHandle`.
//!
//! The pieces, each in its own file:
//! - `state`: the atomic state word (flags + reference count) and its transitions;
//! - `raw`: the cell layout and the type-erased `RawTask` pointer (its module docs state
//!   the safety protocol every other file follows);
//! - `harness`: the monomorphised poll / cancel / complete / join operations;
//! - `waker`: the allocation-free `RawWakerVTable`;
//! - `join`: `JoinHandle`; `error`: `JoinError`; `list`: a scheduler's owned tasks;
//! - `hooks`: the optional [`TaskHooks`] a scheduler calls around its tasks (debug mode).

mod error;
mod harness;
pub(crate) mod hooks;
mod id;
mod join;
pub(crate) mod list;
pub(crate) mod raw;
pub(crate) mod state;
mod waker;

pub use error::{JoinError, PanicPayload};
pub use hooks::{TaskHooks, TaskProbe, TaskState};
pub use id::TaskId;
pub use join::{CancelHandle, JoinHandle, WakerSwap};

use raw::RawTask;
use std::future::Future;

/// What a task needs from the scheduler that runs it.
pub(crate) trait Schedule: Send + Sync + 'static {
    /// Queues the task to be polled (from any thread).
    fn schedule(&self, task: Notified);
    /// Queues a task that yielded (woke itself while running). Schedulers with a LIFO
    /// slot put it at the back instead, so a yielding task cannot hog its worker.
    fn yield_now(&self, task: Notified) {
        self.schedule(task);
    }
    /// The task finished: remove it from the owned list, returning the list's reference.
    fn release(&self, task: &Task) -> Option<Task>;
    /// The scheduler's hooks, if it was built with any.
    fn hooks(&self) -> Option<&dyn TaskHooks> {
        None
    }
}

/// One reference to a task, as held by a scheduler's owned list.
pub(crate) struct Task {
    raw: RawTask,
}

/// A task that is ready to be polled; holds the run queue's reference.
pub(crate) struct Notified(Task);

// SAFETY: a Task/Notified is only a counted pointer; moving it between threads moves the
// reference. The future inside is only polled or dropped by its own scheduler, on that
// scheduler's thread (raw.rs rule 4), which the schedulers enforce.
unsafe impl Send for Task {}
// SAFETY: as above.
unsafe impl Send for Notified {}

impl Task {
    /// The task's identifier.
    pub(crate) fn id(&self) -> TaskId {
        self.raw.id()
    }

    /// Cancels the task on its scheduler's thread, consuming this (the owned list's)
    /// reference: an idle task's future is dropped now, a running one at its next poll
    /// boundary.
    pub(crate) fn shutdown(self) {
        let raw = self.raw;
        std::mem::forget(self);
        // SAFETY: we pass on our reference; schedulers call this on their own thread.
        unsafe { raw.shutdown() }
    }
}

impl Notified {
    /// The task's identifier.
    pub(crate) fn id(&self) -> TaskId {
        self.0.id()
    }

    /// Polls the task once (or cancels it), consuming the queue's reference.
    pub(crate) fn run(self) {
        let raw = self.0.raw;
        std::mem::forget(self);
        // SAFETY: we pass on our reference; schedulers call this on their own thread.
        unsafe { raw.poll() }
    }
}

impl Notified {
    /// Gives up the reference as a raw pointer (for lock-free slots).
    pub(crate) fn into_raw(self) -> std::ptr::NonNull<raw::Header> {
        let ptr = self.0.raw.header_ptr();
        std::mem::forget(self);
        ptr
    }

    /// Takes back a reference given up by `into_raw`.
    ///
    /// # Safety
    /// `ptr` comes from `Notified::into_raw` and is used once.
    pub(crate) unsafe fn from_raw(ptr: std::ptr::NonNull<raw::Header>) -> Notified {
        // SAFETY: forwarded contract: the pointer carries a live reference.
        let raw = unsafe { RawTask::from_raw(ptr) };
        Notified(Task { raw })
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        // SAFETY: a Task owns exactly one reference.
        unsafe { self.raw.drop_reference() }
    }
}

std::thread_local! {
    /// The task being polled on this thread (for `cancel::cancelled`).
    static CURRENT_TASK: std::cell::Cell<Option<std::ptr::NonNull<raw::Header>>> =
        const { std::cell::Cell::new(None) };
    /// Set by [`defer_yield`] during a poll; taken by the harness when the poll returns.
    static YIELDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `yield_now`'s fast path: if `waker` is the waker of the task being polled on this
/// thread, records that the task wants to run again and returns `true`; the harness
/// then reschedules it when the poll returns `Pending`, in the same state transition
/// that ends the poll (no separate wake). Any other waker (a scope child's, a
/// combinator's, a foreign executor's) returns `false` and must be woken normally.
pub(crate) fn defer_yield(waker: &std::task::Waker) -> bool {
    let Some(current) = CURRENT_TASK.with(|c| c.get()) else {
        return false;
    };
    if !waker::is_task_waker(waker, current) {
        return false;
    }
    YIELDED.with(|y| y.set(true));
    true
}

/// Takes the flag [`defer_yield`] set during the poll that just returned.
pub(crate) fn take_yielded() -> bool {
    YIELDED.with(|y| y.replace(false))
}

/// Marks a task as the one being polled, restoring the previous one on drop.
pub(crate) struct CurrentTaskGuard(Option<std::ptr::NonNull<raw::Header>>);

impl CurrentTaskGuard {
    pub(crate) fn enter(ptr: std::ptr::NonNull<raw::Header>) -> Self {
        CurrentTaskGuard(CURRENT_TASK.with(|c| c.replace(Some(ptr))))
    }
}

impl Drop for CurrentTaskGuard {
    fn drop(&mut self) {
        CURRENT_TASK.with(|c| c.set(self.0));
    }
}

/// A counted reference to the task being polled on this thread, if any.
pub(crate) struct TaskRef(RawTask);

impl TaskRef {
    pub(crate) fn current() -> Option<TaskRef> {
        let ptr = CURRENT_TASK.with(|c| c.get())?;
        // SAFETY: the task being polled is alive (the poll holds a reference).
        let raw = unsafe { RawTask::from_raw(ptr) };
        raw.state().ref_inc();
        Some(TaskRef(raw))
    }

    pub(crate) fn state(&self) -> &state::State {
        self.0.state()
    }

    /// Requests this task's cancellation, as `JoinHandle::cancel` does; from inside the
    /// task's own poll the future is dropped when that poll returns.
    pub(crate) fn cancel(&self) {
        join::cancel_raw(self.0);
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: a TaskRef owns exactly one reference.
        unsafe { self.0.drop_reference() }
    }
}

// SAFETY: a TaskRef only touches the atomic state word and the reference count.
unsafe impl Send for TaskRef {}
// SAFETY: as above.
unsafe impl Sync for TaskRef {}

/// The id of the task being polled on this thread, if any (its spawns' parent).
pub fn current_task_id() -> Option<TaskId> {
    let ptr = CURRENT_TASK.with(|c| c.get())?;
    // SAFETY: the task being polled is alive (the poll holds a reference).
    Some(unsafe { RawTask::from_raw(ptr) }.id())
}

/// Allocates a task for `future`, run by `scheduler`: the owned list's `Task`, the first
/// `Notified`, and the `JoinHandle`.
pub(crate) fn new_task<F, S>(future: F, scheduler: S) -> (Task, Notified, JoinHandle<F::Output>)
where
    F: Future + 'static,
    S: Schedule,
{
    let id = TaskId::next();
    let raw = RawTask::new(future, scheduler, id);
    harness::announce_spawn::<F, S>(raw);
    (Task { raw }, Notified(Task { raw }), JoinHandle::new(raw))
}
