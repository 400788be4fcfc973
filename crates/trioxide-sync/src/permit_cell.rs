//! The core shared by [`Mutex`](crate::Mutex) and [`RwLock`](crate::RwLock): a value in
//! an `UnsafeCell` behind a fair [`Semaphore`]'s permits — tokio's construction of its
//! `sync::Mutex` and `sync::RwLock`.
//!
//! Access protocol for the cell (each lock states how many permits its guards take):
//!
//! 1. A caller that acquired `n` permits ([`acquire`](PermitCell::acquire) or
//!    [`try_acquire`](PermitCell::try_acquire)) holds them until it calls
//!    [`release`](PermitCell::release) with the same `n`, normally from a guard's `Drop`.
//!    The permits are forgotten out of the semaphore meanwhile, so they are the guard.
//! 2. The lock decides what holding permits allows: one permit of one is `&mut T` (a
//!    mutex); one of many is `&T`, all of them `&mut T` (a reader-writer lock). The
//!    `unsafe` dereferences of [`data_ptr`](PermitCell::data_ptr) live in the guards and
//!    cite this rule.
//! 3. The semaphore is FIFO and its waiters pass a hand-over on when dropped, so
//!    acquiring is fair and cancel-safe; its mutex orders each release before the next
//!    acquire, so a new holder sees every write of the previous one.

use crate::loom::cell::UnsafeCell;
use crate::semaphore::{Acquire, Semaphore};
use std::future::Future;

/// A value guarded by the permits of a fair semaphore.
pub(crate) struct PermitCell<T> {
    sem: Semaphore,
    data: UnsafeCell<T>,
}

impl<T> PermitCell<T> {
    /// `value` behind a semaphore of `permits` permits, all free.
    pub(crate) fn new(value: T, permits: usize) -> Self {
        Self {
            sem: Semaphore::new(permits),
            data: UnsafeCell::new(value),
        }
    }

    /// Waits, in FIFO order, for `n` permits and keeps them (rule 1). Cancel-safe.
    ///
    /// The future borrows only the semaphore, not the cell, so it is `Send` and `Sync`
    /// whatever `T` is; the lock's own `Send`/`Sync` rules govern the value.
    pub(crate) fn acquire(&self, n: usize) -> impl Future<Output = ()> + '_ {
        let acquire = Acquire::new(&self.sem, n);
        async move {
            acquire.await.expect("a lock's semaphore is never closed");
        }
    }

    /// Takes `n` permits if they are free now and nobody is queued; whether it did.
    pub(crate) fn try_acquire(&self, n: usize) -> bool {
        match self.sem.try_acquire_many(n) {
            Ok(permit) => {
                permit.forget();
                true
            }
            Err(_) => false,
        }
    }

    /// Gives back `n` permits taken by `acquire` or `try_acquire` (rule 1).
    pub(crate) fn release(&self, n: usize) {
        self.sem.add_permits(n);
    }

    /// Free permits now.
    pub(crate) fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }

    /// The value, through exclusive access to the lock (no permits needed).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard, which borrow the lock.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// The value, consuming the lock.
    pub(crate) fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// A pointer to the value, for guards to dereference under rule 2.
    pub(crate) fn data_ptr(&self) -> *mut T {
        self.data.with_mut(|p| p)
    }
}
