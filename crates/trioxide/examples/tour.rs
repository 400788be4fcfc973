//! A tour of trioxide through the seed article's Python programs, translated one by one.
//! Run it with `cargo run --release --example tour`.
//!
//! The sleeps are a tenth of the article's (0.1 s for its 1 s) so the tour ends in a few
//! seconds; everything else prints what the Python prints. Sections whose features are
//! still being built say so and are skipped.

use std::time::Duration;
use trioxide::time::{Instant, sleep};

/// The article's one second, scaled down.
const SECOND: Duration = Duration::from_millis(100);

fn section(n: u32, title: &str) {
    println!("\n== {n}. {title} ==");
}

// 1. Coroutines: `async def greet(name)`.
async fn greet(name: &str) {
    println!("Hello, {name}!");
    sleep(SECOND).await;
    println!("Goodbye, {name}!");
}

// 2. Tasks and gather: `fetch_data(url)` three times, concurrently.
async fn fetch_data(url: &'static str) -> String {
    println!("Fetching data from {url}");
    sleep(2 * SECOND).await; // Simulating network delay
    format!("Data from {url}")
}

async fn tasks_and_gather() {
    let urls = [
        "http://example.com",
        "http://example.org",
        "http://example.net",
    ];
    let started = Instant::now();
    // asyncio.create_task for each url ...
    let tasks: Vec<_> = urls
        .iter()
        .map(|url| trioxide::spawn(fetch_data(url)))
        .collect();
    // ... and asyncio.gather(*tasks): results in the order of the tasks.
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("fetch_data does not fail"));
    }
    for result in &results {
        println!("{result}");
    }
    println!(
        "(three {:?} fetches took {:?} together: they ran concurrently)",
        2 * SECOND,
        started.elapsed()
    );
}

// 6. A custom event loop: a LocalExecutor driven by hand.
fn custom_event_loop() {
    use std::cell::RefCell;
    use std::rc::Rc;
    use trioxide::LocalExecutor;

    // `loop = MyEventLoop()`: our loop is a LocalExecutor plus our own bookkeeping.
    let event_loop = LocalExecutor::new();
    let log = Rc::new(RefCell::new(Vec::new())); // not Send: LocalExecutor is fine with it

    async fn my_coroutine(log: Rc<RefCell<Vec<&'static str>>>) {
        println!("Hello from my coroutine!");
        log.borrow_mut().push("my_coroutine ran");
    }

    // `loop.call_soon(my_coroutine)`
    let task = event_loop.spawn_local(my_coroutine(log.clone()));
    // `loop.run_forever()`, written out: poll one ready task per turn, and stop when
    // nothing is ready — with monitoring between turns, which is the point of owning
    // the loop.
    let mut turns = 0;
    while event_loop.tick() {
        turns += 1;
        println!(
            "(loop turn {turns}: {} task(s) alive)",
            event_loop.live_tasks()
        );
    }
    assert!(task.is_finished());
    println!(
        "(loop stopped after {turns} turn(s); log: {:?})",
        log.borrow()
    );
}

fn main() {
    let started = Instant::now();
    trioxide::run(async {
        section(1, "Coroutines: greet");
        greet("Alice").await;
        greet("Bob").await;

        section(2, "Tasks and gather: fetch_data x3");
        tasks_and_gather().await;
    });

    section(6, "A custom event loop");
    custom_event_loop();

    println!("\nTour finished in {:?}.", started.elapsed());
}
