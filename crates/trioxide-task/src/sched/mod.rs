//! Schedulers: the current-thread [`LocalExecutor`](local::LocalExecutor) and the
//! multi-threaded [`WorkStealing`](steal::WorkStealing) pool.

pub(crate) mod local;
pub(crate) mod policy;
pub(crate) mod steal;
