//! A tour of trioxide through the seed article's Python programs, translated one by one.
//! Run it with `cargo run --release --example tour`.
//!
//! The sleeps are a tenth of the article's (0.1 s for its 1 s) so the tour ends in a few
//! seconds; everything else prints what the Python prints. Sections whose features are
//! still being built say so and are skipped.

use std::time::Duration;
use trioxide::runtime::{Flavor, Runtime};
use trioxide::sync::Queue;
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
    let results = trioxide::join_all(tasks).await;
    for result in results {
        println!("{}", result.expect("fetch_data does not fail"));
    }
    println!(
        "(three {:?} fetches took {:?} together: they ran concurrently)",
        2 * SECOND,
        started.elapsed()
    );
}

// 3. Structured concurrency: a TaskGroup (trioxide's scope) of three process_item tasks,
// whose results are read after the group — every task has finished by then.
async fn process_item(item: &str) -> String {
    sleep(SECOND).await;
    format!("Processed {item}")
}

async fn task_group() {
    let (mut task1, mut task2, mut task3) = (None, None, None);
    trioxide::scope(|tg| {
        let (t1, t2, t3) = (&mut task1, &mut task2, &mut task3); // borrowed, not 'static
        async move {
            *t1 = Some(tg.create_task(process_item("A")));
            *t2 = Some(tg.create_task(process_item("B")));
            *t3 = Some(tg.create_task(process_item("C")));
        }
    })
    .await
    .expect("no task failed");
    for task in [task1, task2, task3] {
        println!("{}", task.expect("created").result().expect("finished"));
    }
}

// 4. A "Hello, {name}!" web server (aiohttp in the seed): the full server is the
// `hello_server` example; here it answers two requests and stops.
async fn hello_server() {
    use trioxide::io::{AsyncReadExt, AsyncWriteExt};
    use trioxide::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("bound");
    println!("Server started at http://localhost:{}", addr.port());
    let server = trioxide::spawn(async move {
        for _ in 0..2 {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            let mut chunk = [0u8; 512];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut chunk).await.expect("read");
                request.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&request).to_string();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
            let name = path.trim_start_matches('/');
            let text = format!(
                "Hello, {}!",
                if name.is_empty() { "Anonymous" } else { name }
            );
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
            conn.write_all(response.as_bytes()).await.expect("write");
        }
    });
    for path in ["/", "/Alice"] {
        let mut client = TcpStream::connect(addr).await.expect("connect");
        let request =
            format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
        client.write_all(request.as_bytes()).await.expect("send");
        let mut response = String::new();
        client.read_to_string(&mut response).await.expect("receive");
        println!(
            "GET {path} -> {}",
            response.rsplit("\r\n\r\n").next().unwrap_or("")
        );
    }
    server.await.expect("server finished");
}

// 5. Cancellation: a long-running task cancelled after 5 "seconds". Python's
// `except asyncio.CancelledError:` block becomes an `on_cancel` guard: its async cleanup
// runs (it may await) when the task is cancelled, and the task's handle reports the
// cancellation only after the cleanup finished.
async fn long_running_task() {
    let _cleanup = trioxide::on_cancel(async {
        sleep(SECOND / 10).await; // cleanup may await, like `await cleanup()`
        println!("Task was cancelled");
    });
    loop {
        println!("Working...");
        sleep(SECOND).await;
    }
}

async fn cancellation() {
    let task = trioxide::spawn(long_running_task());
    sleep(5 * SECOND + SECOND / 2).await;
    task.cancel();
    match task.await {
        Err(err) if err.is_cancelled() => println!("Main: task was cancelled"),
        other => println!("Main: unexpected {other:?}"),
    }
}

// 7. to_thread: a blocking call runs on the blocking pool while the loop keeps going.
fn cpu_bound_task() -> &'static str {
    std::thread::sleep(5 * SECOND); // Simulating a CPU-bound task
    "Task completed"
}

async fn blocking_call() {
    let ticker = trioxide::spawn(async {
        let mut ticks = 0;
        while ticks < 3 {
            sleep(SECOND).await;
            ticks += 1;
            println!("(the event loop is still responsive: tick {ticks})");
        }
    });
    let result = trioxide::to_thread(cpu_bound_task).await.expect("no panic");
    println!("{result}");
    ticker.await.expect("ticker finished");
}

