//! Time: the hierarchical timer wheel behind the runtime's time driver.
//!
//! [`TimerWheel`] is a six-level, 64-slot hierarchical timing wheel (Varghese & Lauck,
//! SOSP 1987) over `u64` millisecond ticks since the driver started; the driver keeps it
//! behind a mutex with `Waker`s as payloads, sleeps until
//! [`next_expiration`](TimerWheel::next_expiration) and calls
//! [`advance`](TimerWheel::advance) to wake the timers that are due. [`Clock`] is the time
//! the driver reads: real, or virtual (paused) for deterministic tests.

pub mod clock;
pub mod wheel;

pub use clock::{Clock, ClockError, virtual_time_in_use};
pub use wheel::{TimerKey, TimerWheel};
