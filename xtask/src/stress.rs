//! `cargo xtask stress [scale]`: the stress suite (`tests/tests/stress.rs`) in release
//! mode at `TRIOXIDE_STRESS_SCALE` times the sizes `cargo xtask ci` runs (default 10:
//! 200,000 timers and tasks, 1,000,000 pipeline items, 10,000 connections).

use crate::shell::{cargo, run_cmd};

/// Entry point for `cargo xtask stress`.
pub fn run(args: &[String]) -> Result<(), String> {
    let scale = match args.first() {
        Some(s) => s
            .parse::<usize>()
            .map_err(|_| format!("scale must be a number, got {s:?}"))?,
        None => 10,
    };
    let mut cmd = cargo(&[
        "test",
        "--release",
        "-p",
        "trioxide-tests",
        "--test",
        "stress",
        "--",
        "--test-threads=1",
    ]);
    cmd.env("TRIOXIDE_STRESS_SCALE", scale.to_string());
    run_cmd(cmd)
}
