//! `IORING_OP_WRITE` at an offset from an owned buffer ([`UringOps::write_at`]) and
//! `IORING_OP_FSYNC` ([`UringOps::fsync`]), the two halves of durable file writes.
//!
//! The kernel reads `buf[..buf.len()]`; the buffer lives in the op's slab slot until the
//! CQE and is handed back unchanged.

use super::{BufResult, Op, UringOps, cqe_result, sqe_len, take_buf};
use crate::uring::slab::Keep;
use io_uring::{opcode, types};
use std::io;
use std::os::fd::RawFd;

impl UringOps {
    /// Writes `buf` to `fd` at `offset` (`u64::MAX`: at the file position). Resolves to
    /// the number of bytes written, which may be short, and the buffer.
    pub fn write_at(&self, fd: RawFd, buf: Vec<u8>, offset: u64) -> Op<BufResult> {
        let entry = opcode::Write::new(types::Fd(fd), buf.as_ptr(), sqe_len(buf.len()))
            .offset(offset)
            .build();
        // SAFETY: the SQE points into `buf`'s heap allocation (its initialised length),
        // which `Keep::Buf` owns until the CQE.
        unsafe { self.submit(entry, Keep::Buf(buf), false, finish_write) }
    }

    /// Flushes `fd`'s data and metadata to storage, like `fsync(2)`.
    pub fn fsync(&self, fd: RawFd) -> Op<io::Result<()>> {
        let entry = opcode::Fsync::new(types::Fd(fd)).build();
        // SAFETY: an fsync SQE carries no pointer.
        unsafe { self.submit(entry, Keep::None, false, finish_unit) }
    }
}

/// Turns a write-like CQE into its output.
pub(crate) fn finish_write(res: i32, keep: Keep) -> BufResult {
    (cqe_result(res), take_buf(keep))
}

/// Turns a CQE whose only information is success into `io::Result<()>`.
pub(crate) fn finish_unit(res: i32, _keep: Keep) -> io::Result<()> {
    cqe_result(res).map(drop)
}

#[cfg(test)]
mod tests {
    use crate::uring::tests::{block_on, driver_or_skip};
    use std::io::Read;
    use std::os::fd::AsRawFd;

    #[test]
    fn writes_at_offsets_then_fsyncs() {
        let Some(driver) = driver_or_skip("writes_at_offsets_then_fsyncs") else {
            return;
        };
        let ops = driver.ops();
        let path =
            std::env::temp_dir().join(format!("trioxide-uring-write-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        let (res, buf) = block_on(
            &driver,
            ops.write_at(file.as_raw_fd(), b"world".to_vec(), 6),
        );
        assert_eq!(res.unwrap(), 5);
        assert_eq!(buf, b"world", "the buffer comes back");
        let (res, _) = block_on(
            &driver,
            ops.write_at(file.as_raw_fd(), b"hello ".to_vec(), 0),
        );
        assert_eq!(res.unwrap(), 6);
        block_on(&driver, ops.fsync(file.as_raw_fd())).unwrap();
        let mut contents = String::new();
        file.read_to_string(&mut contents).unwrap();
        assert_eq!(contents, "hello world");
        assert_eq!(ops.in_flight(), 0);
    }

    #[test]
    fn fsync_of_a_bad_descriptor_fails() {
        let Some(driver) = driver_or_skip("fsync_of_a_bad_descriptor_fails") else {
            return;
        };
        let err = block_on(&driver, driver.ops().fsync(-1)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }
}
