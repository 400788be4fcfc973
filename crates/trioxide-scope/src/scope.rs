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
//!
//! Parallel children report to the scope themselves: a child's task records its failure
//! (which cancels the scope), its output is the child's result (read through the task's
//! `JoinHandle`, see `parallel.rs`), and the scope's one shared join waker settles the
//! count of running parallel children when a task completes — waking the scope only for a
//! failure or for the last child, so 10,000 parallel children cost the scope one wake-up.
//! The child's future goes into its task cell unboxed: the runtime's [`Spawn`] hands the
//! scope a concrete [`SpawnerRef`] to spawn on.

use crate::error::{BoxError, ChildError, ChildPanic, Failure, ScopeError};
use crate::handle::{ScopeHandle, SharedSlot, fill, new_slot};
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::parallel::{ChildOutput, TaskChild};
use crate::ready::{ChildWake, ReadyQueue};
use std::future::Future;
use std::panic::Location;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use trioxide_task::cancel::ChildCancelSlot;
use trioxide_task::{CancelHandle, SpawnerRef, StealSpawner, WakerSwap};

/// How a scope starts `spawn_parallel` children: the runtime's spawner.
///
/// The scope's task futures have types only the scope knows, so instead of taking a
/// future (which would have to be boxed), the spawner hands the scope a concrete
/// [`SpawnerRef`] to spawn on.
pub trait Spawn: Send + Sync + 'static {
    /// Starts one task: calls `spawn` exactly once, with the scheduler to start it on.
    /// `at` is where the user's `spawn_parallel` call is (for debug listings); whatever
    /// per-spawn context the runtime keeps (its task hooks) should be set around the call.
    fn spawn_with(&self, at: &'static Location<'static>, spawn: &mut dyn FnMut(SpawnerRef<'_>));
}

impl Spawn for trioxide_task::Spawner {
    fn spawn_with(&self, _at: &'static Location<'static>, spawn: &mut dyn FnMut(SpawnerRef<'_>)) {
        spawn(SpawnerRef::Local(self));
    }
}

impl Spawn for StealSpawner {
    fn spawn_with(&self, _at: &'static Location<'static>, spawn: &mut dyn FnMut(SpawnerRef<'_>)) {
        spawn(SpawnerRef::Steal(self));
    }
}

type ChildFuture<'env> = Pin<Box<dyn Future<Output = Option<Failure>> + Send + 'env>>;

struct Child<'env> {
    future: ChildFuture<'env>,
    wake: std::sync::Arc<ChildWake>,
    /// Marks the child's handle when the child is dropped without finishing.
    abort: Box<dyn Fn(ChildError) + Send + 'env>,
    /// Cleanup handed over by a cancelled child: runs to completion, never cancelled.
    shielded: bool,
    /// What `cancelled()` inside the child watches (see `trioxide_task::cancel`).
    cancel: ChildCancelSlot,
}

impl Child<'_> {
    /// A borrowed child that cancellation drops (not a cleanup).
    fn is_droppable(&self) -> bool {
        !self.shielded
    }
}

/// The `'static` part of a scope, shared with its parallel children's tasks.
struct Shared {
    failures: Mutex<Vec<Failure>>,
    cancelled: AtomicBool,
    parallel_live: AtomicUsize,
    /// What cancels the parallel children (their handles belong to the user).
    tasks: Mutex<Vec<CancelHandle>>,
    ready: std::sync::Arc<ReadyQueue>,
}

impl Shared {
    /// Records a failure: it cancels the scope.
    fn fail(&self, failure: Failure) {
        self.failures.lock().unwrap().push(failure);
        self.cancel();
    }

    fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.ready.wake_parent();
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// A parallel child's task completed: the last one wakes the scope.
    fn parallel_finished(&self) {
        if self.parallel_live.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.ready.wake_parent();
        }
    }

    fn cancel_tasks(&self) {
        for task in self.tasks.lock().unwrap().iter() {
            task.cancel();
        }
    }

    /// Lets go of the parallel children's cancel handles once the scope is over. A
    /// task's join waker (`ParallelDone`) holds this `Shared`, so keeping references to
    /// the tasks would be a reference cycle.
    fn release_tasks(&self) {
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
        drop(tasks);
    }
}

