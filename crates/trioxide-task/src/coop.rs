//! Cooperative scheduling budget (tokio's coop idea): each task poll gets a budget of
//! [`BUDGET`] resource operations. Leaf futures (`JoinHandle`, timers, sockets) call
//! [`poll_proceed`] first; once the budget is spent they return `Pending` and wake
//! themselves, so a task whose resources are always ready still yields to the others and
//! to the reactor.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations allowed per task poll before leaf futures force a yield.
pub const BUDGET: u8 = 128;

thread_local! {
    /// `None` outside a budgeted poll (no limit), else the operations left.
    static REMAINING: Cell<Option<u8>> = const { Cell::new(None) };
}

/// Runs `f` (one task poll) with a fresh budget, restoring the previous one afterwards
/// (also on unwind).
pub fn with_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMAINING.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(REMAINING.with(|r| r.replace(Some(BUDGET))));
    f()
}

/// Runs `f` with no budget at all, as outside any task poll (tokio's `coop::stop`): the
/// blocking pool runs its closures this way, since a closure on a pool thread has no
/// executor to yield to. Restores the previous budget afterwards (also on unwind).
pub(crate) fn without_budget<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(Option<u8>);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMAINING.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(REMAINING.with(|r| r.replace(None)));
    f()
}

/// Spends one unit of budget. `Pending` (after waking the task) when none is left.
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    REMAINING.with(|r| match r.get() {
        Some(0) => {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Some(n) => {
            r.set(Some(n - 1));
            Poll::Ready(())
        }
        None => Poll::Ready(()),
    })
}

/// Whether the current poll still has budget (always `true` outside a budgeted poll).
pub fn has_budget_remaining() -> bool {
    REMAINING.with(|r| r.get() != Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn budget_runs_out_and_is_restored() {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            poll_proceed(&mut cx).is_ready(),
            "unbudgeted outside a poll"
        );
        with_budget(|| {
            for _ in 0..BUDGET {
                assert!(poll_proceed(&mut cx).is_ready());
            }
            assert!(poll_proceed(&mut cx).is_pending());
            assert!(!has_budget_remaining());
        });
        assert!(has_budget_remaining());
    }
}
