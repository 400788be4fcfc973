//! The `tracing` integration compiled out (feature `tracing` off): the same calls as
//! [`tracing`](super) makes available to debug mode's hooks, doing nothing, so the hooks
//! call them without `cfg`s.

use std::panic::Location;
use trioxide_task::TaskId;

/// No spans are kept without the `tracing` feature.
pub(crate) struct TaskSpans;

impl TaskSpans {
    pub(crate) fn new() -> TaskSpans {
        TaskSpans
    }

    #[inline(always)]
    pub(crate) fn on_spawn(
        &self,
        _: TaskId,
        _: Option<&str>,
        _: Option<&'static Location<'static>>,
    ) {
    }

    #[inline(always)]
    pub(crate) fn before_poll(&self, _: TaskId) {}

    #[inline(always)]
    pub(crate) fn after_poll(&self) {}

    #[inline(always)]
    pub(crate) fn on_cancel(&self, _: TaskId) {}

    #[inline(always)]
    pub(crate) fn on_release(&self, _: TaskId) {}
}

#[inline(always)]
pub(crate) fn forward_line(_: &str) {}
