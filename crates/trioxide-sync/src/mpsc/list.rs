//! The unbounded flavour: a lock-free linked list of blocks, crossbeam-channel's
//! `flavors/list.rs` (itself after Vyukov's unbounded queue and tokio's block list).
//!
//! Layout and protocol:
//!
//! 1. Messages live in blocks of `BLOCK_CAP` slots linked by `next`. `head` and `tail`
//!    are positions: an index (shifted left by `SHIFT`, whose low bit is `MARK_BIT`) plus
//!    a pointer to the block holding it. Offsets run `0..LAP`; offset `BLOCK_CAP` (the
//!    last) is never a slot — it means "the next block is being installed".
//! 2. A sender claims an index by CAS on `tail.index`. The sender that claims the block's
//!    last slot installs the next block (allocated *before* the CAS, so the critical window
//!    is short), then moves `tail` past the gap offset. The first sender ever allocates the
//!    first block.
//! 3. The sender writes the message, then sets the slot's `WRITE` bit (release). A receiver
//!    claims by CAS on `head.index`, waits for `WRITE`, reads, then sets `READ`.
//! 4. Blocks are freed by receivers: the reader of a block's last slot destroys it, but a
//!    slot still being read when destruction starts gets `DESTROY`, and its reader finishes
//!    the destruction instead (`Block::destroy` walks the remaining slots).
//! 5. `MARK_BIT` on `tail.index` means closed; on `head.index` it caches "head and tail are
//!    in different blocks", which spares receivers a load of `tail`.
//! 6. A receiver decides "empty" only from a load of `tail.index` after a `SeqCst` fence,
//!    so the claim, not the `WRITE` bit, is what its "is it empty?" check sees first (a
//!    claimed slot is waited for). [`push_with`](List::push_with) runs its hook right
//!    after the claiming `SeqCst` CAS, where a channel reads its "receiver waiting?" flag
//!    with a `SeqCst` load and no fence (`loom::load_after_seqcst_rmw`), as the ring does.

use super::{PopError, PushError};
use crate::blocking::{Backoff, CachePadded};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::*, fence};
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;

/// The slot's message has been written.
const WRITE: usize = 1;
/// The slot's message has been read.
const READ: usize = 2;
/// Block destruction reached this slot while it was being read.
const DESTROY: usize = 4;

/// Offsets per block, the gap offset included (shrunk under loom).
#[cfg(not(trioxide_loom))]
const LAP: usize = 32;
#[cfg(trioxide_loom)]
const LAP: usize = 4;
/// Slots per block.
const BLOCK_CAP: usize = LAP - 1;
/// Low index bits reserved for metadata (`MARK_BIT`).
const SHIFT: usize = 1;
/// Closed (on tail) / head and tail in different blocks (on head).
const MARK_BIT: usize = 1;

struct Slot<T> {
    msg: UnsafeCell<MaybeUninit<T>>,
    state: AtomicUsize,
}

impl<T> Slot<T> {
    /// Spins until the slot's message has been written.
    fn wait_write(&self) {
        let mut backoff = Backoff::new();
        while self.state.load(Acquire) & WRITE == 0 {
            backoff.snooze();
        }
    }
}

struct Block<T> {
    next: AtomicPtr<Block<T>>,
    slots: [Slot<T>; BLOCK_CAP],
}

impl<T> Block<T> {
    fn new() -> Box<Self> {
        Box::new(Self {
            next: AtomicPtr::new(ptr::null_mut()),
            slots: std::array::from_fn(|_| Slot {
                msg: UnsafeCell::new(MaybeUninit::uninit()),
                state: AtomicUsize::new(0),
            }),
        })
    }

    /// Spins until the next block is linked, and returns it.
    fn wait_next(&self) -> *mut Self {
        let mut backoff = Backoff::new();
        loop {
            let next = self.next.load(Acquire);
            if !next.is_null() {
                return next;
            }
            backoff.snooze();
        }
    }

