//! The seed's data-processing pipeline: producer -> processor -> consumer over two
//! [`Queue`]s, then a bounded version of the same idea that shows back-pressure.
//!
//! `cargo run -p trioxide --example pipeline`
//!
//! What to look at:
//! - No `None` sentinel: the producer calls [`Queue::shutdown`]`(false)` when its data
//!   runs out. Getters first drain what is still queued, then `get` fails with
//!   `QueueShutDown`, so `while let Ok(item) = queue.get().await` ends by itself and
//!   the processor shuts its output queue down in turn. The item type stays `u64`
//!   instead of `Option<u64>`, and a forgotten sentinel cannot hang a stage.
//! - The queues are cloned handles to one shared queue, and they are `Send + Sync`: the
//!   stages could run on any worker (asyncio's `Queue` is not thread-safe).
//! - Part 2 gives the queue `maxsize = 2` and a slow consumer: `put` waits while the
//!   queue is full, so the producer can never run more than two items ahead — each
//!   `put` line reports at most 2 queued, and the `put`s interleave with the `got`s
//!   instead of all coming first.
//!
//! Both parts run on the current-thread flavor, so the printed order is the order in
//! which the stages ran (as in asyncio's single-threaded loop).

use std::ops::Range;
use std::time::Duration;
use trioxide::runtime::{Flavor, Runtime};
use trioxide::sync::Queue;
use trioxide::time::sleep;

/// Part 2's queue bound.
const BOUND: usize = 2;

/// `async def producer(queue, data)`.
async fn producer(queue: Queue<u64>, data: Range<u64>) {
    for item in data {
        queue
            .put(item)
            .await
            .expect("nobody else shuts this queue down");
        sleep(Duration::from_millis(10)).await; // Simulate some processing time
    }
    queue.shutdown(false); // Signal end of data: what is queued is still delivered
}

/// `async def processor(in_queue, out_queue)`.
async fn processor(input: Queue<u64>, output: Queue<u64>) {
    while let Ok(item) = input.get().await {
        let result = item * 2; // Some processing
        output
            .put(result)
            .await
            .expect("only this stage shuts it down");
    }
    output.shutdown(false); // pass the end of data downstream
}

/// `async def consumer(queue)`.
async fn consumer(queue: Queue<u64>) {
    while let Ok(item) = queue.get().await {
        println!("Consumed: {item}");
    }
}

/// Part 1: the seed's `main`, `asyncio.gather(prod, proc, cons)`.
async fn seed_pipeline() {
    let (queue1, queue2) = (Queue::new(0), Queue::new(0)); // 0: unbounded, like Queue()
    let prod = trioxide::spawn(producer(queue1.clone(), 0..10));
    let proc = trioxide::spawn(processor(queue1, queue2.clone()));
    let cons = trioxide::spawn(consumer(queue2));
    for stage in trioxide::join_all([prod, proc, cons]).await {
        stage.expect("no stage panics");
    }
}

/// Part 2: a fast producer, a slow consumer and a queue of at most [`BOUND`] items.
async fn bounded_pipeline() {
    let queue = Queue::new(BOUND);
    let fast_producer = trioxide::spawn({
        let queue = queue.clone();
        async move {
            for item in 0..8u64 {
                queue.put(item).await.expect("open until the end");
                println!(
                    "bounded: put {item}, queue holds {} of {}",
                    queue.len(),
                    queue.maxsize()
                );
            }
            queue.shutdown(false);
        }
    });
    let slow_consumer = trioxide::spawn(async move {
        while let Ok(item) = queue.get().await {
            println!("bounded: got {item}");
            sleep(Duration::from_millis(20)).await; // slower than the producer
        }
    });
    fast_producer.await.expect("the producer finishes");
    slow_consumer.await.expect("the consumer finishes");
}

fn main() {
    let rt = Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .build()
        .expect("the runtime builds");
    rt.block_on(async {
        println!("== the seed's pipeline ==");
        seed_pipeline().await;
        println!("== bounded (maxsize {BOUND}): back-pressure ==");
        bounded_pipeline().await;
    });
}
