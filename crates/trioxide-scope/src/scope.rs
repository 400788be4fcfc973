//! Scopes: Trio's nursery / asyncio's `TaskGroup`, sound on a multi-threaded runtime.
//!
//! The scoped-task trilemma (borrowing, parallelism, and safe cancellation by drop — pick
//! two) is resolved by giving each child kind two of them:
//! - `spawn`: children that may **borrow** from the caller's frame are polled *inside the
//!   scope's own future*, never on another thread, so when the scope future is dropped
//!   they are dropped with it and can never observe a dead frame;
//! - `spawn_parallel`: `Send + 'static` children run as real tasks on any worker; they
//!   cannot borrow, so a dropped scope only has to cancel them.
//!
//! Rules: the scope returns only after every child finished; the first failure (a
//! fallible child's `Err`, or any panic) cancels the body and every sibling, and the scope
//! returns `Err(ScopeError)` with every failure in order; `Scope::cancel` cancels
//! everything; dropping the scope future cancels everything and waits for nothing.

use crate::error::{ChildError, Failure, ScopeError, panic_message};
use crate::handle::{ScopeHandle, SharedSlot, fill, new_slot};
use crate::loom::sync::{Arc, Mutex};
use crate::ready::{ChildWake, ReadyQueue};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use trioxide_task::{JoinError, JoinHandle};

/// How a scope starts `spawn_parallel` children: the runtime's spawner.
pub trait Spawn: Send + Sync + 'static {
    /// Spawns `future` as a task of the runtime.
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) -> JoinHandle<()>;
}

type ChildFuture<'env> = Pin<Box<dyn Future<Output = Option<Failure>> + Send + 'env>>;

struct Child<'env> {
    future: ChildFuture<'env>,
    wake: Arc<ChildWake>,
    /// Marks the child's handle when the child is dropped without finishing.
    abort: Box<dyn Fn(ChildError) + Send + 'env>,
    /// For parallel children: asks the task to stop (the child future then sees the
    /// task's handle resolve).
    cancel_task: Option<Box<dyn Fn() + Send + 'env>>,
    /// Cleanup handed over by a cancelled child: runs to completion, never cancelled.
    shielded: bool,
}

impl Child<'_> {
    /// A borrowed child that cancellation drops (not parallel, not a cleanup).
    fn is_droppable(&self) -> bool {
        self.cancel_task.is_none() && !self.shielded
    }
}

struct State<'env> {
    /// Index-stable slots; a child being polled is temporarily taken out.
    children: Vec<Option<Child<'env>>>,
    live: usize,
    failures: Vec<Failure>,
    cancelled: bool,
    cancel_applied: bool,
    closed: bool,
}

/// A handle to a running scope, passed to its body; cheap to clone, `Send + Sync`.
pub struct Scope<'env> {
    state: Arc<Mutex<State<'env>>>,
    ready: std::sync::Arc<ReadyQueue>,
    spawner: Option<std::sync::Arc<dyn Spawn>>,
}

impl Clone for Scope<'_> {
    fn clone(&self) -> Self {
        Scope {
            state: self.state.clone(),
            ready: self.ready.clone(),
            spawner: self.spawner.clone(),
        }
    }
}

impl<'env> Scope<'env> {
    fn add(&self, child: impl FnOnce(Arc<ChildWake>) -> Child<'env>) -> bool {
        let mut state = self.state.lock().unwrap();
        if state.closed {
            return false;
        }
        let index = state.children.len();
        let wake = ChildWake::new(index, self.ready.clone());
        state.children.push(Some(child(wake)));
        state.live += 1;
        true
    }

    /// Spawns a child that may borrow from the enclosing frame; it is polled inside the
    /// scope's future. Only its panics count as failures (see
    /// [`spawn_fallible`](Scope::spawn_fallible) for `Result`s).
    pub fn spawn<F>(&self, future: F) -> ScopeHandle<F::Output>
    where
        F: Future + Send + 'env,
        F::Output: Send + 'env,
    {
        self.spawn_inner(async move { Ok::<_, std::convert::Infallible>(future.await) })
    }

