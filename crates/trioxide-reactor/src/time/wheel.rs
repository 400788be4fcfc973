//! A hierarchical timing wheel (Varghese & Lauck, "Hashed and Hierarchical Timing Wheels",
//! SOSP 1987), laid out as tokio's `runtime/time/wheel`: six levels of 64 slots, level `i`'s
//! slots each spanning `64^i` ticks, so the wheel covers `64^6 = 2^36` ticks.
//!
//! # Placement
//!
//! An entry due at `when` goes to the level of the highest bit in which `when` differs from
//! [`elapsed`](TimerWheel::elapsed), divided by 6, in slot `(when >> 6 * level) & 63`. Its
//! slot therefore starts after `elapsed` and no later than `when`; at level 0 it starts
//! exactly at `when`. Deadlines that differ from `elapsed` above bit 35 (beyond the wheel's
//! range) are clamped into the top level, in the slot their bits name. Each top-level slot
//! keeps a lower bound on its deadlines, so it comes due in the rotation of its earliest
//! entry (not every 2^36 ticks), where its entries are re-cascaded; far-future entries
//! sharing a slot but lying in different rotations are moved once per such rotation.
//!
//! # Advancing
//!
//! [`advance`](TimerWheel::advance) repeatedly finds the earliest-starting occupied slot
//! (per level: one `rotate_right` + `trailing_zeros` of the occupancy bitmap), jumps
//! `elapsed` to its start, and moves its whole list to the *pending* list. Each pending
//! entry then either fires (its deadline is `elapsed`) or is re-inserted relative to the new
//! `elapsed` (a cascade to a lower level). Slots are processed in start order and a slot's
//! entries are never due before it starts, so entries fire in non-decreasing deadline order
//! and never early, and a long gap costs one step per occupied slot, not one per tick.
//!
//! # Storage
//!
//! Entries live in a generational slab (`wheel/slab.rs`) and every slot is an intrusive doubly-linked list
//! through slab indices, so `insert` and `remove` are O(1) and allocation-free once the slab
//! has grown. A [`TimerKey`] is `(index, generation)`: keys of fired or removed entries are
//! stale and never touch an entry that reuses the index.
//!
//! # Panics in `fire`
//!
//! `fire` is called with the entry already out of the wheel, and the entries of the slot
//! being processed stay on the pending list until each is handled, so a panicking `fire`
//! leaves the wheel consistent: the remaining pending entries can still be removed, and
//! the next `advance` handles them first.

#![forbid(unsafe_code)]

mod level;
mod slab;

use std::fmt;

use level::{LEVEL_BITS, Level, NUM_LEVELS, SLOT_MASK};
use slab::{Location, NIL, Slab};

/// A handle to an entry of a [`TimerWheel`]: a slab index plus the generation the entry
/// had when inserted, so a key outliving its entry never reaches a later entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: u32,
    generation: u32,
}

/// A hierarchical timer wheel mapping deadlines (`u64` ticks) to values of type `T`.
///
/// See the [module docs](self) for the algorithm. Deadlines are absolute ticks; the wheel
/// starts at tick 0 and only moves forward, through [`advance`](Self::advance).
pub struct TimerWheel<T> {
    /// `levels[i]` holds the entries whose deadline first differs from `elapsed` in bit
    /// group `i` (clamped to the top level).
    levels: [Level; NUM_LEVELS],
    /// Every entry, linked into exactly one slot list or the pending list.
    slab: Slab<T>,
    /// Head of the pending list: entries of an expired slot not yet fired or cascaded.
    /// Empty between calls unless a `fire` callback panicked.
    pending: u32,
    /// The tick the wheel has advanced to.
    elapsed: u64,
}

/// The earliest-starting occupied slot.
#[derive(Clone, Copy, Debug)]
struct Expiration {
    level: usize,
    slot: usize,
    /// The tick at which the slot starts.
    deadline: u64,
}

