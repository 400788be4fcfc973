//! The monomorphised task operations behind the vtable: poll, cancel, complete, the join
//! handle's side of the protocol, and freeing the cell.
//!
//! Each function follows the rules in `raw.rs`; the state transitions (`state.rs`) decide
//! who owns what, and this file only acts on those decisions. Panics from the future, its
//! destructor or its output's destructor are caught so they are reported through the
//! join handle and never unwind into the scheduler.

use super::raw::{Cell, Header, RawTask, Stage, Vtable};
use super::state::{ToIdle, ToNotified, ToRunning};
use super::{JoinError, Notified, Schedule, Task, TaskHooks, WakerSwap, waker};
use crate::coop;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

/// The vtable for tasks running future `F` on scheduler `S`.
pub(crate) fn vtable<F: Future + 'static, S: Schedule>() -> &'static Vtable {
    // A promoted constant: one static vtable per (F, S).
    &Vtable {
        poll: poll::<F, S>,
        schedule: schedule::<F, S>,
        dealloc: dealloc::<F, S>,
        try_read_output: try_read_output::<F, S>,
        swap_join_waker: swap_join_waker::<F, S>,
        drop_join_handle: drop_join_handle::<F, S>,
        shutdown: shutdown::<F, S>,
    }
}

/// Views the header pointer as the full cell.
///
/// # Safety
/// `ptr` must come from a `Cell<F, S>` that is still allocated.
unsafe fn cell<'a, F: Future, S>(ptr: NonNull<Header>) -> &'a Cell<F, S> {
    // SAFETY: the header is the first field of the repr(C) cell (raw.rs), and the caller
    // guarantees the cell is alive and of these types.
    unsafe { ptr.cast::<Cell<F, S>>().as_ref() }
}

/// Tells the scheduler's hooks, if any, about the task just created in `raw`.
pub(crate) fn announce_spawn<F: Future + 'static, S: Schedule>(raw: RawTask) {
    // SAFETY: the caller holds the new cell's references, and it is of these types.
    let cell = unsafe { cell::<F, S>(raw.header_ptr()) };
    if let Some(hooks) = cell.scheduler.hooks() {
        on_spawn(hooks, raw);
    }
}

/// Hands the hooks a probe of the new task (out of line: the hot path only tests for
/// hooks).
#[cold]
#[inline(never)]
fn on_spawn(hooks: &dyn TaskHooks, raw: RawTask) {
    hooks.on_spawn(&super::hooks::TaskProbe::borrowed(raw));
}

/// Tells the hooks a task finished.
#[cold]
#[inline(never)]
fn on_complete(hooks: &dyn TaskHooks, id: super::TaskId) {
    hooks.on_complete(id);
}

/// What one poll of the stage gave.
enum Polled<T> {
    Pending,
    Ready(T),
    /// The cleanup of a cancelled task finished.
    CleanupDone,
}

