//! The io_uring driver: the readiness [`Driver`] of the reactor implemented with
//! multishot `IORING_OP_POLL_ADD`, plus completion-based operations on owned buffers
//! ([`UringOps`]) in the style of tokio-uring and monoio.
//!
//! # Design
//! - **One ring, shareable.** A [`UringDriver`] owns one ring (the WorkStealing runtime
//!   makes one driver per worker, so that each ring has one waiting thread; see the
//!   facade's `runtime/worker_io.rs`). `register`, `deregister`,
//!   `unpark` and every op submission may come from any thread; `wait` runs on the thread
//!   that turns the reactor. The submission queue is behind a `Mutex` (the simplest correct
//!   multi-producer scheme: pushes are a few stores, so the lock is short; a lock-free
//!   MPSC staging queue would only pay off with many submitting threads per ring), and the
//!   completion queue behind another one, held only while reaping. Neither lock is held
//!   while blocked in `io_uring_enter` (see `sys.rs`, rule 1).
//! - **Batching.** SQEs queued by the thread that will park go to the kernel with its
//!   `wait`: one `io_uring_enter` both submits and waits (`EXT_ARG` timeout). SQEs queued
//!   while another thread is blocked in `wait` are flushed by their submitter at once, so
//!   nothing sits unsubmitted behind a sleeping waiter.
//! - **Readiness** (`op/poll.rs`): multishot polls, re-armed when the kernel ends them,
//!   keyed by descriptor with a generation in `user_data`.
//! - **Wake-ups**: an eventfd watched by a multishot poll; `unpark` writes to it. Its
//!   completion belongs to the ring's waiter: when another thread reaps it
//!   (`reap_posted`, `flush_posted`: a WorkStealing worker looking after a neighbour's
//!   ring just before that neighbour waits), the driver remembers it
//!   (`Shared::wake_taken`) and the waiter's next `wait` returns at once instead of
//!   sleeping through the unpark.
//! - **Completions** (`slab.rs`, `op/*.rs`): each op's buffer is owned by its slab slot
//!   until the CQE arrives, even if the future was dropped (then an async cancel is
//!   submitted and the buffer is freed with the CQE).
//! - **Thread exit.** The kernel cancels a thread's requests when it exits. SQEs are
//!   therefore submitted by the waiting thread (a push made while another thread is
//!   blocked in `wait` wakes it through the eventfd instead of entering itself), and a
//!   `-ECANCELED` we did not ask for is undone: readiness polls are re-armed and ops are
//!   resubmitted (at most three times) from their kept SQE.
//! - **Syscall accounting**: [`UringDriver::enter_count`] counts every `io_uring_enter`
//!   (submits and waits alike), for syscalls-per-operation figures in benchmarks.
//!
//! `user_data` layout: the top two bits tag the kind — `0` op (slab index and
//! generation), `1` readiness poll (descriptor and generation), `2` the driver's own
//! entries (the wake-up poll, and cancellations whose results are ignored), `3` the
//! cancellation of a readiness poll (retried if it met the poll mid-wake-up).
//!
//! `unsafe` lives in `sys.rs` (the ring, with its numbered safety rules) and in one
//! submission call per op file, each stating which `Keep` its pointers refer to.

mod op;
mod probe;
mod slab;
mod sys;

pub use op::msg::RecvFromResult;
pub use op::multi_accept::MultiAccept;
pub use op::open::AT_FDCWD;
pub use op::{BufResult, KeepingOpen, Op, UringOps};
pub use probe::{FORCE_UNAVAILABLE_ENV, UringUnavailable, probe};
pub use slab::KeepOpen;

use crate::driver::{Driver, Event, Interest};
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::loom::sync::{Arc, Mutex};
use io_uring::{cqueue, opcode, types};
use op::poll::{PollTable, poll_add, poll_mask, push_plain};
use slab::{Keep, OpSlab};
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};
use sys::{Ring, lock};

