//! Load and churn, bounded in count and time. `cargo xtask ci` runs the sizes below;
//! `cargo xtask stress` sets `TRIOXIDE_STRESS_SCALE` (default 10 there) to multiply them
//! toward docs/RELIABILITY.md's figures. Every loop ends by itself; all traffic is on
//! loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::io::{AsyncReadExt, AsyncWriteExt};
use trioxide::net::{TcpListener, TcpStream};
use trioxide::runtime::{Flavor, Io, Runtime};
use trioxide::sync::Queue;
use trioxide::time::{Instant, sleep_until};

fn scale() -> usize {
    std::env::var("TRIOXIDE_STRESS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// A tiny deterministic generator (xorshift), so failures replay.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn runtimes() -> Vec<(String, Runtime)> {
    let mut out = Vec::new();
    for flavor in [
        Flavor::CurrentThread,
        Flavor::WorkStealing,
        Flavor::ThreadPerCore,
    ] {
        for io in [Io::Epoll, Io::IoUring] {
            if let Ok(rt) = Runtime::builder().flavor(flavor).io(io).build() {
                out.push((format!("{flavor:?}/{io:?}"), rt));
            }
        }
    }
    out
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write the rlimit we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max.min(1 << 20);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[test]
fn timers_with_random_deadlines_and_cancellation_fire_once_never_early() {
    let n = 20_000 * scale();
    for (name, rt) in runtimes() {
        let fired = Arc::new(AtomicUsize::new(0));
        let early = Arc::new(AtomicUsize::new(0));
        let cancelled_fired = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let start = Instant::now();
            let mut rng = Rng(0x5eed);
            let mut handles = Vec::with_capacity(n);
            let mut cancel = Vec::new();
            for i in 0..n {
                let deadline = start + Duration::from_micros(rng.next() % 200_000);
                let will_cancel = rng.next().is_multiple_of(4);
                let (fired, early, cf) = (fired.clone(), early.clone(), cancelled_fired.clone());
                let h = trioxide::spawn(async move {
                    sleep_until(deadline).await;
                    if Instant::now() < deadline {
                        early.fetch_add(1, Ordering::SeqCst);
                    }
                    if will_cancel {
                        cf.fetch_add(1, Ordering::SeqCst); // fired before its cancel landed
                    } else {
                        fired.fetch_add(1, Ordering::SeqCst);
                    }
                });
                if will_cancel {
                    cancel.push(i);
                }
                handles.push(h);
            }
            for &i in &cancel {
                handles[i].cancel();
            }
            let mut resolved = 0;
            for h in handles {
                let _ = h.await; // Ok, or Cancelled: every handle resolves exactly once
                resolved += 1;
            }
            assert_eq!(resolved, n, "{name}");
            let expected = n - cancel.len();
            assert_eq!(
                fired.load(Ordering::SeqCst),
                expected,
                "{name}: every kept timer fired once"
            );
        });
        assert_eq!(
            early.load(Ordering::SeqCst),
            0,
            "{name}: no timer fired early"
        );
    }
}

