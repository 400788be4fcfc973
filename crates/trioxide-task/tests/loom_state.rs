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
use std::future::poll_fn;
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
