//! The attribute goes on an `async fn` only.

#[trioxide::main]
fn main() {}
