//! The task cell: one heap allocation holding the header, the future or its output, and
//! the join waker; plus [`RawTask`], the type-erased pointer every handle holds.
//!
//! # Safety protocol
//! 1. A cell is created by [`RawTask::new`] with three references (owned list, first
//!    `Notified`, `JoinHandle`) and freed by the vtable's `dealloc` exactly when the
//!    reference count in [`State`] drops to zero.
//! 2. The stage (future / output) is touched only by whoever holds `RUNNING` (poll,
//!    cancel, complete), or, after `COMPLETE`, by the join handle while it holds
//!    `JOIN_INTEREST`, or by the completing poller when `JOIN_INTEREST` is already gone.
//! 3. The join waker slot belongs to the handle while `JOIN_WAKER` is clear and the task
//!    is incomplete, and to the task side while `JOIN_WAKER` is set. A handle detached
//!    with its waker kept (`JoinHandle::detach_keep_waker`) clears `JOIN_INTEREST` but
//!    leaves `JOIN_WAKER` set: the completing poller then wakes that waker (it is dropped
//!    with the cell).
//! 4. A future that is not `Send` is only ever polled or dropped on the thread of the
//!    scheduler it was spawned on: other threads only flip state bits and queue
//!    `Notified`s back to that scheduler.

use super::harness;
use super::id::TaskId;
use super::state::State;
use super::{JoinError, Schedule, WakerSwap};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use std::future::Future;
use std::ptr::NonNull;
use std::task::{Poll, Waker};

/// Per-type entry points, so a `RawTask` can act without knowing `F` or `S`.
pub(crate) struct Vtable {
    /// Polls (or cancels) the task; consumes the `Notified`'s reference.
    pub(crate) poll: unsafe fn(NonNull<Header>),
    /// Hands a `Notified` (one reference) to the task's scheduler.
    pub(crate) schedule: unsafe fn(NonNull<Header>),
    /// Frees the cell; called when the reference count reached zero.
    pub(crate) dealloc: unsafe fn(NonNull<Header>),
    /// Join handle poll: writes `Poll<Result<T, JoinError>>` to `dst` when ready; with a
    /// waker, registers it when not.
    pub(crate) try_read_output: unsafe fn(NonNull<Header>, *mut (), Option<&Waker>),
    /// Join handle: registers a waker, handing back the one it replaces.
    pub(crate) swap_join_waker: unsafe fn(NonNull<Header>, &Waker) -> WakerSwap,
    /// Join handle drop (with `keep_waker`, a registered waker is still woken at
    /// completion); consumes the handle's reference.
    pub(crate) drop_join_handle: unsafe fn(NonNull<Header>, bool),
    /// Scheduler shutdown on its own thread; consumes the owned list's reference.
    pub(crate) shutdown: unsafe fn(NonNull<Header>),
}

/// The part of the cell every handle can read without knowing the future's type.
/// Always the first field of [`Cell`], so a `*Cell` is a valid `*Header`.
pub(crate) struct Header {
    pub(crate) state: State,
    pub(crate) vtable: &'static Vtable,
    pub(crate) id: TaskId,
    /// Index in the owning scheduler's task list; only read or written under that list's
    /// lock.
    pub(crate) owned_index: AtomicUsize,
}

/// What the task holds: the future until it finishes, then its output until the join
/// handle takes it.
pub(crate) enum Stage<F: Future> {
    Running(F),
    /// Cancelled with async cleanup pending: the future is gone and the cleanups its
    /// guards handed over run here, as the task, before it completes as cancelled.
    Cleanup(crate::cancel::Cleanup),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// The whole allocation. `repr(C)` keeps the header at offset zero.
#[repr(C)]
pub(crate) struct Cell<F: Future, S> {
    pub(crate) header: Header,
    pub(crate) scheduler: S,
    pub(crate) stage: UnsafeCell<Stage<F>>,
    pub(crate) join_waker: UnsafeCell<Option<Waker>>,
}

/// A type-erased pointer to a task cell. Copying it does not touch the reference count:
/// the owner types (`Task`, `Notified`, `JoinHandle`, wakers) account for references.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawTask {
    ptr: NonNull<Header>,
}

