//! Structured concurrency for trioxide: scopes (Trio's nurseries, asyncio's `TaskGroup`)
//! whose children may borrow from the caller's frame, with error groups and cancellation
//! that no child outlives.
//!
//! ```
//! use trioxide_scope::scope_with;
//! use trioxide_task::LocalExecutor;
//!
//! let names = vec!["A".to_string(), "B".to_string()];
//! let ex = LocalExecutor::new();
//! let total = ex.block_on(scope_with(None, |s| {
//!     let names = &names; // children borrow from the caller's stack
//!     async move {
//!         let a = s.spawn(async move { names[0].len() });
//!         let b = s.spawn(async move { names[1].len() });
//!         a.await.unwrap() + b.await.unwrap()
//!     }
//! }));
//! assert_eq!(total.unwrap(), 2);
//! ```
//!
//! The facade's `trioxide::scope` passes the runtime's spawner, which also enables
//! `Scope::spawn_parallel`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod error;
mod handle;
mod local;
mod loom;
mod parallel;
mod ready;
mod scope;

pub use error::{BoxError, ChildError, ChildPanic, Failure, ScopeError};
pub use handle::ScopeHandle;
pub use local::{LocalScope, LocalScopeFuture, LocalScopeHandle, scope_local};
pub use scope::{Scope, ScopeFuture, Spawn, SpawnerSource, scope_with, try_scope_with};

/// asyncio's name for a scope's handle: `async with TaskGroup() as tg`.
pub type TaskGroup<'env> = Scope<'env>;

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeExample;
