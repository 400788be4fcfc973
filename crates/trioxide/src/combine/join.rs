//! `join!`, `try_join!`, `join_all` and `try_join_all`: asyncio's `gather`.
//!
//! The macros follow the shape of `futures::join!` / `tokio::join!` (a tuple of futures
//! pinned on the stack, polled inside the calling task, outputs in argument order); the
//! `Vec` forms follow `futures::future::join_all`, but poll through per-child wakers and
//! a shared ready list (`FuturesUnordered`'s scheme, see [`super`]) so that a wake costs
//! O(1) and a poll O(woken), not O(n). `try_*` short-circuit like `gather` raising its
//! first exception, except that the other futures are dropped (cancelled) rather than
//! left running — a Rust future cannot outlive the combinator that owns it.

use super::Children;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls several futures concurrently in the current task and returns all their outputs
/// as a tuple, in argument order (asyncio's `await gather(a, b, c)`).
///
/// Each argument may be anything [`IntoFuture`]; they are evaluated in order, then pinned
/// on the stack (no allocation). Each branch has its own waker: a poll of `join!` polls
/// only the branches that were woken since they were last polled, each at most once and in
/// argument order, and never polls a finished branch again; a branch that wakes itself
/// while polled is polled again on the next poll of `join!`, not in a loop, so one busy
/// branch cannot starve the others or the scheduler. Any number of branches is accepted.
///
/// Everything runs in the calling task: for parallelism across worker threads, [`spawn`]
/// the work and `join!` the handles.
///
/// Cancel safety: dropping the `join!` future drops every unfinished branch, and the
/// outputs of finished ones.
///
/// ```
/// use std::time::Duration;
///
/// trioxide::run(async {
///     async fn fetch(url: &str, ms: u64) -> String {
///         trioxide::time::sleep(Duration::from_millis(ms)).await;
///         format!("data from {url}")
///     }
///     let (a, b, c) = trioxide::join!(
///         fetch("http://example.com", 20),
///         fetch("http://example.org", 10),
///         fetch("http://example.net", 5),
///     );
///     assert_eq!(a, "data from http://example.com"); // argument order, not finish order
///     assert_eq!((b.as_str(), c.as_str()), ("data from http://example.org", "data from http://example.net"));
/// });
/// ```
///
/// [`spawn`]: crate::spawn
#[macro_export]
macro_rules! join {
    () => { () };
    ($($fut:expr),+ $(,)?) => {
        $crate::__join_internal!(join () () $($fut,)+)
    };
}

/// Like [`join!`](crate::join) for futures that return `Result<_, E>` (one `E` for all):
/// `Ok` of the tuple of `Ok` values when all succeed; on the first `Err` (in the order the
/// futures finish), drops — cancels — the others and returns that `Err` (`gather` raising
/// its first exception) once the [`on_cancel`](crate::on_cancel) cleanups those drops
/// armed have finished.
///
/// Polling and fairness are those of `join!`.
///
/// ```
/// use std::time::Duration;
///
/// trioxide::run(async {
///     let slow = async {
///         trioxide::time::sleep(Duration::from_secs(60)).await;
///         Ok::<u32, String>(1)
///     };
///     let failing = async { Err::<u32, String>("boom".into()) };
///     // Returns as soon as `failing` fails; `slow` is dropped, not waited for.
///     assert_eq!(trioxide::try_join!(slow, failing), Err("boom".to_string()));
///
///     let ok = trioxide::try_join!(async { Ok::<_, String>(1) }, async { Ok("two") });
///     assert_eq!(ok, Ok((1, "two")));
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    () => { $crate::combine::__private::Result::<(), _>::Ok(()) };
    ($($fut:expr),+ $(,)?) => {
        $crate::__join_internal!(try_join () () $($fut,)+)
    };
}

