//! WorkStealing benchmarks vs tokio's multi-thread runtime, both with 2 workers: spawning
//! from inside and outside, yield storms, oneshot ping-pong between task pairs, and a
//! chain of tasks each spawning the next.

use crate::{Bench, time};

const WORKERS: usize = 2;
const SPAWN_MANY: usize = 1_000_000;
const YIELD_TASKS: usize = 1_000;
const YIELDS: usize = 1_000;
const PAIRS: usize = 1_000;
const ROUNDS: usize = 100;
const CHAIN: usize = 100_000;

fn trioxide_rt() -> trioxide::Runtime {
    trioxide::Runtime::builder()
        .flavor(trioxide::runtime::Flavor::WorkStealing)
        .worker_threads(WORKERS)
        .io(trioxide::runtime::Io::Epoll)
        .build()
        .expect("trioxide runtime")
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Every WorkStealing benchmark.
pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "ws_spawn_many_local",
            what: "1,000,000 tasks spawned from inside a task, then joined (2 workers)",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                time(|| {
                    rt.block_on(async {
                        trioxide::spawn(async {
                            let hs: Vec<_> = (0..SPAWN_MANY)
                                .map(|i| trioxide::spawn(async move { i }))
                                .collect();
                            for h in hs {
                                std::hint::black_box(h.await.unwrap());
                            }
                        })
                        .await
                        .unwrap()
                    })
                })
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                time(|| {
                    rt.block_on(async {
                        tokio::spawn(async {
                            let hs: Vec<_> = (0..SPAWN_MANY)
                                .map(|i| tokio::spawn(async move { i }))
                                .collect();
                            for h in hs {
                                std::hint::black_box(h.await.unwrap());
                            }
                        })
                        .await
                        .unwrap()
                    })
                })
            }),
        },
        Bench {
            name: "ws_spawn_many_remote",
            what: "1,000,000 tasks spawned from outside the runtime, then joined",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                time(|| {
                    let hs: Vec<_> = (0..SPAWN_MANY)
                        .map(|i| rt.spawn(async move { i }))
                        .collect();
                    rt.block_on(async {
                        for h in hs {
                            std::hint::black_box(h.await.unwrap());
                        }
                    })
                })
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                time(|| {
                    let hs: Vec<_> = (0..SPAWN_MANY)
                        .map(|i| rt.spawn(async move { i }))
                        .collect();
                    rt.block_on(async {
                        for h in hs {
                            std::hint::black_box(h.await.unwrap());
                        }
                    })
                })
            }),
        },
        Bench {
            name: "ws_yield_many",
            what: "1,000 tasks x 1,000 yield_now",
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
            name: "ws_ping_pong",
            what: "1,000 task pairs x 100 round trips, a fresh oneshot per message",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                time(|| rt.block_on(trioxide_ping_pong()))
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                time(|| rt.block_on(tokio_ping_pong()))
            }),
        },
        Bench {
            name: "ws_chained_spawn",
            what: "each task spawns the next, depth 100,000",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                time(|| {
                    rt.block_on(async {
                        let (tx, rx) = trioxide::sync::oneshot::channel();
                        trioxide::spawn(trioxide_chain(CHAIN, tx));
                        rx.await.unwrap();
                    })
                })
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                time(|| {
                    rt.block_on(async {
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        tokio::spawn(tokio_chain(CHAIN, tx));
                        rx.await.unwrap();
                    })
                })
            }),
        },
    ]
}

async fn trioxide_ping_pong() {
    use trioxide::sync::oneshot;
    let hs: Vec<_> = (0..PAIRS)
        .map(|_| {
            trioxide::spawn(async {
                for _ in 0..ROUNDS {
                    let (ping_tx, ping_rx) = oneshot::channel::<()>();
                    let (pong_tx, pong_rx) = oneshot::channel::<()>();
                    let peer = trioxide::spawn(async move {
                        ping_rx.await.unwrap();
                        pong_tx.send(()).unwrap();
                    });
                    ping_tx.send(()).unwrap();
                    pong_rx.await.unwrap();
                    peer.await.unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
}

async fn tokio_ping_pong() {
    use tokio::sync::oneshot;
    let hs: Vec<_> = (0..PAIRS)
        .map(|_| {
            tokio::spawn(async {
                for _ in 0..ROUNDS {
                    let (ping_tx, ping_rx) = oneshot::channel::<()>();
                    let (pong_tx, pong_rx) = oneshot::channel::<()>();
                    let peer = tokio::spawn(async move {
                        ping_rx.await.unwrap();
                        pong_tx.send(()).unwrap();
                    });
                    ping_tx.send(()).unwrap();
                    pong_rx.await.unwrap();
                    peer.await.unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.await.unwrap();
    }
}

fn trioxide_chain(
    left: usize,
    done: trioxide::sync::oneshot::Sender<()>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        if left == 0 {
            let _ = done.send(());
        } else {
            drop(trioxide::spawn(trioxide_chain(left - 1, done)));
        }
    })
}

fn tokio_chain(
    left: usize,
    done: tokio::sync::oneshot::Sender<()>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        if left == 0 {
            let _ = done.send(());
        } else {
            drop(tokio::spawn(tokio_chain(left - 1, done)));
        }
    })
}
