//! Path operations: `IORING_OP_OPENAT` ([`UringOps::openat`]) and `IORING_OP_STATX`
//! ([`UringOps::statx`]).
//!
//! The NUL-terminated path (and the `statx` result buffer) live in the op's slab slot
//! until the CQE. An open whose future was dropped but which still succeeded has its new
//! descriptor closed by the driver.

use super::{Op, UringOps, cqe_result};
use crate::uring::slab::Keep;
use io_uring::{opcode, types};
use std::ffi::CString;
use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `dirfd` meaning "relative to the current directory".
pub const AT_FDCWD: RawFd = libc::AT_FDCWD;

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "path contains an interior NUL byte",
        )
    })
}

impl UringOps {
    /// Opens `path` relative to `dirfd` ([`AT_FDCWD`] for the current directory) with
    /// `open(2)` `flags` (`O_CLOEXEC` is always added) and `mode`.
    pub fn openat(
        &self,
        dirfd: RawFd,
        path: &Path,
        flags: i32,
        mode: u32,
    ) -> Op<io::Result<OwnedFd>> {
        let path = match c_path(path) {
            Ok(p) => p,
            Err(e) => return Op::ready(Err(e)),
        };
        let entry = opcode::OpenAt::new(types::Fd(dirfd), path.as_ptr())
            .flags(flags | libc::O_CLOEXEC)
            .mode(mode)
            .build();
        // SAFETY: the SQE points into the `CString`'s heap allocation, which `Keep::Path`
        // owns until the CQE.
        unsafe { self.submit(entry, Keep::Path(path), true, super::accept::finish_fd) }
    }

    /// The `statx(2)` metadata of `path` (following symlinks), relative to the current
    /// directory.
    pub fn statx(&self, path: &Path) -> Op<io::Result<libc::statx>> {
        let path = match c_path(path) {
            Ok(p) => p,
            Err(e) => return Op::ready(Err(e)),
        };
        let mut buf = Box::new(zeroed_statx());
        let entry = opcode::Statx::new(
            types::Fd(libc::AT_FDCWD),
            path.as_ptr(),
            (&mut *buf as *mut libc::statx).cast::<types::statx>(),
        )
        .mask(libc::STATX_BASIC_STATS)
        .build();
        // SAFETY: the SQE points into the `CString` and the boxed `statx`, both heap
        // allocations owned by `Keep::Statx` until the CQE.
        unsafe { self.submit(entry, Keep::Statx(path, buf), false, finish_statx) }
    }
}

fn zeroed_statx() -> libc::statx {
    crate::uring::sys::zeroed_statx()
}

fn finish_statx(res: i32, keep: Keep) -> io::Result<libc::statx> {
    cqe_result(res)?;
    match keep {
        Keep::Statx(_, buf) => Ok(*buf),
        _ => Err(io::Error::other("statx completion lost its buffer")),
    }
}

#[cfg(test)]
mod tests {
    use super::AT_FDCWD;
    use crate::uring::tests::{block_on, driver_or_skip};
    use std::io::Read;
    use std::path::Path;

    #[test]
    fn opens_and_stats_a_file() {
        let Some(driver) = driver_or_skip("opens_and_stats_a_file") else {
            return;
        };
        let ops = driver.ops();
        let path = std::env::temp_dir().join(format!("trioxide-uring-open-{}", std::process::id()));
        std::fs::write(&path, b"twelve bytes").unwrap();
        let fd = block_on(&driver, ops.openat(AT_FDCWD, &path, libc::O_RDONLY, 0)).unwrap();
        let mut s = String::new();
        std::fs::File::from(fd).read_to_string(&mut s).unwrap();
        assert_eq!(s, "twelve bytes");
        let st = block_on(&driver, ops.statx(&path)).unwrap();
        assert_eq!(st.stx_size, 12);
        std::fs::remove_file(&path).unwrap();
        let err = block_on(&driver, ops.openat(AT_FDCWD, &path, libc::O_RDONLY, 0)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        let err = block_on(&driver, ops.statx(&path)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn interior_nul_is_invalid_input() {
        let Some(driver) = driver_or_skip("interior_nul_is_invalid_input") else {
            return;
        };
        let err = block_on(
            &driver,
            driver.ops().openat(AT_FDCWD, Path::new("a\0b"), 0, 0),
        )
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(driver.ops().in_flight(), 0);
    }
}
