//! A zero-timeout turn of an epoll reactor with nothing registered skips `epoll_wait`
//! (CPU-bound runtimes poll their driver every few dozen ticks), and with a descriptor
//! registered it polls again and delivers that descriptor's readiness.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;
use trioxide_reactor::{Direction, Reactor};

#[test]
fn zero_timeout_turns_skip_the_system_call_only_while_nothing_is_registered() {
    let reactor = Reactor::epoll().unwrap();
    let waits = || reactor.driver_stats().waits;
    let before = waits();
    for _ in 0..10 {
        assert_eq!(reactor.turn(Some(Duration::ZERO)).unwrap(), 0);
    }
    assert_eq!(waits(), before, "nothing registered: no epoll_wait");

    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let registration = reactor.register(b.as_raw_fd()).unwrap();
    a.write_all(b"x").unwrap();
    let mut events = 0;
    for _ in 0..100 {
        events += reactor.turn(Some(Duration::ZERO)).unwrap();
        if events > 0 {
            break;
        }
    }
    assert!(events > 0, "the registered socket's readiness is delivered");
    assert!(waits() > before, "with a registration the turn polls epoll");
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(registration.poll_ready(&mut cx, Direction::Read).is_ready());

    drop(registration);
    let after = waits();
    reactor.turn(Some(Duration::ZERO)).unwrap();
    assert_eq!(waits(), after, "deregistered again: no epoll_wait");
    // A real wait still happens when asked to block (here: briefly).
    reactor.turn(Some(Duration::from_millis(1))).unwrap();
    assert_eq!(waits(), after + 1);
}
