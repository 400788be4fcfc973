//! `interval(period)`: a ticker. The first tick completes immediately; later ticks are
//! spaced `period` apart on a fixed schedule. A tick that is late (the task was busy) is
//! delivered at once and the schedule catches up without drifting (tokio's `Burst`).

use super::{Instant, Sleep, sleep_until};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A ticker created by [`interval`].
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
    sleep: Sleep,
}

/// Ticks every `period`, starting now.
///
/// # Panics
/// If `period` is zero (it would tick forever without waiting).
///
/// ```
/// use std::time::Duration;
///
/// trioxide::run(async {
///     let mut ticker = trioxide::time::interval(Duration::from_millis(10));
///     ticker.tick().await; // the first tick is immediate
///     for _ in 0..3 {
///         ticker.tick().await; // then one every 10 ms
///     }
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, starting at `start`.
///
/// # Panics
/// If `period` is zero.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "trioxide::time::interval: the period must be non-zero"
    );
    Interval {
        next: start,
        period,
        sleep: sleep_until(start),
    }
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let tick = self.next;
        self.next = tick.saturating_add(self.period);
        self.sleep.reset(self.next);
        Poll::Ready(tick)
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}
