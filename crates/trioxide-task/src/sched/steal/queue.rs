//! The per-worker run queue: a fixed-capacity ring with one owner and many stealers.
//!
//! The algorithm is the "steal half" ring popularised by Go's scheduler and tokio's
//! multi-thread runtime: the owner pushes at `tail` and pops at `head`; a stealer claims
//! half of the queued items with one CAS and copies them into its own ring. `head` packs
//! two indices into one `AtomicU64` — `steal` (the oldest slot a stealer may still be
//! reading) and `real` (the next slot to pop) — so the owner never reuses a slot a
//! stealer is copying (it checks room against `steal`), and only one steal runs at a time
//! (a stealer starts only when `steal == real`).
//!
//! Indices are `u32` and wrap; slot `i` lives at `buffer[i & MASK]`.

use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::mem::MaybeUninit;

/// Slots per worker queue (shrunk under loom so models stay small).
#[cfg(not(trioxide_loom))]
pub(crate) const CAPACITY: usize = 256;
#[cfg(trioxide_loom)]
pub(crate) const CAPACITY: usize = 4;
const MASK: u32 = CAPACITY as u32 - 1;
const _: () = assert!(CAPACITY.is_power_of_two() && CAPACITY >= 2);

fn pack(steal: u32, real: u32) -> u64 {
    (u64::from(steal) << 32) | u64::from(real)
}

fn unpack(head: u64) -> (u32, u32) {
    ((head >> 32) as u32, head as u32)
}

/// The shared part of a worker queue (owner and stealers both reach it).
pub(crate) struct Queue<T> {
    /// `(steal, real)` packed, see the module docs.
    head: AtomicU64,
    /// Written by the owner only.
    tail: AtomicU32,
    buffer: Box<[UnsafeCell<MaybeUninit<T>>]>,
}

// SAFETY: items move between threads through the ring (T: Send); every slot access is
// guarded by the head/tail protocol in the module docs, so no slot is read and written
// at once.
unsafe impl<T: Send> Send for Queue<T> {}
// SAFETY: as above; shared access is what the protocol is for.
unsafe impl<T: Send> Sync for Queue<T> {}

/// Where an overflowing push sends its items: the global injection queue.
pub(crate) trait Overflow<T> {
    /// Takes a batch of items the local queue had no room for.
    fn push_batch(&self, items: Vec<T>);
}

impl<T> Queue<T> {
    pub(crate) fn new() -> Self {
        let buffer = (0..CAPACITY)
            .map(|_| UnsafeCell::new(MaybeUninit::uninit()))
            .collect();
        Queue {
            head: AtomicU64::new(0),
            tail: AtomicU32::new(0),
            buffer,
        }
    }

