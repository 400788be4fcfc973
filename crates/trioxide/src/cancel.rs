//! Cancellation with async cleanup: `on_cancel` (asyncio's `except CancelledError:
//! await cleanup()`), `shield` (Trio's shielded cancel scope), and `CancelScope` with a
//! re-schedulable deadline.
//!
//! A cancelled future is dropped; guards inside it hand their cleanup future to the
//! canceller during that drop (see `trioxide_task::cancel`), which runs it to completion —
//! bounded by the runtime's grace period (default 5 s) — before reporting the
//! cancellation: a task's handle resolves to `Cancelled` only after its cleanup ran, a
//! scope returns only after its cancelled children cleaned up, a timeout returns
//! `Elapsed` only after the inner future's cleanup.

use crate::runtime::Handle;
use crate::time::{Instant, Sleep, sleep_until};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use trioxide_task::cancel::{ChildCancelSlot, Cleanup, defer_cleanup, join_cleanups};

/// The grace period when no runtime is around to say otherwise.
pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(5);

fn grace() -> Duration {
    Handle::try_current().map_or(DEFAULT_CANCEL_GRACE, |h| h.cancel_grace())
}

/// Bounds a cleanup by the grace period, counted from when the cleanup starts.
fn bounded(cleanup: impl Future<Output = ()> + Send + 'static) -> Cleanup {
    let grace = grace();
    Box::pin(async move {
        // Not a deliverable timeout: a cleanup awaiting `cancelled()` must not outlive
        // the grace period by being delivered its end.
        let _ = crate::time::hard_timeout(grace, cleanup).await;
    })
}

/// Registers async cleanup that runs only if the enclosing work is cancelled while the
/// returned guard is alive: its task, its scope child, a timeout or cancel scope around
/// it, or a combinator that drops it as a loser (`select!`, `race`, `race_all`, and
/// `try_join!` / `try_join_all` after another future's error), which then waits for the
/// cleanup before it returns.
///
/// ```
/// use std::time::Duration;
/// trioxide::run(async {
///     let task = trioxide::spawn(async {
///         let _cleanup = trioxide::on_cancel(async {
///             trioxide::time::sleep(Duration::from_millis(5)).await; // async cleanup
///             println!("Task was cancelled");
///         });
///         std::future::pending::<()>().await
///     });
///     trioxide::yield_now().await;
///     task.cancel();
///     assert!(task.await.unwrap_err().is_cancelled()); // after the cleanup ran
/// });
/// ```
///
/// The cleanup is shielded (a second cancel does not stop it) and bounded by the grace
/// period (`Builder::cancel_grace`, default 5 s). If the guard is dropped normally (the
/// work finished), the cleanup is discarded.
#[must_use = "the cleanup is armed only while the guard is alive"]
pub fn on_cancel<F>(cleanup: F) -> CancelGuard
where
    F: Future<Output = ()> + Send + 'static,
{
    CancelGuard {
        cleanup: Some(Box::pin(cleanup)),
    }
}

/// The guard of [`on_cancel`].
pub struct CancelGuard {
    cleanup: Option<Pin<Box<dyn Future<Output = ()> + Send + 'static>>>,
}

impl CancelGuard {
    /// Disarms the guard: the cleanup will not run.
    pub fn disarm(mut self) {
        self.cleanup = None;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            // Refused outside a cancellation: then the cleanup is simply dropped.
            drop(defer_cleanup(bounded(cleanup)));
        }
    }
}

impl std::fmt::Debug for CancelGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelGuard")
            .field("armed", &self.cleanup.is_some())
            .finish()
    }
}

/// Runs `future` shielded: if the enclosing work is cancelled while it runs, it is not
/// dropped but runs on to completion (bounded by the grace period) as part of the
/// cancellation's cleanup — Trio's `CancelScope(shield=True)` around cleanup code.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
/// trioxide::run(async {
///     let saved = Arc::new(AtomicBool::new(false));
///     let s = saved.clone();
///     let outcome = trioxide::time::timeout(Duration::from_millis(5), async move {
///         trioxide::shield(async move {
///             trioxide::time::sleep(Duration::from_millis(20)).await; // outlives the timeout
///             s.store(true, Ordering::SeqCst);
///         })
///         .await
///     })
///     .await;
///     assert!(outcome.is_err());
///     assert!(saved.load(Ordering::SeqCst), "the shielded part still completed");
/// });
/// ```
pub fn shield<F>(future: F) -> Shielded<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let slot = Arc::new(Mutex::new(None));
    let out = slot.clone();
    let work: Cleanup = Box::pin(async move {
        let v = future.await;
        *out.lock().unwrap() = Some(v);
    });
    Shielded {
        work: Some(work),
        slot,
    }
}

/// The future of [`shield`].
pub struct Shielded<T> {
    work: Option<Cleanup>,
    slot: Arc<Mutex<Option<T>>>,
}