// 8. wait(FIRST_COMPLETED) over ten tasks, then cancel the pending ones.
async fn task(n: u64) -> u64 {
    sleep(SECOND / 10 * n as u32).await;
    n
}

async fn wait_first_completed() {
    let tasks: Vec<_> = (0..10).map(|i| trioxide::spawn(task(i))).collect();
    let (done, pending) = trioxide::wait(tasks, trioxide::Wait::FirstCompleted, None).await;
    for t in &done {
        println!(
            "Task completed with result: {}",
            t.result().expect("no failure")
        );
    }
    for t in &pending {
        t.cancel();
    }
    println!("({} task(s) pending were cancelled)", pending.len());
}

// 9. Debug mode: `asyncio.run(main(), debug=True)` with `logging.basicConfig(level=DEBUG)`.
// The runtime is built with `.debug(true)` and a log sink that prints to stdout; a task
// that blocks its thread inside async code (the mistake debug mode exists to catch) gets
// a slow-poll line with its name and where it was spawned.
fn debug_mode() {
    let rt = Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .debug(true)
        .debug_log(|line| println!("{line}"))
        .build()
        .expect("runtime builds");
    rt.block_on(async {
        let blocking = trioxide::task::Builder::new()
            .name("blocking_sleep")
            .spawn(async {
                // `time.sleep(0.15)` inside a coroutine: blocks the event loop.
                std::thread::sleep(Duration::from_millis(150));
            });
        blocking.await.expect("the blocking task finished");
    });
}

// 10. A pipeline: producer -> processor -> consumer over queues. `Queue::shutdown`
// replaces the `None` sentinel: getters drain what is left, then see `QueueShutDown`.
async fn producer(queue: Queue<u64>, data: std::ops::Range<u64>) {
    for item in data {
        queue.put(item).await.expect("queue open");
        sleep(SECOND / 10).await; // Simulate some processing time
    }
    queue.shutdown(false); // Signal end of data
}

async fn processor(input: Queue<u64>, output: Queue<u64>) {
    while let Ok(item) = input.get().await {
        let result = item * 2; // Some processing
        output.put(result).await.expect("queue open");
    }
    output.shutdown(false);
}

async fn consumer(queue: Queue<u64>) {
    while let Ok(item) = queue.get().await {
        println!("Consumed: {item}");
    }
}

async fn pipeline() {
    let (queue1, queue2) = (Queue::new(0), Queue::new(0));
    let prod = trioxide::spawn(producer(queue1.clone(), 0..10));
    let proc = trioxide::spawn(processor(queue1, queue2.clone()));
    let cons = trioxide::spawn(consumer(queue2));
    // asyncio.gather(prod, proc, cons)
    for task in [prod, proc, cons] {
        task.await.expect("pipeline stage finished");
    }
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
    // asyncio's event loop runs on one thread, which fixes the order of the prints; the
    // sections that mirror it line by line use trioxide's current-thread flavor so the
    // output matches the Python's exactly. The rest run on the default (work stealing).
    let asyncio_like = Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .build()
        .expect("runtime builds");
    asyncio_like.block_on(async {
        section(1, "Coroutines: greet");
        greet("Alice").await;
        greet("Bob").await;

        section(2, "Tasks and gather: fetch_data x3");
        tasks_and_gather().await;

        section(3, "A TaskGroup");
        task_group().await;

        section(4, "A Hello, {name}! web server");
        hello_server().await;

        section(5, "Cancellation");
        cancellation().await;
    });

    section(6, "A custom event loop");
    custom_event_loop();

    trioxide::run(async {
        section(7, "to_thread for a blocking call");
        blocking_call().await;

        section(8, "wait(FIRST_COMPLETED), then cancel the rest");
        wait_first_completed().await;
    });

    section(9, "Debug mode: a slow (blocking) poll is reported");
    debug_mode();

    trioxide::run(async {
        section(10, "A producer -> processor -> consumer pipeline");
        pipeline().await;
    });

    println!("\nTour finished in {:?}.", started.elapsed());
}
