//! Multishot `IORING_OP_ACCEPT` (Linux 5.19+): [`UringOps::accept_multishot`] and its
//! handle [`MultiAccept`].
//!
//! One SQE keeps accepting: the kernel posts a CQE per connection (flagged
//! `IORING_CQE_F_MORE` while the op stays armed), and the results queue in the op's slab
//! slot (`Lifecycle::Streaming`) until the listener takes them, so dropping an `accept`
//! future loses no connection. When the kernel ends the op (an error such as `EMFILE`,
//! or the submitting thread's exit) the handle re-arms it on its next poll; the error, if
//! any, is handed out first. Dropping the handle cancels the op and closes every
//! descriptor accepted but not taken, including those that race the cancellation.
//!
//! Where the kernel is older than 5.19 [`UringOps::accept_multishot`] returns `None`,
//! and a kernel that rejects the flag anyway (`EINVAL` on the first CQE) turns the
//! handle off for the whole driver: callers then accept through readiness.

use super::UringOps;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::Ordering;
use crate::uring::Shared;
use crate::uring::slab::{KeepOpen, StreamPoll, close_orphan_fd};
use crate::uring::sys::{self, lock};
use io_uring::{opcode, types};
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::task::{Context, Poll};

/// A multishot accept on one listening socket. `Send + Sync`: several tasks may poll it.
pub struct MultiAccept {
    shared: crate::loom::sync::Arc<Shared>,
    fd: RawFd,
    /// The `user_data` of the armed op; `None` before the first poll and after the kernel
    /// ended the op.
    armed: Mutex<Option<u64>>,
    /// The listening socket's owner, held by the op's slot from the handle's drop until
    /// the final CQE ([`keeping_open`](Self::keeping_open)).
    owner: Option<KeepOpen>,
}

impl UringOps {
    /// A multishot accept on the listening socket `fd`, armed on its first poll; `None`
    /// where the kernel lacks multishot accept (then accept through readiness). Accepted
    /// sockets are non-blocking and close-on-exec. `fd` must outlive the handle.
    pub fn accept_multishot(&self, fd: RawFd) -> Option<MultiAccept> {
        if !self.shared.multishot_accept.load(Ordering::Relaxed) {
            return None;
        }
        Some(MultiAccept {
            shared: self.shared.clone(),
            fd,
            armed: Mutex::new(None),
            owner: None,
        })
    }
}

impl MultiAccept {
    /// Keeps `owner` (the listening socket's owner) alive after this handle is dropped
    /// until the kernel has ended the op, so that the descriptor's number is not reused
    /// while the op or its cancellation may still be waiting to reach the kernel (see
    /// [`KeepingOpen`](super::KeepingOpen)).
    pub fn keeping_open(mut self, owner: KeepOpen) -> MultiAccept {
        self.owner = Some(owner);
        self
    }

    /// The next accepted connection. `Ready(None)`: the kernel turned out not to support
    /// multishot accept; accept through readiness instead (later calls say the same).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Option<io::Result<OwnedFd>>> {
        let mut armed = lock(&self.armed);
        loop {
            if !self.shared.multishot_accept.load(Ordering::Relaxed) {
                return Poll::Ready(None);
            }
            let ud = match *armed {
                Some(ud) => ud,
                None => match self.arm() {
                    Ok(ud) => *armed.insert(ud),
                    Err(e) => return Poll::Ready(Some(Err(e))),
                },
            };
            let polled = lock(&self.shared.ops).poll_stream(ud, cx.waker());
            match polled {
                StreamPoll::Item(res) if res >= 0 => {
                    return Poll::Ready(Some(Ok(sys::owned_fd(res as RawFd))));
                }
                StreamPoll::Item(res) if res == -libc::EINVAL => {
                    // The kernel does not know the multishot flag: off for this driver.
                    self.shared.multishot_accept.store(false, Ordering::Relaxed);
                }
                StreamPoll::Item(res) => {
                    return Poll::Ready(Some(Err(io::Error::from_raw_os_error(-res))));
                }
                StreamPoll::Ended => *armed = None,
                StreamPoll::Pending => return Poll::Pending,
            }
        }
    }

    /// Submits a new multishot accept; returns its `user_data`.
    fn arm(&self) -> io::Result<u64> {
        let ud = lock(&self.shared.ops).insert_stream(true);
        let entry = opcode::AcceptMulti::new(types::Fd(self.fd))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(ud);
        // SAFETY: a multishot accept SQE carries no pointer (no peer address buffer).
        match unsafe { self.shared.ring.push(&entry) } {
            Ok(()) => Ok(ud),
            Err(e) => {
                let _ = lock(&self.shared.ops).remove_unsubmitted(ud);
                Err(e)
            }
        }
    }
}

impl Drop for MultiAccept {
    fn drop(&mut self) {
        let Some(ud) = lock(&self.armed).take() else {
            return;
        };
        let (queued, in_kernel) = lock(&self.shared.ops).cancel_stream(ud, self.owner.take());
        for fd in queued {
            close_orphan_fd(fd);
        }
        if in_kernel {
            self.shared.cancel_op(ud);
        }
    }
}

impl std::fmt::Debug for MultiAccept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiAccept")
            .field("fd", &self.fd)
            .field("armed", &lock(&self.armed).is_some())
            .finish()
    }
}
