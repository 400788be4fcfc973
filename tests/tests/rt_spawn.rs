//! Tasks end to end: many tasks, results, panics and cancellation through handles,
//! detaching, wakes from foreign threads, and the misuse messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use trioxide::JoinError;
use trioxide::runtime::{BuildError, Handle, Io, Runtime};
use trioxide_tests::rt_test;

rt_test! {
    async fn hundred_thousand_tasks_complete_exactly_once() {
        let runs = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..100_000u64)
            .map(|i| {
                let runs = runs.clone();
                trioxide::spawn(async move {
                    runs.fetch_add(1, Ordering::Relaxed);
                    trioxide::yield_now().await;
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for h in handles {
            sum += h.await.unwrap();
        }
        assert_eq!(runs.load(Ordering::Relaxed), 100_000);
        assert_eq!(sum, (0..100_000u64).sum());
    }
}

rt_test! {
    async fn results_panics_and_cancellation_come_through_handles() {
        let ok = trioxide::spawn(async { 7 });
        let panicked = trioxide::spawn(async { panic!("task failed on purpose") });
        let forever = trioxide::spawn(async {
            trioxide::time::sleep(Duration::from_secs(3600)).await;
        });
        assert_eq!(ok.await.unwrap(), 7);
        let err = panicked.await.unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        assert!(err.to_string().contains("task failed on purpose"));
        trioxide::yield_now().await;
        forever.cancel();
        assert!(matches!(forever.await, Err(JoinError::Cancelled)));
    }
}

rt_test! {
    async fn a_dropped_handle_detaches_the_task() {
        let (tx, rx) = std::sync::mpsc::channel();
        drop(trioxide::spawn(async move {
            trioxide::time::sleep(Duration::from_millis(5)).await;
            tx.send("still ran").unwrap();
        }));
        trioxide::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(rx.try_recv().unwrap(), "still ran");
    }
}

rt_test! {
    async fn a_task_woken_from_a_foreign_thread_runs() {
        let (tx, rx) = std::sync::mpsc::channel::<std::task::Waker>();
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        let task = trioxide::spawn(std::future::poll_fn(move |cx| {
            if d.load(Ordering::SeqCst) == 1 {
                return std::task::Poll::Ready("woken from afar");
            }
            tx.send(cx.waker().clone()).unwrap();
            std::task::Poll::Pending
        }));
        let thread = std::thread::spawn(move || {
            let waker = rx.recv().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            done.store(1, Ordering::SeqCst);
            waker.wake();
        });
        assert_eq!(task.await.unwrap(), "woken from afar");
        thread.join().unwrap();
    }
}

rt_test! {
    async fn spawning_through_a_handle_from_another_thread() {
        let handle = Handle::current();
        let task = std::thread::spawn(move || handle.spawn(async { "spawned remotely" }))
            .join()
            .unwrap();
        assert_eq!(task.await.unwrap(), "spawned remotely");
    }
}

rt_test! {
    async fn spawn_local_runs_futures_that_are_not_send() {
        let shared = std::rc::Rc::new(std::cell::Cell::new(1));
        let s = shared.clone();
        trioxide::spawn_local(async move { s.set(s.get() + 1) }).await.unwrap();
        assert_eq!(shared.get(), 2);
    }
}

#[test]
fn dropping_the_runtime_cancels_its_tasks() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let rt = Runtime::new().unwrap();
    let handles: Vec<_> = (0..100)
        .map(|_| {
            let flag = Flag(dropped.clone());
            rt.spawn(async move {
                let _flag = flag;
                trioxide::time::sleep(Duration::from_secs(3600)).await;
            })
        })
        .collect();
    rt.block_on(trioxide::time::sleep(Duration::from_millis(5)));
    assert_eq!(rt.live_tasks(), 100);
    drop(rt);
    assert_eq!(dropped.load(Ordering::SeqCst), 100);
    assert!(handles.iter().all(|h| h.is_finished()));
}

#[test]
#[should_panic(
    expected = "trioxide::spawn called outside a runtime; wrap the code in trioxide::run(..)"
)]
fn spawn_outside_a_runtime_says_what_to_do() {
    drop(trioxide::spawn(async {}));
}

