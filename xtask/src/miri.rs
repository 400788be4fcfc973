//! `cargo xtask miri`: the task core and the channels under Miri (nightly with the miri
//! component). `cargo xtask ci` runs the same bounded set when Miri is installed, and says
//! it skipped it otherwise (toolchains cannot always be fetched on CI machines).

use crate::shell::{project_root, run_cmd};
use std::process::{Command, Stdio};

/// `cargo +nightly ...` through the rustup proxy (the `CARGO` xtask runs under is the
/// pinned stable binary, which does not understand `+nightly`), building into
/// `target/<target_subdir>`.
pub fn nightly_cargo(args: &[&str], target_subdir: &str) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly").args(args).current_dir(project_root());
    for var in [
        "RUSTUP_TOOLCHAIN",
        "CARGO",
        "RUSTC",
        "RUSTDOC",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env(
        "CARGO_TARGET_DIR",
        project_root().join("target").join(target_subdir),
    );
    cmd
}

/// Whether `cargo +nightly miri` is available and its sysroot can be set up (a machine
/// with Miri but without `rust-src` cannot run it: that is a skip, not a failure).
pub fn available() -> bool {
    let quiet = |args: &[&str]| {
        nightly_cargo(args, "miri")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    quiet(&["miri", "--version"]) && quiet(&["miri", "setup"])
}

/// The bounded Miri set: the task core's unit tests and executor tests, the channels'
/// unit tests, and the scope crate's executor-level tests (the property tests and the 100,000-task test are too slow under
/// Miri and stay with the normal suite).
pub fn run_bounded() -> Result<(), String> {
    let targets: &[&[&str]] = &[
        &[
            "-p",
            "trioxide-task",
            "--lib",
            "--",
            "--skip",
            "behaves_like_a_deque",
        ],
        &[
            "-p",
            "trioxide-task",
            "--test",
            "executor",
            "--",
            "--skip",
            "hundred_thousand",
        ],
        &["-p", "trioxide-task", "--test", "join_waker"],
        &["-p", "trioxide-sync", "--lib"],
        &["-p", "trioxide-scope", "--test", "scope_core"],
    ];
    for target in targets {
        let mut args = vec!["miri", "test"];
        args.extend_from_slice(target);
        let mut cmd = nightly_cargo(&args, "miri");
        cmd.env(
            "MIRIFLAGS",
            "-Zmiri-strict-provenance -Zmiri-disable-isolation",
        );
        run_cmd(cmd)?;
    }
    Ok(())
}

/// Entry point for `cargo xtask miri`.
pub fn run(_args: &[String]) -> Result<(), String> {
    if !available() {
        return Err("Miri is not installed: rustup component add --toolchain nightly miri".into());
    }
    run_bounded()
}
