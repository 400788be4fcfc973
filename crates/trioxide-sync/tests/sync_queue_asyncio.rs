//! A port of the behaviours CPython's `test_asyncio/test_queues.py` checks for
//! `asyncio.Queue`, `LifoQueue` and `PriorityQueue` — order, `maxsize` blocking,
//! `task_done`/`join`, cancelled waiters and 3.13 `shutdown` — written from the documented
//! semantics. Futures are polled by hand, so every interleaving is deterministic.

mod support;

use std::pin::pin;
use std::task::Poll;
use support::{Counter, block_on, poll, poll_noop};
use trioxide_sync::{
    LifoQueue, PriorityQueue, Queue, QueueShutDown, TaskDoneError, TryGetError, TryPutError,
};

fn drain<T>(q: &Queue<T, impl trioxide_sync::Kind<T>>) -> Vec<T> {
    std::iter::from_fn(|| q.try_get().ok()).collect()
}

#[test]
fn order_fifo_lifo_priority() {
    let q = Queue::new(0);
    let l = LifoQueue::new(0);
    let p = PriorityQueue::new(0);
    for v in [1, 3, 2] {
        q.try_put(v).unwrap();
        l.try_put(v).unwrap();
        p.try_put(v).unwrap();
    }
    assert_eq!(drain(&q), [1, 3, 2]);
    assert_eq!(drain(&l), [2, 3, 1]);
    assert_eq!(drain(&p), [1, 2, 3]);
}

#[test]
fn empty_full_maxsize_len() {
    let q = Queue::new(2);
    assert_eq!(q.maxsize(), 2);
    assert!(q.is_empty() && !q.is_full());
    q.try_put(1).unwrap();
    assert!(!q.is_empty() && !q.is_full());
    q.try_put(2).unwrap();
    assert!(q.is_full());
    assert_eq!(q.len(), 2);
    assert_eq!(q.try_put(3), Err(TryPutError::Full(3)));
    let unbounded = Queue::new(0);
    for i in 0..1000 {
        unbounded.try_put(i).unwrap();
    }
    assert!(!unbounded.is_full());
    assert!(format!("{q:?}").contains("maxsize: 2"));
}

#[test]
fn nonblocking_get_on_empty_is_queue_empty() {
    let q: Queue<i32> = Queue::new(0);
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
    // asyncio's names work as patterns too.
    assert!(matches!(q.try_get(), Err(trioxide_sync::QueueEmpty)));
    let full = Queue::new(1);
    full.try_put(1).unwrap();
    assert!(matches!(full.try_put(2), Err(trioxide_sync::QueueFull(2))));
}

#[test]
fn blocking_get_waits_for_put() {
    let q = Queue::new(0);
    let (woken, waker) = Counter::new();
    let mut get = pin!(q.get());
    assert!(poll(get.as_mut(), &waker).is_pending());
    q.try_put(7).unwrap();
    assert_eq!(woken.get(), 1);
    assert_eq!(poll_noop(get.as_mut()), Poll::Ready(Ok(7)));
}

