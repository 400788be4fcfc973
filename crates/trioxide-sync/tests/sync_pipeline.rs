//! The seed's producer → processor → consumer pipeline (tour section 10), with
//! `Queue::shutdown` in place of the `None` sentinel; and a second version on bounded
//! queues, where a fast producer is held back by a slow consumer (back-pressure).

use trioxide_sync::{Queue, QueueShutDown};

async fn producer(queue: Queue<u64>, data: impl IntoIterator<Item = u64>) {
    for item in data {
        queue.put(item).await.unwrap();
        tokio::task::yield_now().await; // "some processing time", without a clock
    }
    queue.shutdown(false); // end of data: getters drain, then see QueueShutDown
}

async fn processor(input: Queue<u64>, output: Queue<u64>) {
    while let Ok(item) = input.get().await {
        output.put(item * 2).await.unwrap();
        input.task_done().unwrap();
    }
    output.shutdown(false);
}

async fn consumer(queue: Queue<u64>) -> Vec<u64> {
    let mut seen = Vec::new();
    loop {
        match queue.get().await {
            Ok(item) => {
                seen.push(item);
                queue.task_done().unwrap();
            }
            Err(QueueShutDown(())) => return seen,
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn pipeline_with_shutdown_instead_of_sentinel() {
    runtime().block_on(async {
        let (q1, q2) = (Queue::new(0), Queue::new(0));
        let prod = tokio::spawn(producer(q1.clone(), 0..10));
        let proc = tokio::spawn(processor(q1.clone(), q2.clone()));
        let cons = tokio::spawn(consumer(q2.clone()));
        prod.await.unwrap();
        proc.await.unwrap();
        let seen = cons.await.unwrap();
        assert_eq!(seen, (0..10).map(|i| i * 2).collect::<Vec<_>>());
        q1.join().await;
        q2.join().await;
    });
}

#[test]
fn bounded_pipeline_applies_back_pressure() {
    runtime().block_on(async {
        let (q1, q2) = (Queue::new(2), Queue::new(2));
        // A producer that never yields on its own: only a full queue stops it.
        let prod = {
            let q1 = q1.clone();
            tokio::spawn(async move {
                let mut max_len = 0;
                for item in 0..200u64 {
                    q1.put(item).await.unwrap();
                    max_len = max_len.max(q1.len());
                }
                q1.shutdown(false);
                max_len
            })
        };
        let proc = tokio::spawn(processor(q1.clone(), q2.clone()));
        let cons = {
            let q2 = q2.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while let Ok(item) = q2.get().await {
                    tokio::task::yield_now().await; // a slow consumer
                    assert!(q2.len() <= 2, "bounded queue overfilled");
                    seen.push(item);
                    q2.task_done().unwrap();
                }
                seen
            })
        };
        let max_len = prod.await.unwrap();
        proc.await.unwrap();
        let seen = cons.await.unwrap();
        assert!(max_len <= 2, "producer ran {max_len} items ahead");
        assert_eq!(seen, (0..200).map(|i| i * 2).collect::<Vec<_>>());
    });
}
