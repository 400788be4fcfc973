//! `timeout(duration, future)`: asyncio's `wait_for` / `asyncio.timeout`. When the time is
//! up the inner future is dropped (cancelled) and `Err(Elapsed)` is returned.

use super::{Instant, Sleep, sleep_until};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct Elapsed(());

/// Runs `future` for at most `duration`.
///
/// The inner future is polled first, so one that is already ready wins even with a zero
/// duration. On timeout it is dropped before `Err(Elapsed)` is returned.
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(Instant::now().saturating_add(duration), future)
}

/// Runs `future` until `deadline` at most.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future: Some(future),
        sleep: sleep_until(deadline),
    }
}

/// The future of [`timeout`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Timeout<F> {
    /// `None` once dropped on timeout.
    future: Option<F>,
    sleep: Sleep,
}

impl<F> Timeout<F> {
    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.sleep.deadline()
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `future` is structurally pinned: it is never moved out while pinned
        // (only dropped in place through `set(None)`), and `sleep` is `Unpin`.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(future) = this.future.as_mut() else {
            return Poll::Ready(Err(Elapsed(())));
        };
        // SAFETY: see above; `future` lives in the pinned `Timeout`.
        if let Poll::Ready(out) = unsafe { Pin::new_unchecked(future) }.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        // The timer fires regardless of the task's coop budget being spent on `future`.
        match trioxide_task::coop::with_budget(|| Pin::new(&mut this.sleep).poll(cx)) {
            Poll::Ready(()) => {
                // SAFETY: dropping in place is allowed for pinned data.
                unsafe { Pin::new_unchecked(&mut this.future) }.set(None);
                Poll::Ready(Err(Elapsed(())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
