//! Task identifiers: unique for the life of the process, never reused.

use std::fmt;
use std::num::NonZeroU64;
// A plain counter, not part of any synchronization protocol, so it stays on std's atomic
// even under loom (loom atomics cannot live in a `static`).
use std::sync::atomic::{AtomicU64, Ordering};

/// An opaque, process-unique task identifier (as `asyncio.Task.get_name()`'s number, or
/// tokio's `task::Id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(NonZeroU64);

impl TaskId {
    pub(crate) fn next() -> TaskId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        TaskId(NonZeroU64::new(id).expect("task id counter wrapped"))
    }

    /// The identifier as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
