//! The owned-task list: every live task of a scheduler, so shutdown can cancel them all.
//!
//! A slab (vector of slots plus a free list) under one mutex; each task's header records
//! its slot, so removal is O(1). The list holds one reference per task. Once closed, it
//! refuses new tasks: a spawn racing shutdown is cancelled at once instead of leaking.

use super::Task;
use crate::loom::sync::Mutex;

/// A scheduler's live tasks.
pub(crate) struct OwnedTasks {
    inner: Mutex<Slab>,
}

struct Slab {
    slots: Vec<Option<Task>>,
    free: Vec<usize>,
    len: usize,
    closed: bool,
}

impl OwnedTasks {
    pub(crate) fn new() -> Self {
        OwnedTasks {
            inner: Mutex::new(Slab {
                slots: Vec::new(),
                free: Vec::new(),
                len: 0,
                closed: false,
            }),
        }
    }

    /// Adds a task; gives it back if the list is closed (the caller shuts it down).
    pub(crate) fn bind(&self, task: Task) -> Result<(), Task> {
        let mut slab = self.inner.lock().unwrap();
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
        let mut slab = self.inner.lock().unwrap();
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
        let mut slab = self.inner.lock().unwrap();
        slab.closed = true;
        slab.len = 0;
        slab.free.clear();
        std::mem::take(&mut slab.slots)
            .into_iter()
            .flatten()
            .collect()
    }

    /// Whether `close_and_drain` was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.inner.lock().unwrap().closed
    }

    /// How many tasks are alive.
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().unwrap().len
    }
}
