//! Black-box channel behaviours: close and last-handle drop wake every waiter, a woken
//! sender that is dropped passes the room on, the `Stream` impls, and `broadcast` /
//! `watch` under a tokio runtime.

mod support;

use std::pin::pin;
use std::task::Poll;
use support::{Counter, block_on, poll, poll_noop};
use trioxide_sync::{broadcast, mpmc, mpsc, watch};

fn next<S: futures_core::Stream + Unpin>(s: &mut S) -> Poll<Option<S::Item>> {
    std::pin::Pin::new(s).poll_next(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

#[test]
fn mpsc_close_wakes_every_blocked_sender() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let counters: Vec<_> = (0..3).map(|_| Counter::new()).collect();
    let mut sends: Vec<_> = (1..=3).map(|i| Box::pin(tx.send(i))).collect();
    for (s, (_, w)) in sends.iter_mut().zip(&counters) {
        assert!(poll(s.as_mut(), w).is_pending());
    }
    rx.close();
    for (s, (c, _)) in sends.iter_mut().zip(&counters) {
        assert_eq!(c.get(), 1);
        assert!(matches!(poll_noop(s.as_mut()), Poll::Ready(Err(_))));
    }
    assert_eq!(rx.try_recv(), Ok(0));
}

#[test]
fn mpsc_last_sender_drop_wakes_receiver() {
    let (tx, mut rx) = mpsc::unbounded::<u8>();
    let (c, w) = Counter::new();
    {
        let mut recv = pin!(rx.recv());
        assert!(poll(recv.as_mut(), &w).is_pending());
        let tx2 = tx.clone();
        drop(tx);
        assert_eq!(c.get(), 0);
        drop(tx2);
        assert_eq!(c.get(), 1);
        assert_eq!(poll_noop(recv.as_mut()), Poll::Ready(None));
    }
}

#[test]
fn mpsc_woken_then_dropped_sender_passes_on() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (c1, w1) = Counter::new();
    let (c2, w2) = Counter::new();
    let mut a = Box::pin(tx.send(1));
    let mut b = pin!(tx.send(2));
    assert!(poll(a.as_mut(), &w1).is_pending());
    assert!(poll(b.as_mut(), &w2).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((c1.get(), c2.get()), (1, 0));
    drop(a);
    assert_eq!(c2.get(), 1);
    assert_eq!(poll_noop(b.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn streams_yield_then_end() {
    let (tx, mut rx) = mpsc::channel(4);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    drop(tx);
    assert_eq!(next(&mut rx), Poll::Ready(Some(1)));
    assert_eq!(next(&mut rx), Poll::Ready(Some(2)));
    assert_eq!(next(&mut rx), Poll::Ready(None));

    let (tx, mut rx) = mpmc::unbounded();
    assert_eq!(next(&mut rx), Poll::Pending);
    tx.try_send(7).unwrap();
    assert_eq!(next(&mut rx), Poll::Ready(Some(7)));
    drop(tx);
    assert_eq!(next(&mut rx), Poll::Ready(None));
}

#[test]
fn mpsc_recv_many_waits_for_the_first() {
    let (tx, mut rx) = mpsc::channel(8);
    let mut buf = Vec::new();
    {
        let mut many = pin!(rx.recv_many(&mut buf, 3));
        assert!(poll_noop(many.as_mut()).is_pending());
        for i in 0..5 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(poll_noop(many.as_mut()), Poll::Ready(3));
    }
    assert_eq!(buf, [0, 1, 2]);
    assert_eq!(block_on(rx.recv_many(&mut buf, 0)), 0);
    drop(tx);
    assert_eq!(block_on(rx.recv_many(&mut buf, 10)), 2);
    assert_eq!(block_on(rx.recv_many(&mut buf, 10)), 0);
    assert_eq!(buf, [0, 1, 2, 3, 4]);
}

#[test]
fn broadcast_and_watch_under_tokio() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rx) = broadcast::channel(16);
        let readers: Vec<_> = (0..3)
            .map(|i| {
                let mut rx = if i == 0 {
                    rx.resubscribe()
                } else {
                    tx.subscribe()
                };
                tokio::spawn(async move {
                    let mut sum = 0;
                    while let Ok(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                })
            })
            .collect();
        drop(rx);
        for i in 1..=10 {
            tx.send(i).unwrap();
        }
        drop(tx);
        for r in readers {
            assert_eq!(r.await.unwrap(), 55);
        }

        let (tx, mut rx) = watch::channel(0);
        let watcher = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                if *rx.borrow() == 10 {
                    return true;
                }
            }
            false
        });
        for i in 1..=10 {
            tx.send_replace(i);
            tokio::task::yield_now().await;
        }
        assert!(watcher.await.unwrap());
    });
}
