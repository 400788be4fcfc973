//! WorkStealing on io_uring gives each worker its own ring (`runtime/worker_io.rs`). A
//! socket stays on the ring of the worker that created it, so these tests check that a
//! worker stuck in one long poll does not strand the events its ring receives, and that
//! timers and I/O keep working across the rings; they also run on epoll (one shared
//! driver), where the same must hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::UnixStream;
use trioxide::runtime::{Flavor, Io};

fn work_stealing(io: Io) -> Option<trioxide::Runtime> {
    trioxide_tests::try_runtime(Flavor::WorkStealing, io)
}

/// A task creates a socket pair (registered with its worker's ring), hands the reading
/// end to a child task, then blocks its worker for seconds. The other worker steals the
/// child; data written to the pair meanwhile must still reach it: the idle worker takes
/// over the blocked worker's ring.
fn a_blocked_worker_does_not_strand_its_sockets(io: Io) {
    let Some(rt) = work_stealing(io) else { return };
    let read_before_unblock = rt.block_on(async move {
        let (tx, rx) = trioxide::sync::oneshot::channel();
        let blocker = trioxide::spawn(async move {
            let (a, b) = UnixStream::pair().unwrap();
            let blocked = Arc::new(AtomicBool::new(true));
            let still_blocked = blocked.clone();
            let reader = trioxide::spawn(async move {
                let mut buf = [0u8; 5];
                (&a).read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf, b"hello");
                still_blocked.load(Ordering::SeqCst)
            });
            tx.send((b, reader)).unwrap();
            std::thread::sleep(Duration::from_secs(3)); // blocks this worker
            blocked.store(false, Ordering::SeqCst);
        });
        let (b, reader) = rx.await.unwrap();
        trioxide::time::sleep(Duration::from_millis(50)).await; // the reader waits now
        (&b).write_all(b"hello").await.unwrap();
        let in_time = reader.await.unwrap();
        blocker.await.unwrap();
        in_time
    });
    assert!(
        read_before_unblock,
        "the read waited for the blocked worker to come back"
    );
}

#[test]
fn a_blocked_worker_does_not_strand_its_sockets_uring() {
    a_blocked_worker_does_not_strand_its_sockets(Io::IoUring);
}

#[test]
fn a_blocked_worker_does_not_strand_its_sockets_epoll() {
    a_blocked_worker_does_not_strand_its_sockets(Io::Epoll);
}

/// Sleeps armed on every worker (and from outside) all fire, and none early, whichever
/// worker keeps the timers at the moment.
fn timers_fire_from_every_worker(io: Io) {
    let Some(rt) = work_stealing(io) else { return };
    rt.block_on(async {
        let tasks: Vec<_> = (0..64u64)
            .map(|i| {
                trioxide::spawn(async move {
                    let wait = Duration::from_millis(5 + (i * 7) % 60);
                    let start = Instant::now();
                    trioxide::time::sleep(wait).await;
                    start.elapsed() >= wait
                })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap(), "a sleep ended early");
        }
    });
    // A sleep armed from a plain thread while every worker sleeps.
    let handle = rt.handle().clone();
    let done = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        let (tx, rx) = std::sync::mpsc::channel();
        let start = Instant::now();
        let _task = handle.spawn(async move {
            trioxide::time::sleep(Duration::from_millis(30)).await;
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the sleep never fired");
        start.elapsed()
    });
    let waited = done.join().unwrap();
    assert!(
        waited >= Duration::from_millis(30),
        "fired early: {waited:?}"
    );
}

#[test]
fn timers_fire_from_every_worker_uring() {
    timers_fire_from_every_worker(Io::IoUring);
}

#[test]
fn timers_fire_from_every_worker_epoll() {
    timers_fire_from_every_worker(Io::Epoll);
}

