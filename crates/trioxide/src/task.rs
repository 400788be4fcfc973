//! Named tasks: [`Builder`] (tokio's `task::Builder`, asyncio's `create_task(name=..)`).
//!
//! A name is recorded only in debug mode, where it shows in slow-poll warnings, unread
//! panic reports and the shutdown listing; with debug mode off, `Builder::spawn` is
//! `trioxide::spawn`.

use crate::runtime::{self, Handle};
use std::borrow::Cow;
use std::future::Future;
use std::panic::Location;
use trioxide_task::JoinHandle;

/// Spawns a task with a name.
///
/// ```
/// trioxide::run(async {
///     let task = trioxide::task::Builder::new().name("fetch").spawn(async { 7 });
///     assert_eq!(task.await.unwrap(), 7);
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    name: Option<Cow<'static, str>>,
}

impl Builder {
    /// A builder for an unnamed task.
    pub fn new() -> Self {
        Builder { name: None }
    }

    /// Names the task (a `&'static str` costs no allocation).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Spawns `future` on the current runtime, like [`crate::spawn`].
    ///
    /// # Panics
    /// Outside a runtime, like [`crate::spawn`].
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        let at = Location::caller();
        runtime::with_current("trioxide::task::Builder::spawn", |handle| {
            handle.spawn_named(self.name, at, future)
        })
    }

    /// Spawns `future` on `handle`'s runtime, like [`Handle::spawn`].
    #[track_caller]
    pub fn spawn_on<F>(self, future: F, handle: &Handle) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        handle.spawn_named(self.name, Location::caller(), future)
    }

    /// Spawns a `!Send` future on this thread, like [`crate::spawn_local`].
    ///
    /// # Panics
    /// Where [`crate::spawn_local`] panics.
    #[track_caller]
    pub fn spawn_local<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
    {
        crate::spawn_local_named(self.name, Location::caller(), future)
    }
}
