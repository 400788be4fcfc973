//! Generational slab of timer entries, threaded by intrusive doubly-linked lists.
//!
//! The storage is the classic slab allocator (a `Vec` of entries plus a LIFO free list
//! through the vacant ones, as in the `slab` crate), with a per-entry generation counter in
//! the style of generational arenas (`slotmap`, `thunderdome`): a key is `(index,
//! generation)` and the generation is bumped every time an entry is vacated, so a key held
//! past its entry's removal never reaches the entry that later reuses the index.
//!
//! Each occupied entry carries `prev` / `next` slab indices, so every wheel slot is an
//! intrusive doubly-linked list whose head is a plain `u32` owned by the caller. Linking,
//! unlinking and popping are O(1) and never allocate; the slab itself only allocates when
//! it grows past its previous high-water mark.
//!
//! Generations are `u32` and wrap: a stale key could alias a live entry only if it were
//! kept while its index was reused exactly 2^32 times.

/// The "no entry" index: end of a list, empty list head, end of the free list.
pub(super) const NIL: u32 = u32::MAX;

/// Which list an occupied entry is linked into, so it can be unlinked in O(1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Location {
    /// Slot `slot` of wheel level `level`.
    Slot {
        /// Wheel level, `0..NUM_LEVELS`.
        level: u8,
        /// Slot within the level, `0..SLOTS`.
        slot: u8,
    },
    /// The wheel's pending list: entries taken out of an expired slot that are still
    /// waiting to be fired or cascaded (or not linked anywhere yet, just after `insert`).
    Pending,
}

/// An occupied entry: the caller's value, its deadline and its list links.
#[derive(Debug)]
pub(super) struct Node<T> {
    /// The caller's payload.
    pub(super) value: T,
    /// Absolute deadline in ticks.
    pub(super) when: u64,
    /// The list this node is linked into.
    pub(super) location: Location,
    prev: u32,
    next: u32,
}

#[derive(Debug)]
enum State<T> {
    Occupied(Node<T>),
    Vacant { next_free: u32 },
}

#[derive(Debug)]
struct Entry<T> {
    /// Bumped whenever the entry is vacated; part of every key to this index.
    generation: u32,
    state: State<T>,
}

/// The slab: entries, the head of the free list, and the count of occupied entries.
#[derive(Debug)]
pub(super) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Slab<T> {
    /// An empty slab; allocates nothing.
    pub(super) const fn new() -> Self {
        Self {
            entries: Vec::new(),
            free_head: NIL,
            len: 0,
        }
    }

    /// Number of occupied entries.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Stores a new unlinked node (location `Pending`, no neighbours) and returns its
    /// `(index, generation)`.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` entries are already occupied.
    pub(super) fn insert(&mut self, when: u64, value: T) -> (u32, u32) {
        let node = Node {
            value,
            when,
            location: Location::Pending,
            prev: NIL,
            next: NIL,
        };
        self.len += 1;
        if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.entries[index as usize];
            let State::Vacant { next_free } = entry.state else {
                unreachable!("free list points at an occupied entry");
            };
            self.free_head = next_free;
            entry.state = State::Occupied(node);
            return (index, entry.generation);
        }
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|&index| index != NIL)
            .expect("timer wheel holds u32::MAX entries");
        self.entries.push(Entry {
            generation: 0,
            state: State::Occupied(node),
        });
        (index, 0)
    }

    /// The node at `index` if it is occupied and its generation is `generation`.
    pub(super) fn get(&self, index: u32, generation: u32) -> Option<&Node<T>> {
        match self.entries.get(index as usize)? {
            Entry {
                generation: g,
                state: State::Occupied(node),
            } if *g == generation => Some(node),
            _ => None,
        }
    }

    /// Mutable form of [`get`](Self::get).
    pub(super) fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut Node<T>> {
        match self.entries.get_mut(index as usize)? {
            Entry {
                generation: g,
                state: State::Occupied(node),
            } if *g == generation => Some(node),
            _ => None,
        }
    }

    /// The occupied node at `index`; the caller knows it is occupied (it is linked).
    pub(super) fn node(&self, index: u32) -> &Node<T> {
        match &self.entries[index as usize].state {
            State::Occupied(node) => node,
            State::Vacant { .. } => unreachable!("linked index {index} is vacant"),
        }
    }

    /// Mutable form of [`node`](Self::node).
    pub(super) fn node_mut(&mut self, index: u32) -> &mut Node<T> {
        match &mut self.entries[index as usize].state {
            State::Occupied(node) => node,
            State::Vacant { .. } => unreachable!("linked index {index} is vacant"),
        }
    }

    /// Vacates the occupied entry at `index`, which the caller has already unlinked, and
    /// returns the generation its key carried together with the node.
    pub(super) fn remove(&mut self, index: u32) -> (u32, Node<T>) {
        let entry = &mut self.entries[index as usize];
        let vacant = State::Vacant {
            next_free: self.free_head,
        };
        let State::Occupied(node) = std::mem::replace(&mut entry.state, vacant) else {
            unreachable!("removing vacant index {index}");
        };
        let generation = entry.generation;
        entry.generation = generation.wrapping_add(1);
        self.free_head = index;
        self.len -= 1;
        (generation, node)
    }

    /// Links `index` at the front of the list headed by `head`.
    pub(super) fn push_front(&mut self, head: &mut u32, index: u32) {
        let old_head = *head;
        let node = self.node_mut(index);
        node.prev = NIL;
        node.next = old_head;
        if old_head != NIL {
            self.node_mut(old_head).prev = index;
        }
        *head = index;
    }

    /// Unlinks `index` from the list headed by `head`, which must contain it.
    pub(super) fn unlink(&mut self, head: &mut u32, index: u32) {
        let node = self.node_mut(index);
        let (prev, next) = (node.prev, node.next);
        node.prev = NIL;
        node.next = NIL;
        if prev == NIL {
            debug_assert_eq!(*head, index, "unlinking a node that is not in this list");
            *head = next;
        } else {
            self.node_mut(prev).next = next;
        }
        if next != NIL {
            self.node_mut(next).prev = prev;
        }
    }

    /// Unlinks and returns the first node of the list headed by `head`, if any.
    pub(super) fn pop_front(&mut self, head: &mut u32) -> Option<u32> {
        let index = *head;
        if index == NIL {
            return None;
        }
        self.unlink(head, index);
        Some(index)
    }

    /// Sets the location of every node in the list headed by `head` (used when a whole
    /// slot's list is moved to another head).
    pub(super) fn relocate_list(&mut self, head: u32, location: Location) {
        let mut cursor = head;
        while cursor != NIL {
            let node = self.node_mut(cursor);
            node.location = location;
            cursor = node.next;
        }
    }
}
