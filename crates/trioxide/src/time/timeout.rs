//! `timeout(duration, future)`: asyncio's `wait_for` / `asyncio.timeout`. When the time is
//! up the inner future is dropped (cancelled) and `Err(Elapsed)` is returned.

use super::{Instant, Sleep, sleep_until};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use trioxide_task::cancel::ChildCancelSlot;

/// The error of [`timeout`]: the deadline passed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("deadline has elapsed")]
pub struct Elapsed(());

/// Runs `future` for at most `duration`.
///
/// The inner future is polled first, so one that is already ready wins even with a zero
/// duration. On timeout it is dropped — as a cancellation, so its `on_cancel` cleanups
/// run to completion — before `Err(Elapsed)` is returned.
///
/// Unless it watches for that: while a [`cancelled()`](crate::cancelled) is pending
/// inside, the timeout is *delivered* to it instead (asyncio's catchable
/// `CancelledError`): `cancelled()` resolves and the future goes on to finish in its own
/// time, and its value comes back as `Ok` (as from `asyncio.wait_for` when the coroutine
/// swallowed the cancellation), or it awaits [`reraise_cancel`](crate::reraise_cancel)
/// and the timeout returns `Err(Elapsed)`.
///
/// ```
/// use std::time::Duration;
/// use trioxide::time::{sleep, timeout};
///
/// trioxide::run(async {
///     assert_eq!(timeout(Duration::from_secs(10), async { 7 }).await, Ok(7));
///     let late = timeout(Duration::from_millis(5), sleep(Duration::from_secs(60))).await;
///     assert!(late.is_err()); // Elapsed: the sleep was dropped
/// });
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    timeout_at(Instant::now().saturating_add(duration), future)
}

/// Runs `future` until `deadline` at most.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future: Some(future),
        sleep: sleep_until(deadline),
        cleanup: None,
        level: Some(ChildCancelSlot::transparent()),
        delivered: false,
    }
}

/// [`timeout`] that always drops the future at the deadline, even with a `cancelled()`
/// pending inside: for the runtime's own bounds (a cleanup's grace period), which must
/// hold whatever the bounded code watches.
pub(crate) fn hard_timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        level: None,
        ..timeout(duration, future)
    }
}

/// The future of [`timeout`].
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<F> {
    /// `None` once dropped on timeout.
    future: Option<F>,
    sleep: Sleep,
    /// The cancelled future's cleanups, run before `Elapsed` is returned.
    cleanup: Option<trioxide_task::cancel::Cleanup>,
    /// What a `cancelled()` inside watches (entered while `future` is polled); `None`
    /// for a [`hard_timeout`].
    level: Option<ChildCancelSlot>,
    /// The deadline passed and was delivered to a `cancelled()` inside: `future` runs on.
    delivered: bool,
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
        // (only dropped in place by `cancel_in_place`); `sleep` and `cleanup` are `Unpin`.
        let this = unsafe { self.get_unchecked_mut() };
        if let Some(cleanup) = this.cleanup.as_mut() {
            std::task::ready!(cleanup.as_mut().poll(cx));
            this.cleanup = None;
            return Poll::Ready(Err(Elapsed(())));
        }
        let Some(future) = this.future.as_mut() else {
            return Poll::Ready(Err(Elapsed(())));
        };
        // SAFETY: see above; `future` lives in the pinned `Timeout`.
        let future = unsafe { Pin::new_unchecked(future) };
        let polled = match &this.level {
            Some(level) => level.poll_in(|| future.poll(cx)),
            None => future.poll(cx),
        };
        if let Poll::Ready(out) = polled {
            return Poll::Ready(Ok(out));
        }
        if this
            .level
            .as_ref()
            .is_some_and(ChildCancelSlot::take_reraised)
        {
            // A delivered timeout re-raised (`reraise_cancel`): it is one after all.
            return this.cancel(cx);
        }
        if this.delivered {
            return Poll::Pending;
        }
        // The timer fires regardless of the task's coop budget being spent on `future`.
        match trioxide_task::coop::with_budget(|| Pin::new(&mut this.sleep).poll(cx)) {
            Poll::Ready(()) if this.level.as_ref().is_some_and(ChildCancelSlot::deliver) => {
                // A `cancelled()` inside watches: it was woken, and the future goes on.
                this.delivered = true;
                Poll::Pending
            }
            Poll::Ready(()) => this.cancel(cx),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> Timeout<F> {
    /// Drops the future as a cancellation; `Elapsed` once its cleanups ran.
    fn cancel(&mut self, cx: &mut Context<'_>) -> Poll<Result<F::Output, Elapsed>> {
        // SAFETY: `self` is the pinned `Timeout` (called from `poll`); dropping the
        // structurally pinned `future` in place is allowed.
        let slot = unsafe { Pin::new_unchecked(&mut self.future) };
        match crate::cancel::cancel_in_place(slot) {
            None => Poll::Ready(Err(Elapsed(()))),
            Some(cleanup) => {
                self.cleanup = Some(cleanup);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

impl<F> std::fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.sleep.deadline())
            .finish()
    }
}
