//! `sleep` and `sleep_until`: futures that complete at a deadline, backed by the
//! runtime's timer wheel. Dropping a `Sleep` disarms its timer.

use super::Instant;
use crate::runtime::{Handle, with_current};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use trioxide_reactor::time::TimerKey;
use trioxide_reactor::timers::Registered;

/// Waits for `duration` (asyncio's `await asyncio.sleep(seconds)`).
///
/// Never completes early; resolution is 1 ms. Must be awaited inside a runtime.
///
/// ```
/// use std::time::Duration;
/// use trioxide::time::{Instant, sleep};
///
/// trioxide::run(async {
///     let started = Instant::now();
///     sleep(Duration::from_millis(20)).await;
///     assert!(started.elapsed() >= Duration::from_millis(20)); // never early
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    Sleep::new(Instant::now().saturating_add(duration))
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

/// The future of [`sleep`] / [`sleep_until`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    deadline: Instant,
    /// The armed timer and the runtime that holds it; `None` until first polled.
    armed: Option<(Handle, TimerKey)>,
    fired: bool,
}

impl Sleep {
    fn new(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            armed: None,
            fired: false,
        }
    }

    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        self.fired || Instant::now() >= self.deadline
    }

    /// Moves the deadline (re-arming the timer), like asyncio's `Timeout.reschedule`.
    pub fn reset(&mut self, deadline: Instant) {
        self.disarm();
        self.deadline = deadline;
        self.fired = false;
    }

    fn disarm(&mut self) {
        if let Some((handle, key)) = self.armed.take() {
            handle.timers().cancel(key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.fired {
            return Poll::Ready(());
        }
        if trioxide_task::coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let this = &mut *self;
        if Instant::now() >= this.deadline {
            this.disarm();
            this.fired = true;
            return Poll::Ready(());
        }
        let still_armed = match &this.armed {
            Some((handle, key)) => handle.timers().update_waker(*key, cx.waker()),
            None => {
                let armed = with_current("trioxide::time::sleep", |handle| {
                    match handle
                        .timers()
                        .register(this.deadline.into_std(), cx.waker())
                    {
                        Registered::AlreadyDue => None,
                        Registered::Armed { key, wake_driver } => {
                            if wake_driver {
                                handle.unpark_timer_driver();
                            }
                            Some((handle.clone(), key))
                        }
                    }
                });
                let ok = armed.is_some();
                this.armed = armed;
                ok
            }
        };
        if still_armed {
            Poll::Pending
        } else {
            this.armed = None;
            this.fired = true;
            Poll::Ready(())
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}
