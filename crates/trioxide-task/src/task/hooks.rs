//! Task hooks: optional callbacks a scheduler makes around its tasks' lives — spawn,
//! each poll (with its duration), a panic nobody will read, shutdown with tasks still
//! pending, and the cell being freed. The facade's debug mode is built on them.
//!
//! Hooks are given to a scheduler at construction ([`LocalExecutor::with_hooks`],
//! [`WorkStealingConfig::hooks`]) as an `Option<Arc<dyn TaskHooks>>`. When none are set,
//! each call site is a branch on that `Option`: no clock reads, no atomics, no allocation.
//!
//! [`LocalExecutor::with_hooks`]: crate::LocalExecutor::with_hooks
//! [`WorkStealingConfig::hooks`]: crate::WorkStealingConfig::hooks

use super::TaskId;
use std::time::Duration;

/// Callbacks a scheduler makes around its tasks (all default to doing nothing).
///
/// Calls come from whichever thread acts on the task: spawns from the spawning thread,
/// polls from the thread that polls, `on_release` from the thread that drops the last
/// reference. Implementations must be cheap and must not spawn onto or block the
/// scheduler that calls them.
pub trait TaskHooks: Send + Sync + 'static {
    /// A task was created, before it is first scheduled.
    fn on_spawn(&self, id: TaskId) {
        let _ = id;
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
