//! Readiness through `IORING_OP_POLL_ADD` in multishot mode: the part of the io_uring
//! driver that implements the readiness [`Driver`](crate::Driver) model.
//!
//! A multishot poll posts one CQE per wake-up of the descriptor's wait queue, which is the
//! edge-triggered behaviour of `EPOLLET` that the [`Reactor`](crate::Reactor) expects: it
//! sets readiness bits on each CQE and clears them itself after `EAGAIN`; the next arrival
//! of data (or buffer space) wakes the wait queue again and posts a new CQE. A poll armed
//! while the descriptor is already ready reports at once, so re-arming never loses an
//! edge. When the kernel ends a multishot (a CQE without `IORING_CQE_F_MORE`), the poll is
//! re-armed under the same `user_data`, queued for the next `io_uring_enter`.
//!
//! Registrations are keyed by descriptor. A poll's `user_data` is a tag, a per-registration
//! generation and the descriptor number, so once `deregister` has bumped the generation
//! (and queued an `IORING_OP_ASYNC_CANCEL` of the poll), late CQEs of the old poll — including those of
//! a descriptor number reused by a new registration — are recognised and dropped.

use super::super::sys::Ring;
use super::super::{TAG_POLL, TAG_POLL_CANCEL, TAG_SHIFT};
use crate::driver::{Event, Interest, ready};
use io_uring::{cqueue, opcode, squeue, types};
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;

/// Generations are kept to 30 bits (bits 32–61 of `user_data`).
const GENERATION_MASK: u32 = (1 << 30) - 1;

/// The `poll(2)` mask for `interest`.
pub(crate) fn poll_mask(interest: Interest) -> u32 {
    let read = (libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP) as u32;
    let write = libc::POLLOUT as u32;
    match interest {
        Interest::Readable => read,
        Interest::Writable => write,
        Interest::Both => read | write,
    }
}

/// The `ready::*` bits a poll result `mask` reports (the same mapping as epoll's).
pub(crate) fn ready_bits(mask: u32) -> usize {
    let has = |bit: libc::c_short| mask & bit as u32 != 0;
    let mut bits = 0;
    if has(libc::POLLIN) || has(libc::POLLPRI) {
        bits |= ready::READABLE;
    }
    if has(libc::POLLOUT) {
        bits |= ready::WRITABLE;
    }
    if has(libc::POLLRDHUP) || has(libc::POLLHUP) {
        bits |= ready::READ_CLOSED | ready::READABLE;
    }
    if has(libc::POLLHUP) {
        bits |= ready::WRITE_CLOSED | ready::WRITABLE;
    }
    if has(libc::POLLERR) {
        bits |= ready::ERROR | ready::READABLE | ready::WRITABLE;
    }
    bits
}

/// A multishot poll SQE for `fd`.
pub(crate) fn poll_add(fd: RawFd, mask: u32, user_data: u64) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), mask)
        .multi(true)
        .build()
        .user_data(user_data)
}

fn poll_ud(fd: RawFd, generation: u32) -> u64 {
    (TAG_POLL << TAG_SHIFT) | (u64::from(generation) << 32) | u64::from(fd as u32)
}

/// An async cancel of the poll `poll_user_data`; its own CQE carries the same descriptor
/// and generation under [`TAG_POLL_CANCEL`].
fn cancel_poll(poll_user_data: u64) -> squeue::Entry {
    let tagged = (poll_user_data & !(3 << TAG_SHIFT)) | (TAG_POLL_CANCEL << TAG_SHIFT);
    opcode::AsyncCancel::new(poll_user_data)
        .build()
        .user_data(tagged)
}

#[derive(Debug)]
struct PollReg {
    token: u64,
    generation: u32,
    mask: u32,
}

/// The registered descriptors of one driver.
#[derive(Debug, Default)]
pub(crate) struct PollTable {
    by_fd: HashMap<RawFd, PollReg>,
    next_generation: u32,
}

impl PollTable {
    /// Arms a multishot poll for `fd` (queued: it reaches the kernel with the next enter,
    /// or at once if a thread is waiting).
    pub(crate) fn register(
        &mut self,
        ring: &Ring,
        fd: RawFd,
        token: u64,
        interest: Interest,
    ) -> io::Result<()> {
        if fd < 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        if self.by_fd.contains_key(&fd) {
            return Err(io::Error::from_raw_os_error(libc::EEXIST));
        }
        let generation = self.next_generation;
        self.next_generation = (generation + 1) & GENERATION_MASK;
        let mask = poll_mask(interest);
        push_plain(ring, &poll_add(fd, mask, poll_ud(fd, generation)))?;
        self.by_fd.insert(
            fd,
            PollReg {
                token,
                generation,
                mask,
            },
        );
        Ok(())
    }

