//! User hooks on the runtime builder: task spawn / terminate / before- and after-poll
//! counts match the tasks and polls, thread hooks run on every worker, core and blocking
//! thread, and they compose with debug mode — on every flavor and backend.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trioxide::runtime::{Builder, Runtime};
use trioxide::task::Builder as TaskBuilder;
use trioxide_tests::CONFIGS;

/// What the hooks saw.
#[derive(Default)]
struct Seen {
    spawned: AtomicUsize,
    terminated: AtomicUsize,
    before: AtomicUsize,
    after: AtomicUsize,
    named_spawns: Mutex<Vec<String>>,
    started_threads: Mutex<Vec<String>>,
    stopped_threads: Mutex<Vec<String>>,
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

fn hooked(builder: &mut Builder, seen: &Arc<Seen>) {
    let s = seen.clone();
    builder.on_task_spawn(move |meta| {
        s.spawned.fetch_add(1, Ordering::SeqCst);
        assert!(meta.spawned_at().is_some(), "spawns carry their location");
        if let Some(name) = meta.name() {
            s.named_spawns.lock().unwrap().push(name.to_string());
        }
    });
    let s = seen.clone();
    builder.on_task_terminate(move |_| {
        s.terminated.fetch_add(1, Ordering::SeqCst);
    });
    let s = seen.clone();
    builder.on_before_task_poll(move |_| {
        s.before.fetch_add(1, Ordering::SeqCst);
    });
    let s = seen.clone();
    builder.on_after_task_poll(move |_| {
        s.after.fetch_add(1, Ordering::SeqCst);
    });
    let s = seen.clone();
    builder.on_thread_start(move || s.started_threads.lock().unwrap().push(thread_name()));
    let s = seen.clone();
    builder.on_thread_stop(move || s.stopped_threads.lock().unwrap().push(thread_name()));
}

fn build(builder: &mut Builder) -> Option<Runtime> {
    match builder.build() {
        Ok(rt) => Some(rt),
        Err(trioxide::runtime::BuildError::IoUringUnavailable { reason }) => {
            eprintln!("skipping: io_uring unavailable here ({reason})");
            None
        }
        Err(err) => panic!("{err}"),
    }
}

/// Spawns `n` tasks that each poll twice, plus one blocking job; returns when all ended.
async fn workload(n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            TaskBuilder::new()
                .name(format!("t{i}"))
                .spawn(trioxide::yield_now())
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    trioxide::spawn_blocking(|| ()).await.unwrap();
}

#[test]
fn hook_counts_match_spawns_and_polls_and_threads_are_hooked() {
    const N: usize = 50;
    for &(config, flavor, io) in CONFIGS {
        let seen = Arc::new(Seen::default());
        let mut builder = Runtime::builder();
        builder
            .flavor(flavor)
            .io(io)
            .worker_threads(2)
            .thread_name("hk");
        hooked(&mut builder, &seen);
        let Some(rt) = build(&mut builder) else {
            continue;
        };
        rt.block_on(workload(N));
        assert_eq!(seen.spawned.load(Ordering::SeqCst), N, "{config}");
        assert_eq!(seen.terminated.load(Ordering::SeqCst), N, "{config}");
        let (before, after) = (
            seen.before.load(Ordering::SeqCst),
            seen.after.load(Ordering::SeqCst),
        );
        assert_eq!(before, after, "{config}: every poll is bracketed");
        assert!(
            before >= 2 * N,
            "{config}: {before} polls for {N} yielding tasks"
        );
        let mut names = seen.named_spawns.lock().unwrap().clone();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), N, "{config}: names reach the hooks");
        drop(rt);
        let deadline = Instant::now() + Duration::from_secs(10);
        while seen.stopped_threads.lock().unwrap().len()
            < seen.started_threads.lock().unwrap().len()
        {
            assert!(
                Instant::now() < deadline,
                "{config}: a thread never ran its stop hook"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let started: HashSet<String> = seen
            .started_threads
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect();
        let stopped: HashSet<String> = seen
            .stopped_threads
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect();
        assert!(started.contains("hk-blocking"), "{config}: {started:?}");
        match flavor {
            trioxide::runtime::Flavor::CurrentThread => {}
            trioxide::runtime::Flavor::WorkStealing => {
                assert!(
                    started.contains("hk-0") && started.contains("hk-1"),
                    "{config}: {started:?}"
                )
            }
            _ => assert!(
                started.contains("hk-core-0") && started.contains("hk-core-1"),
                "{config}: {started:?}"
            ),
        }
        assert_eq!(started, stopped, "{config}");
    }
}

#[test]
fn user_hooks_compose_with_debug_mode() {
    let seen = Arc::new(Seen::default());
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let mut builder = Runtime::builder();
    builder
        .flavor(trioxide::runtime::Flavor::WorkStealing)
        .worker_threads(2)
        .debug(true)
        .slow_poll_threshold(Duration::from_millis(20))
        .debug_log(move |l| sink.lock().unwrap().push(l.to_string()));
    hooked(&mut builder, &seen);
    let rt = builder.build().unwrap();
    rt.block_on(async {
        workload(10).await;
        TaskBuilder::new()
            .name("slowpoke")
            .spawn(async { std::thread::sleep(Duration::from_millis(40)) })
            .await
            .unwrap();
        let dump = trioxide::debug::dump();
        assert!(dump.is_available());
    });
    assert_eq!(seen.spawned.load(Ordering::SeqCst), 11);
    assert_eq!(seen.terminated.load(Ordering::SeqCst), 11);
    let lines = lines.lock().unwrap();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("slow poll") && l.contains("\"slowpoke\"")),
        "{lines:?}"
    );
}

#[test]
fn a_task_hook_alone_turns_on_the_registry() {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let rt = Runtime::builder()
        .flavor(trioxide::runtime::Flavor::CurrentThread)
        .on_task_spawn(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    rt.block_on(async {
        let t = TaskBuilder::new()
            .name("visible")
            .spawn(std::future::pending::<()>());
        let dump = trioxide::debug::dump();
        assert!(dump.to_string().contains("\"visible\""), "{dump}");
        t.cancel();
    });
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_task_hook_does_not_break_the_runtime() {
    let rt = Runtime::builder()
        .flavor(trioxide::runtime::Flavor::CurrentThread)
        .on_before_task_poll(|_| panic!("hook bug"))
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(async { trioxide::spawn(async { 5 }).await.unwrap() }),
        5
    );
}
