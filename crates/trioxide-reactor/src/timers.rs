//! The time driver: the hierarchical [`TimerWheel`](crate::time::TimerWheel) behind a
//! mutex, holding the waker of every armed timer, at 1 ms resolution.
//!
//! Deadlines are rounded *up* to the next millisecond tick and the wheel is advanced to
//! the current tick rounded *down*, so a timer never fires before its deadline. The wheel's
//! next expiration bounds how long the reactor may wait.

use crate::loom::sync::{Arc, Mutex};
use crate::time::{TimerKey, TimerWheel};
use std::task::Waker;
use std::time::{Duration, Instant};

/// A runtime's timers.
pub struct Timers {
    start: Instant,
    wheel: Mutex<TimerWheel<Waker>>,
}

impl Timers {
    /// An empty timer driver whose tick 0 is now.
    pub fn new() -> Arc<Timers> {
        Arc::new(Timers {
            start: Instant::now(),
            wheel: Mutex::new(TimerWheel::new()),
        })
    }

    fn tick_ceil(&self, t: Instant) -> u64 {
        let nanos = t.saturating_duration_since(self.start).as_nanos();
        u64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }

    fn tick_floor(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX)
    }

    /// Arms a timer that wakes `waker` at `deadline`; `None` if it is already due.
    pub fn register(&self, deadline: Instant, waker: &Waker) -> Option<TimerKey> {
        let when = self.tick_ceil(deadline);
        self.wheel.lock().unwrap().insert(when, waker.clone()).ok()
    }

    /// Replaces the waker of an armed timer; `false` if it already fired.
    pub fn update_waker(&self, key: TimerKey, waker: &Waker) -> bool {
        let mut wheel = self.wheel.lock().unwrap();
        match wheel.get_mut(key) {
            Some(slot) => {
                if !slot.will_wake(waker) {
                    *slot = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// Disarms a timer (a no-op if it fired).
    pub fn cancel(&self, key: TimerKey) {
        let removed = self.wheel.lock().unwrap().remove(key);
        drop(removed); // the waker is dropped outside the lock
    }

    /// How long until the next timer may fire, from `now` (`None`: no timer armed).
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let next = self.wheel.lock().unwrap().next_expiration()?;
        let at = self.start + Duration::from_millis(next);
        Some(at.saturating_duration_since(now))
    }

    /// Fires every timer due at `now`; returns how many fired.
    pub fn process(&self, now: Instant) -> usize {
        let tick = self.tick_floor(now);
        let mut due = Vec::new();
        {
            let mut wheel = self.wheel.lock().unwrap();
            wheel.advance(tick, |_, waker| due.push(waker));
        }
        let n = due.len();
        due.into_iter().for_each(Waker::wake);
        n
    }

    /// Timers currently armed.
    pub fn armed(&self) -> usize {
        self.wheel.lock().unwrap().len()
    }
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("armed", &self.armed())
            .finish()
    }
}
