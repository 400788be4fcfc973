//! Task churn: `n` tasks, each doing queue work (a bounded `put`, or a `get` under a
//! timeout), a UDP round trip with an echo task, or a short sleep, and cancelled at random
//! moments — before their first poll, while blocked, or after finishing. Every handle
//! resolves exactly once and its result matches what the task did; every future is dropped
//! exactly once; at the end no task is live, no timer armed, and the heap is back where it
//! was before the runtime was built (a leak of one allocation per task would show).

use crate::support::{
    HeapSnapshot, Mode, Rng, bounded, configs, one_at_a_time, runtime, settles_to_zero,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::JoinError;
use trioxide::net::UdpSocket;
use trioxide::sync::{Queue, Semaphore};

/// Allocations that may outlive a runtime without being a leak (lazily initialised
/// process-wide state); far below one per task.
const HEAP_SLACK_ALLOCATIONS: isize = 512;

/// At most this many task-owned UDP sockets are open at once.
const SOCKETS_AT_ONCE: usize = 256;

#[test]
fn tasks_spawned_and_cancelled_at_random_resolve_once_and_leak_nothing() {
    let _serial = one_at_a_time();
    let mode = Mode::from_env();
    let tasks = mode.pick(20_000, 1_000_000);
    let limit = mode.pick(Duration::from_secs(60), Duration::from_secs(300));
    for (name, flavor, io) in configs() {
        for round in 0..mode.rounds() {
            // A small warm-up round first: process-wide state created on first use (the
            // io_uring probe, thread-local caches) must not count as a leak.
            let Some(warm) = runtime(flavor, io) else {
                break;
            };
            warm.block_on(one_round(500, u64::MAX, Arc::new(AtomicUsize::new(0))));
            drop(warm);

            let heap = HeapSnapshot::now();
            let rt = runtime(flavor, io).expect("built once already");
            let dropped = Arc::new(AtomicUsize::new(0));
            let what = format!("tasks {name} round {round}: {tasks} tasks");
            bounded(&what, limit, || {
                let (ok, cancelled, replies) =
                    rt.block_on(one_round(tasks, round as u64, dropped.clone()));
                println!(
                    "stress: tasks {name}: {ok} finished, {cancelled} cancelled, \
                     {replies} UDP round trips"
                );
                assert_eq!(
                    settles_to_zero(|| rt.live_tasks()),
                    0,
                    "{name}: a task stayed live"
                );
                assert_eq!(
                    settles_to_zero(|| rt.metrics().timers_armed),
                    0,
                    "{name}: a timer stayed armed"
                );
            });
            drop(rt);
            assert_eq!(
                dropped.load(Ordering::SeqCst),
                tasks,
                "{name}: every future dropped exactly once"
            );
            let growth = heap.growth();
            println!("stress: tasks {name}: heap after the runtime: {growth:?}");
            assert!(
                growth.allocations <= HEAP_SLACK_ALLOCATIONS,
                "{name}: {growth:?} still live after {tasks} tasks and the runtime were dropped"
            );
        }
    }
}

/// Counts the drops of the future that owns it.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// One round of `n` tasks; returns how many finished, how many were cancelled, and how many
/// UDP round trips got their reply.
async fn one_round(n: usize, seed: u64, dropped: Arc<AtomicUsize>) -> (usize, usize, usize) {
    let mut rng = Rng::new(seed ^ 0x7a5c);
    let queue: Queue<u64> = Queue::new(64);
    let sockets = Arc::new(Semaphore::new(SOCKETS_AT_ONCE));
    let replies = Arc::new(AtomicUsize::new(0));
    let udp = Arc::new(UdpTally::default());
    let finished: Arc<Vec<AtomicU8>> = Arc::new((0..n).map(|_| AtomicU8::new(0)).collect());
    let echo = UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind the echo socket");
    let echo_addr = echo.local_addr().unwrap();
    let echo_task = trioxide::spawn(async move {
        let mut buf = [0u8; 64];
        loop {
            // Ends when cancelled at the end of the round.
            if let Ok((len, from)) = echo.recv_from(&mut buf).await {
                let _ = echo.send_to(&buf[..len], from).await;
            }
        }
    });
    let drainer = {
        let q = queue.clone();
        trioxide::spawn(async move { while q.get().await.is_ok() {} })
    };

    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let kind = rng.below(4);
        let pause = Duration::from_micros(rng.below(2_000));
        let work = Work {
            i: i as u64,
            queue: queue.clone(),
            sockets: sockets.clone(),
            echo: echo_addr,
            replies: replies.clone(),
            udp: udp.clone(),
        };
        let (finished, guard) = (finished.clone(), DropCount(dropped.clone()));
        handles.push(trioxide::spawn(async move {
            let _guard = guard;
            match kind {
                0 => work.put().await,
                1 => work.get().await,
                2 => work.udp_round_trip().await,
                _ => trioxide::time::sleep(pause).await,
            }
            trioxide::yield_now().await;
            // No poll boundary follows: a handle that reports Ok finished exactly here.
            finished[i].store(1, Ordering::Relaxed);
            i
        }));
        // Cancel a recent task (not yet polled, blocked, or done) now and then...
        if rng.one_in(4) {
            let back = rng.below(1024.min(handles.len() as u64)) as usize;
            handles[handles.len() - 1 - back].cancel();
        }
        if i % 256 == 255 {
            trioxide::yield_now().await; // ...and let the spawned ones run meanwhile.
        }
    }
    // ...and more at random over the next moments, while the rest are mid-work.
    let mut late: Vec<_> = (0..n / 8)
        .map(|_| handles[rng.below(n as u64) as usize].cancel_handle())
        .collect();
    let canceller = trioxide::spawn(async move {
        let mut rng = Rng::new(seed ^ 0xca9c);
        while !late.is_empty() {
            for _ in 0..rng.below(512) {
                if let Some(cancel) = late.pop() {
                    cancel.cancel();
                }
            }
            trioxide::time::sleep(Duration::from_micros(rng.below(500))).await;
        }
    });

    let (mut ok, mut cancelled) = (0usize, 0usize);
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.await {
            Ok(v) => {
                assert_eq!(v, i, "task {i} returned its own value");
                assert_eq!(finished[i].load(Ordering::Relaxed), 1, "task {i} finished");
                ok += 1;
            }
            Err(JoinError::Cancelled) => {
                assert_eq!(
                    finished[i].load(Ordering::Relaxed),
                    0,
                    "cancelled task {i} did not also finish"
                );
                cancelled += 1;
            }
            Err(err) => panic!("task {i}: {err:?}"),
        }
    }
    assert_eq!(ok + cancelled, n, "every handle resolved exactly once");
    canceller.await.expect("the canceller finishes");
    queue.shutdown(true);
    drainer.await.expect("the drainer ends at shutdown");
    echo_task.cancel();
    assert!(matches!(echo_task.await, Err(JoinError::Cancelled)));
    let (stale, gave_up) = (
        udp.stale.load(Ordering::Relaxed),
        udp.gave_up.load(Ordering::Relaxed),
    );
    assert!(
        stale <= gave_up,
        "{stale} UDP replies reached the wrong socket, but only {gave_up} round trips gave up \
         (a late reply can only reach a newer socket that reused the port of one that gave up)"
    );
    (ok, cancelled, replies.load(Ordering::Relaxed))
}

