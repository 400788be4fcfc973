//! UDP: `UdpSocket` on the reactor. Every method takes `&self`, so one socket can be
//! shared by several tasks (each waiting task is woken on readiness).

use super::poll_fd::PollFd;
use super::{resolve, sys};
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::task::{Context, Poll};
use trioxide_reactor::Direction;

/// A UDP socket.
///
/// ```
/// use trioxide::net::UdpSocket;
/// trioxide::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
/// });
/// ```
#[derive(Debug)]
pub struct UdpSocket {
    io: PollFd<std::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to the first of `addr`'s addresses that works.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        super::first_ok(addr, |addr| {
            let fd = sys::socket(addr, libc::SOCK_DGRAM)?;
            sys::bind(fd.as_raw_fd(), addr)?;
            Ok(UdpSocket {
                io: PollFd::new(std::net::UdpSocket::from(fd))?,
            })
        })
    }

    /// Wraps a std socket (made non-blocking here).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(UdpSocket {
            io: PollFd::new(socket)?,
        })
    }

    /// Sets the default peer for `send` / `recv` and filters incoming datagrams.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        super::first_ok(addr, |addr| self.io.get_ref().connect(addr))
    }

    /// Sends a datagram to `target`. Cancel-safe.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = resolve(target)?
            .into_iter()
            .next()
            .ok_or_else(super::no_addresses)?;
        self.io
            .with(Direction::Write, |s| s.send_to(buf, target))
            .await
    }

    /// Receives a datagram and its sender. Cancel-safe.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.with(Direction::Read, |s| s.recv_from(buf)).await
    }

    /// Sends to the connected peer. Cancel-safe.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.io.with(Direction::Write, |s| s.send(buf)).await
    }

    /// Receives from the connected peer. Cancel-safe.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.with(Direction::Read, |s| s.recv(buf)).await
    }

    /// Sends an owned buffer as one datagram to `target` and gives the buffer back.
    ///
    /// On io_uring this is an `IORING_OP_SENDMSG` whose buffer, header and address stay
    /// with the driver until the kernel is done, even if the future is dropped; on epoll a
    /// readiness-based `sendto`. (The borrowed-buffer [`send_to`](Self::send_to) stays
    /// readiness-based on both backends: a borrowed buffer cannot be lent to the kernel
    /// past a dropped future.)
    pub async fn send_to_owned(
        &self,
        buf: Vec<u8>,
        target: SocketAddr,
    ) -> (io::Result<usize>, Vec<u8>) {
        if let Some(ops) = self.io.uring_ops() {
            return ops
                .send_to(self.as_raw_fd(), buf, target)
                .keeping_open(self.io.owner())
                .await;
        }
        let res = self
            .io
            .with(Direction::Write, |s| s.send_to(&buf, target))
            .await;
        (res, buf)
    }

    /// Receives one datagram into an owned buffer's capacity (its length becomes the byte
    /// count) and gives the buffer back with the sender's address. On io_uring an
    /// `IORING_OP_RECVMSG` (a dropped future leaves the buffer with the driver until the
    /// kernel answers; a datagram that arrived into it is then lost); on epoll a
    /// readiness-based `recvfrom`.
    pub async fn recv_from_owned(
        &self,
        mut buf: Vec<u8>,
    ) -> (io::Result<(usize, SocketAddr)>, Vec<u8>) {
        if let Some(ops) = self.io.uring_ops() {
            return ops
                .recv_from(self.as_raw_fd(), buf)
                .keeping_open(self.io.owner())
                .await;
        }
        buf.resize(buf.capacity().max(1), 0);
        let res = self
            .io
            .with(Direction::Read, |s| s.recv_from(&mut buf))
            .await;
        buf.truncate(res.as_ref().map_or(0, |(n, _)| *n));
        (res, buf)
    }

    /// Polls `recv_from`.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.io.poll_with(cx, Direction::Read, |s| s.recv_from(buf))
    }

    /// Polls `send_to`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_with(cx, Direction::Write, |s| s.send_to(buf, target))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }

    /// Allows sending to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.get_ref().as_raw_fd()
    }
}
