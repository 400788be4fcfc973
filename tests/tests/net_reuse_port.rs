//! Listeners sharing a port (`TcpListener::bind_reuse_port`) and steering connections to
//! the listener of their CPU (`set_incoming_cpu`), as a thread-per-core server does.

use std::collections::HashMap;
use std::net::SocketAddr;
use trioxide::net::{TcpListener, TcpStream};
use trioxide::runtime::{Flavor, Io, Runtime};
use trioxide_tests::rt_test;

/// Accepts from `listener` until it has `n` connections between them, counting per
/// listener; keeps the streams open so no peer sees a reset.
async fn accept_some(
    listener: TcpListener,
    tx: trioxide::sync::mpsc::Sender<(usize, TcpStream)>,
    id: usize,
) {
    while let Ok((conn, _)) = listener.accept().await {
        if tx.send((id, conn)).await.is_err() {
            return;
        }
    }
}

rt_test! {
    async fn two_reuse_port_listeners_share_an_address_and_both_accept() {
        let first = TcpListener::bind_reuse_port("127.0.0.1:0").await.unwrap();
        let addr = first.local_addr().unwrap();
        let second = TcpListener::bind_reuse_port(addr).await.unwrap();
        assert_eq!(second.local_addr().unwrap(), addr);
        let (tx, mut rx) = trioxide::sync::mpsc::unbounded();
        let a = trioxide::spawn(accept_some(first, tx.clone(), 0));
        let b = trioxide::spawn(accept_some(second, tx, 1));
        const N: usize = 64;
        let mut clients = Vec::new();
        for _ in 0..N {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let mut per_listener = [0usize; 2];
        let mut kept = Vec::new();
        for _ in 0..N {
            let (id, conn) = rx.recv().await.unwrap();
            per_listener[id] += 1;
            kept.push(conn);
        }
        // The kernel spreads by a hash of each connection's addresses: with 64
        // connections both listeners get some (all on one has probability 2^-63).
        assert!(per_listener.iter().all(|&n| n > 0), "{per_listener:?}");
        drop((a, b));
    }
}

rt_test! {
    async fn a_port_held_without_reuse_port_is_not_shared() {
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = plain.local_addr().unwrap();
        let err = TcpListener::bind_reuse_port(addr).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
        drop(plain);

        let shared = TcpListener::bind_reuse_port("127.0.0.1:0").await.unwrap();
        let err = TcpListener::bind(shared.local_addr().unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    }
}

rt_test! {
    async fn incoming_cpu_reads_back_what_was_set() {
        let listener = TcpListener::bind_reuse_port("127.0.0.1:0").await.unwrap();
        assert_eq!(listener.incoming_cpu().unwrap(), None, "unset on a new socket");
        listener.set_incoming_cpu(1).unwrap();
        assert_eq!(listener.incoming_cpu().unwrap(), Some(1));
        let err = listener.set_incoming_cpu(usize::MAX).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
        assert_eq!(listener.incoming_cpu().unwrap(), Some(1), "left as it was");
    }
}

/// A pinned two-core runtime, or `None` (with a message) where this machine cannot give
/// one: fewer than two CPUs, io_uring refused, or pinning not honoured.
fn pinned_two_cores(io: Io) -> Option<Runtime> {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("skipping: needs two CPUs");
        return None;
    }
    let rt = match Runtime::builder()
        .flavor(Flavor::ThreadPerCore)
        .worker_threads(2)
        .pin_threads(true)
        .io(io)
        .build()
    {
        Ok(rt) => rt,
        Err(trioxide::runtime::BuildError::IoUringUnavailable { reason }) => {
            eprintln!("skipping: io_uring unavailable here ({reason})");
            return None;
        }
        Err(err) => panic!("runtime does not build: {err}"),
    };
    let cpus: Vec<Option<usize>> = rt.block_on(async {
        let handle = trioxide::Handle::current();
        let mut cpus = Vec::new();
        for core in 0..2 {
            let cpu = handle.spawn_on(core, async { trioxide::runtime::current_cpu() });
            cpus.push(cpu.unwrap().await.unwrap());
        }
        cpus
    });
    if cpus != [Some(0), Some(1)] {
        eprintln!("skipping: the cores are not pinned to CPUs 0 and 1 here ({cpus:?})");
        return None;
    }
    Some(rt)
}

/// Each core listens on the shared port, steered to its CPU, and connects clients from
/// its own thread: every connection is accepted by the core that opened it.
fn connections_are_accepted_on_the_core_that_opened_them(io: Io) {
    let Some(rt) = pinned_two_cores(io) else {
        return;
    };
    rt.block_on(async {
        let handle = trioxide::Handle::current();
        let (tx, mut rx) = trioxide::sync::mpsc::unbounded::<(usize, TcpStream)>();
        let mut addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        for core in 0..2 {
            let (bound_tx, bound_rx) = trioxide::sync::oneshot::channel();
            let tx = tx.clone();
            drop(handle.spawn_on(core, async move {
                let listener = TcpListener::bind_reuse_port(addr).await.unwrap();
                let cpu = trioxide::runtime::current_cpu().unwrap();
                listener.set_incoming_cpu(cpu).unwrap();
                bound_tx.send(listener.local_addr().unwrap()).unwrap();
                accept_some(listener, tx, core).await;
            }));
            addr = bound_rx.await.unwrap();
        }
        const PER_CORE: usize = 20;
        let mut opened_by = HashMap::new();
        let mut clients = Vec::new();
        for core in 0..2 {
            let opened = handle.spawn_on(core, async move {
                let mut streams = Vec::new();
                for _ in 0..PER_CORE {
                    streams.push(TcpStream::connect(addr).await.unwrap());
                }
                streams
            });
            for stream in opened.unwrap().await.unwrap() {
                opened_by.insert(stream.local_addr().unwrap(), core);
                clients.push(stream);
            }
        }
        let mut kept = Vec::new();
        for _ in 0..2 * PER_CORE {
            let (accepted_on, conn) = rx.recv().await.unwrap();
            let peer = conn.peer_addr().unwrap();
            assert_eq!(
                opened_by[&peer], accepted_on,
                "the connection from {peer} was accepted on the other core"
            );
            kept.push(conn);
        }
    });
}

#[test]
fn steered_connections_stay_on_their_core_epoll() {
    connections_are_accepted_on_the_core_that_opened_them(Io::Epoll);
}

#[test]
fn steered_connections_stay_on_their_core_uring() {
    connections_are_accepted_on_the_core_that_opened_them(Io::IoUring);
}
