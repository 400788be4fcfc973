//! Unix signals as async values: [`ctrl_c`] and [`signal`] (asyncio's
//! `loop.add_signal_handler`, tokio's `tokio::signal`).
//!
//! ```
//! use trioxide::signal::{SignalKind, signal};
//!
//! trioxide::run(async {
//!     let mut usr2 = signal(SignalKind::user_defined2()).unwrap();
//!     // SAFETY: `kill` on our own pid; SIGUSR2 has a handler now, so nothing dies.
//!     unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
//!     usr2.recv().await; // the delivery above
//! });
//! ```
//!
//! How it works (see `handler.rs`): a `sigaction` handler, installed the first time a
//! signal is listened for and kept for the life of the process, counts the delivery and
//! writes a byte to a self-pipe; every [`Signal`] holds its own descriptor of the pipe,
//! registered with its runtime's reactor (epoll or io_uring), so listeners on every
//! flavor, backend and runtime wake up, each of them getting every delivery.
//!
//! Semantics:
//! - Each listener sees each delivery that happens after it was created. Deliveries that
//!   arrive while nobody awaits a listener coalesce into one, as signals themselves do.
//! - Once a signal has a listener, its default action (termination for `SIGINT`,
//!   `SIGTERM`, ...) is replaced for the rest of the process, also after every listener
//!   is dropped: a program that listens for Ctrl-C must then exit by itself.
//! - A listener must be created inside a runtime (it registers with the reactor).
//!
//! An internal listener (say, a debug task dump on `SIGUSR1`) is a task around a
//! [`Signal`]: `let mut s = signal(SignalKind::user_defined1())?;` then
//! `spawn(async move { while s.recv().await.is_some() { eprintln!("{}", dump()) } })`.
//!
//! # Graceful shutdown
//!
//! The pattern for a server (stop accepting, let in-flight requests finish within a
//! deadline, cancel the rest) built from trioxide's pieces, as `examples/hello_server.rs`
//! and `docs/graceful-shutdown.md` spell out:
//!
//! 1. Run the connections as children of a [`scope`](fn@crate::scope), so none outlives it.
//! 2. Race the accept loop against [`ctrl_c`]: when Ctrl-C wins, the accept loop is
//!    dropped and the listener closed: no new connections.
//! 3. Tell the connections to wind down (an [`Event`](crate::sync::Event) they watch;
//!    hyper's `graceful_shutdown` finishes the request in progress and closes idle
//!    keep-alive connections).
//! 4. Give them a deadline: the whole scope runs inside a [`CancelScope`](crate::CancelScope) whose deadline
//!    is set when Ctrl-C arrives. If the children finish in time, the scope returns
//!    `Some`; at the deadline the scope's future is dropped, which cancels every child
//!    still running (their `on_cancel` cleanups run), and `run` returns `None`.
//!
//! ```no_run
//! use std::time::Duration;
//! use trioxide::net::{TcpListener, TcpStream};
//! use trioxide::sync::Event;
//! use trioxide::time::Instant;
//! use trioxide::{CancelScope, race};
//!
//! async fn serve(conn: TcpStream, stopping: &Event) { /* .. */ }
//!
//! trioxide::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:8080").await.unwrap();
//!     let stopping = Event::new();
//!     let deadline = CancelScope::new();
//!     let (stopping, deadline_ref) = (&stopping, &deadline);
//!     let finished = deadline
//!         .run(trioxide::scope(|s| async move {
//!             let accept_loop = async {
//!                 loop {
//!                     if let Ok((conn, _)) = listener.accept().await {
//!                         s.spawn(serve(conn, stopping));
//!                     }
//!                 }
//!             };
//!             let _ = race(accept_loop, async {
//!                 let _ = trioxide::signal::ctrl_c().await;
//!             })
//!             .await;
//!             drop(listener); // 2. stop accepting
//!             stopping.set(); // 3. wind down
//!             deadline_ref.set_deadline(Some(Instant::now() + Duration::from_secs(10))); // 4.
//!         }))
//!         .await;
//!     match finished {
//!         Some(_) => println!("every connection finished"),
//!         None => println!("deadline passed: the rest were cancelled"),
//!     }
//! });
//! ```

pub(crate) mod handler;
mod kind;

pub use kind::SignalKind;

use crate::runtime::Handle;
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use trioxide_reactor::{Direction, Registration};

/// Why a signal listener could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The signal cannot be caught (`SIGKILL`, `SIGSTOP`) or must not be (a fault
    /// signal such as `SIGSEGV`).
    #[error(
        "signal {signum} cannot be listened for (SIGKILL and SIGSTOP cannot be caught; \
         fault signals such as SIGSEGV must not be); pick another signal"
    )]
    Forbidden {
        /// The signal number asked for.
        signum: i32,
    },
    /// The number is no signal (signals are 1 to 64 on Linux).
    #[error("{signum} is not a signal number (Linux signals are 1 to 64)")]
    OutOfRange {
        /// The number asked for.
        signum: i32,
    },
    /// There is no runtime to register the listener with.
    #[error(
        "trioxide::signal used outside a runtime; create the listener inside \
         trioxide::run(..) or Runtime::block_on"
    )]
    NoRuntime,
    /// The runtime the listener was created in has shut down, so it can no longer be
    /// woken.
    #[error(
        "the runtime this signal listener was created in has shut down; create listeners \
         inside the runtime that awaits them"
    )]
    Closed,
    /// The operating system refused (installing the handler, creating the pipe, or
    /// registering it).
    #[error("could not set up the signal listener: {0}")]
    Io(#[from] io::Error),
}

