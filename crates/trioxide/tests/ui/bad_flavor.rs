//! A flavor value that is not one of the choices.

#[trioxide::main(flavor = "multi_thread")]
async fn main() {}
