//! `race(a, b)` and `race_all(iter)`: the output of whichever future finishes first; the
//! others are dropped (cancelled).
//!
//! `race` is `futures_lite::future::race` (a random side first on each poll, for
//! fairness); `race_all` is `futures::future::select_all` without the leftovers, polled
//! through the per-child ready list of [`super`] so that each poll costs O(woken). In
//! asyncio terms: `wait(aws, return_when=FIRST_COMPLETED)`, take the one result and cancel
//! the rest.

use super::__private::{cancel_losers, poll_held, poll_slot, random_below};
use super::Children;
use std::fmt;
use std::future::{Future, IntoFuture, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use trioxide_task::cancel::Cleanup;

/// Runs `a` and `b` concurrently in the current task and returns the output of the one
/// that finishes first; the other is dropped (cancelled) before `race` returns, and the
/// [`on_cancel`](crate::on_cancel) cleanups its drop armed run to completion first.
///
/// Fair: each poll starts with a randomly chosen side, so when both are ready either may
/// win. For "prefer `a`", use [`select!`](crate::select) with `biased;`.
///
/// ```
/// use std::time::Duration;
/// use trioxide::time::sleep;
///
/// trioxide::run(async {
///     let fast = async {
///         sleep(Duration::from_millis(5)).await;
///         "fast"
///     };
///     let slow = async {
///         sleep(Duration::from_secs(10)).await;
///         "slow"
///     };
///     assert_eq!(trioxide::race(slow, fast).await, "fast");
/// });
/// ```
pub fn race<A, B>(a: A, b: B) -> impl Future<Output = A::Output>
where
    A: IntoFuture,
    B: IntoFuture<Output = A::Output>,
{
    let (a, b) = (a.into_future(), b.into_future());
    async move {
        // In `Option`s so that the loser can be dropped in place, as a cancellation.
        let mut a = pin!(Some(a));
        let mut b = pin!(Some(b));
        let out = poll_fn(|cx| {
            if random_below(2) == 0 {
                if let Poll::Ready(out) = poll_slot(a.as_mut(), cx) {
                    return Poll::Ready(out);
                }
                poll_slot(b.as_mut(), cx)
            } else {
                if let Poll::Ready(out) = poll_slot(b.as_mut(), cx) {
                    return Poll::Ready(out);
                }
                poll_slot(a.as_mut(), cx)
            }
        })
        .await;
        if let Some(cleanup) = cancel_losers(|| {
            a.set(None);
            b.set(None);
        }) {
            cleanup.await;
        }
        out
    }
}

/// Runs every future of `iter` concurrently in the current task and returns the output
/// of the first to finish; the others are dropped (cancelled) before it returns, and the
/// [`on_cancel`](crate::on_cancel) cleanups their drop armed run to completion first.
///
/// Each future is boxed and gets its own waker (see the [module docs](crate::combine));
/// futures are polled in the order they were woken — on the first poll, input order, so
/// when several are ready at once the earliest in the input wins.
///
/// # Panics
/// If `iter` is empty (there would be nothing to wait for; asyncio's `wait` raises
/// `ValueError` likewise).
///
/// ```
/// use std::time::Duration;
///
/// trioxide::run(async {
///     let racers = [30u64, 5, 20].map(|ms| async move {
///         trioxide::time::sleep(Duration::from_millis(ms)).await;
///         ms
///     });
///     assert_eq!(trioxide::race_all(racers).await, 5);
/// });
/// ```
#[track_caller]
pub fn race_all<I>(iter: I) -> RaceAll<<I::Item as IntoFuture>::IntoFuture>
where
    I: IntoIterator,
    I::Item: IntoFuture,
{
    let children = Children::new(iter.into_iter().map(|f| Box::pin(f.into_future())));
    assert!(
        children.total() > 0,
        "trioxide::race_all needs at least one future"
    );
    RaceAll {
        children,
        finishing: None,
    }
}

/// The future returned by [`race_all`]: the first output of its futures.
///
/// ```
/// use std::future::Ready;
/// use trioxide::RaceAll;
///
/// // Both are ready at the first poll: the earliest in the input wins.
/// let first: RaceAll<Ready<i32>> = trioxide::race_all([std::future::ready(7), std::future::ready(8)]);
/// assert_eq!(trioxide::run(first), 7);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct RaceAll<F: Future> {
    children: Children<Pin<Box<F>>>,
    /// The winner's output while the losers' cleanups run.
    finishing: Option<(F::Output, Cleanup)>,
}

// The output is only moved, never pinned.
impl<F: Future> Unpin for RaceAll<F> {}

impl<F: Future> Future for RaceAll<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if let Some(finished) = poll_held(&mut this.finishing, cx) {
            return finished;
        }
        match this.children.poll_next(cx) {
            Poll::Ready(Some((_, out))) => {
                // The winner: drop (cancel) the others now, then wait for their cleanups.
                let children = &mut this.children;
                match cancel_losers(|| children.clear()) {
                    None => Poll::Ready(out),
                    Some(cleanup) => {
                        this.finishing = Some((out, cleanup));
                        Pin::new(this).poll(cx)
                    }
                }
            }
            Poll::Ready(None) => panic!("RaceAll polled after it returned its result"),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: Future> fmt::Debug for RaceAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaceAll")
            .field("racing", &self.children.live())
            .finish()
    }
}
