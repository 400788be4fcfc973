//! Property tests: random operation sequences on `Queue` (all three orders) and on `mpsc`
//! (bounded and unbounded) against a sequential model built on `VecDeque`. Async methods
//! are polled once by hand: a `Pending` future is dropped, which must leave no trace.

mod support;

use proptest::prelude::*;
use std::collections::VecDeque;
use std::pin::pin;
use std::task::Poll;
use support::poll_noop;
use trioxide_sync::{
    Kind, Lifo, Priority, Queue, QueueShutDown, TaskDoneError, TryGetError, TryPutError, mpsc,
};

#[derive(Debug, Clone)]
enum QOp {
    TryPut(u8),
    Put(u8),
    TryGet,
    Get,
    TaskDone,
    Join,
    Shutdown(bool),
    Len,
}

fn qop() -> impl Strategy<Value = QOp> {
    prop_oneof![
        4 => any::<u8>().prop_map(QOp::TryPut),
        3 => any::<u8>().prop_map(QOp::Put),
        4 => Just(QOp::TryGet),
        3 => Just(QOp::Get),
        3 => Just(QOp::TaskDone),
        1 => Just(QOp::Join),
        1 => any::<bool>().prop_map(QOp::Shutdown),
        1 => Just(QOp::Len),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Order {
    Fifo,
    Lifo,
    Priority,
}

struct QModel {
    items: VecDeque<u8>,
    maxsize: usize,
    unfinished: usize,
    shutdown: bool,
    order: Order,
}

impl QModel {
    fn full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }
    fn put(&mut self, v: u8) -> Result<(), TryPutError<u8>> {
        if self.shutdown {
            Err(TryPutError::ShutDown(v))
        } else if self.full() {
            Err(TryPutError::Full(v))
        } else {
            self.items.push_back(v);
            self.unfinished += 1;
            Ok(())
        }
    }
    fn get(&mut self) -> Result<u8, TryGetError> {
        let item = match self.order {
            Order::Fifo => self.items.pop_front(),
            Order::Lifo => self.items.pop_back(),
            Order::Priority => {
                let min = self.items.iter().enumerate().min_by_key(|&(_, v)| *v);
                min.map(|(i, _)| i).and_then(|i| self.items.remove(i))
            }
        };
        match item {
            Some(v) => Ok(v),
            None if self.shutdown => Err(TryGetError::ShutDown),
            None => Err(TryGetError::Empty),
        }
    }
}

fn run_queue<K: Kind<u8>>(q: &Queue<u8, K>, order: Order, maxsize: usize, ops: Vec<QOp>) {
    let mut m = QModel {
        items: VecDeque::new(),
        maxsize,
        unfinished: 0,
        shutdown: false,
        order,
    };
    for op in ops {
        match op {
            QOp::TryPut(v) => assert_eq!(q.try_put(v), m.put(v)),
            QOp::Put(v) => {
                let got = poll_noop(pin!(q.put(v)));
                let want = match m.put(v) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(TryPutError::ShutDown(v)) => Poll::Ready(Err(QueueShutDown(v))),
                    Err(TryPutError::Full(_)) => Poll::Pending,
                };
                assert_eq!(got, want);
            }
            QOp::TryGet => assert_eq!(q.try_get(), m.get()),
            QOp::Get => {
                let got = poll_noop(pin!(q.get()));
                let want = match m.get() {
                    Ok(v) => Poll::Ready(Ok(v)),
                    Err(TryGetError::ShutDown) => Poll::Ready(Err(QueueShutDown(()))),
                    Err(TryGetError::Empty) => Poll::Pending,
                };
                assert_eq!(got, want);
            }
            QOp::TaskDone => {
                let want = if m.unfinished == 0 {
                    Err(TaskDoneError)
                } else {
                    m.unfinished -= 1;
                    Ok(())
                };
                assert_eq!(q.task_done(), want);
            }
            QOp::Join => {
                let ready = poll_noop(pin!(q.join())).is_ready();
                assert_eq!(ready, m.unfinished == 0);
            }
            QOp::Shutdown(immediate) => {
                q.shutdown(immediate);
                m.shutdown = true;
                if immediate {
                    m.unfinished = m.unfinished.saturating_sub(m.items.len());
                    m.items.clear();
                }
            }
            QOp::Len => {
                assert_eq!(q.len(), m.items.len());
                assert_eq!(q.is_full(), m.full());
                assert_eq!(q.unfinished(), m.unfinished);
            }
        }
    }
}

