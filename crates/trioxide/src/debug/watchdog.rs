//! The stuck-poll watchdog: in debug mode, a thread that looks at the registry a few
//! times per slow-poll threshold and reports each task whose *current* poll has already
//! run past the threshold — while it is still stuck, so a task that blocks its thread for
//! good is still named (asyncio only reports a slow callback after it returns). Each
//! stuck poll is reported once; the usual slow-poll line follows when it returns.
//!
//! The same thread prints the task tree when the process gets `SIGUSR1` (the signal
//! handler only counts deliveries; the thread notices on its next scan).
//!
//! The thread exists only in debug mode and holds only a weak reference to the hooks; it
//! stops when the runtime is dropped.

use super::hooks::RuntimeHooks;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

/// Stops and joins the watchdog thread on drop.
pub(crate) struct Watchdog {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching `hooks` (which must have debug mode's log), scanning every quarter
    /// threshold (between 1 ms and 100 ms). `None` if the thread could not start, which
    /// only costs the early reports.
    pub(crate) fn start(hooks: &Arc<RuntimeHooks>, thread_name: &str) -> Option<Watchdog> {
        let threshold = hooks.debug.as_ref()?.slow_poll;
        let every = (threshold / 4).clamp(Duration::from_millis(1), Duration::from_millis(100));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let weak = Arc::downgrade(hooks);
        let for_thread = stop.clone();
        // SIGUSR1 prints the task tree (asyncio 3.14's `ps`/`pstree`, on demand). The
        // handler only counts the delivery; this thread notices and prints. Without the
        // handler (it could not be installed) the dump is still there through the API.
        let dumps = crate::signal::handler::install(libc::SIGUSR1).is_ok();
        // Counted here, not in the thread: a signal raised before the thread first runs
        // still prints.
        let dumped = crate::signal::handler::deliveries(libc::SIGUSR1);
        let thread = std::thread::Builder::new()
            .name(format!("{thread_name}-watchdog"))
            .spawn(move || watch(weak, threshold, every, dumps.then_some(dumped), &for_thread))
            .ok()?;
        Some(Watchdog {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch(
    hooks: Weak<RuntimeHooks>,
    threshold: Duration,
    every: Duration,
    mut dumped: Option<u64>,
    stop: &(Mutex<bool>, Condvar),
) {
    let (flag, wake) = stop;
    loop {
        {
            let stopped = flag.lock().unwrap_or_else(|e| e.into_inner());
            let (stopped, _) = wake
                .wait_timeout_while(stopped, every, |stopped| !*stopped)
                .unwrap_or_else(|e| e.into_inner());
            if *stopped {
                return;
            }
        }
        let Some(hooks) = hooks.upgrade() else { return };
        scan(&hooks, threshold);
        if let Some(seen) = dumped.as_mut() {
            let now = crate::signal::handler::deliveries(libc::SIGUSR1);
            if now != *seen {
                *seen = now;
                super::print_dump_of(Some(&hooks));
            }
        }
    }
}

/// Reports every poll that has run at least `threshold` and was not reported yet.
fn scan(hooks: &RuntimeHooks, threshold: Duration) {
    let Some(debug) = &hooks.debug else { return };
    for (record, so_far) in hooks.registry.newly_stuck(threshold) {
        debug.log(&format!(
            "stuck poll: {} has been in its current poll for {} ms and has not returned \
             (something blocks its thread)",
            record.describe(),
            so_far.as_millis()
        ));
    }
}