impl<T> TimerWheel<T> {
    /// An empty wheel at tick 0. Allocates nothing until the first insert.
    pub fn new() -> Self {
        Self {
            levels: std::array::from_fn(Level::new),
            slab: Slab::new(),
            pending: NIL,
            elapsed: 0,
        }
    }

    /// The tick the wheel has advanced to.
    pub fn elapsed(&self) -> u64 {
        self.elapsed
    }

    /// Number of entries in the wheel (inserted, and neither fired nor removed).
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether the wheel holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts `value` to fire at tick `when`.
    ///
    /// Returns `Err(value)` if `when <= elapsed()`: the deadline has already passed and
    /// the caller should treat the timer as fired.
    ///
    /// # Panics
    ///
    /// If the wheel already holds `u32::MAX` entries.
    pub fn insert(&mut self, when: u64, value: T) -> Result<TimerKey, T> {
        if when <= self.elapsed {
            return Err(value);
        }
        let (index, generation) = self.slab.insert(when, value);
        self.link(index);
        Ok(TimerKey { index, generation })
    }

    /// Removes the entry for `key` and returns its value, in O(1); `None` if the key is
    /// stale (the entry already fired or was removed).
    pub fn remove(&mut self, key: TimerKey) -> Option<T> {
        self.slab.get(key.index, key.generation)?;
        self.unlink(key.index);
        Some(self.slab.remove(key.index).1.value)
    }

    /// The value of the entry for `key`, or `None` if the key is stale.
    pub fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        self.slab
            .get_mut(key.index, key.generation)
            .map(|node| &mut node.value)
    }

    /// The deadline of the entry for `key`, or `None` if the key is stale.
    pub fn deadline(&self, key: TimerKey) -> Option<u64> {
        self.slab
            .get(key.index, key.generation)
            .map(|node| node.when)
    }

    /// The earliest tick at which some entry may fire, or `None` if the wheel is empty.
    ///
    /// Always greater than `elapsed()` (unless a `fire` callback panicked, leaving entries
    /// that are due now) and never later than the earliest deadline. It is exact when the
    /// earliest entry sits in level 0, i.e. is due within the current 64-tick block;
    /// otherwise it is the start of the slot holding it, where `advance` will cascade it.
    pub fn next_expiration(&self) -> Option<u64> {
        if self.pending != NIL {
            return Some(self.elapsed);
        }
        self.next_slot().map(|expiration| expiration.deadline)
    }

    /// Advances the wheel to tick `now` and calls `fire(key, value)` for every entry due at
    /// or before `now`, in non-decreasing deadline order. Entries never fire before their
    /// deadline. Does nothing if `now <= elapsed()` (beyond finishing any entries a
    /// panicking `fire` left pending).
    ///
    /// The cost is proportional to the number of occupied slots passed and entries moved,
    /// not to `now - elapsed()`.
    pub fn advance(&mut self, now: u64, mut fire: impl FnMut(TimerKey, T)) {
        self.drain_pending(&mut fire);
        while let Some(expiration) = self.next_slot() {
            if expiration.deadline > now {
                break;
            }
            self.elapsed = expiration.deadline;
            let head = self.levels[expiration.level].take(expiration.slot);
            self.slab.relocate_list(head, Location::Pending);
            debug_assert_eq!(self.pending, NIL, "pending list not drained");
            self.pending = head;
            self.drain_pending(&mut fire);
        }
        self.elapsed = self.elapsed.max(now);
    }

    /// Fires every pending entry that is due at `elapsed` and re-inserts the rest.
    fn drain_pending(&mut self, fire: &mut impl FnMut(TimerKey, T)) {
        while let Some(index) = self.slab.pop_front(&mut self.pending) {
            if self.slab.node(index).when <= self.elapsed {
                let (generation, node) = self.slab.remove(index);
                fire(TimerKey { index, generation }, node.value);
            } else {
                self.link(index);
            }
        }
    }

    /// The earliest-starting occupied slot over all levels.
    ///
    /// A level-`i` slot starts inside `elapsed`'s current level-`i + 1` slot, while every
    /// occupied slot of a higher level starts at or after that slot's end, so the lowest
    /// occupied level holds the earliest slot.
    fn next_slot(&self) -> Option<Expiration> {
        self.levels.iter().enumerate().find_map(|(level, slots)| {
            let (slot, deadline) = slots.next_occupied(self.elapsed)?;
            Some(Expiration {
                level,
                slot,
                deadline,
            })
        })
    }

    /// Links the (unlinked) entry `index` into the slot its deadline maps to from
    /// `elapsed`.
    fn link(&mut self, index: u32) {
        let when = self.slab.node(index).when;
        debug_assert!(when > self.elapsed, "linking an entry that is already due");
        let level = level_for(self.elapsed, when);
        let slot = self.levels[level].slot_of(when);
        self.slab.node_mut(index).location = Location::Slot {
            // `level < NUM_LEVELS` and `slot < SLOTS`: both fit in a byte.
            level: level as u8,
            slot: slot as u8,
        };
        self.levels[level].push(slot, index, when, &mut self.slab);
    }

    /// Unlinks entry `index` from whichever list holds it.
    fn unlink(&mut self, index: u32) {
        match self.slab.node(index).location {
            Location::Slot { level, slot } => {
                self.levels[usize::from(level)].unlink(usize::from(slot), index, &mut self.slab);
            }
            Location::Pending => self.slab.unlink(&mut self.pending, index),
        }
    }
}

