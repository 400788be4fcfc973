//! TCP: `TcpListener` and `TcpStream` on the reactor, with futures-io `AsyncRead` /
//! `AsyncWrite` (also on `&TcpStream`, as std implements `Read` for `&TcpStream`).

use super::backoff::{Backoff, is_resource_exhaustion};
use super::poll_fd::PollFd;
use super::{resolve, sys};
use crate::runtime::Handle;
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice, Read};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use trioxide_reactor::Direction;
use trioxide_reactor::uring::{BufResult, MultiAccept, Op};
use trioxide_task::coop;

/// A TCP listening socket (asyncio's `start_server` socket).
///
/// ```
/// use trioxide::net::{TcpListener, TcpStream};
/// use trioxide::io::{AsyncReadExt, AsyncWriteExt};
///
/// trioxide::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let server = trioxide::spawn(async move {
///         let (mut conn, _) = listener.accept().await.unwrap();
///         conn.write_all(b"hi").await.unwrap();
///     });
///     let mut client = TcpStream::connect(addr).await.unwrap();
///     let mut buf = [0; 2];
///     client.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hi");
///     server.await.unwrap();
/// });
/// ```
#[derive(Debug)]
pub struct TcpListener {
    /// On io_uring (Linux 5.19+): one multishot accept feeding every `accept`. Declared
    /// first so it is cancelled before `io` closes the descriptor.
    multi: Option<MultiAccept>,
    io: PollFd<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to the first of `addr`'s addresses that works, with `SO_REUSEADDR` and a
    /// large backlog.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        super::first_ok(addr, Self::bind_addr)
    }

    /// Binds like [`bind`](Self::bind) with `SO_REUSEPORT` as well, so that several
    /// listeners (each set up the same way, in this process or another) can bind the same
    /// address; the kernel then spreads new connections over them. With one such
    /// listener per core of a [`ThreadPerCore`](crate::runtime::Flavor::ThreadPerCore)
    /// runtime, each core accepts its own connections, and
    /// [`set_incoming_cpu`](Self::set_incoming_cpu) makes the kernel pick the listener of
    /// the CPU that handles the connection's packets (on loopback: the connecting
    /// thread's CPU), so a connection's socket work, its task and its ring stay on one
    /// CPU.
    ///
    /// ```
    /// use trioxide::net::TcpListener;
    ///
    /// trioxide::run(async {
    ///     let first = TcpListener::bind_reuse_port("127.0.0.1:0").await.unwrap();
    ///     let addr = first.local_addr().unwrap();
    ///     let second = TcpListener::bind_reuse_port(addr).await.unwrap();
    ///     assert_eq!(second.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub async fn bind_reuse_port(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        super::first_ok(addr, |addr| Self::bind_addr_with(addr, true))
    }

    fn bind_addr(addr: &SocketAddr) -> io::Result<TcpListener> {
        Self::bind_addr_with(addr, false)
    }

    fn bind_addr_with(addr: &SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
        let fd = sys::socket(addr, libc::SOCK_STREAM)?;
        sys::set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
        if reuse_port {
            sys::set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
        }
        sys::bind(fd.as_raw_fd(), addr)?;
        sys::listen(fd.as_raw_fd())?;
        Self::from_listening(std::net::TcpListener::from(fd))
    }

    /// Wraps a std listener (made non-blocking here).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Self::from_listening(listener)
    }

    fn from_listening(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        let io = PollFd::new(listener)?;
        let multi = io.uring_ops().and_then(|ops| {
            let multi = ops.accept_multishot(io.get_ref().as_raw_fd())?;
            Some(multi.keeping_open(io.owner().clone()))
        });
        Ok(TcpListener { multi, io })
    }

    /// Waits for a connection. Cancel-safe: dropping the future loses no connection.
    ///
    /// When the process or system is out of descriptors or memory (`EMFILE`, `ENFILE`,
    /// `ENOBUFS`, `ENOMEM`), `accept` does not return the error: it sleeps for a delay
    /// growing from 1 ms to 100 ms and tries again, so a server's accept loop neither dies
    /// nor spins, and the connections waiting in the backlog are accepted once descriptors
    /// free up. Use [`poll_accept`](Self::poll_accept) to see those errors yourself.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        super::backoff::retry_on_exhaustion(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection: the raw form of [`accept`](Self::accept), which returns
    /// resource errors (`EMFILE`, ...) to the caller instead of backing off. A caller that
    /// retries at once after such an error spins: the pending connection keeps the
    /// listener readable.
    ///
    /// On io_uring (Linux 5.19+) connections come from one multishot accept kept armed
    /// in the kernel (no syscall per accept); elsewhere from `accept4` on readiness.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        if let Some(multi) = &self.multi {
            std::task::ready!(coop::poll_proceed(cx));
            loop {
                match std::task::ready!(multi.poll_accept(cx)) {
                    Some(Ok(fd)) => {
                        let stream = std::net::TcpStream::from(fd);
                        match stream.peer_addr() {
                            Ok(peer) => {
                                return Poll::Ready(Ok((Self::registered_stream(stream)?, peer)));
                            }
                            // Reset before we looked: as if it never arrived.
                            Err(e) if e.kind() == io::ErrorKind::NotConnected => continue,
                            Err(e) => return Poll::Ready(Err(e)),
                        }
                    }
                    Some(Err(e)) => return Poll::Ready(Err(e)),
                    None => break, // the kernel lacks multishot accept after all
                }
            }
        }
        self.io
            .poll_with(cx, Direction::Read, |l| sys::accept(l.as_raw_fd()))
            .map(|res| {
                let (fd, peer) = res?;
                Ok((
                    Self::registered_stream(std::net::TcpStream::from(fd))?,
                    peer,
                ))
            })
    }

    /// An accepted connection: registered with the worker that first uses it (usually the
    /// worker running the task it was handed to), see `PollFd::new_deferred`.
    fn registered_stream(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        PollFd::new_deferred(stream).map(TcpStream::with_io)
    }

    /// The bound address (with the real port after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `SO_INCOMING_CPU`: among listeners bound with
    /// [`bind_reuse_port`](Self::bind_reuse_port) to one address, the kernel gives a new
    /// connection to the listener whose CPU handled the connection's first packet, and
    /// only falls back to spreading them when none matches. Call it on each core's
    /// listener with that core's CPU ([`current_cpu`](crate::runtime::current_cpu) on a
    /// pinned core thread, see [`Builder::pin_threads`](crate::runtime::Builder::pin_threads)).
    /// A number beyond `c_int` is an `InvalidInput` error (the kernel itself accepts any).
    pub fn set_incoming_cpu(&self, cpu: usize) -> io::Result<()> {
        let cpu = libc::c_int::try_from(cpu)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "CPU number out of range"))?;
        sys::set_int_option(
            self.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_INCOMING_CPU,
            cpu,
        )
    }

    /// The `SO_INCOMING_CPU` of this listener: `None` until
    /// [`set_incoming_cpu`](Self::set_incoming_cpu) (or the kernel) set one.
    pub fn incoming_cpu(&self) -> io::Result<Option<usize>> {
        let cpu = sys::int_option(self.as_raw_fd(), libc::SOL_SOCKET, libc::SO_INCOMING_CPU)?;
        Ok(usize::try_from(cpu).ok())
    }

    /// A stream of incoming connections. Like [`accept`](Self::accept), it backs off on
    /// resource errors instead of yielding them.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            backoff: Backoff::default(),
        }
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        if self.multi.is_some() {
            // The multishot accept holds the socket open in the kernel until its
            // cancellation completes: stop listening now, so the port is closed when
            // `drop` returns, as with a plain close.
            sys::stop_listening(self.io.get_ref().as_raw_fd());
        }
    }
}

