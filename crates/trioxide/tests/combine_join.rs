//! `join!`, `try_join!`, `join_all`, `try_join_all`: concurrency, output order,
//! short-circuiting (the rest dropped), polling only what was woken, and 10,000 children.
//! Every test runs on both scheduler flavors.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use trioxide::time::sleep;

#[macro_use]
mod support;

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Counts its polls; stays pending until `gate` is opened through `open`.
struct Gated {
    polls: Arc<AtomicUsize>,
    gate: Arc<std::sync::Mutex<(bool, Option<Waker>)>>,
}

impl Future for Gated {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        let mut gate = self.gate.lock().unwrap();
        if gate.0 {
            Poll::Ready(())
        } else {
            gate.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

fn open(gate: &std::sync::Mutex<(bool, Option<Waker>)>) {
    let mut gate = gate.lock().unwrap();
    gate.0 = true;
    if let Some(w) = gate.1.take() {
        w.wake();
    }
}

/// Counts the polls of the future it wraps.
struct Counted<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

both_flavors! {
    async fn join_runs_branches_concurrently_and_keeps_argument_order() {
        let started = Instant::now();
        let work = |ms: u64, v: &'static str| async move {
            sleep(Duration::from_millis(ms)).await;
            v
        };
        let out = trioxide::join!(work(300, "a"), work(300, "b"), work(300, "c"));
        let took = started.elapsed();
        assert_eq!(out, ("a", "b", "c"));
        // Run one after another they would take 900 ms; concurrently about 300 ms. The
        // bound leaves a loaded 2-core CI machine 500 ms of slack.
        assert!(took < Duration::from_millis(800), "three 300 ms sleeps took {took:?}");
    }

    async fn join_takes_twelve_and_more_mixed_branches() {
        let out = trioxide::join!(
            async { 0u8 }, async { 1u16 }, async { 2u32 }, async { 3u64 },
            async { "four" }, async { 5i8 }, async { 6i16 }, async { 7i32 },
            async { 8i64 }, async { 'n' }, async { 10usize }, async { 11isize },
            trioxide::yield_now(), std::future::ready(13),
        );
        let (a, b, c, d, e, f, g, h, i, j, k, l, (), n) = out;
        assert_eq!((a, b, c, d, e, f), (0, 1, 2, 3, "four", 5));
        assert_eq!((g, h, i, j, k, l, n), (6, 7, 8, 'n', 10, 11, 13));
        assert_eq!(trioxide::join!(async { 1 }), (1,));
        let () = trioxide::join!();
    }

    async fn join_polls_a_branch_only_when_it_was_woken() {
        let polls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(std::sync::Mutex::new((false, None)));
        let gated = Gated { polls: polls.clone(), gate: gate.clone() };
        let busy = async {
            for _ in 0..100 {
                trioxide::yield_now().await;
            }
            open(&gate);
            "busy done"
        };
        let ((), busy) = trioxide::join!(gated, busy);
        assert_eq!(busy, "busy done");
        // Once at the start, once after `open` woke it; not on each of busy's 100 wakes.
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    async fn try_join_and_try_join_all_run_the_others_cleanups_before_the_error() {
        // Pending forever; dropped as a cancellation, its cleanup (a sleep) sets `flag`.
        fn pending_with_cleanup(flag: &Arc<AtomicBool>) -> impl Future<Output = Result<u32, String>> + Send + use<> {
            let flag = flag.clone();
            async move {
                let _cleanup = trioxide::on_cancel(async move {
                    sleep(Duration::from_millis(5)).await;
                    flag.store(true, Ordering::SeqCst);
                });
                std::future::pending::<()>().await;
                Ok(0)
            }
        }
        async fn fails_after_a_yield() -> Result<u32, String> {
            trioxide::yield_now().await;
            Err("boom".to_string())
        }
        let cleaned = Arc::new(AtomicBool::new(false));
        let got = trioxide::try_join!(pending_with_cleanup(&cleaned), fails_after_a_yield());
        assert_eq!(got, Err("boom".to_string()));
        assert!(cleaned.load(Ordering::SeqCst), "try_join!: the other's cleanup ran first");

        let flags: Vec<_> = (0..3).map(|_| Arc::new(AtomicBool::new(false))).collect();
        type Fallible = Pin<Box<dyn Future<Output = Result<u32, String>> + Send>>;
        let mut all: Vec<Fallible> =
            flags.iter().map(|f| Box::pin(pending_with_cleanup(f)) as _).collect();
        all.push(Box::pin(fails_after_a_yield()));
        assert_eq!(trioxide::try_join_all(all).await, Err("boom".to_string()));
        assert!(
            flags.iter().all(|f| f.load(Ordering::SeqCst)),
            "try_join_all: every other future's cleanup ran first"
        );
    }

    async fn try_join_returns_the_first_error_and_drops_the_rest() {
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = DropFlag(dropped.clone());
        let slow = async move {
            let _guard = guard;
            sleep(Duration::from_secs(60)).await;
            Ok::<u32, String>(1)
        };
        let failing = async {
            trioxide::yield_now().await;
            Err::<u32, String>("boom".into())
        };
        let started = Instant::now();
        let out = trioxide::try_join!(slow, async { Ok(2) }, failing);
        assert_eq!(out, Err("boom".to_string()));
        assert!(dropped.load(Ordering::SeqCst), "the unfinished branch was dropped");
        assert!(started.elapsed() < Duration::from_secs(30));

        let ok = trioxide::try_join!(async { Ok::<_, ()>(1) }, async { Ok("two") });
        assert_eq!(ok, Ok((1, "two")));
    }

    async fn join_all_of_10_000_yielding_futures_keeps_input_order() {
        let polls = Arc::new(AtomicUsize::new(0));
        let futures = (0..10_000usize).map(|i| Counted {
            inner: Box::pin(async move {
                trioxide::yield_now().await;
                i
            }),
            polls: polls.clone(),
        });
        let out = trioxide::join_all(futures).await;
        assert_eq!(out, (0..10_000).collect::<Vec<_>>());
        // Each child is polled once to start and once after its own wake: 2 polls each,
        // not one per wake of any sibling.
        assert_eq!(polls.load(Ordering::Relaxed), 20_000);
    }

    async fn join_all_returns_outputs_in_input_order_not_finish_order() {
        let (txs, rxs): (Vec<_>, Vec<_>) =
            (0..5).map(|_| trioxide::sync::oneshot::channel::<usize>()).unzip();
        let waiting = trioxide::join_all(rxs.into_iter().map(|rx| async move { rx.await.unwrap() }));
        let sender = async move {
            for (i, tx) in txs.into_iter().enumerate().rev() {
                tx.send(i * 10).unwrap();
                trioxide::yield_now().await;
            }
        };
        let (out, ()) = trioxide::join!(waiting, sender);
        assert_eq!(out, vec![0, 10, 20, 30, 40]);
        assert_eq!(trioxide::join_all(Vec::<std::future::Ready<u8>>::new()).await, vec![]);
    }

    async fn join_all_of_results_is_gather_with_return_exceptions() {
        let ran = Arc::new(AtomicUsize::new(0));
        let futures = (0..4).map(|i| {
            let ran = ran.clone();
            async move {
                trioxide::yield_now().await;
                ran.fetch_add(1, Ordering::SeqCst);
                if i % 2 == 1 { Err(format!("failed {i}")) } else { Ok(i) }
            }
        });
        let out = trioxide::join_all(futures).await;
        assert_eq!(
            out,
            vec![Ok(0), Err("failed 1".to_string()), Ok(2), Err("failed 3".to_string())]
        );
        assert_eq!(ran.load(Ordering::SeqCst), 4, "nothing was cancelled");

        let handles = [trioxide::spawn(async { 1 }), trioxide::spawn(async { panic!("task failed") })];
        let results = trioxide::join_all(handles).await;
        assert_eq!(*results[0].as_ref().unwrap(), 1);
        assert!(results[1].as_ref().unwrap_err().is_panic());
    }

    async fn try_join_all_drops_the_rest_on_the_first_error() {
        let flags: Vec<_> = (0..5).map(|_| Arc::new(AtomicBool::new(false))).collect();
        let futures = flags.iter().enumerate().map(|(i, flag)| {
            let guard = DropFlag(flag.clone());
            async move {
                let _guard = guard;
                if i == 3 {
                    trioxide::yield_now().await;
                    return Err(i);
                }
                sleep(Duration::from_secs(60)).await;
                Ok(i)
            }
        });
        assert_eq!(trioxide::try_join_all(futures).await, Err(3));
        assert!(flags.iter().all(|f| f.load(Ordering::SeqCst)), "every future was dropped");

        let ok = trioxide::try_join_all((0..3).map(|i| async move { Ok::<_, ()>(i) })).await;
        assert_eq!(ok, Ok(vec![0, 1, 2]));
    }
}

/// The combinators' futures are `Send` when what they hold is, so they can be spawned.
#[test]
fn combinator_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let handles = || Vec::<trioxide::JoinHandle<u8>>::new();
    assert_send(&trioxide::join_all([std::future::ready(1)]));
    assert_send(&trioxide::try_join_all([std::future::ready(Ok::<u8, ()>(
        1,
    ))]));
    assert_send(&trioxide::race_all([std::future::ready(1)]));
    assert_send(&trioxide::race(
        std::future::ready(1),
        std::future::ready(2),
    ));
    assert_send(&trioxide::wait(
        handles(),
        trioxide::Wait::AllCompleted,
        None,
    ));
    assert_send(&trioxide::as_completed(handles()));
    assert_send(&async {
        let _ = trioxide::join!(std::future::ready(1), trioxide::yield_now());
        let _ = trioxide::try_join!(std::future::ready(Ok::<u8, ()>(1)));
        trioxide::select! {
            a = std::future::ready(1) => a,
            b = std::future::ready(2) => b,
        }
    });
}