unsafe fn poll<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the vtable is only installed on cells of these types.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.transition_to_running() {
        ToRunning::Poll => {}
        ToRunning::Cancel => {
            if !is_cleaning(cell)
                && let Some(result) = begin_cancel(cell)
            {
                // SAFETY: we hold RUNNING and the Notified's reference.
                unsafe { complete::<F, S>(ptr, result) };
                return;
            }
        }
        ToRunning::Skip(last) => {
            if last {
                // SAFETY: that was the last reference.
                unsafe { dealloc::<F, S>(ptr) };
            }
            return;
        }
    }
    // The waker borrows the Notified's reference for the poll; ManuallyDrop keeps it
    // from giving the reference back.
    // SAFETY: the reference we hold keeps the cell alive for the waker's lifetime.
    let waker = ManuallyDrop::new(unsafe { waker::waker_ref(ptr) });
    let mut cx = Context::from_waker(&waker);
    let _current = super::CurrentTaskGuard::enter(ptr);
    // Hooks see the poll from inside, while our reference still keeps the task (and
    // whatever they keep about it) alive; without hooks no clock is read.
    let started = cell
        .scheduler
        .hooks()
        .map(|hooks| before_poll(hooks, cell.header.id));
    // A task polled inline inside another future's cancel level (a nested executor)
    // does not see that level: `cancelled()` in the task watches the task.
    let polled = crate::child_cancel::without_levels(|| {
        catch_unwind(AssertUnwindSafe(|| {
            coop::with_budget(|| {
                cell.stage.with_mut(|stage| {
                    // SAFETY: RUNNING gives us the stage (raw.rs rule 2).
                    match unsafe { &mut *stage } {
                        Stage::Running(future) => {
                            // SAFETY: the future is never moved out of the heap cell.
                            let future = unsafe { Pin::new_unchecked(future) };
                            match future.poll(&mut cx) {
                                Poll::Ready(v) => Polled::Ready(v),
                                Poll::Pending => Polled::Pending,
                            }
                        }
                        Stage::Cleanup(cleanup) => match crate::child_cancel::poll_cleanup(|| {
                            cleanup.as_mut().poll(&mut cx)
                        }) {
                            Poll::Ready(()) => Polled::CleanupDone,
                            Poll::Pending => Polled::Pending,
                        },
                        _ => unreachable!("a task is polled only while its future is alive"),
                    }
                })
            })
        }))
    });
    // Taken whatever the poll gave, so a yield that did not end the poll never leaks
    // into the next task's.
    let yielded = super::take_yielded();
    if let Some(started) = started {
        after_poll(cell.scheduler.hooks(), cell.header.id, started);
    }
    match polled {
        Ok(Polled::Pending) => {
            let next = if is_cleaning(cell) {
                cell.header.state.transition_to_idle_while_cleaning(yielded)
            } else {
                cell.header.state.transition_to_idle(yielded)
            };
            match next {
                ToIdle::Idle => {
                    // SAFETY: we give up the poll's reference.
                    unsafe { RawTask::from_raw(ptr).drop_reference() }
                }
                ToIdle::Reschedule => {
                    // SAFETY: the poll's reference becomes the Notified's.
                    let raw = unsafe { RawTask::from_raw(ptr) };
                    cell.scheduler.yield_now(Notified(Task { raw }));
                }
                ToIdle::Cancel => match begin_cancel(cell) {
                    // SAFETY: we still hold RUNNING and the poll's reference.
                    Some(result) => unsafe { complete::<F, S>(ptr, result) },
                    None => {
                        // Cleanups were handed over: run them as the task, from the
                        // scheduler's queue.
                        // SAFETY: as above; the poll's reference becomes the Notified's.
                        unsafe { reschedule_cleaning::<F, S>(ptr) }
                    }
                },
            }
        }
        Ok(Polled::Ready(output)) => {
            let dropped = drop_stage(cell);
            let result = match dropped {
                None => Ok(output),
                Some(err) => Err(err),
            };
            // SAFETY: we hold RUNNING and the poll's reference.
            unsafe { complete::<F, S>(ptr, result) }
        }
        Ok(Polled::CleanupDone) => {
            let _ = drop_stage(cell);
            // SAFETY: as above.
            unsafe { complete::<F, S>(ptr, Err(JoinError::Cancelled)) }
        }
        Err(payload) => {
            let _ = drop_stage(cell);
            // SAFETY: as above.
            unsafe { complete::<F, S>(ptr, Err(JoinError::panicked(payload))) }
        }
    }
}

/// Announces a poll to the hooks and starts its clock (out of line: the hot path only
/// tests whether there are hooks).
#[cold]
#[inline(never)]
fn before_poll(hooks: &dyn TaskHooks, id: super::TaskId) -> std::time::Instant {
    hooks.before_poll(id);
    std::time::Instant::now()
}