/// Expands `join!` / `try_join!`: first gives each future the list of `_` placeholders
/// for the branches before it (its tuple position), then emits the poll loop.
#[doc(hidden)]
#[macro_export]
macro_rules! __join_internal {
    (join ($($count:tt)*) ($( (($($skip:tt)*) $fut:expr) )*)) => {{
        let mut __futs = ($(
            $crate::combine::__private::pin!($crate::combine::__private::IntoFuture::into_future($fut)),
        )*);
        let mut __outs = ($( $crate::__trioxide_none!($fut), )*);
        let mut __state = $crate::combine::__private::JoinState::new(0 $( + $crate::__trioxide_one!($count) )*);
        $crate::combine::__private::poll_fn(|__cx| {
            __state.begin(__cx);
            let mut __pending = false;
            $({
                let ($($skip,)* __fut, ..) = &mut __futs;
                let ($($skip,)* __out, ..) = &mut __outs;
                let __i: usize = 0 $( + $crate::__trioxide_one!($skip) )*;
                if __out.is_none() {
                    if __state.take(__i) {
                        match $crate::combine::__private::Future::poll(__fut.as_mut(), &mut __state.context(__i)) {
                            $crate::combine::__private::Poll::Ready(__v) => *__out = $crate::combine::__private::Some(__v),
                            $crate::combine::__private::Poll::Pending => __pending = true,
                        }
                    } else {
                        __pending = true;
                    }
                }
            })*
            if __pending {
                return $crate::combine::__private::Poll::Pending;
            }
            $crate::combine::__private::Poll::Ready(($({
                let ($($skip,)* __out, ..) = &mut __outs;
                match __out.take() {
                    $crate::combine::__private::Some(__v) => __v,
                    $crate::combine::__private::None => $crate::combine::__private::unreachable!(),
                }
            },)*))
        }).await
    }};
    (try_join ($($count:tt)*) ($( (($($skip:tt)*) $fut:expr) )*)) => {{
        // In `Option`s so that, after an error, the others can be dropped in place as a
        // cancellation.
        let mut __futs = ($(
            $crate::combine::__private::pin!($crate::combine::__private::Some(
                $crate::combine::__private::IntoFuture::into_future($fut),
            )),
        )*);
        let mut __outs = ($( $crate::__trioxide_none!($fut), )*);
        let mut __state = $crate::combine::__private::JoinState::new(0 $( + $crate::__trioxide_one!($count) )*);
        let __result = $crate::combine::__private::poll_fn(|__cx| {
            __state.begin(__cx);
            let mut __pending = false;
            $({
                let ($($skip,)* __fut, ..) = &mut __futs;
                let ($($skip,)* __out, ..) = &mut __outs;
                let __i: usize = 0 $( + $crate::__trioxide_one!($skip) )*;
                if __out.is_none() {
                    if __state.take(__i) {
                        match $crate::combine::__private::poll_slot(__fut.as_mut(), &mut __state.context(__i)) {
                            $crate::combine::__private::Poll::Ready($crate::combine::__private::Result::Ok(__v)) => {
                                *__out = $crate::combine::__private::Some(__v)
                            }
                            $crate::combine::__private::Poll::Ready($crate::combine::__private::Result::Err(__e)) => {
                                return $crate::combine::__private::Poll::Ready($crate::combine::__private::Result::Err(__e));
                            }
                            $crate::combine::__private::Poll::Pending => __pending = true,
                        }
                    } else {
                        __pending = true;
                    }
                }
            })*
            if __pending {
                return $crate::combine::__private::Poll::Pending;
            }
            $crate::combine::__private::Poll::Ready($crate::combine::__private::Result::Ok(($({
                let ($($skip,)* __out, ..) = &mut __outs;
                match __out.take() {
                    $crate::combine::__private::Some(__v) => __v,
                    $crate::combine::__private::None => $crate::combine::__private::unreachable!(),
                }
            },)*)))
        }).await;
        if __result.is_err() {
            // The others are dropped (cancelled) now; their `on_cancel` cleanups finish
            // before the error is returned.
            let __cleanup = $crate::combine::__private::cancel_losers(|| {
                $(
                    {
                        let ($($skip,)* __fut, ..) = &mut __futs;
                        __fut.set($crate::combine::__private::None);
                    }
                )*
            });
            if let $crate::combine::__private::Some(__cleanup) = __cleanup {
                __cleanup.await;
            }
        }
        __result
    }};
    ($mode:ident ($($count:tt)*) ($($done:tt)*) $next:expr, $($rest:expr,)*) => {
        $crate::__join_internal!($mode ($($count)* _) ($($done)* (($($count)*) $next)) $($rest,)*)
    };
}

