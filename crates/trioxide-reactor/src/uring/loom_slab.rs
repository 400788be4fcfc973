//! loom models of the io_uring completion bookkeeping: the op slab shared, behind its
//! mutex, by a future (poll, then drop = cancel) and the reaping thread (CQEs). In every
//! interleaving each keep-alive (buffer) and each accepted descriptor must end up in
//! exactly one place — taken by the future, freed by the drop, freed by the CQE, or
//! closed as an orphan — and no slot may stay live.

use super::slab::{Cancel, Keep, OpSlab, StreamPoll};
use super::sys::lock;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::loom::thread;
use std::task::{Poll, Waker};

/// A single-shot op whose future polls once and is dropped while its CQE arrives.
#[test]
fn loom_cancel_races_completion() {
    loom::model(|| {
        let slab = Arc::new(Mutex::new(OpSlab::default()));
        let ud = lock(&slab).insert(Keep::Buf(vec![1, 2, 3]), false);
        let freed = Arc::new(AtomicUsize::new(0));
        let reaper = {
            let (slab, freed) = (slab.clone(), freed.clone());
            thread::spawn(move || {
                let released = lock(&slab).complete(ud, 3, false);
                if matches!(released.orphan, Some(Keep::Buf(_))) {
                    freed.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let polled = lock(&slab).poll(ud, Waker::noop());
        match polled {
            Poll::Ready((3, Keep::Buf(b))) => {
                assert_eq!(b, [1, 2, 3]);
                freed.fetch_add(1, Ordering::SeqCst);
            }
            Poll::Ready(other) => panic!("unexpected completion {other:?}"),
            Poll::Pending => match lock(&slab).cancel(ud, None) {
                Cancel::Finished(Keep::Buf(_), None) => {
                    freed.fetch_add(1, Ordering::SeqCst);
                }
                Cancel::InFlight => {} // the CQE frees it
                other => panic!("unexpected cancel {other:?}"),
            },
        }
        reaper.join().unwrap();
        assert_eq!(
            freed.load(Ordering::SeqCst),
            1,
            "the buffer is freed exactly once"
        );
        assert_eq!(lock(&slab).live(), 0);
    });
}

/// A multishot accept: two connections then the kernel's final CQE race a handle that
/// takes what it finds and is then dropped.
#[test]
fn loom_stream_drop_races_results() {
    loom::model(|| {
        let slab = Arc::new(Mutex::new(OpSlab::default()));
        let ud = lock(&slab).insert_stream(true);
        // Descriptors 10 and 11: each must be taken or closed, once.
        let seen = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let count = |seen: &[AtomicUsize; 2], fd: i32| {
            seen[(fd - 10) as usize].fetch_add(1, Ordering::SeqCst);
        };
        let reaper = {
            let (slab, seen) = (slab.clone(), seen.clone());
            thread::spawn(move || {
                for (res, more) in [(10, true), (11, true), (-libc::ECANCELED, false)] {
                    let released = lock(&slab).complete(ud, res, more);
                    if let Some(fd) = released.orphan_fd {
                        count(&seen, fd);
                    }
                }
            })
        };
        if let StreamPoll::Item(fd) = lock(&slab).poll_stream(ud, Waker::noop()) {
            assert!(fd >= 0, "ECANCELED from the kernel is not a result");
            count(&seen, fd);
        }
        let (queued, _in_kernel) = lock(&slab).cancel_stream(ud, None);
        for fd in queued {
            count(&seen, fd);
        }
        reaper.join().unwrap();
        // Whether the final CQE came before the drop or after, no slot is left once the
        // reaper is done.
        for s in seen.iter() {
            assert_eq!(s.load(Ordering::SeqCst), 1, "each descriptor handled once");
        }
        assert_eq!(lock(&slab).live(), 0);
    });
}
