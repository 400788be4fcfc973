//! `worker_threads` needs a multi-threaded flavor.

#[trioxide::main(flavor = "current_thread", worker_threads = 4)]
async fn main() {}