/// `1`, whatever the argument (counts macro repetitions).
#[doc(hidden)]
#[macro_export]
macro_rules! __trioxide_one {
    ($($t:tt)*) => {
        1usize
    };
}

/// `None`, whatever the argument (one empty output slot per branch).
#[doc(hidden)]
#[macro_export]
macro_rules! __trioxide_none {
    ($($t:tt)*) => {
        $crate::combine::__private::None
    };
}

/// Runs every future of `iter` concurrently in the current task and returns their
/// outputs in input order (asyncio's `await gather(*aws)`).
///
/// With futures that return `Result`, this is `gather(.., return_exceptions=True)`: every
/// future runs to the end and every `Ok` and `Err` comes back in place; nothing is
/// cancelled. For "the first error cancels the rest", use [`try_join_all`].
///
/// Each future is boxed (one allocation each, so that any future can be pinned without
/// unsafe code) and gets its own waker; a poll of `JoinAll` polls only the futures woken
/// since their last poll, in the order they were woken, each at most once per poll of
/// `JoinAll`. 10,000 futures cost 10,000 polls per round of wake-ups, not 10,000² — see
/// the [module docs](crate::combine).
///
/// Cancel safety: dropping the `JoinAll` drops every unfinished future and the outputs
/// gathered so far. To run futures *in parallel* on a multi-threaded runtime, [`spawn`]
/// them and `join_all` the handles.
///
/// ```
/// use std::time::Duration;
///
/// trioxide::run(async {
///     let futures = (0..5u64).map(|i| async move {
///         trioxide::time::sleep(Duration::from_millis(10 * (5 - i))).await;
///         i * i
///     });
///     assert_eq!(trioxide::join_all(futures).await, vec![0, 1, 4, 9, 16]);
///
///     // gather(.., return_exceptions=True): all results, errors in place.
///     let results = trioxide::join_all([
///         trioxide::spawn(async { 1 }),
///         trioxide::spawn(async { panic!("task failed") }),
///     ])
///     .await;
///     assert_eq!(*results[0].as_ref().unwrap(), 1);
///     assert!(results[1].as_ref().unwrap_err().is_panic());
/// });
/// ```
///
/// [`spawn`]: crate::spawn
pub fn join_all<I>(iter: I) -> JoinAll<<I::Item as IntoFuture>::IntoFuture>
where
    I: IntoIterator,
    I::Item: IntoFuture,
{
    let children = Children::new(iter.into_iter().map(|f| Box::pin(f.into_future())));
    let outputs = (0..children.total()).map(|_| None).collect();
    JoinAll {
        children,
        outputs: Some(outputs),
    }
}

/// The future returned by [`join_all`]: the outputs of all its futures, in input order.
///
/// A named type, so it can be stored or returned:
///
/// ```
/// use std::future::Ready;
/// use trioxide::JoinAll;
///
/// fn three() -> JoinAll<Ready<u32>> {
///     trioxide::join_all([1, 2, 3].map(std::future::ready))
/// }
/// assert_eq!(trioxide::run(three()), vec![1, 2, 3]);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct JoinAll<F: Future> {
    children: Children<Pin<Box<F>>>,
    /// `None` once the result was returned.
    outputs: Option<Vec<Option<F::Output>>>,
}

// Nothing is pinned in place: the futures are boxed, the outputs are plain values.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let outputs = this
            .outputs
            .as_mut()
            .expect("JoinAll polled after it returned its result");
        loop {
            match this.children.poll_next(cx) {
                Poll::Ready(Some((i, out))) => outputs[i] = Some(out),
                Poll::Ready(None) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        let outputs = this.outputs.take().into_iter().flatten();
        Poll::Ready(outputs.map(|o| o.expect("every child finished")).collect())
    }
}

