//! The bounded flavour: Dmitry Vyukov's bounded MPMC queue, an array ring of
//! sequence-stamped slots, in the form crossbeam-channel's `flavors/array.rs` gives it
//! (laps packed into the indices, a mark bit on the tail for "closed").
//!
//! Layout and protocol:
//!
//! 1. `head` and `tail` are `lap | mark | index` words: the bits below `mark_bit` (the next
//!    power of two above `cap`) hold the slot index, the bits from `one_lap = 2 * mark_bit`
//!    up count laps, and `mark_bit` itself, set only on `tail`, marks the ring closed.
//! 2. Each slot's `stamp` says who may touch it next: `stamp == tail` means empty and
//!    writable at that lap; `stamp == head + 1` means full and readable at that lap.
//! 3. A sender claims a slot by CAS-ing `tail` forward, writes the message, then stores
//!    `stamp = tail + 1` (release): the message is published. A receiver claims by CAS-ing
//!    `head` forward, reads, then stores `stamp = head + one_lap` (release): the slot is
//!    free for the next lap. Claiming is the only contended step; nothing is allocated per
//!    message.
//! 4. A slot claimed but not yet stamped is in flight; whoever reaches it spins
//!    ([`Backoff`]) until its owner finishes — a few instructions away.
//! 5. So the claim, not the stamp, is what the other side's "is it full / empty?" check
//!    sees first: [`push_with`](Array::push_with) and [`pop_with`](Array::pop_with) run
//!    their hook right after the claiming CAS, where a channel puts its waiter check.
//!    The CAS is `SeqCst`, so that check is a `SeqCst` load and needs no fence
//!    (`loom::load_after_seqcst_rmw`); after the stamp store it would need one, and the
//!    fence would wait for that store's cache miss.

use super::{PopError, PushError};
use crate::blocking::{Backoff, CachePadded};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*, fence};
use std::mem::MaybeUninit;

/// One slot of the ring.
struct Slot<T> {
    /// The slot's sequence stamp (rule 2).
    stamp: AtomicUsize,
    /// The message, initialised iff the stamp says full.
    msg: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded lock-free ring of capacity `cap`.
pub(crate) struct Array<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    buffer: Box<[Slot<T>]>,
    cap: usize,
    one_lap: usize,
    mark_bit: usize,
}

// SAFETY: messages move between threads through the ring, so `T: Send` suffices; slot
// access is serialised by the stamp protocol (rules 2–3).
unsafe impl<T: Send> Send for Array<T> {}
// SAFETY: as above: a slot's message is touched only by the thread that claimed it.
unsafe impl<T: Send> Sync for Array<T> {}

impl<T> Array<T> {
    /// A ring of `cap` slots. Panics when `cap == 0`.
    pub(crate) fn new(cap: usize) -> Self {
        assert!(cap > 0, "bounded channel capacity must be positive");
        let mark_bit = (cap + 1).next_power_of_two();
        let buffer = (0..cap)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                msg: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Self {
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
            buffer,
            cap,
            one_lap: mark_bit * 2,
            mark_bit,
        }
    }

    /// The next position after `pos` (same lap, or the start of the next lap).
    fn advance(&self, pos: usize) -> usize {
        let index = pos & (self.mark_bit - 1);
        let lap = pos & !(self.one_lap - 1);
        if index + 1 < self.cap {
            pos + 1
        } else {
            lap.wrapping_add(self.one_lap)
        }
    }

    /// Pushes `msg`, or gives it back when the ring is full or closed.
    #[cfg(all(test, not(trioxide_loom)))]
    pub(crate) fn push(&self, msg: T) -> Result<(), PushError<T>> {
        self.push_with(msg, || ())
    }