#[derive(Debug, Clone)]
enum COp {
    TrySend(u8),
    Send(u8),
    TryRecv,
    Recv,
    Close,
    CloneSender,
    DropSender,
    Len,
}

fn cop() -> impl Strategy<Value = COp> {
    prop_oneof![
        4 => any::<u8>().prop_map(COp::TrySend),
        3 => any::<u8>().prop_map(COp::Send),
        4 => Just(COp::TryRecv),
        3 => Just(COp::Recv),
        1 => Just(COp::Close),
        1 => Just(COp::CloneSender),
        1 => Just(COp::DropSender),
        1 => Just(COp::Len),
    ]
}

fn run_mpsc(cap: Option<usize>, ops: Vec<COp>) {
    let (tx, mut rx) = match cap {
        Some(c) => mpsc::channel(c),
        None => mpsc::unbounded(),
    };
    let mut senders = vec![tx];
    let mut model: VecDeque<u8> = VecDeque::new();
    let mut closed = false;
    for op in ops {
        let disconnected = closed || senders.is_empty();
        match op {
            COp::TrySend(v) => {
                let Some(tx) = senders.first() else { continue };
                let want = if closed {
                    Err(mpsc::TrySendError::Closed(v))
                } else if cap.is_some_and(|c| model.len() >= c) {
                    Err(mpsc::TrySendError::Full(v))
                } else {
                    model.push_back(v);
                    Ok(())
                };
                assert_eq!(tx.try_send(v), want);
            }
            COp::Send(v) => {
                let Some(tx) = senders.last() else { continue };
                let want = if closed {
                    Poll::Ready(Err(mpsc::SendError(v)))
                } else if cap.is_some_and(|c| model.len() >= c) {
                    Poll::Pending
                } else {
                    model.push_back(v);
                    Poll::Ready(Ok(()))
                };
                assert_eq!(poll_noop(pin!(tx.send(v))), want);
            }
            COp::TryRecv => {
                let want = match model.pop_front() {
                    Some(v) => Ok(v),
                    None if disconnected => Err(mpsc::TryRecvError::Disconnected),
                    None => Err(mpsc::TryRecvError::Empty),
                };
                assert_eq!(rx.try_recv(), want);
            }
            COp::Recv => {
                let want = match model.pop_front() {
                    Some(v) => Poll::Ready(Some(v)),
                    None if disconnected => Poll::Ready(None),
                    None => Poll::Pending,
                };
                assert_eq!(poll_noop(pin!(rx.recv())), want);
            }
            COp::Close => {
                rx.close();
                closed = true;
            }
            COp::CloneSender => {
                if let Some(tx) = senders.first() {
                    senders.push(tx.clone());
                }
            }
            COp::DropSender => {
                senders.pop();
            }
            COp::Len => {
                assert_eq!(rx.len(), model.len());
                assert_eq!(rx.is_closed(), disconnected);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn queue_fifo_matches_model(maxsize in 0usize..4, ops in prop::collection::vec(qop(), 0..80)) {
        run_queue(&Queue::new(maxsize), Order::Fifo, maxsize, ops);
    }

    #[test]
    fn queue_lifo_matches_model(maxsize in 0usize..4, ops in prop::collection::vec(qop(), 0..80)) {
        run_queue(&Queue::<u8, Lifo>::with_kind(maxsize), Order::Lifo, maxsize, ops);
    }

    #[test]
    fn queue_priority_matches_model(maxsize in 0usize..4, ops in prop::collection::vec(qop(), 0..80)) {
        run_queue(&Queue::<u8, Priority>::with_kind(maxsize), Order::Priority, maxsize, ops);
    }

    #[test]
    fn mpsc_bounded_matches_model(cap in 1usize..5, ops in prop::collection::vec(cop(), 0..100)) {
        run_mpsc(Some(cap), ops);
    }

    #[test]
    fn mpsc_unbounded_matches_model(ops in prop::collection::vec(cop(), 0..150)) {
        run_mpsc(None, ops);
    }
}

#[derive(Debug, Clone)]
enum BOp {
    Send(u8),
    TryRecv(usize),
    DropSender,
}

fn bop() -> impl Strategy<Value = BOp> {
    prop_oneof![
        3 => any::<u8>().prop_map(BOp::Send),
        4 => (0usize..3).prop_map(BOp::TryRecv),
        1 => Just(BOp::DropSender),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Three receivers on a broadcast ring of capacity `cap`, against "everything sent,
    /// plus each receiver's position".
    #[test]
    fn broadcast_matches_model(cap in 1usize..5, ops in prop::collection::vec(bop(), 0..100)) {
        use trioxide_sync::broadcast::{self, TryRecvError};
        let (tx, rx) = broadcast::channel(cap);
        let mut tx = Some(tx);
        let mut rxs = [rx.resubscribe(), rx.resubscribe(), rx];
        let mut sent: Vec<u8> = Vec::new();
        let mut next = [0usize; 3];
        for op in ops {
            match op {
                BOp::Send(v) => {
                    let Some(tx) = &tx else { continue };
                    assert_eq!(tx.send(v), Ok(3));
                    sent.push(v);
                }
                BOp::TryRecv(r) => {
                    let oldest = sent.len().saturating_sub(cap);
                    let want = if next[r] < oldest {
                        let lag = (oldest - next[r]) as u64;
                        next[r] = oldest;
                        Err(TryRecvError::Lagged(lag))
                    } else if next[r] < sent.len() {
                        next[r] += 1;
                        Ok(sent[next[r] - 1])
                    } else if tx.is_none() {
                        Err(TryRecvError::Closed)
                    } else {
                        Err(TryRecvError::Empty)
                    };
                    assert_eq!(rxs[r].try_recv(), want);
                }
                BOp::DropSender => tx = None,
            }
        }
    }
}

#[derive(Debug, Clone)]
enum MOp {
    TrySend(u8),
    TryRecv(usize),
    Recv(usize),
    DropReceiver(usize),
    Close,
}

fn mop() -> impl Strategy<Value = MOp> {
    prop_oneof![
        4 => any::<u8>().prop_map(MOp::TrySend),
        3 => (0usize..3).prop_map(MOp::TryRecv),
        2 => (0usize..3).prop_map(MOp::Recv),
        1 => (0usize..3).prop_map(MOp::DropReceiver),
        1 => Just(MOp::Close),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Three mpmc receivers share one FIFO: whichever asks gets the oldest message.
    #[test]
    fn mpmc_matches_model(cap in prop::option::of(1usize..4), ops in prop::collection::vec(mop(), 0..100)) {
        use trioxide_sync::mpmc;
        let (tx, rx) = match cap {
            Some(c) => mpmc::channel(c),
            None => mpmc::unbounded(),
        };
        let mut rxs: Vec<Option<mpmc::Receiver<u8>>> = vec![Some(rx.clone()), Some(rx.clone()), Some(rx)];
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut closed = false;
        for op in ops {
            match op {
                MOp::TrySend(v) => {
                    let want = if closed {
                        Err(mpsc::TrySendError::Closed(v))
                    } else if cap.is_some_and(|c| model.len() >= c) {
                        Err(mpsc::TrySendError::Full(v))
                    } else {
                        model.push_back(v);
                        Ok(())
                    };
                    assert_eq!(tx.try_send(v), want);
                }
                MOp::TryRecv(r) | MOp::Recv(r) => {
                    let Some(rx) = &rxs[r] else { continue };
                    let want = match model.pop_front() {
                        Some(v) => Ok(v),
                        None if closed => Err(mpsc::TryRecvError::Disconnected),
                        None => Err(mpsc::TryRecvError::Empty),
                    };
                    if matches!(op, MOp::TryRecv(_)) {
                        assert_eq!(rx.try_recv(), want);
                    } else {
                        let want = match want {
                            Ok(v) => Poll::Ready(Some(v)),
                            Err(mpsc::TryRecvError::Disconnected) => Poll::Ready(None),
                            Err(mpsc::TryRecvError::Empty) => Poll::Pending,
                        };
                        assert_eq!(poll_noop(pin!(rx.recv())), want);
                    }
                }
                MOp::DropReceiver(r) => {
                    rxs[r] = None;
                    if rxs.iter().all(Option::is_none) {
                        closed = true;
                        model.clear();
                    }
                }
                MOp::Close => {
                    tx.close();
                    closed = true;
                }
            }
            assert_eq!(tx.len(), model.len());
        }
    }
}
