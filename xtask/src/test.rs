//! `cargo xtask test [filter..]`: the whole test suite — every crate's unit and
//! integration tests on every flavor and both I/O backends (the `rt_test!` matrix), with
//! all features, then the doc tests — without the lint, loom and Miri steps of
//! `cargo xtask ci`. Extra arguments are passed to the test runner as name filters
//! (the doc tests are skipped when a filter is given).

use crate::shell::{cargo, has_cargo_subcommand, run_cmd};

/// Runs the unit and integration tests (nextest where installed), then, without a
/// filter, the doc tests.
pub fn run_suite(filter: &[String]) -> Result<(), String> {
    let nextest = has_cargo_subcommand("nextest");
    let mut tests = if nextest {
        cargo(&[
            "nextest",
            "run",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
        ])
    } else {
        eprintln!("cargo-nextest not installed: using cargo test");
        cargo(&[
            "test",
            "--workspace",
            "--all-features",
            "--no-fail-fast",
            "--lib",
            "--bins",
            "--tests",
        ])
    };
    if !filter.is_empty() {
        if !nextest {
            tests.arg("--");
        }
        tests.args(filter);
    }
    run_cmd(tests)?;
    if filter.is_empty() {
        run_cmd(cargo(&["test", "--workspace", "--all-features", "--doc"]))?;
    }
    Ok(())
}

/// Entry point for `cargo xtask test`.
pub fn run(args: &[String]) -> Result<(), String> {
    run_suite(args)
}
