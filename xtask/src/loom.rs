//! `cargo xtask loom`: runs the loom model checks over the real code, compiled with
//! `--cfg trioxide_loom`: the task core's `tests/loom_*.rs` and the `loom_*` unit tests
//! (the work-stealing queue and the io_uring op slab, whose internals are crate-private).

use crate::shell::{cargo, project_root, run_cmd};

/// Every loom target: (package, cargo test selector arguments).
const TARGETS: &[(&str, &[&str])] = &[
    ("trioxide-task", &["--test", "loom_state"]),
    ("trioxide-task", &["--test", "loom_blocking"]),
    ("trioxide-task", &["--test", "loom_steal"]),
    ("trioxide-task", &["--lib", "loom_"]),
    ("trioxide-sync", &["--test", "loom_sync"]),
    ("trioxide-scope", &["--test", "loom_scope"]),
    ("trioxide-reactor", &["--lib", "loom_"]),
];

/// Runs every loom target with `LOOM_MAX_PREEMPTIONS=bound`; `thorough` also runs the
/// models too large for the CI budget (they check `TRIOXIDE_LOOM_THOROUGH`).
pub fn run_with_bound(bound: u32, thorough: bool) -> Result<(), String> {
    for (package, selector) in TARGETS {
        let mut args = vec!["test", "--release", "-p", package];
        args.extend_from_slice(selector);
        let mut cmd = cargo(&args);
        cmd.env("RUSTFLAGS", "--cfg trioxide_loom -C debug-assertions")
            .env("CARGO_TARGET_DIR", project_root().join("target/loom"))
            .env("LOOM_MAX_PREEMPTIONS", bound.to_string());
        if thorough {
            cmd.env("TRIOXIDE_LOOM_THOROUGH", "1");
        }
        run_cmd(cmd)?;
    }
    Ok(())
}

/// Entry point for `cargo xtask loom`.
pub fn run(_args: &[String]) -> Result<(), String> {
    run_with_bound(3, true)
}
