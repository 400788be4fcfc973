//! `cargo xtask miri`: the task core's unit tests under Miri (needs the nightly toolchain
//! with the miri component: `rustup +nightly component add miri`).

use crate::shell::{cargo, run_cmd};

/// Entry point for `cargo xtask miri`.
pub fn run(_args: &[String]) -> Result<(), String> {
    let mut setup = cargo(&["+nightly", "miri", "setup"]);
    setup.env_remove("RUSTUP_TOOLCHAIN");
    run_cmd(setup)?;
    let mut cmd = cargo(&["+nightly", "miri", "test", "-p", "trioxide-task", "--lib"]);
    cmd.env_remove("RUSTUP_TOOLCHAIN")
        .env("MIRIFLAGS", "-Zmiri-strict-provenance")
        .env(
            "CARGO_TARGET_DIR",
            crate::shell::project_root().join("target/miri"),
        );
    run_cmd(cmd)
}
