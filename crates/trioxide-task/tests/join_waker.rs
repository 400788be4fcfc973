//! The join handle's waker-level API (what scopes build their shared join waker on):
//! `try_join` reads a result without waiting, `swap_waker` registers a waker without
//! spending coop budget and hands back the one it replaced, and `detach_keep_waker`
//! detaches while the registered waker is still woken at completion.
#![cfg(not(trioxide_loom))]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Wake, Waker};
use trioxide_task::{LocalExecutor, WakerSwap, coop, yield_now};

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count::default());
    (count.clone(), Waker::from(count))
}

fn wakes(count: &Count) -> usize {
    count.0.load(Ordering::SeqCst)
}

/// Counts drops, to prove an output is dropped exactly once.
struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn try_join_reads_a_finished_result_and_waits_for_nothing() {
    let ex = LocalExecutor::new();
    let mut handle = ex.spawn_local(async {
        yield_now().await;
        5
    });
    assert!(handle.try_join().is_none(), "not run yet");
    ex.run_until_stalled();
    assert_eq!(handle.try_join().unwrap().unwrap(), 5);
}

#[test]
fn swap_waker_hands_back_the_replaced_waker_and_the_new_one_is_woken_once() {
    let ex = LocalExecutor::new();
    let mut handle = ex.spawn_local(async { 1 });
    let (first, first_waker) = counter();
    let (second, second_waker) = counter();
    let WakerSwap::Registered { previous: None } = handle.swap_waker(&first_waker) else {
        panic!("a fresh handle has no waker and its task has not run");
    };
    let WakerSwap::Registered {
        previous: Some(previous),
    } = handle.swap_waker(&second_waker)
    else {
        panic!("the first waker is handed back");
    };
    previous.wake(); // it is the first one (`will_wake` is not reliable under Miri)
    assert_eq!(wakes(&first), 1);
    ex.run_until_stalled();
    assert_eq!(
        (wakes(&first), wakes(&second)),
        (1, 1),
        "the task woke only the second"
    );
    assert!(matches!(
        handle.swap_waker(&first_waker),
        WakerSwap::Completed { previous: None }
    ));
    assert_eq!(handle.try_join().unwrap().unwrap(), 1);
}

#[test]
fn swap_waker_spends_no_coop_budget() {
    let ex = LocalExecutor::new();
    let (count, waker) = counter();
    let outcome = ex.block_on(async {
        let mut other = trioxide_task::spawn_local(std::future::pending::<()>());
        let registered = coop::with_budget(|| {
            // Spend the whole budget, as a busy task would.
            let mut cx = std::task::Context::from_waker(Waker::noop());
            while coop::poll_proceed(&mut cx).is_ready() {}
            matches!(other.swap_waker(&waker), WakerSwap::Registered { .. })
        });
        other.cancel();
        std::future::poll_fn(|cx| match std::pin::Pin::new(&mut other).poll(cx) {
            Poll::Ready(r) => Poll::Ready(r.is_err()),
            Poll::Pending => Poll::Pending,
        })
        .await;
        registered
    });
    assert!(outcome, "registered even with the budget spent");
    assert_eq!(
        wakes(&count),
        0,
        "replaced by the await's waker before completion"
    );
}

#[test]
fn a_handle_detached_keeping_its_waker_still_wakes_it_at_completion() {
    let ex = LocalExecutor::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let mut handle = ex.spawn_local(async move {
        yield_now().await;
        DropCounter(d)
    });
    let (count, waker) = counter();
    assert!(matches!(
        handle.swap_waker(&waker),
        WakerSwap::Registered { .. }
    ));
    drop(waker);
    handle.detach_keep_waker();
    assert_eq!(wakes(&count), 0);
    ex.run_until_stalled();
    assert_eq!(wakes(&count), 1, "woken once, at completion");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the output was dropped unread"
    );
    assert_eq!(Arc::strong_count(&count), 1, "and the waker too");
    assert_eq!(ex.live_tasks(), 0);
}

#[test]
fn detaching_a_finished_task_keeping_its_waker_just_drops_the_output() {
    let ex = LocalExecutor::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    let mut handle = ex.spawn_local(async move { DropCounter(d) });
    let (count, waker) = counter();
    assert!(matches!(
        handle.swap_waker(&waker),
        WakerSwap::Registered { .. }
    ));
    ex.run_until_stalled();
    assert_eq!(wakes(&count), 1);
    handle.detach_keep_waker();
    assert_eq!(wakes(&count), 1, "not woken again");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(waker);
    assert_eq!(Arc::strong_count(&count), 1, "the slot's waker was dropped");
}

#[test]
fn a_plain_drop_still_forgets_the_waker() {
    let ex = LocalExecutor::new();
    let mut handle = ex.spawn_local(async { yield_now().await });
    let (count, waker) = counter();
    assert!(matches!(
        handle.swap_waker(&waker),
        WakerSwap::Registered { .. }
    ));
    drop(handle);
    ex.run_until_stalled();
    assert_eq!(wakes(&count), 0, "a dropped handle's waker is not woken");
}
