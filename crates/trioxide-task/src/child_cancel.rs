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
//! A slot costs a push and a pop on a thread-local vector per poll until a `cancelled()`
//! is first polled in it: only then is its shared flag allocated.

use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::sync::{Arc, Mutex};
use std::cell::RefCell;
use std::ptr;
use std::sync::OnceLock;
use std::task::Waker;

/// The shared flag of one watched level.
#[derive(Debug)]
pub(crate) struct ChildCancel {
    /// The level delivered its cancellation.
    delivered: AtomicBool,
    /// The future asked to be cancelled after all
    /// ([`reraise_cancel`](crate::cancel::reraise_cancel)).
    reraised: AtomicBool,
    /// The pending `cancelled()` futures watching this level, each with its latest waker,
    /// woken by the delivery (a watcher may sit behind combinators that poll only what was
    /// woken, such as a nested scope). One entry per watcher, removed by its `unwatch`.
    watchers: Mutex<Watchers>,
}

#[derive(Debug, Default)]
struct Watchers {
    next_id: u64,
    wakers: Vec<(u64, Waker)>,
}

impl ChildCancel {
    fn new(delivered: bool) -> Self {
        ChildCancel {
            delivered: AtomicBool::new(delivered),
            reraised: AtomicBool::new(false),
            watchers: Mutex::new(Watchers::default()),
        }
    }

    fn watchers(&self) -> crate::loom::sync::MutexGuard<'_, Watchers> {
        self.watchers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a watcher woken through `waker` at the delivery; returns its id.
    pub(crate) fn watch(&self, waker: &Waker) -> u64 {
        let mut watchers = self.watchers();
        let id = watchers.next_id;
        watchers.next_id += 1;
        watchers.wakers.push((id, waker.clone()));
        id
    }

    /// Keeps watcher `id`'s newest waker (it was polled again).
    pub(crate) fn register(&self, id: u64, waker: &Waker) {
        let mut watchers = self.watchers();
        if let Some((_, w)) = watchers.wakers.iter_mut().find(|(i, _)| *i == id)
            && !w.will_wake(waker)
        {
            w.clone_from(waker);
        }
    }

    /// Watcher `id` resolved or was dropped.
    pub(crate) fn unwatch(&self, id: u64) {
        self.watchers().wakers.retain(|(i, _)| *i != id);
    }

    pub(crate) fn is_delivered(&self) -> bool {
        self.delivered.load(Ordering::Acquire)
    }

    pub(crate) fn reraise(&self) {
        self.reraised.store(true, Ordering::Release);
    }

    /// Delivers the cancellation if somebody watches (waking them); returns whether.
    fn deliver_if_watched(&self) -> bool {
        let wakers: Vec<Waker> = {
            let watchers = self.watchers();
            if watchers.wakers.is_empty() {
                return false;
            }
            // Under the lock: a watcher registering now either is in the list (woken
            // below) or comes after the flag is set (and sees it when it polls).
            self.delivered.store(true, Ordering::Release);
            watchers.wakers.iter().map(|(_, w)| w.clone()).collect()
        };
        for waker in wakers {
            waker.wake();
        }
        true
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
    /// The level is cancelled from the start ([`poll_cleanup`]).
    born_delivered: bool,
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

    const fn with_kind(kind: Kind) -> Self {
        ChildCancelSlot {
            flag: OnceLock::new(),
            kind,
            born_delivered: false,
        }
    }

    /// Runs `poll` (the caller polling its future) with this slot as the innermost level
    /// `cancelled()` sees on this thread; the previous levels are restored afterwards,
    /// also if `poll` panics.
    pub fn poll_in<R>(&self, poll: impl FnOnce() -> R) -> R {
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                LEVELS.with(|levels| {
                    levels.borrow_mut().pop();
                });
            }
        }
        LEVELS.with(|levels| levels.borrow_mut().push(ptr::from_ref(self)));
        let _leave = Leave;
        poll()
    }

    /// The level was cancelled: if a `cancelled()` is watching it, delivers the
    /// cancellation (waking the watchers) and returns `true` — the caller must keep
    /// polling its future rather than drop it; otherwise returns `false`.
    pub fn deliver(&self) -> bool {
        self.flag.get().is_some_and(|f| f.deliver_if_watched())
    }

    /// Whether the future, polled just now, asked to be cancelled
    /// ([`reraise_cancel`](crate::cancel::reraise_cancel)): the caller must then drop it
    /// as cancelled. Clears the request.
    pub fn take_reraised(&self) -> bool {
        self.flag
            .get()
            .is_some_and(|f| f.reraised.swap(false, Ordering::AcqRel))
    }

    /// Whether a cancellation was delivered to this level.
    pub fn is_delivered(&self) -> bool {
        self.flag.get().is_some_and(|f| f.is_delivered())
    }

    /// The flag, made on first use.
    fn flag(&self) -> Arc<ChildCancel> {
        self.flag
            .get_or_init(|| Arc::new(ChildCancel::new(self.born_delivered)))
            .clone()
    }
}

