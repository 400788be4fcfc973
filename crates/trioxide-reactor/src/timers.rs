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
//!
//! The timers read time from their [`Clock`]: real time, or virtual time while paused.
//! With a paused clock nothing fires by itself; the runtime calls
//! [`jump_to_next`](Timers::jump_to_next) when it is idle (autojump), and
//! `trioxide::time::advance` moves the clock and calls [`process`](Timers::process).

use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::time::{Clock, TimerKey, TimerWheel};
use std::task::Waker;
use std::time::{Duration, Instant};

/// A runtime's timers.
pub struct Timers {
    start: Instant,
    clock: Clock,
    wheel: Mutex<TimerWheel<Waker>>,
    /// The tick a thread sleeping in the driver will wake at (`NOT_PARKED` when nobody
    /// sleeps; `u64::MAX` for no timeout). Written under the wheel lock.
    parked_until: AtomicU64,
    /// The wheel's next expiration (`u64::MAX`: none armed), or earlier, so that
    /// [`process`](Timers::process) skips the lock on the many turns where advancing the
    /// wheel could do nothing. Written under the wheel lock by every insert and advance; a
    /// removal leaves it early, which only costs one needless lock.
    earliest_due: AtomicU64,
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
    /// An empty timer driver on real time, whose tick 0 is now.
    pub fn new() -> Arc<Timers> {
        Self::with_clock(Clock::new(false))
    }

    /// An empty timer driver reading `clock`, whose tick 0 is the clock's now.
    pub fn with_clock(clock: Clock) -> Arc<Timers> {
        Arc::new(Timers {
            start: clock.now(),
            clock,
            wheel: Mutex::new(TimerWheel::new()),
            parked_until: AtomicU64::new(NOT_PARKED),
            earliest_due: AtomicU64::new(u64::MAX),
        })
    }

    /// The current instant on the timers' clock.
    #[inline]
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The timers' clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Pauses the clock at the next millisecond tick boundary (at most 1 ms ahead), so
    /// deadlines of whole milliseconds from then on fall exactly on ticks and fire at
    /// their exact instant.
    pub fn pause(&self) {
        let now = self.clock.now();
        self.clock.pause_at(self.tick_instant(self.tick_ceil(now)));
    }

    /// The instant the earliest armed timer fires at (`None`: no timer armed).
    pub fn next_deadline(&self) -> Option<Instant> {
        let next = self.wheel.lock().unwrap().next_expiration()?;
        Some(self.tick_instant(next))
    }

    fn tick_instant(&self, tick: u64) -> Instant {
        self.start
            .checked_add(Duration::from_millis(tick))
            .unwrap_or(self.start)
    }

