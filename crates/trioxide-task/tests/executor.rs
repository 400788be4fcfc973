//! Black-box tests of the task core through `LocalExecutor`: results, panics,
//! cancellation, detaching, shutdown, foreign-thread wakes and the coop budget.

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Waker};
use trioxide_task::{JoinError, LocalExecutor, coop, spawn_local, yield_now};

/// Counts drops, to prove futures and outputs are dropped exactly once.
struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn results_panics_and_cancellation_come_through_the_handle() {
    let ex = LocalExecutor::new();
    let ok = ex.spawn_local(async { "value" });
    let boom = ex.spawn_local(async { panic!("kaboom") });
    let never = ex.spawn_local(std::future::pending::<()>());
    ex.block_on(async move {
        assert_eq!(ok.await.unwrap(), "value");
        let err = boom.await.unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.to_string(), "task panicked: kaboom");
        never.cancel();
        assert!(matches!(never.await, Err(JoinError::Cancelled)));
    });
    assert_eq!(ex.live_tasks(), 0);
}

#[test]
fn cancel_of_a_running_task_drops_it_at_the_poll_boundary() {
    let ex = LocalExecutor::new();
    let dropped = Arc::new(AtomicUsize::new(0));
    let polls = Rc::new(Cell::new(0));
    let handle_slot: Rc<Cell<Option<trioxide_task::JoinHandle<()>>>> = Rc::new(Cell::new(None));
    let guard = DropCounter(dropped.clone());
    let (p, slot) = (polls.clone(), handle_slot.clone());
    let handle = ex.spawn_local(async move {
        let _guard = guard;
        loop {
            p.set(p.get() + 1);
            if let Some(h) = slot.take() {
                // Cancel ourselves mid-poll: the future must finish this poll first.
                h.cancel();
                slot.set(Some(h));
            }
            yield_now().await;
        }
    });
    assert!(ex.tick(), "first poll");
    assert_eq!(polls.get(), 1);
    // Hand the task its own handle: on its next poll it cancels itself mid-poll.
    let (tx, rx) = (handle_slot.clone(), handle_slot);
    tx.set(Some(handle));
    assert!(ex.tick(), "second poll");
    assert_eq!(polls.get(), 2, "the poll that cancelled ran to its end");
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "future dropped exactly once"
    );
    assert!(!ex.tick(), "a cancelled task is not polled again");
    let handle = rx.take().unwrap();
    assert!(handle.is_finished());
    assert!(ex.block_on(handle).unwrap_err().is_cancelled());
}

#[test]
fn dropping_the_handle_detaches_and_output_is_dropped_once() {
    let ex = LocalExecutor::new();
    let ran = Rc::new(Cell::new(false));
    let drops = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let d = drops.clone();
    drop(ex.spawn_local(async move {
        yield_now().await;
        r.set(true);
        DropCounter(d)
    }));
    ex.run_until_stalled();
    assert!(ran.get(), "a detached task still runs");
    assert_eq!(drops.load(Ordering::SeqCst), 1, "its output is dropped");

    // Handle dropped after completion: the handle drops the output.
    let d = drops.clone();
    let h = ex.spawn_local(async move { DropCounter(d) });
    ex.run_until_stalled();
    assert!(h.is_finished());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(h);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
fn dropping_the_executor_cancels_and_drops_every_future_on_its_thread() {
    let drops = Arc::new(AtomicUsize::new(0));
    let ex = LocalExecutor::new();
    let mut handles = Vec::new();
    for _ in 0..10 {
        let guard = DropCounter(drops.clone());
        let not_send = Rc::new(()); // proves these futures need not be Send
        handles.push(ex.spawn_local(async move {
            let _g = guard;
            let _rc = not_send;
            std::future::pending::<()>().await
        }));
    }
    ex.run_until_stalled();
    assert_eq!(ex.live_tasks(), 10);
    drop(ex);
    assert_eq!(drops.load(Ordering::SeqCst), 10);
    for h in handles {
        assert!(h.is_finished());
        let mut h = std::pin::pin!(h);
        let mut cx = std::task::Context::from_waker(Waker::noop());
        assert!(matches!(
            h.as_mut().poll(&mut cx),
            Poll::Ready(Err(JoinError::Cancelled))
        ));
    }
}

#[test]
fn spawner_after_drop_cancels_immediately() {
    let ex = LocalExecutor::new();
    let spawner = ex.spawner();
    drop(ex);
    assert!(spawner.is_closed());
    let h = spawner.spawn(async { 1 });
    assert!(h.is_finished());
}

#[test]
fn a_hundred_thousand_tasks_each_complete_exactly_once() {
    let ex = LocalExecutor::new();
    let count = Rc::new(Cell::new(0usize));
    let total = ex.block_on({
        let count = count.clone();
        async move {
            let handles: Vec<_> = (0..100_000)
                .map(|i| {
                    let count = count.clone();
                    spawn_local(async move {
                        count.set(count.get() + 1);
                        i
                    })
                })
                .collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.unwrap() as u64;
            }
            sum
        }
    });
    assert_eq!(count.get(), 100_000);
    assert_eq!(total, (0..100_000u64).sum());
}