impl<T> Future for Shielded<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let work = self
            .work
            .as_mut()
            .expect("Shielded polled after completion");
        std::task::ready!(work.as_mut().poll(cx));
        self.work = None;
        let value = self.slot.lock().unwrap().take();
        Poll::Ready(value.expect("the shielded future stored its output"))
    }
}

impl<T> Drop for Shielded<T> {
    fn drop(&mut self) {
        if let Some(work) = self.work.take() {
            // Dropped by a cancellation: keep running as cleanup. Otherwise just dropped.
            drop(defer_cleanup(bounded(work)));
        }
    }
}

/// Drops the pinned `slot`'s content as a cancellation and returns the combined cleanup,
/// if the dropped future handed any over.
pub(crate) fn cancel_in_place<F>(slot: Pin<&mut Option<F>>) -> Option<Cleanup> {
    let mut slot = slot;
    let cleanups = trioxide_task::cancel::collect_cleanups(|| slot.set(None));
    (!cleanups.is_empty()).then(|| join_cleanups(cleanups))
}

/// A Trio-style cancel scope: a handle that can cancel the work run inside it, with an
/// optional, re-schedulable deadline (asyncio's `Timeout.reschedule`).
///
/// ```
/// use std::time::Duration;
/// use trioxide::CancelScope;
/// trioxide::run(async {
///     let scope = CancelScope::with_timeout(Duration::from_millis(5));
///     let out = scope.run(trioxide::time::sleep(Duration::from_secs(60))).await;
///     assert_eq!(out, None);
///     assert!(scope.cancelled_caught());
/// });
/// ```
#[derive(Clone, Default)]
pub struct CancelScope {
    inner: Arc<Mutex<ScopeState>>,
}

#[derive(Default)]
struct ScopeState {
    deadline: Option<Instant>,
    cancelled: bool,
    caught: bool,
    /// The waker of every `run` waiting in the scope, by run id (a scope may be run from
    /// several places at once: a cancel or a new deadline must reach all of them).
    wakers: Vec<(u64, Waker)>,
    next_run: u64,
}

impl CancelScope {
    /// A scope with no deadline.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scope cancelled at `deadline`.
    pub fn with_deadline(deadline: Instant) -> Self {
        let scope = Self::new();
        scope.inner.lock().unwrap().deadline = Some(deadline);
        scope
    }

    /// A scope cancelled `timeout` from now.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self::with_deadline(Instant::now().saturating_add(timeout))
    }

    /// Cancels the work running in the scope (now, or as soon as it starts).
    pub fn cancel(&self) {
        let wakers = {
            let mut state = self.inner.lock().unwrap();
            state.cancelled = true;
            std::mem::take(&mut state.wakers)
        };
        for (_, w) in wakers {
            w.wake();
        }
    }

    /// Whether `cancel` was called or the deadline passed.
    pub fn is_cancelled(&self) -> bool {
        let state = self.inner.lock().unwrap();
        state.cancelled || state.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.lock().unwrap().deadline
    }

    /// Moves (or sets, or with `None` clears) the deadline; takes effect at once.
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        let wakers: Vec<Waker> = {
            let mut state = self.inner.lock().unwrap();
            state.deadline = deadline;
            state.wakers.iter().map(|(_, w)| w.clone()).collect()
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Whether the scope actually cut its work short.
    pub fn cancelled_caught(&self) -> bool {
        self.inner.lock().unwrap().caught
    }

    /// Runs `future` in the scope: `Some(output)`, or `None` if the scope was cancelled
    /// first (the future is dropped, and its `on_cancel` cleanups run, before `None` is
    /// returned). Nested scopes compose: the earliest deadline wins, and cancelling an
    /// outer scope cancels everything inside it.
    ///
    /// While a [`cancelled()`](crate::cancelled) is pending inside, the cancellation is
    /// delivered to it instead of dropping the future: `run` then returns the value the
    /// future goes on to produce (and [`cancelled_caught`](Self::cancelled_caught) stays
    /// false), or `None` if it awaits [`reraise_cancel`](crate::reraise_cancel).
    pub async fn run<F: Future>(&self, future: F) -> Option<F::Output> {
        let id = {
            let mut state = self.inner.lock().unwrap();
            state.next_run += 1;
            state.next_run
        };
        let mut run = std::pin::pin!(ScopeRun {
            scope: self.clone(),
            id,
            future: Some(future),
            sleep: None,
            cleanup: None,
            level: ChildCancelSlot::transparent(),
            delivered: false,
        });
        std::future::poll_fn(|cx| run.as_mut().poll_run(cx)).await
    }
}

