//! A pipeline: a producer, three transforming stages and a sink, joined by four bounded
//! `Queue`s, moving `items` numbers while each stage slows down at random (a yield now and
//! then, rarely a sleep). Count, sum and order arrive intact.

use crate::support::{Mode, Rng, bounded, configs, one_at_a_time, runtime, settles_to_zero};
use std::time::Duration;
use trioxide::sync::Queue;

/// Each queue's capacity: small, so back-pressure is constant.
const QUEUE_CAPACITY: usize = 128;

#[test]
fn a_four_stage_pipeline_over_bounded_queues_delivers_everything() {
    let _serial = one_at_a_time();
    let mode = Mode::from_env();
    let items: u64 = mode.pick(100_000, 10_000_000);
    let limit = mode.pick(Duration::from_secs(60), Duration::from_secs(480));
    for (name, flavor, io) in configs() {
        for round in 0..mode.rounds() {
            let Some(rt) = runtime(flavor, io) else {
                break;
            };
            let what = format!("pipeline {name} round {round}: {items} items");
            let (count, sum) =
                bounded(&what, limit, || rt.block_on(one_round(items, round as u64)));
            assert_eq!(count, items, "{name}: nothing lost");
            // Each of the three stages adds one.
            let want = items * (items - 1) / 2 + 3 * items;
            assert_eq!(sum, want, "{name}: nothing changed");
            assert_eq!(
                settles_to_zero(|| rt.live_tasks()),
                0,
                "{name}: a stage stayed live"
            );
        }
    }
}

/// One round; returns (count, sum) as the sink saw them.
async fn one_round(items: u64, seed: u64) -> (u64, u64) {
    let queues: Vec<Queue<u64>> = (0..4).map(|_| Queue::new(QUEUE_CAPACITY)).collect();
    let producer = {
        let q = queues[0].clone();
        trioxide::spawn(async move {
            for i in 0..items {
                q.put(i).await.expect("the next stage is open");
            }
            q.shutdown(false);
        })
    };
    let mut stages = Vec::new();
    for s in 0..3 {
        let (input, output) = (queues[s].clone(), queues[s + 1].clone());
        stages.push(trioxide::spawn(async move {
            let mut rng = Rng::new(seed ^ (s as u64 + 7));
            while let Ok(v) = input.get().await {
                slow_down(&mut rng).await;
                output.put(v + 1).await.expect("the next stage is open");
            }
            output.shutdown(false);
        }));
    }
    let sink = queues[3].clone();
    let mut rng = Rng::new(seed ^ 0x5111c);
    let (mut count, mut sum) = (0u64, 0u64);
    while let Ok(v) = sink.get().await {
        assert_eq!(v, count + 3, "in order");
        slow_down(&mut rng).await;
        sum += v;
        count += 1;
    }
    producer.await.expect("the producer finishes");
    for stage in stages {
        stage.await.expect("every stage finishes");
    }
    (count, sum)
}

/// A random consumer slowdown: a yield one time in 1,000, a sleep of up to 2 ms one time
/// in 200,000.
async fn slow_down(rng: &mut Rng) {
    let r = rng.below(200_000);
    if r == 0 {
        trioxide::time::sleep(Duration::from_micros(rng.below(2_000))).await;
    } else if r.is_multiple_of(1_000) {
        trioxide::yield_now().await;
    }
}
