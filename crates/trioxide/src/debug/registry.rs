//! The live-task registry behind debug mode, the task dump and the user task hooks: one
//! [`Record`] per task, in a map sharded by task id so spawns, polls and a dump on
//! different threads rarely meet on one lock, and a dump holds each shard only while it
//! copies that shard's records out (it never stops the schedulers).
//!
//! A record keeps the task's [`TaskProbe`] (its live state word) until the task
//! completes, then only what it was; it leaves the map when the task's cell is freed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::Location;
// std atomics, not the loom shim: this is debug bookkeeping beside the schedulers, never
// part of a loom model.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trioxide_task::{TaskId, TaskProbe, TaskState};

/// Shards of the map (a power of two).
const SHARDS: usize = 16;

/// Who started a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Parent {
    /// The root future (`block_on`) or a thread outside the runtime.
    Root,
    /// The task that was being polled when it spawned this one.
    Task(TaskId),
    /// A scope's `spawn_parallel`: the scope's number and the task that runs the scope
    /// (`None`: the root future).
    Scope {
        /// The scope's number (unique in the process).
        scope: u64,
        /// The task the scope's body runs in.
        owner: Option<TaskId>,
    },
}

/// What is known about one task.
pub(crate) struct Record {
    pub(crate) id: TaskId,
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) at: Option<&'static Location<'static>>,
    pub(crate) parent: Parent,
    pub(crate) spawned: Instant,
    /// Until the task completes.
    probe: Mutex<Option<TaskProbe>>,
    /// Polls started.
    polls: AtomicU64,
    /// When the current poll started (nanoseconds after the registry's epoch, plus one);
    /// 0 while the task is not being polled.
    poll_started: AtomicU64,
    /// The poll number the watchdog last reported as stuck.
    reported: AtomicU64,
}

impl Record {
    /// `task 7 "fetch" spawned at src/main.rs:12` (the form every debug line uses).
    pub(crate) fn describe(&self) -> String {
        let name = match &self.name {
            Some(name) => format!("{name:?}"),
            None => "(unnamed)".to_string(),
        };
        match self.at {
            Some(at) => format!(
                "task {} {name} spawned at {}:{}",
                self.id,
                at.file(),
                at.line()
            ),
            None => format!("task {} {name} spawned at <unknown location>", self.id),
        }
    }

    /// The task's state now.
    pub(crate) fn state(&self) -> TaskState {
        match &*lock(&self.probe) {
            Some(probe) => probe.state(),
            None => TaskState::Complete,
        }
    }

    /// Polls started so far.
    pub(crate) fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }
}

/// Locks `m`, ignoring poisoning (a panicking user hook must not break the registry).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Shard = Mutex<HashMap<TaskId, Arc<Record>>>;

/// Every live task of one runtime.
pub(crate) struct Registry {
    shards: Box<[Shard]>,
    epoch: Instant,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            epoch: Instant::now(),
        }
    }

    fn shard(&self, id: TaskId) -> &Shard {
        &self.shards[id.as_u64() as usize & (SHARDS - 1)]
    }

    /// Records a new task.
    pub(crate) fn insert(
        &self,
        probe: &TaskProbe,
        name: Option<Cow<'static, str>>,
        at: Option<&'static Location<'static>>,
        parent: Parent,
    ) -> Arc<Record> {
        let record = Arc::new(Record {
            id: probe.id(),
            name,
            at,
            parent,
            spawned: Instant::now(),
            probe: Mutex::new(Some(probe.clone())),
            polls: AtomicU64::new(0),
            poll_started: AtomicU64::new(0),
            reported: AtomicU64::new(0),
        });
        lock(self.shard(probe.id())).insert(probe.id(), record.clone());
        record
    }

    pub(crate) fn get(&self, id: TaskId) -> Option<Arc<Record>> {
        lock(self.shard(id)).get(&id).cloned()
    }

    /// A poll of `record`'s task starts (only one at a time per task).
    pub(crate) fn poll_started(&self, record: &Record) {
        record
            .polls
            .store(record.polls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let since = self.epoch.elapsed().as_nanos() as u64;
        record.poll_started.store(since + 1, Ordering::Release);
    }

    /// The poll of `record`'s task returned.
    pub(crate) fn poll_ended(&self, record: &Record) {
        record.poll_started.store(0, Ordering::Release);
    }

    /// How long the current poll of `record`'s task has run, if it is in one.
    pub(crate) fn in_poll_for(&self, record: &Record) -> Option<Duration> {
        let started = record.poll_started.load(Ordering::Acquire);
        if started == 0 {
            return None;
        }
        let now = self.epoch.elapsed().as_nanos() as u64;
        Some(Duration::from_nanos(now.saturating_sub(started - 1)))
    }

    /// Whether the watchdog should report the current poll (true once per poll).
    fn first_report_of_this_poll(&self, record: &Record) -> bool {
        let poll = record.polls.load(Ordering::Relaxed);
        record.reported.swap(poll, Ordering::AcqRel) != poll
    }

    /// The task finished: let go of its cell.
    pub(crate) fn completed(&self, id: TaskId) -> Option<Arc<Record>> {
        let record = self.get(id)?;
        let probe = lock(&record.probe).take();
        drop(probe);
        Some(record)
    }

    /// The task's cell was freed.
    pub(crate) fn remove(&self, id: TaskId) {
        let removed = lock(self.shard(id)).remove(&id);
        drop(removed);
    }

    /// The tasks whose current poll has run at least `threshold` and was not reported
    /// yet (each such poll is returned once), with how long it has run; one shard lock at
    /// a time, copying out only those.
    pub(crate) fn newly_stuck(&self, threshold: Duration) -> Vec<(Arc<Record>, Duration)> {
        let mut stuck = Vec::new();
        for shard in self.shards.iter() {
            for record in lock(shard).values() {
                if let Some(so_far) = self.in_poll_for(record)
                    && so_far >= threshold
                    && self.first_report_of_this_poll(record)
                {
                    stuck.push((record.clone(), so_far));
                }
            }
        }
        stuck
    }

    /// Copies out every record, one shard lock at a time.
    pub(crate) fn snapshot(&self) -> Vec<Arc<Record>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            all.extend(lock(shard).values().cloned());
        }
        all
    }
}
