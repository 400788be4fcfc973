//! The task state word: bit flags plus a reference count in one `AtomicUsize`.
//!
//! The layout follows the design async-task and tokio popularised: the low bits are
//! lifecycle flags and the rest counts references, so a transition that changes a flag and
//! a count (say, "scheduled, and the queue now holds a reference") is one CAS. Every
//! transition goes through [`State::fetch_update_action`] and returns a `#[must_use]` enum
//! telling the caller what it now owns.
//!
//! References are held by: the owned-task list of the scheduler, the `JoinHandle`, every
//! `Waker`, and every `Notified` sitting in a run queue. The task is freed when the count
//! reaches zero.

use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use std::fmt;

/// The future is being polled (or cancelled) right now; whoever set it owns the stage.
pub(crate) const RUNNING: usize = 1 << 0;
/// The future has finished (output stored or dropped); it will never be polled again.
pub(crate) const COMPLETE: usize = 1 << 1;
/// The task is scheduled: a `Notified` is in a run queue, or (if `RUNNING`) the poller
/// must schedule it again when the poll returns.
pub(crate) const NOTIFIED: usize = 1 << 2;
/// Cancellation was requested; the scheduler drops the future at the next poll boundary.
pub(crate) const CANCELLED: usize = 1 << 3;
/// A `JoinHandle` exists; the output is kept for it.
pub(crate) const JOIN_INTEREST: usize = 1 << 4;
/// The join waker slot holds a waker and belongs to the task side (the handle may not
/// touch it until it clears this bit).
pub(crate) const JOIN_WAKER: usize = 1 << 5;
/// A `trioxide::cancelled()` future in the task is waiting: a cancellation request is
/// delivered as a wake-up (soft) instead of dropping the future.
pub(crate) const WATCHING: usize = 1 << 6;
/// A soft cancellation was delivered and not yet observed by `cancelled()`.
pub(crate) const DELIVERED: usize = 1 << 7;
/// Mask of all the flag bits.
const FLAGS: usize = REF_ONE - 1;
/// One reference; the count lives in the bits above the flags.
pub(crate) const REF_ONE: usize = 1 << 8;
/// Counts above this abort the process (as `Arc` does) instead of overflowing.
const MAX_REFS: usize = usize::MAX / 2;

/// A task starts scheduled, with a join handle, and three references: the owned-task
/// list, the first `Notified`, and the `JoinHandle`.
const INITIAL: usize = NOTIFIED | JOIN_INTEREST | (3 * REF_ONE);

/// A copy of the state word.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(pub(crate) usize);

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_idle(self) -> bool {
        self.0 & (RUNNING | COMPLETE) == 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn is_watching(self) -> bool {
        self.0 & WATCHING != 0
    }
    pub(crate) fn is_delivered(self) -> bool {
        self.0 & DELIVERED != 0
    }
    /// A cancellation request that is to be delivered softly.
    fn soft_cancel_due(self) -> bool {
        self.is_cancelled() && self.is_watching()
    }
    /// Clears `RUNNING` after a `Pending` poll; a task woken during the poll is to be
    /// rescheduled, and the poll's reference passes to its `Notified` (no count change:
    /// one fewer atomic operation on the yield and wake-while-running paths).
    fn leave_running(&mut self) -> ToIdle {
        self.unset(RUNNING);
        if self.is_notified() {
            ToIdle::Reschedule
        } else {
            ToIdle::Idle
        }
    }
    /// Turns a pending soft cancellation into a delivery (`WATCHING` stays while the
    /// watcher lives, so the end of the poll can tell a delivery still awaited from one
    /// whose watcher is gone).
    fn deliver(&mut self) {
        self.unset(CANCELLED);
        self.set(DELIVERED);
    }
    pub(crate) fn ref_count(self) -> usize {
        self.0 / REF_ONE
    }
    fn set(&mut self, bits: usize) {
        self.0 |= bits;
    }
    fn unset(&mut self, bits: usize) {
        self.0 &= !bits;
    }
    fn ref_inc(&mut self) {
        assert!(self.0 <= MAX_REFS, "task reference count overflow");
        self.0 += REF_ONE;
    }
    fn ref_dec(&mut self) {
        debug_assert!(self.ref_count() > 0);
        self.0 -= REF_ONE;
    }
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("complete", &self.is_complete())
            .field("notified", &self.is_notified())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("watching", &self.is_watching())
            .field("delivered", &self.is_delivered())
            .field("refs", &self.ref_count())
            .finish()
    }
}