    /// Frees the block once slots `start..BLOCK_CAP - 1` are all read (rule 4).
    ///
    /// # Safety
    ///
    /// `this` came from `Box::into_raw`, every slot before `start` has been read, and the
    /// caller read the last slot or was handed the destruction by a `DESTROY` mark.
    unsafe fn destroy(this: *mut Self, start: usize) {
        // The last slot need not be marked: its reader started this destruction.
        for i in start..BLOCK_CAP - 1 {
            // SAFETY: the block is alive until this function frees it (contract).
            let slot = unsafe { &(*this).slots[i] };
            // Still being read: leave the rest to that reader.
            if slot.state.load(Acquire) & READ == 0
                && slot.state.fetch_or(DESTROY, AcqRel) & READ == 0
            {
                return;
            }
        }
        // SAFETY: every slot is read and no thread holds a reference into the block.
        drop(unsafe { Box::from_raw(this) });
    }
}

/// A position in the list: index and the block it falls in.
struct Position<T> {
    index: AtomicUsize,
    block: AtomicPtr<Block<T>>,
}

/// An unbounded lock-free queue of blocks.
pub(crate) struct List<T> {
    head: CachePadded<Position<T>>,
    tail: CachePadded<Position<T>>,
    _marker: PhantomData<T>,
}

// SAFETY: messages are moved between threads (`T: Send`); every slot is accessed by the
// one thread that claimed it, as rules 2–4 serialise.
unsafe impl<T: Send> Send for List<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for List<T> {}

impl<T> List<T> {
    /// An empty list; the first block is allocated by the first push.
    pub(crate) fn new() -> Self {
        Self {
            head: CachePadded(Position {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            }),
            tail: CachePadded(Position {
                index: AtomicUsize::new(0),
                block: AtomicPtr::new(ptr::null_mut()),
            }),
            _marker: PhantomData,
        }
    }

    /// Pushes `msg`; fails only when closed.
    #[cfg(all(test, not(trioxide_loom)))]
    pub(crate) fn push(&self, msg: T) -> Result<(), PushError<T>> {
        self.push_with(msg, || ())
    }

