//! `cargo xtask ci`: formatting, lints, the whole test suite, the doc tests and a
//! warning-free `cargo doc`, in the order that fails fastest. This is exactly what
//! `.ci/run` runs.

use crate::shell::{cargo, run_cmd};

/// Runs every CI step; stops at the first failure.
pub fn run_steps() -> Result<(), String> {
    run_cmd(cargo(&["fmt", "--all", "--check"]))?;
    crate::changelog::check(&[])?;
    run_cmd(cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The facade's optional ecosystem features (hyper, tokio-io, tracing): linted here,
    // tested by the `--all-features` test runs below.
    run_cmd(cargo(&[
        "clippy",
        "-p",
        "trioxide",
        "--all-features",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    crate::test::run_suite(&[])?;
    run_cmd(rustdoc_check())?;
    crate::loom::run_with_bound(2, false)?;
    if crate::miri::available() {
        crate::miri::run_bounded()?;
    } else {
        eprintln!("Miri is not installed here (nightly + miri component): skipping the Miri step");
    }
    Ok(())
}

/// `cargo doc --workspace --all-features --no-deps` with every rustdoc warning an error: broken
/// intra-doc links, bare URLs, invalid code-block attributes, and (through the
/// workspace's `missing_docs` lint) undocumented public items fail CI.
fn rustdoc_check() -> std::process::Command {
    let mut cmd = cargo(&["doc", "--workspace", "--all-features", "--no-deps"]);
    cmd.env("RUSTDOCFLAGS", "-D warnings");
    cmd
}

/// Entry point for `cargo xtask ci`.
pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!(
            "unexpected argument {extra:?}; `cargo xtask ci` takes none"
        ));
    }
    run_steps()
}
