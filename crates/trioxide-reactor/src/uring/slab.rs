//! The op slab: one slot per completion-based operation in flight, holding its lifecycle
//! and the memory the kernel may still read or write ("keep-alive").
//!
//! This is the ownership scheme of tokio-uring and monoio: a buffer handed to the kernel
//! belongs to the driver until the CQE arrives. Each slot moves through
//!
//! ```text
//! Submitted ──poll──▶ Waiting(Waker) ──CQE──▶ Completed ──poll──▶ (freed, output returned)
//!     │                    │                      │
//!     └──── future dropped ┴──▶ Cancelled ──CQE──▶ (freed) └─ dropped ─▶ (freed)
//! ```
//!
//! and the keep-alive travels with the state, so it is freed exactly once: by the future
//! that takes the completion, by the drop of a completed future, or by the CQE of a
//! cancelled one. A slot's `user_data` is its index plus a generation, so a CQE or a
//! cancellation aimed at a freed slot cannot reach the slot's next tenant.

use super::sys;
use io_uring::squeue;
use std::any::Any;
use std::collections::VecDeque;
use std::ffi::CString;
use std::task::{Poll, Waker};

/// Bits of `user_data` holding the slot index; the generation sits above them.
const INDEX_BITS: u32 = 32;
/// The generation is kept to 30 bits so the top two bits of `user_data` stay free for
/// the driver's own tags.
const GENERATION_MASK: u32 = (1 << 30) - 1;

/// What keeps a descriptor open: a clone of its owner (say the `Arc` a socket type keeps
/// its descriptor in). A dropped op holds one until its CQE (see
/// [`Op::keeping_open`](super::Op::keeping_open)), so that the descriptor's number cannot
/// be taken by a new file while an SQE naming it may still be waiting to reach the
/// kernel.
pub type KeepOpen = std::sync::Arc<dyn Any + Send + Sync>;

/// Memory (or a descriptor count) an operation needs until its CQE arrives.
#[derive(Debug, Default)]
pub(crate) enum Keep {
    /// Nothing: the SQE carries no pointer.
    #[default]
    None,
    /// A data buffer (read, write, recv, send).
    Buf(Vec<u8>),
    /// A socket address (connect).
    Addr(
        #[allow(dead_code, reason = "kept only so the kernel's pointer stays valid")]
        Box<SockAddrBuf>,
    ),
    /// A NUL-terminated path (openat).
    Path(#[allow(dead_code, reason = "kept only so the kernel's pointer stays valid")] CString),
    /// A timeout's `timespec`.
    Timespec(
        #[allow(dead_code, reason = "kept only so the kernel's pointer stays valid")]
        Box<io_uring::types::Timespec>,
    ),
    /// A `sendmsg` / `recvmsg` header with its address and data buffer.
    Msg(Box<sys::MsgBuf>),
    /// Another keep-alive plus the `timespec` of the `IORING_OP_LINK_TIMEOUT` linked to
    /// the op (the kernel reads it when the chain is submitted, before the op's CQE).
    WithTimeout(
        Box<Keep>,
        #[allow(dead_code, reason = "kept only so the kernel's pointer stays valid")]
        Box<io_uring::types::Timespec>,
    ),
    /// A path and the `statx` result buffer.
    Statx(
        #[allow(dead_code, reason = "kept only so the kernel's pointer stays valid")] CString,
        Box<libc::statx>,
    ),
    /// A cancelled op's keep-alive plus the owner of the descriptor it names, dropped
    /// (closing the descriptor, if it is the last reference) with the CQE.
    Open(
        #[allow(dead_code, reason = "kept only until the CQE")] Box<Keep>,
        #[allow(dead_code, reason = "kept only so the descriptor stays open")] KeepOpen,
    ),
}

/// A socket address in the layout the kernel reads.
#[derive(Debug)]
pub(crate) struct SockAddrBuf {
    pub(crate) storage: libc::sockaddr_storage,
    pub(crate) len: libc::socklen_t,
}

/// Where an operation stands. Every state owns the operation's keep-alive.
#[derive(Debug)]
pub(crate) enum Lifecycle {
    /// In the kernel; nobody has polled the future yet.
    Submitted(Keep),
    /// In the kernel; the future waits with this waker.
    Waiting(Waker, Keep),
    /// The future was dropped: the keep-alive stays here until the CQE, when it is freed.
    Cancelled(Keep),
    /// The CQE arrived with this result; the future has not taken it yet.
    Completed(i32, Keep),
    /// A multishot op (accept): results queue up here until taken; one slot serves every
    /// CQE until the kernel ends the op (a CQE without `IORING_CQE_F_MORE`).
    Streaming(Box<Stream>),
}

/// The queue of a multishot op's results.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    /// Results not yet taken, in arrival order.
    results: VecDeque<i32>,
    /// Everyone waiting for the next result (a listener may be shared by several tasks).
    wakers: Vec<Waker>,
    /// The kernel ended the op: no more CQEs will come.
    ended: bool,
}

