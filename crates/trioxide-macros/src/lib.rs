//! The `#[trioxide::main]` and `#[trioxide::test]` attributes. Use them through the
//! `trioxide` crate (its `macros` feature, on by default), which re-exports them: the code
//! they generate names `::trioxide::runtime::..` paths only.
//!
//! Both turn an `async fn` into a sync one that builds a runtime with
//! `trioxide::runtime::Runtime::builder()` and `block_on`s the body, as tokio's
//! attributes do. Options (`name = value`, comma-separated, each at most once):
//!
//! | option           | values                                                    | builder call          |
//! |------------------|-----------------------------------------------------------|-----------------------|
//! | `flavor`         | `"current_thread"`, `"work_stealing"`, `"thread_per_core"` | `.flavor(Flavor::..)` |
//! | `worker_threads` | an integer literal, at least 1; not with `"current_thread"` | `.worker_threads(n)`  |
//! | `io`             | `"auto"`, `"io_uring"`, `"epoll"`                          | `.io(Io::..)`         |
//! | `start_paused`   | `true`, `false` (virtual time; current-thread only)        | `.start_paused(b)`    |
//! | `seed`           | a `u64` literal (seeded scheduling; current-thread only)   | `.seed(n)`            |
//!
//! `start_paused = true` and `seed` select `.flavor(Flavor::CurrentThread)` when no
//! `flavor` is given; with another flavor they are a compile error.
//!
//! An option left out keeps the builder's default. Mistakes are compile errors that point
//! at the option. If the runtime cannot be built (for example a flavor this version of
//! trioxide does not provide yet), the generated function panics with
//! `trioxide::main: could not build the runtime: {error}` (`trioxide::test: ..` for
//! tests).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod expand;
mod options;

use expand::Kind;
use proc_macro::TokenStream;

/// Runs an `async fn main` on a trioxide runtime.
///
/// ```ignore
/// #[trioxide::main(flavor = "current_thread", io = "epoll")]
/// async fn main() -> std::io::Result<()> {
///     trioxide::time::sleep(std::time::Duration::from_millis(1)).await;
///     Ok(())
/// }
/// ```
///
/// expands to (roughly)
///
/// ```ignore
/// fn main() -> std::io::Result<()> {
///     async fn body() -> std::io::Result<()> {
///         trioxide::time::sleep(std::time::Duration::from_millis(1)).await;
///         Ok(())
///     }
///     let runtime = match trioxide::runtime::Runtime::builder()
///         .flavor(trioxide::runtime::Flavor::CurrentThread)
///         .io(trioxide::runtime::Io::Epoll)
///         .build()
///     {
///         Ok(runtime) => runtime,
///         Err(error) => panic!("trioxide::main: could not build the runtime: {}", error),
///     };
///     runtime.block_on(body())
/// }
/// ```
///
/// The function must be `async`, take no arguments and not be generic; it may return
/// anything `main` may (`()`, `Result<(), E>`, ..). See the crate docs for the options.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh trioxide runtime: the function becomes a `#[test]`
/// that builds the runtime and `block_on`s the body. Other attributes (`#[should_panic]`,
/// `#[ignore]`, docs) stay on the generated function; do not add `#[test]` yourself.
///
/// ```ignore
/// #[trioxide::test(io = "epoll")]
/// async fn sleeps() {
///     trioxide::time::sleep(std::time::Duration::from_millis(1)).await;
/// }
/// ```
///
/// Takes the same options as [`macro@main`].
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Test, args.into(), item.into()).into()
}
