//! Schedulers: today the current-thread [`LocalExecutor`](local::LocalExecutor); the
//! work-stealing and thread-per-core schedulers join it here.

pub(crate) mod local;