/// What [`OpSlab::poll_stream`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StreamPoll {
    /// The next result.
    Item(i32),
    /// The kernel ended the op and every result was taken: re-arm it if more are wanted
    /// (the slot is freed).
    Ended,
    /// Nothing yet; the waker is stored.
    Pending,
}

/// How often an op the kernel cancelled on its own (its submitting thread exited) is
/// resubmitted before the `ECANCELED` is reported.
const MAX_RESUBMITS: u8 = 3;

#[derive(Debug)]
struct Slot {
    generation: u32,
    /// The SQE, kept to resubmit it after a cancellation we did not ask for.
    entry: Option<squeue::Entry>,
    /// Resubmissions so far.
    resubmits: u8,
    /// Whether a non-negative result is a new descriptor that must be closed when nobody
    /// takes it (accept, openat).
    yields_fd: bool,
    state: Option<Lifecycle>,
}

/// What [`OpSlab::cancel`] found.
#[derive(Debug)]
#[must_use]
pub(crate) enum Cancel {
    /// The op is still in the kernel: submit an async cancel for it.
    InFlight,
    /// The op had completed: here is what to free (outside the lock).
    Finished(Keep, Option<i32>),
    /// No such op (already freed).
    Gone,
}

/// What a CQE released.
#[derive(Debug, Default)]
#[must_use]
pub(crate) struct Released {
    /// The future to wake.
    pub(crate) waker: Option<Waker>,
    /// The multishot handles to wake.
    pub(crate) wakers: Vec<Waker>,
    /// A cancelled op's keep-alive, to drop outside the lock.
    pub(crate) orphan: Option<Keep>,
    /// A descriptor a cancelled accept/openat produced, to close.
    pub(crate) orphan_fd: Option<i32>,
    /// The op was cancelled by the kernel, not by us: submit this SQE again. (Boxed:
    /// rare, and every CQE moves a `Released`.)
    pub(crate) resubmit: Option<Box<squeue::Entry>>,
}

/// The table of operations in flight.
#[derive(Debug, Default)]
pub(crate) struct OpSlab {
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
}

fn user_data(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << INDEX_BITS) | index as u64
}

impl OpSlab {
    /// Takes a slot for an op about to be submitted; returns its `user_data` (below
    /// `1 << 62`).
    #[cfg(test)]
    pub(crate) fn insert(&mut self, keep: Keep, yields_fd: bool) -> u64 {
        self.insert_entry(None, keep, yields_fd)
    }