/// Where the kind tag sits in `user_data`.
pub(crate) const TAG_SHIFT: u32 = 62;
/// Tag of completion-based operations.
pub(crate) const TAG_OP: u64 = 0;
/// Tag of readiness polls.
pub(crate) const TAG_POLL: u64 = 1;
/// Tag of the driver's own entries.
pub(crate) const TAG_INTERNAL: u64 = 2;
/// Tag of the cancellation of a readiness poll (the poll's descriptor and generation
/// below it, as in the poll's own `user_data`).
pub(crate) const TAG_POLL_CANCEL: u64 = 3;
/// `user_data` of the wake-up eventfd's poll.
pub(crate) const WAKE_UD: u64 = TAG_INTERNAL << TAG_SHIFT;
/// `user_data` of entries whose completion is ignored (poll removals, async cancels).
pub(crate) const IGNORE_UD: u64 = (TAG_INTERNAL << TAG_SHIFT) | 1;

/// Submission queue entries of a driver's ring.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue entries (room for every op of a full SQ plus its cancellation).
const CQ_ENTRIES: u32 = 8192;
/// How long dropping a driver waits for cancelled operations to complete before it leaks
/// their buffers rather than free memory the kernel may still write.
const TEARDOWN_GRACE: Duration = Duration::from_secs(2);

/// State shared by the driver and every [`UringOps`] handle and op future.
pub(crate) struct Shared {
    pub(crate) ring: Ring,
    polls: Mutex<PollTable>,
    pub(crate) ops: Mutex<OpSlab>,
    /// Operations completed so far (`Driver::completions`).
    completed: AtomicU64,
    /// Whether multishot accept may be used: the kernel is 5.19 or newer, and no
    /// multishot accept was rejected with `EINVAL` yet.
    pub(crate) multishot_accept: AtomicBool,
    /// A thread other than the waiter reaped the wake-up poll's completion: the unpark it
    /// carried is still owed to the waiter, whose next `wait` returns at once. Set and
    /// taken only by reaps and waits, which the reactor serialises (its events lock), so
    /// the next wait always sees it.
    wake_taken: AtomicBool,
}

/// Who reaps the completion queue: the ring's waiter (its own `wait`), or another
/// thread collecting what is posted for it (`reap_posted`, `flush_posted`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reaper {
    Waiter,
    Other,
}

/// The io_uring backend of the reactor.
///
/// Create it with [`UringDriver::new`] (after [`probe`]) or through
/// [`Reactor::io_uring`](crate::Reactor::io_uring). Cloning gives another handle to the
/// same ring.
#[derive(Clone)]
pub struct UringDriver {
    shared: Arc<Shared>,
}

impl UringDriver {
    /// Sets up a ring and its wake-up eventfd.
    pub fn new() -> io::Result<UringDriver> {
        Self::with_ring(Ring::new(SQ_ENTRIES, CQ_ENTRIES)?)
    }

    /// Sets up a ring that one thread owns: only that thread waits on it and submits to
    /// it (other threads may register, deregister, push ops and unpark; their entries
    /// are submitted by the owner). With that promise the ring uses
    /// `IORING_SETUP_COOP_TASKRUN`, which spares an inter-processor interrupt per
    /// completion. For a WorkStealing worker's own ring.
    pub fn new_owned() -> io::Result<UringDriver> {
        Self::with_ring(Ring::new_owned(SQ_ENTRIES, CQ_ENTRIES)?)
    }

    fn with_ring(ring: Ring) -> io::Result<UringDriver> {
        if !ring.params().is_feature_ext_arg() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "io_uring lacks IORING_FEAT_EXT_ARG (kernel older than 5.11)",
            ));
        }
        let shared = Shared {
            ring,
            polls: Mutex::new(PollTable::default()),
            ops: Mutex::new(OpSlab::default()),
            completed: AtomicU64::new(0),
            multishot_accept: AtomicBool::new(probe::kernel_at_least(5, 19)),
            wake_taken: AtomicBool::new(false),
        };
        shared.arm_wake()?;
        Ok(UringDriver {
            shared: Arc::new(shared),
        })
    }

    /// A handle for completion-based operations on this driver's ring.
    pub fn ops(&self) -> UringOps {
        UringOps::new(self.shared.clone())
    }

    /// The number of `io_uring_enter` system calls this ring has made: every submit and
    /// every wait counts one. Divide a difference of two readings by the operations done
    /// in between for syscalls per operation.
    pub fn enter_count(&self) -> u64 {
        self.shared.ring.enters()
    }

    /// How many descriptors are registered for readiness.
    pub fn registered(&self) -> usize {
        lock(&self.shared.polls).len()
    }
}

