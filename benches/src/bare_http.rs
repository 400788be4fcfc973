//! The least an HTTP/1.1 hello-world server can do, for the machine's ceiling under wrk:
//! no runtime, no hyper, no parsing beyond finding each request's blank line. Two
//! threads (as the runtimes' 2 workers), each with its own level-triggered epoll; the
//! first also accepts and hands every other connection to the second. Each request gets
//! the same bytes hyper sends (status line, `content-length`, a `date` of the same
//! length, the body). The CPU table of `wrk.rs` compares it with hyper on tokio: no
//! runtime running hyper can beat this loop, so the ratio bounds what any runtime can
//! gain on this load and machine.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

/// What hyper answers `hello` with (the date is fixed; only its length matters to wrk).
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\nHello, World!";
const LISTENER: u64 = u64::MAX;

/// An epoll instance, closed on drop.
struct Epoll(RawFd);

impl Epoll {
    fn new() -> io::Result<Epoll> {
        // SAFETY: plain system call; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Epoll(fd))
    }

    /// Watches `fd` for input, tagging its events with `token`.
    fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        let rc = unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut event) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn wait(&self, events: &mut [libc::epoll_event]) -> usize {
        // SAFETY: `events` is valid writable memory for `events.len()` entries.
        let n = unsafe { libc::epoll_wait(self.0, events.as_mut_ptr(), events.len() as i32, -1) };
        n.max(0) as usize
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: this struct owns the descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// One worker's connections: their streams and the bytes of requests not yet complete.
#[derive(Default)]
struct Connections {
    streams: HashMap<RawFd, (TcpStream, Vec<u8>)>,
}

impl Connections {
    /// Reads what `fd` has and answers every complete request in it; drops the
    /// connection at end of stream or on an error.
    fn serve(&mut self, fd: RawFd, buf: &mut [u8], out: &mut Vec<u8>) {
        let Some((stream, pending)) = self.streams.get_mut(&fd) else {
            return;
        };
        let done = match stream.read(buf) {
            Ok(0) => true,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                out.clear();
                let mut start = 0;
                while let Some(end) = find_blank_line(&pending[start..]) {
                    start += end;
                    out.extend_from_slice(RESPONSE);
                }
                pending.drain(..start);
                // A response this small goes whole into an empty send buffer; wrk sends
                // the next request only after reading the answer, so the buffer is.
                !out.is_empty() && stream.write_all(out).is_err()
            }
            Err(e) => {
                e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted
            }
        };
        if done {
            self.streams.remove(&fd); // closing the stream also leaves the epoll set
        }
    }
}

/// The offset just past the first `\r\n\r\n` in `bytes`.
fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// Accepts what is waiting; every second connection goes to `other`'s epoll, to be
/// served there.
fn accept_all(
    listener: &TcpListener,
    mine: (&Epoll, &mut Connections),
    other: &Epoll,
    handoff: &std::sync::mpsc::Sender<TcpStream>,
    turn: &mut bool,
) {
    while let Ok((stream, _)) = listener.accept() {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_nonblocking(true);
        let fd = stream.as_raw_fd();
        *turn = !*turn;
        if *turn {
            if handoff.send(stream).is_ok() {
                let _ = other.add(fd, fd as u64);
            }
        } else if mine.0.add(fd, fd as u64).is_ok() {
            mine.1.streams.insert(fd, (stream, Vec::new()));
        }
    }
}

/// Starts the bare server on two threads; returns its address.
pub fn start() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let addr = listener.local_addr().expect("address");
    let first = Arc::new(Epoll::new().expect("epoll"));
    let second = Arc::new(Epoll::new().expect("epoll"));
    let (handoff, handed) = std::sync::mpsc::channel::<TcpStream>();
    let second_worker = second.clone();
    std::thread::spawn(move || {
        let mut conns = Connections::default();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let (mut buf, mut out) = (vec![0u8; 16 * 1024], Vec::new());
        loop {
            let n = second_worker.wait(&mut events);
            // Streams handed over since the last wait: each was sent before it was
            // registered, so one with an event is in the channel by now.
            for stream in handed.try_iter() {
                conns
                    .streams
                    .insert(stream.as_raw_fd(), (stream, Vec::new()));
            }
            for event in &events[..n] {
                conns.serve(event.u64 as RawFd, &mut buf, &mut out);
            }
        }
    });
    first
        .add(listener.as_raw_fd(), LISTENER)
        .expect("watch the listener");
    std::thread::spawn(move || {
        let mut conns = Connections::default();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
        let (mut buf, mut out) = (vec![0u8; 16 * 1024], Vec::new());
        let mut turn = false;
        loop {
            let n = first.wait(&mut events);
            for event in &events[..n] {
                if event.u64 == LISTENER {
                    accept_all(
                        &listener,
                        (&first, &mut conns),
                        &second,
                        &handoff,
                        &mut turn,
                    );
                } else {
                    conns.serve(event.u64 as RawFd, &mut buf, &mut out);
                }
            }
        }
    });
    addr
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_lines_end_requests() {
        assert_eq!(find_blank_line(b"GET / HTTP/1.1\r\n\r\nGET"), Some(18));
        assert_eq!(find_blank_line(b"GET / HTTP/1.1\r\n"), None);
    }

    /// Pipelined and split requests on both threads' connections get one answer each.
    #[test]
    fn the_bare_server_answers_every_request() {
        let addr = start();
        for _ in 0..2 {
            let mut conn = TcpStream::connect(addr).unwrap();
            conn.write_all(b"GET /a HTTP/1.1\r\nhost: x\r\n\r\nGET /b HTTP/1.1\r\nho")
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            conn.write_all(b"st: x\r\n\r\n").unwrap();
            let mut got = vec![0u8; RESPONSE.len() * 2];
            conn.read_exact(&mut got).unwrap();
            assert_eq!(&got[..RESPONSE.len()], RESPONSE);
            assert_eq!(&got[RESPONSE.len()..], RESPONSE);
        }
    }
}