/// The join waker every parallel child's task of one scope shares: the task core wakes
/// it once per task, when that task has completed — after any `on_cancel` cleanup it ran
/// — which settles the scope's count. (One per scope, not one per child; an awaited
/// handle chains its own waker behind it, see `parallel.rs`.)
struct ParallelDone {
    shared: std::sync::Arc<Shared>,
}

impl std::task::Wake for ParallelDone {
    fn wake(self: std::sync::Arc<Self>) {
        self.shared.parallel_finished();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.shared.parallel_finished();
    }
}

/// A cancelled child's cleanup, run as a shielded child. If the scope itself is dropped
/// by an outer cancellation before the cleanup finished, the cleanup is handed on to the
/// outer canceller instead of being lost.
struct ShieldedCleanup(Option<trioxide_task::cancel::Cleanup>);

impl Future for ShieldedCleanup {
    type Output = Option<Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Failure>> {
        let cleanup = self.0.as_mut().expect("polled after completion");
        std::task::ready!(cleanup.as_mut().poll(cx));
        self.0 = None;
        Poll::Ready(None)
    }
}

impl Drop for ShieldedCleanup {
    fn drop(&mut self) {
        if let Some(cleanup) = self.0.take() {
            drop(trioxide_task::cancel::defer_cleanup(cleanup));
        }
    }
}

/// Catches a panic of the wrapped future's `poll`.
struct CatchUnwind<F>(F);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field: it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

struct State<'env> {
    /// Index-stable slots of the borrowed children; one being polled is taken out.
    children: Vec<Option<Child<'env>>>,
    /// Borrowed children not finished yet.
    live: usize,
    cancel_applied: bool,
    closed: bool,
    /// The join waker of the parallel children (made by the first one).
    parallel_done: Option<Waker>,
}

/// A handle to a running scope, passed to its body; cheap to clone, `Send + Sync`.
pub struct Scope<'env> {
    state: Arc<Mutex<State<'env>>>,
    shared: std::sync::Arc<Shared>,
    ready: std::sync::Arc<ReadyQueue>,
    spawner: std::sync::Arc<CachedSpawner>,
}

/// A spawner source resolved once per scope (a lazy lookup costs a handle clone and an
/// allocation, too much to repeat for every parallel child).
struct CachedSpawner {
    source: SpawnerSource,
    resolved: std::sync::OnceLock<Option<std::sync::Arc<dyn Spawn>>>,
}

impl CachedSpawner {
    fn get(&self) -> Option<std::sync::Arc<dyn Spawn>> {
        match &self.source {
            SpawnerSource::Lazy(_) => {
                // Only a successful lookup is cached: a scope built outside a runtime
                // may still find one when it is first driven inside it.
                if let Some(found) = self.resolved.get() {
                    return found.clone();
                }
                let found = self.source.get();
                if found.is_some() {
                    let _ = self.resolved.set(found.clone());
                }
                found
            }
            other => other.get(),
        }
    }
}

/// Where a scope gets its spawner for `spawn_parallel` children.
#[derive(Clone)]
pub enum SpawnerSource {
    /// No runtime: `spawn_parallel` panics (borrowed children still work).
    None,
    /// This spawner.
    Fixed(std::sync::Arc<dyn Spawn>),
    /// Looked up when a parallel child is spawned (the facade passes "the current
    /// runtime", so a scope built outside `block_on` still works inside it).
    Lazy(fn() -> Option<std::sync::Arc<dyn Spawn>>),
}

impl From<Option<std::sync::Arc<dyn Spawn>>> for SpawnerSource {
    fn from(spawner: Option<std::sync::Arc<dyn Spawn>>) -> Self {
        spawner.map_or(SpawnerSource::None, SpawnerSource::Fixed)
    }
}

impl SpawnerSource {
    fn get(&self) -> Option<std::sync::Arc<dyn Spawn>> {
        match self {
            SpawnerSource::None => None,
            SpawnerSource::Fixed(s) => Some(s.clone()),
            SpawnerSource::Lazy(resolve) => resolve(),
        }
    }
}

impl Clone for Scope<'_> {
    fn clone(&self) -> Self {
        Scope {
            state: self.state.clone(),
            shared: self.shared.clone(),
            ready: self.ready.clone(),
            spawner: self.spawner.clone(),
        }
    }
}

