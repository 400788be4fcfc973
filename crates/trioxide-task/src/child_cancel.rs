//! How [`cancelled()`](crate::cancel::cancelled) sees cancellations that are not its
//! task's own: of a *scope child*, of a *timeout* or of a *cancel scope* around it.
//!
//! A scope polls its borrowed children (and its body) inside its own task, and a timeout
//! or a `CancelScope::run` polls its future inside whatever polls it, so the task's state
//! cannot tell them apart. While one of them polls its future, it enters that future's
//! [`ChildCancelSlot`] (a *level*); levels nest, innermost last, on a per-thread chain
//! that lives only during the poll. A `cancelled()` future first polled in there watches
//! the innermost levels: every timeout and cancel scope (a *transparent* level) up to and
//! including the innermost scope child (a *boundary*), or, with no scope child around
//! it, up to the task itself. When a watched level is cancelled, it asks its slot
//! whether somebody watches: a watched level is *delivered* the cancellation — the
//! `cancelled()` futures watching it are woken and resolve, and the level keeps polling
//! its future, which finishes on its own terms (asyncio's catchable `CancelledError`) —
//! while an unwatched level drops its future as before.
//!
//! Levels beyond the innermost scope child are not watched: a scope's child contains a
//! whole subtree (other children, a nested scope's body), which delivery would leave
//! running uncancelled.
//!
//! A slot costs two pointer writes per poll until a `cancelled()` is first polled in it:
//! only then is its shared flag allocated.

use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};
use std::cell::Cell;
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicPtr, Ordering as StdOrdering};
use std::task::Waker;

/// The shared flag of one watched level.
#[derive(Debug)]
pub(crate) struct ChildCancel {
    /// Pending `cancelled()` futures watching this level.
    watchers: AtomicUsize,
    /// The level delivered its cancellation.
    delivered: AtomicBool,
    /// The future asked to be cancelled after all
    /// ([`reraise_cancel`](crate::cancel::reraise_cancel)).
    reraised: AtomicBool,
    /// The watchers' wakers, woken by the delivery (a watcher may sit behind combinators
    /// that poll only what was woken, such as a nested scope).
    wakers: Mutex<Vec<Waker>>,
}

impl ChildCancel {
    fn new() -> Self {
        ChildCancel {
            watchers: AtomicUsize::new(0),
            delivered: AtomicBool::new(false),
            reraised: AtomicBool::new(false),
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// Registers a watcher whose task is woken through `waker` at the delivery.
    pub(crate) fn watch(&self, waker: &Waker) {
        self.register(waker);
        self.watchers.fetch_add(1, Ordering::AcqRel);
    }

    /// Keeps the newest waker of a watcher that is polled again.
    pub(crate) fn register(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    pub(crate) fn unwatch(&self) {
        if self.watchers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.wakers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        }
    }

    pub(crate) fn is_delivered(&self) -> bool {
        self.delivered.load(Ordering::Acquire)
    }

    pub(crate) fn reraise(&self) {
        self.reraised.store(true, Ordering::Release);
    }

    fn deliver(&self) {
        self.delivered.store(true, Ordering::Release);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for waker in wakers {
            waker.wake();
        }
    }
}

/// Whether a level is a scope child (the last one a `cancelled()` watches) or a timeout
/// or cancel scope within one (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Boundary,
    Transparent,
}

/// Where a scope child, a timeout or a cancel scope keeps its cancellation flag; see the
/// module docs.
pub struct ChildCancelSlot {
    flag: OnceLock<Arc<ChildCancel>>,
    kind: Kind,
    /// The slot entered just before this one on the same thread, while this one is
    /// entered; only read by [`current_levels`] and [`reraise_target`] during the poll
    /// that entered both. (A plain std atomic, not the loom shim's: it never synchronises
    /// threads, it only keeps the slot `Send + Sync` without an `unsafe impl`.)
    parent: AtomicPtr<ChildCancelSlot>,
}

impl Default for ChildCancelSlot {
    fn default() -> Self {
        Self::with_kind(Kind::Boundary)
    }
}

impl std::fmt::Debug for ChildCancelSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildCancelSlot")
            .field("kind", &self.kind)
            .field("delivered", &self.is_delivered())
            .finish()
    }
}

impl ChildCancelSlot {
    /// The slot of a scope child (or body): the outermost level a `cancelled()` inside
    /// watches.
    pub fn new() -> Self {
        Self::default()
    }

    /// The slot of a timeout or cancel scope: a `cancelled()` inside watches it and the
    /// levels around it, up to the innermost scope child or the task.
    pub fn transparent() -> Self {
        Self::with_kind(Kind::Transparent)
    }

