//! Task wakers: a `RawWakerVTable` over the task pointer itself, so creating, cloning and
//! waking a waker allocates nothing. Each `Waker` owns one task reference.

use super::harness;
use super::raw::{Header, RawTask};
use std::ptr::NonNull;
use std::task::{RawWaker, RawWakerVTable, Waker};

/// One static vtable for every task (a `static`, so `Waker::will_wake` compares equal).
static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(clone_waker, wake_by_val, wake_by_ref, drop_waker);

/// A waker that borrows a reference the caller already holds: the caller must wrap it in
/// `ManuallyDrop` so that it does not give the reference back.
///
/// # Safety
/// `ptr` is a live task for as long as the returned waker (or its clones' creation) lives.
pub(crate) unsafe fn waker_ref(ptr: NonNull<Header>) -> Waker {
    let raw = RawWaker::new(ptr.as_ptr().cast_const().cast(), &WAKER_VTABLE);
    // SAFETY: the vtable functions below uphold the RawWaker contract for task pointers.
    unsafe { Waker::from_raw(raw) }
}

/// Whether `waker` is a waker of the task at `task` (it wakes that task and nothing
/// else): compares the data pointer and our vtable, never calls into the waker.
pub(crate) fn is_task_waker(waker: &Waker, task: NonNull<Header>) -> bool {
    std::ptr::eq(waker.vtable(), &WAKER_VTABLE) && std::ptr::eq(waker.data(), task.as_ptr().cast())
}

/// # Safety
/// `data` is a task header pointer backed by a reference (the waker's).
unsafe fn raw_task(data: *const ()) -> RawTask {
    // SAFETY: wakers are only built from non-null task header pointers (`waker_ref`).
    unsafe { RawTask::from_raw(NonNull::new_unchecked(data.cast_mut().cast::<Header>())) }
}

unsafe fn clone_waker(data: *const ()) -> RawWaker {
    // SAFETY: the waker being cloned holds a reference, so the task is alive.
    let raw = unsafe { raw_task(data) };
    raw.state().ref_inc();
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn wake_by_val(data: *const ()) {
    // SAFETY: the consumed waker owned a reference, which the wake takes over.
    unsafe { harness::wake_by_val(raw_task(data)) }
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the borrowed waker holds a reference for the duration of the call.
    unsafe { harness::wake_by_ref(raw_task(data)) }
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the dropped waker owned a reference, which we give up.
    unsafe { raw_task(data).drop_reference() }
}