#[test]
fn blocking_put_waits_for_room() {
    let q = Queue::new(1);
    block_on(q.put(1)).unwrap();
    let (woken, waker) = Counter::new();
    let mut put = pin!(q.put(2));
    assert!(poll(put.as_mut(), &waker).is_pending());
    assert_eq!(q.len(), 1);
    assert_eq!(block_on(q.get()), Ok(1));
    assert_eq!(woken.get(), 1);
    assert_eq!(poll_noop(put.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(q.try_get(), Ok(2));
}

#[test]
fn get_cancelled_race_passes_the_item_on() {
    // test_get_cancelled_race: the first getter is woken, then cancelled; the second
    // getter must still receive the item.
    let q = Queue::new(0);
    let (w1, waker1) = Counter::new();
    let (w2, waker2) = Counter::new();
    let mut g1 = Box::pin(q.get());
    let mut g2 = pin!(q.get());
    assert!(poll(g1.as_mut(), &waker1).is_pending());
    assert!(poll(g2.as_mut(), &waker2).is_pending());
    q.try_put('a').unwrap();
    assert_eq!((w1.get(), w2.get()), (1, 0));
    drop(g1);
    assert_eq!(w2.get(), 1, "the wake-up passed on to the next getter");
    assert_eq!(poll_noop(g2.as_mut()), Poll::Ready(Ok('a')));
}

#[test]
fn put_cancelled_race_passes_the_room_on() {
    let q = Queue::new(1);
    q.try_put(0).unwrap();
    let (w1, waker1) = Counter::new();
    let (w2, waker2) = Counter::new();
    let mut p1 = Box::pin(q.put(1));
    let mut p2 = pin!(q.put(2));
    assert!(poll(p1.as_mut(), &waker1).is_pending());
    assert!(poll(p2.as_mut(), &waker2).is_pending());
    assert_eq!(q.try_get(), Ok(0));
    assert_eq!((w1.get(), w2.get()), (1, 0));
    drop(p1);
    assert_eq!(w2.get(), 1);
    assert_eq!(poll_noop(p2.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(drain(&q), [2]);
}

#[test]
fn cancelled_waiters_are_not_held() {
    // test_cancelled_getters_not_being_held_in_self_getters (and the putter twin).
    let q: Queue<i32> = Queue::new(1);
    for _ in 0..3 {
        let mut g = Box::pin(q.get());
        assert!(poll_noop(g.as_mut()).is_pending());
    }
    q.try_put(1).unwrap();
    for _ in 0..3 {
        let mut p = Box::pin(q.put(9));
        assert!(poll_noop(p.as_mut()).is_pending());
    }
    assert_eq!(q.try_get(), Ok(1));
    q.try_put(2).unwrap();
    assert_eq!(drain(&q), [2]);
}

#[test]
fn why_are_getters_waiting() {
    // Several getters and one item each: every getter gets exactly one.
    let q = Queue::new(0);
    let mut getters: Vec<_> = (0..4).map(|_| Box::pin(q.get())).collect();
    for g in &mut getters {
        assert!(poll_noop(g.as_mut()).is_pending());
    }
    for i in 0..4 {
        q.try_put(i).unwrap();
    }
    let got: Vec<_> = getters
        .iter_mut()
        .map(|g| match poll_noop(g.as_mut()) {
            Poll::Ready(Ok(v)) => v,
            other => panic!("getter not ready: {other:?}"),
        })
        .collect();
    assert_eq!(got, [0, 1, 2, 3]);
}

#[test]
fn why_are_putters_waiting() {
    let q = Queue::new(2);
    let mut putters: Vec<_> = (0..4).map(|i| Box::pin(q.put(i))).collect();
    let ready: Vec<bool> = putters
        .iter_mut()
        .map(|p| poll_noop(p.as_mut()).is_ready())
        .collect();
    assert_eq!(ready, [true, true, false, false]);
    assert_eq!(q.try_get(), Ok(0));
    assert_eq!(q.try_get(), Ok(1));
    for p in &mut putters[2..] {
        assert_eq!(poll_noop(p.as_mut()), Poll::Ready(Ok(())));
    }
    assert_eq!(drain(&q), [2, 3]);
}

#[test]
fn task_done_underflow() {
    let q = Queue::new(0);
    assert_eq!(q.task_done(), Err(TaskDoneError));
    q.try_put(1).unwrap();
    q.try_get().unwrap();
    assert_eq!(q.task_done(), Ok(()));
    assert_eq!(q.task_done(), Err(TaskDoneError));
}

#[test]
fn join_waits_for_task_done() {
    let q = Queue::new(0);
    for i in 0..3 {
        q.try_put(i).unwrap();
    }
    let (woken, waker) = Counter::new();
    let mut join = pin!(q.join());
    assert!(poll(join.as_mut(), &waker).is_pending());
    for _ in 0..3 {
        q.try_get().unwrap();
        assert!(poll(join.as_mut(), &waker).is_pending());
        q.task_done().unwrap();
    }
    assert_eq!(woken.get(), 1);
    assert_eq!(poll_noop(join.as_mut()), Poll::Ready(()));
}

#[test]
fn join_on_empty_queue_returns_at_once() {
    let q: Queue<()> = Queue::new(0);
    block_on(q.join());
    block_on(q.join());
}

#[test]
fn task_done_with_worker_threads() {
    let q = Queue::new(0);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let q = q.clone();
            std::thread::spawn(move || {
                let mut sum = 0u64;
                while let Ok(v) = block_on(q.get()) {
                    sum += v;
                    q.task_done().unwrap();
                }
                sum
            })
        })
        .collect();
    for v in 1..=100u64 {
        block_on(q.put(v)).unwrap();
    }
    block_on(q.join());
    assert_eq!(q.unfinished(), 0);
    q.shutdown(false);
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total, 5050);
}

#[test]
fn shutdown_empty() {
    let q = Queue::new(0);
    q.shutdown(false);
    assert!(q.is_shutdown());
    assert_eq!(block_on(q.put(1)), Err(QueueShutDown(1)));
    assert_eq!(q.try_put(2), Err(TryPutError::ShutDown(2)));
    assert_eq!(block_on(q.get()), Err(QueueShutDown(())));
    assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
    block_on(q.join());
}

#[test]
fn shutdown_nonempty_drains_then_fails() {
    let q = Queue::new(0);
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    q.shutdown(false);
    assert_eq!(q.try_put(3), Err(TryPutError::ShutDown(3)));
    assert_eq!(block_on(q.get()), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(block_on(q.get()), Err(QueueShutDown(())));
    // join still waits for the two items got.
    let mut join = pin!(q.join());
    assert!(poll_noop(join.as_mut()).is_pending());
    q.task_done().unwrap();
    q.task_done().unwrap();
    assert!(poll_noop(join.as_mut()).is_ready());
}

#[test]
fn shutdown_immediate_drops_items_and_releases_join() {
    let q = Queue::new(0);
    for i in 0..3 {
        q.try_put(i).unwrap();
    }
    let (woken, waker) = Counter::new();
    let mut join = pin!(q.join());
    assert!(poll(join.as_mut(), &waker).is_pending());
    q.shutdown(true);
    assert_eq!(woken.get(), 1);
    assert!(poll_noop(join.as_mut()).is_ready());
    assert!(q.is_empty());
    assert_eq!(q.unfinished(), 0);
    assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
}

#[test]
fn shutdown_immediate_with_unfinished() {
    let q = Queue::new(0);
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    assert_eq!(q.try_get(), Ok(1));
    q.shutdown(true);
    assert_eq!(q.unfinished(), 1);
    let mut join = pin!(q.join());
    assert!(poll_noop(join.as_mut()).is_pending());
    q.task_done().unwrap();
    assert!(poll_noop(join.as_mut()).is_ready());
    assert_eq!(q.task_done(), Err(TaskDoneError));
}

#[test]
fn shutdown_wakes_blocked_putters_and_getters() {
    let full = Queue::new(1);
    full.try_put(0).unwrap();
    let (pw, pwaker) = Counter::new();
    let mut put = pin!(full.put(1));
    assert!(poll(put.as_mut(), &pwaker).is_pending());
    let empty: Queue<i32> = Queue::new(0);
    let (gw, gwaker) = Counter::new();
    let mut get = pin!(empty.get());
    assert!(poll(get.as_mut(), &gwaker).is_pending());
    full.shutdown(false);
    empty.shutdown(false);
    assert_eq!((pw.get(), gw.get()), (1, 1));
    assert_eq!(poll_noop(put.as_mut()), Poll::Ready(Err(QueueShutDown(1))));
    assert_eq!(poll_noop(get.as_mut()), Poll::Ready(Err(QueueShutDown(()))));
    // A second shutdown, even immediate, is allowed.
    full.shutdown(false);
    full.shutdown(true);
    assert!(full.is_empty());
}

#[test]
fn immediate_shutdown_drops_items_outside_the_lock() {
    // An item whose destructor touches the queue must not deadlock.
    struct Touch(Queue<Touch>);
    impl Drop for Touch {
        fn drop(&mut self) {
            let _ = self.0.len();
        }
    }
    let q: Queue<Touch> = Queue::new(0);
    assert!(q.try_put(Touch(q.clone())).is_ok());
    q.shutdown(true);
    assert!(q.is_empty());
}
