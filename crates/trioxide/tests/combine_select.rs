//! `select!` (biased and fair), `race` and `race_all`: which branch wins, that the losers
//! are dropped before the handler runs (and their `on_cancel` cleanups finish first), `&mut` branches kept across a loop, refutable
//! patterns and `else`, and control flow in handlers. Every test runs on both flavors.

use std::future::{Future, pending, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
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

/// A future that never finishes and sets `flag` when dropped.
fn pending_with_flag(flag: &Arc<AtomicBool>) -> impl Future<Output = u32> + use<> {
    let guard = DropFlag(flag.clone());
    async move {
        let _guard = guard;
        pending::<()>().await;
        0
    }
}

/// A future that never finishes; dropped as a cancellation, its `on_cancel` cleanup
/// (which takes a sleep) sets `flag`.
fn pending_with_cleanup(flag: &Arc<AtomicBool>) -> impl Future<Output = u32> + Send + use<> {
    let flag = flag.clone();
    async move {
        let _cleanup = trioxide::on_cancel(async move {
            sleep(Duration::from_millis(5)).await;
            flag.store(true, Ordering::SeqCst);
        });
        pending::<()>().await;
        0
    }
}

/// Ready at its second poll (so that the losers are polled, and arm their guards, first).
async fn ready_after_a_yield(v: u32) -> u32 {
    trioxide::yield_now().await;
    v
}

both_flavors! {
    async fn select_runs_the_losers_cleanups_before_the_handler() {
        for biased in [false, true] {
            let cleaned = Arc::new(AtomicBool::new(false));
            let seen = if biased {
                trioxide::select! {
                    biased;
                    _ = pending_with_cleanup(&cleaned) => unreachable!(),
                    v = ready_after_a_yield(7) => (v, cleaned.load(Ordering::SeqCst)),
                }
            } else {
                trioxide::select! {
                    _ = pending_with_cleanup(&cleaned) => unreachable!(),
                    v = ready_after_a_yield(7) => (v, cleaned.load(Ordering::SeqCst)),
                }
            };
            assert_eq!(seen, (7, true), "biased: {biased}");
        }
    }

    async fn race_and_race_all_run_the_losers_cleanups_before_returning() {
        let cleaned = Arc::new(AtomicBool::new(false));
        assert_eq!(trioxide::race(pending_with_cleanup(&cleaned), ready_after_a_yield(3)).await, 3);
        assert!(cleaned.load(Ordering::SeqCst), "race: the loser's cleanup ran");

        let flags: Vec<_> = (0..3).map(|_| Arc::new(AtomicBool::new(false))).collect();
        let mut racers: Vec<std::pin::Pin<Box<dyn Future<Output = u32> + Send>>> =
            flags.iter().map(|f| Box::pin(pending_with_cleanup(f)) as _).collect();
        racers.push(Box::pin(ready_after_a_yield(5)));
        assert_eq!(trioxide::race_all(racers).await, 5);
        assert!(
            flags.iter().all(|f| f.load(Ordering::SeqCst)),
            "race_all: every loser's cleanup ran"
        );
    }

    async fn biased_select_picks_the_first_ready_branch() {
        for _ in 0..100 {
            let got = trioxide::select! {
                biased;
                a = ready(1) => a,
                b = ready(2) => b,
                c = ready(3) => c,
            };
            assert_eq!(got, 1);
        }
        // The first branch is not ready: the first ready one in order wins.
        let got = trioxide::select! {
            biased;
            a = pending::<u32>() => a,
            b = ready(2) => b,
            c = ready(3) => c,
        };
        assert_eq!(got, 2);
    }

    async fn fair_select_picks_different_branches_over_many_runs() {
        let mut wins = [0u32; 3];
        for _ in 0..600 {
            let i = trioxide::select! {
                a = ready(0) => a,
                b = ready(1) => b,
                c = ready(2) => c,
            };
            wins[i] += 1;
        }
        // Uniform would be 200 each; any branch under 100 means a biased start.
        assert!(wins.iter().all(|w| *w >= 100), "wins per branch: {wins:?}");
    }

    async fn select_drops_the_losers_before_the_handler_runs() {
        let a = Arc::new(AtomicBool::new(false));
        let b = Arc::new(AtomicBool::new(false));
        let (tx, rx) = trioxide::sync::oneshot::channel::<u32>();
        let sender = trioxide::spawn(async move {
            trioxide::yield_now().await;
            tx.send(7).unwrap();
        });
        let got = trioxide::select! {
            x = pending_with_flag(&a) => x,
            v = rx => {
                assert!(a.load(Ordering::SeqCst), "loser a dropped before the handler");
                assert!(b.load(Ordering::SeqCst), "loser b dropped before the handler");
                v.unwrap()
            }
            y = pending_with_flag(&b) => y,
        };
        assert_eq!(got, 7);
        sender.await.unwrap();
    }

    async fn select_keeps_mut_branches_across_a_loop() {
        let (tx, mut rx) = trioxide::sync::mpsc::unbounded::<u32>();
        let producer = trioxide::spawn(async move {
            for i in 0..5 {
                tx.send(i).await.unwrap();
                trioxide::yield_now().await;
            }
        });
        let mut done = producer;
        let mut got = Vec::new();
        let mut finished = false;
        let mut rounds = 0;
        loop {
            rounds += 1;
            trioxide::select! {
                biased;
                Some(v) = rx.recv(), if got.len() < 5 => got.push(v),
                // The same handle, polled by `&mut` across iterations until it finishes.
                r = &mut done, if !finished => {
                    r.unwrap();
                    finished = true;
                }
                else => break,
            }
        }
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert!(finished && done.is_finished());
        assert!(rounds >= 7, "5 messages, the handle, then else: {rounds} rounds");
    }

    async fn refutable_patterns_disable_branches_and_else_runs_when_all_are() {
        let v = trioxide::select! {
            Some(x) = ready(None::<u32>) => x,
            Ok(y) = async {
                trioxide::yield_now().await;
                Ok::<u32, ()>(5)
            } => y * 10,
        };
        assert_eq!(v, 50, "the disabled branch was skipped, the other waited for");

        let v = trioxide::select! {
            Some(x) = ready(None::<u32>) => x,
            Err(e) = ready(Ok::<u32, u32>(1)) => e,
            else => 99,
        };
        assert_eq!(v, 99);

        let v = trioxide::select! {
            mut s = ready(String::from("a")) => {
                s.push('b');
                s
            }
        };
        assert_eq!(v, "ab");
    }

    async fn handlers_can_return_use_question_mark_and_break() {
        async fn first_err() -> Result<u32, String> {
            let n = trioxide::select! {
                r = ready(Err::<u32, String>("bad".into())) => r?,
                _ = sleep(Duration::from_secs(10)) => return Ok(0),
            };
            Ok(n)
        }
        assert_eq!(first_err().await, Err("bad".to_string()));

        let mut n = 0;
        loop {
            n += 1;
            trioxide::select! {
                _ = ready(()) => if n == 3 { break } else { continue },
            }
        }
        assert_eq!(n, 3);
    }

    async fn race_returns_the_first_output_and_drops_the_other() {
        let flag = Arc::new(AtomicBool::new(false));
        let loser = pending_with_flag(&flag);
        let winner = async {
            trioxide::yield_now().await;
            42
        };
        assert_eq!(trioxide::race(loser, winner).await, 42);
        assert!(flag.load(Ordering::SeqCst), "the loser was dropped");

        let mut a_wins = 0;
        for _ in 0..400 {
            if trioxide::race(ready('a'), ready('b')).await == 'a' {
                a_wins += 1;
            }
        }
        assert!((100..=300).contains(&a_wins), "race is fair: a won {a_wins} of 400");
    }

    async fn race_all_returns_the_first_output_and_drops_the_rest() {
        let flags: Vec<_> = (0..4).map(|_| Arc::new(AtomicBool::new(false))).collect();
        let (tx, rx) = trioxide::sync::oneshot::channel::<u32>();
        let mut racers: Vec<std::pin::Pin<Box<dyn Future<Output = u32> + Send>>> =
            flags.iter().map(|f| Box::pin(pending_with_flag(f)) as _).collect();
        racers.insert(2, Box::pin(async move { rx.await.unwrap() }));
        let sender = trioxide::spawn(async move { tx.send(9).unwrap() });
        assert_eq!(trioxide::race_all(racers).await, 9);
        assert!(flags.iter().all(|f| f.load(Ordering::SeqCst)), "every loser was dropped");
        sender.await.unwrap();
    }
}

#[test]
#[should_panic(expected = "at least one future")]
fn race_all_of_nothing_panics() {
    drop(trioxide::race_all(Vec::<std::future::Ready<()>>::new()));
}
