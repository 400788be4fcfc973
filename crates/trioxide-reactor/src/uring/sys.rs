//! The raw edge of the io_uring driver: the ring shared between threads, the wake-up
//! eventfd, and the few conversions that trust a kernel result. Every `unsafe` of the
//! io_uring backend lives in this file.
//!
//! The ring follows the single-producer / single-consumer protocol of `io_uring(7)`: user
//! space produces submission entries (SQEs) and consumes completion entries (CQEs), the
//! kernel does the opposite, and each side publishes its ring index with a release store.
//! Several threads share one ring here, so each side gets its own lock.
//!
//! # Safety protocol
//! 1. The submission queue is only opened (`IoUring::submission_shared`) while
//!    `sq_lock` is held, so at most one `SubmissionQueue` exists at a time. `sq_lock` is
//!    never held across a blocking `io_uring_enter` (a non-blocking submit is fine: the
//!    kernel serialises submitters under its own `uring_lock`).
//!
//! The kernel ties each request to the thread that submitted it and cancels it when that
//! thread exits. So SQEs are normally submitted by the thread in [`Ring::wait`] (a
//! long-lived worker): a push made while another thread is blocked there writes the
//! wake-up eventfd, and the waiter submits it with its next enter. Only a push that finds
//! the queue full submits from the pushing thread.
//! 2. The completion queue is only opened (`IoUring::completion_shared`) while `cq_lock`
//!    is held, so at most one `CompletionQueue` exists at a time.
//! 3. Every pointer inside a pushed SQE points into memory that stays valid and unmoved
//!    until the operation's CQE has been reaped: operations point into the heap part of a
//!    `Keep` owned by the op's slab slot (freed only after its CQE, or leaked if the ring is
//!    torn down first); polls, poll removals and cancellations carry no pointer.
//! 4. [`set_init`] only shortens or lengthens a `Vec<u8>` within its capacity, after the
//!    kernel reported that many bytes written from the start of the buffer.
//! 5. A descriptor number returned in a CQE (accept, openat) is wrapped in an `OwnedFd`
//!    exactly once, by [`owned_fd`], by whoever takes the completion.

use crate::loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use io_uring::types::{SubmitArgs, Timespec};
use io_uring::{IoUring, squeue};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::PoisonError;
use std::time::Duration;

/// Locks `m`, ignoring poison: every critical section here leaves its data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One io_uring instance shared by every thread of a driver.
pub(crate) struct Ring {
    uring: IoUring,
    /// Guards the submission queue (rule 1).
    sq_lock: Mutex<()>,
    /// Guards the completion queue (rule 2); held by the reaping thread only.
    cq_lock: Mutex<()>,
    /// Set while a thread is (about to be) blocked in `io_uring_enter`: a push then wakes
    /// it through the eventfd to submit.
    in_wait: AtomicBool,
    /// Set by every push, cleared just before each `io_uring_enter` (which submits what
    /// was pushed before it): whether SQEs may be waiting for submission.
    unsubmitted: AtomicBool,
    /// Like `unsubmitted`, but only for pushes from a thread other than `driver_thread`:
    /// SQEs that the driving thread does not know about and would leave queued until its
    /// next wait.
    foreign_unsubmitted: AtomicBool,
    /// The [`thread_token`] of the thread that drives the ring (see
    /// [`claim_driver_thread`](Ring::claim_driver_thread)); 0 before any claimed it.
    driver_thread: AtomicUsize,
    /// `io_uring_enter` calls made so far.
    enters: AtomicU64,
    /// Submission entries pushed (written under `sq_lock`).
    pushed: AtomicU64,
    /// Completions reaped (written under `cq_lock`).
    reaped: AtomicU64,
    /// The eventfd that interrupts a blocked `wait` (`unpark`, and pushes made meanwhile).
    wake: EventFd,
    /// Set up with `IORING_SETUP_COOP_TASKRUN` for a ring that one thread owns
    /// ([`Ring::new_owned`]): only that thread submits, other threads only push.
    owned: bool,
}

impl Ring {
    /// Sets up a ring with `entries` SQEs and `cq_entries` CQEs.
    pub(crate) fn new(entries: u32, cq_entries: u32) -> io::Result<Ring> {
        let uring = IoUring::builder()
            .setup_cqsize(cq_entries)
            .setup_clamp()
            .build(entries)?;
        Self::with(uring, false)
    }

