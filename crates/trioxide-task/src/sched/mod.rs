//! Schedulers: the current-thread [`LocalExecutor`](local::LocalExecutor) and the
//! multi-threaded [`WorkStealing`](steal::WorkStealing) pool, and their counters
//! (`metrics`); `any`: a borrowed spawner of either, with a generic `spawn`.

pub(crate) mod any;

pub(crate) mod local;
pub(crate) mod metrics;
pub(crate) mod policy;
pub(crate) mod steal;
