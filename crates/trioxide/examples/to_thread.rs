//! The seed's `asyncio.to_thread` program: a blocking `time.sleep` (standing in for
//! CPU-bound work) runs on the blocking pool while the event loop stays responsive —
//! here a concurrent ticker keeps ticking the whole time.
//!
//! `cargo run -p trioxide --example to_thread`
//!
//! What to look at:
//! - The runtime is the *current-thread* flavor: one async thread. Calling
//!   `std::thread::sleep` inside async code would freeze it (and every task on it); handed
//!   to [`trioxide::to_thread`], the sleep runs on a pool thread and the ticker task keeps
//!   running on the async thread.
//! - [`trioxide::to_thread`] returns an ordinary [`trioxide::JoinHandle`]; awaiting it
//!   gives the closure's return value (or a `JoinError` if it panicked).
//! - The ticker counts the ticks that happened *while* the blocking call was running;
//!   the program prints that count at the end.
//!
//! The seed's 5 s sleep is 1 s here, and the ticker ticks every 100 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;
use trioxide::runtime::{Flavor, Runtime};
use trioxide::time::interval;

/// The seed's `time.sleep(5)`, scaled down.
const BLOCKING_SLEEP: Duration = Duration::from_secs(1);
/// How often the ticker ticks.
const TICK: Duration = Duration::from_millis(100);

/// `def cpu_bound_task()`: blocks its thread, like the seed's `time.sleep(5)`.
fn cpu_bound_task() -> &'static str {
    std::thread::sleep(BLOCKING_SLEEP); // Simulating a CPU-bound task
    "Task completed"
}

fn main() {
    let rt = Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .build()
        .expect("the runtime builds");
    rt.block_on(async {
        let blocking_done = Arc::new(AtomicBool::new(false));
        let ticks_during_call = Arc::new(AtomicU32::new(0));
        let ticker = trioxide::spawn({
            let (blocking_done, ticks) = (blocking_done.clone(), ticks_during_call.clone());
            async move {
                let mut every = interval(TICK);
                every.tick().await; // the first tick is immediate
                let mut n = 0;
                while !blocking_done.load(Ordering::Acquire) {
                    every.tick().await;
                    n += 1;
                    if !blocking_done.load(Ordering::Acquire) {
                        ticks.fetch_add(1, Ordering::Relaxed);
                        println!("tick {n}: the event loop is still running");
                    }
                }
            }
        });
        // result = await asyncio.to_thread(cpu_bound_task)
        let result = trioxide::to_thread(cpu_bound_task)
            .await
            .expect("cpu_bound_task does not panic");
        blocking_done.store(true, Ordering::Release);
        println!("{result}");
        ticker.await.expect("the ticker stops by itself");
        println!(
            "The ticker ticked {} time(s) while the blocking call ran",
            ticks_during_call.load(Ordering::Relaxed)
        );
    });
}
