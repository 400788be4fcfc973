//! `PollFd<T>`: a non-blocking std socket registered with the current runtime's reactor.
//! Every socket type wraps one; its `poll_*_with` helpers spend coop budget, wait for
//! readiness and retry the std call after `WouldBlock`.

use super::sys;
use crate::runtime::Handle;
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use trioxide_reactor::{Direction, Registration};
use trioxide_task::coop;

/// A registered descriptor. Field order matters: the registration is dropped (and the
/// descriptor deregistered) before `io` closes it.
///
/// The socket sits in an `Arc` so that an io_uring op dropped before its completion can
/// keep it open until the kernel is done with the op ([`owner`](Self::owner),
/// `trioxide_reactor::uring::Op::keeping_open`): its SQE may still wait in a worker's
/// submission queue, and a closed descriptor's number could meanwhile be given to a new
/// socket, which the old SQE would then read from or write to. The price: dropping a
/// stream with such an op in flight closes the socket (and the peer sees the end of
/// stream) only at that op's CQE, which comes with the next turn of the ring that holds
/// it — at once where the dropping thread drives that ring, else when its worker next
/// polls its driver (between tasks, or at most 61 tasks later), or when it parks.
pub(crate) struct PollFd<T: AsRawFd> {
    /// Set at creation, or at first use for a [deferred](Self::new_deferred) one (a failed
    /// registration stays the answer).
    registration: OnceLock<io::Result<Registration>>,
    /// The runtime a deferred registration is made with.
    home: Option<Handle>,
    io: Arc<T>,
}

fn current_handle() -> io::Result<Handle> {
    Handle::try_current()
        .map_err(|e| io::Error::other(format!("cannot create a trioxide socket here: {e}")))
}

impl<T: AsRawFd> PollFd<T> {
    /// Registers `io` (already non-blocking) with the current runtime.
    pub(crate) fn new(io: T) -> io::Result<Self> {
        Self::registered_with(&current_handle()?, io)
    }

    fn registered_with(handle: &Handle, io: T) -> io::Result<Self> {
        let registration = handle.reactor().register(io.as_raw_fd())?;
        Ok(PollFd {
            registration: OnceLock::from(Ok(registration)),
            home: None,
            io: Arc::new(io),
        })
    }

    /// Like [`new`](Self::new), but registers `io` with the reactor of the thread that
    /// first uses it: on a WorkStealing runtime with a ring per worker, the ring of the
    /// worker whose task first reads or writes, not of the one that created it. For
    /// accepted connections: the accept loop's worker would otherwise watch the
    /// readiness of every connection while their tasks run on all workers.
    ///
    /// Only where there is a choice (a ring per worker): with one reactor, registering at
    /// once lets its readiness arrive before the first read, which would otherwise wait
    /// for the driver's next turn (it put hyper's p99 latency on epoll at 4 ms instead of
    /// 1.4 ms: the first request of every connection waited).
    pub(crate) fn new_deferred(io: T) -> io::Result<Self> {
        let home = current_handle()?;
        if home.shared.worker_io.is_none() {
            return Self::registered_with(&home, io);
        }
        Ok(PollFd {
            registration: OnceLock::new(),
            home: Some(home),
            io: Arc::new(io),
        })
    }

    /// The registration, made now if it was deferred.
    fn registration(&self) -> io::Result<&Registration> {
        self.registration_fresh()
            .map(|(registration, _)| registration)
    }

    /// [`registration`](Self::registration), and whether this call made it: a deferred
    /// registration knows no readiness yet, while the descriptor (an accepted connection
    /// whose request is already there) may well be ready.
    fn registration_fresh(&self) -> io::Result<(&Registration, bool)> {
        let mut fresh = false;
        let registered = self.registration.get_or_init(|| {
            fresh = true;
            match &self.home {
                Some(home) => home.reactor().register(self.io.as_raw_fd()),
                None => Err(io::Error::other("a trioxide socket without a registration")),
            }
        });
        registered
            .as_ref()
            .map(|registration| (registration, fresh))
            .map_err(|e| io::Error::new(e.kind(), e.to_string()))
    }

    /// The registration for an I/O call, or the call's result: just after a deferred
    /// registration the call is tried once before any wait (its readiness is unknown, and
    /// waiting for the driver to report it would delay a connection's first request).
    fn registration_or_attempt<R>(
        &self,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Result<&Registration, io::Result<R>> {
        let (registration, fresh) = self.registration_fresh().map_err(Err)?;
        if fresh {
            match op(&self.io) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                done => return Err(done),
            }
        }
        Ok(registration)
    }

    pub(crate) fn get_ref(&self) -> &T {
        &self.io
    }

    /// The socket's owner, for io_uring ops that must keep it open past a cancellation.
    pub(crate) fn owner(&self) -> &Arc<T> {
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
        let registration = match self.registration_or_attempt(&mut op) {
            Ok(registration) => registration,
            Err(done) => return Poll::Ready(done),
        };
        registration.poll_io(cx, direction, || op(&self.io))
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
        let registration = match self.registration_or_attempt(&mut op) {
            Ok(registration) => registration,
            Err(done) => return Poll::Ready(done),
        };
        registration.poll_io_stream(cx, direction, len, || op(&self.io))
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
        match self.registration() {
            Ok(registration) => registration.poll_ready(cx, direction).map_ok(|_| ()),
            Err(e) => Poll::Ready(Err(e)),
        }
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
        let Ok(registration) = self.registration() else {
            return Err(arg); // the readiness path reports the error
        };
        let out = crate::runtime::with_local_uring_ops(registration.reactor(), arg, f)?;
        registration.leave_driver_while_unwatched();
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

#[cfg(all(test, not(trioxide_loom)))]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A deferred registration (an accepted connection's) made on one worker and first
    /// used by a task on the other goes to the second worker's ring, where an eager one
    /// would have stayed with the first.
    #[test]
    fn a_deferred_registration_goes_to_the_ring_of_the_first_user() {
        let rt = match crate::Runtime::builder()
            .worker_threads(2)
            .io(crate::runtime::Io::IoUring)
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("skipping: {e}");
                return;
            }
        };
        rt.block_on(async {
            let ring_here = || Arc::as_ptr(Handle::current().reactor()) as usize;
            let (fd_tx, fd_rx) = trioxide_sync::oneshot::channel();
            let creator = crate::spawn(async move {
                let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
                a.set_nonblocking(true).unwrap();
                fd_tx.send(PollFd::new_deferred(a).unwrap()).unwrap();
                let made_on = ring_here();
                // Keep this worker busy, so the user below runs on the other one.
                std::thread::sleep(Duration::from_millis(200));
                (made_on, _b)
            });
            let user = crate::spawn(async move {
                let fd = fd_rx.await.unwrap();
                let registered_on = Arc::as_ptr(fd.registration().unwrap().reactor()) as usize;
                (registered_on, ring_here())
            });
            let (registered_on, used_on) = user.await.unwrap();
            let (made_on, _peer) = creator.await.unwrap();
            assert_ne!(made_on, used_on, "the two tasks ran on different workers");
            assert_eq!(registered_on, used_on, "registered with the user's ring");
        });
    }
}
