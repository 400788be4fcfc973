//! `cargo xtask bench`: runs the `benches` harness (trioxide vs tokio in one process) in
//! release mode; the harness prints a markdown table and writes `docs/BENCHMARKS.md`.
//!
//! The HTTP rows loaded by wrk need `wrk` on `PATH`; where it is missing this installs
//! Debian's package (`apt-get`, as root or through `sudo -n`) when the filter can select
//! one of those rows (or there is no filter) and, failing that, says so
//! and lets the harness skip those rows; the rest of the run is unaffected.

use crate::shell::{cargo, run_cmd};
use std::process::{Command, Stdio};

/// Entry point for `cargo xtask bench`; extra arguments filter benchmarks by name.
pub fn run(args: &[String]) -> Result<(), String> {
    if needs_wrk(args) {
        ensure_wrk();
    }
    let mut cmd = cargo(&["run", "--release", "-p", "trioxide-benches", "--"]);
    cmd.args(args);
    run_cmd(cmd)
}

/// The harness's rows that run wrk and its CPU table's filter, from the harness itself.
#[path = "../../benches/src/wrk_rows.rs"]
#[allow(dead_code, reason = "only the lists are needed here")]
mod wrk_rows;
use wrk_rows::{WRK_CPU_FILTER, WRK_ROWS};

/// Whether the harness's filter (as it reads it: a name part, `=name` for one name) can
/// select a row that runs wrk; no filter runs everything.
fn needs_wrk(filter: &[String]) -> bool {
    filter.is_empty()
        || filter.iter().any(|f| {
            f == WRK_CPU_FILTER
                || match f.strip_prefix('=') {
                    Some(exact) => WRK_ROWS.contains(&exact),
                    None => WRK_ROWS.iter().any(|row| row.contains(f.as_str())),
                }
        })
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

#[cfg(test)]
mod tests {
    use super::needs_wrk;

    fn filter(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn wrk_is_needed_only_when_the_filter_can_select_a_wrk_row() {
        assert!(needs_wrk(&[]));
        assert!(needs_wrk(&filter(&["http1"])));
        assert!(needs_wrk(&filter(&["wrk"])));
        assert!(needs_wrk(&filter(&["wrk-cpu"])));
        assert!(needs_wrk(&filter(&["tcp_echo", "=http1_hello_wrk_p99"])));
        assert!(!needs_wrk(&filter(&["tcp_echo"])));
        assert!(!needs_wrk(&filter(&["=http1_hello"])));
        assert!(!needs_wrk(&filter(&["syscalls"])));
    }
}
