//! Virtual time end to end: a runtime built with `start_paused(true)` (or paused with
//! `time::pause`) jumps its clock to the next timer whenever it is idle, so long waits
//! finish at once in real time and at exact virtual instants; `advance` moves the clock by
//! hand; I/O between tasks keeps working.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use trioxide::runtime::{BuildError, Flavor, Runtime};
use trioxide::time::{self, Instant, TimeControlError, interval, sleep, timeout};
use trioxide_tests::paused_test;

const SEC: Duration = Duration::from_secs(1);

paused_test! {
    async fn an_hour_of_interval_ticks_lands_on_exact_virtual_instants() {
        let wall = std::time::Instant::now();
        let start = Instant::now();
        let mut ticker = interval(SEC);
        for i in 0..=3600u32 {
            let tick = ticker.tick().await;
            assert_eq!(tick - start, SEC * i);
            assert_eq!(Instant::now() - start, SEC * i, "tick {i} ran at its deadline");
        }
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
        assert!(wall.elapsed() < Duration::from_secs(30), "took {:?} of wall time", wall.elapsed());
    }
}

paused_test! {
    async fn the_clock_stands_still_while_tasks_run() {
        let t0 = Instant::now();
        for _ in 0..100 {
            trioxide::yield_now().await;
        }
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(Instant::now(), t0);
        assert!(time::is_paused());
    }
}

paused_test! {
    async fn timeouts_fire_at_their_exact_virtual_deadlines() {
        let t0 = Instant::now();
        let slow = timeout(Duration::from_secs(90), sleep(Duration::from_secs(3600))).await;
        assert!(slow.is_err());
        assert_eq!(Instant::now() - t0, Duration::from_secs(90));

        let t1 = Instant::now();
        let none = trioxide::move_on_after(Duration::from_secs(45), std::future::pending::<()>()).await;
        assert_eq!(none, None);
        assert_eq!(Instant::now() - t1, Duration::from_secs(45));

        let t2 = Instant::now();
        let failed = trioxide::fail_after(Duration::from_millis(1500), sleep(SEC * 10)).await;
        assert!(failed.is_err());
        assert_eq!(Instant::now() - t2, Duration::from_millis(1500));

        let t3 = Instant::now();
        let fast = timeout(SEC * 10, sleep(SEC * 2)).await;
        assert!(fast.is_ok());
        assert_eq!(Instant::now() - t3, SEC * 2, "the inner sleep won at its own deadline");
    }
}

