//! `IORING_OP_RECV` into an owned buffer: [`UringOps::recv`].
//!
//! Like a read, the kernel fills the buffer from its start up to its capacity and the
//! length becomes the byte count. A recv on a socket with no data parks in the kernel
//! (internally on a poll, io_uring's "fast poll"), so it is the typical op that gets
//! cancelled: dropping its future queues an async cancel and the buffer is freed when the
//! `-ECANCELED` (or the data, if it won the race) CQE arrives.

use super::read::finish_read;
use super::{BufResult, Op, UringOps, sqe_len};
use crate::uring::slab::Keep;
use io_uring::{opcode, types};
use std::os::fd::RawFd;

/// `IORING_RECVSEND_POLL_FIRST` (linux/io_uring.h; the `io-uring` crate keeps its
/// constants private): wait for readiness before the first receive attempt.
const RECVSEND_POLL_FIRST: u16 = 1 << 0;

impl UringOps {
    /// Receives from the socket `fd` into `buf`'s capacity. Resolves to the byte count
    /// (0: the peer closed) and the buffer, its length set to that count.
    pub fn recv(&self, fd: RawFd, buf: Vec<u8>) -> Op<BufResult> {
        self.recv_with_flags(fd, buf, 0)
    }

    /// [`recv`](Self::recv) with `recv(2)` flags (`MSG_PEEK`, `MSG_WAITALL`, ...).
    pub fn recv_with_flags(&self, fd: RawFd, buf: Vec<u8>, flags: i32) -> Op<BufResult> {
        self.recv_inner(fd, buf, flags, 0)
    }

    /// [`recv`](Self::recv) for a socket believed to have no data now (the last receive
    /// came back short, or the caller just sent a request and awaits the answer): the
    /// kernel waits for data first (`IORING_RECVSEND_POLL_FIRST`) instead of
    /// first trying a receive that would fail and then waiting. If data is there after
    /// all, the wait ends at once; only the guess's cost changes, not the result.
    pub fn recv_after_drain(&self, fd: RawFd, buf: Vec<u8>) -> Op<BufResult> {
        self.recv_inner(fd, buf, 0, RECVSEND_POLL_FIRST)
    }

    fn recv_inner(&self, fd: RawFd, mut buf: Vec<u8>, flags: i32, ioprio: u16) -> Op<BufResult> {
        let entry = opcode::Recv::new(types::Fd(fd), buf.as_mut_ptr(), sqe_len(buf.capacity()))
            .flags(flags)
            .ioprio(ioprio)
            .build();
        // SAFETY: the SQE points into `buf`'s heap allocation (its full capacity), which
        // `Keep::Buf` owns until the CQE.
        unsafe { self.submit(entry, Keep::Buf(buf), false, finish_read) }
    }
}

#[cfg(test)]
mod tests {
    use crate::uring::tests::{block_on, driver_or_skip, turn_until};
    use std::io::Write;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::pin::pin;
    use std::task::{Context, Waker};

    #[test]
    fn receives_what_the_peer_sent() {
        let Some(driver) = driver_or_skip("receives_what_the_peer_sent") else {
            return;
        };
        let ops = driver.ops();
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"ping").unwrap();
        let (res, buf) = block_on(&driver, ops.recv(b.as_raw_fd(), Vec::with_capacity(64)));
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"ping");
        drop(a);
        let (res, buf) = block_on(&driver, ops.recv(b.as_raw_fd(), Vec::with_capacity(64)));
        assert_eq!(res.unwrap(), 0, "EOF after the peer closed");
        assert!(buf.is_empty());
    }

    #[test]
    fn a_receive_that_waits_first_gets_data_already_there_and_data_to_come() {
        let Some(driver) = driver_or_skip("a_receive_that_waits_first_gets_data") else {
            return;
        };
        let ops = driver.ops();
        let (mut a, b) = UnixStream::pair().unwrap();
        // The guess is wrong: the data is already queued.
        a.write_all(b"early").unwrap();
        let op = ops.recv_after_drain(b.as_raw_fd(), Vec::with_capacity(64));
        let (res, buf) = block_on(&driver, op);
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"early");
        // The guess is right: the data comes later.
        let mut fut = pin!(ops.recv_after_drain(b.as_raw_fd(), Vec::with_capacity(64)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        turn_until(&driver, || false, 2);
        a.write_all(b"later").unwrap();
        let (res, buf) = block_on(&driver, fut);
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"later");
        assert_eq!(ops.in_flight(), 0);
    }

    #[test]
    fn pending_recv_completes_when_data_arrives() {
        let Some(driver) = driver_or_skip("pending_recv_completes_when_data_arrives") else {
            return;
        };
        let ops = driver.ops();
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut fut = pin!(ops.recv(b.as_raw_fd(), Vec::with_capacity(8)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        turn_until(&driver, || false, 2); // the recv is now parked in the kernel
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        a.write_all(b"late").unwrap();
        let (res, buf) = block_on(&driver, fut);
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"late");
        assert_eq!(ops.in_flight(), 0);
    }
}
