//! Datagrams: `IORING_OP_SENDMSG` ([`UringOps::send_to`]) and `IORING_OP_RECVMSG`
//! ([`UringOps::recv_from`]) on owned buffers.
//!
//! `sendto`/`recvfrom` have no io_uring opcodes of their own; `sendmsg`/`recvmsg` carry
//! the peer address in the message header. Header, `iovec`, address and data buffer live
//! in one [`MsgBuf`](crate::uring::sys::MsgBuf) box owned by the op's slab slot until the
//! CQE, so a dropped datagram future never leaves the kernel a dangling pointer.
//! `MSG_NOSIGNAL` is added to sends as in `send.rs`.

use super::accept::sockaddr;
use super::{BufResult, Op, UringOps, cqe_result};
use crate::uring::slab::Keep;
use crate::uring::sys::{self, MsgBuf};
use io_uring::{opcode, types};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// The output of [`UringOps::recv_from`]: the byte count and sender, and the buffer.
pub type RecvFromResult = (io::Result<(usize, SocketAddr)>, Vec<u8>);

impl UringOps {
    /// Sends `buf` as one datagram to `addr` on the socket `fd`. Resolves to the bytes
    /// sent and the buffer.
    pub fn send_to(&self, fd: RawFd, buf: Vec<u8>, addr: SocketAddr) -> Op<BufResult> {
        let addr = sockaddr(addr);
        let msg = MsgBuf::new(buf, addr.storage, addr.len, false);
        let entry = opcode::SendMsg::new(types::Fd(fd), &raw const msg.hdr)
            .flags(libc::MSG_NOSIGNAL as u32)
            .build();
        // SAFETY: the SQE points at the boxed header, whose pointers lead into the same box
        // and into the buffer's heap allocation; `Keep::Msg` owns both until the CQE.
        unsafe { self.submit(entry, Keep::Msg(msg), false, finish_send_to) }
    }

    /// Receives one datagram into `buf`'s capacity from the socket `fd`. Resolves to the
    /// byte count and sender, and the buffer (its length set to the count; a datagram
    /// longer than the capacity is truncated, as with `recvfrom`).
    pub fn recv_from(&self, fd: RawFd, buf: Vec<u8>) -> Op<RecvFromResult> {
        let storage = sys::sockaddr_storage_from_bytes([0; size_of::<libc::sockaddr_storage>()]);
        let len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        let mut msg = MsgBuf::new(buf, storage, len, true);
        let entry = opcode::RecvMsg::new(types::Fd(fd), &raw mut msg.hdr).build();
        // SAFETY: as in `send_to`: every pointer leads into the box or the buffer, which
        // `Keep::Msg` owns until the CQE.
        unsafe { self.submit(entry, Keep::Msg(msg), false, finish_recv_from) }
    }
}

fn finish_send_to(res: i32, keep: Keep) -> BufResult {
    (cqe_result(res), super::take_buf(keep))
}

fn finish_recv_from(res: i32, keep: Keep) -> RecvFromResult {
    let Keep::Msg(msg) = keep else {
        return (cqe_result(res).map(|_| unreachable_addr()), Vec::new());
    };
    let MsgBuf { addr, mut buf, .. } = *msg;
    let out = cqe_result(res).and_then(|n| {
        sys::set_init(&mut buf, n);
        Ok((n, decode_sockaddr(&addr)?))
    });
    (out, buf)
}

/// Never reached: a recvmsg slot always keeps a `Keep::Msg`.
fn unreachable_addr() -> (usize, SocketAddr) {
    (0, SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// The IPv4 or IPv6 address the kernel wrote, read field by field from its bytes.
pub(crate) fn decode_sockaddr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    let b = sys::sockaddr_storage_bytes(storage);
    let family = libc::sa_family_t::from_ne_bytes([b[0], b[1]]) as libc::c_int;
    let port = u16::from_be_bytes([b[2], b[3]]);
    match family {
        libc::AF_INET => {
            let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
        }
        libc::AF_INET6 => {
            let flowinfo = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let octets: [u8; 16] = b[8..24].try_into().expect("16 bytes");
            let scope = u32::from_ne_bytes([b[24], b[25], b[26], b[27]]);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(octets),
                port,
                flowinfo,
                scope,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the datagram's sender is not an IP address",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::decode_sockaddr;
    use crate::uring::op::accept::sockaddr;
    use crate::uring::tests::{block_on, driver_or_skip, turn_until};
    use std::net::{SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;

    #[test]
    fn addresses_round_trip_through_the_kernel_layout() {
        for text in ["127.0.0.1:9", "[::1]:443", "[fe80::1%3]:80"] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(decode_sockaddr(&sockaddr(addr).storage).unwrap(), addr);
        }
    }

    #[test]
    fn datagrams_go_both_ways_with_their_sender() {
        let Some(driver) = driver_or_skip("datagrams_go_both_ways_with_their_sender") else {
            return;
        };
        let ops = driver.ops();
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let recv = ops.recv_from(b.as_raw_fd(), Vec::with_capacity(64));
        let (res, buf) = block_on(
            &driver,
            ops.send_to(a.as_raw_fd(), b"ping".to_vec(), b.local_addr().unwrap()),
        );
        assert_eq!(res.unwrap(), 4);
        assert_eq!(buf, b"ping");
        let (res, buf) = block_on(&driver, recv);
        assert_eq!(res.unwrap(), (4, a.local_addr().unwrap()));
        assert_eq!(buf, b"ping");
        assert_eq!(ops.in_flight(), 0);
    }

    #[test]
    fn dropped_receives_free_their_messages() {
        let Some(driver) = driver_or_skip("dropped_receives_free_their_messages") else {
            return;
        };
        let ops = driver.ops();
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let pending: Vec<_> = (0..64)
            .map(|_| ops.recv_from(sock.as_raw_fd(), Vec::with_capacity(1500)))
            .collect();
        turn_until(&driver, || false, 2);
        assert_eq!(ops.in_flight(), 64);
        drop(pending);
        turn_until(&driver, || ops.in_flight() == 0, 300);
        assert_eq!(
            ops.in_flight(),
            0,
            "every cancelled recvmsg freed its buffer"
        );
    }
}
