//! A custom event loop (asyncio's `class MyEventLoop(asyncio.AbstractEventLoop)`, done the
//! trioxide way): a `LocalExecutor` with our own ready-queue order — a priority scheduler —
//! driven turn by turn with monitoring output between turns.
//!
//! Every task carries a priority; whenever several tasks are ready, the loop polls the
//! highest one first (ties: first woken, first run). The policy plugs into the executor
//! through [`SchedulePolicy`], a type parameter, so the default FIFO executor pays nothing
//! for the hook.
//!
//! Run it with `cargo run -p trioxide --example custom_loop`.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::rc::Rc;
use trioxide::{LocalExecutor, ReadyTask, SchedulePolicy, TaskId, ThreadPark};

/// What the loop knows about each task: its name and priority (higher runs first).
#[derive(Default)]
struct Registry {
    tasks: HashMap<TaskId, (&'static str, u8)>,
}

/// One ready task in the heap.
struct Entry {
    priority: u8,
    /// Wake order, so equal priorities stay FIFO.
    seq: u64,
    task: ReadyTask,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Max-heap: higher priority first, then the earlier wake.
        self.priority
            .cmp(&other.priority)
            .then(other.seq.cmp(&self.seq))
    }
}

/// The priority policy, with the monitoring it prints.
struct Priorities {
    registry: Rc<RefCell<Registry>>,
    ready: BinaryHeap<Entry>,
    seq: u64,
    turns: u64,
}

impl SchedulePolicy for Priorities {
    fn push(&mut self, task: ReadyTask) {
        let priority = self
            .registry
            .borrow()
            .tasks
            .get(&task.id())
            .map_or(0, |&(_, p)| p);
        self.seq += 1;
        self.ready.push(Entry {
            priority,
            seq: self.seq,
            task,
        });
    }

    fn pop(&mut self) -> Option<ReadyTask> {
        let entry = self.ready.pop()?;
        self.turns += 1;
        let registry = self.registry.borrow();
        let name = registry
            .tasks
            .get(&entry.task.id())
            .map_or("(root)", |&(name, _)| name);
        println!(
            "[loop] turn {}: {name} (priority {}), {} more ready",
            self.turns,
            entry.priority,
            self.ready.len()
        );
        Some(entry.task)
    }

    fn len(&self) -> usize {
        self.ready.len()
    }
}

/// `MyEventLoop`: the executor plus the registry that gives tasks their priority.
struct PriorityLoop {
    executor: LocalExecutor<Priorities>,
    registry: Rc<RefCell<Registry>>,
}

impl PriorityLoop {
    fn new() -> PriorityLoop {
        let registry = Rc::new(RefCell::new(Registry::default()));
        let policy = Priorities {
            registry: registry.clone(),
            ready: BinaryHeap::new(),
            seq: 0,
            turns: 0,
        };
        PriorityLoop {
            executor: LocalExecutor::with_policy(ThreadPark::new(), policy),
            registry,
        }
    }

    /// A handle tasks can use to spawn more prioritised tasks onto this loop.
    fn spawner(&self) -> PrioritySpawner {
        PrioritySpawner(self.registry.clone())
    }

    /// Runs ready tasks, highest priority first, until none is ready.
    fn run_until_idle(&self) -> usize {
        let polls = self.executor.run_until_stalled();
        println!(
            "[loop] idle after {polls} polls; {} task(s) alive",
            self.executor.live_tasks()
        );
        polls
    }
}

/// Spawns onto the loop driving this thread, with a name and a priority.
#[derive(Clone)]
struct PrioritySpawner(Rc<RefCell<Registry>>);

impl PrioritySpawner {
    fn spawn(&self, name: &'static str, priority: u8, fut: impl Future<Output = ()> + 'static) {
        // The new task is only queued here; the policy sees it (and looks up its priority)
        // at the loop's next pick, after this registration.
        let handle = trioxide_task::spawn_local(fut);
        self.0
            .borrow_mut()
            .tasks
            .insert(handle.id(), (name, priority));
    }
}

/// A job that does `steps` steps, yielding to the loop after each.
async fn job(name: &'static str, steps: u32) {
    for step in 0..steps {
        println!("{name}: step {step}");
        trioxide::yield_now().await;
    }
    println!("{name}: done");
}

fn main() {
    let event_loop = PriorityLoop::new();
    let spawner = event_loop.spawner();
    // Spawned from inside the loop (a root task), lowest priority first, to show that
    // the order of spawning does not matter.
    event_loop.executor.spawn_local({
        let spawner = spawner.clone();
        async move {
            spawner.spawn("log-rotate", 1, {
                let spawner = spawner.clone();
                async move {
                    println!("log-rotate: step 0");
                    trioxide::yield_now().await;
                    // An urgent task appears: it runs at the very next turn.
                    spawner.spawn("alarm", 10, job("alarm", 1));
                    trioxide::yield_now().await;
                    println!("log-rotate: done");
                }
            });
            spawner.spawn("render", 5, job("render", 2));
            spawner.spawn("input", 9, job("input", 2));
        }
    });
    event_loop.run_until_idle();
    assert_eq!(event_loop.executor.live_tasks(), 0);
    println!("[loop] all tasks finished");
}
