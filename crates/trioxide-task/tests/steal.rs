//! The work-stealing pool end to end: many tasks, spawns from inside workers, message
//! ping-pong, stealing from a worker that blocks (queue and LIFO slot), panics,
//! foreign-thread wakes, and shutdown that drops every future and leaks nothing.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Poll, Waker};
use std::time::Duration;
use trioxide_task::{
    JoinError, LocalExecutor, ThreadPark, WorkStealing, WorkStealingConfig, yield_now,
};

fn pool(workers: usize) -> WorkStealing {
    WorkStealing::new(
        WorkStealingConfig {
            workers,
            ..Default::default()
        },
        Box::new(ThreadPark::new()),
    )
    .unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    LocalExecutor::new().block_on(f)
}

struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn hundred_thousand_tasks_from_outside_complete_once() {
    let pool = pool(2);
    let runs = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..100_000u64)
        .map(|i| {
            let runs = runs.clone();
            pool.spawn(async move {
                runs.fetch_add(1, Ordering::Relaxed);
                i
            })
        })
        .collect();
    let sum = block_on(async {
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        sum
    });
    assert_eq!(sum, (0..100_000u64).sum());
    assert_eq!(runs.load(Ordering::Relaxed), 100_000);
}

#[test]
fn spawns_from_inside_workers_and_yields() {
    let pool = pool(2);
    let spawner = pool.spawner();
    let total = block_on(pool.spawn(async move {
        let children: Vec<_> = (0..1000u64)
            .map(|i| {
                spawner.spawn(async move {
                    for _ in 0..10 {
                        yield_now().await;
                    }
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for c in children {
            sum += c.await.unwrap();
        }
        sum
    }))
    .unwrap();
    assert_eq!(total, (0..1000u64).sum());
}

/// A waker slot two tasks bounce a counter through.
#[derive(Default)]
struct Mailbox {
    value: Mutex<(Option<u64>, Option<Waker>)>,
}

impl Mailbox {
    fn send(&self, v: u64) {
        let mut slot = self.value.lock().unwrap();
        slot.0 = Some(v);
        if let Some(w) = slot.1.take() {
            w.wake();
        }
    }
    async fn recv(&self) -> u64 {
        poll_fn(|cx| {
            let mut slot = self.value.lock().unwrap();
            match slot.0.take() {
                Some(v) => Poll::Ready(v),
                None => {
                    slot.1 = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

#[test]
fn ping_pong_pairs() {
    let pool = pool(2);
    let mut handles = Vec::new();
    for _ in 0..50 {
        let (a, b) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
        let (a2, b2) = (a.clone(), b.clone());
        handles.push(pool.spawn(async move {
            for i in 0..200 {
                b2.send(i);
                assert_eq!(a2.recv().await, i + 1);
            }
        }));
        handles.push(pool.spawn(async move {
            for _ in 0..200 {
                let v = b.recv().await;
                a.send(v + 1);
            }
        }));
    }
    block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
}

#[test]
fn a_blocked_worker_does_not_strand_its_queued_tasks() {
    let pool = pool(2);
    let spawner = pool.spawner();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let blocker = pool.spawn(async move {
        // Spawned from a worker: these land in *this* worker's local queue.
        let count = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let count = count.clone();
            let done_tx = done_tx.clone();
            drop(spawner.spawn(async move {
                if count.fetch_add(1, Ordering::SeqCst) == 9 {
                    done_tx.send(()).unwrap();
                }
            }));
        }
        // Block this worker until the queued tasks ran elsewhere (they must be stolen).
        done_rx.recv_timeout(Duration::from_secs(20)).is_ok()
    });
    assert!(
        block_on(blocker).unwrap(),
        "queued tasks were stolen while their worker blocked"
    );
}

#[test]
fn a_blocked_worker_does_not_strand_its_lifo_task() {
    let pool = pool(2);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let mailbox = Arc::new(Mailbox::default());
    let m = mailbox.clone();
    // The receiver parks on the mailbox first.
    let receiver = pool.spawn(async move {
        m.recv().await;
        done_tx.send(()).unwrap();
    });
    let blocker = pool.spawn(async move {
        // Give the receiver time to park its waker (it runs on either worker).
        for _ in 0..1000 {
            if mailbox.value.lock().unwrap().1.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        // Waking from a worker puts the receiver in *this* worker's LIFO slot ...
        mailbox.send(1);
        // ... and then this worker blocks: the other must steal the LIFO task.
        done_rx.recv_timeout(Duration::from_secs(20)).is_ok()
    });
    assert!(
        block_on(blocker).unwrap(),
        "the LIFO task was stolen while its worker blocked"
    );
    block_on(receiver).unwrap();
}

#[test]
fn panics_are_contained_and_reported() {
    let pool = pool(2);
    let bad = pool.spawn(async { panic!("worker task panic") });
    let good = pool.spawn(async { 1 });
    let err = block_on(bad).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(block_on(good).unwrap(), 1);
    // The pool keeps serving.
    assert_eq!(block_on(pool.spawn(async { 2 })).unwrap(), 2);
}

#[test]
fn waking_from_a_foreign_thread() {
    let pool = pool(2);
    let (tx, rx) = mpsc::channel::<Waker>();
    let flag = Arc::new(AtomicUsize::new(0));
    let f = flag.clone();
    let task = pool.spawn(poll_fn(move |cx| {
        if f.load(Ordering::SeqCst) == 1 {
            return Poll::Ready(());
        }
        tx.send(cx.waker().clone()).unwrap();
        Poll::Pending
    }));
    let waker = rx.recv().unwrap();
    flag.store(1, Ordering::SeqCst);
    std::thread::spawn(move || waker.wake()).join().unwrap();
    block_on(task).unwrap();
}

#[test]
fn shutdown_cancels_every_task_and_leaks_nothing() {
    let drops = Arc::new(AtomicUsize::new(0));
    let pool = pool(2);
    let handles: Vec<_> = (0..1000)
        .map(|_| {
            let guard = DropCounter(drops.clone());
            pool.spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            })
        })
        .collect();
    // Let them all get polled once.
    while pool.live_tasks() != 1000 || pool.injector_depth() != 0 {
        std::thread::yield_now();
    }
    assert!(pool.shutdown_timeout(Duration::from_secs(10)));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1000,
        "every future dropped exactly once"
    );
    assert_eq!(pool.live_tasks(), 0);
    for h in handles {
        assert!(matches!(block_on(h), Err(JoinError::Cancelled)));
    }
    // Spawning after shutdown cancels at once instead of leaking.
    let late = pool.spawn(async { 5 });
    assert!(matches!(block_on(late), Err(JoinError::Cancelled)));
    drop(pool);
}

#[test]
fn thread_hooks_run_on_every_worker() {
    let started = Arc::new(AtomicUsize::new(0));
    let stopped = Arc::new(AtomicUsize::new(0));
    let (s1, s2) = (started.clone(), stopped.clone());
    let pool = WorkStealing::new(
        WorkStealingConfig {
            workers: 3,
            thread_name: "hooked".into(),
            on_thread_start: Some(Arc::new(move || {
                s1.fetch_add(1, Ordering::SeqCst);
            })),
            on_thread_stop: Some(Arc::new(move || {
                s2.fetch_add(1, Ordering::SeqCst);
            })),
            hooks: None,
        },
        Box::new(ThreadPark::new()),
    )
    .unwrap();
    let name = block_on(pool.spawn(async { std::thread::current().name().map(String::from) }));
    assert!(name.unwrap().unwrap().starts_with("hooked-"));
    drop(pool);
    assert_eq!(started.load(Ordering::SeqCst), 3);
    assert_eq!(stopped.load(Ordering::SeqCst), 3);
}

#[test]
fn zero_workers_is_an_error() {
    let err = WorkStealing::new(
        WorkStealingConfig {
            workers: 0,
            ..Default::default()
        },
        Box::new(ThreadPark::new()),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}
