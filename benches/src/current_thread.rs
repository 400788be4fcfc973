//! CurrentThread benchmarks: spawn and join, yield storms, many short sleeps, and a TCP
//! echo over loopback — each written the same way for trioxide and for tokio's
//! current-thread runtime.

use crate::{Bench, time};
use std::time::Duration;

const SPAWN_TASKS: usize = 100_000;
const YIELD_TASKS: usize = 1_000;
const YIELDS: usize = 1_000;
const SLEEP_TASKS: usize = 100_000;
const ECHO_CONNS: usize = 100;
const ECHO_ROUNDS: usize = 200;
const MSG: usize = 1024;

fn trioxide_rt() -> trioxide::Runtime {
    trioxide_rt_on(trioxide::runtime::Io::Epoll)
}

fn trioxide_rt_on(io: trioxide::runtime::Io) -> trioxide::Runtime {
    trioxide::Runtime::builder()
        .flavor(trioxide::runtime::Flavor::CurrentThread)
        .io(io)
        .build()
        .expect("trioxide runtime")
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Sleep lengths spread over 0..1 ms, the same for both runtimes.
fn sleep_len(i: usize) -> Duration {
    Duration::from_micros((i as u64 * 7919) % 1000)
}

/// Every CurrentThread benchmark.
pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "spawn_join_100k",
            what: "spawn 100,000 tasks, then await each",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                time(|| {
                    rt.block_on(async {
                        let hs: Vec<_> = (0..SPAWN_TASKS)
                            .map(|i| trioxide::spawn(async move { i }))
                            .collect();
                        for h in hs {
                            std::hint::black_box(h.await.unwrap());
                        }
                    })
                })
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                time(|| {
                    rt.block_on(async {
                        let hs: Vec<_> = (0..SPAWN_TASKS)
                            .map(|i| tokio::spawn(async move { i }))
                            .collect();
                        for h in hs {
                            std::hint::black_box(h.await.unwrap());
                        }
                    })
                })
            }),
        },
        Bench {
            name: "yield_1000x1000",
            what: "1,000 tasks each yield_now 1,000 times",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                time(|| {
                    rt.block_on(async {
                        let hs: Vec<_> = (0..YIELD_TASKS)
                            .map(|_| {
                                trioxide::spawn(async {
                                    for _ in 0..YIELDS {
                                        trioxide::yield_now().await;
                                    }
                                })
                            })
                            .collect();
                        for h in hs {
                            h.await.unwrap();
                        }
                    })
                })
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                time(|| {
                    rt.block_on(async {
                        let hs: Vec<_> = (0..YIELD_TASKS)
                            .map(|_| {
                                tokio::spawn(async {
                                    for _ in 0..YIELDS {
                                        tokio::task::yield_now().await;
                                    }
                                })
                            })
                            .collect();
                        for h in hs {
                            h.await.unwrap();
                        }
                    })
                })
            }),
        },
        Bench {
            name: "sleep_100k",
            what: "100,000 tasks each sleep 0..1 ms",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                time(|| {
                    rt.block_on(async {
                        let hs: Vec<_> = (0..SLEEP_TASKS)
                            .map(|i| trioxide::spawn(trioxide::time::sleep(sleep_len(i))))
                            .collect();
                        for h in hs {
                            h.await.unwrap();
                        }
                    })
                })
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                time(|| {
                    rt.block_on(async {
                        let hs: Vec<_> = (0..SLEEP_TASKS)
                            .map(|i| tokio::spawn(tokio::time::sleep(sleep_len(i))))
                            .collect();
                        for h in hs {
                            h.await.unwrap();
                        }
                    })
                })
            }),
        },
        Bench {
            name: "tcp_echo_uring_100x1KiB",
            what: "the same echo on trioxide's io_uring backend (readiness via multishot poll)",
            trioxide: Box::new(|| {
                let rt = trioxide_rt_on(trioxide::runtime::Io::IoUring);
                rt.block_on(trioxide_echo())
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                rt.block_on(tokio_echo())
            }),
        },
        Bench {
            name: "tcp_echo_100x1KiB",
            what: "100 loopback connections, 200 round trips of 1 KiB each (epoll)",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                rt.block_on(trioxide_echo())
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                rt.block_on(tokio_echo())
            }),
        },
    ]
}

async fn trioxide_echo() -> Duration {
    use trioxide::io::{AsyncReadExt, AsyncWriteExt};
    use trioxide::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = trioxide::spawn(async move {
        for _ in 0..ECHO_CONNS {
            let (mut c, _) = listener.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            trioxide::spawn(async move {
                let mut buf = vec![0u8; MSG];
                while c.read_exact(&mut buf).await.is_ok() {
                    c.write_all(&buf).await.unwrap();
                }
            });
        }
    });
    let mut clients = Vec::new();
    for _ in 0..ECHO_CONNS {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        clients.push(s);
    }
    let start = std::time::Instant::now();
    let hs: Vec<_> = clients
        .into_iter()
        .map(|mut s| {
            trioxide::spawn(async move {
                let msg = vec![7u8; MSG];
                let mut back = vec![0u8; MSG];
                for _ in 0..ECHO_ROUNDS {
                    s.write_all(&msg).await.unwrap();
                    s.read_exact(&mut back).await.unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    let elapsed = start.elapsed();
    server.await.unwrap();
    elapsed
}

async fn tokio_echo() -> Duration {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..ECHO_CONNS {
            let (mut c, _) = listener.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = vec![0u8; MSG];
                while c.read_exact(&mut buf).await.is_ok() {
                    c.write_all(&buf).await.unwrap();
                }
            });
        }
    });
    let mut clients = Vec::new();
    for _ in 0..ECHO_CONNS {
        let s = TcpStream::connect(addr).await.unwrap();
        s.set_nodelay(true).unwrap();
        clients.push(s);
    }
    let start = std::time::Instant::now();
    let hs: Vec<_> = clients
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let msg = vec![7u8; MSG];
                let mut back = vec![0u8; MSG];
                for _ in 0..ECHO_ROUNDS {
                    s.write_all(&msg).await.unwrap();
                    s.read_exact(&mut back).await.unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
    let elapsed = start.elapsed();
    server.await.unwrap();
    elapsed
}
