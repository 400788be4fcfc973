//! `trioxide::scope`: structured concurrency on the current runtime (Trio's nursery,
//! asyncio's `TaskGroup`), plus Trio's `move_on_after` / `fail_after`.
//!
//! See `trioxide_scope` for the rules; this module only connects scopes to the
//! runtime's spawner so `spawn_parallel` children run as real tasks.

use crate::runtime::Handle;
use crate::time::{Instant, timeout_at};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
pub use trioxide_scope::{
    BoxError, ChildError, ChildPanic, Failure, LocalScope, LocalScopeFuture, LocalScopeHandle,
    Scope, ScopeError, ScopeFuture, ScopeHandle, TaskGroup,
};

/// A scope's spawner: the runtime, plus (for the task dump) the scope's number and the
/// task its body runs in, which become the parent of its `spawn_parallel` children.
struct RuntimeSpawner {
    handle: Handle,
    scope: u64,
    owner: Option<trioxide_task::TaskId>,
}

/// Scope numbers, unique in the process (a plain std atomic: an id counter outside
/// the schedulers, never in a loom model).
static NEXT_SCOPE: AtomicU64 = AtomicU64::new(1);

impl trioxide_scope::Spawn for RuntimeSpawner {
    fn spawn_with(
        &self,
        at: &'static std::panic::Location<'static>,
        spawn: &mut dyn FnMut(trioxide_task::SpawnerRef<'_>),
    ) {
        let meta = || crate::debug::SpawnMeta {
            name: None,
            at: Some(at),
            parent: Some(crate::debug::Parent::Scope {
                scope: self.scope,
                owner: self.owner,
            }),
        };
        self.handle.with_spawner(meta, spawn);
    }
}

/// Runs `body` with a new scope: children spawned in it may borrow from the enclosing
/// frame (`s.spawn`) or run in parallel on the runtime's workers (`s.spawn_parallel`).
/// Returns once every child has finished; the first failure cancels the rest and
/// becomes part of the `ScopeError`.
///
/// ```
/// use std::time::Duration;
/// trioxide::run(async {
///     let items = ["A", "B", "C"];
///     let mut handles = Vec::new();
///     let result = trioxide::scope(|tg| {
///         let (items, handles) = (&items, &mut handles); // borrowed, not 'static
///         async move {
///             for item in items.iter() {
///                 handles.push(tg.create_task(async move {
///                     trioxide::time::sleep(Duration::from_millis(5)).await;
///                     format!("Processed {item}")
///                 }));
///             }
///         }
///     })
///     .await;
///     assert!(result.is_ok());
///     let results: Vec<String> = handles.into_iter().map(|h| h.result().unwrap()).collect();
///     assert_eq!(results, ["Processed A", "Processed B", "Processed C"]);
/// });
/// ```
pub fn scope<'env, F, B>(body: F) -> ScopeFuture<'env, B>
where
    F: FnOnce(Scope<'env>) -> B,
    B: Future + Send + 'env,
{
    trioxide_scope::scope_with(trioxide_scope::SpawnerSource::Lazy(current_spawner), body)
}

/// Like [`scope`], for a body that returns `Result`: an `Err` from the body (a `?`)
/// fails the scope as a child's error does — the children are cancelled, and the scope
/// returns `Err(ScopeError)` holding that error among its failures once they have
/// stopped. This is a Trio nursery's or an asyncio `TaskGroup`'s reaction to an exception
/// in its body; with [`scope`], a body's `Err` is only its value and the children keep
/// running.
///
/// ```
/// use std::time::Duration;
/// trioxide::run(async {
///     let result = trioxide::try_scope(|s| async move {
///         s.spawn(trioxide::time::sleep(Duration::from_secs(3600))); // cancelled below
///         let n: u32 = "not a number".parse()?; // fails the scope
///         Ok::<_, std::num::ParseIntError>(n)
///     })
///     .await;
///     let err = result.unwrap_err();
///     assert_eq!(err.failures().len(), 1); // the parse error; the sleep was cancelled
/// });
/// ```
pub fn try_scope<'env, F, B, T, E>(
    body: F,
) -> impl Future<Output = Result<T, ScopeError>> + Send + 'env
where
    F: FnOnce(Scope<'env>) -> B,
    B: Future<Output = Result<T, E>> + Send + 'env,
    T: Send + 'env,
    E: Into<BoxError>,
{
    trioxide_scope::try_scope_with(trioxide_scope::SpawnerSource::Lazy(current_spawner), body)
}

/// Like [`scope`], for bodies and borrowed children that are not `Send` (they hold
/// `Rc`s, `RefCell` borrows, thread-bound handles). The scope's future is `!Send`: await
/// it in `trioxide::run`'s main future, a `spawn_local` task, or on a current-thread
/// runtime. Parallel children still must be `Send + 'static`.
///
/// ```
/// use std::cell::RefCell;
/// trioxide::run(async {
///     let log = RefCell::new(Vec::new()); // &RefCell is not Send
///     trioxide::scope_local(|s| {
///         let log = &log;
///         async move {
///             for i in 0..3 {
///                 s.spawn(async move { log.borrow_mut().push(i) });
///             }
///         }
///     })
///     .await
///     .unwrap();
///     assert_eq!(log.into_inner().len(), 3);
/// });
/// ```
pub fn scope_local<'env, F, B>(body: F) -> LocalScopeFuture<'env, B>
where
    F: FnOnce(LocalScope<'env>) -> B,
    B: Future + 'env,
{
    trioxide_scope::scope_local(trioxide_scope::SpawnerSource::Lazy(current_spawner), body)
}

/// The current runtime as a scope spawner (found at the scope's first `spawn_parallel`,
/// inside the task that runs the scope).
fn current_spawner() -> Option<Arc<dyn trioxide_scope::Spawn>> {
    let handle = Handle::try_current().ok()?;
    Some(Arc::new(RuntimeSpawner {
        handle,
        scope: NEXT_SCOPE.fetch_add(1, Ordering::Relaxed),
        owner: trioxide_task::current_task_id(),
    }))
}

/// The error of [`fail_after`]: the deadline passed first (Trio's `TooSlowError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operation did not finish before its deadline")]
pub struct TimedOut;

/// Runs `future` for at most `duration`; `None` (the future cancelled) if time ran out.
///
/// ```
/// use std::time::Duration;
/// use trioxide::time::sleep;
///
/// trioxide::run(async {
///     let quick = trioxide::move_on_after(Duration::from_secs(10), async { "done" }).await;
///     assert_eq!(quick, Some("done"));
///     let slow = trioxide::move_on_after(Duration::from_millis(5), sleep(Duration::from_secs(60)));
///     assert_eq!(slow.await, None); // the sleep was cancelled
/// });
/// ```
pub async fn move_on_after<F: Future>(duration: Duration, future: F) -> Option<F::Output> {
    move_on_at(Instant::now().saturating_add(duration), future).await
}

/// Runs `future` until `deadline` at most; `None` if the deadline passed first.
pub async fn move_on_at<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    timeout_at(deadline, future).await.ok()
}

/// Runs `future` for at most `duration`; `Err(TimedOut)` (the future cancelled) if time
/// ran out.
///
/// ```
/// use std::time::Duration;
///
/// trioxide::run(async {
///     let slow = trioxide::time::sleep(Duration::from_secs(60));
///     let outcome = trioxide::fail_after(Duration::from_millis(5), slow).await;
///     assert_eq!(outcome, Err(trioxide::TimedOut));
/// });
/// ```
pub async fn fail_after<F: Future>(duration: Duration, future: F) -> Result<F::Output, TimedOut> {
    fail_at(Instant::now().saturating_add(duration), future).await
}

/// Runs `future` until `deadline` at most; `Err(TimedOut)` if the deadline passed first.
pub async fn fail_at<F: Future>(deadline: Instant, future: F) -> Result<F::Output, TimedOut> {
    timeout_at(deadline, future).await.map_err(|_| TimedOut)
}
