//! The least a TCP echo can cost on this machine with io_uring, for the ceiling of the
//! echo rows: no runtime, no tasks, no wakers. Two pinned threads (as the runtimes' 2
//! workers), each with its own ring. Every socket is a little state machine driven by
//! `RECV` / `SEND` completions, and each thread submits everything it queued while
//! reaping in one `io_uring_enter`. The rows differ in where the two ends of each of
//! the 100 loopback connections run (`Placement`): together on one thread (what the
//! ThreadPerCore rows get by steering accepts), apart, or half of each (about what work
//! stealing gives). Compared with tokio's multi-thread echo (the `ws_*` rows' tokio
//! side), the ratio bounds what any io_uring runtime can gain on this load and machine.

use crate::Bench;
use io_uring::{IoUring, opcode, squeue, types};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const THREADS: usize = 2;
const CONNS: usize = 100;
/// Low bit of a completion's `user_data`: which operation finished.
const OP_SEND: u64 = 1;

/// One end of a connection and where its current message stands.
struct End {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of the current message received (while receiving) or sent (while sending).
    done: usize,
    /// Round trips left; `None` for the server end, which echoes until the run ends.
    rounds_left: Option<usize>,
}

impl End {
    /// The next operation of this end: receive or send the rest of its message.
    fn op(&mut self, index: usize, send: bool) -> squeue::Entry {
        let fd = types::Fd(self.stream.as_raw_fd());
        let rest = &mut self.buf[self.done..];
        let (ptr, len) = (rest.as_mut_ptr(), rest.len() as u32);
        let user_data = (index as u64) << 1 | if send { OP_SEND } else { 0 };
        if send {
            opcode::Send::new(fd, ptr, len).build().user_data(user_data)
        } else {
            opcode::Recv::new(fd, ptr, len).build().user_data(user_data)
        }
    }
}

/// Connected pairs: `(client, server)` with `TCP_NODELAY` on both ends.
fn connect_pairs(count: usize) -> Vec<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    (0..count)
        .map(|_| {
            let client = TcpStream::connect(addr).expect("connect");
            let (server, _) = listener.accept().expect("accept");
            client.set_nodelay(true).expect("nodelay");
            server.set_nodelay(true).expect("nodelay");
            (client, server)
        })
        .collect()
}

/// One thread's loop: sets up, waits for `start`, then drives its `ends` (client ends
/// as `(stream, true)`) until every client end did `rounds` round trips.
fn echo_loop(streams: Vec<(TcpStream, bool)>, msg: usize, rounds: usize, start: &Barrier) {
    let mut ends: Vec<End> = streams
        .into_iter()
        .map(|(stream, is_client)| End {
            stream,
            buf: vec![if is_client { 7 } else { 0 }; msg],
            done: 0,
            rounds_left: is_client.then_some(rounds),
        })
        .collect();
    let mut ring = IoUring::builder()
        .setup_coop_taskrun()
        .setup_single_issuer()
        .build(512)
        .or_else(|_| IoUring::new(512))
        .expect("io_uring");
    let mut queued: Vec<squeue::Entry> = Vec::with_capacity(ends.len());
    for (index, end) in ends.iter_mut().enumerate() {
        let is_client = end.rounds_left.is_some();
        queued.push(end.op(index, is_client));
    }
    // A client end is done after its last round trip (it then shuts down its write
    // half); a server end when it reads that end of file.
    let mut ends_left = ends.len();
    start.wait(); // set-up done: the clock runs from here
    while ends_left > 0 {
        {
            let mut sq = ring.submission();
            for entry in queued.drain(..) {
                // SAFETY: every entry points into its end's `buf`, which is neither moved
                // nor freed while the operation runs: `ends` lives until after the ring
                // is dropped below, and an end has one operation in flight at a time.
                unsafe { sq.push(&entry).expect("submission queue has room") };
            }
        }
        ring.submit_and_wait(1).expect("io_uring_enter");
        for cqe in ring.completion() {
            let index = (cqe.user_data() >> 1) as usize;
            let sent = cqe.user_data() & OP_SEND != 0;
            let end = &mut ends[index];
            let n = match usize::try_from(cqe.result()) {
                Ok(n) if n > 0 => n,
                Ok(0) if end.rounds_left.is_none() => {
                    ends_left -= 1; // its client finished
                    continue;
                }
                _ => panic!("echo client failed: {}", cqe.result()),
            };
            end.done += n;
            if end.done < msg {
                queued.push(end.op(index, sent));
                continue;
            }
            end.done = 0;
            match (&mut end.rounds_left, sent) {
                (Some(left), false) => {
                    *left -= 1;
                    if *left == 0 {
                        ends_left -= 1;
                        end.stream.shutdown(Shutdown::Write).expect("shutdown");
                    } else {
                        queued.push(end.op(index, true));
                    }
                }
                // A client's send or a server's receive done: the other half follows.
                (_, true) | (None, false) => queued.push(end.op(index, !sent)),
            }
        }
    }
    // Nothing is in flight any more; the ring still goes first.
    drop(ring);
    drop(ends);
}

