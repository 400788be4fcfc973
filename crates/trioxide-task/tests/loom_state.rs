//! Loom model checks of the real task core (`--cfg trioxide_loom`): wakes from other
//! threads, join-handle drops, cancellation and waker clones racing completion. Loom
//! explores every interleaving (up to `LOOM_MAX_PREEMPTIONS`) and reports leaked `Arc`s,
//! so a lost wake-up hangs (deadlock report), a double free panics, and a leaked task
//! shows up as its scheduler `Arc` never being dropped.
//!
//! Run with `cargo xtask loom`.
#![cfg(trioxide_loom)]

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::future::{Future, poll_fn};
use std::task::{Poll, Waker};
use trioxide_task::{JoinError, LocalExecutor};

/// Counts drops, to check "exactly once".
struct DropCounter(Arc<AtomicUsize>);
impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future that parks its waker in `slot` until `flag` is set.
fn wait_for_flag(
    flag: Arc<AtomicBool>,
    slot: Arc<Mutex<Option<Waker>>>,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    poll_fn(move |cx| {
        if flag.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *slot.lock().unwrap() = Some(cx.waker().clone());
        if flag.load(Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
}

#[test]
fn wake_from_another_thread_is_never_lost() {
    loom::model(|| {
        let ex = LocalExecutor::new();
        let flag = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let task = ex.spawn(wait_for_flag(flag.clone(), slot.clone()));
        let waker_thread = thread::spawn(move || {
            flag.store(true, Ordering::SeqCst);
            if let Some(w) = slot.lock().unwrap().take() {
                w.wake();
            }
        });
        ex.block_on(task).unwrap();
        waker_thread.join().unwrap();
    });
}

#[test]
fn join_handle_drop_races_completion() {
    loom::model(|| {
        let ex = LocalExecutor::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let handle = ex.spawn(async move { DropCounter(d) });
        let dropper = thread::spawn(move || drop(handle));
        ex.run_until_stalled();
        dropper.join().unwrap();
        drop(ex);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "output dropped exactly once"
        );
    });
}

#[test]
fn cancel_races_completion() {
    loom::model(|| {
        let ex = LocalExecutor::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let handle = Arc::new(ex.spawn(async move {
            let _guard = guard;
            7
        }));
        let h = handle.clone();
        let canceller = thread::spawn(move || h.cancel());
        ex.run_until_stalled();
        canceller.join().unwrap();
        ex.run_until_stalled();
        let handle = Arc::try_unwrap(handle).unwrap();
        match ex.block_on(handle) {
            Ok(v) => assert_eq!(v, 7),
            Err(e) => assert!(matches!(e, JoinError::Cancelled)),
        }
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "future dropped exactly once"
        );
    });
}

#[test]
fn waker_clone_and_drop_race_completion() {
    loom::model(|| {
        let ex = LocalExecutor::new();
        let flag = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Mutex::new(None::<Waker>));
        let handle = ex.spawn(wait_for_flag(flag.clone(), slot.clone()));
        ex.run_until_stalled(); // the task is now idle, its waker in `slot`
        let waker = slot.lock().unwrap().take().unwrap();
        let other = thread::spawn(move || {
            let clone = waker.clone();
            drop(waker);
            flag.store(true, Ordering::SeqCst);
            clone.wake();
        });
        ex.block_on(handle).unwrap();
        other.join().unwrap();
    });
}

