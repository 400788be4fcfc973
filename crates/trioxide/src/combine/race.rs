//! `race(a, b)` and `race_all(iter)`: the output of whichever future finishes first; the
//! others are dropped (cancelled).
//!
//! `race` is `futures_lite::future::race` (a random side first on each poll, for
//! fairness); `race_all` is `futures::future::select_all` without the leftovers, polled
//! through the per-child ready list of [`super`] so that each poll costs O(woken). In
//! asyncio terms: `wait(aws, return_when=FIRST_COMPLETED)`, take the one result and cancel
//! the rest.

use super::__private::random_below;
use super::Children;
use std::fmt;
use std::future::{Future, IntoFuture, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

/// Runs `a` and `b` concurrently in the current task and returns the output of the one
/// that finishes first; the other is dropped (cancelled) before `race` returns.
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
        let mut a = pin!(a);
        let mut b = pin!(b);
        poll_fn(|cx| {
            if random_below(2) == 0 {
                if let Poll::Ready(out) = a.as_mut().poll(cx) {
                    return Poll::Ready(out);
                }
                b.as_mut().poll(cx)
            } else {
                if let Poll::Ready(out) = b.as_mut().poll(cx) {
                    return Poll::Ready(out);
                }
                a.as_mut().poll(cx)
            }
        })
        .await
    }
}

/// Runs every future of `iter` concurrently in the current task and returns the output
/// of the first to finish; the others are dropped (cancelled) before it returns.
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
    RaceAll { children }
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
pub struct RaceAll<F> {
    children: Children<Pin<Box<F>>>,
}

impl<F: Future> Future for RaceAll<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        match this.children.poll_next(cx) {
            Poll::Ready(Some((_, out))) => {
                // The winner: drop (cancel) the others now.
                this.children.clear();
                Poll::Ready(out)
            }
            Poll::Ready(None) => panic!("RaceAll polled after it returned its result"),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for RaceAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RaceAll")
            .field("racing", &self.children.live())
            .finish()
    }
}
