//! Executor-neutral async synchronization: channels, asyncio-style queues and locks.
//!
//! `trioxide-sync` depends on no other trioxide crate — only on `std::task::Waker` — so
//! its primitives work under trioxide, under tokio, and from plain threads.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod loom;