/// The `Stream` of [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    backoff: Backoff,
}

impl futures_core::Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            std::task::ready!(this.backoff.poll_wait(cx));
            match std::task::ready!(this.listener.poll_accept(cx)) {
                Err(e) if is_resource_exhaustion(&e) => this.backoff.arm(),
                other => {
                    if other.is_ok() {
                        this.backoff.reset();
                    }
                    return Poll::Ready(Some(other.map(|(s, _)| s)));
                }
            }
        }
    }
}

/// A TCP connection.
///
/// ```
/// use trioxide::io::{AsyncReadExt, AsyncWriteExt};
/// use trioxide::net::{TcpListener, TcpStream};
///
/// trioxide::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let echo = trioxide::spawn(async move {
///         let (mut conn, _) = listener.accept().await.unwrap();
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf).await.unwrap();
///         conn.write_all(&buf).await.unwrap();
///     });
///     let mut stream = TcpStream::connect(addr).await.unwrap();
///     stream.write_all(b"hello").await.unwrap();
///     let mut back = String::new();
///     stream.read_to_string(&mut back).await.unwrap(); // until the server closes
///     assert_eq!(back, "hello");
///     echo.await.unwrap();
/// });
/// ```
#[derive(Debug)]
pub struct TcpStream {
    io: PollFd<std::net::TcpStream>,
    /// On io_uring, the next owned-buffer read probably finds no data: the last one
    /// came back short (the socket was drained) or an owned write came since (a
    /// request's answer takes a while). Then the read asks the kernel to wait for data
    /// first (`UringOps::recv_after_drain`), sparing it a receive attempt that would
    /// fail. Only a hint: either way the read is correct.
    drained: AtomicBool,
}

/// Runs a connect step for at most `timeout`, failing with `ErrorKind::TimedOut` after.
async fn connect_within<T>(
    timeout: Duration,
    step: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    crate::time::timeout(timeout, step)
        .await
        .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")))
}