impl RawTask {
    /// Allocates a cell for `future` with the initial three references.
    pub(crate) fn new<F, S>(future: F, scheduler: S, id: TaskId) -> RawTask
    where
        F: Future + 'static,
        S: Schedule,
    {
        let cell = Box::new(Cell {
            header: Header {
                state: State::new(),
                vtable: harness::vtable::<F, S>(),
                id,
                owned_index: AtomicUsize::new(usize::MAX),
            },
            scheduler,
            stage: UnsafeCell::new(Stage::Running(future)),
            join_waker: UnsafeCell::new(None),
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
        RawTask { ptr }
    }

    /// # Safety
    /// `ptr` must point to a live task cell.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> RawTask {
        RawTask { ptr }
    }

    pub(crate) fn header_ptr(self) -> NonNull<Header> {
        self.ptr
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: every RawTask in circulation is backed by a reference (rule 1), so the
        // cell is alive while `self` is borrowed.
        unsafe { self.ptr.as_ref() }
    }

    pub(crate) fn state(&self) -> &State {
        &self.header().state
    }

    pub(crate) fn id(&self) -> TaskId {
        self.header().id
    }

    pub(crate) fn owned_index(&self) -> usize {
        self.header().owned_index.load(Ordering::Relaxed)
    }

    pub(crate) fn set_owned_index(&self, index: usize) {
        self.header().owned_index.store(index, Ordering::Relaxed);
    }

    /// # Safety
    /// The caller gives up one reference, which the poll consumes, and calls this on the
    /// scheduler's thread (rule 4).
    pub(crate) unsafe fn poll(self) {
        // SAFETY: forwarded contract; the vtable matches the cell's types.
        unsafe { (self.header().vtable.poll)(self.ptr) }
    }

    /// # Safety
    /// The caller gives up one reference, which becomes the `Notified`'s.
    pub(crate) unsafe fn schedule(self) {
        // SAFETY: forwarded contract.
        unsafe { (self.header().vtable.schedule)(self.ptr) }
    }

    /// # Safety
    /// The reference count is zero; nobody uses the cell again.
    pub(crate) unsafe fn dealloc(self) {
        // SAFETY: forwarded contract.
        unsafe { (self.header().vtable.dealloc)(self.ptr) }
    }

    /// Reads the output if the task is complete; otherwise registers `waker` (if any) to
    /// be woken when it is.
    ///
    /// # Safety
    /// Called by the join handle only, with `dst` pointing to a
    /// `Poll<Result<T, JoinError>>` whose `T` is the task's output type.
    pub(crate) unsafe fn try_read_output<T>(
        self,
        dst: &mut Poll<Result<T, JoinError>>,
        waker: Option<&Waker>,
    ) {
        let dst = (dst as *mut Poll<Result<T, JoinError>>).cast::<()>();
        // SAFETY: forwarded contract.
        unsafe { (self.header().vtable.try_read_output)(self.ptr, dst, waker) }
    }

    /// # Safety
    /// Called by the join handle only (it owns the join waker slot's handle side).
    pub(crate) unsafe fn swap_join_waker(self, waker: &Waker) -> WakerSwap {
        // SAFETY: forwarded contract.
        unsafe { (self.header().vtable.swap_join_waker)(self.ptr, waker) }
    }

    /// # Safety
    /// Called once, by the join handle's drop or detach; consumes its reference.
    pub(crate) unsafe fn drop_join_handle(self, keep_waker: bool) {
        // SAFETY: forwarded contract.
        unsafe { (self.header().vtable.drop_join_handle)(self.ptr, keep_waker) }
    }

    /// # Safety
    /// Called on the scheduler's thread with the owned list's reference, which it consumes.
    pub(crate) unsafe fn shutdown(self) {
        // SAFETY: forwarded contract.
        unsafe { (self.header().vtable.shutdown)(self.ptr) }
    }

    /// Drops one reference, freeing the cell if it was the last.
    ///
    /// # Safety
    /// The caller owns the reference it gives up.
    pub(crate) unsafe fn drop_reference(self) {
        if self.state().ref_dec() {
            // SAFETY: the count reached zero, so nobody else holds the cell.
            unsafe { self.dealloc() }
        }
    }
}
