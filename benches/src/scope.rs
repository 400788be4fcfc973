//! Structured-concurrency benchmarks: a scope of 10,000 parallel children vs tokio's
//! `JoinSet`, nested scopes 4 deep x 10 wide, and cancelling 10,000 sleeping children vs
//! `JoinSet::abort_all` + drain. Both runtimes have 2 workers.

use crate::{Bench, time};
use std::time::Duration;

const CHILDREN: usize = 10_000;
const WIDTH: usize = 10;
const DEPTH: usize = 4;

fn trioxide_rt() -> trioxide::Runtime {
    trioxide::Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("trioxide runtime")
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio")
}

fn trioxide_nested(
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let mut handles = Vec::with_capacity(WIDTH);
        trioxide::scope(|s| {
            let handles = &mut handles;
            async move {
                for _ in 0..WIDTH {
                    handles.push(s.spawn_parallel(trioxide_nested(depth - 1)));
                }
            }
        })
        .await
        .unwrap();
        handles.into_iter().map(|h| h.result().unwrap()).sum()
    })
}

fn tokio_nested(
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = usize> + Send>> {
    Box::pin(async move {
        if depth == 0 {
            return 1;
        }
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..WIDTH {
            set.spawn(tokio_nested(depth - 1));
        }
        let mut sum = 0;
        while let Some(r) = set.join_next().await {
            sum += r.unwrap();
        }
        sum
    })
}

/// Every scope benchmark.
pub fn benches() -> Vec<Bench> {
    vec![
        Bench {
            name: "scope_10k_parallel",
            what: "a scope of 10,000 spawn_parallel children vs JoinSet spawn + join all",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                time(|| {
                    rt.block_on(async {
                        trioxide::scope(|s| async move {
                            for i in 0..CHILDREN {
                                drop(s.spawn_parallel(async move { std::hint::black_box(i) }));
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
                        let mut set = tokio::task::JoinSet::new();
                        for i in 0..CHILDREN {
                            set.spawn(async move { std::hint::black_box(i) });
                        }
                        while let Some(r) = set.join_next().await {
                            r.unwrap();
                        }
                    })
                })
            }),
        },
        Bench {
            name: "scope_nested_4x10",
            what: "scopes nested 4 deep x 10 wide (10,000 leaves) vs nested JoinSets",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                time(|| assert_eq!(rt.block_on(trioxide_nested(DEPTH)), WIDTH.pow(DEPTH as u32)))
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                time(|| assert_eq!(rt.block_on(tokio_nested(DEPTH)), WIDTH.pow(DEPTH as u32)))
            }),
        },
        Bench {
            name: "scope_cancel_10k",
            what: "cancel a scope of 10,000 sleeping children vs JoinSet::abort_all + drain",
            trioxide: Box::new(|| {
                let rt = trioxide_rt();
                rt.block_on(async {
                    let mut cancel_at = None;
                    let start_cancel = &mut cancel_at;
                    let result = trioxide::scope(|s| async move {
                        for _ in 0..CHILDREN {
                            drop(
                                s.spawn_parallel(trioxide::time::sleep(Duration::from_secs(3600))),
                            );
                        }
                        trioxide::yield_now().await;
                        *start_cancel = Some(std::time::Instant::now());
                        s.cancel();
                        std::future::pending::<()>().await
                    })
                    .await;
                    assert!(result.unwrap_err().is_cancelled());
                    cancel_at.unwrap().elapsed()
                })
            }),
            tokio: Box::new(|| {
                let rt = tokio_rt();
                rt.block_on(async {
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..CHILDREN {
                        set.spawn(tokio::time::sleep(Duration::from_secs(3600)));
                    }
                    tokio::task::yield_now().await;
                    let start = std::time::Instant::now();
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    start.elapsed()
                })
            }),
        },
    ]
}
