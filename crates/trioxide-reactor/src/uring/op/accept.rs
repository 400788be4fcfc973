//! Connection setup: `IORING_OP_ACCEPT` ([`UringOps::accept`]) and `IORING_OP_CONNECT`
//! ([`UringOps::connect`]).
//!
//! Accepted sockets are created non-blocking and close-on-exec, ready to be registered
//! with the reactor. An accept whose future was dropped may still complete with a new
//! connection before the cancel reaches it: the driver then closes that descriptor, so a
//! drop-mid-accept never leaks one. A connect's socket address lives in the op's slab slot
//! until the CQE.

use super::write::finish_unit;
use super::{Op, UringOps, cqe_result};
use crate::uring::slab::{Keep, SockAddrBuf};
use crate::uring::sys;
use io_uring::{opcode, types};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{OwnedFd, RawFd};

impl UringOps {
    /// Accepts a connection on the listening socket `fd`. The new socket is non-blocking
    /// and close-on-exec.
    pub fn accept(&self, fd: RawFd) -> Op<io::Result<OwnedFd>> {
        let entry = opcode::Accept::new(types::Fd(fd), std::ptr::null_mut(), std::ptr::null_mut())
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build();
        // SAFETY: the peer address pointers are null: the SQE carries no pointer.
        unsafe { self.submit(entry, Keep::None, true, finish_fd) }
    }

    /// Connects the socket `fd` to `addr`.
    pub fn connect(&self, fd: RawFd, addr: SocketAddr) -> Op<io::Result<()>> {
        let addr = Box::new(sockaddr(addr));
        let entry = opcode::Connect::new(
            types::Fd(fd),
            (&addr.storage as *const libc::sockaddr_storage).cast(),
            addr.len,
        )
        .build();
        // SAFETY: the SQE points into the boxed address, which `Keep::Addr` owns until the
        // CQE; moving the box does not move its contents.
        unsafe { self.submit(entry, Keep::Addr(addr), false, finish_unit) }
    }
}

/// Turns a CQE whose result is a new descriptor into an `OwnedFd`.
pub(crate) fn finish_fd(res: i32, _keep: Keep) -> io::Result<OwnedFd> {
    cqe_result(res).map(|fd| sys::owned_fd(fd as RawFd))
}

/// `addr` in the kernel's layout, without any pointer cast: the `sockaddr_in{,6}` is
/// written field by field into a zeroed storage through its byte image.
pub(crate) fn sockaddr(addr: SocketAddr) -> SockAddrBuf {
    let mut bytes = [0u8; std::mem::size_of::<libc::sockaddr_storage>()];
    let len = match addr {
        SocketAddr::V4(a) => {
            bytes[..2].copy_from_slice(&(libc::AF_INET as libc::sa_family_t).to_ne_bytes());
            bytes[2..4].copy_from_slice(&a.port().to_be_bytes());
            bytes[4..8].copy_from_slice(&a.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            bytes[..2].copy_from_slice(&(libc::AF_INET6 as libc::sa_family_t).to_ne_bytes());
            bytes[2..4].copy_from_slice(&a.port().to_be_bytes());
            bytes[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
            bytes[8..24].copy_from_slice(&a.ip().octets());
            bytes[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    SockAddrBuf {
        storage: sys::sockaddr_storage_from_bytes(bytes),
        len: len as libc::socklen_t,
    }
}

#[cfg(test)]
mod tests {
    use crate::uring::tests::{block_on, driver_or_skip};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    fn tcp_socket() -> OwnedFd {
        // SAFETY: plain syscall with constant arguments; the result is checked below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0);
        // SAFETY: `fd` is a fresh descriptor we own.
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    #[test]
    fn accepts_a_connection() {
        let Some(driver) = driver_or_skip("accepts_a_connection") else {
            return;
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let fut = driver.ops().accept(listener.as_raw_fd());
        let mut client = TcpStream::connect(addr).unwrap();
        let accepted = block_on(&driver, fut).unwrap();
        let mut server = std::net::TcpStream::from(accepted);
        client.write_all(b"hi").unwrap();
        server.set_nonblocking(false).unwrap();
        let mut got = [0; 2];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
    }

    #[test]
    fn connects_and_reports_refusal() {
        let Some(driver) = driver_or_skip("connects_and_reports_refusal") else {
            return;
        };
        let ops = driver.ops();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let sock = tcp_socket();
        block_on(&driver, ops.connect(sock.as_raw_fd(), addr)).unwrap();
        let (_peer, peer_addr) = listener.accept().unwrap();
        assert_eq!(
            peer_addr,
            std::net::TcpStream::from(sock).local_addr().unwrap()
        );
        drop(listener); // nothing listens on `addr` any more
        let sock = tcp_socket();
        let err = block_on(&driver, ops.connect(sock.as_raw_fd(), addr)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn sockaddr_layout_matches_libc() {
        let v4 = super::sockaddr("127.0.0.1:8080".parse().unwrap());
        assert_eq!(v4.len as usize, std::mem::size_of::<libc::sockaddr_in>());
        assert_eq!(v4.storage.ss_family, libc::AF_INET as libc::sa_family_t);
        let v6 = super::sockaddr("[::1]:443".parse().unwrap());
        assert_eq!(v6.len as usize, std::mem::size_of::<libc::sockaddr_in6>());
        assert_eq!(v6.storage.ss_family, libc::AF_INET6 as libc::sa_family_t);
    }
}
