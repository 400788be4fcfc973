//! TCP echo on trioxide's ThreadPerCore flavor (2 pinned cores, owned buffers; io_uring,
//! and epoll in the `_epoll` rows) with one `SO_REUSEPORT` listener per core steered by
//! `SO_INCOMING_CPU`, vs tokio's multi-thread runtime (2 workers) running the same echo as
//! the `ws_*` rows, and vs tokio in the same per-core design (`_vs_tokio_per_core_`).
//!
//! Each core connects its share of the clients and accepts on its own listener; the
//! kernel hands a loopback connection to the listener of the CPU that sent its SYN, so
//! both ends of every connection, their tasks and their ring share one CPU. (The
//! work-stealing rows place tasks wherever a worker is free: about half the connections
//! then have their ends on different CPUs, and every message crosses between them.)

use crate::Bench;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use trioxide::net::{TcpListener, TcpStream};
use trioxide::runtime::{Flavor, Handle, Io};

const CORES: usize = 2;
const CONNS: usize = 100;

fn trioxide_rt(io: Io) -> trioxide::Runtime {
    trioxide::Runtime::builder()
        .flavor(Flavor::ThreadPerCore)
        .worker_threads(CORES)
        .pin_threads(true)
        .io(io)
        .build()
        .expect("trioxide runtime")
}

/// The server side of one connection: owned reads and writes until the client leaves.
async fn serve(conn: TcpStream, msg: usize) {
    let mut buf = Vec::with_capacity(msg);
    while let Ok(b) = crate::net::read_exact_owned(&conn, buf, msg).await {
        let (res, b) = conn.write_all_owned(b).await;
        if res.is_err() {
            return;
        }
        buf = b;
    }
}

/// One listener per core on one port, each steered to its core's CPU; returns the port's
/// address once every core listens.
async fn listen_per_core(handle: &Handle, msg: usize) -> SocketAddr {
    let mut addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    for core in 0..CORES {
        let (tx, rx) = trioxide_sync::oneshot::channel();
        let accept_loop = handle
            .spawn_on(core, async move {
                let listener = TcpListener::bind_reuse_port(addr).await.unwrap();
                if let Some(cpu) = trioxide::runtime::current_cpu() {
                    listener.set_incoming_cpu(cpu).unwrap();
                }
                tx.send(listener.local_addr().unwrap()).unwrap();
                while let Ok((conn, _)) = listener.accept().await {
                    conn.set_nodelay(true).unwrap();
                    // `spawn` on a core thread stays on that core.
                    drop(trioxide::spawn(serve(conn, msg)));
                }
            })
            .expect("a ThreadPerCore runtime");
        drop(accept_loop); // runs until the runtime is dropped
        addr = rx.await.unwrap();
    }
    addr
}

async fn trioxide_echo(msg: usize, rounds: usize) -> Duration {
    let handle = Handle::current();
    let addr = listen_per_core(&handle, msg).await;
    let go = Arc::new(trioxide_sync::Event::new());
    let (connected_tx, mut connected_rx) = trioxide_sync::mpsc::unbounded();
    let clients: Vec<_> = (0..CONNS)
        .map(|i| {
            let (go, connected) = (go.clone(), connected_tx.clone());
            handle
                .spawn_on(i % CORES, async move {
                    let s = TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    connected.send(()).await.unwrap();
                    go.wait().await;
                    let mut out = vec![7u8; msg];
                    let mut back = Vec::with_capacity(msg);
                    for _ in 0..rounds {
                        let (res, b) = s.write_all_owned(out).await;
                        res.unwrap();
                        out = b;
                        back = crate::net::read_exact_owned(&s, back, msg).await.unwrap();
                    }
                })
                .expect("a ThreadPerCore runtime")
        })
        .collect();
    for _ in 0..CONNS {
        connected_rx.recv().await.unwrap();
    }
    let start = std::time::Instant::now();
    go.set();
    for c in clients {
        c.await.unwrap();
    }
    start.elapsed()
}