impl TcpStream {
    /// Connects to the first of `addr`'s addresses that accepts.
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let mut last_err = None;
        for addr in resolve(addr)? {
            match Self::connect_addr(&addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(super::no_addresses))
    }

    /// Connects to `addr`, giving up with `ErrorKind::TimedOut` after `timeout`.
    ///
    /// On io_uring the connect is one SQE linked to an `IORING_OP_LINK_TIMEOUT`: the
    /// kernel cancels it at the deadline, no timer of ours is involved (should the kernel
    /// report the connect still in progress, the rest of the wait is readiness-based). On
    /// epoll it is the readiness-based connect under [`time::timeout`](crate::time::timeout).
    pub async fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let Some(ops) = Handle::try_current()
            .ok()
            .and_then(|h| h.reactor().uring_ops().cloned())
        else {
            return connect_within(timeout, Self::connect_addr(addr)).await;
        };
        let fd = sys::socket(addr, libc::SOCK_STREAM)?;
        let stream = Self::from_registered(std::net::TcpStream::from(fd))?;
        let start = std::time::Instant::now();
        match ops
            .connect_timeout(stream.as_raw_fd(), *addr, timeout)
            .keeping_open(stream.io.owner())
            .await
        {
            Ok(()) => Ok(stream),
            // The kernel retries a pending connect op when the socket's wait queue wakes,
            // and a wake-up that comes before the handshake is done (seen under load)
            // makes that retry fail with EALREADY: the connect is still in progress.
            // Wait for it the poll-based way, in the time that is left.
            Err(e) if e.raw_os_error() == Some(libc::EALREADY) => {
                let left = timeout.saturating_sub(start.elapsed());
                connect_within(left, stream.connected()).await?;
                Ok(stream)
            }
            Err(e) => Err(e),
        }
    }

    async fn connect_addr(addr: &SocketAddr) -> io::Result<TcpStream> {
        let fd = sys::socket(addr, libc::SOCK_STREAM)?;
        let done = sys::connect(fd.as_raw_fd(), addr)?;
        let stream = Self::from_registered(std::net::TcpStream::from(fd))?;
        if !done {
            stream.connected().await?;
        }
        Ok(stream)
    }

    /// Waits for a non-blocking connect in progress to finish: writable, then the
    /// socket's pending error, if any, is the connect's.
    async fn connected(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.io.poll_ready(cx, Direction::Write)).await?;
        match sys::take_error(self.io.get_ref())? {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn from_registered(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        PollFd::new(stream).map(TcpStream::with_io)
    }

    fn with_io(io: PollFd<std::net::TcpStream>) -> TcpStream {
        TcpStream {
            io,
            drained: AtomicBool::new(false),
        }
    }

    /// Wraps a connected std stream (made non-blocking here).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Self::from_registered(stream)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// Reads into `buf` (borrowed-buffer form; 0 means EOF). Cancel-safe.
    pub async fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.with(Direction::Read, |mut s| s.read(buf)).await
    }

    /// Writes some of `buf`, returning how much. Cancel-safe.
    pub async fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        self.io
            .with(Direction::Write, |s| sys::send_nosignal(s.as_raw_fd(), buf))
            .await
    }

    /// Reads into an owned buffer (its whole capacity, from the start; the length becomes
    /// the byte count) and gives the buffer back, as tokio-uring and monoio do. On
    /// io_uring the kernel reads straight into `buf`; if this future is dropped before
    /// the read completes, the buffer stays with the driver until the kernel is done with
    /// it (no use-after-free) and is then freed. On epoll it is a readiness-based read.
    ///
    /// Cancel-safe in the sense that no byte is lost *if the read had not completed*;
    /// bytes the kernel already placed in a dropped read's buffer are gone with it.
    pub async fn read_owned(&self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        let cap = buf.capacity();
        let drained = self.drained.load(Ordering::Relaxed);
        let mut buf = match self.submit_recv(buf, drained) {
            Ok(op) => {
                let (res, buf) = op.keeping_open(self.io.owner()).await;
                let short = matches!(res, Ok(n) if n < cap);
                self.drained.store(short, Ordering::Relaxed);
                return (res, buf);
            }
            Err(buf) => buf,
        };
        let cap = buf.capacity().max(1);
        buf.resize(cap, 0);
        let result = self
            .io
            .with(Direction::Read, |mut s| s.read(&mut buf))
            .await;
        buf.truncate(*result.as_ref().unwrap_or(&0));
        (result, buf)
    }

    /// Writes all of an owned buffer and gives it back (the owned-buffer counterpart of
    /// `AsyncWriteExt::write_all`; on io_uring the kernel reads straight from `buf`).
    pub async fn write_all_owned(&self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        if buf.is_empty() {
            return (Ok(()), buf);
        }
        // The common case: the whole buffer goes to the kernel as it is, no copy.
        let first = match self.submit_send(buf) {
            Ok(first) => first,
            Err(buf) => return self.write_all_ready(buf, 0).await,
        };
        // A receive after a send usually waits for the peer's answer.
        self.drained.store(true, Ordering::Relaxed);
        let (mut res, mut buf) = first.keeping_open(self.io.owner()).await;
        let mut written = 0;
        loop {
            match res {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => written += n,
                Err(e) => return (Err(e), buf),
            }
            if written >= buf.len() {
                return (Ok(()), buf);
            }
            // After a short send the kernel must start at `written`: send the rest as a
            // buffer of its own, then put it back.
            let rest = buf.split_off(written);
            res = match self.submit_send(rest) {
                Ok(op) => {
                    let (sent, rest) = op.keeping_open(self.io.owner()).await;
                    buf.extend_from_slice(&rest);
                    sent
                }
                Err(rest) => {
                    // The stream's reactor left io_uring (cannot happen): finish by readiness.
                    buf.extend_from_slice(&rest);
                    return self.write_all_ready(buf, written).await;
                }
            };
        }
    }

    /// Submits an io_uring receive into `buf`'s capacity on this thread's ring;
    /// `expect_idle` says no data is expected yet (`UringOps::recv_after_drain`). On
    /// epoll nothing is submitted and `buf` comes back. The op must be dropped through
    /// `Op::keeping_open` / `Op::cancel_keeping` with [`keep_open`](Self::keep_open)
    /// (see `PollFd`).
    pub(crate) fn submit_recv(
        &self,
        buf: Vec<u8>,
        expect_idle: bool,
    ) -> Result<Op<BufResult>, Vec<u8>> {
        let fd = self.as_raw_fd();
        self.io.with_uring_ops(buf, |ops, buf| {
            if expect_idle {
                ops.recv_after_drain(fd, buf)
            } else {
                ops.recv(fd, buf)
            }
        })
    }

    /// A new reference to the socket, keeping it open: for a dropped op on it
    /// (`Op::cancel_keeping`).
    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    pub(crate) fn keep_open(&self) -> trioxide_reactor::uring::KeepOpen {
        self.io.owner().clone()
    }

    /// Whether this stream's operations go to an io_uring ring (the runtime's backend).
    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    pub(crate) fn uring_available(&self) -> bool {
        self.io.with_uring_ops((), |_, ()| ()).is_ok()
    }

    /// Submits an io_uring send of `buf` on this thread's ring; on epoll nothing is
    /// submitted and `buf` comes back. Drop the op as for [`submit_recv`](Self::submit_recv).
    pub(crate) fn submit_send(&self, buf: Vec<u8>) -> Result<Op<BufResult>, Vec<u8>> {
        let fd = self.as_raw_fd();
        self.io.with_uring_ops(buf, |ops, buf| ops.send(fd, buf))
    }

    /// `write_all_owned` on readiness, from byte `written` on: `send` whenever the socket
    /// is writable.
    async fn write_all_ready(&self, buf: Vec<u8>, mut written: usize) -> (io::Result<()>, Vec<u8>) {
        while written < buf.len() {
            match self
                .io
                .with(Direction::Write, |s| {
                    sys::send_nosignal(s.as_raw_fd(), &buf[written..])
                })
                .await
            {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => written += n,
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    fn poll_read_ref(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.io
            .poll_stream_with(cx, Direction::Read, len, |s| sys::recv(s.as_raw_fd(), buf))
    }

    /// [`poll_read_ref`](Self::poll_read_ref) into memory that need not be initialised
    /// (hyper's read buffer): no `memset` before each read. Returns how many bytes were
    /// written, and so initialised, at the front of `buf`.
    #[cfg_attr(not(any(feature = "hyper", feature = "tokio-io")), allow(dead_code))]
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.io.poll_stream_with(cx, Direction::Read, len, |s| {
            sys::recv_uninit(s.as_raw_fd(), buf)
        })
    }

    fn poll_write_ref(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.io.poll_stream_send(cx, buf)
    }

    fn poll_write_vectored_ref(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_stream_send_vectored(cx, bufs)
    }

    fn poll_close_ref(&self) -> Poll<io::Result<()>> {
        match self.io.get_ref().shutdown(Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }
}

macro_rules! impl_stream_io {
    ($ty:ty) => {
        impl AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_read_ref(cx, buf)
            }
        }

        impl AsyncWrite for $ty {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_ref(cx, buf)
            }
            fn poll_write_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                self.poll_write_vectored_ref(cx, bufs)
            }
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.poll_close_ref()
            }
        }
    };
}
pub(crate) use impl_stream_io;

impl_stream_io!(TcpStream);
impl_stream_io!(&TcpStream);

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}