/// What one task works with.
struct Work {
    i: u64,
    queue: Queue<u64>,
    sockets: Arc<Semaphore>,
    echo: SocketAddr,
    replies: Arc<AtomicUsize>,
    udp: Arc<UdpTally>,
}

/// UDP round trips that ended without their reply, and replies that carried another
/// task's value. Loopback UDP under load can be late: a round trip gives up after its
/// timeout, or its task is cancelled between send and reply; either way its socket
/// closes, a newer socket may be given the same port, and the late reply lands there.
/// So a foreign reply is allowed only as often as round trips ended early.
#[derive(Default)]
struct UdpTally {
    gave_up: AtomicUsize,
    stale: AtomicUsize,
}

/// Adds one to the counter when dropped, unless [`answered`](Self::answered).
struct Unanswered<'a>(Option<&'a AtomicUsize>);

impl Unanswered<'_> {
    fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(count) = self.0 {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Work {
    /// A bounded put: waits while the queue is full (the drainer and getters make room).
    async fn put(&self) {
        let _ = self.queue.put(self.i).await;
    }

    /// A get that gives up after a millisecond.
    async fn get(&self) {
        let _ = trioxide::time::timeout(Duration::from_millis(1), self.queue.get()).await;
    }

    /// Sends `i` to the echo task from a socket of its own and waits a while for the reply
    /// (loopback UDP may drop under load; a reply, when it comes, must be ours).
    async fn udp_round_trip(&self) {
        let Ok(_permit) = self.sockets.acquire().await else {
            return;
        };
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind a client socket");
        let sent = self.i.to_le_bytes();
        // Counts the round trip as given up unless its reply arrives: also when the task
        // is cancelled (dropped) while the request may be on its way.
        let unanswered = Unanswered(Some(&self.udp.gave_up));
        socket
            .send_to(&sent, self.echo)
            .await
            .expect("send to the echo task");
        let mut buf = [0u8; 16];
        let reply =
            trioxide::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await;
        if let Ok(Ok((len, from))) = reply {
            unanswered.answered();
            assert_eq!(from, self.echo, "a reply from the echo task");
            if buf[..len] == sent[..] {
                self.replies.fetch_add(1, Ordering::Relaxed);
            } else {
                self.udp.stale.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
