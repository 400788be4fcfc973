//! Debug mode: slow-poll warnings with the task's name and spawn location, panics whose
//! result was never retrieved, the shutdown listing of pending tasks — and silence with
//! debug mode off. Lines are captured through `Builder::debug_log`.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use trioxide::runtime::{Flavor, Runtime};
use trioxide::task::Builder as TaskBuilder;

const FLAVORS: &[Flavor] = &[
    Flavor::CurrentThread,
    Flavor::WorkStealing,
    Flavor::ThreadPerCore,
];

/// A runtime of `flavor` with debug mode `debug`, and the lines it logs.
fn runtime(flavor: Flavor, debug: bool) -> (Runtime, Arc<Mutex<Vec<String>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let rt = Runtime::builder()
        .flavor(flavor)
        .worker_threads(2)
        .debug(debug)
        .debug_log(move |line| sink.lock().unwrap().push(line.to_string()))
        .build()
        .expect("runtime builds");
    (rt, lines)
}

/// Blocks the thread for 150 ms inside a poll: the mistake debug mode exists to catch.
async fn block_thread() {
    std::thread::sleep(Duration::from_millis(150));
}

/// Yields until `finished` says the task is done (no sleeps, no timing).
async fn until(finished: impl Fn() -> bool) {
    while !finished() {
        trioxide::yield_now().await;
    }
}

fn location(line: u32) -> String {
    format!("spawned at {}:{line}", file!())
}

#[test]
fn a_slow_poll_is_reported_with_the_name_and_spawn_location() {
    for &flavor in FLAVORS {
        let (rt, lines) = runtime(flavor, true);
        let (slow_line, fast_line, unnamed_line) = rt.block_on(async {
            let slow_line = line!() + 1;
            let slow = TaskBuilder::new().name("slow").spawn(block_thread());
            let fast_line = line!() + 1;
            let fast = TaskBuilder::new().name("fast").spawn(async { 1 + 1 });
            let unnamed_line = line!() + 1;
            let unnamed = trioxide::spawn(block_thread());
            slow.await.unwrap();
            assert_eq!(fast.await.unwrap(), 2);
            unnamed.await.unwrap();
            (slow_line, fast_line, unnamed_line)
        });
        drop(rt);
        let lines = lines.lock().unwrap().clone();
        let slow: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("trioxide debug: slow poll: task "))
            .collect();
        assert_eq!(slow.len(), 2, "{flavor:?}: two slow tasks: {lines:#?}");
        let named = slow
            .iter()
            .find(|l| l.contains("\"slow\""))
            .unwrap_or_else(|| panic!("{flavor:?}: no line for \"slow\": {lines:#?}"));
        assert!(named.contains(&location(slow_line)), "{flavor:?}: {named}");
        assert!(named.ends_with(" ms"), "{named}");
        let ms: u64 = named
            .rsplit(" took ")
            .next()
            .and_then(|t| t.strip_suffix(" ms"))
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("no duration in {named}"));
        assert!(ms >= 150, "{named}");
        assert!(
            slow.iter()
                .any(|l| l.contains("(unnamed)") && l.contains(&location(unnamed_line))),
            "{flavor:?}: trioxide::spawn records its caller: {lines:#?}"
        );
        assert!(
            !lines
                .iter()
                .any(|l| l.contains("\"fast\"") || l.contains(&location(fast_line))),
            "{flavor:?}: a fast task is not reported: {lines:#?}"
        );
    }
}

#[test]
fn spawn_local_records_its_location_too() {
    let (rt, lines) = runtime(Flavor::CurrentThread, true);
    let at = rt.block_on(async {
        let at = line!() + 1;
        let task = TaskBuilder::new().name("local").spawn_local(block_thread());
        task.await.unwrap();
        at
    });
    drop(rt);
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("trioxide debug: slow poll: task ")
                && l.contains("\"local\"")
                && l.contains(&location(at))),
        "{lines:#?}"
    );
}

#[test]
fn the_threshold_is_configurable() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let rt = Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .debug(true)
        .slow_poll_threshold(Duration::from_secs(3600))
        .debug_log(move |line| sink.lock().unwrap().push(line.to_string()))
        .build()
        .unwrap();
    rt.block_on(async {
        TaskBuilder::new()
            .name("slow")
            .spawn(block_thread())
            .await
            .unwrap()
    });
    drop(rt);
    assert!(
        lines.lock().unwrap().is_empty(),
        "{:?}",
        lines.lock().unwrap()
    );
}

