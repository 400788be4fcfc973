//! The seed's `asyncio.wait(tasks, return_when=FIRST_COMPLETED)` program: ten tasks that
//! sleep `n` time units and return `n`, a wait for the first to finish, then `cancel()`
//! on every task still pending.
//!
//! `cargo run -p trioxide --example wait_first`
//!
//! What to look at:
//! - [`trioxide::wait`] takes the handles by value and gives back `(done, pending)`:
//!   `done` holds [`trioxide::Finished`] results, `pending` the handles still running.
//!   Like asyncio, `wait` cancels nothing by itself; dropping a pending handle would
//!   only *detach* its task (it keeps running), so the rest are cancelled explicitly.
//! - [`trioxide::JoinHandle::cancel`] is prompt: each cancelled task's future is dropped
//!   at its next poll boundary, and awaiting the handle reports
//!   [`trioxide::JoinError::Cancelled`] — the program awaits all nine to show it.
//!
//! The seed's time unit is one second; here it is 100 ms so the program ends at once.

use std::time::Duration;
use trioxide::Wait;
use trioxide::time::sleep;

/// The seed's one second, scaled down.
const UNIT: Duration = Duration::from_millis(100);

/// `async def task(n)`: sleeps `n` units and returns `n`.
async fn task(n: u32) -> u32 {
    sleep(UNIT * n).await;
    n
}

fn main() {
    trioxide::run(async {
        // tasks = [asyncio.create_task(task(i)) for i in range(10)]
        let tasks: Vec<_> = (0..10).map(|i| trioxide::spawn(task(i))).collect();
        // done, pending = await asyncio.wait(tasks, return_when=FIRST_COMPLETED)
        let (done, pending) = trioxide::wait(tasks, Wait::FirstCompleted, None).await;
        for t in &done {
            match t.result() {
                Ok(n) => println!("Task completed with result: {n}"),
                Err(err) => println!("Task failed: {err}"),
            }
        }
        // for t in pending: t.cancel()
        for t in &pending {
            t.cancel();
        }
        // Unlike the seed, wait for the cancelled tasks, to see each one report it.
        let mut cancelled = 0;
        for t in pending {
            match t.await {
                Err(err) if err.is_cancelled() => cancelled += 1,
                Ok(n) => println!("Task finished before its cancel arrived: {n}"),
                Err(err) => println!("Task failed: {err}"),
            }
        }
        println!("Cancelled {cancelled} pending task(s)");
    });
}
