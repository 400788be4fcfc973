//! How [`cancelled()`](crate::cancel::cancelled) sees the cancellation of a *scope
//! child*, not only of its task.
//!
//! A scope polls its borrowed children (and its body) inside its own task, so the task's
//! state cannot tell them apart. While it polls one, the scope enters that child's
//! [`ChildCancelSlot`]; a `cancelled()` future first polled there watches the child
//! instead of the task. When the scope is cancelled, it asks each child's slot whether
//! somebody watches: a watched child is *delivered* the cancellation — its `cancelled()`
//! resolves, it is polled again and finishes on its own terms (asyncio's catchable
//! `CancelledError`) — while an unwatched one is dropped as before.
//!
//! The slot costs nothing until a `cancelled()` is first polled in the child: only then is
//! its shared flag allocated.

use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::cell::Cell;
use std::ptr;

/// The shared flag of one watched child.
#[derive(Debug)]
pub(crate) struct ChildCancel {
    /// Pending `cancelled()` futures watching this child.
    watchers: AtomicUsize,
    /// The scope delivered its cancellation.
    delivered: AtomicBool,
    /// The child asked to be cancelled after all ([`reraise_cancel`](crate::cancel::reraise_cancel)).
    reraised: AtomicBool,
}

impl ChildCancel {
    fn new() -> Self {
        ChildCancel {
            watchers: AtomicUsize::new(0),
            delivered: AtomicBool::new(false),
            reraised: AtomicBool::new(false),
        }
    }

    pub(crate) fn watch(&self) {
        self.watchers.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn unwatch(&self) {
        self.watchers.fetch_sub(1, Ordering::AcqRel);
    }

    pub(crate) fn is_delivered(&self) -> bool {
        self.delivered.load(Ordering::Acquire)
    }

    pub(crate) fn reraise(&self) {
        self.reraised.store(true, Ordering::Release);
    }
}

/// Where a scope keeps one child's cancellation flag; see the module docs.
#[derive(Default)]
pub struct ChildCancelSlot(Cell<Option<Arc<ChildCancel>>>);

impl std::fmt::Debug for ChildCancelSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildCancelSlot")
            .field("delivered", &self.is_delivered())
            .finish()
    }
}

impl ChildCancelSlot {
    /// An empty slot (nobody watches yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes this the slot `cancelled()` sees on this thread until the guard drops (the
    /// caller polls the child meanwhile).
    pub fn enter(&self) -> ChildCancelGuard {
        ChildCancelGuard(CURRENT.with(|c| c.replace(ptr::from_ref(self))))
    }

    /// The scope was cancelled: if a `cancelled()` is watching this child, delivers the
    /// cancellation to it and returns `true` (the caller must poll the child again rather
    /// than drop it); otherwise returns `false`.
    pub fn deliver(&self) -> bool {
        self.peek(|flag| {
            let watched = flag.is_some_and(|f| f.watchers.load(Ordering::Acquire) > 0);
            if let Some(f) = flag.filter(|_| watched) {
                f.delivered.store(true, Ordering::Release);
            }
            watched
        })
    }

    /// Whether the child, polled just now, asked to be cancelled
    /// ([`reraise_cancel`](crate::cancel::reraise_cancel)): the caller must then drop it
    /// as a cancelled child. Clears the request.
    pub fn take_reraised(&self) -> bool {
        self.peek(|flag| flag.is_some_and(|f| f.reraised.swap(false, Ordering::AcqRel)))
    }

    /// Whether a cancellation was delivered to this child.
    pub fn is_delivered(&self) -> bool {
        self.peek(|flag| flag.is_some_and(|f| f.is_delivered()))
    }

    /// Runs `f` on the flag, if one was made (a `Cell` lends its content by value only).
    fn peek<R>(&self, f: impl FnOnce(Option<&Arc<ChildCancel>>) -> R) -> R {
        let flag = self.0.take();
        let out = f(flag.as_ref());
        self.0.set(flag);
        out
    }

    /// The flag, made on first use.
    fn flag(&self) -> Arc<ChildCancel> {
        let flag = self
            .0
            .take()
            .unwrap_or_else(|| Arc::new(ChildCancel::new()));
        self.0.set(Some(flag.clone()));
        flag
    }
}

std::thread_local! {
    /// The slot of the scope child being polled on this thread, or null.
    static CURRENT: Cell<*const ChildCancelSlot> = const { Cell::new(ptr::null()) };
}

/// Restores the previously entered slot (nested scopes) when dropped.
#[must_use = "the slot is current only while the guard lives"]
pub struct ChildCancelGuard(*const ChildCancelSlot);

impl Drop for ChildCancelGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// The flag of the scope child being polled on this thread, if any (made on first use).
pub(crate) fn current_child() -> Option<Arc<ChildCancel>> {
    let slot = CURRENT.with(Cell::get);
    // SAFETY: a non-null pointer was set by `enter` from a live slot, and the guard that
    // restores the previous value drops before the slot can move or die: the slot is
    // alive for the whole poll during which this is called.
    unsafe { slot.as_ref() }.map(ChildCancelSlot::flag)
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;

    #[test]
    fn only_a_watched_slot_is_delivered() {
        let slot = ChildCancelSlot::new();
        assert!(!slot.deliver(), "nobody watches: drop the child");
        let flag = {
            let _in = slot.enter();
            current_child().expect("inside the child")
        };
        assert!(current_child().is_none(), "left the child");
        flag.watch();
        assert!(slot.deliver());
        assert!(flag.is_delivered() && slot.is_delivered());
        flag.unwatch();
    }

    #[test]
    fn nested_slots_restore_the_outer_one() {
        let (outer, inner) = (ChildCancelSlot::new(), ChildCancelSlot::new());
        let _o = outer.enter();
        let a = current_child().unwrap();
        {
            let _i = inner.enter();
            let b = current_child().unwrap();
            assert!(!std::sync::Arc::ptr_eq(&a, &b));
        }
        let c = current_child().unwrap();
        assert!(std::sync::Arc::ptr_eq(&a, &c));
    }
}
