//! An async reader-writer lock, fair (FIFO), built like tokio's `sync::RwLock`: a
//! [`PermitCell`] of `MAX_READS` permits.
//!
//! Access protocol for the cell (on top of `permit_cell.rs`'s rules):
//!
//! 1. A reader holds one permit, a writer holds all `MAX_READS`: while a writer holds
//!    them no reader can, and while any reader holds one no writer can.
//! 2. The semaphore is FIFO, so a queued writer blocks readers that come after it (no
//!    writer starvation), and a dropped waiter passes its turn on (cancel-safe).
//! 3. Guards release their permits in `Drop`; the semaphore's mutex orders a release
//!    before the next acquire, so every holder sees the previous writer's writes.

use crate::permit_cell::PermitCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// Readers allowed at once (permits of the inner semaphore).
const MAX_READS: usize = 1 << 28;

/// A fair async reader-writer lock.
pub struct RwLock<T> {
    cell: PermitCell<T>,
}

// SAFETY: the value moves with the lock (`T: Send`).
unsafe impl<T: Send> Send for RwLock<T> {}
// SAFETY: readers share `&T` across threads (`T: Sync`) and a writer gets `&mut T` on any
// thread (`T: Send`); rule 1 keeps the two apart.
unsafe impl<T: Send + Sync> Sync for RwLock<T> {}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("free_permits", &self.cell.available_permits())
            .finish_non_exhaustive()
    }
}

impl<T> RwLock<T> {
    /// An unlocked lock holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            cell: PermitCell::new(value, MAX_READS),
        }
    }

    /// Waits for shared access (FIFO with writers). Cancel-safe.
    pub async fn read(&self) -> RwLockReadGuard<'_, T> {
        self.cell.acquire(1).await;
        RwLockReadGuard { lock: self }
    }

    /// Waits for exclusive access (FIFO with readers). Cancel-safe.
    pub async fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.cell.acquire(MAX_READS).await;
        RwLockWriteGuard { lock: self }
    }

    /// Shared access if available now (and no one is queued).
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        // Not `then_some`: that builds the guard, whose drop gives back a permit, even
        // when none was taken.
        if self.cell.try_acquire(1) {
            Some(RwLockReadGuard { lock: self })
        } else {
            None
        }
    }

    /// Exclusive access if available now (and no one is queued).
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        if self.cell.try_acquire(MAX_READS) {
            Some(RwLockWriteGuard { lock: self })
        } else {
            None
        }
    }

    /// The value, through exclusive access to the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.cell.get_mut()
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.cell.into_inner()
    }

    fn data_ptr(&self) -> *mut T {
        self.cell.data_ptr()
    }
}

/// Shared access to an [`RwLock`]; released on drop.
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockReadGuard<'a, T> {
    lock: &'a RwLock<T>,
}

// SAFETY: a read guard only lends `&T`.
unsafe impl<T: Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: sending a read guard shares `&T` with another thread, hence `T: Sync`.
unsafe impl<T: Sync> Send for RwLockReadGuard<'_, T> {}

impl<T> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read permit excludes writers (rule 1).
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.cell.release(1);
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwLock`]; released on drop.
#[must_use = "dropping the guard unlocks at once"]
pub struct RwLockWriteGuard<'a, T> {
    lock: &'a RwLock<T>,
}

// SAFETY: a shared write guard lends `&T`.
unsafe impl<T: Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds every permit (rule 1).
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds every permit and `&mut self` is unique (rule 1).
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.cell.release(MAX_READS);
    }
}

impl<T: fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::blocking::block_on;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    #[test]
    fn readers_share_writers_exclude_fifo() {
        let l = RwLock::new(1);
        let r1 = block_on(l.read());
        let r2 = l.try_read().unwrap();
        assert_eq!(*r1 + *r2, 2);
        assert!(l.try_write().is_none());
        let mut cx = Context::from_waker(Waker::noop());
        {
            let mut w = pin!(l.write());
            assert!(w.as_mut().poll(&mut cx).is_pending());
            // A queued writer keeps new readers out.
            assert!(l.try_read().is_none());
            drop((r1, r2));
            match w.as_mut().poll(&mut cx) {
                Poll::Ready(mut g) => *g = 5,
                Poll::Pending => panic!("writer not admitted"),
            }
        }
        assert_eq!(*block_on(l.read()), 5);
        assert_eq!(l.into_inner(), 5);
    }
}
