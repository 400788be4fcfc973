//! The I/O reactor of trioxide: the [`Driver`] trait with its epoll and io_uring
//! backends, the [`Reactor`] that turns driver events into task wake-ups, the io_uring
//! completion-based operations on owned buffers ([`uring::UringOps`]), and the
//! hierarchical timer wheel.
//!
//! The reactor knows nothing of tasks: it only wakes `std::task::Waker`s.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod driver;
pub mod epoll;
mod loom;
mod reactor;
pub mod time;
pub mod timers;
pub mod uring;
mod wake;

pub use driver::{Driver, DriverStats, Event, Interest, ready};
pub use reactor::{Direction, Reactor, ReadyEvent, Registration};

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeExample;
