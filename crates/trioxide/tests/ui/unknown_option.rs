//! An option name the macro does not know.

#[trioxide::main(flavour = "current_thread")]
async fn main() {}
