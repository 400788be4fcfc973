//! `IORING_OP_SEND` from an owned buffer: [`UringOps::send`].
//!
//! The kernel reads `buf[..buf.len()]`. `MSG_NOSIGNAL` is always added, so a send to a
//! reset peer is an `EPIPE` error, never a `SIGPIPE` that kills the process.

use super::write::finish_write;
use super::{BufResult, Op, UringOps, sqe_len};
use crate::uring::slab::Keep;
use io_uring::{opcode, types};
use std::os::fd::RawFd;

impl UringOps {
    /// Sends `buf` on the socket `fd`. Resolves to the number of bytes sent (possibly
    /// short) and the buffer.
    pub fn send(&self, fd: RawFd, buf: Vec<u8>) -> Op<BufResult> {
        self.send_with_flags(fd, buf, 0)
    }

    /// [`send`](Self::send) with `send(2)` flags; `MSG_NOSIGNAL` is always added.
    pub fn send_with_flags(&self, fd: RawFd, buf: Vec<u8>, flags: i32) -> Op<BufResult> {
        let entry = opcode::Send::new(types::Fd(fd), buf.as_ptr(), sqe_len(buf.len()))
            .flags(flags | libc::MSG_NOSIGNAL)
            .build();
        // SAFETY: the SQE points into `buf`'s heap allocation (its initialised length),
        // which `Keep::Buf` owns until the CQE.
        unsafe { self.submit(entry, Keep::Buf(buf), false, finish_write) }
    }
}

#[cfg(test)]
mod tests {
    use crate::uring::tests::{block_on, driver_or_skip};
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn sends_to_the_peer() {
        let Some(driver) = driver_or_skip("sends_to_the_peer") else {
            return;
        };
        let ops = driver.ops();
        let (a, mut b) = UnixStream::pair().unwrap();
        let (res, buf) = block_on(&driver, ops.send(a.as_raw_fd(), b"pong".to_vec()));
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"pong");
        let mut got = [0; 4];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"pong");
    }

    #[test]
    fn send_to_a_closed_peer_is_epipe_not_sigpipe() {
        let Some(driver) = driver_or_skip("send_to_a_closed_peer_is_epipe_not_sigpipe") else {
            return;
        };
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let (res, buf) = block_on(&driver, driver.ops().send(a.as_raw_fd(), vec![0; 16]));
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EPIPE));
        assert_eq!(buf.len(), 16);
    }
}
