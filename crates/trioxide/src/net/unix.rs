//! Unix domain sockets: `UnixListener` and `UnixStream` on the reactor, with futures-io
//! `AsyncRead` / `AsyncWrite`.

use super::poll_fd::PollFd;
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use trioxide_reactor::Direction;

/// A Unix-domain listening socket.
#[derive(Debug)]
pub struct UnixListener {
    io: PollFd<std::os::unix::net::UnixListener>,
}

impl UnixListener {
    /// Binds to the socket file at `path` (which must not exist yet).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let listener = std::os::unix::net::UnixListener::bind(path)?;
        Self::from_std(listener)
    }

    /// Wraps a std listener (made non-blocking here).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            io: PollFd::new(listener)?,
        })
    }

    /// Waits for a connection. Cancel-safe. Backs off on `EMFILE` and other resource
    /// errors instead of returning them, as [`TcpListener::accept`](super::TcpListener::accept)
    /// does.
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = super::backoff::retry_on_exhaustion(|cx| {
            self.io.poll_with(cx, Direction::Read, |l| l.accept())
        })
        .await?;
        Ok((UnixStream::from_std(stream)?, addr))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }
}

/// A Unix-domain stream connection.
#[derive(Debug)]
pub struct UnixStream {
    io: PollFd<std::os::unix::net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`. (Unix connects complete at once unless the
    /// listener's backlog is full.)
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        Self::from_std(std::os::unix::net::UnixStream::connect(path)?)
    }

    /// A connected pair of streams.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((Self::from_std(a)?, Self::from_std(b)?))
    }

    /// Wraps a std stream (made non-blocking here).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            io: PollFd::new(stream)?,
        })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Shuts down the read half, the write half, or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    // Reads keep retrying until `WouldBlock`: a Unix stream read can stop short with data
    // left (at a message carrying other credentials or descriptors), so a short read
    // says nothing about what is left. A short write does mean the buffer is full.
    fn poll_read_ref(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_with(cx, Direction::Read, |s| {
            super::sys::recv(s.as_raw_fd(), buf)
        })
    }

    /// [`poll_read_ref`](Self::poll_read_ref) into memory that need not be initialised
    /// (hyper's read buffer), as `TcpStream::poll_read_uninit`.
    #[cfg_attr(not(any(feature = "hyper", feature = "tokio-io")), allow(dead_code))]
    pub(crate) fn poll_read_uninit(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        self.io.poll_with(cx, Direction::Read, |s| {
            super::sys::recv_uninit(s.as_raw_fd(), buf)
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

super::tcp::impl_stream_io!(UnixStream);
super::tcp::impl_stream_io!(&UnixStream);

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}
