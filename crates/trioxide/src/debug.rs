//! Debug mode (asyncio's `debug=True`): turned on by `TRIOXIDE_DEBUG=1` or
//! [`Builder::debug(true)`](crate::runtime::Builder::debug).
//!
//! With it on, the runtime gives its schedulers a [`TaskHooks`] implementation that keeps
//! a side table keyed by [`TaskId`] (name, spawn location, spawn instant) and writes one
//! line per finding to the runtime's log sink ([`Builder::debug_log`], stderr by
//! default), each starting with `trioxide debug: `:
//! - a poll that took longer than [`Builder::slow_poll_threshold`] (default
//!   [`DEFAULT_SLOW_POLL_THRESHOLD`], asyncio's `slow_callback_duration`):
//!   `slow poll: task 7 "fetch" spawned at src/main.rs:12 took 153 ms`;
//! - a task that panicked and whose `JoinHandle` was dropped without taking the result
//!   (asyncio's "Task exception was never retrieved");
//! - at shutdown, the tasks still pending, with their ages.
//!
//! Spawn locations come from `#[track_caller]` on `spawn`, `spawn_local`,
//! [`Handle::spawn`](crate::Handle::spawn), `Runtime::spawn` and
//! [`task::Builder`](crate::task::Builder); names from `task::Builder::name`.
//!
//! With debug mode off no hooks are installed: spawning and polling take one branch on a
//! plain `bool` / `Option` more, and nothing is recorded.
//!
//! [`Builder::debug_log`]: crate::runtime::Builder::debug_log
//! [`Builder::slow_poll_threshold`]: crate::runtime::Builder::slow_poll_threshold

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trioxide_task::{TaskHooks, TaskId};

/// The default slow-poll threshold: 100 ms, as asyncio's `slow_callback_duration`.
pub const DEFAULT_SLOW_POLL_THRESHOLD: Duration = Duration::from_millis(100);

/// Where debug mode writes its lines.
#[derive(Clone)]
pub(crate) struct LogSink(pub(crate) Arc<dyn Fn(&str) + Send + Sync>);

impl LogSink {
    /// Writes each line to stderr.
    pub(crate) fn stderr() -> LogSink {
        LogSink(Arc::new(|line: &str| eprintln!("{line}")))
    }
}

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogSink(..)")
    }
}

/// What a spawn says about the task it creates (set just before the scheduler's
/// `on_spawn`, on the same thread).
type SpawnMeta = (Option<Cow<'static, str>>, &'static Location<'static>);

std::thread_local! {
    static SPAWN_META: Cell<Option<SpawnMeta>> = const { Cell::new(None) };
}

/// Runs the spawn `f` with `name` and `at` handed to the `on_spawn` hook it triggers.
/// Called only when debug mode is on.
pub(crate) fn with_spawn_meta<R>(
    name: Option<Cow<'static, str>>,
    at: &'static Location<'static>,
    f: impl FnOnce() -> R,
) -> R {
    SPAWN_META.with(|m| m.set(Some((name, at))));
    let out = f();
    // A spawn that reached no hooked scheduler leaves it behind: clear it.
    SPAWN_META.with(|m| m.take());
    out
}

/// What debug mode remembers about a live task.
struct TaskInfo {
    name: Option<Cow<'static, str>>,
    at: Option<&'static Location<'static>>,
    spawned: Instant,
}

impl TaskInfo {
    fn describe(&self, id: TaskId) -> String {
        let name = match &self.name {
            Some(name) => format!("{name:?}"),
            None => "(unnamed)".to_string(),
        };
        match self.at {
            Some(at) => format!("task {id} {name} spawned at {}:{}", at.file(), at.line()),
            None => format!("task {id} {name} spawned at <unknown location>"),
        }
    }
}

/// Debug mode's hooks: one per runtime, shared by all its schedulers.
pub(crate) struct DebugHooks {
    tasks: Mutex<HashMap<TaskId, TaskInfo>>,
    slow_poll: Duration,
    sink: LogSink,
    /// `tracing` spans and events (feature `tracing`; does nothing without it).
    spans: crate::compat::tracing::TaskSpans,
}

impl DebugHooks {
    pub(crate) fn new(slow_poll: Duration, sink: LogSink) -> DebugHooks {
        DebugHooks {
            tasks: Mutex::new(HashMap::new()),
            slow_poll,
            sink,
            spans: crate::compat::tracing::TaskSpans::new(),
        }
    }

    fn log(&self, line: &str) {
        crate::compat::tracing::forward_line(line);
        (self.sink.0)(&format!("trioxide debug: {line}"));
    }

    fn describe(&self, id: TaskId) -> String {
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        match tasks.get(&id) {
            Some(info) => info.describe(id),
            None => format!("task {id} (unnamed) spawned at <unknown location>"),
        }
    }
}

impl TaskHooks for DebugHooks {
    fn on_spawn(&self, id: TaskId) {
        let (name, at) = match SPAWN_META.with(|m| m.take()) {
            Some((name, at)) => (name, Some(at)),
            None => (None, None),
        };
        self.spans.on_spawn(id, name.as_deref(), at);
        let info = TaskInfo {
            name,
            at,
            spawned: Instant::now(),
        };
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.insert(id, info);
    }

    fn before_poll(&self, id: TaskId) {
        self.spans.before_poll(id);
    }

    fn after_poll(&self, id: TaskId, elapsed: Duration) {
        if elapsed >= self.slow_poll {
            let task = self.describe(id);
            self.log(&format!(
                "slow poll: {task} took {} ms",
                elapsed.as_millis()
            ));
        }
        self.spans.after_poll();
    }

    fn on_cancel(&self, id: TaskId) {
        self.spans.on_cancel(id);
    }

    fn on_unretrieved_panic(&self, id: TaskId, message: &str) {
        let task = self.describe(id);
        self.log(&format!(
            "{task} panicked and its result was never retrieved: {message}"
        ));
    }

    fn on_shutdown(&self, pending: &[TaskId]) {
        let now = Instant::now();
        let lines: Vec<String> = {
            let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
            pending
                .iter()
                .map(|&id| match tasks.get(&id) {
                    Some(info) => format!(
                        "  {}, age {} ms",
                        info.describe(id),
                        now.saturating_duration_since(info.spawned).as_millis()
                    ),
                    None => format!("  task {id} (unnamed) spawned at <unknown location>"),
                })
                .collect()
        };
        self.log(&format!("shutdown with {} task(s) pending:", pending.len()));
        for line in lines {
            self.log(&line);
        }
    }

    fn on_release(&self, id: TaskId) {
        self.spans.on_release(id);
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.remove(&id);
    }
}