    /// With a paused clock: moves it to the earliest timer's deadline (if later than now)
    /// and fires what is due. Returns how many timers fired (0 when none is armed or the
    /// clock is not paused).
    ///
    /// The wheel's next expiration may be the start of a coarse slot rather than a timer's
    /// deadline (its entries then cascade to finer levels without firing), so this steps
    /// until a timer fires or none is left.
    pub fn jump_to_next(&self) -> usize {
        if !self.clock.is_paused() {
            return 0;
        }
        while let Some(next) = self.next_deadline() {
            let Ok(now) = self.clock.advance_to(next) else {
                return 0;
            };
            let fired = self.process(now);
            if fired > 0 {
                return fired;
            }
        }
        0
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
        // The wheel's own check (`when <= elapsed`) lags behind the clock while
        // `process` skips the lock, so compare with the clock too.
        if when <= self.tick_floor(self.now()) {
            return Registered::AlreadyDue;
        }
        let mut wheel = self.wheel.lock().unwrap();
        match wheel.insert(when, waker.clone()) {
            Ok(key) => {
                let earliest = wheel.next_expiration().unwrap_or(u64::MAX);
                self.earliest_due.store(earliest, Ordering::Release);
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
        self.tick_instant(tick).saturating_duration_since(now)
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
    ///
    /// Takes no lock while no timer can be due yet. (A timer armed by another thread at
    /// this moment may be missed by this call, as if it had been armed just after it: the
    /// next park's timeout covers it.)
    pub fn process(&self, now: Instant) -> usize {
        let tick = self.tick_floor(now);
        if tick < self.earliest_due.load(Ordering::Acquire) {
            return 0;
        }
        let mut due = Vec::new();
        {
            let mut wheel = self.wheel.lock().unwrap();
            wheel.advance(tick, |_, waker| due.push(waker));
            let earliest = wheel.next_expiration().unwrap_or(u64::MAX);
            self.earliest_due.store(earliest, Ordering::Release);
        }
        let n = due.len();
        crate::wake::wake_all(due);
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

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_paused_clock_jumps_through_coarse_wheel_levels_to_the_exact_deadline() {
        let timers = Timers::with_clock(Clock::new(true));
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let t0 = timers.now();
        for secs in [3600, 7200] {
            let _ = timers.register(t0 + Duration::from_secs(secs), &waker);
        }
        assert_eq!(timers.jump_to_next(), 1);
        assert_eq!(timers.now() - t0, Duration::from_secs(3600));
        assert_eq!(timers.jump_to_next(), 1);
        assert_eq!(timers.now() - t0, Duration::from_secs(7200));
        assert_eq!(timers.jump_to_next(), 0, "no timer left: the clock stays");
        assert_eq!(timers.now() - t0, Duration::from_secs(7200));
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }

    /// Steps 1 and 2 of the wake-up protocol (docs/architecture.md, "Timers"): a timer
    /// armed while a sleeper is recorded asks for a wake-up exactly when it is due before
    /// the sleeper's recorded wake-up, and never while nobody sleeps.
    #[test]
    fn register_asks_to_wake_a_sleeper_only_for_a_sooner_deadline() {
        let timers = Timers::new();
        let waker = Waker::noop();
        let t0 = timers.now();
        let wake_driver = |deadline| match timers.register(deadline, waker) {
            Registered::Armed { wake_driver, .. } => wake_driver,
            Registered::AlreadyDue => panic!("{deadline:?} is not due yet"),
        };
        assert!(
            !wake_driver(t0 + Duration::from_secs(3600)),
            "nobody sleeps"
        );
        // The sleeper's wake-up is the start of the hour-away timer's coarse slot.
        let until = timers.prepare_park(timers.now()).expect("a timer is armed");
        assert!(until <= Duration::from_secs(3600));
        assert!(
            wake_driver(t0 + Duration::from_millis(30)),
            "sooner: wake it"
        );
        assert!(
            !wake_driver(t0 + Duration::from_secs(7200)),
            "later: it wakes first anyway"
        );
        timers.finish_park();
        assert!(
            !wake_driver(t0 + Duration::from_millis(10)),
            "the sleeper woke"
        );
        // A sleeper with no timer armed has no deadline: any timer asks.
        let idle = Timers::new();
        assert_eq!(idle.prepare_park(idle.now()), None);
        assert!(matches!(
            idle.register(idle.now() + Duration::from_secs(3600), waker),
            Registered::Armed {
                wake_driver: true,
                ..
            }
        ));
    }

    /// A deadline that passed after the wheel's last advance is still armed and makes
    /// the next park not wait at all; one at or before that advance is due at once.
    #[test]
    fn a_deadline_in_the_past_is_due_at_once_or_makes_the_park_not_wait() {
        let timers = Timers::new();
        let count = std::sync::Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        std::thread::sleep(Duration::from_millis(5));
        // Nothing advanced the wheel, but the clock says the deadline has passed.
        let past = timers.now() - Duration::from_millis(2);
        assert_eq!(timers.register(past, &waker), Registered::AlreadyDue);
        assert_eq!(timers.armed(), 0);
        // A deadline inside the current tick is armed; the park does not wait for it.
        let soon = timers.now() + Duration::from_micros(100);
        assert!(matches!(
            timers.register(soon, &waker),
            Registered::Armed { .. }
        ));
        let wait = timers.prepare_park(timers.now()).expect("a timer is armed");
        assert!(wait <= Duration::from_millis(1), "waits {wait:?}");
        timers.finish_park();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(timers.process(timers.now()), 1);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(timers.armed(), 0);
    }

    #[test]
    fn a_real_clock_never_jumps() {
        let timers = Timers::new();
        let waker = Waker::noop();
        let _ = timers.register(timers.now() + Duration::from_secs(60), waker);
        assert_eq!(timers.jump_to_next(), 0);
        assert_eq!(timers.armed(), 1);
    }
}
