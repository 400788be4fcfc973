//! `cargo xtask bench`: runs the `benches` harness (trioxide vs tokio in one process) in
//! release mode; the harness prints a markdown table and writes `docs/BENCHMARKS.md`.
//!
//! The HTTP rows loaded by wrk need `wrk` on `PATH`; where it is missing this installs
//! Debian's package (`apt-get`, as root or through `sudo -n`) and, failing that, says so
//! and lets the harness skip those rows; the rest of the run is unaffected.

use crate::shell::{cargo, run_cmd};
use std::process::{Command, Stdio};

/// Entry point for `cargo xtask bench`; extra arguments filter benchmarks by name.
pub fn run(args: &[String]) -> Result<(), String> {
    ensure_wrk();
    let mut cmd = cargo(&["run", "--release", "-p", "trioxide-benches", "--"]);
    cmd.args(args);
    run_cmd(cmd)
}

/// Whether `program --version` starts (wrk exits non-zero on `--version`; starting is
/// what counts).
fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Installs wrk from the distribution's packages when it is missing; never fails the
/// bench run.
fn ensure_wrk() {
    if runs("wrk", "--version") {
        return;
    }
    if !runs("apt-get", "--version") {
        eprintln!(
            "note: wrk is missing and apt-get is not here; the http1_hello_wrk* rows will be skipped"
        );
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.trim_ascii() == b"0")
        .unwrap_or(false);
    let apt = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        cmd.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null());
        eprintln!("$ {cmd:?}");
        cmd.status().map(|s| s.success()).unwrap_or(false)
    };
    // A fresh machine's package lists may be empty: update once, then retry.
    let installed = apt(&["install", "-y", "-q", "wrk"])
        || (apt(&["update", "-q"]) && apt(&["install", "-y", "-q", "wrk"]));
    if !installed || !runs("wrk", "--version") {
        eprintln!(
            "note: could not install wrk (apt-get install wrk); the http1_hello_wrk* rows will be skipped"
        );
    }
}
