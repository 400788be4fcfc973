//! `trioxide::time::Instant`: a monotonic instant owned by trioxide (a thin wrapper over
//! `std::time::Instant`). Inside a runtime whose clock is paused, [`Instant::now`] reads
//! the virtual clock (see [`pause`](super::pause)); elsewhere it is the system clock. As
//! long as no clock in the process was ever paused, `now()` costs one relaxed load more
//! than `std::time::Instant::now()`.

use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

/// A point in monotonic time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// The current time: the runtime's virtual clock when it is paused (or was), else
    /// the system's monotonic clock.
    #[inline]
    pub fn now() -> Instant {
        if !trioxide_reactor::time::virtual_time_in_use() {
            return Instant(std::time::Instant::now());
        }
        Instant(crate::runtime::clock_now())
    }

    /// Wraps a std instant.
    pub fn from_std(std: std::time::Instant) -> Instant {
        Instant(std)
    }

    /// The std instant.
    pub fn into_std(self) -> std::time::Instant {
        self.0
    }

    /// Time since `earlier`, zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// Time since `earlier`, or `None` if `earlier` is later.
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// Time elapsed since this instant (on the runtime's clock, like [`Instant::now`]).
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// `self + d`, or `None` on overflow.
    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        self.0.checked_add(d).map(Instant)
    }

    /// `self - d`, or `None` on underflow.
    pub fn checked_sub(&self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(d).map(Instant)
    }

    /// `self + d`, saturating at a far-future instant instead of overflowing.
    pub(crate) fn saturating_add(self, d: Duration) -> Instant {
        self.checked_add(d).unwrap_or_else(far_future)
    }
}

/// About 30 years from now: "never", without overflowing `Instant` arithmetic.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

impl From<std::time::Instant> for Instant {
    fn from(std: std::time::Instant) -> Self {
        Instant(std)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(i: Instant) -> Self {
        i.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0 + rhs)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        self.0 += rhs;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, rhs: Duration) -> Instant {
        Instant(self.0 - rhs)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, rhs: Duration) {
        self.0 -= rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.duration_since(rhs)
    }
}