    /// Items queued (approximate under concurrency).
    pub(crate) fn len(&self) -> usize {
        let (_, real) = unpack(self.head.load(Ordering::Acquire));
        self.tail.load(Ordering::Acquire).wrapping_sub(real) as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Owner only: reads the tail it alone writes.
    fn owner_tail(&self) -> u32 {
        self.tail.load(Ordering::Relaxed)
    }

    /// # Safety
    /// The caller owns slot `index` (per the protocol) and it is initialised.
    unsafe fn read_slot(&self, index: u32) -> T {
        self.buffer[(index & MASK) as usize].with(|p| {
            // SAFETY: forwarded contract.
            unsafe { (*p).assume_init_read() }
        })
    }

    /// # Safety
    /// The caller owns slot `index` (per the protocol) and it holds no live item.
    unsafe fn write_slot(&self, index: u32, value: T) {
        self.buffer[(index & MASK) as usize].with_mut(|p| {
            // SAFETY: forwarded contract.
            unsafe { (*p).write(value) };
        })
    }

    /// Owner only: pushes at the tail; when full, moves half the queue plus `value` to
    /// `overflow` in one batch (or just `value` while a steal is in progress).
    ///
    /// # Safety
    /// Only the owning worker thread may call it.
    pub(crate) unsafe fn push_back(&self, mut value: T, overflow: &dyn Overflow<T>) {
        loop {
            let (steal, real) = unpack(self.head.load(Ordering::Acquire));
            let tail = self.owner_tail();
            if tail.wrapping_sub(steal) < CAPACITY as u32 {
                // SAFETY: slots in [steal, tail) are in use; `tail` is free and only the
                // owner writes it.
                unsafe { self.write_slot(tail, value) };
                self.tail.store(tail.wrapping_add(1), Ordering::Release);
                return;
            }
            if steal != real {
                // A stealer is emptying the queue right now; don't wait for it.
                overflow.push_batch(vec![value]);
                return;
            }
            // SAFETY: we are the owner (forwarded contract).
            match unsafe { self.push_overflow(value, real, tail, overflow) } {
                Ok(()) => return,
                Err(v) => value = v, // a stealer raced us; there may be room now
            }
        }
    }

    /// Moves the older half of a full queue (and `value`) to `overflow`.
    ///
    /// # Safety
    /// Owner only, with the queue full and no steal in progress at `head == (real, real)`.
    unsafe fn push_overflow(
        &self,
        value: T,
        real: u32,
        tail: u32,
        overflow: &dyn Overflow<T>,
    ) -> Result<(), T> {
        const HALF: u32 = (CAPACITY / 2) as u32;
        debug_assert_eq!(tail.wrapping_sub(real), CAPACITY as u32);
        let prev = pack(real, real);
        let next = pack(real.wrapping_add(HALF), real.wrapping_add(HALF));
        if self
            .head
            .compare_exchange(prev, next, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            return Err(value);
        }
        let mut batch = Vec::with_capacity(HALF as usize + 1);
        for i in 0..HALF {
            // SAFETY: the CAS moved head past these slots, so no stealer or pop can claim
            // them; they were initialised by earlier pushes.
            batch.push(unsafe { self.read_slot(real.wrapping_add(i)) });
        }
        batch.push(value);
        overflow.push_batch(batch);
        Ok(())
    }

    /// Owner only: pops the oldest item.
    ///
    /// # Safety
    /// Only the owning worker thread may call it.
    pub(crate) unsafe fn pop(&self) -> Option<T> {
        let mut head = self.head.load(Ordering::Acquire);
        let index = loop {
            let (steal, real) = unpack(head);
            if real == self.owner_tail() {
                return None;
            }
            let next_real = real.wrapping_add(1);
            // While a steal is in progress only `real` moves.
            let next = if steal == real {
                pack(next_real, next_real)
            } else {
                pack(steal, next_real)
            };
            match self
                .head
                .compare_exchange_weak(head, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break real,
                Err(actual) => head = actual,
            }
        };
        // SAFETY: the CAS claimed slot `index` for us alone.
        Some(unsafe { self.read_slot(index) })
    }

    /// Steals half of `self`'s items into `dst` (the calling worker's own queue) and
    /// returns one of them to run now.
    ///
    /// # Safety
    /// Only `dst`'s owner may call it, and `dst` must not be `self`.
    pub(crate) unsafe fn steal_into(&self, dst: &Queue<T>) -> Option<T> {
        let dst_tail = dst.owner_tail();
        let (dst_steal, _) = unpack(dst.head.load(Ordering::Acquire));
        if dst_tail.wrapping_sub(dst_steal) > (CAPACITY / 2) as u32 {
            return None; // our own queue is busy enough; don't steal
        }
        // SAFETY: forwarded contract: we own `dst`, whose free slots start at `dst_tail`.
        let n = unsafe { self.steal_half_into(dst, dst_tail) };
        if n == 0 {
            return None;
        }
        let last = dst_tail.wrapping_add(n - 1);
        // SAFETY: we just wrote slot `last` of our own queue and have not published it.
        let ret = unsafe { dst.read_slot(last) };
        if n > 1 {
            dst.tail.store(last, Ordering::Release);
        }
        Some(ret)
    }

    /// Claims up to half of the items, copies them to `dst` from `dst_tail`, and returns
    /// how many were copied (unpublished: the caller moves `dst`'s tail).
    ///
    /// # Safety
    /// As `steal_into`.
    unsafe fn steal_half_into(&self, dst: &Queue<T>, dst_tail: u32) -> u32 {
        let mut prev = self.head.load(Ordering::Acquire);
        let (first, n) = loop {
            let (steal, real) = unpack(prev);
            if steal != real {
                return 0; // another stealer is at work
            }
            let tail = self.tail.load(Ordering::Acquire);
            let available = tail.wrapping_sub(real);
            let n = available - available / 2;
            if n == 0 {
                return 0;
            }
            let next = pack(steal, real.wrapping_add(n));
            match self
                .head
                .compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break (real, n),
                Err(actual) => prev = actual,
            }
        };
        debug_assert!(n as usize <= CAPACITY / 2 + 1);
        for i in 0..n {
            // SAFETY: slots [first, first + n) are claimed by us (steal < real): the owner
            // neither pops nor overwrites them until we move `steal` below; the dst slots
            // are free and owned by the caller.
            unsafe {
                let item = self.read_slot(first.wrapping_add(i));
                dst.write_slot(dst_tail.wrapping_add(i), item);
            }
        }
        // Done copying: let `steal` catch up with `real`.
        let mut prev = self.head.load(Ordering::Acquire);
        loop {
            let (_, real) = unpack(prev);
            match self.head.compare_exchange_weak(
                prev,
                pack(real, real),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return n,
                Err(actual) => prev = actual,
            }
        }
    }
}

