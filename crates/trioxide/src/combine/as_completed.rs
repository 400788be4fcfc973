//! `as_completed(handles)`: the tasks' results in the order the tasks finish.
//!
//! asyncio's `for coro in asyncio.as_completed(aws): result = await coro` (CPython's
//! `asyncio.tasks.as_completed`, which queues each task on completion), as a
//! [`Stream`] over [`JoinHandle`]s. The handles are polled through per-child wakers that
//! push onto a shared ready list (see [`super`]), so each item costs O(woken), and the
//! stream hands results out in the order the tasks were seen to finish.

use super::Children;
use crate::{JoinError, JoinHandle};
use futures_core::Stream;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields the result of each task behind `handles` as it finishes, in completion order
/// (asyncio's `as_completed`). A [`Stream`] of `Result<T, JoinError>`, with an inherent
/// [`next`](AsCompleted::next) so that no stream crate is needed.
///
/// Nothing is cancelled: to stop the tasks not yet yielded, take their handles back with
/// [`into_pending`](AsCompleted::into_pending) and cancel them. Dropping the stream drops
/// the handles, which detaches those tasks (they keep running; their results are lost).
/// Awaiting [`next`](AsCompleted::next) is cancel-safe: dropping it before it resolves
/// loses no result.
///
/// For a deadline on the whole loop, wrap each `next()` in
/// [`time::timeout`](crate::time::timeout) (asyncio's `as_completed(.., timeout=..)`).
///
/// ```
/// use std::time::Duration;
///
/// trioxide::run(async {
///     let tasks = [30u64, 10, 20].map(|ms| trioxide::spawn(async move {
///         trioxide::time::sleep(Duration::from_millis(ms)).await;
///         ms
///     }));
///     let mut finished = trioxide::as_completed(tasks);
///     let mut order = Vec::new();
///     while let Some(result) = finished.next().await {
///         order.push(result.unwrap());
///     }
///     assert_eq!(order, [10, 20, 30]);
/// });
/// ```
pub fn as_completed<T, I>(handles: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = JoinHandle<T>>,
{
    AsCompleted {
        children: Children::new(handles),
    }
}

/// The stream returned by [`as_completed`]: each task's result, in completion order.
///
/// ```
/// use std::time::Duration;
///
/// trioxide::run(async {
///     let quick = trioxide::spawn(async { "quick" });
///     let stuck = trioxide::spawn(trioxide::time::sleep(Duration::from_secs(60)));
///     let mut results = trioxide::as_completed([quick]);
///     assert_eq!(results.len(), 1);
///     assert_eq!(results.next().await.unwrap().unwrap(), "quick");
///     assert!(results.is_empty());
///
///     // Take the unfinished handles back, e.g. to cancel them.
///     let mut waiting = trioxide::as_completed([stuck]);
///     let timed_out = trioxide::time::timeout(Duration::from_millis(10), waiting.next()).await;
///     assert!(timed_out.is_err());
///     for handle in waiting.into_pending() {
///         handle.cancel();
///     }
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<T> {
    children: Children<JoinHandle<T>>,
}

impl<T> AsCompleted<T> {
    /// The next task's result, when a task finishes; `None` once every result has been
    /// yielded. Cancel-safe.
    pub async fn next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// How many results are still to come.
    pub fn len(&self) -> usize {
        self.children.live()
    }

    /// Whether every result has been yielded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The handles of the tasks whose results have not been yielded, in input order
    /// (for example to cancel them).
    pub fn into_pending(self) -> Vec<JoinHandle<T>> {
        self.children.into_remaining()
    }
}

impl<T> Stream for AsCompleted<T> {
    type Item = Result<T, JoinError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .children
            .poll_next(cx)
            .map(|next| next.map(|(_, result)| result))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl<T> fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.len())
            .finish()
    }
}
