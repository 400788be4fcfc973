//! Completion-based operations: the [`Op`] future every operation returns, and the
//! [`UringOps`] handle that submits them. One file per operation family adds its methods
//! to `UringOps` (`read.rs`, `write.rs`, `recv.rs`, `send.rs`, `accept.rs`, `open.rs`,
//! `close.rs`, `timeout.rs`, `multi_accept.rs`, `msg.rs` (UDP), `link.rs` (ops with a deadline)); `poll.rs` is the readiness side of the driver.
//!
//! Operations are submitted when the method is called (the SQE is queued then, and reaches
//! the kernel with the next `io_uring_enter`), and complete when some thread calls
//! [`Driver::wait`](crate::Driver::wait) on the driver — the runtime's parked worker, or a
//! test's loop around [`Reactor::turn`](crate::Reactor::turn).
//!
//! Dropping an [`Op`] before it completes does not free its buffer: the slot moves to
//! `Cancelled` keeping the buffer, an `IORING_OP_ASYNC_CANCEL` is queued, and the buffer
//! is freed when the operation's CQE arrives (see `slab.rs`).

pub(crate) mod accept;
pub(crate) mod close;
pub(crate) mod link;
pub(crate) mod msg;
pub(crate) mod multi_accept;
pub(crate) mod open;
pub(crate) mod poll;
pub(crate) mod read;
pub(crate) mod recv;
pub(crate) mod send;
pub(crate) mod timeout;
pub(crate) mod write;

use super::Shared;
use super::slab::{Keep, KeepOpen};
use super::sys::lock;
use crate::loom::sync::Arc;
use io_uring::squeue;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The output of buffer operations: the byte count (or error) and the buffer, handed
/// back in every case.
pub type BufResult = (io::Result<usize>, Vec<u8>);

/// A handle for submitting completion-based operations to one driver's ring. Cheap to
/// clone; `Send + Sync`.
#[derive(Clone)]
pub struct UringOps {
    pub(crate) shared: Arc<Shared>,
}

impl UringOps {
    pub(crate) fn new(shared: Arc<Shared>) -> UringOps {
        UringOps { shared }
    }

    /// Operations whose slot is still held: in the kernel, cancelled and awaiting their
    /// CQE, or completed and not yet taken by their future. Zero once everything finished
    /// and every cancelled operation's buffer was freed.
    pub fn in_flight(&self) -> usize {
        lock(&self.shared.ops).live()
    }

    /// The number of `io_uring_enter` calls made by the ring (see
    /// [`UringDriver::enter_count`](super::UringDriver::enter_count)).
    pub fn enter_count(&self) -> u64 {
        self.shared.ring.enters()
    }

    /// Takes a slot for `keep`, queues `entry` under its `user_data` and returns the
    /// future. A submission failure completes the future at once with that error.
    ///
    /// # Safety
    /// Every pointer in `entry` must point into the heap allocation(s) owned by `keep`
    /// (which do not move when `keep` is moved into the slab), or be null.
    pub(crate) unsafe fn submit<O: Unpin>(
        &self,
        entry: squeue::Entry,
        keep: Keep,
        yields_fd: bool,
        finish: fn(i32, Keep) -> O,
    ) -> Op<O> {
        let user_data = lock(&self.shared.ops).insert_entry(Some(entry.clone()), keep, yields_fd);
        let entry = entry.user_data(user_data);
        // SAFETY: the caller guarantees that `entry` points into `keep`, now owned by the
        // slot `user_data`, which is freed only after its CQE (rule 3 of `sys`).
        match unsafe { self.shared.ring.push(&entry) } {
            Ok(()) => Op::in_flight(self.shared.clone(), user_data, finish),
            Err(err) => {
                let keep = lock(&self.shared.ops).remove_unsubmitted(user_data);
                let errno = err.raw_os_error().unwrap_or(libc::EBUSY);
                Op::ready(finish(-errno, keep))
            }
        }
    }
}

impl std::fmt::Debug for UringOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringOps")
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// The future of one io_uring operation. Dropping it before completion cancels the
/// operation; any buffer stays owned by the driver until the kernel is done with it.
#[must_use = "an io_uring operation is cancelled when its future is dropped"]
pub struct Op<O: Unpin> {
    state: OpState<O>,
}

impl<O: Unpin> Op<O> {
    /// The future of the op in slot `user_data`, already queued.
    pub(crate) fn in_flight(
        shared: Arc<Shared>,
        user_data: u64,
        finish: fn(i32, Keep) -> O,
    ) -> Op<O> {
        Op {
            state: OpState::InFlight {
                shared,
                user_data,
                finish,
            },
        }
    }

    /// An op that failed before reaching the ring (e.g. an invalid path).
    pub(crate) fn ready(out: O) -> Op<O> {
        Op {
            state: OpState::Done(Some(out)),
        }
    }
}

