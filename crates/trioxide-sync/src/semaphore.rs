//! A fair counting semaphore — tokio's `batch_semaphore` semantics (FIFO, multi-permit
//! requests, close) over a mutex-guarded [`Waiters`] queue whose entries carry the number
//! of permits they ask for.
//!
//! Protocol (all under the lock):
//!
//! 1. An acquire succeeds at once only if nobody is queued and enough permits are free;
//!    otherwise it queues. Strict FIFO: a small request never overtakes a large one.
//! 2. Releasing permits (`add_permits`, a permit's drop) hands them to queued waiters
//!    front to back: each one served is *granted* — its permits are deducted for it — and
//!    notified. Its future then completes without re-checking.
//! 3. A waiter dropped after being granted gives its permits back (and so to the next
//!    waiter); one dropped while queued may unblock those behind it, so both re-run the
//!    hand-out. No permit and no wake-up is lost to cancellation.
//! 4. `close` fails every queued and future acquire; permits held stay valid.

use crate::lock;
use crate::loom::sync::Mutex;
use crate::waiters::{Status, Waiters, wake_all};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// The semaphore was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("semaphore closed")]
pub struct AcquireError;

/// Why [`Semaphore::try_acquire`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryAcquireError {
    /// The semaphore was closed.
    #[error("semaphore closed")]
    Closed,
    /// Not enough permits free now (or others are queued ahead).
    #[error("no permits available")]
    NoPermits,
}

struct State {
    permits: usize,
    closed: bool,
    /// Queued acquires, each with the permits it wants.
    waiters: Waiters<usize>,
}

impl State {
    /// Hands free permits to queued waiters, front first (rule 2).
    fn hand_out(&mut self, wakers: &mut Vec<Waker>) {
        while let Some(&need) = self.waiters.front() {
            if need > self.permits {
                break;
            }
            self.permits -= need;
            wakers.extend(self.waiters.notify_one());
        }
    }
}

/// A counting semaphore, fair (FIFO) across `acquire` calls.
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use trioxide_sync::Semaphore;
///
/// let limit = Semaphore::new(2); // at most two at a time
/// let first = limit.acquire().await.unwrap();
/// let _second = limit.acquire().await.unwrap();
/// assert!(limit.try_acquire().is_err()); // a third would wait
/// drop(first); // the permit goes back
/// assert!(limit.try_acquire().is_ok());
/// # });
/// ```
pub struct Semaphore {
    state: Mutex<State>,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("permits", &st.permits)
            .field("closed", &st.closed)
            .field("waiting", &st.waiters.len())
            .finish()
    }
}

impl Semaphore {
    /// The most permits a semaphore may hold.
    pub const MAX_PERMITS: usize = usize::MAX >> 3;

    /// A semaphore with `permits` free permits.
    pub fn new(permits: usize) -> Self {
        assert!(permits <= Self::MAX_PERMITS, "too many permits");
        Self {
            state: Mutex::new(State {
                permits,
                closed: false,
                waiters: Waiters::new(),
            }),
        }
    }

    /// Free permits now.
    pub fn available_permits(&self) -> usize {
        lock(&self.state).permits
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Adds `n` permits, serving queued acquires in order.
    pub fn add_permits(&self, n: usize) {
        let mut st = lock(&self.state);
        st.permits = st
            .permits
            .checked_add(n)
            .filter(|&p| p <= Self::MAX_PERMITS)
            .expect("too many permits");
        let mut wakers = Vec::new();
        st.hand_out(&mut wakers);
        drop(st);
        wake_all(wakers);
    }

    /// Closes the semaphore: queued and later acquires fail with [`AcquireError`].
    pub fn close(&self) {
        let mut st = lock(&self.state);
        st.closed = true;
        let mut wakers = Vec::new();
        st.waiters.notify_all(&mut wakers);
        drop(st);
        wake_all(wakers);
    }

    fn try_take(&self, n: usize) -> Result<(), TryAcquireError> {
        let mut st = lock(&self.state);
        if st.closed {
            Err(TryAcquireError::Closed)
        } else if st.waiters.is_empty() && st.permits >= n {
            st.permits -= n;
            Ok(())
        } else {
            Err(TryAcquireError::NoPermits)
        }
    }

    /// Takes one permit if one is free and nobody is queued.
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are free and nobody is queued.
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_take(n)?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n,
        })
    }

    /// Like [`try_acquire_many`](Self::try_acquire_many), with a permit that owns an `Arc`.
    pub fn try_acquire_many_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_take(n)?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n,
        })
    }

    /// Like [`try_acquire`](Self::try_acquire), with a permit that owns an `Arc`.
    pub fn try_acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, TryAcquireError> {
        self.try_acquire_many_owned(1)
    }

    /// Waits for one permit.
    ///
    /// Cancel-safe, and fair: the future queues on its first poll; if dropped after being
    /// granted permits, it gives them back to the next waiter.
    pub async fn acquire(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(1).await
    }

    /// Waits for `n` permits at once (cancel-safe and fair, as [`acquire`](Self::acquire)).
    pub async fn acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        Acquire::new(self, n).await?;
        Ok(SemaphorePermit {
            sem: self,
            permits: n,
        })
    }

    /// Waits for one permit, returned as a permit owning an `Arc` to the semaphore (to move
    /// into a spawned task). Cancel-safe.
    pub async fn acquire_owned(self: Arc<Self>) -> Result<OwnedSemaphorePermit, AcquireError> {
        self.acquire_many_owned(1).await
    }

    /// Waits for `n` permits, as an owned permit. Cancel-safe.
    pub async fn acquire_many_owned(
        self: Arc<Self>,
        n: usize,
    ) -> Result<OwnedSemaphorePermit, AcquireError> {
        Acquire::new(&self, n).await?;
        Ok(OwnedSemaphorePermit {
            sem: self,
            permits: n,
        })
    }
}

