//! Networking: TCP, UDP and Unix-domain sockets on the runtime's reactor.
//!
//! Streams implement the executor-neutral futures-io `AsyncRead` / `AsyncWrite`; use
//! [`crate::io::AsyncReadExt`] / [`crate::io::AsyncWriteExt`] for `read`, `write_all`
//! and friends. Name resolution uses `std::net::ToSocketAddrs`, which blocks for host
//! names that need DNS (IP literals and `localhost` are resolved without a query).

mod backoff;
mod poll_fd;
mod sys;
mod tcp;
mod udp;
mod unix;

pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    Ok(addr.to_socket_addrs()?.collect())
}

/// Tries `op` on each address `addr` resolves to; the first success, else the last error.
fn first_ok<T>(
    addr: impl ToSocketAddrs,
    mut op: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last_err = None;
    for addr in resolve(addr)? {
        match op(&addr) {
            Ok(v) => return Ok(v),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(no_addresses))
}

fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to no socket address",
    )
}