paused_test! {
    async fn sleeping_tasks_wake_in_deadline_order_at_their_deadlines() {
        let t0 = Instant::now();
        let log = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for secs in [30u64, 10, 20, 10] {
            let log = log.clone();
            tasks.push(trioxide::spawn_local(async move {
                sleep(Duration::from_secs(secs)).await;
                log.borrow_mut().push((secs, Instant::now() - t0));
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let expect: Vec<_> = [10u64, 10, 20, 30].iter().map(|&s| (s, Duration::from_secs(s))).collect();
        assert_eq!(*log.borrow(), expect);
    }
}

paused_test! {
    async fn advance_fires_due_timers_in_order_and_lets_woken_tasks_run() {
        let t0 = Instant::now();
        let log = Rc::new(RefCell::new(Vec::new()));
        for secs in [3u64, 1, 2, 5] {
            let log = log.clone();
            trioxide::spawn_local(async move {
                sleep(Duration::from_secs(secs)).await;
                log.borrow_mut().push((secs, Instant::now() - t0));
                if secs == 1 {
                    // Armed during the advance, due before its end: fires in it too.
                    sleep(Duration::from_millis(500)).await;
                    log.borrow_mut().push((15, Instant::now() - t0));
                }
            });
        }
        trioxide::yield_now().await; // let them arm their timers
        time::advance(Duration::from_millis(2500)).await.unwrap();
        assert_eq!(Instant::now() - t0, Duration::from_millis(2500));
        assert_eq!(
            *log.borrow(),
            [(1, SEC), (15, Duration::from_millis(1500)), (2, SEC * 2)],
        );
        time::advance(SEC * 10).await.unwrap();
        assert_eq!(log.borrow().len(), 5);
        assert_eq!(log.borrow()[3], (3, SEC * 3));
        assert_eq!(log.borrow()[4], (5, SEC * 5));
        assert_eq!(Instant::now() - t0, Duration::from_millis(12_500));
    }
}

paused_test! {
    async fn sleeping_tasks_and_a_tcp_exchange_share_the_paused_runtime() {
        use trioxide::io::{AsyncReadExt, AsyncWriteExt};
        let t0 = Instant::now();
        let listener = trioxide::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = trioxide::spawn_local(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 5];
            // The client writes only after a 10 s virtual sleep: the read must wait for it,
            // not be cut off by the 60 s timeout jumping ahead.
            timeout(SEC * 60, conn.read_exact(&mut buf)).await.unwrap().unwrap();
            assert_eq!(Instant::now() - t0, SEC * 10);
            conn.write_all(&buf).await.unwrap();
            buf
        });
        let sleeper = trioxide::spawn_local(async move {
            sleep(SEC * 3600).await;
            Instant::now() - t0
        });
        let mut client = trioxide::net::TcpStream::connect(addr).await.unwrap();
        sleep(SEC * 10).await;
        client.write_all(b"hello").await.unwrap();
        let mut echo = [0u8; 5];
        timeout(SEC * 60, client.read_exact(&mut echo)).await.unwrap().unwrap();
        assert_eq!(&echo, b"hello");
        assert_eq!(Instant::now() - t0, SEC * 10, "the exchange took no virtual time");
        assert_eq!(&server.await.unwrap(), b"hello");
        assert_eq!(sleeper.await.unwrap(), SEC * 3600);
    }
}

paused_test! {
    async fn a_blocking_job_holds_back_the_jump() {
        let t0 = Instant::now();
        let job = trioxide::to_thread(|| std::thread::sleep(Duration::from_millis(50)));
        let raced = timeout(SEC * 3600, job).await;
        assert!(raced.is_ok(), "the clock jumped past a running to_thread job");
        assert_eq!(Instant::now(), t0);
    }
}

#[test]
fn pause_resume_and_advance_on_a_real_clock_runtime() {
    let rt = Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(!time::is_paused());
        assert!(matches!(
            time::advance(SEC).await,
            Err(TimeControlError::NotPaused(_))
        ));
        assert!(matches!(
            time::resume(),
            Err(TimeControlError::NotPaused(_))
        ));
        time::pause().unwrap();
        let t0 = Instant::now();
        sleep(SEC * 600).await;
        assert_eq!(t0.elapsed(), SEC * 600);
        time::resume().unwrap();
        let wall = std::time::Instant::now();
        sleep(Duration::from_millis(20)).await;
        assert!(
            wall.elapsed() >= Duration::from_millis(20),
            "real time again"
        );
        assert!(t0.elapsed() >= SEC * 600 + Duration::from_millis(20));
    });
}

#[test]
fn paused_time_and_seeds_need_the_current_thread_flavor() {
    for flavor in [Flavor::WorkStealing, Flavor::ThreadPerCore] {
        let err = Runtime::builder()
            .flavor(flavor)
            .start_paused(true)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            BuildError::NeedsCurrentThread {
                option: "start_paused",
                ..
            }
        ));
        assert!(err.to_string().contains("Flavor::CurrentThread"), "{err}");
        let err = Runtime::builder()
            .flavor(flavor)
            .seed(1)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            BuildError::NeedsCurrentThread { option: "seed", .. }
        ));
    }
    let rt = Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(matches!(
            time::pause(),
            Err(TimeControlError::NotCurrentThread { .. })
        ));
    });
    assert!(matches!(time::pause(), Err(TimeControlError::NoRuntime(_))));
}

#[trioxide::test(start_paused = true)]
async fn the_test_attribute_starts_paused_on_the_current_thread_flavor() {
    assert_eq!(trioxide::Handle::current().flavor(), Flavor::CurrentThread);
    let wall = std::time::Instant::now();
    let t0 = Instant::now();
    sleep(SEC * 3600).await;
    assert_eq!(t0.elapsed(), SEC * 3600);
    assert!(wall.elapsed() < Duration::from_secs(30));
}
