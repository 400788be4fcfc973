//! Executor independence: `Queue`, `mpsc`, `oneshot`, `Notify`, `Semaphore`, `Mutex` and
//! `Event` driven by tokio's multi-thread runtime, tasks on several workers.

use std::sync::Arc;
use trioxide_sync::{Event, Mutex, Notify, Queue, Semaphore, mpsc, oneshot};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn queue_pipeline_under_tokio() {
    rt().block_on(async {
        let q = Queue::new(4);
        let out = Queue::new(0);
        let worker = {
            let (q, out) = (q.clone(), out.clone());
            tokio::spawn(async move {
                while let Ok(v) = q.get().await {
                    out.put(v * 2).await.unwrap();
                    q.task_done().unwrap();
                }
            })
        };
        for i in 0..100u64 {
            q.put(i).await.unwrap();
        }
        q.join().await;
        q.shutdown(false);
        worker.await.unwrap();
        let mut sum = 0;
        while let Ok(v) = out.try_get() {
            sum += v;
        }
        assert_eq!(sum, 9900);
    });
}

#[test]
fn mpsc_and_oneshot_under_tokio() {
    rt().block_on(async {
        for (tx, mut rx) in [mpsc::channel(8), mpsc::unbounded()] {
            let producers: Vec<_> = (0..4u64)
                .map(|p| {
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        for i in 0..500 {
                            tx.send(p * 1000 + i).await.unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let mut n = 0;
            while let Some(_v) = rx.recv().await {
                n += 1;
            }
            assert_eq!(n, 2000);
            for p in producers {
                p.await.unwrap();
            }
        }
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move { tx.send("hi").unwrap() });
        assert_eq!(rx.await, Ok("hi"));
        let (mut tx, rx) = oneshot::channel::<()>();
        let closed = tokio::spawn(async move { tx.closed().await });
        drop(rx);
        closed.await.unwrap();
    });
}

#[test]
fn locks_and_notify_under_tokio() {
    rt().block_on(async {
        let m = Arc::new(Mutex::new(0u64));
        let sem = Arc::new(Semaphore::new(2));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (m, sem) = (m.clone(), sem.clone());
                tokio::spawn(async move {
                    for _ in 0..100 {
                        let _p = sem.clone().acquire_owned().await.unwrap();
                        *m.lock().await += 1;
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*m.lock().await, 800);
        assert_eq!(sem.available_permits(), 2);

        let notify = Arc::new(Notify::new());
        let event = Arc::new(Event::new());
        let waiter = {
            let (notify, event) = (notify.clone(), event.clone());
            tokio::spawn(async move {
                notify.notified().await;
                event.set();
            })
        };
        notify.notify_one();
        event.wait().await;
        waiter.await.unwrap();
    });
}