impl<'env> Scope<'env> {
    /// Adds a borrowed child (or, `shielded`, a cleanup); `false` if the scope is closed —
    /// or, for a child, already cancelled (a child spawned by a child that was delivered
    /// the cancellation starts out cancelled, as in Trio).
    fn add(
        &self,
        shielded: bool,
        child: impl FnOnce(std::sync::Arc<ChildWake>) -> Child<'env>,
    ) -> bool {
        let mut state = self.state.lock().unwrap();
        if state.closed || (!shielded && state.cancel_applied) {
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
        let added = self.add(false, move |wake| Child {
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
            shielded: false,
            cancel: ChildCancelSlot::new(),
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
    /// If the scope has no runtime to spawn on (see [`SpawnerSource`]).
    #[track_caller]
    pub fn spawn_parallel<F>(&self, future: F) -> ScopeHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_parallel_inner(async move { Ok::<_, std::convert::Infallible>(future.await) })
    }

    /// A parallel child whose `Err` is a failure.
    #[track_caller]
    pub fn spawn_parallel_fallible<F, T, E>(&self, future: F) -> ScopeHandle<T>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<crate::BoxError> + 'static,
    {
        self.spawn_parallel_inner(future)
    }

    #[track_caller]
    fn spawn_parallel_inner<F, T, E>(&self, future: F) -> ScopeHandle<T>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<crate::BoxError> + 'static,
    {
        let spawner = self.spawner.get().expect(
            "spawn_parallel needs a runtime: use trioxide::scope inside trioxide::run (or pass \
             a spawner to trioxide_scope::scope_with)",
        );
        let done = {
            // Counted under the state lock, which the scope holds when it closes (after
            // seeing no parallel child live): so a child is either counted before the
            // scope can close, or sees it closed.
            let mut state = self.state.lock().unwrap();
            if state.closed || self.shared.is_cancelled() {
                return ScopeHandle::not_started();
            }
            self.shared.parallel_live.fetch_add(1, Ordering::SeqCst);
            let shared = &self.shared;
            state
                .parallel_done
                .get_or_insert_with(|| {
                    Waker::from(std::sync::Arc::new(ParallelDone {
                        shared: shared.clone(),
                    }))
                })
                .clone()
        };
        let task_shared = self.shared.clone();
        let mut child = Some(async move {
            let result: ChildOutput<T> = match CatchUnwind(future).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => {
                    task_shared.fail(Failure::Error(e.into()));
                    Err(ChildError::Failed)
                }
                Err(payload) => {
                    task_shared.fail(Failure::Panic(ChildPanic::new(payload)));
                    Err(ChildError::Failed)
                }
            };
            result
        });
        let mut spawned = None;
        spawner.spawn_with(Location::caller(), &mut |target| {
            if let Some(child) = child.take() {
                spawned = Some(target.spawn(child));
            }
        });
        let Some(mut task) = spawned else {
            self.shared.parallel_finished(); // uncount it, so the scope can still close
            panic!(
                "the scope's Spawn::spawn_with returned without calling its callback; it must \
                 call it exactly once"
            );
        };
        // The shared join waker settles the count when the task completes (registered
        // without spending the caller's cooperative budget).
        match task.swap_waker(&done) {
            WakerSwap::Registered { .. } => {}
            WakerSwap::Completed { .. } => self.shared.parallel_finished(),
        }
        // Checked under the task list's lock: a cancellation that this check misses sets
        // its flag first and then takes the same lock to cancel the list, so it sees this
        // task. (The scope cannot have closed since the check above: it closes only with
        // no parallel child live, and this one was counted.)
        let cancel = task.cancel_handle();
        let mut tasks = self.shared.tasks.lock().unwrap();
        if self.shared.is_cancelled() {
            cancel.cancel(); // raced with the scope cancelling
        }
        tasks.push(cancel);
        drop(tasks);
        ScopeHandle::parallel(TaskChild::new(task))
    }

    /// Cancels the body and every child (Trio's `nursery.cancel_scope.cancel()`, asyncio
    /// 3.15's `TaskGroup.cancel()`). The scope then returns once the parallel children
    /// have stopped: `Ok` with the body's value if the body had already finished, else a
    /// `ScopeError` for which `is_cancelled()` is true.
    pub fn cancel(&self) {
        self.shared.cancel();
    }

    /// Whether cancellation was requested (by `cancel` or a failure).
    pub fn is_cancelled(&self) -> bool {
        self.shared.is_cancelled()
    }
}

/// The future of a scope.
pub struct ScopeFuture<'env, B: Future> {
    scope: Scope<'env>,
    body: Option<Pin<Box<B>>>,
    /// What `cancelled()` inside the body watches.
    body_cancel: ChildCancelSlot,
    output: Option<B::Output>,
    scratch: Vec<usize>,
}

// The output is never pinned (only moved out by value) and the body is boxed.
impl<B: Future> Unpin for ScopeFuture<'_, B> {}

/// Runs `body` with a new scope and returns its value once every child has finished.
/// `spawner` starts `spawn_parallel` children (the facade passes its runtime's); it is
/// anything convertible to a [`SpawnerSource`], e.g. `None`.
pub fn scope_with<'env, F, B>(spawner: impl Into<SpawnerSource>, body: F) -> ScopeFuture<'env, B>
where
    F: FnOnce(Scope<'env>) -> B,
    B: Future + Send + 'env,
{
    let ready = std::sync::Arc::new(ReadyQueue::default());
    let scope = Scope {
        state: Arc::new(Mutex::new(State {
            children: Vec::new(),
            live: 0,
            cancel_applied: false,
            closed: false,
            parallel_done: None,
        })),
        shared: std::sync::Arc::new(Shared {
            failures: Mutex::new(Vec::new()),
            cancelled: AtomicBool::new(false),
            parallel_live: AtomicUsize::new(0),
            tasks: Mutex::new(Vec::new()),
            ready: ready.clone(),
        }),
        ready,
        spawner: std::sync::Arc::new(CachedSpawner {
            source: spawner.into(),
            resolved: std::sync::OnceLock::new(),
        }),
    };
    let body = Box::pin(body(scope.clone()));
    ScopeFuture {
        scope,
        body: Some(body),
        body_cancel: ChildCancelSlot::new(),
        output: None,
        scratch: Vec::new(),
    }
}

/// [`scope_with`] for a body that returns `Result`: an `Err` from the body fails the
/// scope as a child's error does — it is recorded, in order, among the scope's failures,
/// and the children are cancelled; the scope returns `Err(ScopeError)` once they have
/// stopped. (With [`scope_with`] a body's `Err` is just its value, and children left
/// running keep the scope open.) This is what a Trio nursery or an asyncio `TaskGroup`
/// does with an exception raised in its body: `?` in the body behaves as expected.
pub fn try_scope_with<'env, F, B, T, E>(
    spawner: impl Into<SpawnerSource>,
    body: F,
) -> impl Future<Output = Result<T, ScopeError>> + Send + 'env
where
    F: FnOnce(Scope<'env>) -> B,
    B: Future<Output = Result<T, E>> + Send + 'env,
    T: Send + 'env,
    E: Into<BoxError>,
{
    let inner = scope_with(spawner, move |s: Scope<'env>| {
        let scope = s.clone();
        let body = body(s);
        async move {
            match body.await {
                Ok(v) => Some(v),
                Err(e) => {
                    scope.shared.fail(Failure::Error(e.into()));
                    None
                }
            }
        }
    });
    async move {
        // `None` comes with the failure just recorded, so the scope returned `Err`.
        inner.await?.ok_or(ScopeError {
            failures: Vec::new(),
            cancelled: true,
        })
    }
}

/// Children polled in one scope poll before yielding (so one scope cannot monopolise its
/// thread, like the task core's coop budget).
const CHILD_POLLS_PER_POLL: usize = 1024;

impl<'env, B: Future> ScopeFuture<'env, B> {
    fn record_failure(&self, failure: Failure) {
        self.scope.shared.fail(failure);
    }