    /// A ring that one thread owns — submits to and waits on (a WorkStealing worker's) —
    /// set up with `IORING_SETUP_COOP_TASKRUN`: the kernel then never interrupts that
    /// thread with an inter-processor interrupt to run a request's completion work, but
    /// runs it at the thread's next kernel entry. Each event of a socket otherwise costs
    /// an IPI; on a virtual machine that was a third of an echo server's time (every IPI
    /// is a VM exit). It is only correct if no other thread submits, since a request's
    /// completion work runs on its submitter — a thread parked elsewhere would leave it
    /// pending: so on an owned ring, other threads' cancellations are only queued for the
    /// owner (see [`push_cancel`](Self::push_cancel)). Falls back to a plain ring on
    /// kernels without the flag (before 5.19).
    pub(crate) fn new_owned(entries: u32, cq_entries: u32) -> io::Result<Ring> {
        let coop = IoUring::builder()
            .setup_cqsize(cq_entries)
            .setup_clamp()
            .setup_coop_taskrun()
            .build(entries);
        match coop {
            Ok(uring) => Self::with(uring, true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Self::new(entries, cq_entries),
            Err(e) => Err(e),
        }
    }

    fn with(uring: IoUring, owned: bool) -> io::Result<Ring> {
        Ok(Ring {
            uring,
            sq_lock: Mutex::new(()),
            cq_lock: Mutex::new(()),
            in_wait: AtomicBool::new(false),
            unsubmitted: AtomicBool::new(false),
            foreign_unsubmitted: AtomicBool::new(false),
            driver_thread: AtomicUsize::new(0),
            enters: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
            reaped: AtomicU64::new(0),
            wake: EventFd::new()?,
            owned,
        })
    }

    /// The ring's setup parameters (features).
    pub(crate) fn params(&self) -> &io_uring::Parameters {
        self.uring.params()
    }

    /// The ring's submitter, for `register_*` calls.
    pub(crate) fn submitter(&self) -> io_uring::Submitter<'_> {
        self.uring.submitter()
    }

    /// How many `io_uring_enter` calls this ring has made.
    /// Entries pushed and completions reaped so far.
    pub(crate) fn pushed_and_reaped(&self) -> (u64, u64) {
        (
            self.pushed.load(Ordering::Relaxed),
            self.reaped.load(Ordering::Relaxed),
        )
    }

    pub(crate) fn enters(&self) -> u64 {
        self.enters.load(Ordering::Relaxed)
    }

