//! The reactor: a [`Driver`] plus the table of registrations it reports on.
//!
//! Each registered descriptor gets a `ScheduledIo`: a readiness word (the `ready::*` bits
//! plus a tick counter in the high bits) and the wakers waiting for each direction.
//! Events set bits and wake waiters; an I/O call that hits `WouldBlock` clears the bits it
//! saw — but only if no newer event arrived meanwhile (the tick must still match), so a
//! wake-up is never lost between the failed call and the clear. Tokens are slab index plus
//! a generation, so a late event for a closed descriptor cannot reach its successor.
//!
//! On a driver that [registers on first wait](Driver::registers_on_first_wait)
//! (io_uring), `register` only reserves the token; the descriptor reaches the driver when
//! `poll_ready` is first about to return `Pending`, after the waker is stored, so the
//! armed poll's first report (the readiness the descriptor already has) finds it. A
//! socket used only with completion-based operations is never polled.

use crate::driver::{Driver, Event, Interest, ready};
use crate::epoll::EpollDriver;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Arc, Mutex};
/// The reactor's own handle is a std `Arc` even under loom: `self: &Arc<Self>` receivers
/// need std's smart pointer, the facade holds it as one, and its count is no part of any
/// modelled protocol.
type ReactorArc = std::sync::Arc<Reactor>;
use crate::uring::{UringDriver, UringOps};
use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Bits of the readiness word below this hold `ready::*`; above, the event tick.
const TICK_SHIFT: u32 = 16;
const READY_MASK: usize = (1 << TICK_SHIFT) - 1;

/// Readiness and waiters of one registered descriptor.
struct ScheduledIo {
    readiness: AtomicUsize,
    waiters: Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    readers: Vec<Waker>,
    writers: Vec<Waker>,
}

/// One direction of interest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Reads, accepts, `recv`.
    Read,
    /// Writes, connects, `send`.
    Write,
}

impl Direction {
    fn mask(self) -> usize {
        match self {
            Direction::Read => ready::READABLE | ready::READ_CLOSED | ready::ERROR,
            Direction::Write => ready::WRITABLE | ready::WRITE_CLOSED | ready::ERROR,
        }
    }
}

/// Readiness observed by `poll_ready`, to be cleared after a `WouldBlock`.
#[derive(Clone, Copy, Debug)]
pub struct ReadyEvent {
    tick: usize,
    /// The `ready::*` bits seen.
    pub ready: usize,
}

struct Slot {
    generation: u32,
    io: Option<Arc<ScheduledIo>>,
}

/// The I/O reactor shared by a runtime's threads.
pub struct Reactor {
    driver: Box<dyn Driver>,
    slots: Mutex<SlotTable>,
    events: Mutex<Vec<Event>>,
    shut_down: AtomicBool,
    /// Descriptors registered now. With none, and a driver whose only events come from
    /// registrations (epoll), a zero-timeout `turn` has nothing to find and skips its
    /// system call.
    registered: AtomicUsize,
    /// The completion-based ops of the io_uring driver, when that is the backend.
    uring: Option<UringOps>,
}

#[derive(Default)]
struct SlotTable {
    slots: Vec<Slot>,
    free: Vec<usize>,
}

impl Reactor {
    /// A reactor over the epoll driver.
    pub fn epoll() -> io::Result<ReactorArc> {
        Ok(Self::with_driver(Box::new(EpollDriver::new()?)))
    }

    /// A reactor over the io_uring driver, after [`probe`](crate::uring::probe) said
    /// io_uring is usable (an `Unsupported` error carrying the
    /// [`UringUnavailable`](crate::uring::UringUnavailable) reason otherwise).
    pub fn io_uring() -> io::Result<ReactorArc> {
        crate::uring::probe()?;
        let driver = UringDriver::new()?;
        let ops = driver.ops();
        Ok(Self::build(Box::new(driver), Some(ops)))
    }

    /// A reactor over an io_uring ring that one thread owns
    /// ([`UringDriver::new_owned`]): only that thread may `turn` it (others may
    /// register, push operations and `unpark`).
    pub fn io_uring_owned() -> io::Result<ReactorArc> {
        crate::uring::probe()?;
        let driver = UringDriver::new_owned()?;
        let ops = driver.ops();
        Ok(Self::build(Box::new(driver), Some(ops)))
    }

    /// A reactor over any driver.
    pub fn with_driver(driver: Box<dyn Driver>) -> ReactorArc {
        Self::build(driver, None)
    }

    fn build(driver: Box<dyn Driver>, uring: Option<UringOps>) -> ReactorArc {
        ReactorArc::new(Reactor {
            driver,
            slots: Mutex::new(SlotTable::default()),
            events: Mutex::new(Vec::with_capacity(1024)),
            shut_down: AtomicBool::new(false),
            registered: AtomicUsize::new(0),
            uring,
        })
    }