std::thread_local! {
    /// The levels being polled on this thread, outermost first: each pushed by a
    /// `poll_in` still running on this thread's stack.
    static LEVELS: RefCell<Vec<*const ChildCancelSlot>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` on each level on this thread's chain, innermost first, until it returns
/// `Some`.
fn find_level<R>(mut f: impl FnMut(&ChildCancelSlot) -> Option<R>) -> Option<R> {
    LEVELS.with(|levels| {
        let levels = levels.borrow();
        levels.iter().rev().find_map(|&slot| {
            // SAFETY: every pointer in `LEVELS` was pushed by a `poll_in` on this thread
            // that has not returned yet (its `Leave` pops it, also on unwinding, and
            // `poll_in` calls nest, so pops match pushes); that call borrows the slot, so
            // the slot is alive and not moved. Only `&` access is made (the slot is
            // `Sync`: other threads may read it at the same time).
            f(unsafe { &*slot })
        })
    })
}

/// The levels a `cancelled()` polled now watches, innermost first (flags made on first
/// use), and whether it also watches the task (no scope child around it).
pub(crate) fn current_levels() -> (Vec<Arc<ChildCancel>>, bool) {
    let mut levels = Vec::new();
    let boundary = find_level(|level| {
        levels.push(level.flag());
        (level.kind == Kind::Boundary).then_some(())
    });
    (levels, boundary.is_none())
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
    find_level(|level| {
        let flag = level.flag();
        (flag.is_delivered() || level.kind == Kind::Boundary).then_some(flag)
    })
    .map_or(ReraiseTarget::Task, ReraiseTarget::Level)
}

/// The level of every cancelled task's cleanup: delivered from the start, so a
/// `cancelled()` awaited in an `on_cancel` cleanup resolves at once (its task *is*
/// cancelled) and watches nothing else — neither the task, whose cancellation is under
/// way, nor a timeout around it, such as the cleanup's own grace bound.
#[cfg(not(trioxide_loom))]
static CLEANUP: ChildCancelSlot = ChildCancelSlot {
    flag: OnceLock::new(),
    kind: Kind::Boundary,
    born_delivered: true,
};

/// Runs `f` (the poll of a cancelled task's cleanups) in the [`CLEANUP`] level. (Not
/// under loom: a static cannot hold one model's objects for the next.)
pub(crate) fn poll_cleanup<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(not(trioxide_loom))]
    return CLEANUP.poll_in(f);
    #[cfg(trioxide_loom)]
    return f();
}

/// Runs `f` (a task's poll) with no level on this thread's chain: a task polled inline
/// inside another future's level (a nested executor) must not see that future's levels.
pub(crate) fn without_levels<R>(f: impl FnOnce() -> R) -> R {
    let outer = LEVELS.with(|levels| {
        let mut levels = levels.borrow_mut();
        (!levels.is_empty()).then(|| std::mem::take(&mut *levels))
    });
    let Some(outer) = outer else {
        return f(); // the common case: no level around a task's poll
    };
    struct Restore(Option<Vec<*const ChildCancelSlot>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                LEVELS.with(|levels| *levels.borrow_mut() = outer);
            }
        }
    }
    let _restore = Restore(Some(outer));
    f()
}

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;

    #[test]
    fn only_a_watched_slot_is_delivered() {
        let slot = ChildCancelSlot::new();
        assert!(!slot.deliver(), "nobody watches: drop the child");
        let flag = slot.poll_in(|| {
            let (levels, task) = current_levels();
            assert!(!task, "a scope child is the last level watched");
            levels.into_iter().next().expect("inside the child")
        });
        assert!(current_levels().0.is_empty(), "left the child");
        let id = flag.watch(Waker::noop());
        assert!(slot.deliver());
        assert!(flag.is_delivered() && slot.is_delivered());
        flag.unwatch(id);
    }

    #[test]
    fn nested_slots_restore_the_outer_one() {
        let (outer, inner) = (ChildCancelSlot::new(), ChildCancelSlot::new());
        outer.poll_in(|| {
            let a = current_levels().0.remove(0);
            inner.poll_in(|| {
                let (levels, _) = current_levels();
                assert_eq!(levels.len(), 1, "only the innermost scope child");
                assert!(!std::sync::Arc::ptr_eq(&a, &levels[0]));
            });
            let c = current_levels().0.remove(0);
            assert!(std::sync::Arc::ptr_eq(&a, &c));
        });
        // A panic inside leaves the chain as it was.
        let caught = std::panic::catch_unwind(|| outer.poll_in(|| panic!("in the level")));
        assert!(caught.is_err());
        assert!(current_levels().0.is_empty());
    }

    #[test]
    fn transparent_levels_are_watched_up_to_the_innermost_scope_child() {
        let (child, timeout, scope) = (
            ChildCancelSlot::new(),
            ChildCancelSlot::transparent(),
            ChildCancelSlot::transparent(),
        );
        timeout.poll_in(|| {
            let (levels, task) = current_levels();
            assert_eq!(levels.len(), 1);
            assert!(task, "no scope child around: the task is watched too");
        });
        let levels = child.poll_in(|| timeout.poll_in(|| scope.poll_in(current_levels)));
        let (levels, task) = levels;
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
        let id = levels[1].watch(&waker);
        assert!(timeout.deliver(), "the watched timeout delivers");
        assert!(woken.load(Ordering::SeqCst), "and wakes the watcher");
        assert!(!child.deliver(), "a level nobody watches does not");
        levels[1].unwatch(id);
        assert!(!timeout.deliver(), "nobody watches any more");
    }

    #[test]
    fn a_task_polled_inside_a_level_does_not_see_it() {
        let child = ChildCancelSlot::new();
        child.poll_in(|| {
            without_levels(|| assert!(current_levels().0.is_empty()));
            assert_eq!(
                current_levels().0.len(),
                1,
                "restored after the task's poll"
            );
        });
    }
}
