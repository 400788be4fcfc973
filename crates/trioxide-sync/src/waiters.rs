//! Waiter lists: a FIFO of parked tasks kept in a slab, in the style of tokio's
//! `batch_semaphore` waiter queue and `event-listener`, but without intrusive pointers.
//!
//! Every blocking primitive in this crate keeps a [`Waiters`] inside the `Mutex` that guards
//! its state. A waiting future owns a *key* (a slab index) from [`Waiters::insert`] until it
//! calls [`Waiters::remove`]; keys are never reused while their owner holds them, because
//! only the owner frees its slot. The protocol:
//!
//! 1. A future that must wait registers with `insert` (first poll) or `update` (later polls)
//!    while holding the primitive's lock, after checking its condition under that same lock,
//!    so no wake-up can slip between the check and the registration.
//! 2. A notifier pops waiters with [`Waiters::notify_one`] / [`Waiters::notify_all`], which
//!    mark the slot `Notified` and hand back the wakers; the notifier calls them *after*
//!    releasing the lock (a waker may run arbitrary code, even re-enter the primitive).
//! 3. A woken future re-checks its condition under the lock. When it completes or is
//!    dropped it calls `remove`; if that reports [`Status::Notified`] and the future did not
//!    consume what it was woken for, the caller passes the wake-up on to the next waiter.
//!    This is what makes `recv`, `get` and `acquire` cancel-safe: a woken-then-dropped
//!    waiter never swallows a wake-up.

use crate::lock;
use crate::loom::load_after_seqcst_rmw;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering::*, fence};
use std::collections::VecDeque;
use std::task::Waker;

/// Where a registered waiter stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// Still queued; no notification has reached it.
    Waiting,
    /// Popped by [`Waiters::notify_one`]: it holds a wake-up that it must use or pass on.
    Notified,
    /// Released by [`Waiters::notify_all`] (a broadcast: close, shutdown, `set`).
    NotifiedAll,
}

/// One slab slot.
#[derive(Debug)]
enum Slot<D> {
    /// Free; its index is on the free list.
    Vacant,
    /// Queued, with the waker to call and the waiter's data (e.g. permits wanted).
    Waiting { waker: Waker, data: D },
    /// Notified; kept until its owner removes it.
    Notified { data: D, all: bool },
}

/// A FIFO of waiters with per-waiter data `D`. Not synchronised: keep it under a lock.
#[derive(Debug)]
pub(crate) struct Waiters<D = ()> {
    slots: Vec<Slot<D>>,
    free: Vec<usize>,
    /// Keys of `Waiting` slots, oldest first.
    queue: VecDeque<usize>,
}

