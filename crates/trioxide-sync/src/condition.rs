//! `Condition`: asyncio's `Condition` — wait for a notification while atomically giving up
//! a [`Mutex`] lock, then take the lock back — over a [`Waiters`] FIFO.
//!
//! Protocol:
//!
//! 1. `wait(guard)` registers the task *before* releasing the guard, so a `notify` issued
//!    by the next lock holder cannot be missed. (As in asyncio, notify while holding the
//!    lock; a notify from outside the lock reaches only tasks already registered.)
//! 2. `notify(n)` wakes the `n` oldest waiters, `notify_all` every waiter.
//! 3. Once woken, the task re-acquires the mutex (FIFO) and returns the new guard. A task
//!    woken by `notify` and dropped before it returned passes the notification on.

use crate::lock;
use crate::loom::sync::Mutex as StdMutex;
use crate::mutex::{Mutex, MutexGuard};
use crate::waiters::{Status, Waiters, wake_all};
use std::fmt;
use std::task::Poll;

/// A condition variable for tasks, used with [`Mutex`].
pub struct Condition {
    waiters: StdMutex<Waiters>,
}

impl Default for Condition {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiting", &lock(&self.waiters).len())
            .finish()
    }
}

/// Deregisters a waiter when its future goes; passes on an unused `notify` (rule 3).
struct Registration<'a> {
    cond: &'a Condition,
    key: Option<usize>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut w = lock(&self.cond.waiters);
        let (status, ()) = w.remove(key);
        let waker = if status == Status::Notified {
            w.notify_one()
        } else {
            None
        };
        drop(w);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Condition {
    /// A condition with no waiter.
    pub fn new() -> Self {
        Self {
            waiters: StdMutex::new(Waiters::new()),
        }
    }

    /// Releases `guard`, waits for a notification, re-locks and returns the new guard.
    ///
    /// Not cancel-safe in asyncio's sense: if the future is dropped while waiting, the
    /// lock stays released (a notification it had received passes to the next waiter).
    pub async fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex: &'a Mutex<T> = MutexGuard::mutex(&guard);
        let mut guard = Some(guard);
        let mut reg = Registration {
            cond: self,
            key: None,
        };
        std::future::poll_fn(|cx| {
            let mut w = lock(&self.waiters);
            match reg.key {
                None => {
                    reg.key = Some(w.insert(cx.waker(), ()));
                    drop(w);
                    // Registered first, released second (rule 1).
                    drop(guard.take());
                    Poll::Pending
                }
                Some(key) if w.status(key) == Status::Waiting => {
                    w.update(key, cx.waker());
                    Poll::Pending
                }
                Some(key) => {
                    w.remove(key);
                    reg.key = None;
                    Poll::Ready(())
                }
            }
        })
        .await;
        mutex.lock().await
    }

    /// Waits until `predicate` holds for the protected value, re-checking after each
    /// notification; returns the guard with the predicate true.
    ///
    /// Not cancel-safe, as [`wait`](Self::wait): dropped mid-wait, the lock stays released.
    pub async fn wait_for<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut predicate: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while !predicate(&mut guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Wakes the `n` oldest waiters.
    pub fn notify(&self, n: usize) {
        let mut w = lock(&self.waiters);
        let wakers: Vec<_> = (0..n).map_while(|_| w.notify_one()).collect();
        drop(w);
        wake_all(wakers);
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let mut wakers = Vec::new();
        lock(&self.waiters).notify_all(&mut wakers);
        wake_all(wakers);
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use crate::blocking::block_on;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Waker};

    #[test]
    fn wait_releases_then_relocks() {
        let m = Mutex::new(0);
        let c = Condition::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut w = pin!(c.wait(block_on(m.lock())));
        assert!(w.as_mut().poll(&mut cx).is_pending());
        // The lock was released by the waiter.
        let mut g = m.try_lock().unwrap();
        *g = 1;
        c.notify(1);
        assert!(w.as_mut().poll(&mut cx).is_pending(), "lock still held");
        drop(g);
        match w.as_mut().poll(&mut cx) {
            Poll::Ready(g) => assert_eq!(*g, 1),
            Poll::Pending => panic!("not re-locked"),
        }
    }

    #[test]
    fn dropped_notified_waiter_passes_on() {
        let m = Mutex::new(());
        let c = Condition::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut a = Box::pin(c.wait(block_on(m.lock())));
        assert!(a.as_mut().poll(&mut cx).is_pending());
        let mut b = pin!(c.wait(block_on(m.lock())));
        assert!(b.as_mut().poll(&mut cx).is_pending());
        c.notify(1);
        drop(a);
        assert!(b.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn wait_for_across_threads() {
        let m = Arc::new(Mutex::new(Vec::new()));
        let c = Arc::new(Condition::new());
        let producer = {
            let (m, c) = (m.clone(), c.clone());
            std::thread::spawn(move || {
                for i in 1..=3 {
                    let mut g = block_on(m.lock());
                    g.push(i);
                    c.notify_all();
                }
            })
        };
        let sum: i32 = block_on(async {
            let mut g = c.wait_for(m.lock().await, |v| v.len() == 3).await;
            g.drain(..).sum()
        });
        assert_eq!(sum, 6);
        producer.join().unwrap();
    }
}