    /// Forgets `fd` and queues the cancellation of its poll; its late CQEs are ignored.
    ///
    /// The poll is cancelled with `IORING_OP_ASYNC_CANCEL`, not `IORING_OP_POLL_REMOVE`:
    /// a removal that meets the poll while its wake-up is being handled (another thread's
    /// task work owns it) fails with `-EALREADY` and leaves the poll armed — holding the
    /// descriptor's file open after the owner's `close`, so a socket is never really
    /// closed (no FIN or RST reaches the peer). An async cancel flags the poll so its
    /// current owner ends it. Should the cancel still report `-EALREADY`,
    /// [`on_cancel_cqe`](Self::on_cancel_cqe) queues it again.
    pub(crate) fn deregister(&mut self, ring: &Ring, fd: RawFd) -> io::Result<()> {
        let reg = self
            .by_fd
            .remove(&fd)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        ring.push_cancel(&cancel_poll(poll_ud(fd, reg.generation)))
    }

    /// Handles the CQE of a poll cancellation queued by `deregister`: a cancel that met
    /// the poll mid-wake-up (`-EALREADY`) is queued again; any other result means the
    /// poll is gone (`0`, or `-ENOENT`: it had already ended).
    pub(crate) fn on_cancel_cqe(ring: &Ring, cancel_user_data: u64, res: i32) {
        if res == -libc::EALREADY {
            let poll = (cancel_user_data & !(3 << TAG_SHIFT)) | (TAG_POLL << TAG_SHIFT);
            // A ring too broken to queue this also fails the next wait, which reports it.
            let _ = ring.push_cancel(&cancel_poll(poll));
        }
    }

    /// Handles a poll CQE: reports an event for a current registration and re-arms a
    /// multishot poll that the kernel ended.
    pub(crate) fn on_cqe(
        &mut self,
        ring: &Ring,
        user_data: u64,
        res: i32,
        flags: u32,
        events: &mut Vec<Event>,
    ) {
        let fd = (user_data & u64::from(u32::MAX)) as u32 as RawFd;
        let generation = ((user_data >> 32) as u32) & GENERATION_MASK;
        let Some(reg) = self.by_fd.get(&fd).filter(|r| r.generation == generation) else {
            return; // stale: deregistered (or the number now belongs to someone else)
        };
        if res == -libc::ECANCELED {
            // Not our cancellation (that bumped the generation): the thread that submitted
            // the poll exited and the kernel cancelled its requests. Re-arm; the new poll
            // reports the current readiness, so no edge is lost.
            if push_plain(ring, &poll_add(fd, reg.mask, user_data)).is_err() {
                events.push(Event {
                    token: reg.token,
                    ready: ready::ERROR | ready::READABLE | ready::WRITABLE,
                });
            }
            return;
        }
        if res < 0 {
            // The poll failed (e.g. the descriptor was closed without deregistering):
            // report an error so the owner retries its call and sees the real errno; the
            // poll is not re-armed, which would only fail again.
            events.push(Event {
                token: reg.token,
                ready: ready::ERROR | ready::READABLE | ready::WRITABLE,
            });
            return;
        }
        events.push(Event {
            token: reg.token,
            ready: ready_bits(res as u32),
        });
        if !cqueue::more(flags) {
            // A failed re-arm surfaces as an error event on the next wait instead.
            if push_plain(ring, &poll_add(fd, reg.mask, user_data)).is_err() {
                events.push(Event {
                    token: reg.token,
                    ready: ready::ERROR | ready::READABLE | ready::WRITABLE,
                });
            }
        }
    }

    /// How many descriptors are registered.
    pub(crate) fn len(&self) -> usize {
        self.by_fd.len()
    }
}

/// Queues an SQE that carries no pointer (poll add/remove, async cancel).
pub(crate) fn push_plain(ring: &Ring, entry: &squeue::Entry) -> io::Result<()> {
    // SAFETY: rule 3 of `sys` — poll add, poll remove and async cancel SQEs hold no
    // pointer into user memory, only a descriptor, a mask and `user_data` values.
    unsafe { ring.push(entry) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_cover_the_interest() {
        assert_ne!(poll_mask(Interest::Readable) & libc::POLLIN as u32, 0);
        assert_eq!(poll_mask(Interest::Readable) & libc::POLLOUT as u32, 0);
        assert_ne!(poll_mask(Interest::Writable) & libc::POLLOUT as u32, 0);
        assert_eq!(
            poll_mask(Interest::Both),
            poll_mask(Interest::Readable) | poll_mask(Interest::Writable)
        );
    }

    #[test]
    fn results_map_like_epoll() {
        assert_eq!(ready_bits(libc::POLLIN as u32), ready::READABLE);
        assert_eq!(ready_bits(libc::POLLOUT as u32), ready::WRITABLE);
        let hup = ready_bits(libc::POLLHUP as u32);
        assert_eq!(hup, ready::ALL & !ready::ERROR);
        assert_ne!(ready_bits(libc::POLLERR as u32) & ready::ERROR, 0);
        assert_eq!(
            ready_bits(libc::POLLRDHUP as u32),
            ready::READ_CLOSED | ready::READABLE
        );
    }

    #[test]
    fn user_data_round_trips() {
        let ud = poll_ud(1234, GENERATION_MASK);
        assert_eq!(ud >> TAG_SHIFT, TAG_POLL);
        assert_eq!((ud & u64::from(u32::MAX)) as RawFd, 1234);
        assert_eq!(((ud >> 32) as u32) & GENERATION_MASK, GENERATION_MASK);
    }
}
