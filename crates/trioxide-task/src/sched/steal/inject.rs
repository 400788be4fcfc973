//! The global injection queue: where tasks spawned or woken from outside the workers go,
//! and where a full local queue overflows. A mutex-protected `VecDeque` with an atomic
//! length, so workers can check for work without taking the lock.

use super::queue::Overflow;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use std::collections::VecDeque;

pub(crate) struct Inject<T> {
    inner: Mutex<Inner<T>>,
    len: AtomicUsize,
}

struct Inner<T> {
    items: VecDeque<T>,
    closed: bool,
}

impl<T> Inject<T> {
    pub(crate) fn new() -> Self {
        Inject {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                closed: false,
            }),
            len: AtomicUsize::new(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues `item`; gives it back if the queue was closed (runtime shutting down).
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let mut inner = self.inner.lock().unwrap();
        if inner.closed {
            return Err(item);
        }
        inner.items.push_back(item);
        self.len.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn pop(&self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let mut inner = self.inner.lock().unwrap();
        let item = inner.items.pop_front()?;
        self.len.fetch_sub(1, Ordering::SeqCst);
        Some(item)
    }

    /// Takes up to `max` items, passing each to `sink` — after the lock is released, so
    /// the sink may push back into this queue (a local ring overflowing into it).
    pub(crate) fn pop_batch(&self, max: usize, mut sink: impl FnMut(T)) -> usize {
        if self.is_empty() || max == 0 {
            return 0;
        }
        let batch: Vec<T> = {
            let mut inner = self.inner.lock().unwrap();
            let n = max.min(inner.items.len());
            let batch: Vec<T> = inner.items.drain(..n).collect();
            self.len.fetch_sub(n, Ordering::SeqCst);
            batch
        };
        let n = batch.len();
        for item in batch {
            sink(item);
        }
        n
    }

    /// Refuses further pushes and returns what was queued.
    pub(crate) fn close(&self) -> Vec<T> {
        let mut inner = self.inner.lock().unwrap();
        inner.closed = true;
        self.len.store(0, Ordering::SeqCst);
        inner.items.drain(..).collect()
    }
}

impl<T> Overflow<T> for Inject<T> {
    fn push_batch(&self, items: Vec<T>) {
        let mut inner = self.inner.lock().unwrap();
        if inner.closed {
            drop(inner);
            drop(items); // shutting down: the tasks are cancelled through the owned list
            return;
        }
        self.len.fetch_add(items.len(), Ordering::SeqCst);
        inner.items.extend(items);
    }
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_batch_sink_may_push_back_into_the_queue() {
        // A sink that overflows into the same injector must not deadlock (it did when
        // the sink ran under the lock).
        let inject = Inject::new();
        for i in 0..10 {
            inject.push(i).unwrap();
        }
        let n = inject.pop_batch(5, |v| inject.push_batch(vec![v + 100]));
        assert_eq!(n, 5);
        assert_eq!(inject.len(), 10);
    }
}