/// The level for a deadline `when` seen from tick `elapsed`: the index of the highest
/// 6-bit group in which they differ, clamped to the top level.
fn level_for(elapsed: u64, when: u64) -> usize {
    // OR-ing in the slot mask makes a difference confined to bits 0..6 land on level 0.
    let masked = (elapsed ^ when) | SLOT_MASK;
    let significant = u64::BITS - 1 - masked.leading_zeros();
    // `significant / LEVEL_BITS <= 10`: lossless.
    ((significant / LEVEL_BITS) as usize).min(NUM_LEVELS - 1)
}

impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("elapsed", &self.elapsed)
            .field("len", &self.len())
            .field("next_expiration", &self.next_expiration())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use proptest::prelude::*;

    use super::*;

    /// Ticks covered by the whole wheel: `64^6`.
    const WHEEL_RANGE: u64 = 1 << (LEVEL_BITS as usize * NUM_LEVELS);

    /// Advances to `now`, returning `(key, value)` in firing order.
    fn fired<T>(wheel: &mut TimerWheel<T>, now: u64) -> Vec<(TimerKey, T)> {
        let mut out = Vec::new();
        wheel.advance(now, |key, value| out.push((key, value)));
        out
    }

    fn values<T>(fired: Vec<(TimerKey, T)>) -> Vec<T> {
        fired.into_iter().map(|(_, value)| value).collect()
    }

    /// splitmix64: a tiny deterministic generator for the bulk test.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }
    }

    #[test]
    fn new_wheel_is_empty_at_zero() {
        let wheel = TimerWheel::<()>::new();
        assert_eq!(wheel.elapsed(), 0);
        assert_eq!(wheel.len(), 0);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_expiration(), None);
        let wheel = TimerWheel::<()>::default();
        assert_eq!(wheel.elapsed(), 0);
        assert!(format!("{wheel:?}").contains("elapsed: 0"));
    }

    #[test]
    fn insert_at_or_before_elapsed_is_rejected() {
        let mut wheel = TimerWheel::new();
        assert_eq!(wheel.insert(0, 'a'), Err('a'));
        wheel.advance(10, |_, _: char| unreachable!());
        assert_eq!(wheel.insert(10, 'b'), Err('b'));
        assert_eq!(wheel.insert(3, 'c'), Err('c'));
        assert!(wheel.is_empty());
        assert!(wheel.insert(11, 'd').is_ok());
        assert_eq!(wheel.len(), 1);
    }

    #[test]
    fn next_tick_fires_exactly_then() {
        let mut wheel = TimerWheel::new();
        let key = wheel.insert(1, "one").unwrap();
        assert_eq!(wheel.next_expiration(), Some(1));
        assert_eq!(wheel.deadline(key), Some(1));
        assert!(fired(&mut wheel, 0).is_empty());
        assert_eq!(fired(&mut wheel, 1), vec![(key, "one")]);
        assert_eq!(wheel.elapsed(), 1);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_expiration(), None);
    }

    #[test]
    fn never_fires_early_and_elapsed_tracks_now() {
        let mut wheel = TimerWheel::new();
        wheel.insert(100, ()).unwrap();
        assert!(fired(&mut wheel, 99).is_empty());
        assert_eq!(wheel.elapsed(), 99);
        assert_eq!(wheel.next_expiration(), Some(100));
        assert_eq!(fired(&mut wheel, 100).len(), 1);
        assert_eq!(wheel.elapsed(), 100);
    }

    #[test]
    fn higher_level_expiration_is_slot_start() {
        let mut wheel = TimerWheel::new();
        // 1000 = 15 * 64 + 40: level 1, slot 15, which starts at 960.
        wheel.insert(1000, ()).unwrap();
        assert_eq!(wheel.next_expiration(), Some(960));
        assert!(fired(&mut wheel, 960).is_empty());
        assert_eq!(wheel.next_expiration(), Some(1000), "cascaded to level 0");
        assert!(fired(&mut wheel, 999).is_empty());
        assert_eq!(fired(&mut wheel, 1000).len(), 1);
    }

    #[test]
    fn crossing_block_boundaries() {
        let mut wheel = TimerWheel::new();
        wheel.advance(63, |_, _: u64| unreachable!());
        wheel.insert(64, 64).unwrap();
        assert_eq!(wheel.next_expiration(), Some(64));
        assert_eq!(values(fired(&mut wheel, 64)), [64]);

        wheel.advance(WHEEL_RANGE - 1, |_, _| unreachable!());
        wheel.insert(WHEEL_RANGE, WHEEL_RANGE).unwrap();
        wheel.insert(WHEEL_RANGE + 1, WHEEL_RANGE + 1).unwrap();
        assert_eq!(wheel.next_expiration(), Some(WHEEL_RANGE));
        assert_eq!(
            values(fired(&mut wheel, u64::MAX)),
            [WHEEL_RANGE, WHEEL_RANGE + 1]
        );
    }

    #[test]
    fn far_future_deadlines_are_clamped_and_recascaded() {
        let mut wheel = TimerWheel::new();
        let far = 5 * WHEEL_RANGE + 12_345;
        let key = wheel.insert(far, "far").unwrap();
        wheel.insert(u64::MAX, "max").unwrap();
        wheel.insert(WHEEL_RANGE - 1, "edge").unwrap();
        assert!(wheel.next_expiration().unwrap() < WHEEL_RANGE);
        assert_eq!(values(fired(&mut wheel, far - 1)), ["edge"]);
        assert!(wheel.next_expiration().unwrap() <= far);
        assert_eq!(wheel.deadline(key), Some(far));
        assert_eq!(fired(&mut wheel, far), vec![(key, "far")]);
        assert!(fired(&mut wheel, u64::MAX - 1).is_empty());
        assert_eq!(values(fired(&mut wheel, u64::MAX)), ["max"]);
        assert_eq!(wheel.elapsed(), u64::MAX);
        assert_eq!(wheel.insert(u64::MAX, "late"), Err("late"));
    }

    #[test]
    fn far_future_slot_starts_in_its_own_rotation() {
        /// Ticks one top-level slot spans: `64^5`.
        const TOP_SLOT: u64 = WHEEL_RANGE / 64;
        let mut wheel = TimerWheel::new();
        // Both clamped into top-level slot 5, three and nine rotations ahead.
        let near = 3 * WHEEL_RANGE + 5 * TOP_SLOT + 7;
        let far = 9 * WHEEL_RANGE + 5 * TOP_SLOT + 1;
        wheel.insert(far, far).unwrap();
        wheel.insert(near, near).unwrap();
        assert_eq!(
            wheel.next_expiration(),
            Some(3 * WHEEL_RANGE + 5 * TOP_SLOT)
        );
        assert_eq!(values(fired(&mut wheel, near)), [near]);
        assert_eq!(
            wheel.next_expiration(),
            Some(9 * WHEEL_RANGE + 5 * TOP_SLOT)
        );
        assert_eq!(values(fired(&mut wheel, far)), [far]);

        let max = wheel.insert(u64::MAX, 0).unwrap();
        assert_eq!(wheel.next_expiration(), Some(u64::MAX - (TOP_SLOT - 1)));
        assert_eq!(fired(&mut wheel, u64::MAX), vec![(max, 0)]);
    }

    #[test]
    fn fires_in_deadline_order_across_levels() {
        let mut wheel = TimerWheel::new();
        let deadlines = [1 << 30, 5, 64, 63, 4096, 5, 1 << 20, 70, 4095, 1 << 36, 1];
        for when in deadlines {
            wheel.insert(when, when).unwrap();
        }
        let mut expected = deadlines.to_vec();
        expected.sort_unstable();
        assert_eq!(values(fired(&mut wheel, u64::MAX)), expected);
    }

    #[test]
    fn remove_returns_value_and_prevents_firing() {
        let mut wheel = TimerWheel::new();
        let a = wheel.insert(10, 'a').unwrap();
        let b = wheel.insert(10, 'b').unwrap();
        let c = wheel.insert(5000, 'c').unwrap();
        assert_eq!(wheel.remove(b), Some('b'));
        assert_eq!(wheel.remove(b), None);
        assert_eq!(wheel.remove(c), Some('c'));
        assert_eq!(wheel.len(), 1);
        assert_eq!(wheel.next_expiration(), Some(10));
        assert_eq!(fired(&mut wheel, 10_000), vec![(a, 'a')]);
    }

    #[test]
    fn fired_keys_are_stale() {
        let mut wheel = TimerWheel::new();
        let key = wheel.insert(3, 7).unwrap();
        assert_eq!(fired(&mut wheel, 3), vec![(key, 7)]);
        assert_eq!(wheel.remove(key), None);
        assert_eq!(wheel.get_mut(key), None);
        assert_eq!(wheel.deadline(key), None);
    }

    #[test]
    fn stale_key_never_touches_reused_entry() {
        let mut wheel = TimerWheel::new();
        let old = wheel.insert(10, "old").unwrap();
        assert_eq!(wheel.remove(old), Some("old"));
        let new = wheel.insert(20, "new").unwrap();
        assert_eq!(old.index, new.index, "the slab reuses the vacated index");
        assert_ne!(old, new);
        assert_eq!(wheel.remove(old), None);
        assert_eq!(wheel.get_mut(old), None);
        assert_eq!(wheel.deadline(old), None);
        assert_eq!(wheel.deadline(new), Some(20));
        assert_eq!(fired(&mut wheel, 20), vec![(new, "new")]);
    }

    #[test]
    fn get_mut_and_deadline() {
        let mut wheel = TimerWheel::new();
        let key = wheel.insert(42, 1).unwrap();
        *wheel.get_mut(key).unwrap() += 1;
        assert_eq!(wheel.deadline(key), Some(42));
        assert_eq!(values(fired(&mut wheel, 42)), [2]);
    }

    #[test]
    fn advance_backwards_is_a_no_op() {
        let mut wheel = TimerWheel::new();
        wheel.advance(100, |_, _: ()| unreachable!());
        wheel.insert(150, ()).unwrap();
        wheel.advance(50, |_, _| unreachable!());
        wheel.advance(100, |_, _| unreachable!());
        assert_eq!(wheel.elapsed(), 100);
        assert_eq!(wheel.len(), 1);
    }

    #[test]
    fn panicking_fire_leaves_wheel_consistent() {
        let mut wheel = TimerWheel::new();
        let keys: Vec<_> = (0..4).map(|i| wheel.insert(1000, i).unwrap()).collect();
        let later = wheel.insert(2000, 9).unwrap();
        let result = catch_unwind(AssertUnwindSafe(|| {
            wheel.advance(5000, |_, _| panic!("waker panicked"));
        }));
        assert!(result.is_err());
        assert_eq!(wheel.len(), 4);
        assert!(wheel.next_expiration().unwrap() <= 1000);
        let still_there: Vec<_> = keys
            .iter()
            .filter(|&&key| wheel.deadline(key).is_some())
            .collect();
        assert_eq!(still_there.len(), 3);
        assert!(wheel.remove(*still_there[0]).is_some());
        let rest = fired(&mut wheel, 5000);
        assert_eq!(rest.len(), 3);
        assert_eq!(rest.last().map(|&(key, _)| key), Some(later));
        assert!(wheel.is_empty());
    }

    /// Timers in the bulk test: about 1 s in a debug build.
    const BULK_TIMERS: u32 = 1_000_000;

    #[test]
    fn bulk_random_insert_remove_advance() {
        /// Deadlines are spread over this many ticks (about 28 hours of ms), so every
        /// level below the top is exercised; one in 64 lies beyond the wheel's range.
        const SPREAD: u64 = 100_000_000;
        let mut rng = SplitMix(0x7121_0C1D);
        let mut wheel = TimerWheel::new();
        let mut deadlines = Vec::with_capacity(BULK_TIMERS as usize);
        let mut keys = Vec::with_capacity(BULK_TIMERS as usize);
        for id in 0..BULK_TIMERS {
            let when = if rng.below(64) == 0 {
                WHEEL_RANGE + rng.below(1 << 40)
            } else {
                1 + rng.below(SPREAD)
            };
            deadlines.push(when);
            keys.push(wheel.insert(when, id).unwrap());
        }
        let mut removed = vec![false; deadlines.len()];
        for _ in 0..BULK_TIMERS / 3 {
            let id = rng.below(u64::from(BULK_TIMERS)) as usize;
            assert_eq!(wheel.remove(keys[id]).is_some(), !removed[id]);
            removed[id] = true;
        }
        let survivors = removed.iter().filter(|&&r| !r).count();
        assert_eq!(wheel.len(), survivors);

        let end = deadlines.iter().copied().max().unwrap();
        let mut fired_count = vec![0u8; deadlines.len()];
        let mut last = 0;
        let mut now = 0;
        while now < end {
            now = (now + 1 + rng.below(SPREAD / 500)).min(end);
            if rng.below(100) == 0 {
                now = now.saturating_add(rng.below(1 << 40)).min(end);
            }
            wheel.advance(now, |key, id| {
                let when = deadlines[id as usize];
                assert_eq!(key, keys[id as usize]);
                assert!(when <= now, "fired {when} early at {now}");
                assert!(when >= last, "fired {when} after {last}");
                last = when;
                fired_count[id as usize] += 1;
            });
        }
        assert!(wheel.is_empty());
        for (id, &count) in fired_count.iter().enumerate() {
            assert_eq!(
                count,
                u8::from(!removed[id]),
                "timer {id} fired {count} times"
            );
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64),
        Remove(usize),
        Advance(u64),
        Rewind(u64),
    }

    /// Offsets from `elapsed` at every scale: same tick, next ticks, each level, beyond
    /// the wheel, and anywhere in `u64`.
    fn offset() -> impl Strategy<Value = u64> {
        prop_oneof![
            3 => 0..3u64,
            3 => 0..130u64,
            2 => 0..10_000u64,
            2 => 0..(1u64 << 30),
            1 => 0..(4 * WHEEL_RANGE),
            1 => any::<u64>(),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => offset().prop_map(Op::Insert),
            2 => any::<usize>().prop_map(Op::Remove),
            3 => offset().prop_map(Op::Advance),
            1 => (0..200u64).prop_map(Op::Rewind),
        ]
    }

    /// Model of the live entries: `(when, seq) -> key`, with `seq` as the payload.
    type Model = BTreeMap<(u64, u64), TimerKey>;

    /// Advances `wheel` to `now` and checks what fired against `model`, which it updates.
    fn check_advance(
        wheel: &mut TimerWheel<u64>,
        model: &mut Model,
        when_of: &HashMap<u64, u64>,
        now: u64,
    ) -> Result<(), TestCaseError> {
        let before = wheel.elapsed();
        let mut got = Vec::new();
        wheel.advance(now, |key, id| got.push((key, id)));
        prop_assert_eq!(wheel.elapsed(), before.max(now));
        let mut last = 0;
        for (key, id) in got {
            let when = when_of[&id];
            prop_assert!(when <= now, "fired {} early at {}", when, now);
            prop_assert!(when >= last, "fired {} after {}", when, last);
            last = when;
            prop_assert_eq!(
                model.remove(&(when, id)),
                Some(key),
                "fired twice or removed"
            );
            prop_assert_eq!(wheel.deadline(key), None);
        }
        prop_assert!(
            model.keys().all(|&(when, _)| when > now),
            "due entry not fired"
        );
        Ok(())
    }

    proptest! {
        #[test]
        fn matches_sorted_model(ops in proptest::collection::vec(op(), 1..200)) {
            let mut wheel = TimerWheel::new();
            let mut model = Model::new();
            let mut when_of = HashMap::<u64, u64>::new();
            let mut issued = Vec::<(TimerKey, u64)>::new();
            for (seq, op) in (0u64..).zip(ops) {
                match op {
                    Op::Insert(offset) => {
                        let when = wheel.elapsed().saturating_add(offset);
                        match wheel.insert(when, seq) {
                            Ok(key) => {
                                prop_assert!(when > wheel.elapsed());
                                prop_assert_eq!(wheel.deadline(key), Some(when));
                                model.insert((when, seq), key);
                                when_of.insert(seq, when);
                                issued.push((key, seq));
                            }
                            Err(value) => {
                                prop_assert_eq!(value, seq);
                                prop_assert!(when <= wheel.elapsed());
                            }
                        }
                    }
                    Op::Remove(pick) if !issued.is_empty() => {
                        let (key, id) = issued[pick % issued.len()];
                        let live = model.remove(&(when_of[&id], id)).is_some();
                        prop_assert_eq!(wheel.remove(key), live.then_some(id));
                        prop_assert_eq!(wheel.remove(key), None);
                    }
                    Op::Remove(_) => {}
                    Op::Advance(step) => {
                        let now = wheel.elapsed().saturating_add(step);
                        check_advance(&mut wheel, &mut model, &when_of, now)?;
                    }
                    Op::Rewind(back) => {
                        let now = wheel.elapsed().saturating_sub(back);
                        check_advance(&mut wheel, &mut model, &when_of, now)?;
                    }
                }
                prop_assert_eq!(wheel.len(), model.len());
                match (wheel.next_expiration(), model.keys().next()) {
                    (None, None) => {}
                    (Some(next), Some(&(earliest, _))) => {
                        prop_assert!(next > wheel.elapsed());
                        prop_assert!(next <= earliest, "next {} after earliest {}", next, earliest);
                    }
                    (next, earliest) => prop_assert!(false, "next {:?} vs model {:?}", next, earliest),
                }
            }
        }
    }
}