/// Where the two ends of each connection run.
#[derive(Clone, Copy)]
enum Placement {
    /// Both ends of every connection on one thread (connections alternate threads).
    Together,
    /// As `Together` for even connections (alternating threads); odd ones have their
    /// client end on thread 0 and their server end on thread 1, so their messages cross
    /// CPUs — about what work stealing's placement gives.
    HalfSplit,
    /// Every client end on thread 0, every server end on thread 1: each thread handles
    /// one side of every round trip, in batches of 100.
    Apart,
}

/// The whole run: returns the time from the start signal until every thread finished.
fn bare_echo(msg: usize, rounds: usize, placement: Placement) -> Duration {
    let mut shares: Vec<Vec<(TcpStream, bool)>> = (0..THREADS).map(|_| Vec::new()).collect();
    for (i, (client, server)) in connect_pairs(CONNS).into_iter().enumerate() {
        let (client_thread, server_thread) = match placement {
            Placement::Apart => (0, 1),
            Placement::HalfSplit if i % 2 == 1 => (0, 1),
            // The together half: its connections alternate threads.
            Placement::HalfSplit => ((i / 2) % THREADS, (i / 2) % THREADS),
            Placement::Together => (i % THREADS, i % THREADS),
        };
        shares[client_thread].push((client, true));
        shares[server_thread].push((server, false));
    }
    let start = Arc::new(Barrier::new(THREADS + 1));
    let threads: Vec<_> = shares
        .into_iter()
        .enumerate()
        .map(|(t, share)| {
            let start = start.clone();
            std::thread::spawn(move || {
                crate::per_core::pin_to(t);
                echo_loop(share, msg, rounds, &start);
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    for t in threads {
        t.join().expect("echo thread");
    }
    began.elapsed()
}

fn ceiling(
    name: &'static str,
    what: &'static str,
    msg: usize,
    rounds: usize,
    placement: Placement,
) -> Bench {
    Bench {
        name,
        what,
        trioxide: Box::new(move || bare_echo(msg, rounds, placement)),
        tokio: Box::new(move || {
            crate::net::tokio_rt().block_on(crate::net::tokio_echo(msg, rounds))
        }),
    }
}

/// The ceiling rows, next to the echo rows they bound.
pub fn benches() -> Vec<Bench> {
    vec![
        ceiling(
            "bare_tcp_echo_uring_100x1KiB",
            "ceiling, no runtime: 2 pinned threads, a ring each, both ends of 50 connections each, RECV/SEND state machines (200 round trips of 1 KiB); tokio: the ws_* echo",
            1024,
            200,
            Placement::Together,
        ),
        ceiling(
            "bare_tcp_echo_uring_100x16KiB",
            "the same ceiling with 50 round trips of 16 KiB",
            16 * 1024,
            50,
            Placement::Together,
        ),
        ceiling(
            "bare_tcp_echo_uring_split_100x1KiB",
            "as bare_tcp_echo_uring_100x1KiB with the two ends of every other connection on different threads (about work stealing's placement)",
            1024,
            200,
            Placement::HalfSplit,
        ),
        ceiling(
            "bare_tcp_echo_uring_split_100x16KiB",
            "the same split placement with 50 round trips of 16 KiB",
            16 * 1024,
            50,
            Placement::HalfSplit,
        ),
        ceiling(
            "bare_tcp_echo_uring_apart_100x1KiB",
            "as bare_tcp_echo_uring_100x1KiB with every client end on one thread and every server end on the other",
            1024,
            200,
            Placement::Apart,
        ),
        ceiling(
            "bare_tcp_echo_uring_apart_100x16KiB",
            "the same apart placement with 50 round trips of 16 KiB",
            16 * 1024,
            50,
            Placement::Apart,
        ),
    ]
}
