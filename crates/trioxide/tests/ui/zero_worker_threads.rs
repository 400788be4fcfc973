//! `worker_threads` must be at least 1.

#[trioxide::main(flavor = "work_stealing", worker_threads = 0)]
async fn main() {}
