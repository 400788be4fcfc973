//! `IORING_OP_READ` at an offset, into an owned buffer: [`UringOps::read_at`].
//!
//! The kernel writes from the start of the buffer, up to its capacity; on success the
//! buffer's length becomes the number of bytes read (tokio-uring's `IoBufMut` contract for
//! `Vec<u8>`). The buffer lives in the op's slab slot while the kernel owns it.

use super::{BufResult, Op, UringOps, cqe_result, sqe_len, take_buf};
use crate::uring::slab::Keep;
use crate::uring::sys;
use io_uring::{opcode, types};
use std::os::fd::RawFd;

impl UringOps {
    /// Reads from `fd` at `offset` into `buf`'s whole capacity (from its start). Resolves
    /// to the byte count (0 at end of file) and the buffer, whose length is set to that
    /// count. For descriptors without a position (pipes, sockets) pass `offset` 0; pass
    /// `u64::MAX` to use and advance the file position.
    pub fn read_at(&self, fd: RawFd, mut buf: Vec<u8>, offset: u64) -> Op<BufResult> {
        let entry = opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), sqe_len(buf.capacity()))
            .offset(offset)
            .build();
        // SAFETY: the SQE points into `buf`'s heap allocation (its full capacity), which
        // `Keep::Buf` owns until the CQE.
        unsafe { self.submit(entry, Keep::Buf(buf), false, finish_read) }
    }
}

/// Turns a read-like CQE into its output, marking the bytes the kernel wrote.
pub(crate) fn finish_read(res: i32, keep: Keep) -> BufResult {
    let mut buf = take_buf(keep);
    let out = cqe_result(res);
    if let Ok(n) = out {
        sys::set_init(&mut buf, n);
    }
    (out, buf)
}

#[cfg(test)]
mod tests {
    use crate::uring::tests::{block_on, driver_or_skip};
    use std::io::Write;
    use std::os::fd::AsRawFd;

    fn temp_file(contents: &[u8]) -> std::fs::File {
        let path = std::env::temp_dir().join(format!(
            "trioxide-uring-read-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f.write_all(contents).unwrap();
        f
    }

    #[test]
    fn reads_at_an_offset_into_the_capacity() {
        let Some(driver) = driver_or_skip("reads_at_an_offset_into_the_capacity") else {
            return;
        };
        let ops = driver.ops();
        let file = temp_file(b"hello, io_uring");
        let (res, buf) = block_on(
            &driver,
            ops.read_at(file.as_raw_fd(), Vec::with_capacity(5), 7),
        );
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"io_ur");
        // Past the end: 0 bytes, and the buffer comes back emptied.
        let (res, buf) = block_on(&driver, ops.read_at(file.as_raw_fd(), vec![9; 4], 100));
        assert_eq!(res.unwrap(), 0);
        assert!(buf.is_empty());
        assert_eq!(ops.in_flight(), 0);
    }

    #[test]
    fn bad_descriptor_is_a_typed_error_and_returns_the_buffer() {
        let Some(driver) = driver_or_skip("bad_descriptor_is_a_typed_error") else {
            return;
        };
        let ops = driver.ops();
        let (res, buf) = block_on(&driver, ops.read_at(-1, vec![1, 2, 3], 0));
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EBADF));
        assert_eq!(buf, [1, 2, 3], "an error leaves the buffer untouched");
    }
}
