//! `cargo xtask loom`: runs the loom model checks (`tests/loom_*.rs` of the task core) over
//! the real code, compiled with `--cfg trioxide_loom`.

use crate::shell::{cargo, run_cmd};

/// Runs the loom tests with `LOOM_MAX_PREEMPTIONS=bound`.
pub fn run_with_bound(bound: u32) -> Result<(), String> {
    let mut cmd = cargo(&[
        "test",
        "--release",
        "-p",
        "trioxide-task",
        "--test",
        "loom_state",
    ]);
    cmd.env("RUSTFLAGS", "--cfg trioxide_loom -C debug-assertions")
        .env(
            "CARGO_TARGET_DIR",
            crate::shell::project_root().join("target/loom"),
        )
        .env("LOOM_MAX_PREEMPTIONS", bound.to_string());
    run_cmd(cmd)
}

/// Entry point for `cargo xtask loom`.
pub fn run(_args: &[String]) -> Result<(), String> {
    run_with_bound(3)
}
