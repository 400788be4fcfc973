//! `PollFd<T>`: a non-blocking std socket registered with the current runtime's reactor.
//! Every socket type wraps one; its `poll_*_with` helpers spend coop budget, wait for
//! readiness and retry the std call after `WouldBlock`.

use super::sys;
use crate::runtime::Handle;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};
use trioxide_reactor::{Direction, Registration};
use trioxide_task::coop;

/// A registered descriptor. Field order matters: the registration is dropped (and the
/// descriptor deregistered) before `io` closes it.
pub(crate) struct PollFd<T: AsRawFd> {
    registration: Registration,
    io: T,
}

impl<T: AsRawFd> PollFd<T> {
    /// Registers `io` (already non-blocking) with the current runtime.
    pub(crate) fn new(io: T) -> io::Result<Self> {
        let handle = Handle::try_current()
            .map_err(|e| io::Error::other(format!("cannot create a trioxide socket here: {e}")))?;
        let registration = handle.reactor().register(io.as_raw_fd())?;
        Ok(PollFd { registration, io })
    }

    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }

    /// Runs the non-blocking `op` once `direction` is ready.
    pub(crate) fn poll_with<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        if coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        self.registration.poll_io(cx, direction, || op(&self.io))
    }

    /// [`poll_with`](Self::poll_with) for one stream read or write of `len` bytes: a
    /// short transfer clears the readiness (`Registration::poll_io_stream`), sparing the
    /// next call a system call that would only return `WouldBlock`.
    pub(crate) fn poll_stream_with(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        len: usize,
        mut op: impl FnMut(&T) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        if coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        self.registration
            .poll_io_stream(cx, direction, len, || op(&self.io))
    }

    /// One `send` (with `MSG_NOSIGNAL`) on a stream socket once it is writable; a short
    /// send clears the readiness.
    pub(crate) fn poll_stream_send(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_stream_with(cx, Direction::Write, buf.len(), |s| {
            sys::send_nosignal(s.as_raw_fd(), buf)
        })
    }

    /// One vectored `send` on a stream socket once it is writable. Short is compared with
    /// the slices one call takes (`sys::sendable_slices`), so a cut at `IOV_MAX` is not
    /// taken for a full buffer.
    pub(crate) fn poll_stream_send_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let bufs = sys::sendable_slices(bufs);
        let len = bufs.iter().map(|b| b.len()).sum();
        self.poll_stream_with(cx, Direction::Write, len, |s| {
            sys::send_vectored_nosignal(s.as_raw_fd(), bufs)
        })
    }

    /// Waits until `direction` is ready (without doing any I/O).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<()>> {
        self.registration.poll_ready(cx, direction).map_ok(|_| ())
    }

    /// The io_uring operations to submit this descriptor's operations through, when its
    /// reactor runs on io_uring: its own ring, or on a WorkStealing worker the worker's
    /// own ring (`context::local_uring_ops`).
    ///
    /// A descriptor used this way no longer needs its readiness watched: while no task
    /// waits for it, the ring stops polling it (one cancel, once), so that each message
    /// does not also post a poll completion.
    pub(crate) fn uring_ops(&self) -> Option<trioxide_reactor::uring::UringOps> {
        self.with_uring_ops((), |ops, ()| ops.clone()).ok()
    }

    /// [`uring_ops`](Self::uring_ops) lent to `f(ops, arg)` instead of cloned, for
    /// submitting one op (which holds the ring itself). On epoll `f` is not called and
    /// `arg` comes back as the error.
    pub(crate) fn with_uring_ops<A, R>(
        &self,
        arg: A,
        f: impl FnOnce(&trioxide_reactor::uring::UringOps, A) -> R,
    ) -> Result<R, A> {
        let out = crate::runtime::with_local_uring_ops(self.registration.reactor(), arg, f)?;
        self.registration.leave_driver_while_unwatched();
        Ok(out)
    }

    pub(crate) async fn with<R>(
        &self,
        direction: Direction,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        std::future::poll_fn(|cx| self.poll_with(cx, direction, &mut op)).await
    }
}

impl<T: AsRawFd + std::fmt::Debug> std::fmt::Debug for PollFd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.io.fmt(f)
    }
}
