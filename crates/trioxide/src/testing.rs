//! Deterministic concurrency testing: run a test body under many scheduling seeds and
//! report the seed that breaks it, so the failure can be replayed exactly.
//!
//! A runtime built with [`Builder::seed`](crate::runtime::Builder::seed) polls its ready
//! tasks in an order drawn from the seed (`trioxide_task::Seeded`, a PCG-32 pick among the
//! ready tasks). [`explore`] sweeps a range of seeds: each run gets its own runtime, a
//! panic or `Err` stops the sweep, and the failing seed is printed with the ways to replay
//! it (`TRIOXIDE_SEED=<seed>` re-runs only that seed; `#[trioxide::test(seed = <seed>)]` or
//! `Builder::seed(<seed>)` pins it in code).
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//!
//! // Two tasks each read a counter, yield, then write it back plus one: a lost update
//! // under some interleavings only.
//! let result = trioxide::testing::explore(0..64, |seed| {
//!     let rt = trioxide::testing::seeded_runtime(seed);
//!     let total = rt.block_on(async {
//!         let counter = Rc::new(Cell::new(0));
//!         let tasks: Vec<_> = (0..2)
//!             .map(|_| {
//!                 let counter = counter.clone();
//!                 trioxide::spawn_local(async move {
//!                     let seen = counter.get();
//!                     trioxide::yield_now().await;
//!                     counter.set(seen + 1);
//!                 })
//!             })
//!             .collect();
//!         for task in tasks {
//!             task.await.unwrap();
//!         }
//!         counter.get()
//!     });
//!     if total == 2 { Ok(()) } else { Err(format!("lost an update: {total}")) }
//! });
//! let failure = result.unwrap_err();
//! assert!(failure.to_string().contains(&format!("TRIOXIDE_SEED={}", failure.seed)));
//! ```

use crate::runtime::{Flavor, Runtime};
use std::fmt;
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The environment variable that makes [`explore`] run one seed only (to replay a
/// failure).
pub const SEED_ENV: &str = "TRIOXIDE_SEED";

/// A seed under which the test body failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "failed with seed {seed}: {message}\n  replay it with {SEED_ENV}={seed} (explore then \
     runs that seed only), #[trioxide::test(seed = {seed})] or Builder::seed({seed})"
)]
pub struct SeedFailure {
    /// The failing seed.
    pub seed: u64,
    /// The `Err` the body returned, or the panic's message.
    pub message: String,
    /// Seeds that passed before this one.
    pub passed: u64,
}

/// A `CurrentThread` runtime whose scheduling follows `seed`.
///
/// # Panics
/// If the runtime cannot be built (no epoll instance or eventfd: out of descriptors).
pub fn seeded_runtime(seed: u64) -> Runtime {
    match Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .seed(seed)
        .build()
    {
        Ok(rt) => rt,
        Err(err) => panic!("trioxide::testing::seeded_runtime({seed}): {err}"),
    }
}

/// Runs `body(seed)` for every seed in `seeds` (or only for `$TRIOXIDE_SEED` when it is
/// set), stopping at the first seed whose run panics or returns `Err`. The failure is
/// printed to stderr with how to replay it, and returned.
///
/// The body usually builds its runtime with [`seeded_runtime`] (or
/// `Runtime::builder().seed(seed)`) and checks an invariant. A run is deterministic as
/// long as it does no I/O and wakes nothing from other threads; with `start_paused(true)`
/// timers are deterministic too.
pub fn explore<E, F>(seeds: Range<u64>, body: F) -> Result<(), SeedFailure>
where
    E: fmt::Display,
    F: FnMut(u64) -> Result<(), E>,
{
    let replay = std::env::var(SEED_ENV).ok();
    explore_with(seeds, replay.as_deref(), body)
}

/// [`explore`] with the replay seed given (`$TRIOXIDE_SEED`'s value, if set).
fn explore_with<E, F>(
    seeds: Range<u64>,
    replay: Option<&str>,
    mut body: F,
) -> Result<(), SeedFailure>
where
    E: fmt::Display,
    F: FnMut(u64) -> Result<(), E>,
{
    let seeds = match replay.and_then(parse_seed) {
        Some(seed) => seed..seed.saturating_add(1),
        None => seeds,
    };
    for (passed, seed) in (0u64..).zip(seeds) {
        let outcome = catch_unwind(AssertUnwindSafe(|| body(seed)));
        let message = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(err)) => err.to_string(),
            Err(payload) => panic_message(payload.as_ref()),
        };
        let failure = SeedFailure {
            seed,
            message,
            passed,
        };
        eprintln!("trioxide::testing::explore: {failure}");
        return Err(failure);
    }
    Ok(())
}

/// A replay seed as a number (a malformed value is reported and ignored).
fn parse_seed(value: &str) -> Option<u64> {
    match value.trim().parse() {
        Ok(seed) => Some(seed),
        Err(_) => {
            eprintln!(
                "trioxide::testing::explore: ignoring {SEED_ENV}={value:?} (not a u64); \
                 sweeping the given range"
            );
            None
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked (non-string payload)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_seed_runs_that_seed_only() {
        let mut ran = Vec::new();
        let result = explore_with(0..100, Some(" 42 "), |seed| {
            ran.push(seed);
            Err("boom")
        });
        assert_eq!(ran, [42]);
        let failure = result.unwrap_err();
        assert_eq!((failure.seed, failure.passed), (42, 0));
        assert!(
            failure.to_string().contains("TRIOXIDE_SEED=42"),
            "{failure}"
        );
    }

    #[test]
    fn a_malformed_replay_seed_sweeps_the_range() {
        let mut ran = 0;
        let result = explore_with(0..5, Some("forty-two"), |_| {
            ran += 1;
            Ok::<(), String>(())
        });
        assert_eq!((result, ran), (Ok(()), 5));
    }
}
