//! Shared helpers for trioxide's end-to-end tests (the tests live in `tests/tests/`).
//!
//! [`rt_test!`] runs one async test body on every runtime configuration trioxide
//! supports, one `#[test]` per configuration, so a new flavor or I/O backend is covered
//! by every existing test as soon as it is added here.

#![warn(missing_docs)]

use trioxide::runtime::{Flavor, Io, Runtime};

/// Every (name, flavor, io) configuration the tests run on (as `rt_test!` expands them).
pub const CONFIGS: &[(&str, Flavor, Io)] = &[
    ("current_thread_epoll", Flavor::CurrentThread, Io::Epoll),
    ("work_stealing_epoll", Flavor::WorkStealing, Io::Epoll),
    ("thread_per_core_epoll", Flavor::ThreadPerCore, Io::Epoll),
    ("current_thread_uring", Flavor::CurrentThread, Io::IoUring),
    ("work_stealing_uring", Flavor::WorkStealing, Io::IoUring),
    ("thread_per_core_uring", Flavor::ThreadPerCore, Io::IoUring),
];

/// Builds the runtime for one configuration.
pub fn runtime(flavor: Flavor, io: Io) -> Runtime {
    Runtime::builder()
        .flavor(flavor)
        .io(io)
        .build()
        .expect("test runtime builds")
}

/// The environment variable that turns an io_uring configuration's skip into a failure,
/// for machines where both backends must really run the suite.
pub const REQUIRE_IO_URING: &str = "TRIOXIDE_TEST_REQUIRE_IO_URING";

/// Reports a configuration that cannot run because io_uring is refused here: a message,
/// or a panic when [`REQUIRE_IO_URING`] is set (to anything but `0` or empty). For tests
/// that build their own runtime.
pub fn io_uring_unavailable(reason: &str) {
    let required = std::env::var_os(REQUIRE_IO_URING).is_some_and(|v| v != "0" && !v.is_empty());
    assert!(
        !required,
        "io_uring unavailable here ({reason}), and {REQUIRE_IO_URING} forbids skipping"
    );
    eprintln!("skipping: io_uring unavailable here ({reason})");
}

/// Builds the runtime for one configuration, or `None` (with a message) when the
/// configuration cannot run on this machine (io_uring refused by the kernel; a failure
/// instead when [`REQUIRE_IO_URING`] is set).
pub fn try_runtime(flavor: Flavor, io: Io) -> Option<Runtime> {
    match Runtime::builder().flavor(flavor).io(io).build() {
        Ok(rt) => Some(rt),
        Err(trioxide::runtime::BuildError::IoUringUnavailable { reason }) => {
            io_uring_unavailable(&reason);
            None
        }
        Err(err) => panic!("test runtime does not build: {err}"),
    }
}

/// Defines `mod $name` with one `#[test]` per configuration, each running `$body` inside
/// `block_on`.
#[macro_export]
macro_rules! rt_test {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::rt_test!(@one $(#[$meta])* current_thread_epoll, CurrentThread, Epoll, $body);
            $crate::rt_test!(@one $(#[$meta])* work_stealing_epoll, WorkStealing, Epoll, $body);
            $crate::rt_test!(@one $(#[$meta])* thread_per_core_epoll, ThreadPerCore, Epoll, $body);
            $crate::rt_test!(@one $(#[$meta])* current_thread_uring, CurrentThread, IoUring, $body);
            $crate::rt_test!(@one $(#[$meta])* work_stealing_uring, WorkStealing, IoUring, $body);
            $crate::rt_test!(@one $(#[$meta])* thread_per_core_uring, ThreadPerCore, IoUring, $body);
        }
    };
    (@one $(#[$meta:meta])* $test:ident, $flavor:ident, $io:ident, $body:block) => {
        $(#[$meta])*
        #[test]
        fn $test() {
            let Some(rt) = $crate::try_runtime(
                ::trioxide::runtime::Flavor::$flavor,
                ::trioxide::runtime::Io::$io,
            ) else {
                return;
            };
            rt.block_on(async $body)
        }
    };
}

/// A `CurrentThread` runtime on `io` with its clock paused (virtual time), or `None` (with
/// a message) when io_uring is refused here.
pub fn try_paused_runtime(io: Io) -> Option<Runtime> {
    match Runtime::builder()
        .flavor(Flavor::CurrentThread)
        .io(io)
        .start_paused(true)
        .build()
    {
        Ok(rt) => Some(rt),
        Err(trioxide::runtime::BuildError::IoUringUnavailable { reason }) => {
            io_uring_unavailable(&reason);
            None
        }
        Err(err) => panic!("paused test runtime does not build: {err}"),
    }
}

/// Like [`rt_test!`] for virtual time: one `#[test]` per I/O backend, each on a
/// `CurrentThread` runtime built with `start_paused(true)` (the only flavor that supports
/// it).
#[macro_export]
macro_rules! paused_test {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::paused_test!(@one $(#[$meta])* epoll, Epoll, $body);
            $crate::paused_test!(@one $(#[$meta])* uring, IoUring, $body);
        }
    };
    (@one $(#[$meta:meta])* $test:ident, $io:ident, $body:block) => {
        $(#[$meta])*
        #[test]
        fn $test() {
            let Some(rt) = $crate::try_paused_runtime(::trioxide::runtime::Io::$io) else {
                return;
            };
            rt.block_on(async $body)
        }
    };
}