#[test]
fn waking_from_a_foreign_thread_unparks_the_executor() {
    let ex = LocalExecutor::new();
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    let flag = Arc::new(AtomicUsize::new(0));
    let f = flag.clone();
    let waker_thread = std::thread::spawn(move || {
        let waker = rx.recv().unwrap();
        f.store(1, Ordering::SeqCst);
        waker.wake();
    });
    let mut sent = Some(tx);
    let value = ex.block_on(poll_fn(|cx| {
        if flag.load(Ordering::SeqCst) == 1 {
            return Poll::Ready(42);
        }
        if let Some(tx) = sent.take() {
            tx.send(cx.waker().clone()).unwrap();
        }
        Poll::Pending
    }));
    assert_eq!(value, 42);
    waker_thread.join().unwrap();

    // The same for a spawned task woken from another thread.
    let (tx, rx) = std::sync::mpsc::channel::<Waker>();
    let flag = Arc::new(AtomicUsize::new(0));
    let f = flag.clone();
    let task = ex.spawn(poll_fn(move |cx| {
        if f.load(Ordering::SeqCst) == 1 {
            return Poll::Ready("woken");
        }
        tx.send(cx.waker().clone()).unwrap();
        Poll::Pending
    }));
    let t = std::thread::spawn(move || {
        let w = rx.recv().unwrap();
        flag.store(1, Ordering::SeqCst);
        w.wake();
    });
    assert_eq!(ex.block_on(task).unwrap(), "woken");
    t.join().unwrap();
}

#[test]
fn spawner_spawns_from_another_thread() {
    let ex = LocalExecutor::new();
    let spawner = ex.spawner();
    let handle = std::thread::spawn(move || spawner.spawn(async { 7 }))
        .join()
        .unwrap();
    assert_eq!(ex.block_on(handle).unwrap(), 7);
}

#[test]
fn tick_polls_one_task_at_a_time() {
    let ex = LocalExecutor::new();
    let log = Rc::new(std::cell::RefCell::new(Vec::new()));
    for name in ["a", "b"] {
        let log = log.clone();
        drop(ex.spawn_local(async move { log.borrow_mut().push(name) }));
    }
    assert!(ex.tick());
    assert_eq!(*log.borrow(), ["a"]);
    assert!(ex.tick());
    assert!(!ex.tick());
    assert_eq!(*log.borrow(), ["a", "b"]);
}

#[test]
fn the_coop_budget_makes_an_always_ready_task_yield() {
    let ex = LocalExecutor::new();
    let other_ran = Rc::new(Cell::new(false));
    let o = other_ran.clone();
    // A task whose "resource" is always ready but respects the budget.
    let greedy = ex.spawn_local(async move {
        let mut spins = 0u64;
        while !o.get() {
            poll_fn(coop::poll_proceed).await;
            spins += 1;
        }
        spins
    });
    let r = other_ran.clone();
    drop(ex.spawn_local(async move { r.set(true) }));
    let spins = ex.block_on(greedy).unwrap();
    assert!(
        spins >= coop::BUDGET as u64,
        "ran a full budget before yielding: {spins}"
    );
}

#[test]
#[should_panic(expected = "from inside a task of the same executor")]
fn nested_block_on_panics_with_advice() {
    let ex = Rc::new(LocalExecutor::new());
    let inner = ex.clone();
    ex.block_on(async move { inner.block_on(async {}) });
}

#[test]
fn spawn_local_outside_an_executor_is_an_error() {
    let err = trioxide_task::try_spawn_local(async {}).unwrap_err();
    assert!(err.to_string().contains("outside a LocalExecutor"));
}

#[test]
fn join_handle_wakes_the_latest_waker_only() {
    let ex = LocalExecutor::new();
    let gate = Rc::new(Cell::new(false));
    let g = gate.clone();
    let h = ex.spawn_local(poll_fn(move |cx| {
        if g.get() {
            Poll::Ready(5)
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }));
    let mut h = std::pin::pin!(h);
    let mut cx = std::task::Context::from_waker(Waker::noop());
    assert!(h.as_mut().poll(&mut cx).is_pending());
    ex.tick();
    assert!(
        h.as_mut().poll(&mut cx).is_pending(),
        "re-registering a waker works"
    );
    gate.set(true);
    ex.run_until_stalled();
    assert!(matches!(h.as_mut().poll(&mut cx), Poll::Ready(Ok(5))));
}

/// A future whose destructor follows a pointer into its own (pinned) state.
struct SelfReferential {
    value: u64,
    ptr: *const u64,
    _pin: std::marker::PhantomPinned,
}

impl Future for SelfReferential {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> Poll<()> {
        // SAFETY: we only write a field, never move out of the pinned future.
        let this = unsafe { self.get_unchecked_mut() };
        this.ptr = &this.value;
        Poll::Pending
    }
}

impl Drop for SelfReferential {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // Valid only if the future was not moved after its first poll (Pin's promise).
            assert!(
                std::ptr::eq(self.ptr, &self.value),
                "a pinned future was moved before drop"
            );
        }
    }
}

