//! `wait(handles, Wait::.., timeout) -> (done, pending)`: asyncio's `asyncio.wait`.
//!
//! The semantics are CPython's `asyncio.tasks._wait`: return when the first task
//! finishes (`FIRST_COMPLETED`), when one fails (`FIRST_EXCEPTION`), or when all have
//! (`ALL_COMPLETED`), or when the timeout passes — whichever comes first — and never
//! cancel anything. Rust cannot look inside a finished task without taking its output
//! (awaiting a [`JoinHandle`] moves the result out), so where asyncio returns the done
//! *tasks* and lets you call `task.result()`, trioxide returns each done task's result,
//! already taken, as a [`Finished`] (its [`TaskId`] and its `Result<T, JoinError>`):
//!
//! | asyncio | trioxide |
//! |---|---|
//! | `done, pending = await asyncio.wait(tasks, ..)` | `let (done, pending) = wait(handles, .., ..).await;` |
//! | `done`: a set of finished tasks | `done: Vec<Finished<T>>`, in the order they were seen to finish |
//! | `task.result()` / `task.exception()` | [`Finished::result`] / [`Finished::into_result`] |
//! | `pending`: a set of tasks still running | `pending: Vec<JoinHandle<T>>`, in input order, untouched |
//! | `for t in pending: t.cancel()` | `for h in &pending { h.cancel() }` |
//!
//! The handles are polled through per-child wakers (see [`super`]), so a wait over many
//! tasks costs O(finished) per wake-up.

use super::Children;
use crate::time::sleep;
use crate::{JoinError, JoinHandle, TaskId};
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

/// When [`wait`] returns (asyncio's `return_when`). A timeout, if given, ends the wait
/// earlier in every mode.
///
/// ```
/// use trioxide::Wait;
///
/// trioxide::run(async {
///     let ok = trioxide::spawn(async { 1 });
///     let failing = trioxide::spawn(async { panic!("task failed") });
///     // FirstError: back as soon as a task panics.
///     let (done, pending) = trioxide::wait([ok, failing], Wait::FirstError, None).await;
///     assert!(done.iter().any(|f| f.result().is_err()));
///     assert_eq!(done.len() + pending.len(), 2);
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wait {
    /// As soon as any task finishes, however it finishes (`FIRST_COMPLETED`).
    FirstCompleted,
    /// As soon as any task panics, or when all have finished, if none did
    /// (`FIRST_EXCEPTION`). As in asyncio, a cancelled task does not end the wait (it is
    /// in `done` with `Err(JoinError::Cancelled)`, but cancelling is not failing: the
    /// caller or a scope asked for it). A task that *returns* an `Err` value has not failed
    /// in this sense either: its output is just a value, as a Python coroutine that
    /// returns an exception object has not raised it.
    FirstError,
    /// When every task has finished (`ALL_COMPLETED`, asyncio's default).
    AllCompleted,
}

/// A task that [`wait`] saw finish: its id and its result, taken out of its handle.
///
/// The stand-in for a done `asyncio.Task`: [`result`](Finished::result) is
/// `task.result()` (the value, or the error that `await` would have given).
///
/// ```
/// use trioxide::{Finished, Wait};
///
/// trioxide::run(async {
///     let task = trioxide::spawn(async { String::from("result") });
///     let id = task.id();
///     let (done, _) = trioxide::wait([task], Wait::AllCompleted, None).await;
///     let finished: &Finished<String> = &done[0];
///     assert_eq!(finished.id(), id);
///     assert!(finished.is_ok());
///     assert_eq!(finished.result().unwrap(), "result");
///     let owned: String = done.into_iter().next().unwrap().into_result().unwrap();
///     assert_eq!(owned, "result");
/// });
/// ```
pub struct Finished<T> {
    id: TaskId,
    result: Result<T, JoinError>,
}

impl<T> Finished<T> {
    /// The finished task's id (the same as its handle's [`JoinHandle::id`]).
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's result, borrowed: `Ok(&output)`, or the [`JoinError`] of a task that
    /// panicked or was cancelled.
    pub fn result(&self) -> Result<&T, &JoinError> {
        self.result.as_ref()
    }

