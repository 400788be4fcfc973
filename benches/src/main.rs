//! The benchmark harness: trioxide vs tokio, same process, same machine.
fn main() {}