    /// The completion-based operations of the io_uring backend (`None` on epoll or a
    /// custom driver). They complete as this reactor turns.
    pub fn uring_ops(&self) -> Option<&UringOps> {
        self.uring.as_ref()
    }

    /// The driver's counters: operations submitted and completed, wait system calls.
    pub fn driver_stats(&self) -> crate::driver::DriverStats {
        self.driver.stats()
    }

    /// The backend's name (`"epoll"` or `"io_uring"`).
    pub fn backend_name(&self) -> &'static str {
        self.driver.name()
    }

    /// Registers `fd` (which must be non-blocking) for both directions.
    pub fn register(self: &ReactorArc, fd: RawFd) -> io::Result<Registration> {
        let io = Arc::new(ScheduledIo {
            readiness: AtomicUsize::new(0),
            waiters: Mutex::new(Waiters::default()),
        });
        self.registered.fetch_add(1, Ordering::AcqRel);
        let token = {
            let mut table = self.slots.lock().unwrap();
            let index = match table.free.pop() {
                Some(i) => i,
                None => {
                    table.slots.push(Slot {
                        generation: 0,
                        io: None,
                    });
                    table.slots.len() - 1
                }
            };
            let slot = &mut table.slots[index];
            slot.io = Some(io.clone());
            (u64::from(slot.generation) << 32) | index as u64
        };
        let deferred = self.driver.registers_on_first_wait();
        if !deferred && let Err(err) = self.driver.register(fd, token, Interest::Both) {
            self.release_token(token);
            return Err(err);
        }
        Ok(Registration {
            reactor: self.clone(),
            io,
            token,
            fd,
            in_driver: AtomicBool::new(!deferred),
        })
    }

    fn release_token(&self, token: u64) {
        let index = (token & u64::from(u32::MAX)) as usize;
        let mut table = self.slots.lock().unwrap();
        let slot = &mut table.slots[index];
        slot.io = None;
        slot.generation = slot.generation.wrapping_add(1);
        table.free.push(index);
        drop(table);
        self.registered.fetch_sub(1, Ordering::AcqRel);
    }

    /// Waits for events (at most `timeout`; `Some(Duration::ZERO)` only polls) and wakes
    /// the tasks they concern. Returns the number of readiness events and completed
    /// operations dispatched (0: nothing happened, or only an `unpark`). Only one thread
    /// turns the reactor at a time.
    ///
    /// With [`AsRawFd`](std::os::fd::AsRawFd), this is how another event loop embeds the
    /// reactor: poll the fd for readability in the host loop, then `turn(Some(ZERO))`.
    pub fn turn(&self, timeout: Option<Duration>) -> io::Result<usize> {
        if timeout == Some(Duration::ZERO)
            && self.driver.events_only_from_registrations()
            && self.registered.load(Ordering::Acquire) == 0
        {
            // Nothing is registered, so a poll can only find an `unpark`, which the
            // caller (awake, or it would not poll) has no use for; a later wait still
            // sees it. CPU-bound work checks the driver every few dozen ticks, and this
            // spares those checks their `epoll_wait`.
            return Ok(0);
        }
        let events = self.events.lock().unwrap();
        self.dispatch(events, |driver, events| driver.wait(events, timeout))
    }

    /// Dispatches the events that are already posted — without waiting, submitting or a
    /// system call — unless another thread is turning the reactor now. For a thread that
    /// does not own a per-thread driver (an idle worker looking after a busy worker's
    /// io_uring ring). Returns what `turn` returns; always 0 on epoll. An `unpark` of the
    /// owner whose wake-up this takes is not lost: the owner's next `turn` returns at
    /// once.
    pub fn dispatch_posted(&self) -> io::Result<usize> {
        let Ok(events) = self.events.try_lock() else {
            return Ok(0);
        };
        self.dispatch(events, |driver, events| driver.reap_posted(events))
    }

    /// A non-blocking `turn` (submits what is queued, dispatches what is posted) unless
    /// another thread is turning the reactor now (then 0). For a thread taking over the
    /// driver of a thread that is stuck. Keeps the owner's wake-ups pending for it, as
    /// [`dispatch_posted`](Self::dispatch_posted) does.
    pub fn try_turn_now(&self) -> io::Result<usize> {
        let Ok(events) = self.events.try_lock() else {
            return Ok(0);
        };
        self.dispatch(events, |driver, events| driver.flush_posted(events))
    }

    /// Collects events with `collect`, then wakes the tasks they concern.
    fn dispatch(
        &self,
        mut events: crate::loom::sync::MutexGuard<'_, Vec<Event>>,
        collect: impl FnOnce(&dyn Driver, &mut Vec<Event>) -> io::Result<()>,
    ) -> io::Result<usize> {
        events.clear();
        let completed_before = self.driver.completions();
        collect(&*self.driver, &mut events)?;
        let completed = self.driver.completions().wrapping_sub(completed_before);
        let mut woken = Vec::new();
        {
            let table = self.slots.lock().unwrap();
            for event in events.iter() {
                let index = (event.token & u64::from(u32::MAX)) as usize;
                let generation = (event.token >> 32) as u32;
                let Some(slot) = table.slots.get(index) else {
                    continue;
                };
                if slot.generation != generation {
                    continue; // stale: the descriptor was deregistered
                }
                if let Some(io) = &slot.io {
                    io.set_ready(event.ready, &mut woken);
                }
            }
        }
        let n = events.len() + usize::try_from(completed).unwrap_or(usize::MAX);
        drop(events);
        crate::wake::wake_all(woken);
        Ok(n)
    }

    /// Whether a `turn(Some(ZERO))` would dispatch or submit something now, as far as the
    /// driver can tell without a system call (io_uring: a posted completion or a queued
    /// submission; always `false` on epoll). Cheap enough to check between tasks.
    pub fn work_waiting(&self) -> bool {
        self.driver.work_waiting()
    }

    /// Whether the thread that drives this reactor should turn it before it runs out of
    /// tasks (io_uring: completions posted, or submissions queued by other threads;
    /// always `false` on epoll). What a worker checks between tasks: the submissions it
    /// queued itself wait for the end of its tick, when they go to the kernel together.
    pub fn needs_owner_turn(&self) -> bool {
        self.driver.needs_owner_turn()
    }

    /// Interrupts a `turn` in progress (or the next one) from any thread.
    pub fn unpark(&self) {
        // The eventfd write only fails if the descriptor is gone, which cannot happen
        // while `self` is alive.
        let _ = self.driver.unpark();
    }

    /// Marks the reactor shut down and wakes every waiter; later polls fail with an error
    /// instead of hanging.
    pub fn shutdown(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
        let table = self.slots.lock().unwrap();
        let mut woken = Vec::new();
        for io in table.slots.iter().filter_map(|s| s.io.as_ref()) {
            io.set_ready(0, &mut woken);
        }
        drop(table);
        woken.into_iter().for_each(Waker::wake);
    }

    /// Whether `shutdown` was called.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }
}

