//! Task identifiers: unique for the life of the process, never reused.
//!
//! Ids come from one process-wide counter, but each thread takes them a block at a time,
//! so threads spawning at once do not fight over the counter's cache line. Ids are
//! therefore unique but not ordered by spawn time across threads.

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
// A plain counter, not part of any synchronization protocol, so it stays on std's atomic
// even under loom (loom atomics cannot live in a `static`).
use std::sync::atomic::{AtomicU64, Ordering};

/// The next id nobody has taken. Starts at one whole block (0 is never an id) and moves
/// by whole blocks, so each block is aligned: its ids share `block()`.
static NEXT: AtomicU64 = AtomicU64::new(BLOCK_LEN);
/// A thread takes `1 << BLOCK_SHIFT` ids from `NEXT` at once, aligned to that size.
const BLOCK_SHIFT: u32 = 10;
const BLOCK_LEN: u64 = 1 << BLOCK_SHIFT;

std::thread_local! {
    /// This thread's ids still to hand out: `next..end`.
    static BLOCK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// An opaque, process-unique task identifier (as `asyncio.Task.get_name()`'s number, or
/// tokio's `task::Id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(NonZeroU64);

impl TaskId {
    pub(crate) fn next() -> TaskId {
        let id = BLOCK
            .try_with(|block| {
                let (next, end) = block.get();
                if next < end {
                    block.set((next + 1, end));
                    next
                } else {
                    let start = NEXT.fetch_add(BLOCK_LEN, Ordering::Relaxed);
                    block.set((start + 1, start + BLOCK_LEN));
                    start
                }
            })
            // A thread being torn down has no block any more: take a fresh block's first id
            // (whole blocks keep `NEXT` aligned).
            .unwrap_or_else(|_| NEXT.fetch_add(BLOCK_LEN, Ordering::Relaxed));
        TaskId(NonZeroU64::new(id).expect("task id counter wrapped"))
    }

    /// Which block of ids this one came from: ids a thread handed out in a row share it
    /// (the owned-task list shards by it, so one thread's spawns stay on one shard).
    pub(crate) fn block(self) -> u64 {
        self.0.get() >> BLOCK_SHIFT
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

#[cfg(test)]
mod tests {
    use super::TaskId;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_across_threads_and_blocks() {
        let per_thread = 3 * super::BLOCK_LEN as usize + 7;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    (0..per_thread).map(|_| TaskId::next()).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for t in threads {
            for id in t.join().unwrap() {
                assert!(seen.insert(id), "{id} handed out twice");
            }
        }
        assert_eq!(seen.len(), 4 * per_thread);
    }
}
