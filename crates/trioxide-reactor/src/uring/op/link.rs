//! Operations with a deadline: the op's SQE carries `IOSQE_IO_LINK` and is followed by an
//! `IORING_OP_LINK_TIMEOUT`, so the kernel itself cancels the op when the time is up
//! ([`UringOps::connect_timeout`], [`UringOps::recv_timeout`]) — no timer wheel entry, no
//! extra wake-up, no async cancel from user space.
//!
//! The pair is queued back to back under one submission-queue lock (a link only reaches
//! the very next SQE). The timeout's `timespec` stays in the op's keep-alive
//! (`Keep::WithTimeout`) until the op's CQE; the timeout's own CQE (`-ETIME` when it
//! fired, `-ECANCELED` when the op finished first) is ignored. An op the timeout cancelled
//! completes with `-ECANCELED`, reported as [`io::ErrorKind::TimedOut`]. Linked ops are not
//! resubmitted after a kernel-initiated cancel (a resubmitted SQE would lose its
//! timeout), so the rare cancel caused by the submitting thread's exit also reads as a
//! time-out.

use super::accept::sockaddr;
use super::read::finish_read;
use super::{BufResult, Op, UringOps, cqe_result, sqe_len};
use crate::uring::IGNORE_UD;
use crate::uring::slab::Keep;
use crate::uring::sys::lock;
use io_uring::{opcode, squeue, types};
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::Duration;

impl UringOps {
    /// Connects the socket `fd` to `addr`, giving up after `timeout` with
    /// `ErrorKind::TimedOut`.
    pub fn connect_timeout(
        &self,
        fd: RawFd,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Op<io::Result<()>> {
        let addr = Box::new(sockaddr(addr));
        let entry = opcode::Connect::new(
            types::Fd(fd),
            (&addr.storage as *const libc::sockaddr_storage).cast(),
            addr.len,
        )
        .build();
        // SAFETY: the SQE points into the boxed address, owned by the keep-alive until the
        // CQE; moving the box does not move its contents.
        unsafe { self.submit_with_timeout(entry, Keep::Addr(addr), timeout, finish_connect) }
    }

    /// Receives from the socket `fd` into `buf`'s capacity (as
    /// [`recv`](Self::recv)), giving up after `timeout` with `ErrorKind::TimedOut`.
    pub fn recv_timeout(&self, fd: RawFd, mut buf: Vec<u8>, timeout: Duration) -> Op<BufResult> {
        let entry =
            opcode::Recv::new(types::Fd(fd), buf.as_mut_ptr(), sqe_len(buf.capacity())).build();
        // SAFETY: the SQE points into `buf`'s heap allocation, owned by the keep-alive
        // until the CQE.
        unsafe { self.submit_with_timeout(entry, Keep::Buf(buf), timeout, finish_recv) }
    }

    /// Queues `entry` linked to a timeout of `timeout` and returns the op's future.
    ///
    /// # Safety
    /// As for [`submit`](Self::submit): every pointer in `entry` points into `keep`.
    unsafe fn submit_with_timeout<O: Unpin>(
        &self,
        entry: squeue::Entry,
        keep: Keep,
        timeout: Duration,
        finish: fn(i32, Keep) -> O,
    ) -> Op<O> {
        let ts = Box::new(
            types::Timespec::new()
                .sec(timeout.as_secs())
                .nsec(timeout.subsec_nanos()),
        );
        let link = opcode::LinkTimeout::new(&*ts as *const types::Timespec)
            .build()
            .user_data(IGNORE_UD);
        // No kept entry: a linked op is never resubmitted (see the module docs).
        let ud =
            lock(&self.shared.ops).insert_entry(None, Keep::WithTimeout(Box::new(keep), ts), false);
        let entry = entry.user_data(ud).flags(squeue::Flags::IO_LINK);
        // SAFETY: `entry` points into the keep-alive and `link` into its boxed timespec,
        // both owned by the slot `ud` until the op's CQE (rule 3 of `sys`); the kernel
        // reads the timespec when the chain is submitted, before that CQE.
        match unsafe { self.shared.ring.push_chain(&[entry, link]) } {
            Ok(()) => Op::in_flight(self.shared.clone(), ud, finish),
            Err(err) => {
                let keep = lock(&self.shared.ops).remove_unsubmitted(ud);
                let errno = err.raw_os_error().unwrap_or(libc::EBUSY);
                Op::ready(finish(-errno, keep))
            }
        }
    }
}

/// `-ECANCELED` from a linked op: its timeout fired.
fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

fn finish_connect(res: i32, _keep: Keep) -> io::Result<()> {
    match res {
        r if r == -libc::ECANCELED => Err(timed_out("connect")),
        r => cqe_result(r).map(drop),
    }
}

fn finish_recv(res: i32, keep: Keep) -> BufResult {
    if res == -libc::ECANCELED {
        return (Err(timed_out("recv")), super::take_buf(keep));
    }
    finish_read(res, keep)
}

#[cfg(test)]
mod tests {
    use crate::uring::tests::{block_on, driver_or_skip, turn_until};
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::time::{Duration, Instant};

    #[test]
    fn recv_times_out_without_data_and_returns_the_buffer() {
        let Some(driver) = driver_or_skip("recv_times_out") else {
            return;
        };
        let ops = driver.ops();
        let (_a, b) = UnixStream::pair().unwrap();
        let start = Instant::now();
        let (res, buf) = block_on(
            &driver,
            ops.recv_timeout(
                b.as_raw_fd(),
                Vec::with_capacity(32),
                Duration::from_millis(50),
            ),
        );
        assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(50));
        assert_eq!(buf.capacity(), 32);
        turn_until(&driver, || ops.in_flight() == 0, 100);
        assert_eq!(ops.in_flight(), 0);
    }

    #[test]
    fn recv_with_data_beats_its_timeout() {
        let Some(driver) = driver_or_skip("recv_with_data_beats_its_timeout") else {
            return;
        };
        let ops = driver.ops();
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"in time").unwrap();
        let (res, buf) = block_on(
            &driver,
            ops.recv_timeout(
                b.as_raw_fd(),
                Vec::with_capacity(32),
                Duration::from_secs(30),
            ),
        );
        assert_eq!(res.unwrap(), 7);
        assert_eq!(buf, b"in time");
        // The cancelled timeout's CQE is ignored; nothing stays in flight.
        turn_until(&driver, || false, 3);
        assert_eq!(ops.in_flight(), 0);
    }

    #[test]
    fn dropped_linked_ops_are_freed() {
        let Some(driver) = driver_or_skip("dropped_linked_ops_are_freed") else {
            return;
        };
        let ops = driver.ops();
        let pairs: Vec<_> = (0..100).map(|_| UnixStream::pair().unwrap()).collect();
        let pending: Vec<_> = pairs
            .iter()
            .map(|(_, b)| {
                ops.recv_timeout(
                    b.as_raw_fd(),
                    Vec::with_capacity(256),
                    Duration::from_secs(3600),
                )
            })
            .collect();
        turn_until(&driver, || false, 2);
        assert_eq!(ops.in_flight(), 100);
        drop(pending);
        turn_until(&driver, || ops.in_flight() == 0, 300);
        assert_eq!(ops.in_flight(), 0);
    }
}
