//! User hooks set on the runtime [`Builder`](super::Builder): thread start/stop for every
//! runtime thread (workers, cores, blocking threads) and task spawn / terminate / poll
//! callbacks with a [`TaskMeta`] — for the user's own monitoring (tokio's
//! `on_thread_start`, `on_task_spawn`, `on_before_task_poll`, ...). They compose with
//! debug mode: both run from the same [`TaskHooks`](trioxide_task::TaskHooks).

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use trioxide_task::TaskId;

/// A thread hook.
pub(crate) type ThreadHookFn = Arc<dyn Fn() + Send + Sync>;
/// A task hook.
pub(crate) type TaskHookFn = Arc<dyn Fn(&TaskMeta<'_>) + Send + Sync>;

/// What a task hook is told about its task.
#[derive(Clone, Copy, Debug)]
pub struct TaskMeta<'a> {
    pub(crate) id: TaskId,
    pub(crate) name: Option<&'a str>,
    pub(crate) spawned_at: Option<&'static Location<'static>>,
}

impl<'a> TaskMeta<'a> {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Its name (`trioxide::task::Builder::name`), if it has one.
    pub fn name(&self) -> Option<&'a str> {
        self.name
    }

    /// Where it was spawned, when known (`None` for tasks spawned through lower-level
    /// APIs that carry no location).
    pub fn spawned_at(&self) -> Option<&'static Location<'static>> {
        self.spawned_at
    }
}

/// The hooks a builder collected.
#[derive(Clone, Default)]
pub(crate) struct UserHooks {
    pub(crate) on_thread_start: Option<ThreadHookFn>,
    pub(crate) on_thread_stop: Option<ThreadHookFn>,
    pub(crate) on_task_spawn: Option<TaskHookFn>,
    pub(crate) on_task_terminate: Option<TaskHookFn>,
    pub(crate) before_poll: Option<TaskHookFn>,
    pub(crate) after_poll: Option<TaskHookFn>,
}

impl UserHooks {
    /// Whether any task hook is set (then the runtime installs task hooks and keeps a
    /// registry, as debug mode does).
    pub(crate) fn has_task_hooks(&self) -> bool {
        self.on_task_spawn.is_some()
            || self.on_task_terminate.is_some()
            || self.before_poll.is_some()
            || self.after_poll.is_some()
    }

    /// Runs the thread-start hook, if set.
    pub(crate) fn thread_started(&self) {
        if let Some(hook) = &self.on_thread_start {
            hook();
        }
    }

    /// Runs the thread-stop hook, if set.
    pub(crate) fn thread_stopping(&self) {
        if let Some(hook) = &self.on_thread_stop {
            hook();
        }
    }
}

impl fmt::Debug for UserHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserHooks")
            .field("on_thread_start", &self.on_thread_start.is_some())
            .field("on_thread_stop", &self.on_thread_stop.is_some())
            .field("on_task_spawn", &self.on_task_spawn.is_some())
            .field("on_task_terminate", &self.on_task_terminate.is_some())
            .field("before_poll", &self.before_poll.is_some())
            .field("after_poll", &self.after_poll.is_some())
            .finish()
    }
}