impl<D> Default for Waiters<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<D> Waiters<D> {
    /// An empty list.
    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    /// Whether no waiter is queued (notified ones are not counted).
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Number of queued (not yet notified) waiters.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Queues a new waiter at the back and returns its key.
    pub(crate) fn insert(&mut self, waker: &Waker, data: D) -> usize {
        let slot = Slot::Waiting {
            waker: waker.clone(),
            data,
        };
        let key = match self.free.pop() {
            Some(key) => {
                debug_assert!(matches!(self.slots[key], Slot::Vacant));
                self.slots[key] = slot;
                key
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.queue.push_back(key);
        key
    }

    /// Registers `waker` for the waiter `key`, inserting it (with `data`) when `key` is
    /// `None`. A waiter that was notified but must wait again goes back to the queue's end.
    pub(crate) fn register(&mut self, key: &mut Option<usize>, waker: &Waker, data: D) {
        match *key {
            None => *key = Some(self.insert(waker, data)),
            Some(k) => self.update(k, waker),
        }
    }

    /// Refreshes the waker of waiter `key`; re-queues it at the back if it was notified.
    pub(crate) fn update(&mut self, key: usize, waker: &Waker) {
        let slot = &mut self.slots[key];
        match slot {
            Slot::Waiting { waker: w, .. } => {
                if !w.will_wake(waker) {
                    w.clone_from(waker);
                }
            }
            Slot::Notified { .. } => {
                let Slot::Notified { data, .. } = std::mem::replace(slot, Slot::Vacant) else {
                    unreachable!()
                };
                *slot = Slot::Waiting {
                    waker: waker.clone(),
                    data,
                };
                self.queue.push_back(key);
            }
            Slot::Vacant => panic!("waiter key {key} is not registered"),
        }
    }

    /// The status of waiter `key`.
    pub(crate) fn status(&self, key: usize) -> Status {
        match &self.slots[key] {
            Slot::Waiting { .. } => Status::Waiting,
            Slot::Notified { all: false, .. } => Status::Notified,
            Slot::Notified { all: true, .. } => Status::NotifiedAll,
            Slot::Vacant => panic!("waiter key {key} is not registered"),
        }
    }

    /// Removes waiter `key`, returning how it stood and its data.
    pub(crate) fn remove(&mut self, key: usize) -> (Status, D) {
        let slot = std::mem::replace(&mut self.slots[key], Slot::Vacant);
        self.free.push(key);
        match slot {
            Slot::Waiting { data, .. } => {
                if let Some(pos) = self.queue.iter().position(|&k| k == key) {
                    self.queue.remove(pos);
                }
                (Status::Waiting, data)
            }
            Slot::Notified { data, all } => {
                let status = if all {
                    Status::NotifiedAll
                } else {
                    Status::Notified
                };
                (status, data)
            }
            Slot::Vacant => panic!("waiter key {key} is not registered"),
        }
    }

    /// The data of the oldest queued waiter.
    pub(crate) fn front(&self) -> Option<&D> {
        let &key = self.queue.front()?;
        match &self.slots[key] {
            Slot::Waiting { data, .. } => Some(data),
            _ => unreachable!("queued waiter is not waiting"),
        }
    }

    /// Pops the oldest queued waiter, marks it `Notified` and returns its waker.
    pub(crate) fn notify_one(&mut self) -> Option<Waker> {
        let key = self.queue.pop_front()?;
        let slot = &mut self.slots[key];
        let Slot::Waiting { waker, data } = std::mem::replace(slot, Slot::Vacant) else {
            unreachable!("queued waiter is not waiting")
        };
        *slot = Slot::Notified { data, all: false };
        Some(waker)
    }

    /// Pops every queued waiter, marks each `NotifiedAll` and pushes their wakers on `out`.
    pub(crate) fn notify_all(&mut self, out: &mut Vec<Waker>) {
        while let Some(key) = self.queue.pop_front() {
            let slot = &mut self.slots[key];
            let Slot::Waiting { waker, data } = std::mem::replace(slot, Slot::Vacant) else {
                unreachable!("queued waiter is not waiting")
            };
            *slot = Slot::Notified { data, all: true };
            out.push(waker);
        }
    }
}

/// A [`Waiters`] list with its own lock and a lock-free "anyone queued?" check, for the
/// lock-free channels: the side that frees a slot or publishes a message calls
/// [`WaitList::notify_one`], which costs a fence and a load when nobody waits.
///
/// The count `queued` is written under the lock, and [`register`](WaitList::register)
/// issues a `SeqCst` fence after writing it; `notify_one` issues a `SeqCst` fence before
/// reading it. So "register, then re-check the channel" on the waiting side and "publish,
/// then `notify_one`" on the other side cannot both miss (the store-buffering pattern):
/// either the notifier reads the new count, or the waiter's re-check sees the
/// publication. The notifier's load is of a line that only registrations write, so a busy
/// channel with nobody waiting does not bounce it between cores, as an RMW would.
#[derive(Debug)]
pub(crate) struct WaitList {
    waiters: Mutex<Waiters>,
    queued: AtomicUsize,
}

impl WaitList {
    /// An empty list.
    pub(crate) fn new() -> Self {
        Self {
            waiters: Mutex::new(Waiters::new()),
            queued: AtomicUsize::new(0),
        }
    }

    /// Registers the waiter `key` (inserting it when `None`) with `waker`.
    pub(crate) fn register(&self, key: &mut Option<usize>, waker: &Waker) {
        let mut w = lock(&self.waiters);
        w.register(key, waker, ());
        self.queued.store(w.len(), Relaxed);
        drop(w);
        // Registered, then (after this fence) the caller re-checks.
        fence(SeqCst);
    }

    /// Removes waiter `key`; returns its status (the caller passes on a `Notified` one).
    pub(crate) fn remove(&self, key: usize) -> Status {
        let mut w = lock(&self.waiters);
        let (status, ()) = w.remove(key);
        self.queued.store(w.len(), Relaxed);
        status
    }

    /// Removes waiter `key` and, if it had been notified, notifies the next one.
    pub(crate) fn remove_and_pass_on(&self, key: usize) {
        if self.remove(key) == Status::Notified {
            self.notify_one();
        }
    }

    /// Wakes the oldest queued waiter, if any.
    pub(crate) fn notify_one(&self) {
        if self.fence_then_any_queued() {
            self.notify_queued();
        }
    }

    /// The first half of [`notify_one`](Self::notify_one): issues the `SeqCst` fence,
    /// then says whether any waiter is queued.
    fn fence_then_any_queued(&self) -> bool {
        // The caller published, then (after this fence) we look for waiters.
        fence(SeqCst);
        self.queued.load(Relaxed) != 0
    }

    /// Says whether any waiter is queued, for a caller that has just published with a
    /// `SeqCst` RMW (a ring's claiming CAS): a `SeqCst` load ordered after that RMW
    /// stands in for [`fence_then_any_queued`](Self::fence_then_any_queued)'s fence
    /// (the argument is at [`load_after_seqcst_rmw`]).
    pub(crate) fn any_queued_after_seqcst_rmw(&self) -> bool {
        load_after_seqcst_rmw(|o| self.queued.load(o)) != 0
    }

    /// The second half of [`notify_one`](Self::notify_one): wakes the oldest queued
    /// waiter, if any is still queued.
    pub(crate) fn notify_queued(&self) {
        let mut w = lock(&self.waiters);
        let waker = w.notify_one();
        self.queued.store(w.len(), Relaxed);
        drop(w);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Wakes every queued waiter.
    pub(crate) fn notify_all(&self) {
        let mut wakers = Vec::new();
        let mut w = lock(&self.waiters);
        w.notify_all(&mut wakers);
        self.queued.store(0, Relaxed);
        drop(w);
        wake_all(wakers);
    }
}

/// Wakes every waker in `wakers` (call it after releasing the lock).
pub(crate) fn wake_all(wakers: Vec<Waker>) {
    for waker in wakers {
        waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn fifo_order_and_pass_on() {
        let mut w: Waiters<u32> = Waiters::new();
        let a = w.insert(Waker::noop(), 1);
        let b = w.insert(Waker::noop(), 2);
        let c = w.insert(Waker::noop(), 3);
        assert_eq!(w.len(), 3);
        assert_eq!(w.front(), Some(&1));
        assert!(w.notify_one().is_some());
        assert_eq!(w.status(a), Status::Notified);
        assert_eq!(w.front(), Some(&2));
        // `b` leaves while waiting: it is unlinked from the queue.
        assert_eq!(w.remove(b), (Status::Waiting, 2));
        assert_eq!(w.front(), Some(&3));
        // `a` leaves after being notified: its owner must pass the wake-up on.
        assert_eq!(w.remove(a), (Status::Notified, 1));
        assert!(w.notify_one().is_some());
        assert_eq!(w.status(c), Status::Notified);
        assert!(w.is_empty());
        // A notified waiter that must wait again rejoins the queue's end.
        w.update(c, Waker::noop());
        assert_eq!(w.status(c), Status::Waiting);
        let mut out = Vec::new();
        w.notify_all(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(w.status(c), Status::NotifiedAll);
        // Keys are reused only after removal.
        let d = w.insert(Waker::noop(), 4);
        assert_eq!(d, a);
    }

    #[test]
    fn register_inserts_then_updates() {
        let mut w: Waiters = Waiters::new();
        let mut key = None;
        w.register(&mut key, Waker::noop(), ());
        w.register(&mut key, Waker::noop(), ());
        assert_eq!(w.len(), 1);
        w.remove(key.unwrap());
        assert!(w.is_empty());
    }
}
