//! Debug mode (asyncio's `debug=True`): turned on by `TRIOXIDE_DEBUG=1` or
//! [`Builder::debug(true)`](crate::runtime::Builder::debug).
//!
//! With it on, the runtime gives its schedulers a [`TaskHooks`](trioxide_task::TaskHooks)
//! implementation that keeps a registry of live tasks (name, spawn location, parent, spawn
//! instant, polls, live state) and writes one line per finding to the runtime's log sink
//! ([`Builder::debug_log`], stderr by default), each starting with `trioxide debug: `:
//! - a poll still running past [`Builder::slow_poll_threshold`] (default
//!   [`DEFAULT_SLOW_POLL_THRESHOLD`], asyncio's `slow_callback_duration`), reported by a
//!   watchdog thread *while it is stuck*, once per poll:
//!   `stuck poll: task 7 "fetch" spawned at src/main.rs:12 has been in its current poll
//!   for 104 ms and has not returned (something blocks its thread)`;
//! - the same poll when it returns: `slow poll: task 7 "fetch" spawned at
//!   src/main.rs:12 took 153 ms`;
//! - a task that panicked and whose `JoinHandle` was dropped without taking the result
//!   (asyncio's "Task exception was never retrieved");
//! - at shutdown, the tasks still pending, with their ages.
//!
//! [`dump`] (or [`Handle::dump`](crate::Handle::dump)) returns the live task tree
//! (asyncio's `pstree`): each task's name, id, state, polls, age and spawn location under
//! the task that spawned it, with scopes as parents of their `spawn_parallel` children.
//! The registry exists only in debug mode (or when a user task hook is set, see
//! [`Builder::on_task_spawn`](crate::runtime::Builder::on_task_spawn)); otherwise the
//! dump is empty and says how to turn debug mode on.
//!
//! Spawn locations come from `#[track_caller]` on `spawn`, `spawn_local`,
//! [`Handle::spawn`](crate::Handle::spawn), `Runtime::spawn`, `Scope::spawn_parallel` and
//! [`task::Builder`](crate::task::Builder); names from `task::Builder::name`.
//!
//! With debug mode and user task hooks off no hooks are installed: spawning and polling
//! take one branch on an `Option` more, no watchdog runs and nothing is recorded.
//!
//! [`Builder::debug_log`]: crate::runtime::Builder::debug_log
//! [`Builder::slow_poll_threshold`]: crate::runtime::Builder::slow_poll_threshold

mod dump;
pub(crate) mod hooks;
mod registry;
pub(crate) mod watchdog;

pub use dump::{DumpedTask, TaskDump};
pub use registry::Parent;
pub use trioxide_task::TaskState;

use crate::runtime::Handle;
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

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
#[derive(Default)]
pub(crate) struct SpawnMeta {
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) at: Option<&'static Location<'static>>,
    /// `None`: the task being polled on this thread, if any.
    pub(crate) parent: Option<Parent>,
}

std::thread_local! {
    static SPAWN_META: RefCell<Option<SpawnMeta>> = const { RefCell::new(None) };
}

/// Runs the spawn `f` with `meta` handed to the `on_spawn` hook it triggers. Called only
/// when the runtime records spawns (debug mode or user task hooks).
pub(crate) fn with_spawn_meta<R>(meta: SpawnMeta, f: impl FnOnce() -> R) -> R {
    SPAWN_META.with(|m| *m.borrow_mut() = Some(meta));
    let out = f();
    // A spawn that reached no hooked scheduler leaves it behind: clear it.
    SPAWN_META.with(|m| m.borrow_mut().take());
    out
}

/// The metadata of the spawn in progress on this thread.
pub(crate) fn take_spawn_meta() -> Option<SpawnMeta> {
    SPAWN_META.with(|m| m.borrow_mut().take())
}

/// The live task tree of the current runtime (asyncio's `pstree`); see the module docs.
///
/// Outside a runtime, or with debug mode off, the dump is empty and its `Display` says
/// why ([`TaskDump::is_available`] is `false`); it never panics.
///
/// ```
/// let rt = trioxide::Runtime::builder().debug(true).build().unwrap();
/// rt.block_on(async {
///     let worker = trioxide::task::Builder::new()
///         .name("worker")
///         .spawn(std::future::pending::<()>());
///     trioxide::yield_now().await;
///     let dump = trioxide::debug::dump();
///     assert!(dump.to_string().contains("\"worker\""), "{dump}");
///     worker.cancel();
/// });
/// ```
pub fn dump() -> TaskDump {
    match Handle::try_current() {
        Ok(handle) => handle.dump(),
        Err(_) => TaskDump::unavailable(dump::NO_RUNTIME),
    }
}

/// The dump of `handle`'s runtime.
pub(crate) fn dump_of(hooks: Option<&hooks::RuntimeHooks>) -> TaskDump {
    match hooks {
        Some(hooks) => TaskDump::of(&hooks.registry),
        None => TaskDump::unavailable(dump::NOT_RECORDING),
    }
}

/// Writes `handle`'s task dump through its debug log sink (stderr without debug mode),
/// one line per call. It takes locks and allocates, so call it from a task or thread,
/// never from inside an async signal handler.
#[cfg(test)]
pub(crate) fn print_dump(handle: &Handle) {
    print_dump_of(handle.shared.hooks.as_deref());
}

/// Writes the dump of `hooks`' registry through their log sink (stderr without debug
/// mode): what the watchdog thread prints on `SIGUSR1` in debug mode.
pub(crate) fn print_dump_of(hooks: Option<&hooks::RuntimeHooks>) {
    let text = dump_of(hooks).to_string();
    for line in text.lines() {
        match hooks.and_then(|h| h.debug.as_ref()) {
            Some(debug) => debug.log(line),
            None => eprintln!("trioxide: {line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_dump_writes_the_tree_through_the_log_sink() {
        let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let rt = crate::Runtime::builder()
            .flavor(crate::runtime::Flavor::CurrentThread)
            .io(crate::runtime::Io::Epoll)
            .debug(true)
            .debug_log(move |l| sink.lock().unwrap().push(l.to_string()))
            .build()
            .unwrap();
        rt.block_on(async {
            let t = crate::task::Builder::new()
                .name("listed")
                .spawn(std::future::pending::<()>());
            crate::yield_now().await;
            print_dump(&Handle::current());
            t.cancel();
        });
        let lines = lines.lock().unwrap();
        assert!(
            lines[0].starts_with("trioxide debug: trioxide task dump: 1 live task(s)"),
            "{lines:?}"
        );
        assert!(lines[1].contains("\"listed\" [idle]"), "{lines:?}");
    }

    #[test]
    fn a_dump_outside_a_runtime_says_so() {
        let d = dump();
        assert!(!d.is_available());
        assert!(d.to_string().contains("not inside a trioxide runtime"));
    }
}