/// Reports the poll's duration to the hooks (the scheduler's, fetched again so the poll
/// keeps only the start time on its stack).
#[cold]
#[inline(never)]
fn after_poll(hooks: Option<&dyn TaskHooks>, id: super::TaskId, started: std::time::Instant) {
    if let Some(hooks) = hooks {
        hooks.after_poll(id, started.elapsed());
    }
}

/// Whether the task is running its cancellation cleanups.
fn is_cleaning<F: Future, S>(cell: &Cell<F, S>) -> bool {
    cell.stage.with(|stage| {
        // SAFETY: the caller holds RUNNING, so nobody writes the stage concurrently.
        matches!(unsafe { &*stage }, Stage::Cleanup(_))
    })
}

/// Cancels the future: drops it as a cancellation, collecting the cleanups its guards
/// hand over. With none, returns the task's final result (`Cancelled`, or `Panicked` if a
/// destructor panicked); with some, installs them as the stage and returns `None` — the
/// caller then polls or schedules the task to run them.
fn begin_cancel<F: Future, S: Schedule>(cell: &Cell<F, S>) -> Option<Result<F::Output, JoinError>> {
    if let Some(hooks) = cell.scheduler.hooks() {
        hooks.on_cancel(cell.header.id);
    }
    let mut panicked = None;
    let cleanups = crate::cancel::collect_cleanups(|| panicked = drop_stage(cell));
    if let Some(err) = panicked {
        drop(cleanups); // a destructor panicked: report that, like a plain drop would
        return Some(Err(err));
    }
    if cleanups.is_empty() {
        return Some(Err(JoinError::Cancelled));
    }
    cell.stage.with_mut(|stage| {
        // SAFETY: the caller holds RUNNING; the stage is Consumed, nothing to drop.
        unsafe { stage.write(Stage::Cleanup(crate::cancel::join_cleanups(cleanups))) }
    });
    None
}

/// Puts a task whose cleanups were just installed back on its scheduler's queue.
///
/// # Safety
/// The caller holds RUNNING and one reference, which becomes the queued `Notified`'s.
unsafe fn reschedule_cleaning<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    match cell.header.state.transition_to_idle_while_cleaning(false) {
        ToIdle::Reschedule => {
            // SAFETY: the poll's reference becomes this Notified's.
            let raw = unsafe { RawTask::from_raw(ptr) };
            cell.scheduler.yield_now(Notified(Task { raw }));
        }
        _ => {
            // Make sure it gets polled: wake it through the reference we hold.
            // SAFETY: we hold a reference for the duration of the call.
            unsafe { wake_by_ref(RawTask::from_raw(ptr)) };
            // SAFETY: then we give up the poll's reference.
            unsafe { RawTask::from_raw(ptr).drop_reference() }
        }
    }
}

/// Drops whatever the stage holds (future or output), catching a panicking destructor.
/// The caller must own the stage.
///
/// The stage is dropped *in place*: the future is pinned in the cell, and a
/// self-referential future's destructor may follow pointers into its own memory, so it
/// must never be moved out first. It is then marked `Consumed`, also if a destructor
/// panicked.
fn drop_stage<F: Future, S>(cell: &Cell<F, S>) -> Option<JoinError> {
    cell.stage.with_mut(|stage| {
        let dropped = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller owns the stage (raw.rs rule 2) and it holds a live value;
            // it is rewritten below before anyone can read it again.
            unsafe { std::ptr::drop_in_place(stage) };
        }));
        // SAFETY: the old value was dropped (fully, or as far as a panicking destructor
        // got, which Rust's drop glue finishes while unwinding); write without dropping.
        unsafe { stage.write(Stage::Consumed) };
        dropped.err().map(JoinError::panicked)
    })
}