/// A listener for one Unix signal, made by [`signal`].
///
/// [`recv`](Signal::recv) waits for the next delivery; `Signal` is also a
/// `futures_core::Stream` of `()`, one item per delivery, which ends only if the
/// listener's runtime shuts down.
#[derive(Debug)]
pub struct Signal {
    kind: SignalKind,
    /// The deliveries this listener has reported (the handler's count when it was made,
    /// then the count at its latest report).
    seen: u64,
    /// Field order matters: the registration is dropped before the descriptor closes.
    registration: Registration,
    reader: OwnedFd,
}

/// Starts listening for `kind` (asyncio's `loop.add_signal_handler`).
///
/// Deliveries from now on are reported; several listeners of one signal each get every
/// delivery.
///
/// # Errors
/// [`SignalError::NoRuntime`] outside a runtime; [`SignalError::Io`] if the operating
/// system refuses (out of file descriptors, say).
pub fn signal(kind: SignalKind) -> Result<Signal, SignalError> {
    let handle = Handle::try_current().map_err(|_| SignalError::NoRuntime)?;
    let sig = kind.as_raw();
    handler::install(sig)?;
    // Read the count before registering: a delivery racing this call is then reported
    // (one too many is harmless; one lost would not be).
    let seen = handler::deliveries(sig);
    let reader = handler::reader()?;
    let registration = handle
        .reactor()
        .register(std::os::fd::AsRawFd::as_raw_fd(&reader))?;
    Ok(Signal {
        kind,
        seen,
        registration,
        reader,
    })
}

/// Waits for Ctrl-C (`SIGINT`) once (asyncio's `add_signal_handler(SIGINT, ..)`).
///
/// The first call installs the handler: from then on Ctrl-C no longer kills the process
/// (see the module docs), and a Ctrl-C that arrives before this call is not reported.
///
/// # Errors
/// As [`signal`].
pub async fn ctrl_c() -> Result<(), SignalError> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    interrupt.recv().await.ok_or(SignalError::Closed)
}

impl Signal {
    /// The signal this listener listens for.
    pub fn kind(&self) -> SignalKind {
        self.kind
    }

    /// Waits for the next delivery (deliveries since the last `recv` coalesce into one):
    /// `Some(())`, or `None` once the listener's runtime has shut down (it can then never
    /// be woken). Cancel-safe: dropping the future loses no delivery.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for a delivery: `Ready(Some(()))` once one arrived since the last report,
    /// `Ready(None)` once the listener's runtime has shut down.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let sig = self.kind.as_raw();
        loop {
            if self.take_delivery(sig) {
                return Poll::Ready(Some(()));
            }
            // Drain the pipe until the reactor has our waker: the next write wakes us.
            match self
                .registration
                .poll_io(cx, Direction::Read, || handler::drain(&self.reader))
            {
                Poll::Ready(Ok(_)) => continue,
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The reactor is gone (its runtime shut down): nothing can wake us again.
                // (Reading our own non-blocking pipe fails in no other way.)
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Pending => {
                    // A delivery between our first check and the waker's registration
                    // drained by another listener: the count still shows it.
                    return if self.take_delivery(sig) {
                        Poll::Ready(Some(()))
                    } else {
                        Poll::Pending
                    };
                }
            }
        }
    }

    fn take_delivery(&mut self, sig: i32) -> bool {
        let now = handler::deliveries(sig);
        if now != self.seen {
            self.seen = now;
            true
        } else {
            false
        }
    }
}

impl futures_core::Stream for Signal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_need_a_runtime() {
        assert!(matches!(
            signal(SignalKind::user_defined2()),
            Err(SignalError::NoRuntime)
        ));
    }

    #[test]
    fn a_listener_is_not_woken_without_a_delivery() {
        crate::run(async {
            let mut sig = signal(SignalKind::from_raw(libc::SIGRTMIN() + 3).unwrap()).unwrap();
            let waited =
                crate::move_on_after(std::time::Duration::from_millis(50), sig.recv()).await;
            assert_eq!(waited, None);
        });
    }

    #[test]
    fn a_listener_whose_runtime_shut_down_ends_instead_of_spinning() {
        let rt = crate::Runtime::new().unwrap();
        let mut sig = rt
            .block_on(async { signal(SignalKind::from_raw(libc::SIGRTMIN() + 4).unwrap()) })
            .unwrap();
        drop(rt);
        let other = crate::Runtime::new().unwrap();
        let got = other.block_on(crate::move_on_after(
            std::time::Duration::from_secs(10),
            sig.recv(),
        ));
        assert_eq!(got, Some(None), "recv reports the closed listener");
    }
}
