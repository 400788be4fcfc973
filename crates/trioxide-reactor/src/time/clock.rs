//! The runtime's clock: real monotonic time, or virtual time that can be paused, moved
//! by hand and (in the facade) made to jump to the next timer when the runtime is idle —
//! the idea of Trio's `MockClock` and tokio's `time::pause`, written for our timers.
//!
//! The clock is in one of three modes, kept in an atomic so the common case costs one
//! relaxed load before `Instant::now()`:
//! - `REAL`: never paused; `now()` is the system's monotonic clock.
//! - `PAUSED`: `now()` is a frozen instant that only [`advance_to`](Clock::advance_to)
//!   moves (forward only).
//! - `SHIFTED`: resumed after a pause; `now()` is real time plus (or minus) the offset the
//!   pause left, so time runs again at real speed from where the virtual clock stood.
//!
//! Virtual time never goes backwards: resuming keeps the instant the pause reached.

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const REAL: u32 = 0;
const PAUSED: u32 = 1;
const SHIFTED: u32 = 2;

/// A clock that is real until paused.
#[derive(Debug)]
pub struct Clock {
    mode: AtomicU32,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// `now()` while paused.
    frozen: Instant,
    /// virtual − real while shifted.
    shift: Shift,
}

#[derive(Debug, Clone, Copy)]
enum Shift {
    Ahead(Duration),
    Behind(Duration),
}

impl Shift {
    fn apply(self, real: Instant) -> Instant {
        match self {
            Shift::Ahead(d) => real.checked_add(d).unwrap_or(real),
            Shift::Behind(d) => real.checked_sub(d).unwrap_or(real),
        }
    }
}

/// Why a clock operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// `advance` or `resume` on a clock that is not paused.
    #[error(
        "the runtime's clock is not paused; call trioxide::time::pause() first (or build \
         the runtime with Builder::start_paused(true))"
    )]
    NotPaused,
}

impl Clock {
    /// A real clock; `paused` starts it paused at the current instant.
    pub fn new(paused: bool) -> Clock {
        let now = Instant::now();
        let clock = Clock {
            mode: AtomicU32::new(REAL),
            state: Mutex::new(State {
                frozen: now,
                shift: Shift::Ahead(Duration::ZERO),
            }),
        };
        if paused {
            clock.freeze_at(now);
        }
        clock
    }

    /// The current instant (virtual if the clock was ever paused).
    #[inline]
    pub fn now(&self) -> Instant {
        if self.mode.load(Ordering::Acquire) == REAL {
            return Instant::now();
        }
        self.now_slow()
    }

    #[cold]
    fn now_slow(&self) -> Instant {
        let state = self.state.lock().unwrap();
        match self.mode.load(Ordering::Acquire) {
            PAUSED => state.frozen,
            _ => state.shift.apply(Instant::now()),
        }
    }

    /// Whether the clock stands still.
    pub fn is_paused(&self) -> bool {
        self.mode.load(Ordering::Acquire) == PAUSED
    }

    /// Stops the clock at the current instant (a no-op if it is already paused).
    pub fn pause(&self) {
        self.pause_at(self.now());
    }

    /// Stops the clock at `at`, or now if `at` is earlier (time never goes back); a no-op
    /// if it is already paused.
    pub fn pause_at(&self, at: Instant) {
        if self.is_paused() {
            return;
        }
        let now = self.now();
        self.freeze_at(now.max(at));
    }

    fn freeze_at(&self, now: Instant) {
        let mut state = self.state.lock().unwrap();
        state.frozen = now;
        self.mode.store(PAUSED, Ordering::Release);
        mark_virtual_time_in_use();
    }

    /// Lets the clock run again at real speed from the instant it was paused at.
    pub fn resume(&self) -> Result<(), ClockError> {
        let mut state = self.state.lock().unwrap();
        if self.mode.load(Ordering::Acquire) != PAUSED {
            return Err(ClockError::NotPaused);
        }
        let real = Instant::now();
        state.shift = match state.frozen.checked_duration_since(real) {
            Some(ahead) => Shift::Ahead(ahead),
            None => Shift::Behind(real.duration_since(state.frozen)),
        };
        self.mode.store(SHIFTED, Ordering::Release);
        Ok(())
    }

    /// Moves a paused clock forward to `to` (not backwards: an earlier `to` changes
    /// nothing). Returns the clock's instant afterwards.
    pub fn advance_to(&self, to: Instant) -> Result<Instant, ClockError> {
        let mut state = self.state.lock().unwrap();
        if self.mode.load(Ordering::Acquire) != PAUSED {
            return Err(ClockError::NotPaused);
        }
        state.frozen = state.frozen.max(to);
        Ok(state.frozen)
    }
}

// A hint, not part of any synchronization protocol (each clock's own mode word is), so it
// stays on std's atomic even under loom (loom atomics cannot live in a `static`).
static VIRTUAL_TIME_IN_USE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

fn mark_virtual_time_in_use() {
    VIRTUAL_TIME_IN_USE.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether any clock in this process was ever paused. While `false`, every clock reads
/// real time, so callers may skip looking up their runtime's clock.
#[inline]
pub fn virtual_time_in_use() -> bool {
    VIRTUAL_TIME_IN_USE.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_paused_clock_stands_still_and_moves_only_forward() {
        let clock = Clock::new(true);
        let t0 = clock.now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(clock.now(), t0);
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(clock.advance_to(later), Ok(later));
        assert_eq!(clock.advance_to(t0), Ok(later), "never backwards");
        assert_eq!(clock.now(), later);
        assert!(virtual_time_in_use());
    }

    #[test]
    fn resuming_runs_on_from_the_virtual_instant() {
        let clock = Clock::new(true);
        let t0 = clock.now();
        let ahead = t0 + Duration::from_secs(100);
        clock.advance_to(ahead).unwrap();
        clock.resume().unwrap();
        assert!(!clock.is_paused());
        let now = clock.now();
        assert!(
            now >= ahead && now < ahead + Duration::from_secs(30),
            "{now:?}"
        );
        assert_eq!(clock.resume(), Err(ClockError::NotPaused));
        assert_eq!(clock.advance_to(ahead), Err(ClockError::NotPaused));
        clock.pause();
        assert!(clock.is_paused() && clock.now() >= ahead);
    }

    #[test]
    fn a_real_clock_follows_the_system_clock() {
        let clock = Clock::new(false);
        let before = Instant::now();
        let now = clock.now();
        assert!(now >= before && now <= Instant::now());
    }
}
