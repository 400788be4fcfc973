//! Timers: `n` live timers with random deadlines, a quarter of the near ones and every far
//! one cancelled at random moments (before, while and after the near ones fire). Each
//! kept timer fires exactly once and never early; a timer whose handle reports
//! `Cancelled` never fired; at the end no timer stays armed and no task stays live.

use crate::support::{Mode, Rng, bounded, configs, one_at_a_time, runtime, settles_to_zero};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::JoinError;
use trioxide::time::{Instant, sleep_until};

/// The sizes of one round.
struct Plan {
    timers: usize,
    /// Near deadlines fall in `[start + lead, start + lead + window)`; cancels start at
    /// `start + lead / 2`, when spawning has long ended, so all timers are live together.
    lead: Duration,
    window: Duration,
    limit: Duration,
}

fn plan(mode: Mode) -> Plan {
    mode.pick(
        Plan {
            timers: 20_000,
            lead: Duration::from_millis(300),
            window: Duration::from_millis(200),
            limit: Duration::from_secs(60),
        },
        Plan {
            timers: 1_000_000,
            lead: Duration::from_secs(4),
            window: Duration::from_secs(3),
            limit: Duration::from_secs(300),
        },
    )
}

#[test]
fn timers_with_random_deadlines_and_cancellation_fire_once_never_early() {
    let _serial = one_at_a_time();
    let mode = Mode::from_env();
    let plan = plan(mode);
    for (name, flavor, io) in configs() {
        for round in 0..mode.rounds() {
            let Some(rt) = runtime(flavor, io) else {
                break;
            };
            let what = format!("timers {name} round {round}: {} timers", plan.timers);
            bounded(&what, plan.limit, || {
                let (peak, fired, cancelled) = rt.block_on(one_round(&plan, round as u64));
                println!(
                    "stress: timers {name}: {peak} armed at once, {fired} fired, \
                     {cancelled} cancelled, 0 early"
                );
                assert_eq!(
                    settles_to_zero(|| rt.metrics().timers_armed),
                    0,
                    "{name}: a timer stayed armed"
                );
                assert_eq!(
                    settles_to_zero(|| rt.live_tasks()),
                    0,
                    "{name}: a task stayed live"
                );
            });
        }
    }
}

/// One round; returns the number of timers armed together before the first cancel, and
/// how many fired and how many were cancelled.
async fn one_round(plan: &Plan, seed: u64) -> (usize, usize, usize) {
    let n = plan.timers;
    let mut rng = Rng::new(seed ^ 0x7133);
    let fires: Arc<Vec<AtomicU8>> = Arc::new((0..n).map(|_| AtomicU8::new(0)).collect());
    let early = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let first_near = start + plan.lead;
    let window_us = plan.window.as_micros() as u64;
    let mut handles = Vec::with_capacity(n);
    let mut far = Vec::new();
    let mut to_cancel = Vec::new();
    for i in 0..n {
        // One in 16 waits an hour (the wheel's upper levels); it is always cancelled.
        let is_far = rng.one_in(16);
        let deadline = if is_far {
            start + Duration::from_secs(3600 + rng.below(3600))
        } else {
            first_near + Duration::from_micros(rng.below(window_us))
        };
        let (fires, early) = (fires.clone(), early.clone());
        let handle = trioxide::spawn(async move {
            sleep_until(deadline).await;
            if Instant::now() < deadline {
                early.fetch_add(1, Ordering::Relaxed);
            }
            // No poll boundary follows: a handle that reports Ok fired exactly here.
            fires[i].fetch_add(1, Ordering::Relaxed);
        });
        if is_far {
            far.push(i);
        }
        if is_far || rng.one_in(4) {
            // Cancelled at a random moment once all are armed: before the window, inside
            // it, or just after.
            let span = plan.lead / 2 + plan.window * 2;
            let at =
                start + plan.lead / 2 + Duration::from_micros(rng.below(span.as_micros() as u64));
            to_cancel.push((at, handle.cancel_handle()));
        }
        handles.push(handle);
    }
    if Instant::now() >= start + plan.lead / 2 {
        // Still a valid run (nothing may fire early or twice), but fewer were live at once.
        println!(
            "stress: spawning {n} timers outlasted half the lead {:?}",
            plan.lead
        );
    }
    // Every timer is armed once its task had a first poll; count them before any cancel.
    sleep_until(start + plan.lead / 2).await;
    let peak = trioxide::runtime::Handle::current().metrics().timers_armed;
    to_cancel.sort_by_key(|(at, _)| *at);
    let canceller = trioxide::spawn(async move {
        for (at, cancel) in to_cancel {
            if Instant::now() < at {
                sleep_until(at).await;
            }
            cancel.cancel();
        }
    });
    canceller.await.expect("the canceller finishes");
    let (mut kept, mut cancelled) = (0usize, 0usize);
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.await {
            Ok(()) => {
                assert_eq!(fires[i].load(Ordering::Relaxed), 1, "timer {i} fired once");
                kept += 1;
            }
            Err(JoinError::Cancelled) => {
                assert_eq!(
                    fires[i].load(Ordering::Relaxed),
                    0,
                    "cancelled timer {i} never fired"
                );
                cancelled += 1;
            }
            Err(err) => panic!("timer {i}: {err:?}"),
        }
    }
    assert_eq!(kept + cancelled, n, "every handle resolved exactly once");
    assert!(cancelled >= far.len(), "every far timer was cancelled");
    for &i in &far {
        assert_eq!(
            fires[i].load(Ordering::Relaxed),
            0,
            "far timer {i} never fired"
        );
    }
    assert_eq!(early.load(Ordering::Relaxed), 0, "no timer fired early");
    (peak, kept, cancelled)
}
