//! `trioxide::debug::dump()`: the live task tree — nested spawns under their spawner,
//! `spawn_parallel` children under their scope under the scope's task, every state
//! (scheduled, running, idle, cancelling, completing), poll counts, ages and spawn
//! locations — on every flavor; and an explanation instead of a tree without debug mode.

use std::sync::Arc;
use std::time::{Duration, Instant};
use trioxide::debug::{DumpedTask, Parent, TaskDump, TaskState};
use trioxide::runtime::{Flavor, Io, Runtime};
use trioxide::sync::Event;
use trioxide::task::Builder as TaskBuilder;

const FLAVORS: &[Flavor] = &[
    Flavor::CurrentThread,
    Flavor::WorkStealing,
    Flavor::ThreadPerCore,
];

fn runtime(flavor: Flavor, debug: bool) -> Runtime {
    Runtime::builder()
        .flavor(flavor)
        .io(Io::Epoll)
        .worker_threads(2)
        .debug(debug)
        .debug_log(|_| {})
        .build()
        .expect("runtime builds")
}

/// Dumps until `ready` holds (yielding in between), for at most 10 s.
async fn dump_when(ready: impl Fn(&TaskDump) -> bool) -> TaskDump {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let dump = trioxide::debug::dump();
        if ready(&dump) {
            return dump;
        }
        assert!(
            Instant::now() < deadline,
            "the dump never got there:\n{dump}"
        );
        trioxide::time::sleep(Duration::from_millis(1)).await;
    }
}

fn named<'a>(dump: &'a TaskDump, name: &str) -> Option<&'a DumpedTask> {
    dump.tasks()
        .iter()
        .find(|t| t.name.as_deref() == Some(name))
}

/// The indentation (in spaces) of the line naming task `name`.
fn indent_of(text: &str, name: &str) -> usize {
    let line = text
        .lines()
        .find(|l| l.contains(&format!("\"{name}\"")))
        .unwrap_or_else(|| panic!("no line for {name} in\n{text}"));
    line.len() - line.trim_start().len()
}

#[test]
fn nested_spawns_form_a_tree() {
    for &flavor in FLAVORS {
        let rt = runtime(flavor, true);
        rt.block_on(async {
            let go = Arc::new(Event::new());
            let gate = go.clone();
            let parent_line = line!() + 1;
            let parent = TaskBuilder::new().name("parent").spawn(async move {
                let gate2 = gate.clone();
                let child = TaskBuilder::new().name("child").spawn(async move {
                    let gate3 = gate2.clone();
                    let grandchild = TaskBuilder::new()
                        .name("grandchild")
                        .spawn(async move { gate3.wait().await });
                    gate2.wait().await;
                    grandchild.await.unwrap();
                });
                gate.wait().await;
                child.await.unwrap();
            });
            let dump = dump_when(|d| {
                ["parent", "child", "grandchild"]
                    .iter()
                    .all(|n| named(d, n).is_some_and(|t| t.state == TaskState::Idle))
            })
            .await;
            let (p, c, g) = (
                named(&dump, "parent").unwrap(),
                named(&dump, "child").unwrap(),
                named(&dump, "grandchild").unwrap(),
            );
            assert_eq!(p.parent, Parent::Root, "{flavor:?}\n{dump}");
            assert_eq!(c.parent, Parent::Task(p.id), "{flavor:?}\n{dump}");
            assert_eq!(g.parent, Parent::Task(c.id), "{flavor:?}\n{dump}");
            assert!(p.polls >= 1 && c.polls >= 1 && g.polls >= 1, "{dump}");
            assert_eq!(
                p.spawned_at.map(|l| (l.file(), l.line())),
                Some((file!(), parent_line))
            );
            let text = dump.to_string();
            let (ip, ic, ig) = (
                indent_of(&text, "parent"),
                indent_of(&text, "child"),
                indent_of(&text, "grandchild"),
            );
            assert!(ip < ic && ic < ig, "{flavor:?}: not nested:\n{text}");
            let line = text.lines().find(|l| l.contains("\"parent\"")).unwrap();
            let expected = format!("task {} \"parent\" [idle] {} poll", p.id, p.polls);
            assert!(line.trim_start().starts_with(&expected), "{line}");
            assert!(
                line.ends_with(&format!("spawned at {}:{parent_line}", file!())),
                "{line}"
            );
            assert!(line.contains(", age "), "{line}");
            go.set();
            parent.await.unwrap();
            // Finished tasks leave the tree. The grandchild's worker may still be letting
            // go of it after its handle resolved (it wakes the child first, then drops
            // its last reference), so on several threads this takes a moment.
            dump_when(|d| named(d, "grandchild").is_none()).await;
        });
    }
}

