//! The epoll driver: edge-triggered `epoll_wait`, with an `eventfd` registered under a
//! reserved token so `unpark` can interrupt a wait from any thread.
//!
//! All of the raw system calls live in this file.

use crate::driver::{Driver, DriverStats, Event, Interest, ready};
use crate::loom::sync::atomic::{AtomicU64, Ordering};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The token the wake-up eventfd is registered under; never handed to a registration.
const WAKE_TOKEN: u64 = u64::MAX;
/// Events fetched per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 1024;

/// The epoll backend.
#[derive(Debug)]
pub struct EpollDriver {
    epoll: OwnedFd,
    wake: OwnedFd,
    /// `epoll_ctl` registrations (from any thread).
    registrations: AtomicU64,
    /// `epoll_wait` calls and events delivered: written only by the thread in `wait`
    /// (one at a time, the reactor's rule), so a plain load + store.
    waits: AtomicU64,
    events: AtomicU64,
}

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl EpollDriver {
    /// Creates an epoll instance and its wake-up eventfd.
    pub fn new() -> io::Result<EpollDriver> {
        // SAFETY: plain syscall with constant flags; the result is checked.
        let epoll = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `epoll` is a fresh descriptor we own.
        let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
        // SAFETY: plain syscall; the result is checked.
        let wake = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) })?;
        // SAFETY: `wake` is a fresh descriptor we own.
        let wake = unsafe { OwnedFd::from_raw_fd(wake) };
        let driver = EpollDriver {
            epoll,
            wake,
            registrations: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            events: AtomicU64::new(0),
        };
        driver.ctl(
            libc::EPOLL_CTL_ADD,
            driver.wake.as_raw_fd(),
            WAKE_TOKEN,
            libc::EPOLLIN as u32,
        )?;
        Ok(driver)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, events: u32) -> io::Result<()> {
        let mut event = libc::epoll_event { events, u64: token };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        cvt(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event) })?;
        Ok(())
    }

    fn drain_wake(&self) {
        let mut buf = 0u64;
        // SAFETY: reads 8 bytes into `buf`, which is 8 bytes long; EAGAIN is fine.
        let _ = unsafe { libc::read(self.wake.as_raw_fd(), (&mut buf as *mut u64).cast(), 8) };
    }
}

/// Adds `n` to a counter only the waiting thread writes (no read-modify-write).
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

fn epoll_bits(interest: Interest) -> u32 {
    let base = (libc::EPOLLET | libc::EPOLLRDHUP) as u32;
    match interest {
        Interest::Readable => base | libc::EPOLLIN as u32,
        Interest::Writable => base | libc::EPOLLOUT as u32,
        Interest::Both => base | (libc::EPOLLIN | libc::EPOLLOUT) as u32,
    }
}

fn ready_bits(events: u32) -> usize {
    let has = |bit: libc::c_int| events & bit as u32 != 0;
    let mut ready = 0;
    if has(libc::EPOLLIN) || has(libc::EPOLLPRI) {
        ready |= ready::READABLE;
    }
    if has(libc::EPOLLOUT) {
        ready |= ready::WRITABLE;
    }
    if has(libc::EPOLLRDHUP) || has(libc::EPOLLHUP) {
        ready |= ready::READ_CLOSED | ready::READABLE;
    }
    if has(libc::EPOLLHUP) {
        ready |= ready::WRITE_CLOSED | ready::WRITABLE;
    }
    if has(libc::EPOLLERR) {
        ready |= ready::ERROR | ready::READABLE | ready::WRITABLE;
    }
    ready
}

impl Driver for EpollDriver {
    fn register(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        debug_assert_ne!(token, WAKE_TOKEN);
        self.registrations.fetch_add(1, Ordering::Relaxed);
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, epoll_bits(interest))
    }

    fn deregister(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()> {
        let timeout_ms = match timeout {
            None => -1,
            // Round up so a timer is never woken for early.
            Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int,
        };
        let mut raw: [libc::epoll_event; EVENTS_PER_WAIT] =
            [libc::epoll_event { events: 0, u64: 0 }; EVENTS_PER_WAIT];
        // SAFETY: `raw` has room for EVENTS_PER_WAIT events, which is what we pass.
        let n = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                raw.as_mut_ptr(),
                EVENTS_PER_WAIT as libc::c_int,
                timeout_ms,
            )
        };
        bump(&self.waits, 1);
        let n = match cvt(n) {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        for ev in &raw[..n] {
            let token = ev.u64;
            if token == WAKE_TOKEN {
                self.drain_wake();
            } else {
                events.push(Event {
                    token,
                    ready: ready_bits(ev.events),
                });
            }
        }
        bump(&self.events, n as u64);
        Ok(())
    }

    fn unpark(&self) -> io::Result<()> {
        let one = 1u64;
        // SAFETY: writes 8 bytes from `one`, which is 8 bytes long.
        let n = unsafe { libc::write(self.wake.as_raw_fd(), (&one as *const u64).cast(), 8) };
        if n < 0 {
            let err = io::Error::last_os_error();
            // A full counter (EAGAIN) still means a wake-up is pending.
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(err);
            }
        }
        Ok(())
    }

    fn as_raw_fd(&self) -> RawFd {
        self.epoll.as_raw_fd()
    }

    fn stats(&self) -> DriverStats {
        DriverStats {
            submitted: self.registrations.load(Ordering::Relaxed),
            completed: self.events.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
        }
    }

    fn events_only_from_registrations(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "epoll"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn reports_readable_and_unparks() {
        let driver = EpollDriver::new().unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        driver.register(b.as_raw_fd(), 7, Interest::Both).unwrap();
        let mut events = Vec::new();
        driver
            .wait(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.token == 7 && e.ready & ready::WRITABLE != 0)
        );
        events.clear();
        a.write_all(b"x").unwrap();
        driver
            .wait(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(
            events
                .iter()
                .any(|e| e.token == 7 && e.ready & ready::READABLE != 0)
        );
        events.clear();
        driver.unpark().unwrap();
        driver.wait(&mut events, None).unwrap();
        assert!(events.is_empty(), "an unpark returns with no event");
        driver.deregister(b.as_raw_fd()).unwrap();
        let stats = driver.stats();
        assert_eq!(stats.waits, 3, "{stats:?}");
        assert_eq!(stats.submitted, 1, "one registration: {stats:?}");
        assert!(stats.completed >= 2, "{stats:?}");
    }
}
