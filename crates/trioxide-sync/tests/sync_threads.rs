//! Concurrency property: producers on threads (`send_blocking` / blocking `put`) and
//! consumers on threads; afterwards the multiset received equals the multiset sent and each
//! producer's messages arrive in the order it sent them (per consumer, for several).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use support::block_on;
use trioxide_sync::{Queue, mpsc};

const PRODUCERS: u64 = 4;
const PER_PRODUCER: u64 = 5_000;

fn check(received: Vec<Vec<(u64, u64)>>) {
    let mut counts: HashMap<u64, Vec<u64>> = HashMap::new();
    for stream in &received {
        // Each consumer sees each producer's messages in increasing order.
        let mut last: HashMap<u64, u64> = HashMap::new();
        for &(p, i) in stream {
            if let Some(&prev) = last.get(&p) {
                assert!(prev < i, "producer {p}: {i} after {prev}");
            }
            last.insert(p, i);
            counts.entry(p).or_default().push(i);
        }
    }
    assert_eq!(counts.len() as u64, PRODUCERS);
    for (p, mut got) in counts {
        got.sort_unstable();
        assert_eq!(
            got,
            (0..PER_PRODUCER).collect::<Vec<_>>(),
            "producer {p}: lost or duplicated messages"
        );
    }
}

fn mpsc_threads(tx: mpsc::Sender<(u64, u64)>, mut rx: mpsc::Receiver<(u64, u64)>) {
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    tx.send_blocking((p, i)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let consumer = std::thread::spawn(move || {
        let mut got = Vec::new();
        while let Some(m) = rx.recv_blocking() {
            got.push(m);
        }
        got
    });
    for p in producers {
        p.join().unwrap();
    }
    check(vec![consumer.join().unwrap()]);
}

#[test]
fn mpsc_bounded_threads() {
    let (tx, rx) = mpsc::channel(16);
    mpsc_threads(tx, rx);
}

#[test]
fn mpsc_bounded_capacity_one_threads() {
    let (tx, rx) = mpsc::channel(1);
    mpsc_threads(tx, rx);
}

#[test]
fn mpsc_unbounded_threads() {
    let (tx, rx) = mpsc::unbounded();
    mpsc_threads(tx, rx);
}

#[test]
fn queue_threads_many_consumers() {
    let q = Queue::new(8);
    let out = Arc::new(Mutex::new(Vec::new()));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let q = q.clone();
            let out = out.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Ok(m) = block_on(q.get()) {
                    got.push(m);
                    q.task_done().unwrap();
                }
                out.lock().unwrap().push(got);
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    block_on(q.put((p, i))).unwrap();
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    block_on(q.join());
    q.shutdown(false);
    for c in consumers {
        c.join().unwrap();
    }
    let received = std::mem::take(&mut *out.lock().unwrap());
    check(received);
}

#[test]
fn receiver_drop_releases_blocked_senders() {
    let (tx, rx) = mpsc::channel::<u64>(1);
    tx.try_send(0).unwrap();
    let blocked: Vec<_> = (0..3)
        .map(|i| {
            let tx = tx.clone();
            std::thread::spawn(move || tx.send_blocking(i))
        })
        .collect();
    // No sleep for order: whether a sender is already parked or arrives later, it must
    // fail once the receiver is gone.
    drop(rx);
    for b in blocked {
        assert!(b.join().unwrap().is_err());
    }
}

/// `producers` threads send `per` messages each into an mpmc channel of capacity `cap`
/// (`None`: unbounded), `consumers` threads receive; checks what they got.
fn mpmc_run(producers: u64, consumers: usize, per: u64, cap: Option<usize>) {
    let (tx, rx) = match cap {
        Some(c) => trioxide_sync::mpmc::channel(c),
        None => trioxide_sync::mpmc::unbounded(),
    };
    let senders: Vec<_> = (0..producers)
        .map(|p| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for i in 0..per {
                    tx.send_blocking((p, i)).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..consumers)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || std::iter::from_fn(|| rx.recv_blocking()).collect())
        })
        .collect();
    drop(rx);
    for s in senders {
        s.join().unwrap();
    }
    let got: Vec<Vec<(u64, u64)>> = receivers.into_iter().map(|r| r.join().unwrap()).collect();
    check_counts(got, producers, per);
}

/// Like `check`, for any producer count and length.
fn check_counts(received: Vec<Vec<(u64, u64)>>, producers: u64, per: u64) {
    let mut all: Vec<(u64, u64)> = Vec::new();
    for stream in &received {
        let mut last: HashMap<u64, u64> = HashMap::new();
        for &(p, i) in stream {
            if let Some(&prev) = last.get(&p) {
                assert!(prev < i, "producer {p}: {i} after {prev}");
            }
            last.insert(p, i);
        }
        all.extend(stream);
    }
    all.sort_unstable();
    let want: Vec<_> = (0..producers)
        .flat_map(|p| (0..per).map(move |i| (p, i)))
        .collect();
    assert_eq!(all, want, "lost or duplicated messages");
}

#[test]
fn mpmc_threads_various_shapes() {
    for (p, c, cap) in [
        (1, 1, Some(1)),
        (3, 2, Some(4)),
        (2, 3, None),
        (4, 4, Some(2)),
    ] {
        mpmc_run(p, c, 2_000, cap);
    }
}

#[test]
fn random_shapes_on_tokio_tasks() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(8));
    runner
        .run(
            &(1u64..5, 1usize..4, prop::option::of(1usize..8)),
            |(producers, consumers, cap)| {
                rt.block_on(async {
                    let per = 300;
                    let (tx, rx) = match cap {
                        Some(c) => trioxide_sync::mpmc::channel(c),
                        None => trioxide_sync::mpmc::unbounded(),
                    };
                    let senders: Vec<_> = (0..producers)
                        .map(|p| {
                            let tx = tx.clone();
                            tokio::spawn(async move {
                                for i in 0..per {
                                    tx.send((p, i)).await.unwrap();
                                }
                            })
                        })
                        .collect();
                    drop(tx);
                    let receivers: Vec<_> = (0..consumers)
                        .map(|_| {
                            let rx = rx.clone();
                            tokio::spawn(async move {
                                let mut got = Vec::new();
                                while let Some(m) = rx.recv().await {
                                    got.push(m);
                                }
                                got
                            })
                        })
                        .collect();
                    drop(rx);
                    for s in senders {
                        s.await.unwrap();
                    }
                    let mut got = Vec::new();
                    for r in receivers {
                        got.push(r.await.unwrap());
                    }
                    check_counts(got, producers, per);
                });
                Ok(())
            },
        )
        .unwrap();
}
