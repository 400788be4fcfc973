//! Shared helpers for trioxide's end-to-end tests (the tests live in `tests/tests/`).
//!
//! [`rt_test!`] runs one async test body on every runtime configuration trioxide
//! supports, one `#[test]` per configuration, so a new flavor or I/O backend is covered
//! by every existing test as soon as it is added here.

use trioxide::runtime::{Flavor, Io, Runtime};

/// Every (name, flavor, io) configuration the tests run on.
pub const CONFIGS: &[(&str, Flavor, Io)] =
    &[("current_thread_epoll", Flavor::CurrentThread, Io::Epoll)];

/// Builds the runtime for one configuration.
pub fn runtime(flavor: Flavor, io: Io) -> Runtime {
    Runtime::builder()
        .flavor(flavor)
        .io(io)
        .build()
        .expect("test runtime builds")
}

/// Defines `mod $name` with one `#[test]` per configuration, each running `$body` inside
/// `block_on`.
#[macro_export]
macro_rules! rt_test {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(#[$meta])*
            #[test]
            fn current_thread_epoll() {
                let rt = $crate::runtime(
                    ::trioxide::runtime::Flavor::CurrentThread,
                    ::trioxide::runtime::Io::Epoll,
                );
                rt.block_on(async $body)
            }
            $(#[$meta])*
            #[test]
            fn work_stealing_epoll() {
                let rt = $crate::runtime(
                    ::trioxide::runtime::Flavor::WorkStealing,
                    ::trioxide::runtime::Io::Epoll,
                );
                rt.block_on(async $body)
            }
            $(#[$meta])*
            #[test]
            fn thread_per_core_epoll() {
                let rt = $crate::runtime(
                    ::trioxide::runtime::Flavor::ThreadPerCore,
                    ::trioxide::runtime::Io::Epoll,
                );
                rt.block_on(async $body)
            }
        }
    };
}
