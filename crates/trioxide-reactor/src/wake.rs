//! Waking from the driver: each waker is called with its panic contained.
//!
//! The reactor and the timers wake whatever wakers futures registered — not only the
//! runtime's own task wakers but any a foreign combinator passed in. A panic in one must
//! not unwind through the driver (and take a worker thread, and every task queued behind
//! it, down with it): it is caught, reported on stderr, and the other wakers still run.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Waker;

/// Wakes `waker`, containing a panic in its `wake`.
pub(crate) fn wake_contained(waker: Waker) {
    if catch_unwind(AssertUnwindSafe(|| waker.wake())).is_err() {
        eprintln!(
            "trioxide: a waker panicked when the reactor woke it; the panic was contained \
             and the runtime goes on (fix the `Wake` implementation that panicked)"
        );
    }
}

/// Wakes every waker of `wakers`, each with its panic contained.
pub(crate) fn wake_all(wakers: impl IntoIterator<Item = Waker>) {
    wakers.into_iter().for_each(wake_contained);
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    struct Boom;
    impl Wake for Boom {
        fn wake(self: Arc<Self>) {
            panic!("boom");
        }
    }

    #[test]
    fn a_panicking_waker_does_not_stop_the_others() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let wakers = vec![
            Waker::from(count.clone()),
            Waker::from(Arc::new(Boom)),
            Waker::from(count.clone()),
        ];
        super::wake_all(wakers);
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
    }
}
