//! [`RuntimeHooks`]: the one [`TaskHooks`] a runtime gives its schedulers when debug
//! mode or any user task hook is on. It keeps the [`Registry`], writes debug mode's lines
//! (slow polls, unread panics, pending tasks at shutdown) and calls the user's hooks with
//! a [`TaskMeta`], so debug mode and user monitoring compose.

use super::registry::{Parent, Record, Registry};
use super::{LogSink, SpawnMeta, take_spawn_meta};
use crate::runtime::{TaskMeta, UserHooks};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trioxide_task::{TaskHooks, TaskId, TaskProbe};

/// What debug mode adds: where lines go and what counts as slow.
pub(crate) struct DebugLog {
    pub(crate) slow_poll: Duration,
    pub(crate) sink: LogSink,
}

impl DebugLog {
    pub(crate) fn log(&self, line: &str) {
        crate::compat::tracing::forward_line(line);
        (self.sink.0)(&format!("trioxide debug: {line}"));
    }
}

/// A runtime's task hooks: registry + debug lines + user hooks.
pub(crate) struct RuntimeHooks {
    pub(crate) registry: Registry,
    pub(crate) debug: Option<DebugLog>,
    user: UserHooks,
    /// `tracing` spans and events (feature `tracing`, in debug mode; else nothing).
    spans: Option<crate::compat::tracing::TaskSpans>,
}

impl RuntimeHooks {
    /// Hooks for a runtime, or `None` when neither debug mode nor a user task hook needs
    /// them (then nothing is installed and nothing is recorded).
    pub(crate) fn for_runtime(debug: Option<DebugLog>, user: &UserHooks) -> Option<Arc<Self>> {
        if debug.is_none() && !user.has_task_hooks() {
            return None;
        }
        let spans = debug.is_some().then(crate::compat::tracing::TaskSpans::new);
        Some(Arc::new(RuntimeHooks {
            registry: Registry::new(),
            debug,
            user: user.clone(),
            spans,
        }))
    }

    fn describe(&self, id: TaskId) -> String {
        match self.registry.get(id) {
            Some(record) => record.describe(),
            None => format!("task {id} (unnamed) spawned at <unknown location>"),
        }
    }
}

/// Calls a user task hook; a panic in it is reported and swallowed, never unwound into
/// the scheduler that called the hooks.
fn call(hook: &crate::runtime::TaskHookFn, record: &Record) {
    let called = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&meta(record))));
    if called.is_err() {
        eprintln!(
            "trioxide: a task hook panicked (task {}); ignored",
            record.id
        );
    }
}

/// The user's view of a record.
fn meta(record: &Record) -> TaskMeta<'_> {
    TaskMeta {
        id: record.id,
        name: record.name.as_deref(),
        spawned_at: record.at,
    }
}

impl TaskHooks for RuntimeHooks {
    fn on_spawn(&self, task: &TaskProbe) {
        let SpawnMeta { name, at, parent } = take_spawn_meta().unwrap_or_default();
        let parent = parent.unwrap_or_else(|| match trioxide_task::current_task_id() {
            Some(id) => Parent::Task(id),
            None => Parent::Root,
        });
        let record = self.registry.insert(task, name, at, parent);
        if let Some(spans) = &self.spans {
            spans.on_spawn(record.id, record.name.as_deref(), record.at);
        }
        if let Some(hook) = &self.user.on_task_spawn {
            call(hook, &record);
        }
    }

    fn before_poll(&self, id: TaskId) {
        if let Some(spans) = &self.spans {
            spans.before_poll(id);
        }
        if let Some(record) = self.registry.get(id) {
            self.registry.poll_started(&record);
            if let Some(hook) = &self.user.before_poll {
                call(hook, &record);
            }
        }
    }

    fn after_poll(&self, id: TaskId, elapsed: Duration) {
        let Some(record) = self.registry.get(id) else {
            return;
        };
        // The span is left after the slow-poll line below, so that line's event lands
        // inside the task's span.
        let _leave = LeaveSpan(self.spans.as_ref());
        self.registry.poll_ended(&record);
        if let Some(hook) = &self.user.after_poll {
            call(hook, &record);
        }
        if let Some(debug) = &self.debug
            && elapsed >= debug.slow_poll
        {
            debug.log(&format!(
                "slow poll: {} took {} ms",
                record.describe(),
                elapsed.as_millis()
            ));
        }
    }

    fn on_complete(&self, id: TaskId) {
        if let Some(record) = self.registry.completed(id)
            && let Some(hook) = &self.user.on_task_terminate
        {
            call(hook, &record);
        }
    }

    fn on_unretrieved_panic(&self, id: TaskId, message: &str) {
        if let Some(debug) = &self.debug {
            debug.log(&format!(
                "{} panicked and its result was never retrieved: {message}",
                self.describe(id)
            ));
        }
    }

    fn on_shutdown(&self, pending: &[TaskId]) {
        let Some(debug) = &self.debug else { return };
        let now = Instant::now();
        // A task that finished on another thread may not have left the owned list yet:
        // the registry knows it completed, so it is not listed.
        let pending: Vec<TaskId> = pending
            .iter()
            .copied()
            .filter(|&id| {
                self.registry
                    .get(id)
                    .is_none_or(|r| r.state() != trioxide_task::TaskState::Complete)
            })
            .collect();
        if pending.is_empty() {
            return;
        }
        let lines: Vec<String> = pending
            .iter()
            .map(|&id| match self.registry.get(id) {
                Some(record) => format!(
                    "  {}, age {} ms",
                    record.describe(),
                    now.saturating_duration_since(record.spawned).as_millis()
                ),
                None => format!("  task {id} (unnamed) spawned at <unknown location>"),
            })
            .collect();
        debug.log(&format!("shutdown with {} task(s) pending:", pending.len()));
        for line in lines {
            debug.log(&line);
        }
    }

    fn on_cancel(&self, id: TaskId) {
        if let Some(spans) = &self.spans {
            spans.on_cancel(id);
        }
    }

    fn on_release(&self, id: TaskId) {
        if let Some(spans) = &self.spans {
            spans.on_release(id);
        }
        self.registry.remove(id);
    }
}

/// Leaves the polled task's span when dropped (at the end of `after_poll`).
struct LeaveSpan<'a>(Option<&'a crate::compat::tracing::TaskSpans>);

impl Drop for LeaveSpan<'_> {
    fn drop(&mut self) {
        if let Some(spans) = self.0 {
            spans.after_poll();
        }
    }
}