/// The queued acquire of `need` permits; completes once they are granted (rule 2).
pub(crate) struct Acquire<'a> {
    sem: &'a Semaphore,
    need: usize,
    key: Option<usize>,
}

impl<'a> Acquire<'a> {
    pub(crate) fn new(sem: &'a Semaphore, need: usize) -> Self {
        Self {
            sem,
            need,
            key: None,
        }
    }
}

impl Future for Acquire<'_> {
    type Output = Result<(), AcquireError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut st = lock(&this.sem.state);
        if let Some(key) = this.key {
            match st.waiters.status(key) {
                Status::Notified => {
                    // Granted: the permits were deducted for us.
                    st.waiters.remove(key);
                    this.key = None;
                    return Poll::Ready(Ok(()));
                }
                Status::NotifiedAll => {
                    st.waiters.remove(key);
                    this.key = None;
                    return Poll::Ready(Err(AcquireError));
                }
                Status::Waiting => {
                    st.waiters.update(key, cx.waker());
                    return Poll::Pending;
                }
            }
        }
        if st.closed {
            return Poll::Ready(Err(AcquireError));
        }
        if st.waiters.is_empty() && st.permits >= this.need {
            st.permits -= this.need;
            return Poll::Ready(Ok(()));
        }
        this.key = Some(st.waiters.insert(cx.waker(), this.need));
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut st = lock(&self.sem.state);
        let (status, need) = st.waiters.remove(key);
        if status == Status::Notified {
            st.permits += need;
        }
        // Rule 3: returned permits, or the queue's head leaving, may serve others.
        let mut wakers = Vec::new();
        st.hand_out(&mut wakers);
        drop(st);
        wake_all(wakers);
    }
}

/// Permits borrowed from a [`Semaphore`]; released on drop.
#[must_use = "dropping the permit releases it at once"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    permits: usize,
}

impl SemaphorePermit<'_> {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// Keeps the permits taken forever (they are not returned on drop).
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.sem.add_permits(self.permits);
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

/// Permits owning an `Arc` to their [`Semaphore`]; released on drop.
#[must_use = "dropping the permit releases it at once"]
pub struct OwnedSemaphorePermit {
    sem: Arc<Semaphore>,
    permits: usize,
}

impl OwnedSemaphorePermit {
    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.permits
    }

    /// The semaphore these permits come from.
    pub fn semaphore(&self) -> &Arc<Semaphore> {
        &self.sem
    }

    /// Keeps the permits taken forever.
    pub fn forget(mut self) {
        self.permits = 0;
    }
}

impl Drop for OwnedSemaphorePermit {
    fn drop(&mut self) {
        if self.permits > 0 {
            self.sem.add_permits(self.permits);
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedSemaphorePermit")
            .field("permits", &self.permits)
            .finish()
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::blocking::block_on;
    use std::pin::pin;

    fn poll<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn fifo_and_no_overtaking() {
        let sem = Semaphore::new(1);
        let held = sem.try_acquire().unwrap();
        let mut big = pin!(sem.acquire_many(2));
        assert!(poll(big.as_mut()).is_pending());
        sem.add_permits(1);
        // One free permit, but the queued request for two comes first.
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        drop(held);
        let permit = match poll(big.as_mut()) {
            Poll::Ready(Ok(p)) => p,
            _ => panic!("big request not granted"),
        };
        assert_eq!(permit.num_permits(), 2);
        drop(permit);
        assert_eq!(sem.available_permits(), 2);
    }

    #[test]
    fn granted_then_dropped_passes_permits_on() {
        let sem = Semaphore::new(0);
        let mut a = Box::pin(sem.acquire());
        let mut b = pin!(sem.acquire());
        assert!(poll(a.as_mut()).is_pending());
        assert!(poll(b.as_mut()).is_pending());
        sem.add_permits(1);
        drop(a);
        assert!(matches!(poll(b.as_mut()), Poll::Ready(Ok(_))));
    }

    #[test]
    fn close_fails_waiters_and_owned_permits_work() {
        let sem = Arc::new(Semaphore::new(1));
        let p = sem.clone().try_acquire_owned().unwrap();
        let mut waiting = pin!(sem.acquire());
        assert!(poll(waiting.as_mut()).is_pending());
        sem.close();
        assert!(matches!(
            poll(waiting.as_mut()),
            Poll::Ready(Err(AcquireError))
        ));
        assert_eq!(
            sem.clone().try_acquire_owned().unwrap_err(),
            TryAcquireError::Closed
        );
        drop(p);
        assert_eq!(sem.available_permits(), 1);
        assert!(block_on(sem.clone().acquire_owned()).is_err());
        let s2 = Arc::new(Semaphore::new(3));
        let p = block_on(s2.clone().acquire_many_owned(3)).unwrap();
        assert_eq!(s2.available_permits(), 0);
        p.forget();
        assert_eq!(s2.available_permits(), 0);
    }
}