impl Shared {
    fn arm_wake(&self) -> io::Result<()> {
        let mask = poll_mask(Interest::Readable);
        push_plain(&self.ring, &poll_add(self.ring.wake().raw(), mask, WAKE_UD))
    }

    /// Queues an async cancel of the op `user_data`; its own CQE is ignored.
    pub(crate) fn cancel_op(&self, user_data: u64) {
        let cancel = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(IGNORE_UD);
        // If the cancel cannot be queued the op simply runs to completion; its buffer is
        // still freed by its CQE. Flushed at once if the op may still sit in the queue
        // (see `Ring::push_cancel`).
        let _ = self.ring.push_cancel(&cancel);
    }

    /// Reaps every available CQE: readiness into `events`, op completions into wakes.
    /// A wake-up reaped `by` another thread than the waiter is kept for the waiter
    /// (`wake_taken`).
    fn reap(&self, events: &mut Vec<Event>, by: Reaper) {
        let mut wakers = scratch::take();
        let mut orphans: Vec<Keep> = Vec::new();
        let mut orphan_fds: Vec<i32> = Vec::new();
        let mut rearm_wake = false;
        let mut woke = false;
        let mut completed = 0u64;
        // Held across a run of op completions (one lock per batch, not per CQE), and
        // released before any other kind is handled, which takes other locks.
        let mut slab = None;
        self.ring.reap(|user_data, res, flags| {
            if user_data >> TAG_SHIFT != TAG_OP {
                slab = None;
            }
            match user_data >> TAG_SHIFT {
                TAG_OP => {
                    completed += 1;
                    let slab = slab.get_or_insert_with(|| lock(&self.ops));
                    let mut released = slab.complete(user_data, res, cqueue::more(flags));
                    if let Some(entry) = released.resubmit.take() {
                        // Pushed under the slab lock, so a concurrent drop's async cancel
                        // is queued after the resubmitted SQE and finds it.
                        // SAFETY: the slot `user_data` still owns the keep-alive `entry`
                        // points into (it was submitted with it and has not completed),
                        // rule 3.
                        match unsafe { self.ring.push(&entry) } {
                            Ok(()) => return,
                            Err(e) => released = slab.complete(user_data, neg_errno(&e), false),
                        }
                    }
                    wakers.extend(released.waker);
                    wakers.append(&mut released.wakers);
                    orphans.extend(released.orphan);
                    orphan_fds.extend(released.orphan_fd);
                }
                TAG_POLL => lock(&self.polls).on_cqe(&self.ring, user_data, res, flags, events),
                TAG_POLL_CANCEL => PollTable::on_cancel_cqe(&self.ring, user_data, res),
                _ if user_data == WAKE_UD => {
                    self.ring.wake().drain();
                    woke = true;
                    // -ECANCELED: the thread that submitted the poll exited (see `sys`).
                    rearm_wake |= !cqueue::more(flags) && (res >= 0 || res == -libc::ECANCELED);
                }
                _ => {}
            }
        });
        drop(slab);
        if completed > 0 {
            self.completed.fetch_add(completed, Ordering::Relaxed);
        }
        if woke && by == Reaper::Other {
            self.wake_taken.store(true, Ordering::Release);
        }
        if rearm_wake {
            // Fails only if the ring is broken, which the next wait reports.
            let _ = self.arm_wake();
        }
        orphan_fds.into_iter().for_each(slab::close_orphan_fd);
        drop(orphans);
        crate::wake::wake_all(wakers.drain(..));
        scratch::give_back(wakers);
    }
}

