//! The time driver: the hierarchical [`TimerWheel`] behind a
//! mutex, holding the waker of every armed timer, at 1 ms resolution.
//!
//! Deadlines are rounded *up* to the next millisecond tick and the wheel is advanced to
//! the current tick rounded *down*, so a timer never fires before its deadline. The wheel's
//! next expiration bounds how long the reactor may wait.
//!
//! With several threads, a timer may be armed while another thread already sleeps in the
//! driver with a later (or no) wake-up: `prepare_park` records, under the wheel's lock,
//! the tick the driver sleeps until, and `register` tells its caller to wake the driver
//! when the new deadline is earlier.

use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::time::{TimerKey, TimerWheel};
use std::task::Waker;
use std::time::{Duration, Instant};

/// A runtime's timers.
pub struct Timers {
    start: Instant,
    wheel: Mutex<TimerWheel<Waker>>,
    /// The tick a thread sleeping in the driver will wake at (`NOT_PARKED` when nobody
    /// sleeps; `u64::MAX` for no timeout). Written under the wheel lock.
    parked_until: AtomicU64,
}

/// `parked_until` when no thread sleeps in the driver.
const NOT_PARKED: u64 = 0;

/// What [`Timers::register`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Registered {
    /// The deadline has already passed: nothing was armed.
    AlreadyDue,
    /// Armed. If `wake_driver`, a thread sleeps in the driver past this deadline: the
    /// caller must unpark the reactor so it re-computes its timeout.
    Armed {
        /// The timer's key, to update or cancel it.
        key: TimerKey,
        /// Whether to unpark the reactor.
        wake_driver: bool,
    },
}

impl Timers {
    /// An empty timer driver whose tick 0 is now.
    pub fn new() -> Arc<Timers> {
        Arc::new(Timers {
            start: Instant::now(),
            wheel: Mutex::new(TimerWheel::new()),
            parked_until: AtomicU64::new(NOT_PARKED),
        })
    }

    fn tick_ceil(&self, t: Instant) -> u64 {
        let nanos = t.saturating_duration_since(self.start).as_nanos();
        u64::try_from(nanos.div_ceil(1_000_000)).unwrap_or(u64::MAX)
    }

    fn tick_floor(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.start).as_millis()).unwrap_or(u64::MAX)
    }

    /// Arms a timer that wakes `waker` at `deadline`.
    pub fn register(&self, deadline: Instant, waker: &Waker) -> Registered {
        let when = self.tick_ceil(deadline);
        let mut wheel = self.wheel.lock().unwrap();
        match wheel.insert(when, waker.clone()) {
            Ok(key) => {
                let parked_until = self.parked_until.load(Ordering::Relaxed);
                Registered::Armed {
                    key,
                    wake_driver: parked_until != NOT_PARKED && when < parked_until,
                }
            }
            Err(_) => Registered::AlreadyDue,
        }
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
        Some(self.until_tick(next, now))
    }

    fn until_tick(&self, tick: u64, now: Instant) -> Duration {
        let at = self.start + Duration::from_millis(tick);
        at.saturating_duration_since(now)
    }

    /// The calling thread is about to sleep in the driver: returns how long it may sleep
    /// for the timers' sake, and remembers it so that an earlier timer armed meanwhile
    /// asks for a wake-up. Pair with [`finish_park`](Timers::finish_park).
    pub fn prepare_park(&self, now: Instant) -> Option<Duration> {
        let wheel = self.wheel.lock().unwrap();
        let next = wheel.next_expiration();
        self.parked_until
            .store(next.unwrap_or(u64::MAX).max(1), Ordering::Relaxed);
        next.map(|tick| self.until_tick(tick, now))
    }

    /// The thread woke up from the driver.
    pub fn finish_park(&self) {
        let _wheel = self.wheel.lock().unwrap();
        self.parked_until.store(NOT_PARKED, Ordering::Relaxed);
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
