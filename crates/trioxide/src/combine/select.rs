//! `select!`: wait for the first of several futures and run that branch's handler; the
//! others are dropped (cancelled).
//!
//! The syntax and semantics are `tokio::select!`'s (a `biased;` form that polls in
//! declaration order and a default form that starts each poll at a random branch; a
//! branch whose output does not match its pattern is disabled; an optional `else`
//! branch for when every branch is disabled), written as a declarative macro over
//! stack-pinned futures: the branches are tuple fields reached by position, and the
//! winner's output is parked in a per-branch `Option` so that its handler runs outside
//! the poll closure — where `return`, `?`, `break`, `continue` and `.await` mean what
//! they mean around the `select!`. asyncio has no direct equivalent (it is
//! `wait(.., FIRST_COMPLETED)` plus cancelling the rest).

/// Waits on several futures at once and runs the handler of the first to finish; the
/// other futures are dropped, which cancels them.
///
/// ```text
/// select! {
///     biased;                      // optional: poll in declaration order
///     <pattern> = <future> => <handler>,
///     <pattern> = <future>, if <precondition> => <handler>,
///     ...
///     else => <handler>,           // optional: when every branch is disabled
/// }
/// ```
///
/// Each `<future>` is an expression giving something [`IntoFuture`](std::future::IntoFuture):
/// a future by value (moved in and dropped when `select!` finishes) or `&mut fut` for an
/// [`Unpin`] future you keep (pin it with [`std::pin::pin!`] first if it is not `Unpin`),
/// which lets a loop keep polling the same future across `select!`s. All `<future>`
/// expressions are evaluated, in order, before any is polled.
///
/// How it runs:
/// 0. Every `<precondition>` is evaluated, in order; a branch whose precondition is
///    `false` is disabled from the start (its future is still created, never polled).
/// 1. Every enabled branch is polled, in the current task. With `biased;` the branches
///    are polled in declaration order, so an earlier ready branch always wins; without
///    it each poll starts at a random branch (then goes round in order), so that a
///    branch that is always ready cannot starve the others.
/// 2. When a future finishes, its output is matched against its `<pattern>`. If it
///    matches, every other future is dropped (cancelled) *before* the handler runs — as a
///    cancellation: the [`on_cancel`](crate::on_cancel) cleanups armed inside them run to
///    completion first — and the handler's value is the value of the `select!`. If it
///    does not match, that branch is disabled and `select!` goes on waiting for the
///    others.
/// 3. When every branch is disabled, the `else` handler runs; without an `else`,
///    `select!` panics.
///
/// The refutability check of step 2 matches the output by reference, so under edition
/// 2024's match rules a pattern with a binding modifier *inside* it (`Some(mut x)`,
/// `(a, ref b)`) is rejected at compile time; bind `Some(x)` and write `let mut x = x;`
/// in the handler instead. A top-level `mut x` is fine.
///
/// The handler is ordinary code in the enclosing function: it may `.await`, `return`,
/// use `?`, or `break` / `continue` an enclosing loop.
///
/// Cancel safety is that of the branches: the losers are dropped, so a branch must be
/// cancel-safe (or passed by `&mut` and kept) if losing it must not lose data.
///
/// ```
/// use std::time::Duration;
/// use trioxide::time::sleep;
///
/// trioxide::run(async {
///     let (tx, rx) = trioxide::sync::oneshot::channel::<&str>();
///     tx.send("message").unwrap();
///     let got = trioxide::select! {
///         msg = rx => msg.unwrap(),
///         _ = sleep(Duration::from_secs(5)) => "timed out",
///     };
///     assert_eq!(got, "message");
///
///     // `biased;`: the first ready branch in declaration order wins.
///     let first = trioxide::select! {
///         biased;
///         a = async { 1 } => a,
///         b = async { 2 } => b,
///     };
///     assert_eq!(first, 1);
///
///     // Keep a future across iterations with `&mut` (it must be `Unpin`).
///     let mut deadline = sleep(Duration::from_millis(30));
///     let mut ticks = 0;
///     loop {
///         trioxide::select! {
///             _ = &mut deadline => break,
///             _ = sleep(Duration::from_millis(5)) => ticks += 1,
///         }
///     }
///     assert!(ticks >= 1);
///
///     // A refutable pattern disables its branch when it does not match.
///     let v = trioxide::select! {
///         Some(x) = async { None::<i32> } => x,
///         else => -1,
///     };
///     assert_eq!(v, -1);
/// });
/// ```
#[macro_export]
macro_rules! select {
    (biased; $($t:tt)*) => {
        $crate::__select_internal!(@parse true () () $($t)*)
    };
    ($($t:tt)*) => {
        $crate::__select_internal!(@parse false () () $($t)*)
    };
}

