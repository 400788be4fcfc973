//! Task hooks: optional callbacks a scheduler makes around its tasks' lives — spawn,
//! each poll (with its duration), completion, a panic nobody will read, shutdown with
//! tasks still pending, and the cell being freed. The facade's debug mode, task dump and
//! user hooks are built on them.
//!
//! `on_spawn` hands the hooks a [`TaskProbe`]: a counted reference that reads the task's
//! live state ([`TaskState`]) from any thread, so a task dump sees what the state word
//! says instead of guessing from events. Hooks that keep a probe must drop it by the
//! task's `on_complete`, which always comes (completion, cancellation or shutdown), or
//! the cell is never freed.
//!
//! Hooks are given to a scheduler at construction ([`LocalExecutor::with_hooks`],
//! [`WorkStealingConfig::hooks`]) as an `Option<Arc<dyn TaskHooks>>`. When none are set,
//! each call site is a branch on that `Option`: no clock reads, no atomics, no allocation.
//!
//! [`LocalExecutor::with_hooks`]: crate::LocalExecutor::with_hooks
//! [`WorkStealingConfig::hooks`]: crate::WorkStealingConfig::hooks

use super::TaskId;
use super::raw::RawTask;
use std::fmt;
use std::time::Duration;

/// Callbacks a scheduler makes around its tasks (all default to doing nothing).
///
/// Calls come from whichever thread acts on the task: spawns from the spawning thread,
/// polls from the thread that polls, `on_release` from the thread that drops the last
/// reference. Implementations must be cheap and must not spawn onto or block the
/// scheduler that calls them.
pub trait TaskHooks: Send + Sync + 'static {
    /// A task was created, before it is first scheduled. `task.id()` names it; clone
    /// the probe to watch its state later (and drop the clone by `on_complete`).
    fn on_spawn(&self, task: &TaskProbe) {
        let _ = task;
    }

    /// A task is about to be polled (or cancelled) by the scheduler.
    fn before_poll(&self, id: TaskId) {
        let _ = id;
    }

    /// The poll that `before_poll` announced returned after `elapsed`.
    fn after_poll(&self, id: TaskId, elapsed: Duration) {
        let _ = (id, elapsed);
    }

    /// The task is being cancelled (its future is about to be dropped at a poll boundary,
    /// by `JoinHandle::cancel` or a scope's cancel). Not called for shutdown's hard
    /// cancel, which `on_shutdown` reports.
    fn on_cancel(&self, id: TaskId) {
        let _ = id;
    }

    /// The task finished — its future returned, panicked, or was cancelled (also at
    /// shutdown) — and will never be polled again. Called exactly once per task, from the
    /// thread that finished it, just before the result is published to its `JoinHandle`
    /// (so an awaiting handle sees what the hook did).
    fn on_complete(&self, id: TaskId) {
        let _ = id;
    }

    /// A task panicked and its output is being dropped unread: its `JoinHandle` was
    /// dropped (before or after the task finished) without taking the result. Called
    /// exactly once for such a task; never for a panic the handle returned.
    fn on_unretrieved_panic(&self, id: TaskId, message: &str) {
        let _ = (id, message);
    }

    /// The scheduler is shutting down and is about to cancel these tasks, which were
    /// still pending. Not called when there are none.
    fn on_shutdown(&self, pending: &[TaskId]) {
        let _ = pending;
    }

    /// The task's cell was freed: nothing more will be reported about `id`.
    fn on_release(&self, id: TaskId) {
        let _ = id;
    }
}

/// The hooks a scheduler was built with, on a cache line of their own: every spawn and
/// poll reads them, and sharing a line with the scheduler's busy atomics would make
/// those reads miss even when there are no hooks.
#[repr(align(128))]
pub(crate) struct Hooks(pub(crate) Option<std::sync::Arc<dyn TaskHooks>>);

impl Hooks {
    /// The hooks, if any.
    #[inline]
    pub(crate) fn get(&self) -> Option<&dyn TaskHooks> {
        self.0.as_deref()
    }
}

/// What a task is doing, as its state word says at one instant (see [`TaskProbe::state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Queued to be polled.
    Scheduled,
    /// Being polled right now.
    Running,
    /// Waiting for a wake-up.
    Idle,
    /// Cancellation was requested, or its cancellation cleanups are running.
    Cancelling,
    /// Its future finished; the output waits for the `JoinHandle`.
    Complete,
}

impl TaskState {
    /// The lower-case name used in dumps (`"scheduled"`, `"running"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::Idle => "idle",
            TaskState::Cancelling => "cancelling",
            TaskState::Complete => "completing",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A counted reference to a task that can only read its id and state: handed to
/// [`TaskHooks::on_spawn`]. It keeps the task's cell allocated (not its future alive),
/// so drop it by the task's [`TaskHooks::on_complete`].
pub struct TaskProbe {
    raw: RawTask,
}

impl TaskProbe {
    /// A probe sharing the caller's reference; cloning takes a reference of its own.
    pub(crate) fn borrowed(raw: RawTask) -> std::mem::ManuallyDrop<TaskProbe> {
        std::mem::ManuallyDrop::new(TaskProbe { raw })
    }

    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.raw.id()
    }

    /// What the task is doing now (one atomic load; may be stale a moment later).
    pub fn state(&self) -> TaskState {
        let s = self.raw.state().load();
        if s.is_complete() {
            TaskState::Complete
        } else if s.is_cancelled() {
            TaskState::Cancelling
        } else if s.is_running() {
            TaskState::Running
        } else if s.is_notified() {
            TaskState::Scheduled
        } else {
            TaskState::Idle
        }
    }
}

impl Clone for TaskProbe {
    fn clone(&self) -> Self {
        self.raw.state().ref_inc();
        TaskProbe { raw: self.raw }
    }
}

impl Drop for TaskProbe {
    fn drop(&mut self) {
        // SAFETY: a TaskProbe (other than a `borrowed` one, which is never dropped) owns
        // exactly one reference.
        unsafe { self.raw.drop_reference() }
    }
}

impl fmt::Debug for TaskProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskProbe")
            .field("id", &self.id())
            .field("state", &self.state())
            .finish()
    }
}

// SAFETY: a probe only touches the atomic state word, the immutable id and the reference
// count; it never reaches the future or the output.
unsafe impl Send for TaskProbe {}
// SAFETY: as above.
unsafe impl Sync for TaskProbe {}