#[test]
fn parallel_children_sit_under_their_scope_under_its_task() {
    for &flavor in FLAVORS {
        let rt = runtime(flavor, true);
        rt.block_on(async {
            let go = Arc::new(Event::new());
            let gate = go.clone();
            let owner = TaskBuilder::new().name("owner").spawn(async move {
                let result = trioxide::scope(|s| {
                    let gate = gate.clone();
                    async move {
                        for _ in 0..2 {
                            let gate = gate.clone();
                            s.spawn_parallel(async move { gate.wait().await });
                        }
                        gate.wait().await;
                    }
                })
                .await;
                assert!(result.is_ok());
            });
            let dump = dump_when(|d| {
                d.tasks()
                    .iter()
                    .filter(|t| matches!(t.parent, Parent::Scope { .. }))
                    .count()
                    == 2
            })
            .await;
            let owner_id = named(&dump, "owner").unwrap().id;
            let kids: Vec<_> = dump
                .tasks()
                .iter()
                .filter(|t| matches!(t.parent, Parent::Scope { .. }))
                .collect();
            let Parent::Scope { scope, owner: by } = kids[0].parent else {
                unreachable!()
            };
            assert_eq!(by, Some(owner_id), "{flavor:?}\n{dump}");
            assert_eq!(kids[1].parent, kids[0].parent, "one scope");
            assert!(
                kids.iter()
                    .all(|k| k.spawned_at.is_some_and(|l| l.file() == file!())),
                "spawn_parallel records the caller's location:\n{dump}"
            );
            let text = dump.to_string();
            let scope_line = format!("scope #{scope} (in task {owner_id})");
            let lines: Vec<&str> = text.lines().collect();
            let at = lines
                .iter()
                .position(|l| l.trim_start() == scope_line)
                .unwrap_or_else(|| panic!("no `{scope_line}` in\n{text}"));
            let indent = |l: &str| l.len() - l.trim_start().len();
            assert!(indent(lines[at]) > indent_of(&text, "owner"), "{text}");
            for kid in &kids {
                let kid_line = lines
                    .iter()
                    .position(|l| l.trim_start().starts_with(&format!("task {} ", kid.id)))
                    .unwrap();
                assert!(
                    kid_line > at && indent(lines[kid_line]) > indent(lines[at]),
                    "{text}"
                );
            }
            go.set();
            owner.await.unwrap();
        });
    }
}

#[test]
fn every_state_shows() {
    for &flavor in FLAVORS {
        let rt = runtime(flavor, true);
        rt.block_on(async {
            let go = Arc::new(Event::new());
            let gate = go.clone();
            let cleaning = TaskBuilder::new().name("cleaning").spawn(async move {
                let _cleanup = trioxide::on_cancel(async move { gate.wait().await });
                std::future::pending::<()>().await;
            });
            let done = TaskBuilder::new().name("done").spawn(async { 7 });
            // A task that dumps from inside sees itself running.
            let me = TaskBuilder::new()
                .name("me")
                .spawn(async { trioxide::debug::dump() });
            let own = me.await.unwrap();
            assert_eq!(
                named(&own, "me").unwrap().state,
                TaskState::Running,
                "{own}"
            );
            assert!(own.to_string().contains("\"me\" [running for "), "{own}");
            dump_when(|d| {
                named(d, "cleaning").is_some_and(|t| t.state == TaskState::Idle)
                    && named(d, "done").is_some_and(|t| t.state == TaskState::Complete)
            })
            .await;
            cleaning.cancel();
            let dump = dump_when(|d| named(d, "cleaning").is_some_and(|t| t.polls >= 2)).await;
            assert_eq!(
                named(&dump, "cleaning").unwrap().state,
                TaskState::Cancelling,
                "{dump}"
            );
            assert!(dump.to_string().contains("\"done\" [completing]"), "{dump}");
            assert_eq!(done.await.unwrap(), 7);
            go.set();
            assert!(cleaning.await.unwrap_err().is_cancelled());
        });
    }
}

#[test]
fn a_task_not_yet_polled_is_scheduled() {
    let rt = runtime(Flavor::CurrentThread, true);
    rt.block_on(async {
        let queued = TaskBuilder::new().name("queued").spawn(async {});
        let dump = trioxide::debug::dump();
        assert_eq!(named(&dump, "queued").unwrap().state, TaskState::Scheduled);
        assert!(
            dump.to_string().contains("\"queued\" [scheduled] 0 polls"),
            "{dump}"
        );
        queued.await.unwrap();
    });
}

#[test]
fn without_debug_mode_the_dump_says_how_to_turn_it_on() {
    for &flavor in FLAVORS {
        let rt = runtime(flavor, false);
        let dump = rt.block_on(async {
            let _task = trioxide::spawn(std::future::pending::<()>());
            trioxide::debug::dump()
        });
        assert!(!dump.is_available());
        assert!(dump.tasks().is_empty());
        assert!(dump.to_string().contains("TRIOXIDE_DEBUG=1"), "{dump}");
        assert!(!rt.dump().is_available());
    }
}

#[test]
fn sigusr1_prints_the_task_tree_in_debug_mode() {
    let lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let rt = Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .io(Io::Epoll)
        .debug(true)
        .debug_log(move |line| sink.lock().unwrap().push(line.to_string()))
        .build()
        .expect("runtime builds");
    rt.block_on(async {
        let _task = TaskBuilder::new()
            .name("signalled")
            .spawn(std::future::pending::<()>());
        trioxide::yield_now().await;
        // SAFETY: raising a signal whose handler debug mode installed (it only counts).
        assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("signalled"))
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no dump after SIGUSR1: {:?}",
                lines.lock().unwrap()
            );
            trioxide::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

#[test]
fn a_local_scopes_parallel_children_record_the_callers_location() {
    let rt = runtime(Flavor::WorkStealing, true);
    rt.block_on(async {
        let go = Event::new();
        let local_scope = trioxide::scope_local(|s| {
            let go = &go;
            async move {
                let gate = Arc::new(Event::new());
                let inner = gate.clone();
                s.spawn_parallel(async move { inner.wait().await });
                go.wait().await;
                gate.set();
            }
        });
        let check = async {
            let dump = dump_when(|d| {
                d.tasks()
                    .iter()
                    .any(|t| matches!(t.parent, Parent::Scope { .. }))
            })
            .await;
            let kid = dump
                .tasks()
                .iter()
                .find(|t| matches!(t.parent, Parent::Scope { .. }))
                .unwrap();
            let located = kid.spawned_at.is_some_and(|l| l.file() == file!());
            go.set();
            (located, dump.to_string())
        };
        let (scoped, (located, dump)) = trioxide::join!(local_scope, check);
        scoped.unwrap();
        assert!(
            located,
            "LocalScope::spawn_parallel records the caller's location:\n{dump}"
        );
    });
}
