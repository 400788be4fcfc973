//! Loom models of the races that matter: oneshot send / receive / drop, mpsc send while
//! closing and receiver drop with a blocked sender, the receiver's wake-up (with and
//! without a close behind it), the unbounded list's block hand-over, Notify and Semaphore
//! permit hand-off, and `Queue::join` racing the last `task_done`. Run with
//! `RUSTFLAGS="--cfg trioxide_loom -C debug-assertions" cargo test --release --test loom_sync`.
#![cfg(trioxide_loom)]

use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Wake, Waker};
use trioxide_sync::{Notify, Queue, Semaphore, mpsc, oneshot};

/// A wake-up flag with a condition variable. (Not park/unpark: loom takes an `unpark`
/// that reaches a thread blocked in `join` for a broken wake-up.)
struct Flag {
    woken: Mutex<bool>,
    cv: Condvar,
}

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        *self.woken.lock().unwrap() = true;
        self.cv.notify_one();
    }
}

/// `block_on` on loom's threads.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let flag = std::sync::Arc::new(Flag {
        woken: Mutex::new(false),
        cv: Condvar::new(),
    });
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        let mut woken = flag.woken.lock().unwrap();
        while !*woken {
            woken = flag.cv.wait(woken).unwrap();
        }
        *woken = false;
    }
}

#[test]
fn oneshot_send_vs_recv() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(block_on(rx), Ok(7));
        t.join().unwrap();
    });
}

#[test]
fn oneshot_send_vs_receiver_drop() {
    loom::model(|| {
        let value = Arc::new(());
        let (tx, rx) = oneshot::channel();
        let v = value.clone();
        let t = thread::spawn(move || tx.send(v).is_ok());
        drop(rx);
        let _sent = t.join().unwrap();
        // Sent or given back, the value was dropped exactly once: only ours is left.
        assert_eq!(Arc::strong_count(&value), 1);
    });
}

#[test]
fn oneshot_sender_drop_vs_recv_and_closed() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel::<u8>();
        let t = thread::spawn(move || drop(tx));
        assert_eq!(block_on(rx), Err(oneshot::RecvError));
        t.join().unwrap();
    });
    loom::model(|| {
        let (mut tx, rx) = oneshot::channel::<u8>();
        let t = thread::spawn(move || drop(rx));
        block_on(tx.closed());
        assert!(tx.send(1).is_err());
        t.join().unwrap();
    });
}

#[test]
fn mpsc_recv_wakes_on_send() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let t = thread::spawn(move || tx.try_send(1).unwrap());
        assert_eq!(rx.recv_blocking(), Some(1));
        assert_eq!(rx.recv_blocking(), None);
        t.join().unwrap();
    });
}

/// The receiver's wake-up with no close to fall back on: a second sender keeps the
/// channel open, so only the push's own wake (the `rx_waiting` flag and fences) can reach
/// a receiver that is already waiting.
#[test]
fn mpsc_recv_wakes_on_send_sender_alive() {
    for bounded in [true, false] {
        loom::model(move || {
            let (tx, mut rx) = if bounded {
                mpsc::channel(1)
            } else {
                mpsc::unbounded()
            };
            let keep_open = tx.clone();
            let t = thread::spawn(move || tx.try_send(1).unwrap());
            assert_eq!(rx.recv_blocking(), Some(1));
            t.join().unwrap();
            drop(keep_open);
        });
    }
}

/// Two sends into a waiting receiver, the channel kept open: the first sender to see the
/// `rx_waiting` flag lowers it and wakes; the second may skip the wake, and the receiver
/// must still get both messages.
#[test]
fn mpsc_two_sends_one_wake() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(2);
        let keep_open = tx.clone();
        let tx2 = tx.clone();
        let a = thread::spawn(move || tx.try_send(1).unwrap());
        let b = thread::spawn(move || tx2.try_send(2).unwrap());
        let x = rx.recv_blocking().unwrap();
        let y = rx.recv_blocking().unwrap();
        assert_eq!(x + y, 3);
        a.join().unwrap();
        b.join().unwrap();
        drop(keep_open);
    });
}

#[test]
fn mpsc_send_while_closing() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let t = thread::spawn(move || tx.try_send(5).is_ok());
        rx.close();
        let got = rx.try_recv();
        let sent = t.join().unwrap();
        // A send that succeeded is received; one that failed is not.
        let after = rx.try_recv();
        let received = got.is_ok() || after.is_ok();
        assert_eq!(sent, received);
    });
}

#[test]
fn mpsc_receiver_drop_releases_blocked_sender() {
    loom::model(|| {
        let (tx, rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let t = thread::spawn(move || tx.send_blocking(1));
        drop(rx);
        assert!(t.join().unwrap().is_err());
    });
}

#[test]
fn mpsc_blocked_sender_woken_by_recv() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(0).unwrap();
        let t = thread::spawn(move || tx.send_blocking(1).is_ok());
        assert_eq!(rx.recv_blocking(), Some(0));
        assert_eq!(rx.recv_blocking(), Some(1));
        assert!(t.join().unwrap());
    });
}

#[test]
fn mpsc_unbounded_block_boundary() {
    // Under loom a block holds 3 messages: 4 sends cross into a second block.
    loom::model(|| {
        let (tx, mut rx) = mpsc::unbounded();
        let tx2 = tx.clone();
        let t = thread::spawn(move || {
            tx2.try_send(1).unwrap();
            tx2.try_send(2).unwrap();
        });
        tx.try_send(10).unwrap();
        tx.try_send(20).unwrap();
        drop(tx);
        let mut got = Vec::new();
        while let Some(v) = rx.recv_blocking() {
            got.push(v);
        }
        t.join().unwrap();
        let ours: Vec<_> = got.iter().copied().filter(|&v| v >= 10).collect();
        let theirs: Vec<_> = got.iter().copied().filter(|&v| v < 10).collect();
        assert_eq!((ours, theirs), (vec![10, 20], vec![1, 2]));
    });
}

