//! Values of the wrong type: a bare word for `io`, a string for `worker_threads`.

#[trioxide::main(io = epoll, worker_threads = "2", flavor = "work_stealing")]
async fn main() {}
