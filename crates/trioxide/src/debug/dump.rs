//! [`TaskDump`]: a copy of a runtime's live tasks, shown as an indented tree (asyncio
//! 3.14's `python -m asyncio pstree` is the model for what each line says).
//!
//! A task's parent is the task that spawned it; a `spawn_parallel` child's parent is its
//! scope, shown under the task that runs the scope. Tasks whose parent already finished
//! are shown at the top level with a note.

use super::registry::{Parent, Record, Registry};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::panic::Location;
use std::time::{Duration, Instant};
use trioxide_task::{TaskId, TaskState};

/// One task in a [`TaskDump`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DumpedTask {
    /// The task's id.
    pub id: TaskId,
    /// Its name (`trioxide::task::Builder::name`), if it has one.
    pub name: Option<String>,
    /// What it is doing.
    pub state: TaskState,
    /// Who spawned it.
    pub parent: Parent,
    /// Polls started so far.
    pub polls: u64,
    /// Time since it was spawned.
    pub age: Duration,
    /// How long its current poll has run, while it is in one.
    pub in_poll_for: Option<Duration>,
    /// Where it was spawned, when known.
    pub spawned_at: Option<&'static Location<'static>>,
}

/// A runtime's live tasks at one moment (see [`crate::debug::dump`]).
///
/// Without debug mode (and without user task hooks) the runtime keeps no registry: the
/// dump is then [`TaskDump::is_available`]` == false` and its `Display` says how to turn
/// debug mode on.
#[derive(Clone, Debug)]
pub struct TaskDump {
    tasks: Vec<DumpedTask>,
    unavailable: Option<&'static str>,
}

/// What a dump of a runtime without a registry says.
pub(crate) const NOT_RECORDING: &str = "task dump unavailable: the runtime keeps no task \
     registry with debug mode off; set TRIOXIDE_DEBUG=1 or use \
     Runtime::builder().debug(true)";

/// What a dump outside any runtime says.
pub(crate) const NO_RUNTIME: &str = "task dump unavailable: not inside a trioxide runtime; \
     call trioxide::debug::dump() from inside trioxide::run (or use Handle::dump)";

impl TaskDump {
    pub(crate) fn of(registry: &Registry) -> TaskDump {
        let now = Instant::now();
        let mut tasks: Vec<DumpedTask> = registry
            .snapshot()
            .iter()
            .map(|record| dumped(registry, record, now))
            .collect();
        tasks.sort_by_key(|t| t.id);
        TaskDump {
            tasks,
            unavailable: None,
        }
    }

    pub(crate) fn unavailable(why: &'static str) -> TaskDump {
        TaskDump {
            tasks: Vec::new(),
            unavailable: Some(why),
        }
    }

    /// Whether the runtime keeps a task registry (debug mode on, or a user task hook
    /// set). When `false`, [`tasks`](Self::tasks) is empty.
    pub fn is_available(&self) -> bool {
        self.unavailable.is_none()
    }

    /// Every live task, by id.
    pub fn tasks(&self) -> &[DumpedTask] {
        &self.tasks
    }

    /// The task with this id, if it is live.
    pub fn task(&self, id: TaskId) -> Option<&DumpedTask> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// The tasks whose parent is `parent`.
    pub fn children(&self, parent: Parent) -> impl Iterator<Item = &DumpedTask> {
        self.tasks.iter().filter(move |t| t.parent == parent)
    }
}

fn dumped(registry: &Registry, record: &Record, now: Instant) -> DumpedTask {
    DumpedTask {
        id: record.id,
        name: record.name.as_ref().map(|n| n.to_string()),
        state: record.state(),
        parent: record.parent,
        polls: record.polls(),
        age: now.saturating_duration_since(record.spawned),
        in_poll_for: registry.in_poll_for(record),
        spawned_at: record.at,
    }
}

/// A node of the printed tree.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    Task(TaskId),
    Scope(u64),
}

/// `1.25 s`, `340 ms`, `12 us`.
fn short(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else if d >= Duration::from_millis(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} us", d.as_micros())
    }
}

impl DumpedTask {
    fn line(&self) -> String {
        let name = match &self.name {
            Some(name) => format!("{name:?}"),
            None => "(unnamed)".to_string(),
        };
        let state = match (self.state, self.in_poll_for) {
            (TaskState::Running, Some(d)) => format!("running for {}", short(d)),
            (state, _) => state.to_string(),
        };
        let polls = if self.polls == 1 { "poll" } else { "polls" };
        let at = match self.spawned_at {
            Some(at) => format!("{}:{}", at.file(), at.line()),
            None => "<unknown location>".to_string(),
        };
        format!(
            "task {} {name} [{state}] {} {polls}, age {}, spawned at {at}",
            self.id,
            self.polls,
            short(self.age)
        )
    }
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(why) = self.unavailable {
            return writeln!(f, "{why}");
        }
        writeln!(f, "trioxide task dump: {} live task(s)", self.tasks.len())?;
        let live: HashSet<TaskId> = self.tasks.iter().map(|t| t.id).collect();
        // Children of each node, and the nodes at the top (the root future's children,
        // and orphans whose parent finished).
        let mut children: BTreeMap<Node, Vec<Node>> = BTreeMap::new();
        let mut top: Vec<(Node, Option<String>)> = Vec::new();
        let mut scopes: BTreeMap<u64, Option<TaskId>> = BTreeMap::new();
        for task in &self.tasks {
            let me = Node::Task(task.id);
            match task.parent {
                Parent::Root => top.push((me, None)),
                Parent::Task(p) if live.contains(&p) => {
                    children.entry(Node::Task(p)).or_default().push(me)
                }
                Parent::Task(p) => top.push((me, Some(format!("parent task {p} finished")))),
                Parent::Scope { scope, owner } => {
                    children.entry(Node::Scope(scope)).or_default().push(me);
                    scopes.insert(scope, owner);
                }
            }
        }
        for (&scope, &owner) in &scopes {
            match owner {
                Some(owner) if live.contains(&owner) => children
                    .entry(Node::Task(owner))
                    .or_default()
                    .push(Node::Scope(scope)),
                Some(owner) => top.push((
                    Node::Scope(scope),
                    Some(format!("its task {owner} finished")),
                )),
                None => top.push((Node::Scope(scope), None)),
            }
        }
        top.sort();
        let by_id: BTreeMap<TaskId, &DumpedTask> = self.tasks.iter().map(|t| (t.id, t)).collect();
        let mut stack: Vec<(Node, usize, Option<String>)> = top
            .into_iter()
            .rev()
            .map(|(node, note)| (node, 0, note))
            .collect();
        while let Some((node, depth, note)) = stack.pop() {
            let indent = "  ".repeat(depth + 1);
            let text = match node {
                Node::Task(id) => by_id[&id].line(),
                Node::Scope(scope) => match scopes[&scope] {
                    Some(owner) => format!("scope #{scope} (in task {owner})"),
                    None => format!("scope #{scope} (in the root future)"),
                },
            };
            match note {
                Some(note) => writeln!(f, "{indent}{text} ({note})")?,
                None => writeln!(f, "{indent}{text}")?,
            }
            if let Some(kids) = children.get_mut(&node) {
                kids.sort();
                for &kid in kids.iter().rev() {
                    stack.push((kid, depth + 1, None));
                }
            }
        }
        Ok(())
    }
}