/// A reusable vector for the wakers one reap collects, so that a batch of completions
/// does not allocate (and grow) a fresh one every time.
mod scratch {
    use std::cell::Cell;
    use std::task::Waker;

    thread_local! {
        static WAKERS: Cell<Vec<Waker>> = const { Cell::new(Vec::new()) };
    }

    /// This thread's vector (empty), or a new one while it is lent out.
    pub(super) fn take() -> Vec<Waker> {
        WAKERS.try_with(Cell::take).unwrap_or_default()
    }

    /// Returns `wakers` (emptied) for the next reap on this thread.
    pub(super) fn give_back(wakers: Vec<Waker>) {
        debug_assert!(wakers.is_empty());
        let _ = WAKERS.try_with(|cell| cell.set(wakers));
    }
}

/// `-errno` of `e`, as a CQE would carry it.
fn neg_errno(e: &io::Error) -> i32 {
    -e.raw_os_error().unwrap_or(libc::EIO)
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Only cancelled ops can be left (every future holds an `Arc<Shared>`). Their
        // buffers may still be written by the kernel: cancel them, wait for their CQEs,
        // and leak whatever is still in flight after the grace period.
        if lock(&self.ops).live() == 0 {
            return;
        }
        let _ = self
            .ring
            .submitter()
            .register_sync_cancel(None, types::CancelBuilder::any());
        let deadline = Instant::now() + TEARDOWN_GRACE;
        let mut events = Vec::new();
        while lock(&self.ops).live() > 0 && Instant::now() < deadline {
            if self.ring.wait(Some(Duration::from_millis(10))).is_err() {
                break;
            }
            self.reap(&mut events, Reaper::Waiter);
            events.clear();
        }
        let slab = std::mem::take(&mut *lock(&self.ops));
        if slab.live() > 0 {
            std::mem::forget(slab);
        }
    }
}

impl Driver for UringDriver {
    fn register(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        lock(&self.shared.polls).register(&self.shared.ring, fd, token, interest)
    }

    fn deregister(&self, fd: RawFd) -> io::Result<()> {
        lock(&self.shared.polls).deregister(&self.shared.ring, fd)
    }

    fn registers_on_first_wait(&self) -> bool {
        true
    }

    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        self.shared.ring.claim_driver_thread();
        // An unpark whose completion another thread reaped was meant for this wait.
        let owed = self.shared.wake_taken.load(Ordering::Relaxed)
            && self.shared.wake_taken.swap(false, Ordering::Acquire);
        self.shared
            .ring
            .wait(if owed { Some(Duration::ZERO) } else { timeout })?;
        self.shared.reap(events, Reaper::Waiter);
        Ok(())
    }

    fn unpark(&self) -> io::Result<()> {
        self.shared.ring.wake().notify()
    }

    fn work_waiting(&self) -> bool {
        self.shared.ring.work_waiting()
    }

    fn needs_owner_turn(&self) -> bool {
        self.shared.ring.needs_owner_turn()
    }

    fn reap_posted(&self, events: &mut Vec<Event>) -> io::Result<()> {
        self.shared.reap(events, Reaper::Other);
        Ok(())
    }

    fn flush_posted(&self, events: &mut Vec<Event>) -> io::Result<()> {
        self.shared.ring.wait(Some(Duration::ZERO))?;
        self.shared.reap(events, Reaper::Other);
        Ok(())
    }

    fn stats(&self) -> crate::driver::DriverStats {
        let (submitted, completed) = self.shared.ring.pushed_and_reaped();
        crate::driver::DriverStats {
            submitted,
            completed,
            waits: self.shared.ring.enters(),
        }
    }

    fn name(&self) -> &'static str {
        "io_uring"
    }

    fn as_raw_fd(&self) -> RawFd {
        self.shared.ring.as_raw_fd()
    }

    fn completions(&self) -> u64 {
        self.shared.completed.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for UringDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringDriver")
            .field("enters", &self.enter_count())
            .field("ops_in_flight", &lock(&self.shared.ops).live())
            .finish()
    }
}

#[cfg(all(test, trioxide_loom))]
mod loom_slab;
#[cfg(test)]
mod tests;
