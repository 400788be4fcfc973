//! `cargo xtask changelog-check` (run by `ci`): every change since the last release tag
//! must have touched `CHANGELOG.md`. And `cargo xtask semver`: `cargo semver-checks`
//! against the last tag when that tool is installed.

use crate::shell::{cargo, has_cargo_subcommand, project_root, run_cmd};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(project_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The newest `v*` tag reachable from HEAD, if any.
fn last_tag() -> Option<String> {
    git(&["describe", "--tags", "--abbrev=0", "--match", "v*"])
}

/// Entry point for `cargo xtask changelog-check`.
pub fn check(_args: &[String]) -> Result<(), String> {
    let Some(tag) = last_tag() else {
        eprintln!("changelog-check: no release tag yet; nothing to compare against");
        return Ok(());
    };
    let changed = git(&["diff", "--name-only", &format!("{tag}..HEAD")]).unwrap_or_default();
    let files: Vec<&str> = changed.lines().filter(|l| !l.is_empty()).collect();
    if files.is_empty() || files.contains(&"CHANGELOG.md") {
        return Ok(());
    }
    Err(format!(
        "{} file(s) changed since {tag} but CHANGELOG.md did not: add an entry under \
         '## Unreleased'",
        files.len()
    ))
}

/// Entry point for `cargo xtask semver`.
pub fn semver(_args: &[String]) -> Result<(), String> {
    if !has_cargo_subcommand("semver-checks") {
        eprintln!(
            "semver: cargo-semver-checks is not installed (cargo install cargo-semver-checks); skipped"
        );
        return Ok(());
    }
    let Some(tag) = last_tag() else {
        eprintln!("semver: no release tag yet; skipped");
        return Ok(());
    };
    run_cmd(cargo(&[
        "semver-checks",
        "--workspace",
        "--baseline-rev",
        &tag,
    ]))
}
