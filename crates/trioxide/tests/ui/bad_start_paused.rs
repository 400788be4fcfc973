//! Wrong virtual-time and seed options: a string for `start_paused`, a negative `seed`, and
//! `start_paused` on a multi-threaded flavor.

#[trioxide::test(start_paused = "yes", seed = -1)]
async fn wrong_values() {}

#[trioxide::test(flavor = "work_stealing", start_paused = true)]
async fn wrong_flavor() {}

fn main() {}
