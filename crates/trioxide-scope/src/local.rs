//! `LocalScope`: a scope whose borrowed children (and body) need not be `Send` — they may
//! hold `Rc`s and `RefCell` borrows — at the price of the scope's future staying on the
//! thread that created it (run it with `block_on`, `spawn_local`, or inside a `Send`
//! task's frame only if it is not held across an `.await` there... i.e. not at all: the
//! future itself is `!Send`).
//!
//! It reuses the `Send` scope's machinery unchanged: the children are wrapped in
//! [`AssertSend`] so they fit its `Send` slots. That is sound because every place that
//! polls or drops those wrapped futures, and every place that reads a child's value, sits
//! behind a `!Send`, `!Sync` wrapper of this module (`LocalScope`, `LocalScopeFuture`,
//! `LocalScopeHandle`): the wrapped values are only ever touched on the creating thread.
//! The inner `Scope` never escapes this module.

use crate::error::{BoxError, ChildError, ScopeError};
use crate::handle::ScopeHandle;
use crate::scope::{Scope, ScopeFuture, SpawnerSource, scope_with};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Marks a wrapper `!Send` and `!Sync`.
type NotSend = PhantomData<*const ()>;

/// A value (future or output) that claims to be `Send`; see the module docs for why the
/// claim holds here.
struct AssertSend<T>(T);

// SAFETY: an `AssertSend` is created, polled, read and dropped only by this module's
// `!Send` wrappers, all on the thread that created the local scope (module docs).
unsafe impl<T> Send for AssertSend<T> {}

impl<F: Future> Future for AssertSend<F> {
    type Output = AssertSend<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        inner.poll(cx).map(AssertSend)
    }
}

/// The handle passed to a [`scope_local`] body: like [`Scope`], but its borrowed
/// children need not be `Send`. `!Send`: it stays on the scope's thread.
pub struct LocalScope<'env> {
    inner: Scope<'env>,
    _not_send: NotSend,
}

impl<'env> LocalScope<'env> {
    /// Spawns a child that may borrow from the enclosing frame and need not be `Send`;
    /// it is polled inside the scope's future. Only its panics count as failures.
    pub fn spawn<F>(&self, future: F) -> LocalScopeHandle<F::Output>
    where
        F: Future + 'env,
        F::Output: 'env,
    {
        LocalScopeHandle {
            inner: self.inner.spawn(AssertSend(future)),
            _not_send: PhantomData,
        }
    }

    /// Spawns a borrowing, possibly `!Send` child whose `Err` is a failure: it cancels
    /// the siblings and the body, and ends up in the scope's `ScopeError`.
    pub fn spawn_fallible<F, T, E>(&self, future: F) -> LocalScopeHandle<T>
    where
        F: Future<Output = Result<T, E>> + 'env,
        T: 'env,
        E: Into<BoxError> + 'env,
    {
        // The error is boxed on this thread (`BoxError` is `Send`); the value stays
        // wrapped until its handle unwraps it.
        let wrapped = AssertSend(async move {
            match future.await {
                Ok(v) => Ok(AssertSend(v)),
                Err(e) => Err(e.into()),
            }
        });
        let inner = self.inner.spawn_fallible(async move {
            let result: Result<AssertSend<T>, BoxError> = wrapped.await.0;
            result
        });
        LocalScopeHandle {
            inner,
            _not_send: PhantomData,
        }
    }

    /// asyncio's name for [`spawn`](LocalScope::spawn).
    pub fn create_task<F>(&self, future: F) -> LocalScopeHandle<F::Output>
    where
        F: Future + 'env,
        F::Output: 'env,
    {
        self.spawn(future)
    }

    /// Spawns a `Send + 'static` child as a runtime task that runs in parallel, exactly
    /// as [`Scope::spawn_parallel`] (debug mode records the caller as its spawn location).
    #[track_caller]
    pub fn spawn_parallel<F>(&self, future: F) -> ScopeHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.spawn_parallel(future)
    }

    /// Cancels the body and every child, as [`Scope::cancel`].
    pub fn cancel(&self) {
        self.inner.cancel();
    }

    /// Whether cancellation was requested (by `cancel` or a failure).
    pub fn is_cancelled(&self) -> bool {
        self.inner.is_cancelled()
    }
}

impl Clone for LocalScope<'_> {
    fn clone(&self) -> Self {
        LocalScope {
            inner: self.inner.clone(),
            _not_send: PhantomData,
        }
    }
}

/// The handle of a [`LocalScope`] child: awaitable inside the scope, readable after it.
pub struct LocalScopeHandle<T> {
    inner: ScopeHandle<AssertSend<T>>,
    _not_send: NotSend,
}

impl<T> LocalScopeHandle<T> {
    /// Whether the child finished (with a value, a failure or by cancellation).
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// The child's result, meant for after the scope returned (see
    /// [`ScopeHandle::result`]).
    pub fn result(self) -> Result<T, ChildError> {
        self.inner.result().map(|AssertSend(v)| v)
    }
}

impl<T> Future for LocalScopeHandle<T> {
    type Output = Result<T, ChildError>;

    /// Waits for the child. Cancel-safe: dropping the `await` loses nothing.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner)
            .poll(cx)
            .map(|r| r.map(|AssertSend(v)| v))
    }
}

impl<T> std::fmt::Debug for LocalScopeHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalScopeHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// The future of a [`scope_local`]; `!Send`.
pub struct LocalScopeFuture<'env, B: Future> {
    inner: ScopeFuture<'env, AssertSend<B>>,
    _not_send: NotSend,
}

impl<B: Future> Future for LocalScopeFuture<'_, B> {
    type Output = Result<B::Output, ScopeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner)
            .poll(cx)
            .map(|r| r.map(|AssertSend(v)| v))
    }
}

// The inner future is `Unpin` (its body is boxed), and so is the marker.
impl<B: Future> Unpin for LocalScopeFuture<'_, B> {}

/// Like [`scope_with`], for bodies and borrowed children that are not `Send` (they hold
/// `Rc`s, `RefCell` borrows, thread-bound handles). The returned future is `!Send`:
/// drive it on one thread (`LocalExecutor::block_on`, `spawn_local`, a current-thread
/// runtime). Parallel children still must be `Send + 'static`.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use trioxide_scope::scope_local;
/// use trioxide_task::LocalExecutor;
///
/// let log = Rc::new(RefCell::new(Vec::new())); // not Send
/// let ex = LocalExecutor::new();
/// let n = ex.block_on(scope_local(None, |s| {
///     let log = log.clone();
///     async move {
///         for i in 0..3 {
///             let log = log.clone();
///             s.spawn(async move { log.borrow_mut().push(i) });
///         }
///         3
///     }
/// }));
/// assert_eq!(n.unwrap(), 3);
/// assert_eq!(log.borrow().len(), 3);
/// ```
pub fn scope_local<'env, F, B>(
    spawner: impl Into<SpawnerSource>,
    body: F,
) -> LocalScopeFuture<'env, B>
where
    F: FnOnce(LocalScope<'env>) -> B,
    B: Future + 'env,
{
    let inner = scope_with(spawner, |s| {
        AssertSend(body(LocalScope {
            inner: s,
            _not_send: PhantomData,
        }))
    });
    LocalScopeFuture {
        inner,
        _not_send: PhantomData,
    }
}
