//! The owned-task list: every live task of a scheduler, so shutdown can cancel them all.
//!
//! Sharded slabs (vector of slots plus a free list) under one mutex each; a task lives in
//! the shard its id's block selects (ids come a block per thread, so a worker's spawns
//! keep to one shard and its cache lines while others use theirs), and its header records its slot, so bind and removal are
//! O(1) and threads spawning or finishing different tasks rarely meet on a lock (tokio
//! shards its owned list the same way). The list holds one reference per task. Once
//! closed, it refuses new tasks: a spawn racing shutdown is cancelled at once instead of
//! leaking.

use super::Task;
use crate::loom::sync::Mutex;
use crate::pad::CachePadded;

/// Shards; a power of two. Under loom a single shard: task ids come from a process-wide
/// counter, so picking shards by id would make loom's model differ between iterations.
#[cfg(not(trioxide_loom))]
const SHARDS: usize = 32;
#[cfg(trioxide_loom)]
const SHARDS: usize = 1;

/// A scheduler's live tasks.
pub(crate) struct OwnedTasks {
    /// Each shard on its own cache lines: workers spawning at once lock different shards
    /// and must not fight over the line that holds them.
    shards: Box<[CachePadded<Mutex<Slab>>]>,
}

struct Slab {
    slots: Vec<Option<Task>>,
    free: Vec<usize>,
    len: usize,
    closed: bool,
}

impl OwnedTasks {
    pub(crate) fn new() -> Self {
        let shards = (0..SHARDS)
            .map(|_| {
                CachePadded(Mutex::new(Slab {
                    slots: Vec::new(),
                    free: Vec::new(),
                    len: 0,
                    closed: false,
                }))
            })
            .collect();
        OwnedTasks { shards }
    }

    fn shard(&self, task: &Task) -> &Mutex<Slab> {
        &self.shards[(task.raw.id().block() as usize) & (SHARDS - 1)]
    }

    /// Adds a task; gives it back if the list is closed (the caller shuts it down).
    pub(crate) fn bind(&self, task: Task) -> Result<(), Task> {
        let mut slab = self.shard(&task).lock().unwrap();
        if slab.closed {
            return Err(task);
        }
        let index = match slab.free.pop() {
            Some(index) => index,
            None => {
                slab.slots.push(None);
                slab.slots.len() - 1
            }
        };
        task.raw.set_owned_index(index);
        slab.slots[index] = Some(task);
        slab.len += 1;
        Ok(())
    }

    /// Removes a finished task, returning the list's reference to it.
    pub(crate) fn remove(&self, task: &Task) -> Option<Task> {
        let mut slab = self.shard(task).lock().unwrap();
        let index = task.raw.owned_index();
        let slot = slab.slots.get_mut(index)?;
        if slot.as_ref().is_none_or(|t| t.raw != task.raw) {
            return None; // already taken by shutdown
        }
        let owned = slot.take();
        slab.free.push(index);
        slab.len -= 1;
        owned
    }

    /// Closes the list and takes every task out of it.
    pub(crate) fn close_and_drain(&self) -> Vec<Task> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut slab = shard.lock().unwrap();
            slab.closed = true;
            slab.len = 0;
            slab.free.clear();
            all.extend(std::mem::take(&mut slab.slots).into_iter().flatten());
        }
        all
    }

    /// Whether `close_and_drain` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.shards[0].lock().unwrap().closed
    }

    /// How many tasks are alive.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap().len).sum()
    }
}