#[test]
#[should_panic(expected = "trioxide::run called inside a runtime")]
fn run_inside_a_runtime_says_what_to_do() {
    trioxide::run(async {
        trioxide::run(async {});
    });
}

#[test]
fn try_current_is_an_error_outside_and_a_handle_inside() {
    let err = Handle::try_current().unwrap_err();
    assert!(err.to_string().contains("wrap the code in trioxide::run"));
    let backend = trioxide::run(async { Handle::try_current().unwrap().io_backend() });
    // Io::Auto: io_uring where the kernel allows it, else epoll.
    let probed = trioxide_reactor_probe_ok();
    let want = if probed {
        trioxide::runtime::IoBackend::IoUring
    } else {
        trioxide::runtime::IoBackend::Epoll
    };
    assert_eq!(backend, want);
}

#[test]
fn builder_reports_unsupported_configurations_with_typed_errors() {
    let err = Runtime::builder()
        .max_blocking_threads(0)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::ZeroBlockingThreads));
    let err = Runtime::builder().worker_threads(0).build().unwrap_err();
    assert!(matches!(err, BuildError::ZeroWorkerThreads));
    match Runtime::builder().io(Io::IoUring).build() {
        Ok(rt) => assert_eq!(rt.io_backend(), trioxide::runtime::IoBackend::IoUring),
        Err(err) => assert!(
            matches!(err, BuildError::IoUringUnavailable { .. }),
            "{err}"
        ),
    }
    let rt = Runtime::builder().io(Io::Epoll).build().unwrap();
    assert_eq!(rt.io_backend(), trioxide::runtime::IoBackend::Epoll);
    let rt = Runtime::builder().io(Io::Auto).debug(true).build().unwrap();
    assert!(rt.handle().is_debug());
}

/// `Io::Auto` gives CurrentThread epoll (its ring could not belong to one thread), while
/// `Io::IoUring` still gives it io_uring where the kernel allows it.
#[test]
fn auto_gives_current_thread_epoll_and_io_uring_stays_available_to_it() {
    let current_thread = |io| {
        Runtime::builder()
            .flavor(trioxide::runtime::Flavor::CurrentThread)
            .io(io)
            .build()
    };
    if std::env::var_os(trioxide::runtime::IO_ENV).is_none() {
        let rt = current_thread(Io::Auto).unwrap();
        assert_eq!(rt.io_backend(), trioxide::runtime::IoBackend::Epoll);
    }
    match current_thread(Io::IoUring) {
        Ok(rt) => assert_eq!(rt.io_backend(), trioxide::runtime::IoBackend::IoUring),
        Err(err) => assert!(
            matches!(err, BuildError::IoUringUnavailable { .. }),
            "{err}"
        ),
    }
}

/// Whether io_uring works here (what `Io::Auto` decides on).
fn trioxide_reactor_probe_ok() -> bool {
    Runtime::builder().io(Io::IoUring).build().is_ok()
}

#[test]
fn forcing_io_uring_where_the_probe_fails_is_a_typed_error_and_auto_falls_back() {
    // The probe reads a process-wide variable: check it in a child process.
    if std::env::var_os("TRIOXIDE_TEST_CHILD").is_some() {
        let err = Runtime::builder().io(Io::IoUring).build().unwrap_err();
        assert!(
            matches!(err, BuildError::IoUringUnavailable { .. }),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("use Io::Auto to fall back to epoll")
        );
        let rt = Runtime::builder().io(Io::Auto).build().unwrap();
        assert_eq!(rt.io_backend(), trioxide::runtime::IoBackend::Epoll);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "forcing_io_uring_where_the_probe_fails_is_a_typed_error_and_auto_falls_back",
        ])
        .env("TRIOXIDE_TEST_CHILD", "1")
        .env("TRIOXIDE_IO_URING_FORCE_UNAVAILABLE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
