//! Adapters that let libraries written against other runtimes' traits run on trioxide.
//!
//! Each adapter sits behind a feature flag (all off by default):
//! - `hyper`: hyper 1.x's `rt::{Read, Write}` on `TcpStream` and `UnixStream` directly,
//!   [`CompletionIo`] for a `TcpStream` on io_uring's completion-based receive and send,
//!   [`HyperIo`] for other futures-io streams, [`TrioxideExecutor`] and
//!   [`TrioxideTimer`] (`rt::{Executor, Timer}`), so hyper's clients and servers (HTTP/1
//!   and HTTP/2) run on trioxide with no tokio runtime in the process;
//! - `tokio-io`: tokio's `AsyncRead` / `AsyncWrite` on `TcpStream` and `UnixStream`
//!   themselves, and [`TokioIo`] for any other futures-io stream (only tokio's traits
//!   are used; no tokio runtime is started);
//! - `tracing`: a `tracing` span per spawned task and events for slow polls and
//!   cancellations, as part of debug mode (see the `tracing` module).
//!
//! The wrappers are generic over the executor-neutral futures-io traits, which every
//! trioxide stream ([`TcpStream`](crate::net::TcpStream),
//! [`UnixStream`](crate::net::UnixStream), `&TcpStream`, ...) implements.

#[cfg(feature = "hyper")]
mod hyper;
#[cfg(feature = "hyper")]
mod hyper_completion;
#[cfg(any(feature = "hyper", feature = "tokio-io"))]
mod read_chunk;
#[cfg(feature = "tokio-io")]
mod tokio_io;
#[cfg(feature = "tracing")]
pub mod tracing;
#[cfg(not(feature = "tracing"))]
#[path = "tracing_off.rs"]
pub(crate) mod tracing;

#[cfg(feature = "hyper")]
pub use self::hyper::{HyperIo, TrioxideExecutor, TrioxideSleep, TrioxideTimer};
#[cfg(feature = "hyper")]
pub use self::hyper_completion::CompletionIo;
#[cfg(feature = "tokio-io")]
pub use self::tokio_io::TokioIo;
