//! `JoinHandle<T>`: the awaitable result of a spawned task (asyncio's `Task` object).

use super::raw::RawTask;
use super::state::ToNotified;
use super::{JoinError, TaskId};
use crate::coop;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// An owned permission to await a task's result.
///
/// Awaiting gives `Ok(output)`, or `Err(JoinError::Cancelled)` / `Err(JoinError::Panicked)`.
/// Dropping the handle *detaches* the task: it keeps running and its output is dropped.
/// To stop it, call [`cancel`](JoinHandle::cancel) (asyncio's `task.cancel()`).
///
/// Awaiting is cancel-safe: dropping the `await` loses nothing, the handle can be awaited
/// again.
///
/// ```
/// use trioxide_task::LocalExecutor;
///
/// let ex = LocalExecutor::new();
/// let done = ex.spawn_local(async { "result" });
/// let forever = ex.spawn_local(std::future::pending::<()>());
/// forever.cancel(); // dropped at its next poll boundary
/// assert_eq!(ex.block_on(done).unwrap(), "result");
/// assert!(ex.block_on(forever).unwrap_err().is_cancelled());
/// ```
pub struct JoinHandle<T> {
    raw: RawTask,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves the output out (to whatever thread awaits it), which is
// sound when `T: Send`; the future itself is never touched by the handle (raw.rs rule 4).
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows `cancel`, `is_finished` and `id`, which are atomic
// operations on the state word.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

/// The one cancellation request path (the caller holds a reference to `raw`).
pub(crate) fn cancel_raw(raw: RawTask) {
    if raw.state().transition_to_cancelled_remote() == ToNotified::Submit {
        // SAFETY: the transition took a reference for the Notified.
        unsafe { raw.schedule() }
    }
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(raw: RawTask) -> Self {
        JoinHandle {
            raw,
            _output: PhantomData,
        }
    }

    /// Requests cancellation. The task's future is dropped at its next poll boundary (never
    /// in the middle of a poll), on the thread that runs it, and awaiting the handle then
    /// gives `Err(JoinError::Cancelled)`. A task that already finished keeps its result.
    pub fn cancel(&self) {
        cancel_raw(self.raw);
    }

    /// Alias of [`cancel`](JoinHandle::cancel), under tokio's name.
    pub fn abort(&self) {
        self.cancel();
    }

    /// Whether the task has finished (with a value, a panic, or by cancellation).
    pub fn is_finished(&self) -> bool {
        self.raw.state().load().is_complete()
    }

    /// A handle that can only cancel the task (and ask whether it finished); it can be
    /// cloned and shared freely, and does not detach or join anything.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.raw.state().ref_inc();
        CancelHandle { raw: self.raw }
    }

    /// The task's identifier.
    pub fn id(&self) -> TaskId {
        self.raw.id()
    }

    /// The task's result if it has finished, without waiting: no waker is registered and
    /// no cooperative budget is spent (`None` while it runs).
    ///
    /// # Panics
    /// If the result was already taken (by `await` or an earlier `try_join`).
    pub fn try_join(&mut self) -> Option<Result<T, JoinError>> {
        let mut out = Poll::Pending;
        // SAFETY: we are the join handle and `out` has this task's output type.
        unsafe { self.raw.try_read_output(&mut out, None) };
        match out {
            Poll::Ready(result) => Some(result),
            Poll::Pending => None,
        }
    }

    /// Registers `waker` to be woken once, when the task completes (as polling the handle
    /// does, but without reading the result or spending cooperative budget), and hands
    /// back the waker it replaces: the task will not wake that one, so the caller answers
    /// for it (wake it, or pass it on). See [`WakerSwap`].
    pub fn swap_waker(&mut self, waker: &Waker) -> WakerSwap {
        // SAFETY: we are the join handle.
        unsafe { self.raw.swap_join_waker(waker) }
    }

    /// Detaches the task like dropping the handle, except that a waker registered through
    /// this handle (by polling it or by [`swap_waker`](JoinHandle::swap_waker)) is still
    /// woken when the task completes — after any cancellation cleanup — and dropped with
    /// the task.
    /// The output is dropped unread.
    pub fn detach_keep_waker(self) {
        let raw = self.raw;
        std::mem::forget(self);
        // SAFETY: called once, giving up the handle's reference.
        unsafe { raw.drop_join_handle(true) }
    }
}

/// What [`JoinHandle::swap_waker`] did.
#[must_use = "the previous waker is no longer woken by the task: wake it or pass it on"]
#[derive(Debug)]
pub enum WakerSwap {
    /// The new waker is registered; `previous` is the one it replaced (never woken by
    /// the task now).
    Registered {
        /// The replaced waker, if one was registered.
        previous: Option<Waker>,
    },
    /// The task had already completed: the new waker was not registered. `previous` is
    /// `Some` only if the handle took it back before seeing the completion (so the task
    /// did not wake it); `None` if the task side woke, or wakes, the registered one.
    Completed {
        /// The replaced waker the task will not wake, if any.
        previous: Option<Waker>,
    },
}

/// Cancels a task from anywhere (tokio's `AbortHandle`); see
/// [`JoinHandle::cancel_handle`].
pub struct CancelHandle {
    raw: RawTask,
}

// SAFETY: a CancelHandle only flips atomic state bits and holds a counted reference; it
// never touches the future or the output.
unsafe impl Send for CancelHandle {}
// SAFETY: as above: every method is an atomic operation on the state word.
unsafe impl Sync for CancelHandle {}

impl CancelHandle {
    /// Requests cancellation, exactly like [`JoinHandle::cancel`].
    pub fn cancel(&self) {
        cancel_raw(self.raw);
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.raw.state().load().is_complete()
    }
}

impl Clone for CancelHandle {
    fn clone(&self) -> Self {
        self.raw.state().ref_inc();
        CancelHandle { raw: self.raw }
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        // SAFETY: a CancelHandle owns exactly one reference.
        unsafe { self.raw.drop_reference() }
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("id", &self.raw.id())
            .finish()
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let mut out = Poll::Pending;
        // SAFETY: we are the join handle and `out` has this task's output type.
        unsafe { self.raw.try_read_output(&mut out, Some(cx.waker())) };
        out
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: called once, giving up the handle's reference.
        unsafe { self.raw.drop_join_handle(false) }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
