//! The raw socket calls the std library does not offer in non-blocking form: creating a
//! non-blocking socket, a non-blocking `connect`, `listen` with a large backlog, `accept4`
//! and reading `SO_ERROR`. Every `unsafe` of the net module lives here.

use std::io;
use std::mem::{MaybeUninit, size_of};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Listen backlog: the kernel caps it at `net.core.somaxconn`.
pub(crate) const LISTEN_BACKLOG: libc::c_int = 4096;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A `sockaddr_storage` holding `addr`, and its length.
fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { MaybeUninit::zeroed().assume_init() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in>()
                    .write(sin)
            };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in6>()
                    .write(sin6)
            };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Decodes a socket address written by the kernel.
fn to_socket_addr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    match storage.ss_family as libc::c_int {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Ok(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an IP socket address",
        )),
    }
}

/// A new non-blocking, close-on-exec socket of the address's family.
pub(crate) fn socket(addr: &SocketAddr, ty: libc::c_int) -> io::Result<OwnedFd> {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain syscall; the result is checked.
    let fd =
        cvt(unsafe { libc::socket(family, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Starts a non-blocking connect: `Ok(true)` if it completed at once, `Ok(false)` if it
/// is in progress (wait for writability, then check [`take_error`]).
pub(crate) fn connect(fd: RawFd, addr: &SocketAddr) -> io::Result<bool> {
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a valid address of `len` bytes.
    let ret = unsafe { libc::connect(fd, (&storage as *const libc::sockaddr_storage).cast(), len) };
    if ret == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINPROGRESS) => Ok(false),
        _ => Err(err),
    }
}

/// Binds `fd` to `addr`.
pub(crate) fn bind(fd: RawFd, addr: &SocketAddr) -> io::Result<()> {
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a valid address of `len` bytes.
    cvt(unsafe { libc::bind(fd, (&storage as *const libc::sockaddr_storage).cast(), len) })?;
    Ok(())
}

/// Sets an integer socket option.
pub(crate) fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: passes a pointer to a c_int and its size.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Reads an integer socket option.
pub(crate) fn int_option(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: passes a pointer to a c_int and its size, which the kernel writes.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// `listen` with trioxide's backlog.
pub(crate) fn listen(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we own.
    cvt(unsafe { libc::listen(fd, LISTEN_BACKLOG) })?;
    Ok(())
}

/// Accepts one connection as a non-blocking, close-on-exec socket.
pub(crate) fn accept(fd: RawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { MaybeUninit::zeroed().assume_init() };
    let mut len = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` has room for `len` bytes, which the kernel fills in.
    let new = cvt(unsafe {
        libc::accept4(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: `new` is a fresh descriptor we own.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    Ok((owned, to_socket_addr(&storage)?))
}

/// Reads and clears the pending socket error (`SO_ERROR`).
pub(crate) fn take_error(fd: &impl AsRawFd) -> io::Result<Option<io::Error>> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: passes a pointer to a c_int and its size.
    cvt(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok((value != 0).then(|| io::Error::from_raw_os_error(value)))
}

// The hot socket calls below go through `libc::syscall` rather than glibc's `recv` /
// `send` / `sendmsg` wrappers: those are pthread cancellation points, and switching
// asynchronous cancellation on and off around each call showed up as 2-3% of a
// keep-alive HTTP server's CPU time. Our sockets are non-blocking and Rust never uses
// pthread cancellation, so the plain system call does the same work.

/// The result of a raw `syscall`: the count, or the `errno` it set.
fn cvt_len(ret: libc::c_long) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// `recv(2)` (as `recvfrom` with no address) into `buf`.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and `recv_uninit`
    // only writes initialised bytes into it.
    recv_uninit(fd, unsafe {
        &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>])
    })
}

/// `recv(2)` into memory that need not be initialised: the kernel only writes to it, so
/// the first `n` bytes (`n` returned) are initialised afterwards.
pub(crate) fn recv_uninit(fd: RawFd, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the
    // call; the null address pointers ask for no peer address.
    cvt_len(unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            0,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    })
}

/// `send(2)` with `MSG_NOSIGNAL`: writing to a reset or closed peer is an `EPIPE` error,
/// never a `SIGPIPE` (whose default action kills the process; programs that embed us may
/// not ignore it as Rust's `main` does).
pub(crate) fn send_nosignal(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the duration of the call;
    // the null address sends to the connected peer.
    cvt_len(unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::socklen_t,
        )
    })
}

/// The kernel rejects more than `IOV_MAX` (1024) buffers in one call.
const IOV_MAX: usize = 1024;

/// The slices one vectored send writes from (a short write is allowed): the first
/// `IOV_MAX`. A caller comparing the count written with what it offered must compare
/// with these, or it would take the cut for a full socket buffer.
pub(crate) fn sendable_slices<'a, 'b>(
    bufs: &'a [std::io::IoSlice<'b>],
) -> &'a [std::io::IoSlice<'b>] {
    &bufs[..bufs.len().min(IOV_MAX)]
}

/// Vectored `send_nosignal`: `sendmsg(2)` with `MSG_NOSIGNAL` (std's `write_vectored`
/// uses `writev`, which raises `SIGPIPE`).
pub(crate) fn send_vectored_nosignal(
    fd: RawFd,
    bufs: &[std::io::IoSlice<'_>],
) -> io::Result<usize> {
    let bufs = sendable_slices(bufs);
    // SAFETY: all-zero is a valid msghdr (no name, no control data).
    let mut msg: libc::msghdr = unsafe { MaybeUninit::zeroed().assume_init() };
    // `IoSlice` is ABI-compatible with `iovec` on Unix (guaranteed by std).
    msg.msg_iov = bufs.as_ptr().cast_mut().cast();
    msg.msg_iovlen = bufs.len() as _;
    // SAFETY: `msg` points at `bufs.len()` iovecs, each valid for reads of its length for
    // the duration of the call; the kernel only reads them.
    cvt_len(unsafe {
        libc::syscall(
            libc::SYS_sendmsg,
            fd,
            &msg as *const libc::msghdr,
            libc::MSG_NOSIGNAL,
        )
    })
}

/// Stops a listening socket at once: `shutdown(SHUT_RDWR)` on a listener makes the
/// kernel stop listening and reset the connections in its accept queue, even while an
/// io_uring request still holds a reference to the socket (closing the descriptor would
/// only take effect when that request lets go).
pub(crate) fn stop_listening(fd: RawFd) {
    // SAFETY: plain syscall on a descriptor the caller owns; a failure (e.g. ENOTCONN on
    // a socket that never listened) leaves nothing to undo.
    let _ = unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}
