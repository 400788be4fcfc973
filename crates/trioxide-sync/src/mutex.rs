//! An async mutex, fair (FIFO): a [`PermitCell`] with one permit, the construction of
//! tokio's `sync::Mutex`.
//!
//! Access protocol for the cell (on top of `permit_cell.rs`'s rules):
//!
//! 1. Only the holder of the single permit touches the data; a [`MutexGuard`] or
//!    [`OwnedMutexGuard`] *is* that permit (taken out of the semaphore, given back by the
//!    guard's `Drop`).
//! 2. Lock order is the semaphore's FIFO; a task dropped while queued or just after being
//!    granted the lock passes it on (the semaphore's cancel rule), so `lock` is
//!    cancel-safe.
//! 3. The semaphore's own mutex orders the release (in the guard's drop) before the next
//!    holder's acquire, so the next holder sees every write.

use crate::permit_cell::PermitCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// The lock is held elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("mutex is locked")]
pub struct TryLockError;

/// A fair async mutex.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use std::sync::Arc;
/// use trioxide_sync::Mutex;
///
/// let counter = Arc::new(Mutex::new(0));
/// let tasks: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = counter.clone();
///         tokio::spawn(async move { *counter.lock().await += 1 })
///     })
///     .collect();
/// for task in tasks {
///     task.await.unwrap();
/// }
/// assert_eq!(*counter.lock().await, 4);
/// # });
/// ```
pub struct Mutex<T> {
    cell: PermitCell<T>,
}

// SAFETY: the data moves with the mutex (`T: Send`).
unsafe impl<T: Send> Send for Mutex<T> {}
// SAFETY: the semaphore lets one guard at a time reach the data (rule 1), so sharing the
// mutex only hands `&mut T` to one thread at a time: `T: Send` suffices, as for std's.
unsafe impl<T: Send> Sync for Mutex<T> {}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("locked", &(self.cell.available_permits() == 0))
            .finish_non_exhaustive()
    }
}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub fn new(value: T) -> Self {
        Self {
            cell: PermitCell::new(value, 1),
        }
    }

    /// Waits for the lock, in FIFO order.
    ///
    /// Cancel-safe: dropping the future gives up the place in line (or the lock, if it
    /// had just been handed over).
    pub async fn lock(&self) -> MutexGuard<'_, T> {
        self.cell.acquire(1).await;
        MutexGuard { lock: self }
    }

    /// Takes the lock if it is free and nobody is queued for it.
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        if self.cell.try_acquire(1) {
            Ok(MutexGuard { lock: self })
        } else {
            Err(TryLockError)
        }
    }

    /// Waits for the lock, returning a guard that owns an `Arc` of the mutex (to keep
    /// across a spawn). Cancel-safe, as [`lock`](Self::lock).
    pub async fn lock_owned(self: Arc<Self>) -> OwnedMutexGuard<T> {
        self.cell.acquire(1).await;
        OwnedMutexGuard { lock: self }
    }

    /// Like [`try_lock`](Self::try_lock), with an owned guard.
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedMutexGuard<T>, TryLockError> {
        if self.cell.try_acquire(1) {
            Ok(OwnedMutexGuard { lock: self })
        } else {
            Err(TryLockError)
        }
    }

    /// The data, through exclusive access to the mutex (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.cell.get_mut()
    }

    /// The data, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.cell.into_inner()
    }

    fn data_ptr(&self) -> *mut T {
        self.cell.data_ptr()
    }
}

/// Holds the lock of a [`Mutex`]; releases it on drop.
#[must_use = "dropping the guard unlocks at once"]
pub struct MutexGuard<'a, T> {
    lock: &'a Mutex<T>,
}

// SAFETY: a guard lends `&T` to whoever shares it, hence `T: Sync`.
unsafe impl<T: Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T> MutexGuard<'a, T> {
    /// The mutex this guard locks (an associated function, so it does not shadow `T`'s
    /// methods).
    pub fn mutex(this: &Self) -> &'a Mutex<T> {
        this.lock
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock's permit (rule 1).
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock's permit, and `&mut self` is unique (rule 1).
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.cell.release(1);
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Holds the lock of an `Arc<Mutex>`; releases it on drop.
#[must_use = "dropping the guard unlocks at once"]
pub struct OwnedMutexGuard<T> {
    lock: Arc<Mutex<T>>,
}

// SAFETY: as for `MutexGuard`.
unsafe impl<T: Sync> Sync for OwnedMutexGuard<T> {}

impl<T> OwnedMutexGuard<T> {
    /// The mutex this guard locks.
    pub fn mutex(&self) -> &Arc<Mutex<T>> {
        &self.lock
    }
}

impl<T> Deref for OwnedMutexGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock's permit (rule 1).
        unsafe { &*self.lock.data_ptr() }
    }
}

impl<T> DerefMut for OwnedMutexGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock's permit, and `&mut self` is unique (rule 1).
        unsafe { &mut *self.lock.data_ptr() }
    }
}

impl<T> Drop for OwnedMutexGuard<T> {
    fn drop(&mut self) {
        self.lock.cell.release(1);
    }
}

impl<T: fmt::Debug> fmt::Debug for OwnedMutexGuard<T> {
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
    fn lock_try_lock_and_fifo() {
        let m = Mutex::new(0);
        let mut g = block_on(m.lock());
        *g += 1;
        assert_eq!(m.try_lock().unwrap_err(), TryLockError);
        let mut cx = Context::from_waker(Waker::noop());
        let mut next = pin!(m.lock());
        assert!(next.as_mut().poll(&mut cx).is_pending());
        drop(g);
        // The queued locker was handed the lock; try_lock cannot barge in.
        assert!(m.try_lock().is_err());
        match next.as_mut().poll(&mut cx) {
            Poll::Ready(mut g) => *g += 1,
            Poll::Pending => panic!("lock not handed over"),
        }
        assert_eq!(*m.try_lock().unwrap(), 2);
    }

    #[test]
    fn owned_guard_across_threads() {
        let m = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for j in 0..100 {
                        block_on(m.clone().lock_owned()).push(i * 100 + j);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let m = Arc::try_unwrap(m).unwrap();
        assert_eq!(m.into_inner().len(), 400);
    }
}
