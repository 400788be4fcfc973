//! Who is searching and who sleeps: the coordination that keeps at most a few workers
//! spinning for work and wakes at most one sleeper per notification (no thundering herd).
//!
//! One atomic word counts searching workers (low half) and awake workers (high half); a
//! mutex-protected list holds the indices of sleeping workers. A notification (new work)
//! wakes a sleeper only when nobody is searching — the searcher will find the work, and
//! when it does, it wakes the next one (a chain, as in Go's and tokio's schedulers).

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::pad::CachePadded;

const SEARCH_SHIFT: u32 = 0;
const UNPARKED_SHIFT: u32 = 16;
const SEARCH_MASK: usize = (1 << UNPARKED_SHIFT) - 1;
const SEARCH_ONE: usize = 1 << SEARCH_SHIFT;
const UNPARKED_ONE: usize = 1 << UNPARKED_SHIFT;

pub(crate) struct Idle {
    /// `searching | unparked << 16`, on its own lines (every notification reads it).
    state: CachePadded<AtomicUsize>,
    sleepers: Mutex<Vec<usize>>,
    workers: usize,
}

fn searching(state: usize) -> usize {
    state & SEARCH_MASK
}

fn unparked(state: usize) -> usize {
    state >> UNPARKED_SHIFT
}

impl Idle {
    pub(crate) fn new(workers: usize) -> Self {
        assert!(workers < SEARCH_MASK, "too many workers");
        Idle {
            state: CachePadded(AtomicUsize::new(workers * UNPARKED_ONE)),
            sleepers: Mutex::new(Vec::with_capacity(workers)),
            workers,
        }
    }

    /// New work exists: returns the worker to wake, if one should be woken. The caller
    /// unparks it; it starts out searching.
    pub(crate) fn worker_to_notify(&self) -> Option<usize> {
        if !self.should_notify() {
            return None;
        }
        let mut sleepers = self.sleepers.lock().unwrap();
        if !self.should_notify() {
            return None;
        }
        let worker = sleepers.pop()?;
        self.state
            .fetch_add(SEARCH_ONE | UNPARKED_ONE, Ordering::SeqCst);
        Some(worker)
    }

    /// Only wake someone when nobody searches and not everyone is awake.
    fn should_notify(&self) -> bool {
        let state = self.state.fetch_add(0, Ordering::SeqCst);
        searching(state) == 0 && unparked(state) < self.workers
    }

    /// A worker wants to steal: allowed while at most half the workers search.
    pub(crate) fn try_start_searching(&self) -> bool {
        let state = self.state.load(Ordering::SeqCst);
        if 2 * searching(state) >= self.workers {
            return false;
        }
        self.state.fetch_add(SEARCH_ONE, Ordering::SeqCst);
        true
    }

    /// A searching worker found work (or gave up). Returns whether it was the last
    /// searcher, in which case it must wake another worker to keep the chain going.
    pub(crate) fn stop_searching(&self) -> bool {
        let prev = self.state.fetch_sub(SEARCH_ONE, Ordering::SeqCst);
        debug_assert!(searching(prev) > 0);
        searching(prev) == 1
    }

    /// The worker goes to sleep. Returns whether it was the last searcher (it must then
    /// look for work once more before sleeping, so none is stranded).
    pub(crate) fn park(&self, worker: usize, was_searching: bool) -> bool {
        let mut sleepers = self.sleepers.lock().unwrap();
        let dec = UNPARKED_ONE + if was_searching { SEARCH_ONE } else { 0 };
        let prev = self.state.fetch_sub(dec, Ordering::SeqCst);
        sleepers.push(worker);
        was_searching && searching(prev) == 1
    }

    /// The worker woke up. Returns `true` if a notifier woke it (it was taken off the
    /// list and counted as searching), `false` for any other wake-up (I/O, timer,
    /// shutdown), in which case it takes itself off the list here.
    pub(crate) fn unpark(&self, worker: usize) -> bool {
        let mut sleepers = self.sleepers.lock().unwrap();
        match sleepers.iter().position(|&w| w == worker) {
            Some(i) => {
                sleepers.swap_remove(i);
                self.state.fetch_add(UNPARKED_ONE, Ordering::SeqCst);
                false
            }
            None => true,
        }
    }
}
