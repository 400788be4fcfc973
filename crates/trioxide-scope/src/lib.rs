//! Structured concurrency for trioxide: scopes (Trio's nurseries, asyncio's `TaskGroup`),
//! cancel scopes and deadlines.
//!
//! This crate is filled in by the structured-concurrency work; today it only fixes its
//! place in the layering (it builds on `trioxide-task`, never on the facade).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod loom;