/// Pins the calling thread to `cpu` (the benchmark's own copy: trioxide's is internal).
pub(crate) fn pin_to(cpu: usize) {
    // SAFETY: all-zero is the empty cpu_set_t; `cpu` is below CPU_SETSIZE; pid 0 is the
    // calling thread and `set` is valid for its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The same design on tokio: one pinned thread per core, each with a current_thread
/// runtime, an `SO_REUSEPORT` listener steered to its CPU, its share of the clients.
fn tokio_per_core_echo(msg: usize, rounds: usize) -> Duration {
    use std::os::fd::AsRawFd;
    let start_line = Arc::new(std::sync::Barrier::new(CORES + 1));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let mut addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut threads = Vec::new();
    for core in 0..CORES {
        let (start_line, addr_tx) = (start_line.clone(), addr_tx.clone());
        threads.push(std::thread::spawn(move || {
            pin_to(core);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let clients = rt.block_on(async move {
                let socket = tokio::net::TcpSocket::new_v4().unwrap();
                socket.set_reuseaddr(true).unwrap();
                socket.set_reuseport(true).unwrap();
                socket.bind(addr).unwrap();
                let listener = socket.listen(1024).unwrap();
                let cpu = core as libc::c_int;
                // SAFETY: passes a pointer to a c_int and its size.
                unsafe {
                    libc::setsockopt(
                        listener.as_raw_fd(),
                        libc::SOL_SOCKET,
                        libc::SO_INCOMING_CPU,
                        (&cpu as *const libc::c_int).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    );
                }
                let addr = listener.local_addr().unwrap();
                addr_tx.send(addr).unwrap();
                tokio::spawn(async move {
                    while let Ok((c, _)) = listener.accept().await {
                        c.set_nodelay(true).unwrap();
                        tokio::spawn(crate::net::tokio_serve(c, msg));
                    }
                });
                let mut clients = Vec::new();
                for _ in 0..CONNS / CORES {
                    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
                    s.set_nodelay(true).unwrap();
                    clients.push(s);
                }
                clients
            });
            start_line.wait();
            rt.block_on(crate::net::tokio_round_trips(clients, msg, rounds));
        }));
        addr = addr_rx.recv().unwrap();
    }
    start_line.wait();
    let start = std::time::Instant::now();
    for t in threads {
        t.join().unwrap();
    }
    start.elapsed()
}

/// trioxide's per-core echo on `io` against `tokio` (the multi-thread echo of the `ws_*`
/// rows, or [`tokio_per_core_echo`]).
fn per_core_bench(
    name: &'static str,
    what: &'static str,
    io: Io,
    msg: usize,
    rounds: usize,
    tokio: fn(usize, usize) -> Duration,
) -> Bench {
    Bench {
        name,
        what,
        trioxide: Box::new(move || trioxide_rt(io).block_on(trioxide_echo(msg, rounds))),
        tokio: Box::new(move || tokio(msg, rounds)),
    }
}

/// The `ws_*` rows' tokio echo (multi_thread, 2 workers).
fn tokio_multi_thread_echo(msg: usize, rounds: usize) -> Duration {
    crate::net::tokio_rt().block_on(crate::net::tokio_echo(msg, rounds))
}

/// The per-core echo benchmarks.
pub fn benches() -> Vec<Bench> {
    vec![
        per_core_bench(
            "tpc_tcp_echo_uring_owned_100x1KiB",
            "100 connections x 200 round trips of 1 KiB: ThreadPerCore (2 pinned cores), io_uring, owned buffers, a listener per core steered by SO_INCOMING_CPU; tokio: the ws_* echo (multi_thread, 2 workers)",
            Io::IoUring,
            1024,
            200,
            tokio_multi_thread_echo,
        ),
        per_core_bench(
            "tpc_tcp_echo_uring_owned_100x16KiB",
            "the same with 100 connections x 50 round trips of 16 KiB",
            Io::IoUring,
            16 * 1024,
            50,
            tokio_multi_thread_echo,
        ),
        per_core_bench(
            "tpc_tcp_echo_epoll_100x1KiB",
            "as tpc_tcp_echo_uring_owned_100x1KiB on the epoll backend (the owned calls are readiness-based there)",
            Io::Epoll,
            1024,
            200,
            tokio_multi_thread_echo,
        ),
        per_core_bench(
            "tpc_tcp_echo_epoll_100x16KiB",
            "the same with 16 KiB messages, 50 round trips",
            Io::Epoll,
            16 * 1024,
            50,
            tokio_multi_thread_echo,
        ),
        per_core_bench(
            "tpc_tcp_echo_uring_owned_vs_tokio_per_core_100x1KiB",
            "trioxide as in tpc_tcp_echo_uring_owned_100x1KiB; tokio in the same design: a pinned current_thread runtime per core, each with its own steered SO_REUSEPORT listener (epoll)",
            Io::IoUring,
            1024,
            200,
            tokio_per_core_echo,
        ),
        per_core_bench(
            "tpc_tcp_echo_uring_owned_vs_tokio_per_core_100x16KiB",
            "the same with 16 KiB messages, 50 round trips",
            Io::IoUring,
            16 * 1024,
            50,
            tokio_per_core_echo,
        ),
    ]
}
