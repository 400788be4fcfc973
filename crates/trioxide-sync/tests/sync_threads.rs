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