/// Lines reporting an unretrieved panic of the task named `name`.
fn unretrieved(lines: &[String], name: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| {
            l.starts_with("trioxide debug: task ")
                && l.contains(&format!("{name:?}"))
                && l.contains("panicked and its result was never retrieved")
        })
        .cloned()
        .collect()
}

#[test]
fn an_unretrieved_panic_is_reported_once_and_a_retrieved_one_never() {
    for &flavor in FLAVORS {
        let (rt, lines) = runtime(flavor, true);
        let detached_at = rt.block_on(async {
            // Detached before it ran: the task side drops the panic unread.
            let builder = TaskBuilder::new().name("detached");
            let detached_at = line!() + 1;
            let detached = builder.spawn(async { panic!("boom-detached") });
            let watch = detached.cancel_handle();
            drop(detached);
            until(|| watch.is_finished()).await;

            // Finished first, then the handle dropped without reading.
            let late = TaskBuilder::new()
                .name("late")
                .spawn(async { panic!("boom-late") });
            until(|| late.is_finished()).await;
            drop(late);

            // Awaited: the panic was seen, nothing to report.
            let seen = TaskBuilder::new()
                .name("seen")
                .spawn(async { panic!("boom-seen") });
            assert!(seen.await.unwrap_err().is_panic());

            // Finished normally and dropped unread: not a panic, nothing to report.
            let fine = TaskBuilder::new().name("fine").spawn(async { 5 });
            until(|| fine.is_finished()).await;
            drop(fine);
            detached_at
        });
        drop(rt);
        let lines = lines.lock().unwrap().clone();
        let detached = unretrieved(&lines, "detached");
        assert_eq!(detached.len(), 1, "{flavor:?}: {lines:#?}");
        assert!(detached[0].ends_with(": boom-detached"), "{}", detached[0]);
        assert!(
            detached[0].contains(&location(detached_at)),
            "{}",
            detached[0]
        );
        let late = unretrieved(&lines, "late");
        assert_eq!(late.len(), 1, "{flavor:?}: {lines:#?}");
        assert!(late[0].ends_with(": boom-late"), "{}", late[0]);
        assert!(
            unretrieved(&lines, "seen").is_empty(),
            "{flavor:?}: {lines:#?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains("\"fine\"")),
            "{flavor:?}: {lines:#?}"
        );
    }
}

#[test]
fn shutdown_lists_the_pending_tasks() {
    for &flavor in FLAVORS {
        let (rt, lines) = runtime(flavor, true);
        let at = rt.block_on(async {
            let builder = TaskBuilder::new().name("forever");
            let at = line!() + 1;
            let forever = builder.spawn(std::future::pending::<()>());
            // Let it start, so it is idle (not merely queued) at shutdown.
            trioxide::yield_now().await;
            drop(forever);
            at
        });
        drop(rt);
        let lines = lines.lock().unwrap().clone();
        let header = lines
            .iter()
            .position(|l| l == "trioxide debug: shutdown with 1 task(s) pending:")
            .unwrap_or_else(|| panic!("{flavor:?}: no shutdown listing: {lines:#?}"));
        let entry = &lines[header + 1];
        assert!(
            entry.starts_with("trioxide debug:   task ")
                && entry.contains("\"forever\"")
                && entry.contains(&location(at))
                && entry.contains(", age ")
                && entry.ends_with(" ms"),
            "{flavor:?}: {entry}"
        );
    }
}

#[test]
fn debug_mode_off_logs_nothing() {
    for &flavor in FLAVORS {
        let (rt, lines) = runtime(flavor, false);
        rt.block_on(async {
            TaskBuilder::new()
                .name("slow")
                .spawn(block_thread())
                .await
                .unwrap();
            let detached = TaskBuilder::new()
                .name("detached")
                .spawn(async { panic!("boom") });
            let watch = detached.cancel_handle();
            drop(detached);
            until(|| watch.is_finished()).await;
            drop(trioxide::spawn(std::future::pending::<()>()));
        });
        assert!(!rt.handle().is_debug());
        drop(rt);
        assert!(
            lines.lock().unwrap().is_empty(),
            "{flavor:?}: {:?}",
            lines.lock().unwrap()
        );
    }
}