impl<T> Drop for Queue<T> {
    fn drop(&mut self) {
        // `&mut self`: plain loads suffice, no other thread can reach the queue.
        let (_, real) = unpack(self.head.load(Ordering::Relaxed));
        let tail = self.tail.load(Ordering::Relaxed);
        let mut i = real;
        while i != tail {
            // SAFETY: [real, tail) are initialised and unclaimed, and nobody else can
            // reach the queue.
            drop(unsafe { self.read_slot(i) });
            i = i.wrapping_add(1);
        }
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::RefCell;
    use std::collections::VecDeque;

    /// Collects overflow batches, like the injection queue would.
    struct Spill(RefCell<Vec<u32>>);
    impl Overflow<u32> for Spill {
        fn push_batch(&self, items: Vec<u32>) {
            self.0.borrow_mut().extend(items);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push,
        Pop,
        Steal,
    }

    proptest! {
        /// Owner push/pop plus steals against a VecDeque model: every item comes out
        /// exactly once, pops in FIFO order, overflow moves the oldest items.
        #[test]
        fn behaves_like_a_deque(ops in proptest::collection::vec(
            prop_oneof![4 => Just(Op::Push), 2 => Just(Op::Pop), 1 => Just(Op::Steal)], 0..2000)
        ) {
            let q = Queue::new();
            let thief = Queue::new();
            let spill = Spill(RefCell::new(Vec::new()));
            let mut model: VecDeque<u32> = VecDeque::new();
            let mut next = 0u32;
            let mut seen = Vec::new();
            for op in ops {
                match op {
                    Op::Push => {
                        // SAFETY: single-threaded test: we are the owner.
                        unsafe { q.push_back(next, &spill) };
                        model.push_back(next);
                        next += 1;
                        for moved in spill.0.borrow_mut().drain(..) {
                            prop_assert_eq!(model.pop_front(), Some(moved), "overflow takes the oldest");
                            seen.push(moved);
                        }
                    }
                    Op::Pop => {
                        // SAFETY: as above.
                        let got = unsafe { q.pop() };
                        prop_assert_eq!(got, model.pop_front());
                        seen.extend(got);
                    }
                    Op::Steal => {
                        let before = model.len();
                        // SAFETY: the thief queue is owned by this thread too.
                        let got = unsafe { q.steal_into(&thief) };
                        if let Some(first) = got {
                            let taken = before - before / 2;
                            let stolen: Vec<u32> = model.drain(..taken).collect();
                            prop_assert_eq!(*stolen.last().unwrap(), first);
                            seen.push(first);
                            // SAFETY: as above.
                            while let Some(v) = unsafe { thief.pop() } {
                                seen.push(v);
                            }
                            prop_assert_eq!(seen.len() >= stolen.len(), true);
                        } else {
                            prop_assert_eq!(before, 0);
                        }
                    }
                }
                prop_assert_eq!(q.len(), model.len());
            }
            seen.extend(model.iter().copied());
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..next).collect::<Vec<_>>(), "every item exactly once");
        }
    }
}

#[cfg(all(test, trioxide_loom))]
mod loom_tests {
    use super::*;
    use crate::loom::sync::{Arc, Mutex};
    use crate::loom::thread;

    struct Spill(Mutex<Vec<u32>>);
    impl Overflow<u32> for Spill {
        fn push_batch(&self, items: Vec<u32>) {
            self.0.lock().unwrap().extend(items);
        }
    }

    fn drain_all(q: &Queue<u32>, out: &mut Vec<u32>) {
        // SAFETY: called by the queue's owner thread.
        while let Some(v) = unsafe { q.pop() } {
            out.push(v);
        }
    }

    fn check_exactly_once(mut all: Vec<u32>, n: u32) {
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    #[test]
    fn loom_owner_push_pop_races_one_stealer() {
        loom::model(|| {
            let q = Arc::new(Queue::new());
            let spill = Arc::new(Spill(Mutex::new(Vec::new())));
            let q2 = q.clone();
            let thief = thread::spawn(move || {
                let mine = Queue::new();
                let mut got = Vec::new();
                // SAFETY: `mine` is owned by this thread.
                if let Some(v) = unsafe { q2.steal_into(&mine) } {
                    got.push(v);
                }
                drain_all(&mine, &mut got);
                got
            });
            let mut got = Vec::new();
            for i in 0..3 {
                // SAFETY: this thread owns `q`.
                unsafe { q.push_back(i, &*spill) };
            }
            // SAFETY: as above.
            got.extend(unsafe { q.pop() });
            got.extend(thief.join().unwrap());
            drain_all(&q, &mut got);
            got.extend(spill.0.lock().unwrap().drain(..));
            check_exactly_once(got, 3);
        });
    }

    #[test]
    fn loom_two_stealers_and_overflow() {
        loom::model(|| {
            let q = Arc::new(Queue::new());
            let spill = Arc::new(Spill(Mutex::new(Vec::new())));
            let thieves: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    thread::spawn(move || {
                        let mine = Queue::new();
                        let mut got = Vec::new();
                        // SAFETY: `mine` is owned by this thread.
                        got.extend(unsafe { q.steal_into(&mine) });
                        drain_all(&mine, &mut got);
                        got
                    })
                })
                .collect();
            // One more than the (loom) capacity: forces an overflow or a
            // steal-in-progress spill.
            let n = CAPACITY as u32 + 1;
            for i in 0..n {
                // SAFETY: this thread owns `q`.
                unsafe { q.push_back(i, &*spill) };
            }
            let mut got = Vec::new();
            for t in thieves {
                got.extend(t.join().unwrap());
            }
            drain_all(&q, &mut got);
            got.extend(spill.0.lock().unwrap().drain(..));
            check_exactly_once(got, n);
        });
    }
}
