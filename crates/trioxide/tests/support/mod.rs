//! Helpers shared by the facade's integration tests: `both_flavors!` runs one async test
//! body on a fresh CurrentThread and a fresh WorkStealing runtime.

use std::future::Future;
use trioxide::runtime::Flavor;

/// Runs the async body on a fresh runtime of each flavor.
#[macro_export]
macro_rules! both_flavors {
    ($(async fn $name:ident() $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body() $body
            #[test]
            fn current_thread() {
                $crate::support::run_on(::trioxide::runtime::Flavor::CurrentThread, body());
            }
            #[test]
            fn work_stealing() {
                $crate::support::run_on(::trioxide::runtime::Flavor::WorkStealing, body());
            }
        }
    )*};
}

/// Runs `future` on a new runtime of `flavor`.
pub fn run_on<F: Future>(flavor: Flavor, future: F) -> F::Output {
    trioxide::Runtime::builder()
        .flavor(flavor)
        .build()
        .expect("runtime builds")
        .block_on(future)
}
