//! `cargo xtask bench`: runs the `benches` harness (trioxide vs tokio in one process) in
//! release mode; the harness prints a markdown table and writes `docs/BENCHMARKS.md`.

use crate::shell::{cargo, run_cmd};

/// Entry point for `cargo xtask bench`; extra arguments filter benchmarks by name.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut cmd = cargo(&["run", "--release", "-p", "trioxide-benches", "--"]);
    cmd.args(args);
    run_cmd(cmd)
}
