//! One level of the hierarchical timing wheel (Varghese & Lauck, "Hashed and Hierarchical
//! Timing Wheels", SOSP 1987; the 64-slot, bitmap-indexed layout follows tokio's
//! `runtime/time/wheel/level.rs`).
//!
//! Level `i` has [`SLOTS`] slots, each spanning `64^i` ticks, so the whole level spans
//! `64^(i+1)` ticks. Each slot is the head of an intrusive list in the
//! [`Slab`](super::slab::Slab); a `u64` bitmap records which slots are non-empty, so the
//! next occupied slot after the current one is one `rotate_right` plus one
//! `trailing_zeros`.
//!
//! The top level also holds the deadlines beyond the wheel's range, clamped into the slot
//! their bits name, so one of its slots may hold entries from many future rotations. Each
//! slot therefore keeps a lower bound on its entries' deadlines, and the top level's next
//! slot is the one whose bound's slot instance starts first: an entry years away costs one
//! cascade when its own slot instance comes, not one per 2^36-tick rotation on the way.

use super::slab::{NIL, Slab};

/// log2 of the number of slots per level.
pub(super) const LEVEL_BITS: u32 = 6;

/// Slots per level: one per bit of the occupancy bitmap.
pub(super) const SLOTS: usize = 1 << LEVEL_BITS;

/// Mask selecting a slot number from a shifted deadline.
pub(super) const SLOT_MASK: u64 = (SLOTS as u64) - 1;

/// Number of levels; together they span `64^6 = 2^36` ticks (about 795 days of ms).
pub(super) const NUM_LEVELS: usize = 6;

/// One level: its position in the hierarchy, occupancy bitmap and slot list heads.
#[derive(Debug)]
pub(super) struct Level {
    /// `LEVEL_BITS * index`: a deadline shifted right by this gives its slot count.
    shift: u32,
    /// Bit `s` is set exactly when `heads[s] != NIL`.
    occupied: u64,
    /// Head of each slot's list of slab indices.
    heads: [u32; SLOTS],
    /// For each occupied slot, a deadline no later than any of its entries' (the minimum
    /// pushed since the slot was last empty); `u64::MAX` for empty slots.
    min_when: [u64; SLOTS],
}

impl Level {
    /// The empty level number `index` (`0..NUM_LEVELS`).
    pub(super) fn new(index: usize) -> Self {
        debug_assert!(index < NUM_LEVELS);
        // `index < NUM_LEVELS`, so the shift is at most 30 and fits.
        let shift = LEVEL_BITS * index as u32;
        Self {
            shift,
            occupied: 0,
            heads: [NIL; SLOTS],
            min_when: [u64::MAX; SLOTS],
        }
    }

    /// Ticks spanned by one slot: `64^index`.
    fn slot_range(&self) -> u64 {
        1 << self.shift
    }

    /// Ticks spanned by the whole level: `64^(index + 1)`.
    fn level_range(&self) -> u64 {
        1 << (self.shift + LEVEL_BITS)
    }

    /// The slot of this level that tick `when` falls in.
    pub(super) fn slot_of(&self, when: u64) -> usize {
        // Masked to 6 bits, so the cast is lossless.
        ((when >> self.shift) & SLOT_MASK) as usize
    }

    /// Whether this is the top level, which also holds clamped far-future deadlines.
    fn is_top(&self) -> bool {
        self.shift == LEVEL_BITS * (NUM_LEVELS as u32 - 1)
    }

    /// Links slab entry `index`, due at `when`, into `slot`.
    pub(super) fn push<T>(&mut self, slot: usize, index: u32, when: u64, slab: &mut Slab<T>) {
        slab.push_front(&mut self.heads[slot], index);
        self.occupied |= 1 << slot;
        self.min_when[slot] = self.min_when[slot].min(when);
    }

    /// Unlinks slab entry `index` from `slot`, which must contain it.
    pub(super) fn unlink<T>(&mut self, slot: usize, index: u32, slab: &mut Slab<T>) {
        slab.unlink(&mut self.heads[slot], index);
        if self.heads[slot] == NIL {
            self.occupied &= !(1 << slot);
            self.min_when[slot] = u64::MAX;
        }
    }

    /// Empties `slot` and returns the head of its former list (`NIL` if it was empty).
    pub(super) fn take(&mut self, slot: usize) -> u32 {
        self.occupied &= !(1 << slot);
        self.min_when[slot] = u64::MAX;
        std::mem::replace(&mut self.heads[slot], NIL)
    }

    /// The occupied slot that starts first after `elapsed`, and the tick at which it
    /// starts, or `None` if the level is empty.
    ///
    /// Below the top level every entry's deadline agrees with `elapsed` above this level's
    /// bits, so the answer is the first occupied slot strictly after `elapsed`'s slot,
    /// starting at the level's block containing `elapsed` plus the slot's offset.
    pub(super) fn next_occupied(&self, elapsed: u64) -> Option<(usize, u64)> {
        if self.occupied == 0 {
            return None;
        }
        if self.is_top() {
            return Some(self.next_top(elapsed));
        }
        let now_slot = self.slot_of(elapsed);
        let first = (now_slot + 1) % SLOTS;
        // `first < SLOTS` and `trailing_zeros` of a non-zero word is `< 64`: lossless.
        let distance = self.occupied.rotate_right(first as u32).trailing_zeros() as usize;
        let slot = (first + distance) % SLOTS;
        let level_start = elapsed & !(self.level_range() - 1);
        let start = level_start + slot as u64 * self.slot_range();
        debug_assert!(
            slot > now_slot,
            "slot {slot} wrapped past {now_slot} below the top"
        );
        debug_assert!(
            start > elapsed,
            "slot start {start} not after elapsed {elapsed}"
        );
        Some((slot, start))
    }

    /// [`next_occupied`](Self::next_occupied) for the (non-empty) top level.
    ///
    /// A slot's entries may lie in different rotations, so its start is that of the slot
    /// instance holding its deadline lower bound: the bound is some entry's deadline,
    /// pushed into this slot, so its instance starts after `elapsed` and no later than
    /// any entry of the slot. Scans the occupied slots (at most [`SLOTS`]).
    fn next_top(&self, elapsed: u64) -> (usize, u64) {
        let mut best = (SLOTS, u64::MAX);
        let mut bits = self.occupied;
        while bits != 0 {
            // A set bit's index is below 64: lossless.
            let slot = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let start = self.min_when[slot] & !(self.slot_range() - 1);
            debug_assert!(
                start > elapsed,
                "slot start {start} not after elapsed {elapsed}"
            );
            if start <= best.1 {
                best = (slot, start);
            }
        }
        best
    }
}
