//! Debug mode, the task dump and metrics: the seed's
//! `asyncio.run(main(), debug=True)` section, plus what asyncio's `pstree` and a
//! runtime's counters show.
//!
//! Run it with `cargo run -p trioxide --example debug_mode` (debug mode is turned on in
//! code here; `TRIOXIDE_DEBUG=1` does the same for any program).

use std::sync::Arc;
use std::time::Duration;
use trioxide::runtime::{Flavor, Runtime};
use trioxide::sync::Event;
use trioxide::task::Builder as TaskBuilder;

/// A "server" with two open "connections" that wait for the shutdown event, and a scope
/// of two parallel "workers".
async fn server(shutdown: Arc<Event>) {
    let connections: Vec<_> = (0..2)
        .map(|i| {
            let shutdown = shutdown.clone();
            TaskBuilder::new()
                .name(format!("connection-{i}"))
                .spawn(async move { shutdown.wait().await })
        })
        .collect();
    let result = trioxide::scope(|s| {
        let shutdown = shutdown.clone();
        async move {
            for _ in 0..2 {
                let shutdown = shutdown.clone();
                s.spawn_parallel(async move { shutdown.wait().await });
            }
        }
    })
    .await;
    result.expect("the workers finish cleanly");
    for c in connections {
        c.await.expect("the connection finished");
    }
}

fn main() {
    // `asyncio.run(main(), debug=True)` with `logging.basicConfig(level=DEBUG)`: debug
    // lines go to stdout here.
    let rt = Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .worker_threads(2)
        .debug(true)
        .debug_log(|line| println!("{line}"))
        .build()
        .expect("runtime builds");
    rt.block_on(async {
        // `await asyncio.sleep(1)`, shortened.
        trioxide::time::sleep(Duration::from_millis(100)).await;

        // A slow callback: blocking the thread inside async code. The watchdog names
        // it while it is stuck, and the slow-poll line follows when it returns.
        TaskBuilder::new()
            .name("blocking_sleep")
            .spawn(async { std::thread::sleep(Duration::from_millis(500)) })
            .await
            .expect("the blocking task finished");

        // The task tree, as `python -m asyncio pstree` shows it.
        let shutdown = Arc::new(Event::new());
        let server = TaskBuilder::new()
            .name("server")
            .spawn(server(shutdown.clone()));
        // Let everything start and settle (the tree shows idle tasks waiting, and the
        // blocking task, whose handle wakes before its worker has finished completing it,
        // has left the tree).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let dump = loop {
            let dump = trioxide::debug::dump();
            let waiting = dump
                .tasks()
                .iter()
                .filter(|t| t.state == trioxide::debug::TaskState::Idle)
                .count();
            let settled = waiting == 5 && dump.tasks().len() == 5;
            if settled || std::time::Instant::now() > deadline {
                break dump;
            }
            trioxide::time::sleep(Duration::from_millis(1)).await;
        };
        print!("{dump}");
        shutdown.set();
        server.await.expect("the server finished");
    });
    println!("metrics: {}", rt.metrics());
}