    fn with_kind(kind: Kind) -> Self {
        ChildCancelSlot {
            flag: OnceLock::new(),
            kind,
            parent: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Makes this the innermost level `cancelled()` sees on this thread until the guard
    /// drops (the caller polls its future meanwhile, without moving this slot).
    pub fn enter(&self) -> ChildCancelGuard {
        let prev = CURRENT.with(|c| c.replace(ptr::from_ref(self)));
        self.parent.store(prev.cast_mut(), StdOrdering::Relaxed);
        ChildCancelGuard(prev)
    }

    /// The level was cancelled: if a `cancelled()` is watching it, delivers the
    /// cancellation (waking the watchers) and returns `true` — the caller must keep
    /// polling its future rather than drop it; otherwise returns `false`.
    pub fn deliver(&self) -> bool {
        self.peek(|flag| {
            let watched = flag.is_some_and(|f| f.watchers.load(Ordering::Acquire) > 0);
            if let Some(f) = flag.filter(|_| watched) {
                f.deliver();
            }
            watched
        })
    }

    /// Whether the future, polled just now, asked to be cancelled
    /// ([`reraise_cancel`](crate::cancel::reraise_cancel)): the caller must then drop it
    /// as cancelled. Clears the request.
    pub fn take_reraised(&self) -> bool {
        self.peek(|flag| flag.is_some_and(|f| f.reraised.swap(false, Ordering::AcqRel)))
    }

    /// Whether a cancellation was delivered to this level.
    pub fn is_delivered(&self) -> bool {
        self.peek(|flag| flag.is_some_and(|f| f.is_delivered()))
    }

    /// Runs `f` on the flag, if one was made.
    fn peek<R>(&self, f: impl FnOnce(Option<&Arc<ChildCancel>>) -> R) -> R {
        f(self.flag.get())
    }

    /// The flag, made on first use.
    fn flag(&self) -> Arc<ChildCancel> {
        self.flag
            .get_or_init(|| Arc::new(ChildCancel::new()))
            .clone()
    }
}

std::thread_local! {
    /// The innermost level being polled on this thread, or null.
    static CURRENT: Cell<*const ChildCancelSlot> = const { Cell::new(ptr::null()) };
}

/// Restores the previously entered level (nested levels) when dropped.
#[must_use = "the slot is current only while the guard lives"]
pub struct ChildCancelGuard(*const ChildCancelSlot);

impl Drop for ChildCancelGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// The levels a `cancelled()` polled now watches, innermost first (flags made on first
/// use), and whether it also watches the task (no scope child around it).
pub(crate) fn current_levels() -> (Vec<Arc<ChildCancel>>, bool) {
    let mut levels = Vec::new();
    let mut slot = CURRENT.with(Cell::get);
    // SAFETY: every non-null pointer on the chain was stored by an `enter` whose guard has
    // not dropped yet: guards drop in reverse order of entering (each lives in a poll
    // that is still on this thread's stack), and a slot does not move or die while its
    // guard lives. So each slot here is alive, and its `parent` was set by that same
    // `enter` to the slot entered before it (or null).
    while let Some(level) = unsafe { slot.as_ref() } {
        levels.push(level.flag());
        if level.kind == Kind::Boundary {
            return (levels, false);
        }
        slot = level.parent.load(StdOrdering::Relaxed);
    }
    (levels, true)
}

/// What [`reraise_cancel`](crate::cancel::reraise_cancel) cancels again.
pub(crate) enum ReraiseTarget {
    /// This level: the innermost one that delivered a cancellation, or else the
    /// innermost scope child.
    Level(Arc<ChildCancel>),
    /// The task (no level delivered, no scope child around).
    Task,
}

/// The level (or the task) a re-raise polled now aims at; see [`ReraiseTarget`].
pub(crate) fn reraise_target() -> ReraiseTarget {
    let mut slot = CURRENT.with(Cell::get);
    // SAFETY: as in `current_levels`: every slot on the chain is alive during this poll.
    while let Some(level) = unsafe { slot.as_ref() } {
        let flag = level.flag();
        if flag.is_delivered() || level.kind == Kind::Boundary {
            return ReraiseTarget::Level(flag);
        }
        slot = level.parent.load(StdOrdering::Relaxed);
    }
    ReraiseTarget::Task
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
            let (levels, task) = current_levels();
            assert!(!task, "a scope child is the last level watched");
            levels.into_iter().next().expect("inside the child")
        };
        assert!(current_levels().0.is_empty(), "left the child");
        flag.watch(Waker::noop());
        assert!(slot.deliver());
        assert!(flag.is_delivered() && slot.is_delivered());
        flag.unwatch();
    }

    #[test]
    fn nested_slots_restore_the_outer_one() {
        let (outer, inner) = (ChildCancelSlot::new(), ChildCancelSlot::new());
        let _o = outer.enter();
        let a = current_levels().0.remove(0);
        {
            let _i = inner.enter();
            let (levels, _) = current_levels();
            assert_eq!(levels.len(), 1, "only the innermost scope child");
            assert!(!std::sync::Arc::ptr_eq(&a, &levels[0]));
        }
        let c = current_levels().0.remove(0);
        assert!(std::sync::Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn transparent_levels_are_watched_up_to_the_innermost_scope_child() {
        let (child, timeout, scope) = (
            ChildCancelSlot::new(),
            ChildCancelSlot::transparent(),
            ChildCancelSlot::transparent(),
        );
        {
            let _t = timeout.enter();
            let (levels, task) = current_levels();
            assert_eq!(levels.len(), 1);
            assert!(task, "no scope child around: the task is watched too");
        }
        let _c = child.enter();
        let _t = timeout.enter();
        let _s = scope.enter();
        let (levels, task) = current_levels();
        assert_eq!(levels.len(), 3, "the cancel scope, the timeout, the child");
        assert!(!task);
        let woken = std::sync::Arc::new(AtomicBool::new(false));
        struct Flag(std::sync::Arc<AtomicBool>);
        impl std::task::Wake for Flag {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let waker = Waker::from(std::sync::Arc::new(Flag(woken.clone())));
        levels[1].watch(&waker);
        assert!(timeout.deliver(), "the watched timeout delivers");
        assert!(woken.load(Ordering::SeqCst), "and wakes the watcher");
        assert!(!child.deliver(), "a level nobody watches does not");
    }
}