impl ScheduledIo {
    /// Adds `bits` (a new event) and collects the wakers they release.
    fn set_ready(&self, bits: usize, woken: &mut Vec<Waker>) {
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                let tick = (cur >> TICK_SHIFT).wrapping_add(1) & (usize::MAX >> TICK_SHIFT);
                Some((tick << TICK_SHIFT) | (cur & READY_MASK) | bits)
            });
        let mut waiters = self.waiters.lock().unwrap();
        let shutdown = bits == 0;
        if shutdown || bits & Direction::Read.mask() != 0 {
            woken.append(&mut waiters.readers);
        }
        if shutdown || bits & Direction::Write.mask() != 0 {
            woken.append(&mut waiters.writers);
        }
    }
}

/// A descriptor registered with a reactor; deregisters on drop (before the descriptor is
/// closed by its owner, which must drop the registration first).
pub struct Registration {
    reactor: ReactorArc,
    io: Arc<ScheduledIo>,
    token: u64,
    fd: RawFd,
    /// Whether the driver watches `fd` yet (see the module docs: some drivers are told
    /// only when a task first waits).
    in_driver: AtomicBool,
}

impl Registration {
    /// Ready when `direction` is ready (or the reactor shut down: an error).
    pub fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(ev) = self.ready_now(direction)? {
            return Poll::Ready(Ok(ev));
        }
        let mut waiters = self.io.waiters.lock().unwrap();
        let list = match direction {
            Direction::Read => &mut waiters.readers,
            Direction::Write => &mut waiters.writers,
        };
        if !list.iter().any(|w| w.will_wake(cx.waker())) {
            list.push(cx.waker().clone());
        }
        drop(waiters);
        // An event may have arrived before the waker was stored.
        if let Some(ev) = self.ready_now(direction)? {
            return Poll::Ready(Ok(ev));
        }
        // The waker is stored: now the driver may report, and its first report finds it.
        self.enter_driver()?;
        Poll::Pending
    }

    /// Hands `fd` to the driver if that was deferred until a task waits.
    fn enter_driver(&self) -> io::Result<()> {
        if self.in_driver.load(Ordering::Acquire) || self.in_driver.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let registered = self
            .reactor
            .driver
            .register(self.fd, self.token, Interest::Both);
        if registered.is_err() {
            // Let a later wait try again; tasks that saw the flag set meanwhile and went
            // to sleep are woken to do so, rather than wait for a poll that never came.
            self.in_driver.store(false, Ordering::Release);
            let mut waiters = self.io.waiters.lock().unwrap();
            let mut woken = std::mem::take(&mut waiters.readers);
            woken.append(&mut waiters.writers);
            drop(waiters);
            crate::wake::wake_all(woken);
        }
        registered
    }

    /// Tells a driver that [registers on first wait](Driver::registers_on_first_wait) to
    /// stop watching the descriptor while no task waits for its readiness — for a
    /// descriptor now used with completion-based operations (a socket that waited once
    /// for its `connect`, then reads and writes with owned buffers). The next wait hands
    /// it to the driver again. Cheap when there is nothing to do (one load).
    pub fn leave_driver_while_unwatched(&self) {
        if !self.in_driver.load(Ordering::Acquire) || !self.reactor.driver.registers_on_first_wait()
        {
            return;
        }
        // Under the waiters' lock: a waiter stored before this keeps the watch; one
        // stored after it finds the flag cleared and hands the descriptor to the driver
        // again once its waker is stored (`poll_ready`).
        let waiters = self.io.waiters.lock().unwrap();
        if waiters.readers.is_empty()
            && waiters.writers.is_empty()
            && self.in_driver.swap(false, Ordering::AcqRel)
        {
            let _ = self.reactor.driver.deregister(self.fd);
        }
    }

    fn ready_now(&self, direction: Direction) -> io::Result<Option<ReadyEvent>> {
        if self.reactor.is_shut_down() {
            return Err(io::Error::other(
                "the trioxide runtime that drove this I/O object was shut down; \
                 create I/O objects inside the runtime that uses them",
            ));
        }
        let cur = self.io.readiness.load(Ordering::Acquire);
        let ready = cur & direction.mask();
        Ok((ready != 0).then_some(ReadyEvent {
            tick: cur >> TICK_SHIFT,
            ready,
        }))
    }

    /// Forgets the readiness in `event` (after an I/O call returned `WouldBlock`), unless
    /// a newer event arrived. Closed/error bits stay set: they are final.
    pub fn clear_readiness(&self, event: ReadyEvent) {
        let clear = event.ready & (ready::READABLE | ready::WRITABLE);
        let _ = self
            .io
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                ((cur >> TICK_SHIFT) == event.tick).then_some(cur & !clear)
            });
    }

    /// Runs the non-blocking `op` when `direction` is ready, retrying after `WouldBlock`
    /// until it succeeds, fails otherwise, or there is nothing to do but wait.
    pub fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_until_drained(cx, direction, op, |_| false)
    }

    /// [`poll_io`](Self::poll_io) for one read or write of `len` bytes on a stream
    /// socket. A transfer shorter than asked, but not empty, means the kernel's buffer was
    /// drained (read) or filled (write), so the readiness is cleared then too: the next
    /// call waits for the next event instead of first making a system call that can only
    /// fail with `WouldBlock`. An event that arrived meanwhile keeps the readiness (the
    /// tick no longer matches), and closed/error bits are never cleared, so a peer's FIN
    /// is not missed. Not for peeks or datagrams, where a short result says nothing about
    /// what is left.
    pub fn poll_io_stream(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        len: usize,
        op: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io_until_drained(cx, direction, op, |&n| 0 < n && n < len)
    }

    /// The loop of `poll_io`: also clears the readiness after a success that `drained`
    /// says left nothing to do until the next event.
    fn poll_io_until_drained<R>(
        &self,
        cx: &mut Context<'_>,
        direction: Direction,
        mut op: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        loop {
            let event = match self.poll_ready(cx, direction) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match op() {
                Ok(done) => {
                    if drained(&done) {
                        self.clear_readiness(event);
                    }
                    return Poll::Ready(Ok(done));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(event),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// The registered descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// The reactor this registration belongs to.
    pub fn reactor(&self) -> &ReactorArc {
        &self.reactor
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // The descriptor is still open here (its owner closes it after this drop).
        if self.in_driver.load(Ordering::Acquire) {
            let _ = self.reactor.driver.deregister(self.fd);
        }
        self.reactor.release_token(self.token);
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("fd", &self.fd)
            .field("token", &self.token)
            .finish()
    }
}

/// The descriptor to watch from a host event loop: it polls readable when the reactor has
/// events to dispatch (call [`Reactor::turn`] with a zero timeout then) or was unparked.
/// With io_uring, operations queued since the last `turn` reach the kernel only with the
/// next `turn`: call `turn(Some(Duration::ZERO))` before the host loop blocks.
impl std::os::fd::AsRawFd for Reactor {
    fn as_raw_fd(&self) -> RawFd {
        self.driver.as_raw_fd()
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("backend", &self.backend_name())
            .finish()
    }
}