impl CancelScope {
    /// Runs `future` in the scope, shielded: cancellations from *outside* the scope (an
    /// enclosing timeout or `CancelScope`, the task's or a scope child's cancellation) do
    /// not stop it — it keeps running, as cleanup, and whoever cancelled waits for it
    /// (bounded by the grace period, as every cleanup). The scope's own `cancel()` and
    /// deadline still stop it. This is Trio's `CancelScope(shield=True)`; the future must
    /// be `Send + 'static` because it may outlive the caller's frame.
    ///
    /// ```
    /// use std::time::Duration;
    /// use trioxide::CancelScope;
    /// trioxide::run(async {
    ///     let inner = CancelScope::new();
    ///     let outer = trioxide::move_on_after(Duration::from_millis(5), async {
    ///         inner
    ///             .run_shielded(async {
    ///                 trioxide::time::sleep(Duration::from_millis(20)).await;
    ///                 "flushed" // finishes although the outer timeout fired
    ///             })
    ///             .await
    ///     })
    ///     .await;
    ///     assert_eq!(outer, None); // the outer timeout still reports that it fired
    /// });
    /// ```
    pub async fn run_shielded<F>(&self, future: F) -> Option<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let scope = self.clone();
        shield(async move { scope.run(future).await }).await
    }
}

impl std::fmt::Debug for CancelScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.lock().unwrap();
        f.debug_struct("CancelScope")
            .field("deadline", &state.deadline)
            .field("cancelled", &state.cancelled)
            .field("cancelled_caught", &state.caught)
            .finish()
    }
}

struct ScopeRun<F> {
    scope: CancelScope,
    /// This run's key among the scope's wakers.
    id: u64,
    future: Option<F>,
    sleep: Option<Sleep>,
    cleanup: Option<Cleanup>,
    /// What a `cancelled()` inside watches (entered while `future` is polled).
    level: ChildCancelSlot,
    /// The scope's cancellation was delivered to a `cancelled()` inside: `future` runs on.
    delivered: bool,
}

impl<F> Drop for ScopeRun<F> {
    fn drop(&mut self) {
        // Stop listening for the scope's wake-ups (the run finished or was dropped).
        // Touches only `scope`: the pinned `future` is not moved.
        if let Ok(mut state) = self.scope.inner.lock() {
            state.wakers.retain(|(run, _)| *run != self.id);
        }
    }
}

impl<F: Future> ScopeRun<F> {
    fn poll_run(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        // SAFETY: `future` is structurally pinned (never moved, only dropped in place by
        // `cancel_in_place`); the other fields are `Unpin` and never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if let Some(cleanup) = this.cleanup.as_mut() {
            std::task::ready!(cleanup.as_mut().poll(cx));
            this.cleanup = None;
            return Poll::Ready(None);
        }
        if !this.delivered && this.future_done_or_cancel_due(cx) {
            if this.level.deliver() {
                // A `cancelled()` inside watches: it was woken, and the future goes on
                // (the scope did not cut it short: `cancelled_caught` stays false).
                this.delivered = true;
            } else {
                return this.cancel(cx);
            }
        }
        // SAFETY: see above.
        let mut future = unsafe { Pin::new_unchecked(&mut this.future) };
        let inner = future
            .as_mut()
            .as_pin_mut()
            .expect("polled after completion");
        let polled = this.level.poll_in(|| inner.poll(cx));
        match polled {
            Poll::Ready(v) => {
                future.set(None);
                Poll::Ready(Some(v))
            }
            // A delivered cancellation re-raised (`reraise_cancel`): cut short after all.
            Poll::Pending if this.level.take_reraised() => this.cancel(cx),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Drops the future as a cancellation; `None` once its cleanups ran.
    fn cancel(&mut self, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        self.scope.inner.lock().unwrap().caught = true;
        // SAFETY: `self` is the pinned run (called from `poll_run`); dropping the
        // structurally pinned `future` in place is allowed.
        let future = unsafe { Pin::new_unchecked(&mut self.future) };
        match cancel_in_place(future) {
            None => Poll::Ready(None),
            Some(cleanup) => {
                self.cleanup = Some(cleanup);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    /// Registers for cancel/deadline wake-ups; `true` if the scope must cancel now.
    fn future_done_or_cancel_due(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = {
            let mut state = self.scope.inner.lock().unwrap();
            if state.cancelled {
                return true;
            }
            let id = self.id;
            match state.wakers.iter_mut().find(|(run, _)| *run == id) {
                Some((_, w)) if w.will_wake(cx.waker()) => {}
                Some((_, w)) => *w = cx.waker().clone(),
                None => state.wakers.push((id, cx.waker().clone())),
            }
            state.deadline
        };
        let Some(deadline) = deadline else {
            self.sleep = None;
            return false;
        };
        let sleep = match &mut self.sleep {
            Some(s) if s.deadline() == deadline => s,
            slot => slot.insert(sleep_until(deadline)),
        };
        trioxide_task::coop::with_budget(|| Pin::new(sleep).poll(cx)).is_ready()
    }
}
