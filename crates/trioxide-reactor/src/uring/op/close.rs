//! `IORING_OP_CLOSE`: [`UringOps::close`].
//!
//! The descriptor is given up when the op is submitted: the kernel closes it whether or
//! not the future is awaited (a dropped close still closes). Registrations must be
//! dropped before closing a registered descriptor, as with `close(2)`.

use super::write::finish_unit;
use super::{Op, UringOps};
use crate::uring::slab::Keep;
use io_uring::{opcode, types};
use std::io;
use std::os::fd::{IntoRawFd, OwnedFd};

impl UringOps {
    /// Closes `fd` through the ring. Resolves to the result of the close.
    pub fn close(&self, fd: OwnedFd) -> Op<io::Result<()>> {
        let raw = fd.into_raw_fd();
        let entry = opcode::Close::new(types::Fd(raw)).build();
        // SAFETY: a close SQE carries no pointer.
        unsafe { self.submit(entry, Keep::None, false, finish_unit) }
    }
}

#[cfg(test)]
mod tests {
    use crate::uring::tests::{block_on, driver_or_skip, turn_until};
    use std::io::Read;
    use std::os::fd::OwnedFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn close_is_seen_by_the_peer() {
        let Some(driver) = driver_or_skip("close_is_seen_by_the_peer") else {
            return;
        };
        let (a, mut b) = UnixStream::pair().unwrap();
        block_on(&driver, driver.ops().close(OwnedFd::from(a))).unwrap();
        let mut buf = [0; 1];
        assert_eq!(b.read(&mut buf).unwrap(), 0, "the peer sees EOF");
    }

    #[test]
    fn dropped_close_still_closes() {
        let Some(driver) = driver_or_skip("dropped_close_still_closes") else {
            return;
        };
        let ops = driver.ops();
        let (a, mut b) = UnixStream::pair().unwrap();
        drop(ops.close(OwnedFd::from(a)));
        turn_until(&driver, || ops.in_flight() == 0, 200);
        let mut buf = [0; 1];
        assert_eq!(b.read(&mut buf).unwrap(), 0);
    }
}
