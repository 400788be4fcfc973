//! [`SignalKind`]: which Unix signal to listen for, checked when it is made.

use super::SignalError;
use super::handler::SIGNAL_LIMIT;

/// A Unix signal a [`Signal`](super::Signal) can listen for.
///
/// The common ones have constructors; [`SignalKind::from_raw`] takes any other number
/// except those that cannot be caught (`SIGKILL`, `SIGSTOP`) or must not be (`SIGSEGV`,
/// `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGTRAP`: faults the process cannot resume from).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(i32);

impl SignalKind {
    /// `SIGINT` (Ctrl-C in a terminal).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGTERM` (the polite "please stop" of `kill`, systemd, Kubernetes).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGHUP` (the terminal went away; daemons use it for "reload").
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGQUIT` (Ctrl-\ in a terminal).
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGCHLD` (a child process stopped or exited).
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGWINCH` (the terminal was resized).
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }

    /// `SIGALRM`.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGPIPE` (a write to a closed pipe or socket).
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// Any other signal by number, e.g. a real-time signal `libc::SIGRTMIN() + 1`.
    ///
    /// # Errors
    /// [`SignalError::Forbidden`] for `SIGKILL`, `SIGSTOP` and the fault signals;
    /// [`SignalError::OutOfRange`] for a number that is no signal.
    pub fn from_raw(signum: i32) -> Result<SignalKind, SignalError> {
        const FORBIDDEN: [i32; 7] = [
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGTRAP,
        ];
        if signum <= 0 || signum as usize >= SIGNAL_LIMIT {
            return Err(SignalError::OutOfRange { signum });
        }
        if FORBIDDEN.contains(&signum) {
            return Err(SignalError::Forbidden { signum });
        }
        Ok(SignalKind(signum))
    }

    /// The signal's number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_raw_accepts_catchable_signals_and_rejects_the_rest() {
        assert_eq!(
            SignalKind::from_raw(libc::SIGUSR1).unwrap(),
            SignalKind::user_defined1()
        );
        assert!(SignalKind::from_raw(libc::SIGRTMIN() + 1).is_ok());
        for bad in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV] {
            assert!(matches!(
                SignalKind::from_raw(bad),
                Err(SignalError::Forbidden { .. })
            ));
        }
        for bad in [0, -1, 65, 1000] {
            assert!(matches!(
                SignalKind::from_raw(bad),
                Err(SignalError::OutOfRange { .. })
            ));
        }
    }
}
