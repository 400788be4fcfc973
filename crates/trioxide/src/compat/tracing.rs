//! `tracing` integration (feature `tracing`), part of debug mode: with the feature
//! compiled in and debug mode on (`TRIOXIDE_DEBUG=1` or
//! [`Builder::debug(true)`](crate::runtime::Builder::debug)), the runtime reports to
//! whatever `tracing` subscriber is installed:
//! - one span per spawned task, named `task` with target `trioxide::task` and the
//!   fields `task.id`, `task.name` (empty when unnamed) and `spawned_at`
//!   (`file:line:column`); the span is entered for each poll of the task, so the
//!   task's own events nest under it, and closed when the task's cell is freed;
//! - an `INFO` event `"task cancelled"` (target `trioxide::task`) inside the task's span
//!   when a task is cancelled (`JoinHandle::cancel`, a scope's cancel);
//! - every line of the debug log (slow polls, panics never retrieved, tasks pending at
//!   shutdown, ...) as a `WARN` event with target `trioxide::debug`; a slow-poll event is
//!   emitted before the slow task's span is exited, so it carries the task's fields.
//!
//! ```
//! # use std::time::Duration;
//! // With a subscriber installed (tracing-subscriber's `fmt()`, say):
//! let rt = trioxide::Runtime::builder().debug(true).build().unwrap();
//! rt.block_on(async {
//!     trioxide::task::Builder::new()
//!         .name("fetch")
//!         .spawn(async { trioxide::time::sleep(Duration::from_millis(1)).await })
//!         .await
//!         .unwrap();
//! });
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::Mutex;
use trioxide_task::TaskId;

/// Where the events and spans go (subscribers filter on it).
pub const TASK_TARGET: &str = "trioxide::task";

/// The target of forwarded debug-log lines.
pub const DEBUG_TARGET: &str = "trioxide::debug";

std::thread_local! {
    /// The spans of the polls in progress on this thread, innermost last (a poll may run
    /// a nested executor whose tasks are polled inside it). `None` for a task without a
    /// span, so pushes and pops stay paired.
    static ENTERED: RefCell<Vec<Option<tracing::span::EnteredSpan>>> = const { RefCell::new(Vec::new()) };
}

/// The live tasks' spans, kept by debug mode's hooks.
pub(crate) struct TaskSpans {
    spans: Mutex<HashMap<TaskId, tracing::Span>>,
}

impl TaskSpans {
    pub(crate) fn new() -> TaskSpans {
        TaskSpans {
            spans: Mutex::new(HashMap::new()),
        }
    }

    fn span_of(&self, id: TaskId) -> Option<tracing::Span> {
        let spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        spans.get(&id).cloned()
    }

    /// A task was spawned: opens its span.
    pub(crate) fn on_spawn(
        &self,
        id: TaskId,
        name: Option<&str>,
        at: Option<&'static Location<'static>>,
    ) {
        let spawned_at = match at {
            Some(at) => format!("{}:{}:{}", at.file(), at.line(), at.column()),
            None => "<unknown location>".to_string(),
        };
        let span = tracing::info_span!(
            target: TASK_TARGET,
            parent: None,
            "task",
            task.id = id.as_u64(),
            task.name = name.unwrap_or(""),
            spawned_at = spawned_at.as_str(),
        );
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        spans.insert(id, span);
    }

    /// A poll of `id` starts on this thread: enters its span.
    pub(crate) fn before_poll(&self, id: TaskId) {
        let entered = self.span_of(id).map(tracing::Span::entered);
        ENTERED.with(|stack| stack.borrow_mut().push(entered));
    }

    /// The poll `before_poll` announced ended: exits the span.
    pub(crate) fn after_poll(&self) {
        let entered = ENTERED.with(|stack| stack.borrow_mut().pop());
        drop(entered);
    }

    /// `id` is being cancelled: an event inside its span.
    pub(crate) fn on_cancel(&self, id: TaskId) {
        match self.span_of(id) {
            Some(span) => span.in_scope(|| {
                tracing::info!(target: TASK_TARGET, { task.id = id.as_u64() }, "task cancelled");
            }),
            None => {
                tracing::info!(target: TASK_TARGET, { task.id = id.as_u64() }, "task cancelled")
            }
        }
    }

    /// `id`'s cell was freed: closes its span (once no poll holds it entered).
    pub(crate) fn on_release(&self, id: TaskId) {
        let removed = {
            let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
            spans.remove(&id)
        };
        drop(removed);
    }
}

/// Forwards one debug-log line as a `WARN` event (target `trioxide::debug`).
pub(crate) fn forward_line(line: &str) {
    tracing::warn!(target: DEBUG_TARGET, "{line}");
}