    fn poll_body(&mut self, cx: &mut Context<'_>) {
        let Some(body) = self.body.as_mut() else {
            return;
        };
        let polled = self
            .body_cancel
            .poll_in(|| catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx))));
        match polled {
            Ok(Poll::Ready(v)) => {
                self.output = Some(v);
                self.body = None;
            }
            Ok(Poll::Pending) => {
                if self.body_cancel.take_reraised() {
                    // `reraise_cancel()` in the body: the scope is cancelled with it.
                    self.scope.shared.cancel();
                    let body = self.body.take();
                    self.drop_as_cancelled(body, Vec::new());
                }
            }
            Err(payload) => {
                self.body = None;
                self.record_failure(Failure::Panic(ChildPanic::new(payload)));
            }
        }
    }

    /// Drops the body and `children` as a cancellation (their handles report
    /// `ChildError::Cancelled`): the `on_cancel` cleanups they hand back run as shielded
    /// children before the scope returns.
    fn drop_as_cancelled(&self, body: Option<Pin<Box<B>>>, children: Vec<Child<'env>>) {
        let cleanups = trioxide_task::cancel::collect_cleanups(move || {
            drop(body);
            for child in children {
                (child.abort)(ChildError::Cancelled);
                drop(child);
            }
        });
        for cleanup in cleanups {
            self.scope.add(true, move |wake| Child {
                future: Box::pin(ShieldedCleanup(Some(cleanup))),
                wake,
                abort: Box::new(|_| {}),
                shielded: true,
                cancel: ChildCancelSlot::new(),
            });
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
                if child.is_droppable() && self.scope.is_cancelled() && !child.cancel.is_delivered()
                {
                    // Cancelled: a borrowed child is not polled again; `apply_cancel`
                    // drops it (unless it watches `cancelled()`: then it is delivered
                    // the cancellation and polled on).
                    self.scope.state.lock().unwrap().children[index] = Some(child);
                    continue;
                }
                child.wake.unqueue();
                let waker = Waker::from(child.wake.clone());
                let mut child_cx = Context::from_waker(&waker);
                let future = &mut child.future;
                let polled = child.cancel.poll_in(|| {
                    catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut child_cx)))
                });
                match polled {
                    Ok(Poll::Pending) if child.cancel.take_reraised() => {
                        // `reraise_cancel()`: dropped as a cancelled child.
                        self.scope.state.lock().unwrap().live -= 1;
                        self.drop_as_cancelled(None, vec![child]);
                    }
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
                        self.record_failure(Failure::Panic(ChildPanic::new(payload)));
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
        if !self.scope.shared.is_cancelled() {
            return; // the common case, without the lock
        }
        let mut dropped = Vec::new();
        {
            let mut state = self.scope.state.lock().unwrap();
            if state.cancel_applied {
                return;
            }
            state.cancel_applied = true;
            let State { children, live, .. } = &mut *state;
            for slot in children.iter_mut() {
                let Some(child) = slot.as_ref().filter(|c| c.is_droppable()) else {
                    continue;
                };
                if child.cancel.deliver() {
                    // It awaits `cancelled()`: wake it to see that, instead of dropping.
                    std::task::Wake::wake_by_ref(&child.wake);
                } else {
                    dropped.push(slot.take().expect("checked above"));
                    *live -= 1;
                }
            }
        }
        self.scope.shared.cancel_tasks();
        // Drop the body and the borrowed children as a cancellation: their `on_cancel`
        // cleanups come back and run as shielded children before the scope returns. A
        // body awaiting `cancelled()` is delivered the cancellation instead (it is polled
        // right after this).
        let body = if self.body.is_some() && self.body_cancel.deliver() {
            self.scope.ready.wake_parent(); // in case the body's poll already passed
            None
        } else {
            self.body.take()
        };
        self.drop_as_cancelled(body, dropped);
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
        let parallel_live = this.scope.shared.parallel_live.load(Ordering::SeqCst);
        if this.body.is_none() && state.live == 0 && parallel_live == 0 {
            state.closed = true;
            let leftovers = std::mem::take(&mut state.children);
            let done = state.parallel_done.take();
            drop(state);
            drop(done);
            drop(leftovers);
            this.scope.shared.release_tasks();
            let failures = std::mem::take(&mut *this.scope.shared.failures.lock().unwrap());
            let cancelled = this.scope.shared.is_cancelled();
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
            state.parallel_done = None;
            std::mem::take(&mut state.children)
        };
        for child in children.into_iter().flatten() {
            (child.abort)(ChildError::Cancelled);
            drop(child);
        }
        self.scope.shared.cancel_tasks();
        self.scope.shared.release_tasks();
    }
}