#[test]
fn pinned_futures_are_dropped_in_place_on_cancel_and_shutdown() {
    let ex = LocalExecutor::new();
    let cancelled = ex.spawn_local(SelfReferential {
        value: 1,
        ptr: std::ptr::null(),
        _pin: std::marker::PhantomPinned,
    });
    let at_shutdown = ex.spawn_local(SelfReferential {
        value: 2,
        ptr: std::ptr::null(),
        _pin: std::marker::PhantomPinned,
    });
    ex.run_until_stalled();
    cancelled.cancel();
    ex.run_until_stalled();
    assert!(cancelled.is_finished());
    let err = ex.block_on(cancelled).unwrap_err();
    assert!(
        err.is_cancelled(),
        "the destructor's assertion did not fire: {err:?}"
    );
    drop(ex);
    assert!(at_shutdown.is_finished());
}

#[test]
fn yielding_tasks_take_turns_in_order() {
    let ex = LocalExecutor::new();
    let log = Rc::new(std::cell::RefCell::new(Vec::new()));
    let handles: Vec<_> = (0..3)
        .map(|i| {
            let log = log.clone();
            ex.spawn_local(async move {
                for round in 0..3 {
                    log.borrow_mut().push((round, i));
                    yield_now().await;
                }
            })
        })
        .collect();
    ex.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    let expected: Vec<_> = (0..3).flat_map(|r| (0..3).map(move |i| (r, i))).collect();
    assert_eq!(*log.borrow(), expected);
}

#[test]
fn yield_now_under_a_foreign_waker_wakes_that_waker() {
    // A combinator polling `yield_now` with its own waker must see that waker woken:
    // the task-level fast path applies only to the task's own waker.
    struct CountingWaker(AtomicUsize);
    impl std::task::Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let ex = LocalExecutor::new();
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let inner = counter.clone();
    let task = ex.spawn_local(async move {
        let waker = Waker::from(inner.clone());
        let mut y = std::pin::pin!(yield_now());
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(y.as_mut().poll(&mut cx).is_pending());
        assert!(y.as_mut().poll(&mut cx).is_ready());
        inner.0.load(Ordering::SeqCst)
    });
    let woken = ex.block_on(task).unwrap();
    assert_eq!(woken, 1);
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
}

/// Last woken, first polled: a policy of our own for the tests below.
#[derive(Default)]
struct Lifo(Vec<trioxide_task::ReadyTask>);

impl trioxide_task::SchedulePolicy for Lifo {
    fn push(&mut self, task: trioxide_task::ReadyTask) {
        self.0.push(task);
    }
    fn pop(&mut self) -> Option<trioxide_task::ReadyTask> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[test]
fn a_custom_policy_orders_the_ready_tasks() {
    let ex = LocalExecutor::with_policy(trioxide_task::ThreadPark::new(), Lifo::default());
    let order = Rc::new(std::cell::RefCell::new(Vec::new()));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let order = order.clone();
            ex.spawn_local(async move {
                order.borrow_mut().push(i);
                yield_now().await;
                order.borrow_mut().push(10 + i);
            })
        })
        .collect();
    assert!(ex.has_ready_tasks());
    ex.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    // Handed over together, the four run newest first; each yield re-queues its task on
    // top, so it runs again at once.
    assert_eq!(*order.borrow(), [3, 13, 2, 12, 1, 11, 0, 10]);
}

#[test]
fn tasks_held_by_a_policy_are_dropped_at_shutdown() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let ex = LocalExecutor::with_policy(trioxide_task::ThreadPark::new(), Lifo::default());
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let guard = DropCounter(dropped.clone());
            ex.spawn_local(async move {
                let _guard = guard;
                loop {
                    yield_now().await;
                }
            })
        })
        .collect();
    // Forever-yielding tasks: after some polls, the policy holds tasks (LIFO keeps
    // re-running the newest, so the other two wait in it).
    for _ in 0..10 {
        assert!(ex.tick());
    }
    assert!(trioxide_task::SchedulePolicy::len(&*ex.policy()) >= 2);
    drop(ex);
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
    assert!(handles.iter().all(|h| h.is_finished()));
}

#[test]
fn the_seeded_policy_replays_and_varies_with_the_seed() {
    let run = |seed| {
        let ex = LocalExecutor::with_policy(
            trioxide_task::ThreadPark::new(),
            trioxide_task::Seeded::new(seed),
        );
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        for i in 0..10 {
            let order = order.clone();
            ex.spawn_local(async move { order.borrow_mut().push(i) });
        }
        ex.run_until_stalled();
        order.take()
    };
    assert_eq!(run(1), run(1));
    let distinct: std::collections::BTreeSet<_> = (0..10).map(run).collect();
    assert!(distinct.len() > 5, "{distinct:?}");
}