#[test]
fn tasks_spawned_and_cancelled_at_random_resolve_once_and_leak_nothing() {
    let n = 20_000 * scale();
    for (name, rt) in runtimes() {
        let started = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        struct Count(Arc<AtomicUsize>);
        impl Drop for Count {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        rt.block_on(async {
            let queue: Queue<u64> = Queue::new(64);
            let mut rng = Rng(42);
            let mut handles = Vec::with_capacity(n);
            for i in 0..n as u64 {
                let (s, d, q) = (started.clone(), Count(dropped.clone()), queue.clone());
                handles.push(trioxide::spawn(async move {
                    let _d = d;
                    s.fetch_add(1, Ordering::SeqCst);
                    if i % 2 == 0 {
                        let _ = q.put(i).await;
                    } else {
                        let _ = trioxide::time::timeout(Duration::from_millis(1), q.get()).await;
                    }
                    trioxide::yield_now().await;
                    i
                }));
                if rng.next().is_multiple_of(3) {
                    handles[(rng.next() as usize) % handles.len()].cancel();
                }
            }
            // Drain so blocked putters finish.
            let drainer = {
                let q = queue.clone();
                trioxide::spawn(async move { while q.get().await.is_ok() {} })
            };
            let mut resolved = 0;
            for h in handles {
                match h.await {
                    Ok(_) | Err(trioxide::JoinError::Cancelled) => resolved += 1,
                    Err(e) => panic!("{name}: {e:?}"),
                }
            }
            assert_eq!(resolved, n, "{name}: every handle resolved exactly once");
            queue.shutdown(true);
            drainer.await.unwrap();
        });
        drop(rt);
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            n,
            "{name}: every future dropped exactly once"
        );
    }
}

#[test]
fn a_four_stage_pipeline_over_bounded_queues_delivers_everything() {
    let items = 100_000 * scale() as u64;
    for (name, rt) in runtimes() {
        let (sum, count) = rt.block_on(async move {
            let qs: Vec<Queue<u64>> = (0..4).map(|_| Queue::new(128)).collect();
            let producer = {
                let q = qs[0].clone();
                trioxide::spawn(async move {
                    for i in 0..items {
                        q.put(i).await.unwrap();
                    }
                    q.shutdown(false);
                })
            };
            let mut stages = Vec::new();
            for s in 0..3 {
                let (input, output) = (qs[s].clone(), qs[s + 1].clone());
                stages.push(trioxide::spawn(async move {
                    let mut rng = Rng(s as u64 + 7);
                    while let Ok(v) = input.get().await {
                        if rng.next().is_multiple_of(1000) {
                            trioxide::yield_now().await; // a random consumer slowdown
                        }
                        output.put(v + 1).await.unwrap();
                    }
                    output.shutdown(false);
                }));
            }
            let sink = qs[3].clone();
            let (mut sum, mut count) = (0u64, 0u64);
            while let Ok(v) = sink.get().await {
                sum += v;
                count += 1;
            }
            producer.await.unwrap();
            for s in stages {
                s.await.unwrap();
            }
            (sum, count)
        });
        assert_eq!(count, items, "{name}: nothing lost");
        assert_eq!(
            sum,
            (0..items).map(|i| i + 3).sum::<u64>(),
            "{name}: nothing changed"
        );
    }
}

#[test]
fn many_concurrent_echo_connections_lose_and_reorder_nothing() {
    raise_fd_limit();
    let conns = 1000 * scale();
    let messages = 20;
    for (name, rt) in runtimes() {
        let bytes = Arc::new(AtomicU64::new(0));
        let b = bytes.clone();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = trioxide::spawn(async move {
                for _ in 0..conns {
                    let (mut c, _) = listener.accept().await.unwrap();
                    trioxide::spawn(async move {
                        let mut buf = [0u8; 256];
                        loop {
                            let n = c.read(&mut buf).await.unwrap();
                            if n == 0 {
                                return;
                            }
                            c.write_all(&buf[..n]).await.unwrap();
                        }
                    });
                }
            });
            let clients: Vec<_> = (0..conns)
                .map(|i| {
                    let b = b.clone();
                    trioxide::spawn(async move {
                        let mut s = TcpStream::connect(addr).await.unwrap();
                        for m in 0..messages {
                            let msg = format!("{i}:{m};");
                            s.write_all(msg.as_bytes()).await.unwrap();
                            let mut back = vec![0u8; msg.len()];
                            s.read_exact(&mut back).await.unwrap();
                            assert_eq!(back, msg.as_bytes(), "in order, intact");
                            b.fetch_add(back.len() as u64, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            server.await.unwrap();
        });
        assert!(bytes.load(Ordering::Relaxed) > 0, "{name}");
    }
}