/// Shutdown's hard cancel: drops the future (or a cleanup in progress) and completes the
/// task with `Cancelled` (or `Panicked` if a destructor panicked). Cleanups are not
/// collected: the runtime that would run them is going away.
///
/// # Safety
/// The caller holds RUNNING and one reference, which `complete` consumes.
unsafe fn shutdown_and_complete<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the cell is alive (we hold a reference) and of these types.
    let cell = unsafe { cell::<F, S>(ptr) };
    let result = match drop_stage(cell) {
        None => Err(JoinError::Cancelled),
        Some(panicked) => Err(panicked),
    };
    // SAFETY: forwarded contract.
    unsafe { complete::<F, S>(ptr, result) }
}

/// Stores the output, marks the task complete, notifies the join handle, leaves the
/// owned list and drops the caller's reference.
///
/// # Safety
/// The caller holds RUNNING and one reference; the stage is `Consumed`.
unsafe fn complete<F: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    output: Result<F::Output, JoinError>,
) {
    // SAFETY: the caller's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    cell.stage.with_mut(|stage| {
        // SAFETY: RUNNING gives us the stage, which is Consumed (nothing to drop).
        unsafe { stage.write(Stage::Finished(output)) }
    });
    // Before COMPLETE: whoever awaits the handle sees the hook's effects.
    if let Some(hooks) = cell.scheduler.hooks() {
        on_complete(hooks, cell.header.id);
    }
    let snapshot = cell.header.state.transition_to_complete();
    if !snapshot.is_join_interested() {
        // Nobody will read the output: drop it here, on the scheduler's thread.
        if let Some(hooks) = cell.scheduler.hooks() {
            report_unretrieved_panic(cell, hooks);
        }
        let _ = drop_stage(cell);
        if snapshot.is_join_waker_set() {
            // The handle was detached keeping its waker (rule 3): wake it. It is dropped
            // with the cell, by whoever lets go of the last reference: dropping it here
            // would put a second atomic on a waker that many tasks share (a scope's)
            // into every completion, on every worker at once.
            cell.join_waker.with(|slot| {
                // SAFETY: JOIN_WAKER is set and the handle is gone: the slot is ours.
                if let Some(waker) = unsafe { &*slot } {
                    wake_join_waker_by_ref(waker);
                }
            });
        }
    } else if snapshot.is_join_waker_set() {
        cell.join_waker.with(|slot| {
            // SAFETY: JOIN_WAKER is set, so the slot is ours to read (rule 3).
            if let Some(waker) = unsafe { &*slot } {
                wake_join_waker_by_ref(waker);
            }
        });
        let after = cell.header.state.unset_join_waker_after_complete();
        if !after.is_join_interested() {
            // The handle was dropped meanwhile and left the waker to us.
            cell.join_waker.with_mut(|slot| {
                // SAFETY: the handle is gone and saw JOIN_WAKER set, so only we touch it.
                unsafe { *slot = None }
            });
        }
    }
    // SAFETY: the caller's reference keeps the cell alive.
    let raw = unsafe { RawTask::from_raw(ptr) };
    let task = ManuallyDrop::new(Task { raw });
    let released = cell.scheduler.release(&task);
    let refs = if let Some(owned) = released {
        std::mem::forget(owned);
        2
    } else {
        1
    };
    if cell.header.state.ref_dec_many(refs) {
        // SAFETY: those were the last references.
        unsafe { dealloc::<F, S>(ptr) }
    }
}

/// Wakes a join waker at completion. The handle's waker may be anyone's: a panic in it
/// must not unwind through the scheduler (nor skip the bookkeeping after it).
fn wake_join_waker_by_ref(waker: &Waker) {
    if catch_unwind(AssertUnwindSafe(|| waker.wake_by_ref())).is_err() {
        eprintln!(
            "trioxide: a JoinHandle's waker panicked when its task finished; the panic was \
             contained"
        );
    }
}

