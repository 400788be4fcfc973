//! `cargo xtask asan` and `cargo xtask tsan`: the io_uring driver's tests, its drop-storm
//! and cancellation tests, and the end-to-end socket tests under AddressSanitizer or
//! ThreadSanitizer.
//!
//! Sanitizers need a nightly toolchain and a standard library built with the same
//! instrumentation (`-Zbuild-std`, which needs the `rust-src` component), for an explicit
//! `--target`. The toolchain is reached through the rustup proxy as in `miri.rs`; if
//! `rust-src` is missing, `rustup toolchain install nightly --component rust-src` adds it.
//! Each sanitizer builds into its own `target/<asan|tsan>` directory, so runs after the
//! first are incremental. `xtask/tsan.supp` lists the ThreadSanitizer reports that are
//! artefacts of syscalls TSan does not intercept (each with its reason). Not part of
//! `cargo xtask ci`: a cold build of std and the
//! workspace takes several minutes.

use crate::miri::nightly_cargo;
use crate::shell::{project_root, run_cmd};

/// The host target; `-Zbuild-std` requires naming it.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The test targets run under a sanitizer: (package, selector and test-binary arguments).
const TARGETS: &[(&str, &[&str])] = &[
    // The driver's unit tests: slab, ops, polls, probe.
    ("trioxide-reactor", &["--lib", "uring"]),
    // Ops, readiness, cancellation and accept storms through the driver.
    ("trioxide-reactor", &["--test", "uring_ops"]),
    ("trioxide-reactor", &["--test", "uring_cancel"]),
    ("trioxide-reactor", &["--test", "uring_accept_storm"]),
    ("trioxide-reactor", &["--test", "uring_reactor"]),
    ("trioxide-reactor", &["--test", "uring_drop_storm"]),
    // End to end: sockets, faults, files.
    // The 64 MiB transfers take minutes under ASan; the rest of the file runs.
    (
        "trioxide-tests",
        &["--test", "net_faults", "--", "--skip", "sixty_four_mib"],
    ),
    ("trioxide-tests", &["--test", "net_uring_ops"]),
    ("trioxide-tests", &["--test", "net_sockets"]),
    ("trioxide-tests", &["--test", "fs_files"]),
];

/// Which sanitizer.
#[derive(Clone, Copy, Debug)]
pub enum Sanitizer {
    /// AddressSanitizer (use-after-free, overflows, leaks).
    Address,
    /// ThreadSanitizer (data races).
    Thread,
}

impl Sanitizer {
    fn flag(self) -> &'static str {
        match self {
            Sanitizer::Address => "address",
            Sanitizer::Thread => "thread",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Sanitizer::Address => "asan",
            Sanitizer::Thread => "tsan",
        }
    }
}

/// Runs every target under `sanitizer`; `filter` (the first argument) keeps only the
/// targets whose package or test name contains it.
pub fn run(sanitizer: Sanitizer, args: &[String]) -> Result<(), String> {
    let filter = args.first().map(String::as_str).unwrap_or("");
    let flags = format!("-Zsanitizer={} -Cdebug-assertions", sanitizer.flag());
    let mut ran = 0;
    for (package, selector) in TARGETS {
        if !package.contains(filter) && !selector.iter().any(|s| s.contains(filter)) {
            continue;
        }
        let mut cargo_args = vec!["test", "-Zbuild-std", "--target", TARGET, "-p", package];
        cargo_args.extend_from_slice(selector);
        let mut cmd = nightly_cargo(&cargo_args, sanitizer.dir());
        cmd.env("RUSTFLAGS", &flags)
            .env("RUSTDOCFLAGS", &flags)
            // Leak reports are on by default with ASan; halt on the first error report.
            .env("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
            .env(
                "TSAN_OPTIONS",
                format!(
                    "halt_on_error=1:second_deadlock_stack=1:suppressions={}",
                    project_root().join("xtask/tsan.supp").display()
                ),
            )
            // The tests' child processes inherit the instrumented binaries' needs.
            .env("RUST_BACKTRACE", "1");
        run_cmd(cmd)?;
        ran += 1;
    }
    if ran == 0 {
        return Err(format!("no sanitizer target matches {filter:?}"));
    }
    Ok(())
}
