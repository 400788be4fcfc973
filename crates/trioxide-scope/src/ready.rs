//! Per-child wake-ups: each borrowed child gets its own waker that queues the child's
//! index and wakes the scope, so a wake re-polls only the children that asked (a scope of
//! 10,000 children does not poll 10,000 futures per wake-up).

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

/// The queue of children to poll, and the scope's own waker.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    ready: Vec<usize>,
    parent: Option<Waker>,
    /// The parent was woken and has not taken the queue since: later pushes need not
    /// wake it again (one wake-up per batch, not per child).
    notified: bool,
}

/// A child's waker: queues `index` once until it is polled again.
pub(crate) struct ChildWake {
    index: usize,
    queued: AtomicBool,
    queue: Arc<ReadyQueue>,
}

impl ReadyQueue {
    /// Stores the scope task's waker (called on every scope poll).
    pub(crate) fn set_parent(&self, waker: &Waker) {
        let mut inner = self.inner.lock().unwrap();
        match &inner.parent {
            Some(w) if w.will_wake(waker) => {}
            _ => inner.parent = Some(waker.clone()),
        }
    }

    /// Wakes the scope's task (after a cancellation request from anywhere).
    pub(crate) fn wake_parent(&self) {
        let parent = self.inner.lock().unwrap().parent.clone();
        if let Some(parent) = parent {
            parent.wake();
        }
    }

    /// Takes the indices queued since the last call.
    pub(crate) fn take(&self, into: &mut Vec<usize>) {
        into.clear();
        let mut inner = self.inner.lock().unwrap();
        inner.notified = false;
        std::mem::swap(&mut inner.ready, into);
    }

    fn push(&self, index: usize) {
        let parent = {
            let mut inner = self.inner.lock().unwrap();
            inner.ready.push(index);
            if inner.notified {
                return;
            }
            inner.notified = true;
            inner.parent.clone()
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

impl ChildWake {
    /// A waker for child `index`, queued once right away (so the child gets its first
    /// poll).
    pub(crate) fn new(index: usize, queue: Arc<ReadyQueue>) -> Arc<ChildWake> {
        let wake = Arc::new(ChildWake {
            index,
            queued: AtomicBool::new(true),
            queue,
        });
        wake.queue.push(index);
        wake
    }

    /// Called right before the child is polled: later wakes queue it again.
    pub(crate) fn unqueue(&self) {
        self.queued.store(false, Ordering::SeqCst);
    }
}

impl Wake for ChildWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::SeqCst) {
            self.queue.push(self.index);
        }
    }
}
