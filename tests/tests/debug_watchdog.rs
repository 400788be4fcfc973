//! Debug mode's stuck-poll watchdog: a task that blocks its thread inside a poll is
//! reported *while* it is still blocked (seen from another thread before the poll
//! returns), once per poll, with its name, id, spawn location and time so far; and no
//! watchdog thread exists with debug mode off.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use trioxide::runtime::{Flavor, Io, Runtime};
use trioxide::task::Builder as TaskBuilder;

const FLAVORS: &[Flavor] = &[
    Flavor::CurrentThread,
    Flavor::WorkStealing,
    Flavor::ThreadPerCore,
];

/// Generous: the watchdog scans every quarter threshold, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

fn runtime(flavor: Flavor, debug: bool, name: &str, sink: mpsc::Sender<String>) -> Runtime {
    let sink = std::sync::Mutex::new(sink);
    Runtime::builder()
        .flavor(flavor)
        .io(Io::Epoll)
        .worker_threads(2)
        .thread_name(name)
        .debug(debug)
        .slow_poll_threshold(Duration::from_millis(50))
        .debug_log(move |line| {
            let _ = sink.lock().unwrap().send(line.to_string());
        })
        .build()
        .expect("runtime builds")
}

#[test]
fn a_stuck_poll_is_reported_before_it_returns() {
    for &flavor in FLAVORS {
        let (tx, lines) = mpsc::channel();
        let rt = runtime(flavor, true, "stuck", tx);
        let released = Arc::new(AtomicBool::new(false));
        // Another thread watches the log and releases the task once the report is in.
        let observer = {
            let released = released.clone();
            std::thread::spawn(move || {
                let deadline = Instant::now() + PATIENCE;
                let mut seen = Vec::new();
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    let Ok(line) = lines.recv_timeout(left) else {
                        break;
                    };
                    let stuck = line.contains("stuck poll");
                    seen.push(line);
                    if stuck {
                        released.store(true, Ordering::SeqCst);
                        break;
                    }
                }
                (seen, lines)
            })
        };
        let spawn_line = line!() + 3;
        let still_blocked_when_released = rt.block_on(async {
            let flag = released.clone();
            let task = TaskBuilder::new().name("sleeper").spawn(async move {
                let deadline = Instant::now() + PATIENCE;
                // Blocks its thread (the bug the watchdog names) until the observer saw
                // the report, or gives up.
                while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                flag.load(Ordering::SeqCst)
            });
            let id = task.id();
            (task.await.unwrap(), id)
        });
        let (released_in_poll, id) = still_blocked_when_released;
        let (seen, lines) = observer.join().unwrap();
        assert!(
            released_in_poll,
            "{flavor:?}: no stuck-poll line while the poll was blocked; lines: {seen:?}"
        );
        let stuck = seen.last().unwrap();
        let expected = format!(
            "trioxide debug: stuck poll: task {id} \"sleeper\" spawned at {}:{spawn_line} \
             has been in its current poll for ",
            file!()
        );
        assert!(
            stuck.starts_with(&expected),
            "{flavor:?}: {stuck}\nwanted {expected}"
        );
        let ms: u64 = stuck[expected.len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            ms >= 50,
            "{flavor:?}: reported after {ms} ms, below the threshold"
        );
        drop(rt);
        let rest: Vec<String> = lines.try_iter().collect();
        assert!(
            !rest.iter().any(|l| l.contains("stuck poll")),
            "{flavor:?}: one report per stuck poll: {rest:?}"
        );
        assert!(
            rest.iter()
                .any(|l| l.contains("slow poll") && l.contains("\"sleeper\"")),
            "{flavor:?}: the slow-poll line follows when the poll returns: {rest:?}"
        );
    }
}

/// Names of this process's threads.
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn the_watchdog_runs_only_in_debug_mode() {
    // Thread names are cut at 15 bytes by the kernel: "wdon-watchdog" fits.
    // Threads are told apart by name: the other test of this file runs runtimes (and
    // their threads) at the same time, so a count of all threads would race with it.
    let (tx, _lines) = mpsc::channel();
    let off = runtime(Flavor::CurrentThread, false, "wdoff", tx.clone());
    let names = thread_names();
    assert!(
        !names.iter().any(|n| n.starts_with("wdoff")),
        "a current-thread runtime without debug mode starts no thread: {names:?}"
    );
    let on = runtime(Flavor::CurrentThread, true, "wdon", tx);
    // A new thread names itself once it runs: wait for that.
    let deadline = Instant::now() + PATIENCE;
    while !thread_names().iter().any(|n| n == "wdon-watchdog") {
        assert!(Instant::now() < deadline, "{:?}", thread_names());
        std::thread::sleep(Duration::from_millis(5));
    }
    let names = thread_names();
    assert!(
        !names.iter().any(|n| n.starts_with("wdoff-watch")),
        "{names:?}"
    );
    drop(on);
    while thread_names().iter().any(|n| n == "wdon-watchdog") {
        assert!(
            Instant::now() < deadline,
            "the watchdog stops with its runtime"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(off);
}