#[test]
fn spawner_from_another_thread_races_shutdown() {
    loom::model(|| {
        let ex = LocalExecutor::new();
        let spawner = ex.spawner();
        let drops = Arc::new(AtomicUsize::new(0));
        let guard = DropCounter(drops.clone());
        let remote = thread::spawn(move || spawner.spawn(async move { drop(guard) }));
        ex.run_until_stalled();
        drop(ex);
        let handle = remote.join().unwrap();
        assert!(
            handle.is_finished(),
            "spawned tasks never outlive the executor"
        );
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn soft_cancel_races_the_watcher() {
    loom::model(|| {
        let ex = LocalExecutor::new();
        let handle = Arc::new(ex.spawn(async {
            trioxide_task::cancel::cancelled().await;
            "saw it"
        }));
        let h = handle.clone();
        let canceller = thread::spawn(move || h.cancel());
        ex.run_until_stalled();
        canceller.join().unwrap();
        let handle = Arc::try_unwrap(handle).unwrap();
        // Watched in time: delivered softly; cancelled before the first poll: dropped.
        match ex.block_on(handle) {
            Ok(v) => assert_eq!(v, "saw it"),
            Err(e) => assert!(matches!(e, JoinError::Cancelled)),
        }
    });
}

/// A waker counting its wake-ups in a loom atomic.
struct CountWake(AtomicUsize);

impl std::task::Wake for CountWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn count_waker() -> (std::sync::Arc<CountWake>, Waker) {
    let count = std::sync::Arc::new(CountWake(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

#[test]
fn detach_keeping_the_waker_races_completion() {
    loom::model(|| {
        let ex = LocalExecutor::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let d = drops.clone();
        let mut handle = ex.spawn(async move { DropCounter(d) });
        let (count, waker) = count_waker();
        assert!(matches!(
            handle.swap_waker(&waker),
            trioxide_task::WakerSwap::Registered { .. }
        ));
        drop(waker);
        let detacher = thread::spawn(move || handle.detach_keep_waker());
        ex.run_until_stalled();
        detacher.join().unwrap();
        drop(ex);
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken exactly once");
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "output dropped exactly once"
        );
        assert_eq!(
            std::sync::Arc::strong_count(&count),
            1,
            "the waker was dropped"
        );
    });
}

#[test]
fn swapping_the_join_waker_races_completion() {
    loom::model(|| {
        let ex = LocalExecutor::new();
        let mut handle = ex.spawn(async { 3 });
        let (first, first_waker) = count_waker();
        assert!(matches!(
            handle.swap_waker(&first_waker),
            trioxide_task::WakerSwap::Registered { .. }
        ));
        let (second, second_waker) = count_waker();
        let swapper = thread::spawn(move || {
            // Whatever the swap hands back, the task will not wake: pass it on.
            let registered = match handle.swap_waker(&second_waker) {
                trioxide_task::WakerSwap::Registered { previous } => {
                    previous.expect("the first waker").wake();
                    true
                }
                trioxide_task::WakerSwap::Completed { previous } => {
                    if let Some(previous) = previous {
                        previous.wake();
                    }
                    false
                }
            };
            (handle, registered)
        });
        ex.run_until_stalled();
        let (mut handle, registered) = swapper.join().unwrap();
        assert_eq!(
            first.0.load(Ordering::SeqCst),
            1,
            "the first waker: exactly once"
        );
        assert_eq!(
            second.0.load(Ordering::SeqCst),
            usize::from(registered),
            "the second: once if it was registered"
        );
        assert_eq!(handle.try_join().unwrap().unwrap(), 3);
    });
}

#[test]
fn polling_with_a_new_waker_races_completion() {
    // The handle replaces its registered waker while the task completes (the completing
    // poller may clear `JOIN_WAKER` between the handle's look and its unset).
    loom::model(|| {
        let ex = LocalExecutor::new();
        let mut handle = ex.spawn(async { 4 });
        let (_first, first_waker) = count_waker();
        let mut cx = std::task::Context::from_waker(&first_waker);
        assert!(std::pin::Pin::new(&mut handle).poll(&mut cx).is_pending());
        let (second, second_waker) = count_waker();
        let poller = thread::spawn(move || {
            let mut cx = std::task::Context::from_waker(&second_waker);
            let ready = match std::pin::Pin::new(&mut handle).poll(&mut cx) {
                Poll::Ready(v) => Some(v.unwrap()),
                Poll::Pending => None,
            };
            (handle, ready)
        });
        ex.run_until_stalled();
        let (mut handle, ready) = poller.join().unwrap();
        match ready {
            Some(v) => assert_eq!(v, 4),
            None => {
                assert_eq!(
                    second.0.load(Ordering::SeqCst),
                    1,
                    "the new waker was woken"
                );
                assert_eq!(handle.try_join().unwrap().unwrap(), 4);
            }
        }
    });
}