enum OpState<O> {
    InFlight {
        shared: Arc<Shared>,
        user_data: u64,
        finish: fn(i32, Keep) -> O,
    },
    Done(Option<O>),
}

impl<O: Unpin> Future for Op<O> {
    type Output = O;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O> {
        let this = self.get_mut();
        match &mut this.state {
            OpState::InFlight {
                shared,
                user_data,
                finish,
            } => {
                let polled = lock(&shared.ops).poll(*user_data, cx.waker());
                match polled {
                    Poll::Ready((res, keep)) => {
                        let out = finish(res, keep);
                        this.state = OpState::Done(None);
                        Poll::Ready(out)
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
            // Polling an `Op` after it returned `Ready` is a caller bug, which a generic
            // output cannot report as a typed error: panic like an exhausted future.
            OpState::Done(out) => {
                Poll::Ready(out.take().expect("io_uring Op polled after completion"))
            }
        }
    }
}

impl<O: Unpin> Op<O> {
    /// This op, keeping `owner` — the owner of the descriptor it names — alive until the
    /// kernel is done with the op, should the future be dropped first (see
    /// [`KeepingOpen`]). `owner` is borrowed while the op runs and cloned only on such a
    /// drop.
    pub fn keeping_open<T: Send + Sync + 'static>(
        self,
        owner: &std::sync::Arc<T>,
    ) -> KeepingOpen<'_, O, T> {
        KeepingOpen { op: self, owner }
    }

    /// Cancels the op if it is still in flight, as dropping it does, keeping `owner()`
    /// with its buffer until its CQE (`owner` is called only then). The op is finished
    /// afterwards: dropping it does nothing more, polling it panics.
    pub fn cancel_keeping(&mut self, owner: &dyn Fn() -> KeepOpen) {
        self.cancel_with(Some(owner));
        self.state = OpState::Done(None);
    }

    fn cancel_with(&mut self, owner: Option<&dyn Fn() -> KeepOpen>) {
        if let OpState::InFlight {
            shared, user_data, ..
        } = &self.state
        {
            let cancel = lock(&shared.ops).cancel(*user_data, owner);
            match cancel {
                super::slab::Cancel::InFlight => shared.cancel_op(*user_data),
                super::slab::Cancel::Finished(keep, fd) => {
                    drop(keep);
                    if let Some(fd) = fd {
                        super::slab::close_orphan_fd(fd);
                    }
                }
                super::slab::Cancel::Gone => {}
            }
        }
    }
}

impl<O: Unpin> Drop for Op<O> {
    fn drop(&mut self) {
        self.cancel_with(None);
    }
}

/// An [`Op`] that keeps its descriptor's owner alive past a cancellation: made by
/// [`Op::keeping_open`].
///
/// A dropped op's SQE may still wait in the submission queue (on a WorkStealing worker's
/// ring it waits for that worker's next turn, which can come after another thread dropped
/// the op and closed the socket). Were the descriptor closed meanwhile, a new socket or
/// file could take its number and the old SQE would then act on *it* — a receive taking
/// the new socket's bytes, a write landing in another file. Holding a clone of the owner
/// in the op's slot until its CQE keeps the number taken; the descriptor closes with the
/// CQE (the op's cancellation), moments later.
#[must_use = "an io_uring operation is cancelled when its future is dropped"]
pub struct KeepingOpen<'a, O: Unpin, T: Send + Sync + 'static> {
    op: Op<O>,
    owner: &'a std::sync::Arc<T>,
}

impl<O: Unpin, T: Send + Sync + 'static> Future for KeepingOpen<'_, O, T> {
    type Output = O;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O> {
        Pin::new(&mut self.op).poll(cx)
    }
}

impl<O: Unpin, T: Send + Sync + 'static> Drop for KeepingOpen<'_, O, T> {
    fn drop(&mut self) {
        let owner = self.owner;
        self.op.cancel_keeping(&|| owner.clone() as KeepOpen);
    }
}

impl<O: Unpin, T: Send + Sync + 'static> std::fmt::Debug for KeepingOpen<'_, O, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.op.fmt(f)
    }
}

impl<O: Unpin> std::fmt::Debug for Op<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let done = matches!(self.state, OpState::Done(_));
        f.debug_struct("Op").field("done", &done).finish()
    }
}

/// The `io::Result` of a CQE result: a count, or the negated errno.
pub(crate) fn cqe_result(res: i32) -> io::Result<usize> {
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    }
}

/// The length the kernel may use of a buffer of `len` bytes (SQE lengths are `u32`).
pub(crate) fn sqe_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Takes the buffer back out of a buffer op's keep-alive.
pub(crate) fn take_buf(keep: Keep) -> Vec<u8> {
    match keep {
        Keep::Buf(buf) => buf,
        Keep::Msg(msg) => msg.buf,
        Keep::WithTimeout(inner, _) => take_buf(*inner),
        _ => Vec::new(),
    }
}
