//! Drop-mid-accept storm: 1,000 accepts dropped while clients connect. An accept that
//! wins the race against its cancellation yields a descriptor nobody will take; the driver
//! must close it. Checked by counting slots and this process's open descriptors (alone in
//! its own test binary, so no other test opens descriptors meanwhile).

mod support;

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use support::{ops, turn_until, uring_reactor_or_skip};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn drop_mid_accept_storm() {
    let Some(reactor) = uring_reactor_or_skip("drop_mid_accept_storm") else {
        return;
    };
    let ops = ops(&reactor);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let baseline = open_fds();
    for round in 0..5 {
        let futures: Vec<_> = (0..200).map(|_| ops.accept(listener.as_raw_fd())).collect();
        reactor.turn(Some(std::time::Duration::ZERO)).unwrap();
        // Some connections arrive while the accepts are parked, some after the drop.
        let early: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
        if round % 2 == 0 {
            reactor.turn(Some(std::time::Duration::ZERO)).unwrap();
        }
        drop(futures);
        let late: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
        assert!(
            turn_until(&reactor, || ops.in_flight() == 0, 500),
            "round {round}: {} slots never freed",
            ops.in_flight()
        );
        drop(early);
        drop(late);
    }
    // Drain the backlog synchronously so queued connections do not count.
    listener.set_nonblocking(true).unwrap();
    while listener.accept().is_ok() {}
    assert_eq!(
        open_fds(),
        baseline,
        "every descriptor an orphaned accept produced was closed"
    );
}
