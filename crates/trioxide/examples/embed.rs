//! Embedding trioxide in another event loop: a plain `poll(2)` loop (standing in for a
//! GUI toolkit's or a C library's loop) drives a trioxide `LocalExecutor`, reactor and
//! timers, without ever handing its thread over to `block_on`.
//!
//! The host loop watches two things: its own work (a message to send, on its own
//! schedule) and the reactor's descriptor (`AsRawFd`: the epoll instance or the io_uring
//! ring). Each round it
//! 1. runs the ready trioxide tasks (`run_until_stalled`),
//! 2. turns the reactor without blocking (dispatches I/O events; on io_uring this also
//!    submits what the tasks queued) and fires due timers,
//! 3. blocks in `poll(2)` on the reactor's fd, for at most the time to the next trioxide
//!    timer or the host's next job.
//!
//! Inside, a trioxide task echoes what arrives on one end of a socket pair, after a short
//! timer-backed delay; the host writes on the other end and reads the echoes back.
//!
//! Run it with `cargo run -p trioxide --example embed` (`TRIOXIDE_IO=io_uring` for the
//! io_uring reactor).

use std::future::{Future, poll_fn};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use trioxide::LocalExecutor;
use trioxide_reactor::timers::{Registered, Timers};
use trioxide_reactor::{Direction, Reactor};

/// A delay on the embedded timers (the facade's `sleep` needs a full runtime).
struct Delay {
    timers: Arc<Timers>,
    deadline: Instant,
    key: Option<trioxide_reactor::time::TimerKey>,
}

impl Future for Delay {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.timers.now() >= self.deadline {
            return Poll::Ready(());
        }
        match self.key {
            Some(key) if self.timers.update_waker(key, cx.waker()) => Poll::Pending,
            Some(_) => Poll::Ready(()),
            None => match self.timers.register(self.deadline, cx.waker()) {
                Registered::AlreadyDue => Poll::Ready(()),
                Registered::Armed { key, .. } => {
                    self.key = Some(key);
                    Poll::Pending
                }
            },
        }
    }
}

/// The trioxide side: echo each message (upper-cased) after a 20 ms delay, until "quit".
async fn echo(reactor: Arc<Reactor>, timers: Arc<Timers>, sock: UnixStream) -> usize {
    let registration = reactor.register(sock.as_raw_fd()).expect("register");
    let mut echoed = 0;
    let mut buf = [0u8; 256];
    loop {
        let n = poll_fn(|cx| registration.poll_io(cx, Direction::Read, || (&sock).read(&mut buf)))
            .await
            .expect("read");
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        println!("task: got {msg:?}");
        if n == 0 || msg == "quit" {
            return echoed;
        }
        let deadline = timers.now() + Duration::from_millis(20);
        Delay {
            timers: timers.clone(),
            deadline,
            key: None,
        }
        .await;
        let reply = msg.to_uppercase();
        poll_fn(|cx| {
            registration.poll_io(cx, Direction::Write, || (&sock).write_all(reply.as_bytes()))
        })
        .await
        .expect("write");
        echoed += 1;
    }
}

fn main() {
    let reactor = match std::env::var("TRIOXIDE_IO").as_deref() {
        Ok("io_uring") => Reactor::io_uring().expect("io_uring reactor"),
        _ => Reactor::epoll().expect("epoll reactor"),
    };
    println!(
        "host: embedding the {} reactor (fd {})",
        reactor.backend_name(),
        reactor.as_raw_fd()
    );
    let timers = Timers::new();
    let executor = LocalExecutor::new();
    let (ours, theirs) = UnixStream::pair().expect("socket pair");
    ours.set_nonblocking(true).expect("nonblocking");
    theirs.set_nonblocking(true).expect("nonblocking");
    let task = executor.spawn_local(echo(reactor.clone(), timers.clone(), theirs));

    let mut outbox = vec!["hello", "from", "the host", "quit"].into_iter();
    let mut next_send = Instant::now();
    // One message in flight at a time, so the output reads as a conversation.
    let mut awaiting_reply = false;
    let mut replies = Vec::new();
    let mut buf = [0u8; 256];
    let mut rounds = 0u32;
    while !task.is_finished() {
        rounds += 1;
        // 1-2: trioxide's turn, never blocking.
        executor.run_until_stalled();
        reactor.turn(Some(Duration::ZERO)).expect("turn");
        timers.process(timers.now());
        if executor.has_ready_tasks() {
            continue;
        }
        // The host's own work: read echoes, send the next message when its time comes.
        match (&ours).read(&mut buf) {
            Ok(n) if n > 0 => {
                let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
                println!("host: echo {reply:?}");
                replies.push(reply);
                awaiting_reply = false;
            }
            _ => {}
        }
        if !awaiting_reply
            && Instant::now() >= next_send
            && let Some(msg) = outbox.next()
        {
            println!("host: send {msg:?}");
            (&ours).write_all(msg.as_bytes()).expect("host write");
            next_send = Instant::now() + Duration::from_millis(10);
            awaiting_reply = msg != "quit";
        }
        if task.is_finished() {
            break;
        }
        // 3: block in poll(2) on the reactor's fd, bounded by trioxide's next timer and
        // the host's next send.
        let host_wait = next_send.saturating_duration_since(Instant::now());
        let wait = timers
            .next_timeout(timers.now())
            .map_or(host_wait, |t| t.min(host_wait))
            .max(Duration::from_millis(1));
        let mut fds = [
            libc::pollfd {
                fd: reactor.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: ours.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout_ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
        assert!(
            ready >= 0,
            "poll failed: {}",
            std::io::Error::last_os_error()
        );
        if fds[0].revents & libc::POLLIN != 0 {
            println!("host: poll(2) says trioxide's reactor has events");
        }
    }
    let echoed = executor.block_on(task).expect("the echo task finished");
    println!("host: done after {rounds} rounds; the task echoed {echoed} messages: {replies:?}");
    assert_eq!(echoed, 3);
}