    /// [`insert`](Self::insert), keeping the SQE (already carrying its pointers, but not
    /// yet its `user_data`) for resubmission.
    pub(crate) fn insert_entry(
        &mut self,
        entry: Option<squeue::Entry>,
        keep: Keep,
        yields_fd: bool,
    ) -> u64 {
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                    resubmits: 0,
                    yields_fd,
                    state: None,
                });
                self.slots.len() - 1
            }
        };
        let slot = &mut self.slots[index];
        let ud = user_data(index, slot.generation);
        slot.entry = entry.map(|e| e.user_data(ud));
        slot.resubmits = 0;
        slot.yields_fd = yields_fd;
        slot.state = Some(Lifecycle::Submitted(keep));
        self.live += 1;
        ud
    }

    /// Takes a slot for a multishot op about to be submitted; returns its `user_data`.
    /// Each result that is a descriptor (`yields_fd`) is closed if nobody takes it.
    pub(crate) fn insert_stream(&mut self, yields_fd: bool) -> u64 {
        let ud = self.insert_entry(None, Keep::None, yields_fd);
        if let Some(slot) = self.slot_mut(ud) {
            slot.state = Some(Lifecycle::Streaming(Box::default()));
        }
        ud
    }

    /// The multishot handle's poll: the next queued result, `Ended` once the kernel ended
    /// the op and the queue is empty (the slot is then freed), else stores `waker`.
    pub(crate) fn poll_stream(&mut self, ud: u64, waker: &Waker) -> StreamPoll {
        let Some(slot) = self.slot_mut(ud) else {
            return StreamPoll::Ended;
        };
        let Some(Lifecycle::Streaming(stream)) = &mut slot.state else {
            return StreamPoll::Ended;
        };
        if let Some(res) = stream.results.pop_front() {
            return StreamPoll::Item(res);
        }
        if stream.ended {
            self.free_slot(ud);
            return StreamPoll::Ended;
        }
        if !stream.wakers.iter().any(|w| w.will_wake(waker)) {
            stream.wakers.push(waker.clone());
        }
        StreamPoll::Pending
    }

    /// The multishot handle was dropped: returns the descriptors queued but never taken
    /// (to close), and whether the op is still in the kernel (submit an async cancel).
    /// Then the slot keeps `owner` (the listening socket's) until the final CQE.
    pub(crate) fn cancel_stream(&mut self, ud: u64, owner: Option<KeepOpen>) -> (Vec<i32>, bool) {
        let Some(slot) = self.slot_mut(ud) else {
            return (Vec::new(), false);
        };
        let yields_fd = slot.yields_fd;
        let Some(Lifecycle::Streaming(stream)) = slot.state.take() else {
            return (Vec::new(), false);
        };
        let fds: Vec<i32> = if yields_fd {
            stream.results.iter().copied().filter(|&r| r >= 0).collect()
        } else {
            Vec::new()
        };
        if stream.ended {
            slot.state = Some(Lifecycle::Cancelled(Keep::None));
            self.free_slot(ud);
            (fds, false)
        } else {
            // The slot stays until the final CQE; descriptors arriving meanwhile are closed.
            let keep = match owner {
                Some(owner) => Keep::Open(Box::new(Keep::None), owner),
                None => Keep::None,
            };
            slot.state = Some(Lifecycle::Cancelled(keep));
            (fds, true)
        }
    }

    fn slot_mut(&mut self, ud: u64) -> Option<&mut Slot> {
        let index = (ud & u64::from(u32::MAX)) as usize;
        let generation = (ud >> INDEX_BITS) as u32;
        self.slots
            .get_mut(index)
            .filter(|s| s.generation == generation && s.state.is_some())
    }

    fn free_slot(&mut self, ud: u64) -> Option<Lifecycle> {
        let slot = self.slot_mut(ud)?;
        let state = slot.state.take();
        slot.entry = None;
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        self.live -= 1;
        self.free.push((ud & u64::from(u32::MAX)) as usize);
        state
    }

    /// Frees an op whose SQE never reached the ring, returning its keep-alive.
    pub(crate) fn remove_unsubmitted(&mut self, ud: u64) -> Keep {
        match self.free_slot(ud) {
            Some(Lifecycle::Submitted(keep)) => keep,
            _ => Keep::None,
        }
    }

    /// The future's poll: the result and keep-alive once completed (the slot is freed),
    /// otherwise stores `waker`.
    pub(crate) fn poll(&mut self, ud: u64, waker: &Waker) -> Poll<(i32, Keep)> {
        let Some(slot) = self.slot_mut(ud) else {
            return Poll::Ready((-libc::ECANCELED, Keep::None));
        };
        // The common cases change the state in place: no `Lifecycle` moves through the
        // stack.
        match &mut slot.state {
            Some(Lifecycle::Completed(res, keep)) => {
                let out = (*res, std::mem::take(keep));
                self.free_slot(ud);
                Poll::Ready(out)
            }
            Some(Lifecycle::Waiting(old, _)) => {
                if !old.will_wake(waker) {
                    old.clone_from(waker);
                }
                Poll::Pending
            }
            Some(Lifecycle::Submitted(keep)) => {
                let keep = std::mem::take(keep);
                slot.state = Some(Lifecycle::Waiting(waker.clone(), keep));
                Poll::Pending
            }
            // Cancelled ops have no future left to poll them.
            _ => Poll::Pending,
        }
    }

    /// The future was dropped before taking its result. If the op is still in the
    /// kernel, the slot keeps `owner()` (when given) with the keep-alive until the CQE.
    pub(crate) fn cancel(&mut self, ud: u64, owner: Option<&dyn Fn() -> KeepOpen>) -> Cancel {
        let Some(slot) = self.slot_mut(ud) else {
            return Cancel::Gone;
        };
        let yields_fd = slot.yields_fd;
        match slot.state.take() {
            Some(Lifecycle::Submitted(keep) | Lifecycle::Waiting(_, keep)) => {
                let keep = match owner {
                    Some(owner) => Keep::Open(Box::new(keep), owner()),
                    None => keep,
                };
                slot.state = Some(Lifecycle::Cancelled(keep));
                Cancel::InFlight
            }
            Some(Lifecycle::Completed(res, keep)) => {
                slot.state = Some(Lifecycle::Completed(res, Keep::None));
                self.free_slot(ud);
                Cancel::Finished(keep, (yields_fd && res >= 0).then_some(res))
            }
            other => {
                slot.state = other;
                Cancel::InFlight
            }
        }
    }

    /// The op's CQE arrived with `res`; `more` is the CQE's `IORING_CQE_F_MORE` (a
    /// multishot op will post further CQEs; always false for single-shot ops).
    pub(crate) fn complete(&mut self, ud: u64, res: i32, more: bool) -> Released {
        let Some(slot) = self.slot_mut(ud) else {
            return Released::default();
        };
        let yields_fd = slot.yields_fd;
        if let Some(Lifecycle::Streaming(stream)) = &mut slot.state {
            // The kernel ending the op with ECANCELED (its submitting thread exited) is not
            // a result: the handle sees `Ended` and re-arms.
            if more || res != -libc::ECANCELED {
                stream.results.push_back(res);
            }
            stream.ended |= !more;
            return Released {
                wakers: std::mem::take(&mut stream.wakers),
                ..Released::default()
            };
        }
        if more && let Some(Lifecycle::Cancelled(_)) = slot.state {
            // A dropped multishot op's result before its final CQE.
            return Released {
                orphan_fd: (yields_fd && res >= 0).then_some(res),
                ..Released::default()
            };
        }
        let live = matches!(
            slot.state,
            Some(Lifecycle::Submitted(_) | Lifecycle::Waiting(..))
        );
        if live
            && res == -libc::ECANCELED
            && slot.resubmits < MAX_RESUBMITS
            && let Some(entry) = slot.entry.clone()
        {
            slot.resubmits += 1;
            return Released {
                resubmit: Some(Box::new(entry)),
                ..Released::default()
            };
        }
        match slot.state.take() {
            Some(Lifecycle::Submitted(keep)) => {
                slot.state = Some(Lifecycle::Completed(res, keep));
                Released::default()
            }
            Some(Lifecycle::Waiting(waker, keep)) => {
                slot.state = Some(Lifecycle::Completed(res, keep));
                Released {
                    waker: Some(waker),
                    ..Released::default()
                }
            }
            Some(Lifecycle::Cancelled(keep)) => {
                slot.state = Some(Lifecycle::Cancelled(Keep::None));
                self.free_slot(ud);
                Released {
                    orphan: Some(keep),
                    orphan_fd: (yields_fd && res >= 0).then_some(res),
                    ..Released::default()
                }
            }
            other => {
                // A second CQE for a completed op (never sent for single-shot ops).
                slot.state = other;
                Released::default()
            }
        }
    }

    /// Operations whose slot is still taken (in the kernel, cancelled but not yet
    /// completed, or completed but not yet taken).
    pub(crate) fn live(&self) -> usize {
        self.live
    }
}