    /// Spawns a borrowing child whose `Err` is a failure: it cancels the siblings and the
    /// body, and ends up in the scope's `ScopeError`.
    pub fn spawn_fallible<F, T, E>(&self, future: F) -> ScopeHandle<T>
    where
        F: Future<Output = Result<T, E>> + Send + 'env,
        T: Send + 'env,
        E: Into<crate::BoxError> + 'env,
    {
        self.spawn_inner(future)
    }

    /// asyncio's name: `tg.create_task(coro)`.
    pub fn create_task<F>(&self, future: F) -> ScopeHandle<F::Output>
    where
        F: Future + Send + 'env,
        F::Output: Send + 'env,
    {
        self.spawn(future)
    }

    fn spawn_inner<F, T, E>(&self, future: F) -> ScopeHandle<T>
    where
        F: Future<Output = Result<T, E>> + Send + 'env,
        T: Send + 'env,
        E: Into<crate::BoxError> + 'env,
    {
        let slot: SharedSlot<T> = new_slot();
        let for_child = slot.clone();
        let for_abort = slot.clone();
        let added = self.add(move |wake| Child {
            future: Box::pin(async move {
                match future.await {
                    Ok(v) => {
                        fill(&for_child, Ok(v));
                        None
                    }
                    Err(e) => {
                        fill(&for_child, Err(ChildError::Failed));
                        Some(Failure::Error(e.into()))
                    }
                }
            }),
            wake,
            abort: Box::new(move |why| fill(&for_abort, Err(why))),
            cancel_task: None,
            shielded: false,
        });
        if !added {
            fill(&slot, Err(ChildError::Cancelled));
        }
        ScopeHandle::new(slot)
    }

    /// Spawns a `Send + 'static` child as a runtime task that runs in parallel, on any
    /// worker. Only its panics count as failures.
    ///
    /// # Panics
    /// If the scope was created without a spawner (`trioxide_scope::scope_local_only`).
    pub fn spawn_parallel<F>(&self, future: F) -> ScopeHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_parallel_inner(async move { Ok::<_, std::convert::Infallible>(future.await) })
    }

    /// A parallel child whose `Err` is a failure.
    pub fn spawn_parallel_fallible<F, T, E>(&self, future: F) -> ScopeHandle<T>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<crate::BoxError> + 'static,
    {
        self.spawn_parallel_inner(future)
    }

    fn spawn_parallel_inner<F, T, E>(&self, future: F) -> ScopeHandle<T>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<crate::BoxError> + 'static,
    {
        let spawner = self
            .spawner
            .clone()
            .expect("spawn_parallel needs a runtime: create the scope with trioxide::scope");
        let slot: SharedSlot<T> = new_slot();
        if self.state.lock().unwrap().closed {
            fill(&slot, Err(ChildError::Cancelled));
            return ScopeHandle::new(slot);
        }
        let failure: std::sync::Arc<Mutex<Option<Failure>>> = std::sync::Arc::new(Mutex::new(None));
        let (task_slot, task_failure) = (slot.clone(), failure.clone());
        let task = spawner.spawn(Box::pin(async move {
            match future.await {
                Ok(v) => fill(&task_slot, Ok(v)),
                Err(e) => {
                    fill(&task_slot, Err(ChildError::Failed));
                    *task_failure.lock().unwrap() = Some(Failure::Error(e.into()));
                }
            }
        }));
        let canceller = task.cancel_handle();
        let mut task = CancelOnDrop(task);
        let child_slot = slot.clone();
        let abort_slot = slot.clone();
        let added = self.add(move |wake| Child {
            future: Box::pin(async move {
                let outcome = (&mut task.0).await;
                match outcome {
                    Ok(()) => failure.lock().unwrap().take(),
                    Err(JoinError::Panicked(p)) => {
                        fill(&child_slot, Err(ChildError::Failed));
                        Some(Failure::Panic(
                            p.message()
                                .unwrap_or("<non-string panic payload>")
                                .to_string(),
                        ))
                    }
                    Err(JoinError::Cancelled) => {
                        fill(&child_slot, Err(ChildError::Cancelled));
                        None
                    }
                }
            }),
            wake,
            abort: Box::new(move |why| fill(&abort_slot, Err(why))),
            cancel_task: Some(Box::new(move || canceller.cancel())),
            shielded: false,
        });
        if !added {
            fill(&slot, Err(ChildError::Cancelled));
        }
        ScopeHandle::new(slot)
    }

    /// Cancels the body and every child (Trio's `nursery.cancel_scope.cancel()`, asyncio
    /// 3.15's `TaskGroup.cancel()`). The scope then returns once the parallel children
    /// have stopped: `Ok` with the body's value if the body had already finished, else a
    /// `ScopeError` for which `is_cancelled()` is true.
    pub fn cancel(&self) {
        self.state.lock().unwrap().cancelled = true;
        self.ready.wake_parent();
    }

    /// Whether cancellation was requested (by `cancel` or a failure).
    pub fn is_cancelled(&self) -> bool {
        self.state.lock().unwrap().cancelled
    }
}