impl<F: Future> fmt::Debug for JoinAll<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinAll")
            .field("total", &self.children.total())
            .field("unfinished", &self.children.live())
            .finish()
    }
}

/// Runs every future of `iter` concurrently in the current task; `Ok` of all their `Ok`
/// values in input order, or the first `Err` (in finishing order), at which point the
/// other futures are dropped — cancelled (asyncio's `gather` raising its first exception);
/// the error is returned once the [`on_cancel`](crate::on_cancel) cleanups those drops
/// armed have finished.
///
/// Polling and fairness are those of [`join_all`].
///
/// ```
/// trioxide::run(async {
///     let parse = |s: &'static str| async move { s.parse::<i32>() };
///     assert_eq!(trioxide::try_join_all([parse("1"), parse("2")]).await, Ok(vec![1, 2]));
///     assert!(trioxide::try_join_all([parse("1"), parse("x")]).await.is_err());
/// });
/// ```
pub fn try_join_all<I, T, E>(iter: I) -> TryJoinAll<<I::Item as IntoFuture>::IntoFuture, T, E>
where
    I: IntoIterator,
    I::Item: IntoFuture<Output = Result<T, E>>,
{
    let children = Children::new(iter.into_iter().map(|f| Box::pin(f.into_future())));
    let outputs = (0..children.total()).map(|_| None).collect();
    TryJoinAll {
        children,
        outputs: Some(outputs),
        failing: None,
    }
}

/// The future returned by [`try_join_all`]: `Ok` of every `Ok` value in input order, or
/// the first `Err`.
///
/// ```
/// use std::future::Ready;
/// use trioxide::TryJoinAll;
///
/// let parsed: TryJoinAll<Ready<Result<u8, String>>, u8, String> =
///     trioxide::try_join_all([Ok(1), Err("bad".to_string())].map(std::future::ready));
/// assert_eq!(trioxide::run(parsed), Err("bad".to_string()));
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct TryJoinAll<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    children: Children<Pin<Box<F>>>,
    /// `None` once the result was returned.
    outputs: Option<Vec<Option<T>>>,
    /// The first error while the other futures' cleanups run.
    failing: Option<(E, trioxide_task::cancel::Cleanup)>,
}

// Nothing is pinned in place: the futures are boxed, the outputs are plain values.
impl<F, T, E> Unpin for TryJoinAll<F, T, E> where F: Future<Output = Result<T, E>> {}

impl<F, T, E> Future for TryJoinAll<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<Vec<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(failed) = super::__private::poll_held(&mut this.failing, cx) {
            return failed.map(Err);
        }
        let outputs = this
            .outputs
            .as_mut()
            .expect("TryJoinAll polled after it returned its result");
        loop {
            match this.children.poll_next(cx) {
                Poll::Ready(Some((i, Ok(out)))) => outputs[i] = Some(out),
                Poll::Ready(Some((_, Err(e)))) => {
                    // The first error: drop (cancel) every other future now, and wait for
                    // the `on_cancel` cleanups that armed.
                    let children = &mut this.children;
                    let cleanup = super::__private::cancel_losers(|| children.clear());
                    this.outputs = None;
                    return match cleanup {
                        None => Poll::Ready(Err(e)),
                        Some(cleanup) => {
                            this.failing = Some((e, cleanup));
                            Pin::new(this).poll(cx)
                        }
                    };
                }
                Poll::Ready(None) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        let outputs = this.outputs.take().into_iter().flatten();
        Poll::Ready(Ok(outputs
            .map(|o| o.expect("every child finished"))
            .collect()))
    }
}

impl<F, T, E> fmt::Debug for TryJoinAll<F, T, E>
where
    F: Future<Output = Result<T, E>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryJoinAll")
            .field("total", &self.children.total())
            .field("unfinished", &self.children.live())
            .finish()
    }
}