/// Closes a descriptor nobody will take (a cancelled accept or openat that succeeded).
pub(crate) fn close_orphan_fd(fd: i32) {
    drop(sys::owned_fd(fd));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<CountWake>, Waker) {
        let c = Arc::new(CountWake(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn completed_then_polled_returns_the_buffer() {
        let mut slab = OpSlab::default();
        let ud = slab.insert(Keep::Buf(vec![1, 2, 3]), false);
        let (count, w) = waker();
        assert!(slab.poll(ud, &w).is_pending());
        let released = slab.complete(ud, 3, false);
        released.waker.unwrap().wake();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        match slab.poll(ud, &w) {
            Poll::Ready((3, Keep::Buf(b))) => assert_eq!(b, [1, 2, 3]),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(slab.live(), 0);
    }

    #[test]
    fn cancelled_keeps_the_buffer_until_the_cqe() {
        let mut slab = OpSlab::default();
        let ud = slab.insert(Keep::Buf(vec![0; 8]), false);
        assert!(matches!(slab.cancel(ud, None), Cancel::InFlight));
        assert_eq!(slab.live(), 1, "the buffer is still owned by the slot");
        let released = slab.complete(ud, -libc::ECANCELED, false);
        assert!(released.waker.is_none());
        assert!(matches!(released.orphan, Some(Keep::Buf(ref b)) if b.len() == 8));
        assert_eq!(slab.live(), 0);
        // A late CQE or cancel for the freed slot reaches nothing.
        assert!(slab.complete(ud, 0, false).orphan.is_none());
        assert!(matches!(slab.cancel(ud, None), Cancel::Gone));
    }

    #[test]
    fn a_cancelled_op_keeps_its_descriptors_owner_until_the_cqe() {
        let mut slab = OpSlab::default();
        let owner = Arc::new(7u32);
        let make_owner = || owner.clone() as KeepOpen;
        let ud = slab.insert(Keep::Buf(vec![0; 4]), false);
        assert!(matches!(
            slab.cancel(ud, Some(&make_owner)),
            Cancel::InFlight
        ));
        assert_eq!(Arc::strong_count(&owner), 2, "the slot holds the owner");
        let released = slab.complete(ud, -libc::ECANCELED, false);
        assert_eq!(Arc::strong_count(&owner), 2, "until the orphan is dropped");
        drop(released);
        assert_eq!(Arc::strong_count(&owner), 1);
        // A completed op has nothing in the kernel: the owner is not even cloned.
        let ud = slab.insert(Keep::None, false);
        let _ = slab.complete(ud, 0, false);
        assert!(matches!(
            slab.cancel(ud, Some(&make_owner)),
            Cancel::Finished(..)
        ));
        assert_eq!(Arc::strong_count(&owner), 1);
        // A multishot op's owner stays until its final CQE.
        let ud = slab.insert_stream(true);
        let (_, in_kernel) = slab.cancel_stream(ud, Some(make_owner()));
        assert!(in_kernel);
        assert_eq!(Arc::strong_count(&owner), 2);
        drop(slab.complete(ud, -libc::ECANCELED, false));
        assert_eq!(Arc::strong_count(&owner), 1);
    }

    #[test]
    fn generations_keep_reused_slots_apart() {
        let mut slab = OpSlab::default();
        let first = slab.insert(Keep::None, true);
        let _ = slab.cancel(first, None);
        let released = slab.complete(first, 9, false);
        assert_eq!(
            released.orphan_fd,
            Some(9),
            "a cancelled accept's fd is handed back"
        );
        let second = slab.insert(Keep::None, false);
        assert_ne!(first, second);
        assert_eq!(first & 0xffff_ffff, second & 0xffff_ffff, "same index");
        assert!(slab.complete(first, 1, false).waker.is_none());
        assert_eq!(slab.live(), 1);
        assert!(second < 1 << 62);
    }

    #[test]
    fn completed_then_dropped_frees_once() {
        let mut slab = OpSlab::default();
        let ud = slab.insert(Keep::Buf(vec![7]), false);
        let _ = slab.complete(ud, 1, false);
        match slab.cancel(ud, None) {
            Cancel::Finished(Keep::Buf(b), None) => assert_eq!(b, [7]),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(slab.live(), 0);
    }

    #[test]
    fn a_stream_queues_results_until_the_kernel_ends_it() {
        let mut slab = OpSlab::default();
        let ud = slab.insert_stream(true);
        let (count, w) = waker();
        assert_eq!(slab.poll_stream(ud, &w), StreamPoll::Pending);
        for fd in [10, 11] {
            for waker in slab.complete(ud, fd, true).wakers {
                waker.wake();
            }
        }
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "one stored waker, woken once"
        );
        assert_eq!(slab.poll_stream(ud, &w), StreamPoll::Item(10));
        // The kernel ends the op with an error: queued after the descriptor.
        let _ = slab.complete(ud, -libc::EMFILE, false);
        assert_eq!(slab.poll_stream(ud, &w), StreamPoll::Item(11));
        assert_eq!(slab.poll_stream(ud, &w), StreamPoll::Item(-libc::EMFILE));
        assert_eq!(slab.poll_stream(ud, &w), StreamPoll::Ended);
        assert_eq!(slab.live(), 0, "an ended, drained stream frees its slot");
    }

    #[test]
    fn a_kernel_cancel_ends_a_stream_without_a_result() {
        let mut slab = OpSlab::default();
        let ud = slab.insert_stream(true);
        let (_, w) = waker();
        let _ = slab.complete(ud, -libc::ECANCELED, false);
        assert_eq!(slab.poll_stream(ud, &w), StreamPoll::Ended);
    }

    #[test]
    fn a_dropped_stream_closes_queued_and_late_descriptors() {
        let mut slab = OpSlab::default();
        let ud = slab.insert_stream(true);
        let _ = slab.complete(ud, 20, true);
        let _ = slab.complete(ud, -libc::ECONNABORTED, true);
        let (queued, in_kernel) = slab.cancel_stream(ud, None);
        assert_eq!(queued, [20], "only descriptors are handed back to close");
        assert!(in_kernel);
        assert_eq!(slab.live(), 1, "the slot waits for the final CQE");
        assert_eq!(slab.complete(ud, 21, true).orphan_fd, Some(21));
        assert_eq!(slab.live(), 1);
        let last = slab.complete(ud, -libc::ECANCELED, false);
        assert_eq!(last.orphan_fd, None);
        assert_eq!(slab.live(), 0);
    }
}