/// A task handle that cancels its task when dropped (a dropped scope stops its parallel
/// children).
struct CancelOnDrop(JoinHandle<()>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// The future of a scope.
pub struct ScopeFuture<'env, B: Future> {
    scope: Scope<'env>,
    body: Option<Pin<Box<B>>>,
    output: Option<B::Output>,
    scratch: Vec<usize>,
}

// The output is never pinned (only moved out by value) and the body is boxed.
impl<B: Future> Unpin for ScopeFuture<'_, B> {}

/// Runs `body` with a new scope and returns its value once every child has finished.
/// `spawner` starts `spawn_parallel` children (the facade passes its runtime's).
pub fn scope_with<'env, F, B>(
    spawner: Option<std::sync::Arc<dyn Spawn>>,
    body: F,
) -> ScopeFuture<'env, B>
where
    F: FnOnce(Scope<'env>) -> B,
    B: Future + Send + 'env,
{
    let scope = Scope {
        state: Arc::new(Mutex::new(State {
            children: Vec::new(),
            live: 0,
            failures: Vec::new(),
            cancelled: false,
            cancel_applied: false,
            closed: false,
        })),
        ready: std::sync::Arc::new(ReadyQueue::default()),
        spawner,
    };
    let body = Box::pin(body(scope.clone()));
    ScopeFuture {
        scope,
        body: Some(body),
        output: None,
        scratch: Vec::new(),
    }
}

/// Children polled in one scope poll before yielding (so one scope cannot monopolise its
/// thread, like the task core's coop budget).
const CHILD_POLLS_PER_POLL: usize = 1024;

impl<'env, B: Future> ScopeFuture<'env, B> {
    fn record_failure(&self, failure: Failure) {
        let mut state = self.scope.state.lock().unwrap();
        state.failures.push(failure);
        state.cancelled = true;
    }

    fn poll_body(&mut self, cx: &mut Context<'_>) {
        let Some(body) = self.body.as_mut() else {
            return;
        };
        match catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => {
                self.output = Some(v);
                self.body = None;
            }
            Ok(Poll::Pending) => {}
            Err(payload) => {
                self.body = None;
                self.record_failure(Failure::Panic(panic_message(&*payload)));
            }
        }
    }

    /// Polls the children that were woken; returns whether more are queued.
    fn poll_children(&mut self) -> bool {
        let mut polls = 0;
        loop {
            self.scope.ready.take(&mut self.scratch);
            if self.scratch.is_empty() {
                return false;
            }
            let batch = std::mem::take(&mut self.scratch);
            for &index in &batch {
                let taken = self
                    .scope
                    .state
                    .lock()
                    .unwrap()
                    .children
                    .get_mut(index)
                    .and_then(Option::take);
                let Some(mut child) = taken else { continue };
                if child.is_droppable() && self.scope.is_cancelled() {
                    // Cancelled: a borrowed child is not polled again; `apply_cancel`
                    // drops it.
                    self.scope.state.lock().unwrap().children[index] = Some(child);
                    continue;
                }
                child.wake.unqueue();
                let waker = Waker::from(child.wake.clone());
                let mut child_cx = Context::from_waker(&waker);
                let polled = catch_unwind(AssertUnwindSafe(|| {
                    child.future.as_mut().poll(&mut child_cx)
                }));
                match polled {
                    Ok(Poll::Pending) => {
                        self.scope.state.lock().unwrap().children[index] = Some(child);
                    }
                    Ok(Poll::Ready(failure)) => {
                        self.scope.state.lock().unwrap().live -= 1;
                        if let Some(failure) = failure {
                            self.record_failure(failure);
                        }
                        drop(child);
                    }
                    Err(payload) => {
                        self.scope.state.lock().unwrap().live -= 1;
                        (child.abort)(ChildError::Failed);
                        self.record_failure(Failure::Panic(panic_message(&*payload)));
                        drop(child);
                    }
                }
                polls += 1;
            }
            self.scratch = batch;
            if polls >= CHILD_POLLS_PER_POLL {
                return true;
            }
        }
    }

    /// Applies a cancellation once: drops the body and the borrowed children here, asks
    /// the parallel children to stop (they are awaited as usual).
    fn apply_cancel(&mut self) {
        let mut dropped = Vec::new();
        {
            let mut state = self.scope.state.lock().unwrap();
            if !state.cancelled || state.cancel_applied {
                return;
            }
            state.cancel_applied = true;
            let State { children, live, .. } = &mut *state;
            for slot in children.iter_mut() {
                if slot.as_ref().is_some_and(Child::is_droppable) {
                    dropped.push(slot.take().expect("checked above"));
                    *live -= 1;
                } else if let Some(cancel) = slot.as_ref().and_then(|c| c.cancel_task.as_ref()) {
                    cancel();
                }
            }
        }
        // Drop the body and the borrowed children as a cancellation: their `on_cancel`
        // cleanups come back and run as shielded children before the scope returns.
        let body = self.body.take();
        let cleanups = trioxide_task::cancel::collect_cleanups(move || {
            drop(body);
            for child in dropped {
                (child.abort)(ChildError::Cancelled);
                drop(child);
            }
        });
        for cleanup in cleanups {
            self.scope.add(move |wake| Child {
                future: Box::pin(async move {
                    cleanup.await;
                    None
                }),
                wake,
                abort: Box::new(|_| {}),
                cancel_task: None,
                shielded: true,
            });
        }
    }
}

