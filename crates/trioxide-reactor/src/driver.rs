//! The `Driver` trait: what every I/O backend (epoll now, io_uring next) offers the
//! reactor — register interest in a file descriptor, wait for events with a timeout, and
//! interrupt that wait from any thread.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// Readiness bits, as stored in a registration and reported by drivers.
pub mod ready {
    /// Data can be read (or a connection accepted).
    pub const READABLE: usize = 1 << 0;
    /// Data can be written (or a connect finished).
    pub const WRITABLE: usize = 1 << 1;
    /// The peer closed its writing half: reads will return EOF.
    pub const READ_CLOSED: usize = 1 << 2;
    /// The writing half is closed (peer reset / hung up).
    pub const WRITE_CLOSED: usize = 1 << 3;
    /// An error is pending on the descriptor.
    pub const ERROR: usize = 1 << 4;
    /// All readiness bits.
    pub const ALL: usize = READABLE | WRITABLE | READ_CLOSED | WRITE_CLOSED | ERROR;
}

/// Which readiness a registration wants reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Readable only.
    Readable,
    /// Writable only.
    Writable,
    /// Both.
    Both,
}

/// One readiness event: the registration's token and the `ready` bits that fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The token given at registration.
    pub token: u64,
    /// `ready::*` bits.
    pub ready: usize,
}

/// An I/O backend. Implementations are thread-safe: `wait` runs on the thread driving
/// the reactor while other threads register descriptors and call `unpark`.
pub trait Driver: Send + Sync + 'static {
    /// Starts reporting readiness of `fd` under `token` (edge-triggered).
    fn register(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()>;

    /// Stops reporting `fd`.
    fn deregister(&self, fd: RawFd) -> io::Result<()>;

    /// Waits at most `timeout` (`None`: until an event or `unpark`) and appends the
    /// events that arrived to `events`. An `unpark` makes it return with no event.
    fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<()>;

    /// Interrupts the current or next `wait`, from any thread.
    fn unpark(&self) -> io::Result<()>;

    /// Whether a zero-timeout `wait` would find something to do now (completions
    /// posted, submissions queued), as far as the driver can tell without a system call;
    /// `false` where it cannot (epoll).
    fn work_waiting(&self) -> bool {
        false
    }

    /// The part of [`work_waiting`](Self::work_waiting) that the thread driving the
    /// driver should not leave for its next `wait`: events already posted, and
    /// submissions queued by other threads. Its own queued submissions do not count: a
    /// worker checking this between tasks leaves them to its next `wait`, so that one
    /// tick's submissions reach the kernel in one system call.
    fn needs_owner_turn(&self) -> bool {
        false
    }

    /// Collects the events already posted, without submitting anything or waiting, from
    /// a thread that does not own the driver (io_uring: reaps posted completions; other
    /// drivers: nothing, as `wait` is the only way to learn of their events).
    ///
    /// An `unpark` whose wake-up this takes stays pending for the owner: its next `wait`
    /// returns at once. Never concurrent with `wait` (the reactor serialises the two).
    fn reap_posted(&self, events: &mut Vec<Event>) -> io::Result<()> {
        let _ = events;
        Ok(())
    }

    /// Whether every event `wait` reports concerns a registered descriptor (besides an
    /// `unpark`): then, with nothing registered, a zero-timeout `wait` can be skipped.
    /// `false` (the default) for drivers with work of their own, such as io_uring's
    /// queued submissions and completion-based operations.
    fn events_only_from_registrations(&self) -> bool {
        false
    }

    /// Whether the reactor should register a descriptor only when a task first waits for
    /// its readiness, instead of at once. For io_uring (`true`): its readiness is a
    /// multishot poll that posts a completion on every wake-up of the socket, which a
    /// socket used only with completion-based operations (owned-buffer reads and writes)
    /// would pay for on every message without using. A poll armed later reports the
    /// readiness the descriptor already has, so no event is lost. epoll (`false`) reports
    /// nothing for an idle registration, and registering early keeps `epoll_ctl` off the
    /// first read's path.
    fn registers_on_first_wait(&self) -> bool {
        false
    }

    /// Submits what is queued and collects what is posted, without waiting, from a
    /// thread that does not own the driver (one taking over for an owner stuck in a
    /// long poll). Like [`reap_posted`](Driver::reap_posted), it leaves a wake-up it
    /// takes pending for the owner's next `wait`, and is never concurrent with `wait`.
    ///
    /// The default is a zero-timeout `wait`, which may take such a wake-up: drivers that
    /// other threads flush (io_uring's per-worker rings) override it.
    fn flush_posted(&self, events: &mut Vec<Event>) -> io::Result<()> {
        self.wait(events, Some(Duration::ZERO))
    }

    /// The backend's name, e.g. `"epoll"`.
    fn name(&self) -> &'static str;

    /// A descriptor that polls readable (`poll(2)`/`epoll`) when `wait` has something to
    /// report or was unparked: the epoll instance, or the io_uring ring. For embedding the
    /// reactor in another event loop.
    fn as_raw_fd(&self) -> RawFd;

    /// Completion-based operations finished so far (a running count; 0 for readiness-only
    /// backends). Lets the reactor tell whether a `wait` delivered anything.
    fn completions(&self) -> u64 {
        0
    }

    /// The driver's counters so far (zero for drivers that keep none).
    fn stats(&self) -> DriverStats {
        DriverStats::default()
    }
}

/// What a driver has done since it was created (`Reactor::driver_stats`).
///
/// For epoll, an operation submitted is an `epoll_ctl` registration and one completed is
/// a readiness event delivered; for io_uring, a submission queue entry pushed and a
/// completion reaped (readiness polls included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Operations handed to the kernel.
    pub submitted: u64,
    /// Completions (or readiness events) received.
    pub completed: u64,
    /// `epoll_wait` or `io_uring_enter` system calls.
    pub waits: u64,
}
