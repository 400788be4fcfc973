//! The probe and its test-only failure hook: with `TRIOXIDE_IO_URING_FORCE_UNAVAILABLE=1`
//! the probe fails with a reason and `Reactor::io_uring` fails with `Unsupported`. The
//! variable is process-wide, so the forced case runs in a child process (this test binary
//! re-run with the variable set and a filter selecting only the child test).

use std::process::Command;
use trioxide_reactor::Reactor;
use trioxide_reactor::uring::{FORCE_UNAVAILABLE_ENV, probe};

#[test]
fn forced_unavailable_probe_fails_with_a_reason() {
    if std::env::var_os(FORCE_UNAVAILABLE_ENV).is_some() {
        return; // the child case below handles this environment
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .env(FORCE_UNAVAILABLE_ENV, "1")
        .args(["--exact", "child_forced_unavailable", "--nocapture"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    assert!(stdout.contains("1 passed"), "the child test ran: {stdout}");
}

#[test]
fn child_forced_unavailable() {
    if std::env::var_os(FORCE_UNAVAILABLE_ENV).is_none() {
        return; // only meaningful in the child process
    }
    let err = probe().unwrap_err();
    assert!(err.reason.contains(FORCE_UNAVAILABLE_ENV), "{err}");
    let io_err = Reactor::io_uring().unwrap_err();
    assert_eq!(io_err.kind(), std::io::ErrorKind::Unsupported);
    assert!(io_err.to_string().contains("io_uring is unavailable"));
    // epoll stays available as the fallback.
    assert_eq!(Reactor::epoll().unwrap().backend_name(), "epoll");
}

#[test]
fn zero_or_empty_does_not_force() {
    // Only the parent process: checks the probe's verdict matches reality.
    if std::env::var_os(FORCE_UNAVAILABLE_ENV).is_some() {
        return;
    }
    match probe() {
        Ok(()) => assert!(Reactor::io_uring().is_ok()),
        Err(e) => eprintln!("skipping: io_uring unavailable here: {e}"),
    }
}