impl<'env, B: Future> Future for ScopeFuture<'env, B> {
    type Output = Result<B::Output, ScopeError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        this.scope.ready.set_parent(cx.waker());
        this.apply_cancel();
        this.poll_body(cx);
        this.apply_cancel();
        let more = this.poll_children();
        this.apply_cancel();
        let mut state = this.scope.state.lock().unwrap();
        if this.body.is_none() && state.live == 0 {
            state.closed = true;
            let failures = std::mem::take(&mut state.failures);
            let cancelled = state.cancelled;
            let leftovers = std::mem::take(&mut state.children);
            drop(state);
            drop(leftovers);
            return Poll::Ready(match (failures.is_empty(), this.output.take()) {
                (true, Some(v)) => Ok(v),
                (_, _) => Err(ScopeError {
                    failures,
                    cancelled,
                }),
            });
        }
        drop(state);
        if more {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl<B: Future> Drop for ScopeFuture<'_, B> {
    fn drop(&mut self) {
        // Dropped before finishing: cancel everything, wait for nothing. Borrowed children
        // die with this frame; parallel ones are cancelled by their CancelOnDrop.
        self.body = None;
        let children = {
            let mut state = self.scope.state.lock().unwrap();
            state.closed = true;
            std::mem::take(&mut state.children)
        };
        for child in children.into_iter().flatten() {
            (child.abort)(ChildError::Cancelled);
            drop(child);
        }
    }
}