    /// The ring's own descriptor (polls readable when completions are waiting).
    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.uring.as_raw_fd()
    }

    /// The wake-up eventfd.
    pub(crate) fn wake(&self) -> &EventFd {
        &self.wake
    }

    /// Queues `entry`; it goes to the kernel with the next `wait`, batched with everything
    /// else queued meanwhile. If a thread is blocked in [`Ring::wait`] now, it is woken
    /// (one eventfd write) to submit the entry.
    ///
    /// # Safety
    /// Every pointer in `entry` must satisfy rule 3 of the module docs.
    pub(crate) unsafe fn push(&self, entry: &squeue::Entry) -> io::Result<()> {
        let _guard = lock(&self.sq_lock);
        // SAFETY: rule 1 — `sq_lock` is held, so this is the only `SubmissionQueue`.
        let mut sq = unsafe { self.uring.submission_shared() };
        if sq.is_full() {
            drop(sq); // publishes the tail
            self.submit_now()?;
            // SAFETY: rule 1, as above; the previous queue was dropped.
            sq = unsafe { self.uring.submission_shared() };
            sq.sync();
        }
        // SAFETY: the caller guarantees rule 3 for the pointers in `entry`.
        unsafe { sq.push(entry) }.map_err(|_| {
            io::Error::new(
                io::ErrorKind::ResourceBusy,
                "io_uring submission queue is full",
            )
        })?;
        drop(sq); // publishes the tail (release store)
        self.note_unsubmitted();
        // Written under `sq_lock` only: a plain load + store.
        self.pushed
            .store(self.pushed.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        if self.in_wait.load(Ordering::SeqCst) {
            self.wake.notify()?;
        }
        Ok(())
    }

    /// Queues `entries` back to back, as one link chain must be (`IOSQE_IO_LINK` links an
    /// SQE to the one right after it in the queue), and wakes a blocked waiter as
    /// [`push`](Self::push) does.
    ///
    /// # Safety
    /// Every pointer in every entry must satisfy rule 3 of the module docs.
    pub(crate) unsafe fn push_chain(&self, entries: &[squeue::Entry]) -> io::Result<()> {
        let _guard = lock(&self.sq_lock);
        // SAFETY: rule 1 — `sq_lock` is held, so this is the only `SubmissionQueue`.
        let mut sq = unsafe { self.uring.submission_shared() };
        if sq.capacity() - sq.len() < entries.len() {
            drop(sq); // publishes the tail
            self.submit_now()?;
            // SAFETY: rule 1, as above; the previous queue was dropped.
            sq = unsafe { self.uring.submission_shared() };
            sq.sync();
        }
        // SAFETY: the caller guarantees rule 3 for the pointers in `entries`; `push_multiple`
        // queues all of them or none.
        unsafe { sq.push_multiple(entries) }.map_err(|_| {
            io::Error::new(
                io::ErrorKind::ResourceBusy,
                "io_uring submission queue is full",
            )
        })?;
        drop(sq); // publishes the tail (release store)
        self.note_unsubmitted();
        if self.in_wait.load(Ordering::SeqCst) {
            self.wake.notify()?;
        }
        Ok(())
    }

    /// Queues an entry that cancels an earlier one (`entry` carries no pointer) and makes
    /// sure it reaches the kernel now: a thread blocked in `wait` is woken to submit it
    /// (as by `push`), otherwise this thread submits it. Two reasons not to leave it for
    /// the next `wait`: the caller is about to let the descriptor be closed, and the
    /// request being cancelled keeps the descriptor's file open in the kernel until it
    /// ends — on an idle runtime (a `block_on` that just returned) no `wait` may come for
    /// a long time, and the peer would never see the connection close. And an op SQE
    /// still in the queue names the descriptor *number*, which the kernel only resolves
    /// at submission, so a number reused by a new socket in between would receive the
    /// stale op; once submitted, the op holds the file itself.
    ///
    /// On an owned ring ([`Ring::new_owned`]) the owner submits it at once as well (its
    /// own pushes otherwise wait for its next `wait`); another thread only pushes: a
    /// waiting owner is woken by it, and a running owner sees the queued entry at its next
    /// check between tasks ([`needs_owner_turn`](Self::needs_owner_turn), every few ticks
    /// of a WorkStealing worker).
    pub(crate) fn push_cancel(&self, entry: &squeue::Entry) -> io::Result<()> {
        // SAFETY: a cancel entry carries no pointer (rule 3 holds trivially).
        unsafe { self.push(entry) }?;
        if self.owned {
            // The owner submits at once even while a neighbour is in an enter on its
            // ring (`in_wait`; that enter may have read the tail before this push): the
            // kernel serialises submitters.
            if self.driver_thread.load(Ordering::Relaxed) == thread_token() {
                self.submit_now()?;
            }
        } else if !self.in_wait.load(Ordering::SeqCst) {
            self.submit_now()?;
        }
        Ok(())
    }

    /// Records the calling thread as the one that drives the ring (the driver's `wait`
    /// does, on every call: neighbours reap and flush through other calls). Its own
    /// pushes may then wait for its next wait ([`needs_owner_turn`](Self::needs_owner_turn)),
    /// and on an owned ring its cancellations are submitted at once by itself.
    pub(crate) fn claim_driver_thread(&self) {
        let me = thread_token();
        if self.driver_thread.load(Ordering::Relaxed) != me {
            self.driver_thread.store(me, Ordering::Relaxed);
        }
    }

    /// Records that SQEs wait for submission (called under `sq_lock`, after a push).
    fn note_unsubmitted(&self) {
        self.unsubmitted.store(true, Ordering::Relaxed);
        if self.driver_thread.load(Ordering::Relaxed) != thread_token() {
            self.foreign_unsubmitted.store(true, Ordering::Relaxed);
        }
    }

    /// Called just before an `io_uring_enter` that submits everything pushed so far.
    fn clear_unsubmitted(&self) {
        self.unsubmitted.store(false, Ordering::Relaxed);
        self.foreign_unsubmitted.store(false, Ordering::Relaxed);
    }

    /// Hands every queued SQE to the kernel without waiting.
    fn submit_now(&self) -> io::Result<()> {
        self.clear_unsubmitted();
        self.enters.fetch_add(1, Ordering::Relaxed);
        match self.uring.submitter().submit() {
            Ok(_) => Ok(()),
            Err(e) if transient(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Submits everything queued and waits until at least one CQE is available, `timeout`
    /// passed (`None`: no limit) or a signal arrived — one `io_uring_enter`.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.in_wait.store(true, Ordering::SeqCst);
        // Taking the lock orders this wait after any push that saw `in_wait == false`:
        // such a push published its tail before releasing the lock, and this enter reads
        // the tail after acquiring it.
        drop(lock(&self.sq_lock));
        self.clear_unsubmitted();
        self.enters.fetch_add(1, Ordering::Relaxed);
        let submitter = self.uring.submitter();
        let res = match timeout {
            Some(d) if d.is_zero() => submitter.submit(),
            Some(d) => {
                let ts = Timespec::new().sec(d.as_secs()).nsec(d.subsec_nanos());
                let args = SubmitArgs::new().timespec(&ts);
                submitter.submit_with_args(1, &args)
            }
            None => submitter.submit_and_wait(1),
        };
        self.in_wait.store(false, Ordering::SeqCst);
        match res {
            Ok(_) => Ok(()),
            Err(e) if transient(&e) || e.raw_os_error() == Some(libc::ETIME) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether a zero-timeout `wait` would find work: SQEs pushed since the last enter,
    /// or CQEs posted and not reaped — read from the shared ring memory, no system call.
    /// (A stale `false` only delays the work to the next check or wait.)
    pub(crate) fn work_waiting(&self) -> bool {
        self.unsubmitted.load(Ordering::Relaxed) || self.completions_posted()
    }

    /// Whether the thread that drives this ring should turn it before it runs out of
    /// tasks: CQEs posted, or SQEs pushed by other threads. SQEs it pushed itself are
    /// left for its next wait, so that a tick's submissions reach the kernel together.
    pub(crate) fn needs_owner_turn(&self) -> bool {
        self.foreign_unsubmitted.load(Ordering::Relaxed) || self.completions_posted()
    }

    /// Whether CQEs are posted and not reaped, read from the shared ring memory.
    fn completions_posted(&self) -> bool {
        let Ok(_guard) = self.cq_lock.try_lock() else {
            return false; // another thread is reaping right now
        };
        // SAFETY: rule 2 — `cq_lock` is held, so this is the only `CompletionQueue`.
        let cq = unsafe { self.uring.completion_shared() };
        !cq.is_empty()
    }

    /// Calls `f(user_data, result, flags)` for every available CQE, in order, holding
    /// `cq_lock` throughout (so two reapers never interleave).
    pub(crate) fn reap(&self, mut f: impl FnMut(u64, i32, u32)) {
        let _guard = lock(&self.cq_lock);
        // SAFETY: rule 2 — `cq_lock` is held, so this is the only `CompletionQueue`.
        let mut cq = unsafe { self.uring.completion_shared() };
        loop {
            cq.sync();
            if cq.is_empty() {
                break;
            }
            let mut n = 0;
            for cqe in &mut cq {
                n += 1;
                f(cqe.user_data(), cqe.result(), cqe.flags());
            }
            // Written under `cq_lock` only: a plain load + store.
            self.reaped
                .store(self.reaped.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        }
    }
}

/// A number unique to the calling thread for the life of the process (never 0, never
/// reused by a later thread, unlike a thread-local's address).
fn thread_token() -> usize {
    // A plain std atomic: an id counter outside every loom model (no ordering matters).
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    std::thread_local! {
        static TOKEN: usize = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    TOKEN.with(|t| *t)
}

/// Errors of `io_uring_enter` that only mean "try again later": interrupted, busy with
/// overflowed completions (reaping fixes it), or out of kernel memory for a moment.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR) | Some(libc::EBUSY) | Some(libc::EAGAIN)
    )
}

/// The non-blocking eventfd that `unpark` writes to.
#[derive(Debug)]
pub(crate) struct EventFd(OwnedFd);

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: plain syscall with constant flags; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(EventFd(owned_fd(fd)))
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Adds one to the counter; a full counter (EAGAIN) still means a wake-up is pending.
    pub(crate) fn notify(&self) -> io::Result<()> {
        let one = 1u64;
        // SAFETY: writes 8 bytes from `one`, which is 8 bytes long.
        let n = unsafe { libc::write(self.raw(), (&one as *const u64).cast(), 8) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Resets the counter; EAGAIN (already zero) is fine.
    pub(crate) fn drain(&self) {
        let mut buf = 0u64;
        // SAFETY: reads 8 bytes into `buf`, which is 8 bytes long.
        let _ = unsafe { libc::read(self.raw(), (&mut buf as *mut u64).cast(), 8) };
    }
}

/// Wraps a descriptor number that a CQE (or a syscall) just returned (rule 5).
pub(crate) fn owned_fd(fd: RawFd) -> OwnedFd {
    debug_assert!(fd >= 0);
    // SAFETY: rule 5 — `fd` was just returned to us by the kernel and nobody else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Sets `buf`'s length to `n` after the kernel wrote `n` bytes at its start (rule 4).
/// A length beyond the capacity (which the kernel never reports) leaves `buf` unchanged.
pub(crate) fn set_init(buf: &mut Vec<u8>, n: usize) {
    debug_assert!(n <= buf.capacity());
    if n <= buf.capacity() {
        // SAFETY: rule 4 — `n` is within the capacity and the kernel initialised the first
        // `n` bytes (those below the old length were initialised already).
        unsafe { buf.set_len(n) };
    }
}

/// A `sockaddr_storage` whose bytes are `bytes` (a `sockaddr_in{,6}` image, zero padded).
pub(crate) fn sockaddr_storage_from_bytes(
    bytes: [u8; std::mem::size_of::<libc::sockaddr_storage>()],
) -> libc::sockaddr_storage {
    // SAFETY: `sockaddr_storage` is plain old data (integers and padding), so every bit
    // pattern, including this one of exactly its size, is a valid value.
    unsafe {
        std::mem::transmute::<
            [u8; std::mem::size_of::<libc::sockaddr_storage>()],
            libc::sockaddr_storage,
        >(bytes)
    }
}

/// The bytes of a `sockaddr_storage` the kernel wrote (decoded field by field by the
/// caller).
pub(crate) fn sockaddr_storage_bytes(
    storage: &libc::sockaddr_storage,
) -> [u8; std::mem::size_of::<libc::sockaddr_storage>()] {
    // SAFETY: `sockaddr_storage` is plain old data of exactly this size; every byte of it
    // is initialised (it was created zeroed, then written by the kernel).
    unsafe {
        std::mem::transmute::<
            libc::sockaddr_storage,
            [u8; std::mem::size_of::<libc::sockaddr_storage>()],
        >(*storage)
    }
}

/// The memory of one `sendmsg` / `recvmsg`: the message header, its single `iovec`, the
/// peer address and the data buffer, all in one box so the header's pointers (into the
/// box and into the buffer's heap allocation) stay valid while the box is moved around.
pub(crate) struct MsgBuf {
    pub(crate) hdr: libc::msghdr,
    iov: libc::iovec,
    pub(crate) addr: libc::sockaddr_storage,
    pub(crate) buf: Vec<u8>,
}

// SAFETY: the raw pointers in `hdr` and `iov` point only into this same allocation and
// into `buf`'s heap allocation, which move (are owned) together; nothing else is shared,
// so sending the box to another thread sends everything the pointers reach.
unsafe impl Send for MsgBuf {}

impl MsgBuf {
    /// A message over `buf` — its capacity for a receive (`recv: true`), its length for a
    /// send — with `addr` (`len` bytes) as the destination, or room for the sender.
    pub(crate) fn new(
        buf: Vec<u8>,
        addr: libc::sockaddr_storage,
        addr_len: libc::socklen_t,
        recv: bool,
    ) -> Box<MsgBuf> {
        // SAFETY: `msghdr` and `iovec` are plain old data for which all-zero (null
        // pointers, zero lengths) is valid.
        let (hdr, iov) = unsafe { (std::mem::zeroed(), std::mem::zeroed()) };
        let mut msg = Box::new(MsgBuf {
            hdr,
            iov,
            addr,
            buf,
        });
        let m = &mut *msg;
        m.iov.iov_base = m.buf.as_mut_ptr().cast();
        m.iov.iov_len = if recv { m.buf.capacity() } else { m.buf.len() };
        m.hdr.msg_name = (&raw mut m.addr).cast();
        m.hdr.msg_namelen = addr_len;
        m.hdr.msg_iov = &raw mut m.iov;
        m.hdr.msg_iovlen = 1;
        msg
    }
}

impl std::fmt::Debug for MsgBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgBuf")
            .field("len", &self.buf.len())
            .finish_non_exhaustive()
    }
}

/// An all-zero `statx`, for the kernel to fill.
pub(crate) fn zeroed_statx() -> libc::statx {
    // SAFETY: `statx` is plain old data (integers only), for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}