    /// The task's result, what awaiting its handle would have given.
    pub fn into_result(self) -> Result<T, JoinError> {
        self.result
    }

    /// Whether the task returned normally (did not panic and was not cancelled).
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

impl<T: fmt::Debug> fmt::Debug for Finished<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finished")
            .field("id", &self.id)
            .field("result", &self.result)
            .finish()
    }
}

/// Waits for the tasks behind `handles` until `mode` is satisfied or `timeout` passes,
/// and returns `(done, pending)` (asyncio's `done, pending = await asyncio.wait(tasks,
/// return_when=.., timeout=..)`).
///
/// - `done` holds every task seen finished by the time `wait` returns, with its result
///   (a [`Finished`]), first the one(s) that ended the wait, in the order they finished,
///   then any others that had finished meanwhile. With [`Wait::FirstCompleted`] that is
///   usually exactly one.
/// - `pending` holds the handles of the tasks still running, in input order, untouched.
///   `wait` never cancels them (asyncio does not either): cancel them, await them, wait
///   on them again, or drop them to detach them.
/// - With `timeout: Some(d)`, `wait` returns after `d` with whatever is done so far (maybe
///   nothing); the timer starts at the first poll. `None` waits without limit.
/// - With no handles at all, it returns two empty `Vec`s at once (asyncio raises
///   `ValueError`).
///
/// Cancel safety: `wait` owns the handles. Dropping the `wait` future before it finishes
/// drops them, which *detaches* the tasks (they keep running, their results are lost) —
/// it does not cancel them — and drops the results already taken.
///
/// ```
/// use std::time::Duration;
/// use trioxide::{Wait, time::sleep};
///
/// trioxide::run(async {
///     let tasks: Vec<_> = (1..=3u64)
///         .map(|i| trioxide::spawn(async move {
///             sleep(Duration::from_millis(20 * i)).await;
///             i
///         }))
///         .collect();
///     let (done, pending) = trioxide::wait(tasks, Wait::FirstCompleted, None).await;
///     assert_eq!(done.len(), 1);
///     assert_eq!(*done[0].result().unwrap(), 1);
///     assert_eq!(pending.len(), 2);
///     for task in &pending {
///         task.cancel();
///     }
///
///     // With a timeout: whatever finished in time.
///     let slow = trioxide::spawn(sleep(Duration::from_secs(10)));
///     let (done, pending) =
///         trioxide::wait([slow], Wait::AllCompleted, Some(Duration::from_millis(10))).await;
///     assert!(done.is_empty());
///     pending[0].cancel();
/// });
/// ```
pub fn wait<T, I>(
    handles: I,
    mode: Wait,
    timeout: Option<Duration>,
) -> impl Future<Output = (Vec<Finished<T>>, Vec<JoinHandle<T>>)>
where
    I: IntoIterator<Item = JoinHandle<T>>,
{
    let handles: Vec<JoinHandle<T>> = handles.into_iter().collect();
    let ids: Vec<TaskId> = handles.iter().map(JoinHandle::id).collect();
    let mut children = Children::new(handles);
    async move {
        let mut timer = timeout.map(sleep);
        let mut done = Vec::new();
        poll_fn(|cx| {
            loop {
                match children.poll_next(cx) {
                    Poll::Ready(Some((i, result))) => {
                        // CPython: `not f.cancelled() and f.exception() is not None`.
                        let failed = matches!(&result, Err(e) if e.is_panic());
                        done.push(Finished { id: ids[i], result });
                        match mode {
                            Wait::FirstCompleted => return Poll::Ready(()),
                            Wait::FirstError if failed => return Poll::Ready(()),
                            _ => {}
                        }
                    }
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => break,
                }
            }
            match timer.as_mut().map(|timer| Pin::new(timer).poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(()),
                _ => Poll::Pending,
            }
        })
        .await;
        // asyncio's `done` is every task done by now, not only the one that ended the
        // wait: sweep up the others that have finished but not yet been polled.
        for (i, &id) in ids.iter().enumerate() {
            if children.get(i).is_some_and(JoinHandle::is_finished)
                && let Some(result) = children.poll_one(i)
            {
                done.push(Finished { id, result });
            }
        }
        (done, children.into_remaining())
    }
}