/// What the scheduler may do after popping a `Notified`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToRunning {
    /// Poll the future; the `Notified`'s reference now belongs to the poll.
    Poll,
    /// Cancellation was requested: drop the future instead of polling it.
    Cancel,
    /// Already running or complete: just drop the `Notified`'s reference.
    /// `true` when that was the last reference.
    Skip(bool),
}

/// What the poller must do after the future returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToIdle {
    /// Idle; drop the poll's reference.
    Idle,
    /// Woken during the poll: schedule it again; the poll's reference becomes the new
    /// `Notified`'s.
    Reschedule,
    /// Cancelled during the poll: the poller still owns the stage and must cancel now.
    Cancel,
}

/// What a wake must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ToNotified {
    /// Submit a `Notified` to the scheduler (it carries a reference).
    Submit,
    /// Nothing to submit; for a by-value wake, `true` means the waker's reference was the
    /// last one and the task must be freed.
    Nothing(bool),
}

/// The atomic state word.
pub(crate) struct State(AtomicUsize);

impl State {
    pub(crate) fn new() -> Self {
        State(AtomicUsize::new(INITIAL))
    }

    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Ordering::Acquire))
    }

    /// The one CAS loop every transition uses: `f` sees the current snapshot and returns
    /// the action plus the new value, or `None` to keep the word unchanged.
    fn fetch_update_action<R>(&self, mut f: impl FnMut(Snapshot) -> (R, Option<Snapshot>)) -> R {
        let mut current = self.load();
        loop {
            let (action, next) = f(current);
            let Some(next) = next else { return action };
            match self.0.compare_exchange_weak(
                current.0,
                next.0,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return action,
                Err(actual) => current = Snapshot(actual),
            }
        }
    }

    /// The scheduler popped a `Notified` and wants to poll.
    pub(crate) fn transition_to_running(&self) -> ToRunning {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_notified() || s.is_complete(), "{s:?}");
            if !s.is_idle() {
                s.ref_dec();
                return (ToRunning::Skip(s.ref_count() == 0), Some(s));
            }
            s.unset(NOTIFIED);
            s.set(RUNNING);
            if s.soft_cancel_due() {
                s.deliver();
            }
            let action = if s.is_cancelled() {
                ToRunning::Cancel
            } else {
                ToRunning::Poll
            };
            (action, Some(s))
        })
    }

    /// The future returned `Pending`; `yielded` if it asked to run again
    /// ([`super::defer_yield`]), which counts as a wake during the poll.
    pub(crate) fn transition_to_idle(&self, yielded: bool) -> ToIdle {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_running(), "{s:?}");
            if yielded {
                s.set(NOTIFIED);
            }
            if s.soft_cancel_due() {
                // Deliver as a wake-up: poll again so `cancelled()` sees it.
                s.deliver();
                s.set(NOTIFIED);
            } else if s.is_cancelled() {
                return (ToIdle::Cancel, None);
            } else if s.is_delivered() && !s.is_watching() {
                // Delivered to a `cancelled()` that is gone without taking it (it lost a
                // `select!`, or resolved through a timeout or cancel scope around it): a
                // real cancellation after all, not a lost one.
                s.unset(DELIVERED);
                s.set(CANCELLED);
                return (ToIdle::Cancel, Some(s));
            }
            let action = s.leave_running();
            (action, Some(s))
        })
    }

    /// The cleanup of a cancelled task returned `Pending`: like `transition_to_idle`, but
    /// `CANCELLED` is already being handled, so it does not cancel again.
    pub(crate) fn transition_to_idle_while_cleaning(&self, yielded: bool) -> ToIdle {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_running() && s.is_cancelled(), "{s:?}");
            if yielded {
                s.set(NOTIFIED);
            }
            let action = s.leave_running();
            (action, Some(s))
        })
    }

    /// The future finished (or was dropped): clears `RUNNING`, sets `COMPLETE`, and returns
    /// the snapshot after the change so the caller can see the join bits.
    pub(crate) fn transition_to_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, Ordering::AcqRel));
        debug_assert!(prev.is_running() && !prev.is_complete(), "{prev:?}");
        Snapshot(prev.0 ^ (RUNNING | COMPLETE))
    }

    /// A wake through a reference the caller does not give up (`wake_by_ref`).
    pub(crate) fn transition_to_notified_by_ref(&self) -> ToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_complete() || s.is_notified() {
                return (ToNotified::Nothing(false), None);
            }
            s.set(NOTIFIED);
            if s.is_running() {
                (ToNotified::Nothing(false), Some(s))
            } else {
                s.ref_inc();
                (ToNotified::Submit, Some(s))
            }
        })
    }

    /// A wake that consumes the caller's reference (`wake`): submitting reuses it.
    pub(crate) fn transition_to_notified_by_val(&self) -> ToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_idle() && !s.is_notified() {
                s.set(NOTIFIED);
                return (ToNotified::Submit, Some(s));
            }
            if s.is_running() {
                s.set(NOTIFIED);
            }
            s.ref_dec();
            (ToNotified::Nothing(s.ref_count() == 0), Some(s))
        })
    }

    /// Requests cancellation from anywhere (`JoinHandle::cancel`). The future is never
    /// dropped here: an idle task is scheduled so that its own scheduler drops it.
    pub(crate) fn transition_to_cancelled_remote(&self) -> ToNotified {
        self.fetch_update_action(|mut s| {
            if s.is_complete() || s.is_cancelled() {
                return (ToNotified::Nothing(false), None);
            }
            s.set(CANCELLED);
            if s.is_idle() && !s.is_notified() {
                s.set(NOTIFIED);
                s.ref_inc();
                (ToNotified::Submit, Some(s))
            } else {
                (ToNotified::Nothing(false), Some(s))
            }
        })
    }

    /// Shutdown on the scheduler's own thread: marks the task cancelled and, if nobody is
    /// polling it, claims it (`RUNNING`) so the caller can drop the future right away.
    /// Returns whether the caller now owns the stage.
    pub(crate) fn transition_to_shutdown(&self) -> bool {
        self.fetch_update_action(|mut s| {
            let claim = s.is_idle();
            s.set(CANCELLED);
            if claim {
                s.set(RUNNING);
            }
            (claim, Some(s))
        })
    }

    /// The join handle polls and wants to store its waker. Fails (returns the snapshot)
    /// if the task completed meanwhile.
    pub(crate) fn set_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|mut s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                return (Err(s), None);
            }
            s.set(JOIN_WAKER);
            (Ok(s), Some(s))
        })
    }

    /// The join handle wants its waker slot back to replace the waker.
    pub(crate) fn unset_join_waker(&self) -> Result<Snapshot, Snapshot> {
        self.fetch_update_action(|mut s| {
            // Checked after the completion test: the completing poller clears
            // `JOIN_WAKER` once it has woken the waker, possibly since the handle looked.
            if s.is_complete() {
                return (Err(s), None);
            }
            debug_assert!(s.is_join_interested() && s.is_join_waker_set(), "{s:?}");
            s.unset(JOIN_WAKER);
            (Ok(s), Some(s))
        })
    }

    /// After completion the task side is done with the join waker. Returns the snapshot
    /// after the change: if `JOIN_INTEREST` is gone the handle was dropped meanwhile and
    /// left the waker for the task side to drop.
    pub(crate) fn unset_join_waker_after_complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_and(!JOIN_WAKER, Ordering::AcqRel));
        debug_assert!(prev.is_complete() && prev.is_join_waker_set(), "{prev:?}");
        Snapshot(prev.0 & !JOIN_WAKER)
    }

    /// The join handle is dropped. Returns the snapshot *before* the change: if it was
    /// complete the handle must drop the output; the handle may drop the waker slot's
    /// contents iff the returned snapshot is not complete or has no `JOIN_WAKER`.
    ///
    /// With `keep_waker`, a registered waker of an incomplete task stays registered
    /// (`JOIN_WAKER` stays set): the completing poller wakes it. The handle
    /// then must not touch the slot if the snapshot has `JOIN_WAKER`, complete or not.
    pub(crate) fn drop_join_interest(&self, keep_waker: bool) -> Snapshot {
        self.fetch_update_action(|s| {
            debug_assert!(s.is_join_interested());
            let mut next = s;
            next.unset(JOIN_INTEREST);
            if !s.is_complete() && !keep_waker {
                next.unset(JOIN_WAKER);
            }
            (s, Some(next))
        })
    }

    /// `cancelled()` is polled: consumes a delivered soft cancellation (`true`), or
    /// registers the task as watching (`false`).
    pub(crate) fn watch_cancel(&self) -> bool {
        self.fetch_update_action(|mut s| {
            if s.is_delivered() {
                // Taken: the watcher resolves and watches no more.
                s.unset(DELIVERED | WATCHING);
                (true, Some(s))
            } else if s.is_watching() {
                (false, None)
            } else {
                s.set(WATCHING);
                (false, Some(s))
            }
        })
    }

    /// The `cancelled()` future resolved or was dropped: later cancellations drop the
    /// task again. A delivered cancellation nobody took stays `DELIVERED` for a
    /// `cancelled()` polled later in the same poll (the next turn of a `select!` loop);
    /// if none takes it by the end of the poll, it becomes a real one
    /// (`transition_to_idle`).
    pub(crate) fn unwatch_cancel(&self) {
        self.0.fetch_and(!WATCHING, Ordering::AcqRel);
    }

    pub(crate) fn ref_inc(&self) {
        let prev = self.0.fetch_add(REF_ONE, Ordering::Relaxed);
        if prev > MAX_REFS {
            std::process::abort();
        }
    }

    /// Drops one reference; `true` when it was the last.
    pub(crate) fn ref_dec(&self) -> bool {
        let prev = Snapshot(self.0.fetch_sub(REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= 1, "{prev:?}");
        prev.ref_count() == 1
    }

    /// Drops `n` references at once; `true` when they were the last.
    pub(crate) fn ref_dec_many(&self, n: usize) -> bool {
        let prev = Snapshot(self.0.fetch_sub(n * REF_ONE, Ordering::AcqRel));
        debug_assert!(prev.ref_count() >= n, "{prev:?}");
        prev.ref_count() == n
    }
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.load().fmt(f)
    }
}

