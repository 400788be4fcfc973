//! `Registration::poll_io_stream`: a short stream transfer clears the readiness, so the
//! next call waits for an event instead of making a system call that would return
//! `WouldBlock`; a new event, or the peer closing, makes it ready again.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use trioxide_reactor::{Direction, Reactor, Registration};

fn turn_until_ready(reactor: &Reactor, registration: &Registration) {
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if registration.poll_ready(&mut cx, Direction::Read).is_ready() {
            return;
        }
        reactor.turn(Some(Duration::from_millis(10))).unwrap();
    }
    panic!("the socket never became readable");
}

#[test]
fn a_short_read_waits_for_the_next_event_without_a_system_call() {
    let reactor = Reactor::epoll().unwrap();
    let (mut peer, ours) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let registration = reactor.register(ours.as_raw_fd()).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let calls = Cell::new(0);
    let mut buf = [0u8; 64];
    let read = |cx: &mut Context<'_>, buf: &mut [u8]| {
        let len = buf.len();
        registration.poll_io_stream(cx, Direction::Read, len, || {
            calls.set(calls.get() + 1);
            (&ours).read(buf)
        })
    };

    peer.write_all(b"abc").unwrap();
    turn_until_ready(&reactor, &registration);
    assert!(matches!(read(&mut cx, &mut buf), Poll::Ready(Ok(3))));
    assert_eq!(calls.get(), 1);
    // Short (3 of 64): the readiness is gone, so this waits without calling `read`.
    assert!(read(&mut cx, &mut buf).is_pending());
    assert_eq!(
        calls.get(),
        1,
        "no read after a short one until the next event"
    );

    // New data is a new event.
    peer.write_all(b"defg").unwrap();
    turn_until_ready(&reactor, &registration);
    assert!(matches!(read(&mut cx, &mut buf), Poll::Ready(Ok(4))));
    assert_eq!(&buf[..4], b"defg");

    // A full read keeps the readiness (more may be queued): the next call reads and
    // gets `WouldBlock`, and only then waits.
    peer.write_all(&[1u8; 64]).unwrap();
    turn_until_ready(&reactor, &registration);
    let before = calls.get();
    assert!(matches!(read(&mut cx, &mut buf), Poll::Ready(Ok(64))));
    assert!(read(&mut cx, &mut buf).is_pending());
    assert_eq!(calls.get(), before + 2);

    // The peer closing after a short read: EOF is delivered, not missed.
    peer.write_all(b"xy").unwrap();
    drop(peer);
    turn_until_ready(&reactor, &registration);
    assert!(matches!(read(&mut cx, &mut buf), Poll::Ready(Ok(2))));
    let mut eof = false;
    for _ in 0..100 {
        match read(&mut cx, &mut buf) {
            Poll::Ready(Ok(0)) => {
                eof = true;
                break;
            }
            Poll::Ready(other) => panic!("unexpected {other:?}"),
            Poll::Pending => {
                reactor.turn(Some(Duration::from_millis(10))).unwrap();
            }
        }
    }
    assert!(eof, "EOF after the short read was reported");
}