    /// Pushes `msg`, running `claimed` right after the claiming `SeqCst` CAS on
    /// `tail.index` (rule 6), before the message is written; returns what `claimed`
    /// returned.
    pub(crate) fn push_with<R>(
        &self,
        msg: T,
        claimed: impl FnOnce() -> R,
    ) -> Result<R, PushError<T>> {
        let mut backoff = Backoff::new();
        let mut tail = self.tail.index.load(Acquire);
        let mut block = self.tail.block.load(Acquire);
        let mut next_block = None;
        loop {
            if tail & MARK_BIT != 0 {
                return Err(PushError::Closed(msg));
            }
            let offset = (tail >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another sender is installing the next block.
                backoff.snooze();
                tail = self.tail.index.load(Acquire);
                block = self.tail.block.load(Acquire);
                continue;
            }
            // About to fill the block: allocate the next one before claiming.
            if offset + 1 == BLOCK_CAP && next_block.is_none() {
                next_block = Some(Block::new());
            }
            if block.is_null() {
                // The very first message: install the first block.
                let new = Box::into_raw(Block::new());
                if self
                    .tail
                    .block
                    .compare_exchange(block, new, Release, Relaxed)
                    .is_ok()
                {
                    self.head.block.store(new, Release);
                    block = new;
                } else {
                    // SAFETY: `new` was never shared; reclaim it as the spare block.
                    next_block = Some(unsafe { Box::from_raw(new) });
                    tail = self.tail.index.load(Acquire);
                    block = self.tail.block.load(Acquire);
                    continue;
                }
            }
            let new_tail = tail + (1 << SHIFT);
            match self
                .tail
                .index
                .compare_exchange_weak(tail, new_tail, SeqCst, Acquire)
            {
                Ok(_) => {
                    let r = claimed();
                    if offset + 1 == BLOCK_CAP {
                        // We took the last slot: link the next block (rule 2).
                        let next = Box::into_raw(next_block.take().expect("allocated above"));
                        self.tail.block.store(next, Release);
                        self.tail.index.fetch_add(1 << SHIFT, Release);
                        // SAFETY: `block` stays alive until all its slots are read, and
                        // ours is not written yet.
                        unsafe { (*block).next.store(next, Release) };
                    }
                    // SAFETY: the CAS claimed slot `offset` of `block` for us alone, and
                    // the block cannot be freed before that slot is read (rule 4).
                    let slot = unsafe { &(*block).slots[offset] };
                    // SAFETY: the slot is ours and empty until we set WRITE.
                    slot.msg
                        .with_mut(|p| unsafe { p.write(MaybeUninit::new(msg)) });
                    slot.state.fetch_or(WRITE, Release);
                    return Ok(r);
                }
                Err(t) => {
                    tail = t;
                    block = self.tail.block.load(Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Pops the oldest message; `Empty` or, once closed and drained, `Closed`.
    pub(crate) fn pop(&self) -> Result<T, PopError> {
        let mut backoff = Backoff::new();
        let mut head = self.head.index.load(Acquire);
        let mut block = self.head.block.load(Acquire);
        loop {
            let offset = (head >> SHIFT) % LAP;
            if offset == BLOCK_CAP {
                // Another receiver is moving head to the next block.
                backoff.snooze();
                head = self.head.index.load(Acquire);
                block = self.head.block.load(Acquire);
                continue;
            }
            let mut new_head = head + (1 << SHIFT);
            if new_head & MARK_BIT == 0 {
                fence(SeqCst);
                let tail = self.tail.index.load(Relaxed);
                if head >> SHIFT == tail >> SHIFT {
                    return if tail & MARK_BIT != 0 {
                        Err(PopError::Closed)
                    } else {
                        Err(PopError::Empty)
                    };
                }
                // Head and tail in different blocks: cache that in head (rule 5).
                if (head >> SHIFT) / LAP != (tail >> SHIFT) / LAP {
                    new_head |= MARK_BIT;
                }
            }
            if block.is_null() {
                // The first block is still being installed.
                backoff.snooze();
                head = self.head.index.load(Acquire);
                block = self.head.block.load(Acquire);
                continue;
            }
            match self
                .head
                .index
                .compare_exchange_weak(head, new_head, SeqCst, Acquire)
            {
                Ok(_) => {
                    if offset + 1 == BLOCK_CAP {
                        // SAFETY: we hold the block's last slot, so it is alive.
                        let next = unsafe { (*block).wait_next() };
                        let mut next_index = (new_head & !MARK_BIT).wrapping_add(1 << SHIFT);
                        // SAFETY: `next` is linked and alive (its slots are unread).
                        if !unsafe { (*next).next.load(Relaxed) }.is_null() {
                            next_index |= MARK_BIT;
                        }
                        self.head.block.store(next, Release);
                        self.head.index.store(next_index, Release);
                    }
                    // SAFETY: the CAS claimed slot `offset`; the block lives until we mark
                    // the slot READ (or destroy the block ourselves).
                    let slot = unsafe { &(*block).slots[offset] };
                    slot.wait_write();
                    // SAFETY: WRITE (acquired) says the message is initialised; we move it
                    // out exactly once.
                    let msg = slot.msg.with(|p| unsafe { p.read().assume_init() });
                    if offset + 1 == BLOCK_CAP {
                        // SAFETY: we read the last slot (rule 4).
                        unsafe { Block::destroy(block, 0) };
                    } else if slot.state.fetch_or(READ, AcqRel) & DESTROY != 0 {
                        // SAFETY: destruction was handed to us by the DESTROY mark.
                        unsafe { Block::destroy(block, offset + 1) };
                    }
                    return Ok(msg);
                }
                Err(h) => {
                    head = h;
                    block = self.head.block.load(Acquire);
                    backoff.spin();
                }
            }
        }
    }

    /// Marks the list closed; returns whether this call did it.
    pub(crate) fn close(&self) -> bool {
        self.tail.index.fetch_or(MARK_BIT, SeqCst) & MARK_BIT == 0
    }

    /// Whether the list was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.tail.index.load(SeqCst) & MARK_BIT != 0
    }

    /// Messages in the list (a snapshot).
    pub(crate) fn len(&self) -> usize {
        loop {
            let mut tail = self.tail.index.load(SeqCst);
            let mut head = self.head.index.load(SeqCst);
            if self.tail.index.load(SeqCst) == tail {
                tail &= !((1 << SHIFT) - 1);
                head &= !((1 << SHIFT) - 1);
                // Indices on a gap offset count as the next block's start.
                if (tail >> SHIFT) & (LAP - 1) == LAP - 1 {
                    tail = tail.wrapping_add(1 << SHIFT);
                }
                if (head >> SHIFT) & (LAP - 1) == LAP - 1 {
                    head = head.wrapping_add(1 << SHIFT);
                }
                // Rotate so that head falls into the first block.
                let lap = (head >> SHIFT) / LAP;
                tail = tail.wrapping_sub((lap * LAP) << SHIFT);
                head = head.wrapping_sub((lap * LAP) << SHIFT);
                tail >>= SHIFT;
                head >>= SHIFT;
                // Minus one gap offset per block boundary crossed.
                return tail - head - tail / LAP;
            }
        }
    }
}

impl<T> Drop for List<T> {
    fn drop(&mut self) {
        // `&mut self`: every push and pop has finished.
        let mut head = self.head.index.load(Relaxed) & !((1 << SHIFT) - 1);
        let tail = self.tail.index.load(Relaxed) & !((1 << SHIFT) - 1);
        let mut block = self.head.block.load(Relaxed);
        while head != tail {
            let offset = (head >> SHIFT) % LAP;
            if offset < BLOCK_CAP {
                // SAFETY: slots between head and tail are written and unread; the block
                // is alive (blocks before head were freed, this one was not).
                unsafe {
                    (*block).slots[offset]
                        .msg
                        .with_mut(|p| (*p).assume_init_drop());
                }
            } else {
                // SAFETY: the block is alive; we read its link, then free it.
                let next = unsafe { (*block).next.load(Relaxed) };
                // SAFETY: all of this block's messages were dropped or read.
                drop(unsafe { Box::from_raw(block) });
                block = next;
            }
            head = head.wrapping_add(1 << SHIFT);
        }
        if !block.is_null() {
            // SAFETY: the last block, no longer referenced.
            drop(unsafe { Box::from_raw(block) });
        }
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;

    #[test]
    fn many_blocks_in_order() {
        let list = List::new();
        assert_eq!(list.pop(), Err(PopError::Empty));
        for i in 0..200 {
            assert!(list.push(i).is_ok());
        }
        assert_eq!(list.len(), 200);
        for i in 0..150 {
            assert_eq!(list.pop(), Ok(i));
        }
        assert_eq!(list.len(), 50);
        assert!(list.close());
        assert!(matches!(list.push(1), Err(PushError::Closed(1))));
        for i in 150..200 {
            assert_eq!(list.pop(), Ok(i));
        }
        assert_eq!(list.pop(), Err(PopError::Closed));
    }

    #[test]
    fn drop_frees_unread_messages() {
        let counter = std::sync::Arc::new(());
        let list = List::new();
        for _ in 0..70 {
            assert!(list.push(counter.clone()).is_ok());
        }
        for _ in 0..33 {
            drop(list.pop());
        }
        drop(list);
        assert_eq!(std::sync::Arc::strong_count(&counter), 1);
    }

    #[test]
    fn concurrent_push_pop() {
        let list = std::sync::Arc::new(List::new());
        let per = if cfg!(miri) { 200 } else { 5000u64 };
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let list = list.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        assert!(list.push(p * 1_000_000 + i).is_ok());
                    }
                })
            })
            .collect();
        let mut last = [None::<u64>; 2];
        let mut got = 0;
        while got < 2 * per {
            if let Ok(v) = list.pop() {
                let p = (v / 1_000_000) as usize;
                assert!(last[p].is_none_or(|l| l < v));
                last[p] = Some(v);
                got += 1;
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(list.pop(), Err(PopError::Empty));
    }
}
