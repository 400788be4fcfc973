//! The process-wide half of signal handling: the `sigaction` handler and the self-pipe.
//!
//! The classic self-pipe trick (D. J. Bernstein's), with a delivery counter per signal:
//! 1. `install(sig)` puts [`on_signal`] in place for `sig` (once per signal, for the
//!    life of the process; the signal's previous disposition is not restored).
//! 2. The handler does only async-signal-safe work: it bumps `DELIVERIES[sig]` (a
//!    lock-free atomic) and then writes one byte to the pipe (non-blocking; a full pipe
//!    already means "readable", so a failed write loses nothing), keeping `errno`.
//! 3. Each listener holds its own duplicate of the pipe's read end, registered with its
//!    runtime's reactor, so every listener, on any runtime, is woken by every write.
//!    Listeners drain the pipe only to re-arm readiness; what they *report* comes from
//!    the counters, so a listener never misses a delivery another listener drained.
//!
//! The statics are `std` atomics, not the loom shim's: a signal handler needs real
//! lock-free atomics in static storage, and no loom model runs signal handlers.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// One past the highest signal number Linux has (`SIGRTMAX` is 64).
pub(crate) const SIGNAL_LIMIT: usize = 65;

/// Deliveries seen by the handler, per signal number.
static DELIVERIES: [AtomicU64; SIGNAL_LIMIT] = [const { AtomicU64::new(0) }; SIGNAL_LIMIT];

/// The pipe's write end, for the handler (`-1` until the pipe exists).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// The pipe: (read end, write end). Both stay open for the life of the process.
static PIPE: OnceLock<(OwnedFd, OwnedFd)> = OnceLock::new();

/// Which signals have our handler installed.
static INSTALLED: Mutex<[bool; SIGNAL_LIMIT]> = Mutex::new([false; SIGNAL_LIMIT]);

/// How many times `sig` was delivered since the process started (0 before `install`).
pub(crate) fn deliveries(sig: i32) -> u64 {
    DELIVERIES[sig as usize].load(Ordering::Acquire)
}

/// The signal handler. Async-signal-safe: one atomic add, one `write`, `errno` kept.
extern "C" fn on_signal(sig: libc::c_int) {
    // SAFETY: `__errno_location` returns this thread's errno slot, always valid.
    let saved_errno = unsafe { *libc::__errno_location() };
    if let Some(count) = DELIVERIES.get(sig as usize) {
        count.fetch_add(1, Ordering::AcqRel);
    }
    let fd = WRITE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: `fd` is the pipe's write end, open for the life of the process; the
        // buffer is one valid byte. The result is ignored on purpose (see the module doc).
        let _ = unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// Creates the pipe on first use.
fn pipe() -> io::Result<&'static (OwnedFd, OwnedFd)> {
    if let Some(pipe) = PIPE.get() {
        return Ok(pipe);
    }
    let mut fds = [-1; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `pipe2` succeeded, so both descriptors are open and owned by nobody else.
    let made = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A racing caller may have won: its pipe is kept and ours is closed on drop.
    let pipe = PIPE.get_or_init(|| made);
    WRITE_FD.store(pipe.1.as_raw_fd(), Ordering::Release);
    Ok(pipe)
}

/// Installs the handler for `sig` (a number [`super::SignalKind`] validated), once.
pub(crate) fn install(sig: i32) -> io::Result<()> {
    pipe()?;
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if installed[sig as usize] {
        return Ok(());
    }
    // SAFETY: an all-zero `sigaction` is a valid starting value (empty mask, no flags).
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action` is initialised, `sa_mask` is a valid set to empty, and the old
    // action is not asked for.
    let rc = unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    installed[sig as usize] = true;
    Ok(())
}

/// A new descriptor for the pipe's read end (non-blocking, close-on-exec), for one
/// listener to register with its reactor.
pub(crate) fn reader() -> io::Result<OwnedFd> {
    let (read, _) = pipe()?;
    read.try_clone()
}

/// Reads whatever is in the pipe (through `fd`, a [`reader`]), to re-arm readiness.
/// `Ok(n)` bytes were drained; `WouldBlock` once it is empty.
pub(crate) fn drain(fd: &OwnedFd) -> io::Result<usize> {
    let mut buf = [0u8; 128];
    // SAFETY: `fd` is open (borrowed for the call) and `buf` is valid for its length.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
