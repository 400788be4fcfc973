//! Accept back-off: what a listener does when `accept` fails because the process or the
//! system ran out of descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`).
//!
//! Such an error is not the pending connection's fault, and it does not consume it: the
//! connection stays in the kernel's backlog and the listener stays readable. Handing the
//! error to a server's accept loop turns a momentary shortage into a crash (a loop that
//! `?`s) or a busy spin (a loop that retries at once). So [`TcpListener::accept`],
//! [`Incoming`] and [`UnixListener::accept`] sleep instead, for a delay that doubles from
//! [`MIN_DELAY`] to [`MAX_DELAY`], and try again; once descriptors free up, the waiting
//! connections are accepted. The raw `poll_accept` returns the error to callers who want
//! to decide themselves.
//!
//! [`TcpListener::accept`]: super::TcpListener::accept
//! [`Incoming`]: super::Incoming
//! [`UnixListener::accept`]: super::UnixListener::accept

use crate::time::{Sleep, sleep};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The first back-off delay after a resource error.
pub(crate) const MIN_DELAY: Duration = Duration::from_millis(1);
/// The longest back-off delay (the delay doubles up to this).
pub(crate) const MAX_DELAY: Duration = Duration::from_millis(100);

/// Whether `e` is an accept error caused by a shortage of descriptors or memory, after
/// which the listener should wait and retry rather than fail.
pub(crate) fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// The back-off state of one accepting caller.
#[derive(Debug)]
pub(crate) struct Backoff {
    sleep: Option<Sleep>,
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            sleep: None,
            next: MIN_DELAY,
        }
    }
}

impl Backoff {
    /// Waits out the current delay, if one is armed.
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(sleep) = &mut self.sleep {
            std::task::ready!(Pin::new(sleep).poll(cx));
            self.sleep = None;
        }
        Poll::Ready(())
    }

    /// Arms the next delay after a resource error and doubles it for the time after.
    pub(crate) fn arm(&mut self) {
        self.sleep = Some(sleep(self.next));
        self.next = (self.next * 2).min(MAX_DELAY);
    }

    /// A successful accept: the next shortage starts again from the shortest delay.
    pub(crate) fn reset(&mut self) {
        self.next = MIN_DELAY;
    }
}

/// Runs `op` until it returns something other than a resource error, backing off
/// between attempts.
pub(crate) async fn retry_on_exhaustion<T>(
    mut op: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>,
) -> io::Result<T> {
    let mut backoff = Backoff::default();
    std::future::poll_fn(|cx| {
        loop {
            std::task::ready!(backoff.poll_wait(cx));
            match std::task::ready!(op(cx)) {
                Err(e) if is_resource_exhaustion(&e) => backoff.arm(),
                other => return Poll::Ready(other),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortages_are_recognised() {
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(is_resource_exhaustion(&io::Error::from_raw_os_error(errno)));
        }
        for errno in [libc::ECONNABORTED, libc::EINVAL, libc::EBADF] {
            assert!(!is_resource_exhaustion(&io::Error::from_raw_os_error(
                errno
            )));
        }
        assert!(!is_resource_exhaustion(&io::ErrorKind::WouldBlock.into()));
    }

    #[test]
    fn the_delay_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::default();
        let mut ms = Vec::new();
        for _ in 0..10 {
            ms.push(b.next.as_millis());
            b.arm();
            assert!(b.sleep.is_some(), "a delay is armed");
        }
        assert_eq!(ms, [1, 2, 4, 8, 16, 32, 64, 100, 100, 100]);
        b.reset();
        assert_eq!(b.next, MIN_DELAY);
    }
}