/// Tells `hooks` if the finished output about to be dropped unread is a panic.
/// The caller owns the stage (raw.rs rule 2).
fn report_unretrieved_panic<F: Future, S>(cell: &Cell<F, S>, hooks: &dyn TaskHooks) {
    cell.stage.with(|stage| {
        // SAFETY: the caller owns the stage, so nobody writes it concurrently.
        if let Stage::Finished(Err(JoinError::Panicked(payload))) = unsafe { &*stage } {
            hooks.on_unretrieved_panic(cell.header.id, &payload.to_string());
        }
    });
}

/// # Safety
/// The caller gives up one reference, which the `Notified` takes over.
unsafe fn schedule<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    // SAFETY: as above.
    let raw = unsafe { RawTask::from_raw(ptr) };
    let notified = Notified(Task { raw });
    cell.scheduler.schedule(notified);
}

/// # Safety
/// The reference count is zero.
unsafe fn dealloc<F: Future, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the cell was allocated by `RawTask::new` as a Box<Cell<F, S>>, and with no
    // references left nobody else can reach it.
    let cell = unsafe { Box::from_raw(ptr.cast::<Cell<F, S>>().as_ptr()) };
    cell.stage.with(|stage| {
        // SAFETY: we own the whole cell now.
        let stage = unsafe { &*stage };
        debug_assert!(!matches!(stage, Stage::Running(_)), "freed a live future");
    });
    if let Some(hooks) = cell.scheduler.hooks() {
        on_release(hooks, cell.header.id);
    }
    // A panicking output destructor must not unwind out of a waker drop.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(cell)));
}

/// Tells the hooks the cell is being freed; a panicking hook must not unwind out of a
/// waker drop either.
#[cold]
#[inline(never)]
fn on_release(hooks: &dyn TaskHooks, id: super::TaskId) {
    let _ = catch_unwind(AssertUnwindSafe(|| hooks.on_release(id)));
}

/// # Safety
/// Called by the join handle, with `dst` a `*mut Poll<Result<F::Output, JoinError>>`.
unsafe fn try_read_output<F: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    dst: *mut (),
    waker: Option<&Waker>,
) {
    // SAFETY: the handle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let complete = match waker {
        Some(waker) => join_can_read_output(cell, waker),
        None => cell.header.state.load().is_complete(),
    };
    if !complete {
        return;
    }
    let stage = cell.stage.with_mut(|stage| {
        // SAFETY: COMPLETE with JOIN_INTEREST: the stage is the handle's (rule 2).
        std::mem::replace(unsafe { &mut *stage }, Stage::Consumed)
    });
    let Stage::Finished(output) = stage else {
        panic!("JoinHandle polled after it returned the task's result");
    };
    // SAFETY: the caller passes a pointer to a Poll of this task's output type.
    unsafe { *dst.cast::<Poll<Result<F::Output, JoinError>>>() = Poll::Ready(output) };
}

/// Either the task is complete (`true`), or `waker` is now registered to be woken when it
/// completes (`false`).
fn join_can_read_output<F: Future, S>(cell: &Cell<F, S>, waker: &Waker) -> bool {
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is_complete() {
        return true;
    }
    if snapshot.is_join_waker_set() {
        let same = cell.join_waker.with(|slot| {
            // SAFETY: reading while JOIN_WAKER is set is allowed: the task side only reads
            // the slot, and only after COMPLETE.
            unsafe { &*slot }
                .as_ref()
                .is_some_and(|w| w.will_wake(waker))
        });
        if same {
            return false;
        }
        if state.unset_join_waker().is_err() {
            return true; // completed meanwhile; the task side still owns the slot
        }
    }
    cell.join_waker.with_mut(|slot| {
        // SAFETY: JOIN_WAKER is clear and the task is incomplete: the slot is ours.
        unsafe { *slot = Some(waker.clone()) }
    });
    state.set_join_waker().is_err()
}

