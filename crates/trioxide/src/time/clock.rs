//! Virtual time for tests: [`pause`], [`resume`] and [`advance`] act on the current
//! runtime's clock (Trio's `MockClock`, tokio's `time::pause`).
//!
//! While the clock is paused, [`Instant::now`](super::Instant::now) stands still while
//! tasks run. When every task waits and no I/O is ready, the runtime jumps the clock to
//! the next timer's deadline (autojump), so sleeps and timeouts complete at their exact
//! virtual deadlines without real waiting: an hour of `interval` ticks takes milliseconds.
//!
//! The autojump rule (what counts as idle; why a task waiting on a socket fed by another
//! task is not starved, and what external I/O does) is documented in the runtime's
//! `park` module and repeated on [`pause`].
//!
//! ```
//! use std::time::Duration;
//! use trioxide::time::{Instant, sleep};
//!
//! let rt = trioxide::Runtime::builder()
//!     .flavor(trioxide::runtime::Flavor::CurrentThread)
//!     .start_paused(true)
//!     .build()
//!     .unwrap();
//! rt.block_on(async {
//!     let start = Instant::now();
//!     sleep(Duration::from_secs(3600)).await; // returns at once in real time
//!     assert_eq!(start.elapsed(), Duration::from_secs(3600));
//! });
//! ```

use super::Instant;
use crate::runtime::{Flavor, Handle};
use std::time::Duration;
use trioxide_reactor::time::ClockError;

/// Why a clock operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeControlError {
    /// Called outside a runtime.
    #[error("trioxide::time::{0} called outside a runtime; call it inside trioxide::run(..)")]
    NoRuntime(&'static str),
    /// The runtime is not `Flavor::CurrentThread`.
    #[error(
        "trioxide::time::{what} needs a Flavor::CurrentThread runtime (this one is \
         {flavor:?}): with several threads nobody can tell when all tasks are idle"
    )]
    NotCurrentThread {
        /// The function called.
        what: &'static str,
        /// The runtime's flavor.
        flavor: Flavor,
    },
    /// `resume` or `advance` while the clock runs.
    #[error(transparent)]
    NotPaused(#[from] ClockError),
}

fn current(what: &'static str) -> Result<Handle, TimeControlError> {
    let handle = Handle::try_current().map_err(|_| TimeControlError::NoRuntime(what))?;
    match handle.flavor() {
        Flavor::CurrentThread => Ok(handle),
        flavor => Err(TimeControlError::NotCurrentThread { what, flavor }),
    }
}

/// Pauses the current runtime's clock (a no-op if it is paused already), at the next
/// millisecond boundary (the timer resolution), so later deadlines land exactly.
///
/// From now on time stands still while tasks run, and jumps to the next timer deadline
/// whenever the runtime is idle. Idle means: no task is ready, a non-blocking poll of the
/// reactor finds no readiness and no completed operation, and no `to_thread` job is
/// pending. I/O between tasks of the same runtime therefore works (the peer's write is
/// seen before time moves); I/O from outside the runtime that has not arrived yet races
/// with the jumps, so keep real time around it (or [`resume`]).
///
/// Needs a `Flavor::CurrentThread` runtime (see
/// [`Builder::start_paused`](crate::runtime::Builder::start_paused) to start paused).
pub fn pause() -> Result<(), TimeControlError> {
    current("pause")?.timers().pause();
    Ok(())
}

/// Lets the paused clock run again at real speed, from the virtual instant it reached.
pub fn resume() -> Result<(), TimeControlError> {
    current("resume")?.timers().clock().resume()?;
    Ok(())
}

/// Whether the current runtime's clock is paused (`false` outside a runtime).
pub fn is_paused() -> bool {
    Handle::try_current().is_ok_and(|h| h.timers().clock().is_paused())
}

/// Moves the paused clock forward by `duration`, firing the timers due on the way in
/// deadline order and letting the tasks they wake run before time moves past the next
/// deadline; returns once the clock reads `now + duration` and the tasks woken at that
/// instant had a turn.
///
/// A timer armed by a woken task fires within the same `advance` if its deadline falls
/// before the target. The tasks see each deadline as the current time when they wake.
pub async fn advance(duration: Duration) -> Result<(), TimeControlError> {
    let handle = current("advance")?;
    let timers = handle.timers().clone();
    let target = Instant::now().saturating_add(duration).into_std();
    if !timers.clock().is_paused() {
        return Err(ClockError::NotPaused.into());
    }
    loop {
        // Step to the next deadline at or before the target (or the target itself), fire,
        // and yield so the woken tasks run before time moves on.
        let next = timers.next_deadline().filter(|&d| d <= target);
        let step = next.unwrap_or(target);
        let now = timers.clock().advance_to(step)?;
        timers.process(now);
        crate::yield_now().await;
        if next.is_none() {
            return Ok(());
        }
    }
}