/// Expands `select!`: a tt-muncher that gives each branch the `_` placeholders of the
/// branches before it (its tuple position), then the poll loop and the handler dispatch.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_internal {
    // ---- parsing ----
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) else => $h:block $(,)?) => {
        $crate::__select_internal!(@emit $biased ($($count)*) ($($br)*) ($h))
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) else => $h:expr $(,)?) => {
        $crate::__select_internal!(@emit $biased ($($count)*) ($($br)*) ({ $h }))
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) $p:pat = $f:expr, if $c:expr => $h:block, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $biased ($($count)* _) ($($br)* [($($count)*) $p = $f, if ($c) => $h]) $($rest)*)
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) $p:pat = $f:expr, if $c:expr => $h:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse $biased ($($count)* _) ($($br)* [($($count)*) $p = $f, if ($c) => $h]) $($rest)*)
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) $p:pat = $f:expr, if $c:expr => $h:expr, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $biased ($($count)* _) ($($br)* [($($count)*) $p = $f, if ($c) => { $h }]) $($rest)*)
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) $p:pat = $f:expr, if $c:expr => $h:expr) => {
        $crate::__select_internal!(@parse $biased ($($count)* _) ($($br)* [($($count)*) $p = $f, if ($c) => { $h }]))
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) $p:pat = $f:expr => $h:block, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $biased ($($count)* _) ($($br)* [($($count)*) $p = $f, if (true) => $h]) $($rest)*)
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) $p:pat = $f:expr => $h:block $($rest:tt)*) => {
        $crate::__select_internal!(@parse $biased ($($count)* _) ($($br)* [($($count)*) $p = $f, if (true) => $h]) $($rest)*)
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) $p:pat = $f:expr => $h:expr, $($rest:tt)*) => {
        $crate::__select_internal!(@parse $biased ($($count)* _) ($($br)* [($($count)*) $p = $f, if (true) => { $h }]) $($rest)*)
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*) $p:pat = $f:expr => $h:expr) => {
        $crate::__select_internal!(@parse $biased ($($count)* _) ($($br)* [($($count)*) $p = $f, if (true) => { $h }]))
    };
    (@parse $biased:tt () ()) => {
        ::core::compile_error!("select! needs at least one `pattern = future => handler` branch")
    };
    (@parse $biased:tt ($($count:tt)*) ($($br:tt)*)) => {
        $crate::__select_internal!(@emit $biased ($($count)*) ($($br)*) ({
            $crate::combine::__private::panic!(
                "select!: every branch is disabled (no output matched its pattern) and there is no `else` branch"
            )
        }))
    };

    // ---- code ----
    (@emit $biased:tt ($($count:tt)*) ($( [($($skip:tt)*) $p:pat = $f:expr, if ($c:expr) => $h:block] )*) ($else:block)) => {{
        const __N: usize = 0 $( + $crate::__trioxide_one!($count) )*;
        let (__winner, mut __outs) = {
            // Preconditions first, in order; a false one disables its branch, whose future
            // is still created (below) but never polled.
            let mut __disabled: [bool; __N] = [$( !$c ),*];
            // In `Option`s so that the losers can be dropped in place, as a cancellation.
            let mut __futs = ($(
                $crate::combine::__private::pin!($crate::combine::__private::Some(
                    $crate::combine::__private::IntoFuture::into_future($f),
                )),
            )*);
            let mut __outs = ($( $crate::__trioxide_none!($f), )*);
            let __winner: $crate::combine::__private::Option<usize> =
                $crate::combine::__private::poll_fn(|__cx| {
                    let __start = if $biased { 0 } else { $crate::combine::__private::random_below(__N) };
                    for __k in 0..__N {
                        let __b = $crate::combine::__private::nth_from(__start, __k, __N);
                        $(
                            if __b == 0 $( + $crate::__trioxide_one!($skip) )* && !__disabled[__b] {
                                let ($($skip,)* __fut, ..) = &mut __futs;
                                if let $crate::combine::__private::Poll::Ready(__v) =
                                    $crate::combine::__private::poll_slot(__fut.as_mut(), __cx)
                                {
                                    #[allow(unused_variables, unused_mut, unreachable_patterns)]
                                    let __matched = match &__v {
                                        $p => true,
                                        _ => false,
                                    };
                                    if __matched {
                                        let ($($skip,)* __out, ..) = &mut __outs;
                                        *__out = $crate::combine::__private::Some(__v);
                                        return $crate::combine::__private::Poll::Ready(
                                            $crate::combine::__private::Some(__b),
                                        );
                                    }
                                    __disabled[__b] = true;
                                }
                            }
                        )*
                    }
                    if __disabled.iter().all(|__d| *__d) {
                        $crate::combine::__private::Poll::Ready($crate::combine::__private::None)
                    } else {
                        $crate::combine::__private::Poll::Pending
                    }
                })
                .await;
            // The losers are dropped here, as a cancellation, before the winner's handler
            // runs; their `on_cancel` cleanups run to completion first.
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
            (__winner, __outs)
        };
        match __winner {
            $crate::combine::__private::Some(__b) => {
                $(
                    if __b == 0 $( + $crate::__trioxide_one!($skip) )* {
                        let ($($skip,)* __out, ..) = &mut __outs;
                        match __out.take() {
                            $crate::combine::__private::Some($p) => $h,
                            _ => $crate::combine::__private::unreachable!(),
                        }
                    } else
                )*
                { $crate::combine::__private::unreachable!() }
            }
            $crate::combine::__private::None => $else,
        }
    }};
}