/// Registers `waker` as the join waker and hands back the one it replaces, unwoken (the
/// caller now answers for it); `Completed` if the task finished first.
///
/// # Safety
/// Called by the join handle, which holds a reference and `JOIN_INTEREST`.
unsafe fn swap_join_waker<F: Future + 'static, S: Schedule>(
    ptr: NonNull<Header>,
    waker: &Waker,
) -> WakerSwap {
    // SAFETY: the handle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let state = &cell.header.state;
    let snapshot = state.load();
    if snapshot.is_complete() {
        return WakerSwap::Completed { previous: None };
    }
    if snapshot.is_join_waker_set() && state.unset_join_waker().is_err() {
        // Completed meanwhile: the task side woke (or wakes) the registered waker.
        return WakerSwap::Completed { previous: None };
    }
    let (previous, registered) = cell.join_waker.with_mut(|slot| {
        // SAFETY: JOIN_WAKER is clear and the task is incomplete: the slot is ours (rule 3).
        let previous = unsafe { (*slot).replace(waker.clone()) };
        if state.set_join_waker().is_ok() {
            return (previous, true);
        }
        // Completed between the two transitions, with JOIN_WAKER clear: the task side
        // never looked at the slot, which stays the handle's.
        // SAFETY: as above.
        unsafe { *slot = None };
        (previous, false)
    });
    if registered {
        WakerSwap::Registered { previous }
    } else {
        WakerSwap::Completed { previous }
    }
}

/// # Safety
/// Called once by the join handle's drop (or detach); consumes its reference.
unsafe fn drop_join_handle<F: Future, S: Schedule>(ptr: NonNull<Header>, keep_waker: bool) {
    // SAFETY: the handle's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    let before = cell.header.state.drop_join_interest(keep_waker);
    if before.is_complete() {
        // The output is ours to drop (rule 2), here on the handle's thread.
        if let Some(hooks) = cell.scheduler.hooks() {
            report_unretrieved_panic(cell, hooks);
        }
        let _ = drop_stage(cell);
    }
    let kept = keep_waker && !before.is_complete();
    if !before.is_join_waker_set() || (!before.is_complete() && !kept) {
        cell.join_waker.with_mut(|slot| {
            // SAFETY: the slot is ours: either the task is incomplete and we cleared
            // JOIN_WAKER, or the task side is done with it (rule 3).
            unsafe { *slot = None }
        });
    }
    if cell.header.state.ref_dec() {
        // SAFETY: that was the last reference.
        unsafe { dealloc::<F, S>(ptr) }
    }
}

/// # Safety
/// Called on the scheduler's thread with the owned list's reference.
unsafe fn shutdown<F: Future + 'static, S: Schedule>(ptr: NonNull<Header>) {
    // SAFETY: the list's reference keeps the cell alive.
    let cell = unsafe { cell::<F, S>(ptr) };
    if cell.header.state.transition_to_shutdown() {
        // SAFETY: we claimed RUNNING and hold a reference.
        unsafe { shutdown_and_complete::<F, S>(ptr) }
    } else {
        // Someone is polling it (another worker); it will see CANCELLED.
        // SAFETY: we give up the list's reference.
        unsafe { RawTask::from_raw(ptr).drop_reference() }
    }
}

/// A by-value wake: consumes the waker's reference.
///
/// # Safety
/// The caller owns one reference.
pub(crate) unsafe fn wake_by_val(raw: RawTask) {
    match raw.state().transition_to_notified_by_val() {
        // SAFETY: the waker's reference becomes the Notified's.
        ToNotified::Submit => unsafe { raw.schedule() },
        // SAFETY: that was the last reference.
        ToNotified::Nothing(true) => unsafe { raw.dealloc() },
        ToNotified::Nothing(false) => {}
    }
}

/// A by-reference wake.
///
/// # Safety
/// The caller holds a reference for the duration of the call.
pub(crate) unsafe fn wake_by_ref(raw: RawTask) {
    if raw.state().transition_to_notified_by_ref() == ToNotified::Submit {
        // SAFETY: the transition took a new reference for the Notified.
        unsafe { raw.schedule() }
    }
}
