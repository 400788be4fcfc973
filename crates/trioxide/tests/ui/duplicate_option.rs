//! Each option may be given once.

#[trioxide::test(io = "epoll", io = "io_uring")]
async fn twice() {}

fn main() {}