const _: () = assert!(FLAGS == 0b1111_1111);

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;

    #[test]
    fn initial_state_is_scheduled_with_three_refs() {
        let s = State::new().load();
        assert!(s.is_notified() && s.is_join_interested() && !s.is_running());
        assert_eq!(s.ref_count(), 3);
    }

    #[test]
    fn wake_while_running_reschedules_after_poll() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(
            state.transition_to_notified_by_ref(),
            ToNotified::Nothing(false)
        );
        assert_eq!(state.transition_to_idle(false), ToIdle::Reschedule);
        // The poll's reference moved to the new Notified: still three.
        assert_eq!(state.load().ref_count(), 3);
    }

    #[test]
    fn a_deferred_yield_reschedules_like_a_wake() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(true), ToIdle::Reschedule);
        assert_eq!(state.load().ref_count(), 3);
        assert!(state.load().is_notified());
        // A cancel requested during the poll still wins over the yield.
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(
            state.transition_to_cancelled_remote(),
            ToNotified::Nothing(false)
        );
        assert_eq!(state.transition_to_idle(true), ToIdle::Cancel);
    }

    #[test]
    fn wake_when_idle_submits_once() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(false), ToIdle::Idle);
        assert_eq!(state.transition_to_notified_by_ref(), ToNotified::Submit);
        assert_eq!(
            state.transition_to_notified_by_ref(),
            ToNotified::Nothing(false)
        );
        assert_eq!(state.load().ref_count(), 4);
    }

    #[test]
    fn cancel_while_running_is_seen_at_idle() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(
            state.transition_to_cancelled_remote(),
            ToNotified::Nothing(false)
        );
        assert_eq!(state.transition_to_idle(false), ToIdle::Cancel);
    }

    #[test]
    fn cancel_when_idle_schedules_and_cancels_on_run() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert_eq!(state.transition_to_idle(false), ToIdle::Idle);
        assert_eq!(state.transition_to_cancelled_remote(), ToNotified::Submit);
        assert_eq!(state.transition_to_running(), ToRunning::Cancel);
    }

    #[test]
    fn shutdown_claims_only_idle_tasks() {
        let state = State::new();
        assert!(state.transition_to_shutdown());
        let _ = state.transition_to_complete();
        // The queued Notified is skipped.
        assert_eq!(state.transition_to_running(), ToRunning::Skip(false));
        let running = State::new();
        assert_eq!(running.transition_to_running(), ToRunning::Poll);
        assert!(!running.transition_to_shutdown());
    }

    #[test]
    fn join_handle_drop_before_and_after_complete() {
        let state = State::new();
        assert!(state.set_join_waker().is_ok());
        let before = state.drop_join_interest(false);
        assert!(!before.is_complete());
        assert!(!state.load().is_join_waker_set());

        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert!(state.set_join_waker().is_ok());
        let done = state.transition_to_complete();
        assert!(done.is_join_waker_set() && done.is_join_interested());
        let before = state.drop_join_interest(false);
        assert!(before.is_complete() && before.is_join_waker_set());
        let after = state.unset_join_waker_after_complete();
        assert!(!after.is_join_interested());
    }

    #[test]
    fn a_detach_that_keeps_the_waker_leaves_it_to_the_task_side() {
        let state = State::new();
        assert!(state.set_join_waker().is_ok());
        let before = state.drop_join_interest(true);
        assert!(!before.is_complete());
        let now = state.load();
        assert!(now.is_join_waker_set() && !now.is_join_interested());
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        let done = state.transition_to_complete();
        assert!(done.is_join_waker_set() && !done.is_join_interested());
    }

    #[test]
    fn a_watched_cancel_is_delivered_softly() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert!(!state.watch_cancel(), "nothing delivered yet; now watching");
        assert_eq!(
            state.transition_to_cancelled_remote(),
            ToNotified::Nothing(false)
        );
        // Instead of cancelling, the poller reschedules with the delivery recorded.
        assert_eq!(state.transition_to_idle(false), ToIdle::Reschedule);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert!(state.watch_cancel(), "cancelled() resolves");
        assert!(!state.load().is_cancelled());
        // Not watching any more: the next cancel is hard.
        assert_eq!(
            state.transition_to_cancelled_remote(),
            ToNotified::Nothing(false)
        );
        assert_eq!(state.transition_to_idle(false), ToIdle::Cancel);
    }

    #[test]
    fn a_delivery_whose_watcher_left_without_taking_it_becomes_a_cancel() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert!(!state.watch_cancel());
        let _ = state.transition_to_cancelled_remote();
        assert_eq!(state.transition_to_idle(false), ToIdle::Reschedule);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        // The watcher is dropped (it lost a select!) without taking the delivery ...
        state.unwatch_cancel();
        // ... and nobody else takes it in this poll: the task is cancelled, not left
        // running with the request forgotten.
        assert_eq!(state.transition_to_idle(false), ToIdle::Cancel);

        // Taken by a new watcher within the same poll (the next turn of a loop): fine.
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert!(!state.watch_cancel());
        let _ = state.transition_to_cancelled_remote();
        assert_eq!(state.transition_to_idle(false), ToIdle::Reschedule);
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        state.unwatch_cancel();
        assert!(state.watch_cancel(), "the next watcher takes it");
        assert_eq!(state.transition_to_idle(false), ToIdle::Idle);
    }

    #[test]
    fn a_watched_cancel_of_an_idle_task_is_delivered_at_the_next_run() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        assert!(!state.watch_cancel());
        assert_eq!(state.transition_to_idle(false), ToIdle::Idle);
        assert_eq!(state.transition_to_cancelled_remote(), ToNotified::Submit);
        assert_eq!(
            state.transition_to_running(),
            ToRunning::Poll,
            "delivered, not dropped"
        );
        assert!(state.watch_cancel());
    }

    #[test]
    fn last_by_value_wake_frees() {
        let state = State::new();
        assert_eq!(state.transition_to_running(), ToRunning::Poll);
        let _ = state.transition_to_complete();
        assert!(!state.ref_dec()); // poll's ref
        assert!(!state.ref_dec()); // owned list
        let _ = state.drop_join_interest(false);
        // Only the join handle's ref is left; pretend it is a waker.
        assert_eq!(
            state.transition_to_notified_by_val(),
            ToNotified::Nothing(true)
        );
    }
}