    /// Pushes `msg`, running `claimed` once the slot is claimed (rule 5), before the
    /// message is written; returns what `claimed` returned.
    pub(crate) fn push_with<R>(
        &self,
        msg: T,
        claimed: impl FnOnce() -> R,
    ) -> Result<R, PushError<T>> {
        let mut backoff = Backoff::new();
        let mut tail = self.tail.load(Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                return Err(PushError::Closed(msg));
            }
            let index = tail & (self.mark_bit - 1);
            let slot = &self.buffer[index];
            let stamp = slot.stamp.load(Acquire);
            if tail == stamp {
                // Empty at this lap: try to claim it.
                let new_tail = self.advance(tail);
                match self
                    .tail
                    .compare_exchange_weak(tail, new_tail, SeqCst, Relaxed)
                {
                    Ok(_) => {
                        let r = claimed();
                        // SAFETY: the CAS claimed this slot for this lap; it is empty
                        // (stamp == tail) and no other thread touches it until we stamp it.
                        slot.msg
                            .with_mut(|p| unsafe { p.write(MaybeUninit::new(msg)) });
                        slot.stamp.store(tail + 1, Release);
                        return Ok(r);
                    }
                    Err(t) => {
                        tail = t;
                        backoff.spin();
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // Full from the previous lap: the ring is full unless head moved.
                fence(SeqCst);
                let head = self.head.load(Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(PushError::Full(msg));
                }
                backoff.spin();
                tail = self.tail.load(Relaxed);
            } else {
                // A receiver is still reading this slot's previous message (rule 4).
                backoff.snooze();
                tail = self.tail.load(Relaxed);
            }
        }
    }

    /// Pops the oldest message; `Empty` or, once closed and drained, `Closed`.
    pub(crate) fn pop(&self) -> Result<T, PopError> {
        self.pop_with(|| ()).map(|(msg, ())| msg)
    }

    /// Pops the oldest message, running `claimed` once its slot is claimed (rule 5),
    /// before the slot is freed; returns the message and what `claimed` returned.
    pub(crate) fn pop_with<R>(&self, claimed: impl FnOnce() -> R) -> Result<(T, R), PopError> {
        let mut backoff = Backoff::new();
        let mut head = self.head.load(Relaxed);
        loop {
            let index = head & (self.mark_bit - 1);
            let slot = &self.buffer[index];
            let stamp = slot.stamp.load(Acquire);
            if head + 1 == stamp {
                // Full at this lap: try to claim it.
                let new_head = self.advance(head);
                match self
                    .head
                    .compare_exchange_weak(head, new_head, SeqCst, Relaxed)
                {
                    Ok(_) => {
                        let r = claimed();
                        // SAFETY: the CAS claimed this slot; its stamp (acquired above)
                        // says a sender initialised it, and we move the message out once.
                        let msg = slot.msg.with(|p| unsafe { p.read().assume_init() });
                        slot.stamp.store(head.wrapping_add(self.one_lap), Release);
                        return Ok((msg, r));
                    }
                    Err(h) => {
                        head = h;
                        backoff.spin();
                    }
                }
            } else if stamp == head {
                // Empty at this lap: empty unless tail moved.
                fence(SeqCst);
                let tail = self.tail.load(Relaxed);
                if tail & !self.mark_bit == head {
                    return if tail & self.mark_bit != 0 {
                        Err(PopError::Closed)
                    } else {
                        Err(PopError::Empty)
                    };
                }
                backoff.spin();
                head = self.head.load(Relaxed);
            } else {
                // A sender claimed this slot and is still writing it (rule 4).
                backoff.snooze();
                head = self.head.load(Relaxed);
            }
        }
    }

    /// Marks the ring closed; returns whether this call did it.
    pub(crate) fn close(&self) -> bool {
        self.tail.fetch_or(self.mark_bit, SeqCst) & self.mark_bit == 0
    }

    /// Whether the ring was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.tail.load(SeqCst) & self.mark_bit != 0
    }

    /// The fixed capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// Messages in the ring (a snapshot).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(SeqCst);
            let head = self.head.load(SeqCst);
            if self.tail.load(SeqCst) == tail {
                return self.distance(head, tail);
            }
        }
    }

    fn distance(&self, head: usize, tail: usize) -> usize {
        let hix = head & (self.mark_bit - 1);
        let tix = tail & (self.mark_bit - 1);
        if hix < tix {
            tix - hix
        } else if hix > tix {
            self.cap - hix + tix
        } else if tail & !self.mark_bit == head {
            0
        } else {
            self.cap
        }
    }
}

impl<T> Drop for Array<T> {
    fn drop(&mut self) {
        // `&mut self`: no other thread can touch the ring, every claim has completed.
        let head = self.head.load(Relaxed);
        let tail = self.tail.load(Relaxed);
        let hix = head & (self.mark_bit - 1);
        for i in 0..self.distance(head, tail) {
            let index = (hix + i) % self.cap;
            debug_assert!(index < self.buffer.len());
            // SAFETY: slots between head and tail hold initialised messages that nobody
            // took; each is dropped exactly once here.
            self.buffer[index]
                .msg
                .with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;

    #[test]
    fn fills_wraps_and_closes() {
        let ring = Array::new(3);
        for lap in 0..5 {
            for i in 0..3 {
                assert!(ring.push(lap * 10 + i).is_ok());
            }
            assert_eq!(ring.len(), 3);
            assert!(matches!(ring.push(99), Err(PushError::Full(99))));
            for i in 0..3 {
                assert_eq!(ring.pop(), Ok(lap * 10 + i));
            }
            assert_eq!(ring.pop(), Err(PopError::Empty));
        }
        assert!(ring.push(1).is_ok());
        assert!(ring.close());
        assert!(!ring.close());
        assert!(matches!(ring.push(2), Err(PushError::Closed(2))));
        assert_eq!(ring.pop(), Ok(1));
        assert_eq!(ring.pop(), Err(PopError::Closed));
    }

    #[test]
    fn concurrent_push_pop() {
        let ring = std::sync::Arc::new(Array::new(2));
        let per = if cfg!(miri) { 200 } else { 5000 };
        let producers: Vec<_> = (0..2u64)
            .map(|p| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        let mut v = p * 1_000_000 + i;
                        while let Err(PushError::Full(back)) = ring.push(v) {
                            v = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut last = [None::<u64>; 2];
        let mut got = 0;
        while got < 2 * per {
            match ring.pop() {
                Ok(v) => {
                    let p = (v / 1_000_000) as usize;
                    assert!(last[p].is_none_or(|l| l < v));
                    last[p] = Some(v);
                    got += 1;
                }
                Err(_) => std::thread::yield_now(),
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(ring.len(), 0);
    }

    #[test]
    fn drop_releases_unread_messages() {
        let counter = std::sync::Arc::new(());
        let ring = Array::new(4);
        for _ in 0..3 {
            assert!(ring.push(counter.clone()).is_ok());
        }
        drop(ring.pop());
        drop(ring);
        assert_eq!(std::sync::Arc::strong_count(&counter), 1);
    }
}