/// A busy worker's owned-buffer operations reach the kernel in batches: 100 loopback
/// connections doing owned-buffer round trips on two workers take far fewer
/// `io_uring_enter` calls than operations. (A worker once flushed its queued submissions
/// every fourth task: about 0.2 enters per operation on this load; batching to the end
/// of the worker's tick gives about 0.02.)
#[test]
fn a_busy_worker_batches_its_owned_operations() {
    use trioxide::net::{TcpListener, TcpStream};
    const CONNECTIONS: usize = 100;
    const ROUNDS: usize = 50;
    const MSG: usize = 64;
    let rt = match trioxide::Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .worker_threads(2)
        .io(Io::IoUring)
        .build()
    {
        Ok(rt) => rt,
        Err(trioxide::runtime::BuildError::IoUringUnavailable { reason }) => {
            trioxide_tests::io_uring_unavailable(&reason);
            return;
        }
        Err(e) => panic!("test runtime does not build: {e}"),
    };
    let (before, after) = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = trioxide::spawn(async move {
            for _ in 0..CONNECTIONS {
                let (conn, _) = listener.accept().await.unwrap();
                drop(trioxide::spawn(async move {
                    let mut buf = Vec::with_capacity(MSG);
                    loop {
                        let (res, b) = conn.read_owned(buf).await;
                        if !matches!(res, Ok(n) if n > 0) {
                            return;
                        }
                        let (res, b) = conn.write_all_owned(b).await;
                        if res.is_err() {
                            return;
                        }
                        buf = b;
                        buf.clear();
                    }
                }));
            }
        });
        let mut clients = Vec::new();
        for _ in 0..CONNECTIONS {
            let s = TcpStream::connect(addr).await.unwrap();
            s.set_nodelay(true).unwrap();
            clients.push(s);
        }
        server.await.unwrap();
        let before = trioxide::runtime::Handle::current().metrics();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|s| {
                trioxide::spawn(async move {
                    let mut back = Vec::with_capacity(MSG);
                    for round in 0..ROUNDS {
                        let (res, _) = s.write_all_owned(vec![round as u8; MSG]).await;
                        res.unwrap();
                        let mut got = 0;
                        while got < MSG {
                            back.clear();
                            let (res, b) = s.read_owned(back).await;
                            let n = res.unwrap();
                            assert!(n > 0, "the echo closed early");
                            assert!(b.iter().all(|&x| x == round as u8), "wrong bytes");
                            got += n;
                            back = b;
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        (before, trioxide::runtime::Handle::current().metrics())
    });
    let submitted = after.io_submitted - before.io_submitted;
    let enters = after.io_driver_calls - before.io_driver_calls;
    let ops = (CONNECTIONS * ROUNDS * 4) as u64;
    assert!(
        submitted >= ops,
        "{submitted} submissions for {ops} operations"
    );
    let per_op = enters as f64 / ops as f64;
    eprintln!("{enters} io_uring_enter calls for {ops} operations: {per_op:.3} per operation");
    // A bound with room for a loaded machine (more parks, each one enter), still well
    // below the unbatched figure.
    assert!(
        per_op < 0.15,
        "{per_op:.3} io_uring_enter calls per operation: submissions are not batched"
    );
}

/// An owned read queued on one worker's ring (not yet submitted: the worker's own pushes
/// wait for its next turn) and dropped by a task on the *other* worker, which then closes
/// the stream: a new socket that takes the freed descriptor number must still get every
/// byte written to it. The dropped read's cancel is only queued on the first worker's
/// ring, behind the read; if the descriptor were closed at once, both would reach the
/// kernel later, on the new socket, and the read would take its bytes.
fn a_read_dropped_on_another_worker_never_reaches_a_reused_descriptor(io: Io) {
    use std::future::Future;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use trioxide::net::TcpStream;
    let Some(rt) = work_stealing(io) else { return };
    let outcome = rt.block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (handoff_tx, handoff_rx) = trioxide::sync::oneshot::channel();
        let starter = trioxide::spawn(async move {
            let _client = std::net::TcpStream::connect(addr).unwrap();
            let (accepted, _) = listener.accept().unwrap();
            let stream = Arc::new(TcpStream::from_std(accepted).unwrap());
            let reader = stream.clone();
            let mut read = Box::pin(async move { reader.read_owned(Vec::with_capacity(64)).await });
            std::future::poll_fn(|cx| {
                assert!(read.as_mut().poll(cx).is_pending(), "no data was sent");
                std::task::Poll::Ready(())
            })
            .await;
            handoff_tx
                .send((read, stream, listener, thread_id()))
                .unwrap_or_else(|_| panic!("the other task is gone"));
            // Keep this worker (and so its ring) busy while the other one drops the read.
            std::thread::sleep(Duration::from_millis(300));
            _client
        });
        let (read, stream, listener, starter_thread) = handoff_rx.await.unwrap();
        let dropper_thread = thread_id();
        let old_fd = stream.as_raw_fd();
        drop(read);
        drop(stream);
        let mut new_client = std::net::TcpStream::connect(addr).unwrap();
        let (new_server, _) = listener.accept().unwrap();
        let reused = new_client.as_raw_fd() == old_fd || new_server.as_raw_fd() == old_fd;
        (&new_server).write_all(b"precious").unwrap();
        // Both workers turn their rings meanwhile.
        trioxide::time::sleep(Duration::from_millis(500)).await;
        new_client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut got = [0u8; 8];
        let read = new_client.read_exact(&mut got).map(|()| got);
        drop(starter.await.unwrap());
        assert_ne!(
            starter_thread, dropper_thread,
            "the read must be dropped off the thread whose ring queued it"
        );
        // With the descriptor kept open until the read's CQE its number is not free, so
        // `reused` is false; before, it was reused and the read took the bytes.
        eprintln!("the descriptor number was reused: {reused}");
        read
    });
    assert_eq!(
        outcome.expect("the new socket's bytes were taken by the dropped read"),
        *b"precious"
    );
}

fn thread_id() -> std::thread::ThreadId {
    std::thread::current().id()
}

#[test]
fn a_read_dropped_on_another_worker_never_reaches_a_reused_descriptor_uring() {
    a_read_dropped_on_another_worker_never_reaches_a_reused_descriptor(Io::IoUring);
}

#[test]
fn a_read_dropped_on_another_worker_never_reaches_a_reused_descriptor_epoll() {
    a_read_dropped_on_another_worker_never_reaches_a_reused_descriptor(Io::Epoll);
}
