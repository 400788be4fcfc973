//! Seeded scheduling end to end: `Builder::seed` picks among ready tasks with a seeded
//! generator, so one seed replays one interleaving exactly, other seeds explore others,
//! and `testing::explore` finds the seed that breaks a racy program.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::rc::Rc;
use trioxide::testing::{explore, seeded_runtime};

/// Three tasks each do read-yield-write on a shared counter (a lost update unless the
/// interleaving is lucky), logging every step. Returns the final count and the log.
fn racy_counter(seed: u64) -> (u32, Vec<String>) {
    let rt = seeded_runtime(seed);
    rt.block_on(async {
        let counter = Rc::new(Cell::new(0));
        let log = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..3)
            .map(|id| {
                let (counter, log) = (counter.clone(), log.clone());
                trioxide::spawn_local(async move {
                    let seen = counter.get();
                    log.borrow_mut().push(format!("{id} read {seen}"));
                    trioxide::yield_now().await;
                    counter.set(seen + 1);
                    log.borrow_mut().push(format!("{id} wrote {}", seen + 1));
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        (counter.get(), log.take())
    })
}

/// The same tasks, with the read-modify-write done without yielding in between.
fn correct_counter(seed: u64) -> u32 {
    let rt = seeded_runtime(seed);
    rt.block_on(async {
        let counter = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let counter = counter.clone();
                trioxide::spawn_local(async move {
                    trioxide::yield_now().await;
                    counter.set(counter.get() + 1);
                    trioxide::yield_now().await;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        counter.get()
    })
}

#[test]
fn the_sweep_finds_the_lost_update_and_its_seed_replays_it_exactly() {
    let failure = explore(0..200, |seed| {
        let (total, log) = racy_counter(seed);
        if total == 3 {
            Ok(())
        } else {
            Err(format!("lost an update: counter is {total}; {log:?}"))
        }
    })
    .expect_err("some interleaving loses an update");
    let message = failure.to_string();
    assert!(
        message.contains(&format!("TRIOXIDE_SEED={}", failure.seed)),
        "{message}"
    );
    assert!(
        message.contains(&format!("seed = {}", failure.seed)),
        "{message}"
    );
    let first = racy_counter(failure.seed);
    let second = racy_counter(failure.seed);
    assert_ne!(first.0, 3);
    assert_eq!(first, second, "the same seed replays the same interleaving");
}

#[test]
fn some_seeds_pass_the_racy_program_and_seeds_explore_different_interleavings() {
    let mut traces = BTreeSet::new();
    let mut lucky = 0;
    for seed in 0..200 {
        let (total, log) = racy_counter(seed);
        lucky += u32::from(total == 3);
        traces.insert(log);
    }
    assert!(lucky > 0, "no seed ran the tasks one after the other");
    assert!(
        traces.len() >= 3,
        "only {} distinct interleavings",
        traces.len()
    );
}

#[test]
fn a_correct_program_passes_every_seed() {
    let swept = explore(0..200, |seed| match correct_counter(seed) {
        3 => Ok(()),
        n => Err(format!("counter is {n}")),
    });
    assert_eq!(swept, Ok(()));
}

#[test]
fn a_panicking_body_is_reported_with_its_seed() {
    let failure = explore(5..10, |seed| {
        assert!(seed < 7, "seed {seed} is too big");
        Ok::<(), String>(())
    })
    .unwrap_err();
    assert_eq!((failure.seed, failure.passed), (7, 2));
    assert!(
        failure.message.contains("seed 7 is too big"),
        "{}",
        failure.message
    );
}

#[trioxide::test(seed = 11)]
async fn the_test_attribute_takes_a_seed() {
    let order = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let order = order.clone();
            trioxide::spawn_local(async move { order.borrow_mut().push(i) })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut sorted = order.borrow().clone();
    sorted.sort();
    assert_eq!(sorted, (0..8).collect::<Vec<_>>());
    assert_ne!(
        *order.borrow(),
        sorted,
        "seed 11 runs the tasks out of spawn order"
    );
    assert_eq!(
        trioxide::Handle::current().flavor(),
        trioxide::runtime::Flavor::CurrentThread
    );
}