#[test]
fn notify_permit_hand_off() {
    loom::model(|| {
        let notify = Arc::new(Notify::new());
        let n = notify.clone();
        let t = thread::spawn(move || n.notify_one());
        block_on(notify.notified());
        t.join().unwrap();
    });
}

#[test]
fn semaphore_permit_hand_off() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let s = sem.clone();
        let t = thread::spawn(move || {
            let p = block_on(s.acquire()).unwrap();
            drop(p);
        });
        let p = block_on(sem.acquire()).unwrap();
        drop(p);
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn queue_join_races_last_task_done() {
    loom::model(|| {
        let q = Queue::new(0);
        q.try_put(1).unwrap();
        let worker = q.clone();
        let t = thread::spawn(move || {
            assert_eq!(worker.try_get(), Ok(1));
            worker.task_done().unwrap();
        });
        block_on(q.join());
        assert_eq!(q.unfinished(), 0);
        t.join().unwrap();
    });
}

#[test]
fn mpmc_one_message_two_receivers() {
    use trioxide_sync::mpmc;
    loom::model(|| {
        let (tx, rx) = mpmc::channel(1);
        let rx2 = rx.clone();
        let t = thread::spawn(move || rx2.recv_blocking());
        tx.try_send(3).unwrap();
        drop(tx);
        let mine = rx.recv_blocking();
        let theirs = t.join().unwrap();
        // Exactly one receiver gets the message; both see the close.
        let mut got: Vec<_> = [mine, theirs].into_iter().flatten().collect();
        got.sort();
        assert_eq!(got, vec![3]);
    });
}

#[test]
fn queue_woken_then_dropped_getter_passes_on() {
    loom::model(|| {
        let q = Queue::new(0);
        let producer = q.clone();
        let t = thread::spawn(move || producer.try_put(1).unwrap());
        {
            // A getter that may be woken and is then dropped without its item.
            let mut first = pin!(q.get());
            let polled = first.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            if let Poll::Ready(v) = polled {
                assert_eq!(v, Ok(1));
                q.try_put(1).unwrap();
            }
        }
        assert_eq!(block_on(q.get()), Ok(1));
        t.join().unwrap();
    });
}

#[test]
fn semaphore_granted_then_dropped_acquire_returns_permit() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let s = sem.clone();
        let t = thread::spawn(move || s.add_permits(1));
        {
            let mut first = pin!(sem.acquire());
            let _ = first.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        }
        // Whether the first acquire was granted or not, the permit is not lost.
        drop(block_on(sem.acquire()).unwrap());
        t.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

#[test]
fn oneshot_close_vs_send() {
    loom::model(|| {
        let (tx, mut rx) = oneshot::channel();
        let t = thread::spawn(move || tx.send(1).is_ok());
        rx.close();
        let got = rx.try_recv().is_ok();
        assert_eq!(t.join().unwrap(), got);
    });
}

#[test]
fn mpsc_receiver_drop_vs_send_frees_the_value() {
    for bounded in [true, false] {
        loom::model(move || {
            let value = Arc::new(());
            let (tx, rx) = if bounded {
                mpsc::channel(1)
            } else {
                mpsc::unbounded()
            };
            let v = value.clone();
            let t = thread::spawn(move || drop(tx.try_send(v)));
            drop(rx);
            t.join().unwrap();
            // Sent and drained, or refused: the clone is gone either way.
            assert_eq!(Arc::strong_count(&value), 1);
        });
    }
}

#[test]
fn notify_woken_then_dropped_passes_on() {
    loom::model(|| {
        let notify = Arc::new(Notify::new());
        let n = notify.clone();
        let t = thread::spawn(move || n.notify_one());
        {
            let mut first = pin!(notify.notified());
            if first
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_ready()
            {
                // It consumed the notification: hand an equivalent one back.
                notify.notify_one();
            }
        }
        // The notification is never lost to the dropped future.
        block_on(notify.notified());
        t.join().unwrap();
    });
}

#[test]
fn event_set_vs_wait() {
    use trioxide_sync::Event;
    loom::model(|| {
        let event = Arc::new(Event::new());
        let e = event.clone();
        let t = thread::spawn(move || e.set());
        block_on(event.wait());
        assert!(event.is_set());
        t.join().unwrap();
    });
}

#[test]
fn mpsc_sender_blocks_twice() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let t = thread::spawn(move || {
            tx.send_blocking(1).unwrap();
            tx.send_blocking(2).unwrap();
        });
        assert_eq!(rx.recv_blocking(), Some(1));
        assert_eq!(rx.recv_blocking(), Some(2));
        assert_eq!(rx.recv_blocking(), None);
        t.join().unwrap();
    });
}

#[test]
fn queue_bounded_put_get_blocking() {
    loom::model(|| {
        let q = Queue::new(1);
        let producer = q.clone();
        let t = thread::spawn(move || {
            block_on(producer.put(1)).unwrap();
            block_on(producer.put(2)).unwrap();
        });
        assert_eq!(block_on(q.get()), Ok(1));
        assert_eq!(block_on(q.get()), Ok(2));
        t.join().unwrap();
    });
}
