//! `cargo xtask release <patch|minor|major|X.Y.Z> [--dry-run] [--execute]`: versions every
//! publishable crate together and tags the release, in a way that cannot half-succeed.
//!
//! Steps: refuse unless the tree is clean, on `main`, with a non-empty `Unreleased`
//! changelog section; compute the version and the publish order (a topological sort of
//! the workspace's path dependencies from `cargo metadata`); bump the workspace version
//! and every inter-crate requirement; move `Unreleased` under the new version with
//! today's date; run `cargo xtask ci`, then `cargo package` / `cargo publish --dry-run`;
//! commit and tag. Any failure restores every file it changed. `--dry-run` runs the
//! checks, shows the diff and restores the tree; `--execute` also publishes.

use crate::shell::project_root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How to release (what the command line says, plus test hooks).
#[derive(Debug, Clone)]
pub struct Options {
    /// `patch`, `minor`, `major` or an explicit `X.Y.Z`.
    pub bump: String,
    /// Check everything, show the diff, change nothing.
    pub dry_run: bool,
    /// Commands run after the bump (`cargo xtask ci`, packaging); a failure rolls back.
    pub checks: Vec<Vec<String>>,
    /// Today's date, `YYYY-MM-DD`.
    pub date: String,
}

/// A semantic version (pre-release tags are kept as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Option<String>,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(pre) = &self.pre {
            write!(f, "-{pre}")?;
        }
        Ok(())
    }
}

/// Parses `X.Y.Z` or `X.Y.Z-pre`.
pub fn parse_version(text: &str) -> Result<Version, String> {
    let (core, pre) = match text.split_once('-') {
        Some((c, p)) if !p.is_empty() => (c, Some(p.to_string())),
        Some(_) => return Err(format!("bad version {text:?}: empty pre-release after '-'")),
        None => (text, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let [major, minor, patch] = parts.as_slice() else {
        return Err(format!("bad version {text:?}: expected X.Y.Z"));
    };
    let num = |s: &str| {
        if s.is_empty() || (s.len() > 1 && s.starts_with('0')) {
            return Err(format!(
                "bad version {text:?}: {s:?} is not a version number"
            ));
        }
        s.parse::<u64>()
            .map_err(|_| format!("bad version {text:?}: {s:?} is not a number"))
    };
    Ok(Version {
        major: num(major)?,
        minor: num(minor)?,
        patch: num(patch)?,
        pre,
    })
}

/// The version after `current` for `bump` (`patch`/`minor`/`major`/explicit).
pub fn next_version(current: &Version, bump: &str) -> Result<Version, String> {
    let next = match bump {
        "patch" => Version {
            patch: current.patch + 1,
            pre: None,
            ..current.clone()
        },
        "minor" => Version {
            minor: current.minor + 1,
            patch: 0,
            pre: None,
            ..current.clone()
        },
        "major" => Version {
            major: current.major + 1,
            minor: 0,
            patch: 0,
            pre: None,
        },
        explicit => parse_version(explicit)?,
    };
    let key = |v: &Version| (v.major, v.minor, v.patch, v.pre.is_none());
    if key(&next) <= key(current) {
        return Err(format!(
            "the new version {next} is not after the current {current}"
        ));
    }
    Ok(next)
}

fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|e| format!("could not run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The workspace version from the root `Cargo.toml`'s `[workspace.package]`.
fn workspace_version(manifest: &str) -> Result<Version, String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_package = trimmed == "[workspace.package]";
        } else if in_package && let Some(rest) = trimmed.strip_prefix("version") {
            let value = rest
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            return parse_version(value);
        }
    }
    Err("no version in [workspace.package] of Cargo.toml".into())
}

/// Rewrites the workspace version and every `version = "old"` requirement on a
/// workspace crate in `[workspace.dependencies]`.
fn bump_manifest(
    manifest: &str,
    crates: &BTreeSet<String>,
    old: &Version,
    new: &Version,
) -> String {
    let mut out = String::with_capacity(manifest.len());
    let mut section = String::new();
    for line in manifest.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_string();
        }
        let old_req = format!("version = \"{old}\"");
        let new_req = format!("version = \"{new}\"");
        let is_package_version = section == "[workspace.package]" && trimmed.starts_with("version");
        let name = trimmed.split(['=', ' ']).next().unwrap_or("");
        let is_internal_dep = section == "[workspace.dependencies]" && crates.contains(name);
        if is_package_version || is_internal_dep {
            out.push_str(&line.replace(&old_req, &new_req));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Moves the `## Unreleased` entries under `## [new] - date`, leaving an empty
/// `Unreleased` heading. Fails if there is nothing unreleased.
fn bump_changelog(changelog: &str, new: &Version, date: &str) -> Result<String, String> {
    let start = changelog
        .find("## Unreleased")
        .ok_or("CHANGELOG.md has no '## Unreleased' section")?;
    let body_start = start + "## Unreleased".len();
    let body_end = changelog[body_start..]
        .find("\n## ")
        .map_or(changelog.len(), |i| body_start + i + 1);
    if changelog[body_start..body_end].trim().is_empty() {
        return Err(
            "CHANGELOG.md's Unreleased section is empty: describe the release first".into(),
        );
    }
    Ok(format!(
        "{}## Unreleased\n\n## [{new}] - {date}{}",
        &changelog[..start],
        &changelog[body_start..]
    ))
}

/// Publishable workspace crates in dependency order (dependencies first), from
/// `cargo metadata`.
fn publish_order(root: &Path) -> Result<Vec<String>, String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("could not run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata output: {e}"))?;
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let publishable: BTreeMap<String, Vec<String>> = packages
        .iter()
        .filter(|p| !p["publish"].as_array().is_some_and(|a| a.is_empty()))
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["path"].is_string() && d["kind"].is_null())
                .filter_map(|d| d["name"].as_str().map(String::from))
                .collect();
            (p["name"].as_str().unwrap_or_default().to_string(), deps)
        })
        .collect();
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    while order.len() < publishable.len() {
        let ready: Vec<String> = publishable
            .iter()
            .filter(|(name, deps)| {
                !done.contains(*name)
                    && deps
                        .iter()
                        .all(|d| done.contains(d) || !publishable.contains_key(d))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if ready.is_empty() {
            return Err("the workspace's path dependencies form a cycle".into());
        }
        for name in ready {
            done.insert(name.clone());
            order.push(name);
        }
    }
    Ok(order)
}

/// The files a release rewrites, with their original contents for rollback.
struct Backup(Vec<(PathBuf, Option<String>)>);

impl Backup {
    fn save(paths: &[PathBuf]) -> Backup {
        Backup(
            paths
                .iter()
                .map(|p| (p.clone(), std::fs::read_to_string(p).ok()))
                .collect(),
        )
    }

    fn restore(&self) {
        for (path, content) in &self.0 {
            match content {
                Some(text) => drop(std::fs::write(path, text)),
                None => drop(std::fs::remove_file(path)),
            }
        }
    }
}

/// What a release did.
#[derive(Debug)]
pub struct Outcome {
    /// The new version.
    pub version: String,
    /// Crates in publish order.
    pub order: Vec<String>,
    /// The `cargo publish` commands (run with `--execute`).
    pub publish_commands: Vec<String>,
    /// The diff of the bump (shown by `--dry-run`).
    pub diff: String,
}

/// Runs a release in the workspace at `root`.
pub fn release(root: &Path, opts: &Options) -> Result<Outcome, String> {
    if !git(root, &["status", "--porcelain"])?.is_empty() {
        return Err("the git tree has uncommitted changes: commit or stash them first".into());
    }
    let branch = git(root, &["rev-parse", "--abbrev-ref", "HEAD"])?;
    if branch != "main" {
        return Err(format!("releases are made from main (this is {branch:?})"));
    }
    let manifest_path = root.join("Cargo.toml");
    let changelog_path = root.join("CHANGELOG.md");
    let manifest =
        std::fs::read_to_string(&manifest_path).map_err(|e| format!("Cargo.toml: {e}"))?;
    let changelog =
        std::fs::read_to_string(&changelog_path).map_err(|e| format!("CHANGELOG.md: {e}"))?;
    let old = workspace_version(&manifest)?;
    let new = next_version(&old, &opts.bump)?;
    let new_changelog = bump_changelog(&changelog, &new, &opts.date)?;
    let order = publish_order(root)?;
    let crates: BTreeSet<String> = order.iter().cloned().collect();
    let new_manifest = bump_manifest(&manifest, &crates, &old, &new);

    let backup = Backup::save(&[
        manifest_path.clone(),
        changelog_path.clone(),
        root.join("Cargo.lock"),
    ]);
    let result = (|| {
        std::fs::write(&manifest_path, &new_manifest).map_err(|e| format!("Cargo.toml: {e}"))?;
        std::fs::write(&changelog_path, &new_changelog)
            .map_err(|e| format!("CHANGELOG.md: {e}"))?;
        for check in &opts.checks {
            let (program, args) = check.split_first().ok_or("an empty check command")?;
            let status = Command::new(program)
                .args(args)
                .current_dir(root)
                .status()
                .map_err(|e| format!("could not run {check:?}: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "{} failed ({status}); nothing was changed",
                    check.join(" ")
                ));
            }
        }
        let diff = git(root, &["diff"])?;
        if opts.dry_run {
            return Ok(diff);
        }
        git(root, &["commit", "-qam", &format!("Release v{new}")])?;
        git(
            root,
            &[
                "tag",
                "-a",
                &format!("v{new}"),
                "-m",
                &format!("Release v{new}"),
            ],
        )?;
        Ok(diff)
    })();
    let diff = match result {
        Ok(diff) => diff,
        Err(err) => {
            backup.restore();
            return Err(err);
        }
    };
    if opts.dry_run {
        backup.restore();
    }
    let publish_commands: Vec<String> = order
        .iter()
        .map(|c| format!("cargo publish -p {c}"))
        .collect();
    Ok(Outcome {
        version: new.to_string(),
        order,
        publish_commands,
        diff,
    })
}

fn today() -> String {
    let out = Command::new("date").arg("+%Y-%m-%d").output().ok();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

/// Entry point for `cargo xtask release`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut bump = None;
    let (mut dry_run, mut execute) = (false, false);
    for arg in args {
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "--execute" => execute = true,
            other if bump.is_none() && !other.starts_with('-') => bump = Some(other.to_string()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let bump =
        bump.ok_or("usage: cargo xtask release <patch|minor|major|X.Y.Z> [--dry-run] [--execute]")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = project_root();
    let checks = vec![
        vec![cargo.clone(), "xtask".into(), "ci".into()],
        vec![
            cargo.clone(),
            "package".into(),
            "--workspace".into(),
            "--allow-dirty".into(),
        ],
        vec![
            cargo.clone(),
            "publish".into(),
            "--workspace".into(),
            "--dry-run".into(),
            "--allow-dirty".into(),
        ],
    ];
    let opts = Options {
        bump,
        dry_run,
        checks,
        date: today(),
    };
    let outcome = release(&root, &opts)?;
    println!("{}", outcome.diff);
    println!(
        "release v{}: publish order {}",
        outcome.version,
        outcome.order.join(" -> ")
    );
    if dry_run {
        println!("dry run: the tree is unchanged");
        return Ok(());
    }
    if execute {
        for c in &outcome.order {
            crate::shell::run_cmd({
                let mut cmd = Command::new(&cargo);
                cmd.args(["publish", "-p", c]).current_dir(&root);
                cmd
            })?;
        }
    } else {
        println!(
            "committed and tagged v{}; to publish, run:",
            outcome.version
        );
        for cmd in &outcome.publish_commands {
            println!("  {cmd}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway workspace: crates `alpha` and `beta` (beta depends on alpha), a
    /// changelog, a git repo on `main` with everything committed.
    fn sandbox() -> tempdir::Dir {
        let dir = tempdir::Dir::new();
        let root = dir.path();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nresolver = \"3\"\nmembers = [\"alpha\", \"beta\"]\n\n[workspace.package]\nversion = \"0.3.1\"\nedition = \"2024\"\n\n[workspace.dependencies]\nalpha = { path = \"alpha\", version = \"0.3.1\" }\nother = { version = \"0.3.1\" }\n",
        )
        .unwrap();
        for (name, deps) in [("alpha", ""), ("beta", "alpha.workspace = true\n")] {
            std::fs::create_dir_all(root.join(name).join("src")).unwrap();
            std::fs::write(
                root.join(name).join("Cargo.toml"),
                format!("[package]\nname = \"{name}\"\nversion.workspace = true\nedition.workspace = true\n\n[dependencies]\n{deps}"),
            )
            .unwrap();
            std::fs::write(root.join(name).join("src/lib.rs"), "//! test crate\n").unwrap();
        }
        std::fs::write(root.join("CHANGELOG.md"), "# Changelog\n\n## Unreleased\n\n### Added\n- things\n\n## [0.3.1] - 2026-01-01\n- old\n").unwrap();
        std::fs::write(root.join(".gitignore"), "target\nCargo.lock\n").unwrap();
        for args in [
            &["init", "-q", "-b", "main"][..],
            &["config", "user.email", "t@example.invalid"],
            &["config", "user.name", "t"],
            &["add", "-A"],
            &["commit", "-qm", "init"],
        ] {
            git(root, args).unwrap();
        }
        dir
    }

    fn opts(bump: &str, dry_run: bool, checks: Vec<Vec<String>>) -> Options {
        Options {
            bump: bump.into(),
            dry_run,
            checks,
            date: "2026-12-01".into(),
        }
    }

    fn read(root: &Path, f: &str) -> String {
        std::fs::read_to_string(root.join(f)).unwrap()
    }

    #[test]
    fn versions_parse_and_bump() {
        let v = parse_version("1.2.3").unwrap();
        assert_eq!(next_version(&v, "patch").unwrap().to_string(), "1.2.4");
        assert_eq!(next_version(&v, "minor").unwrap().to_string(), "1.3.0");
        assert_eq!(next_version(&v, "major").unwrap().to_string(), "2.0.0");
        assert_eq!(
            next_version(&v, "1.5.0-rc.1").unwrap().to_string(),
            "1.5.0-rc.1"
        );
        for bad in ["1.2", "1.2.x", "01.2.3", "1.2.3-", "v1.2.3", ""] {
            assert!(parse_version(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(
            next_version(&v, "1.2.3").is_err(),
            "not after the current version"
        );
        assert!(next_version(&v, "banana").is_err());
    }

    #[test]
    fn a_real_release_bumps_everything_moves_the_changelog_and_tags() {
        let dir = sandbox();
        let root = dir.path();
        let outcome = release(root, &opts("minor", false, vec![])).unwrap();
        assert_eq!(outcome.version, "0.4.0");
        assert_eq!(outcome.order, ["alpha", "beta"], "dependencies first");
        let manifest = read(root, "Cargo.toml");
        assert!(manifest.contains("[workspace.package]\nversion = \"0.4.0\""));
        assert!(manifest.contains("alpha = { path = \"alpha\", version = \"0.4.0\" }"));
        assert!(
            manifest.contains("other = { version = \"0.3.1\" }"),
            "external deps untouched"
        );
        let changelog = read(root, "CHANGELOG.md");
        assert!(
            changelog.contains("## Unreleased\n\n## [0.4.0] - 2026-12-01\n\n### Added\n- things")
        );
        assert_eq!(git(root, &["tag", "-l"]).unwrap(), "v0.4.0");
        assert_eq!(
            git(root, &["log", "-1", "--format=%s"]).unwrap(),
            "Release v0.4.0"
        );
        assert!(git(root, &["status", "--porcelain"]).unwrap().is_empty());
        // Nothing unreleased any more: a second release is refused.
        let err = release(root, &opts("patch", false, vec![])).unwrap_err();
        assert!(err.contains("Unreleased section is empty"), "{err}");
    }

    #[test]
    fn a_dry_run_shows_the_diff_and_leaves_the_tree_as_it_was() {
        let dir = sandbox();
        let root = dir.path();
        let before = read(root, "Cargo.toml");
        let outcome = release(root, &opts("patch", true, vec![])).unwrap();
        assert!(
            outcome.diff.contains("+version = \"0.3.2\""),
            "{}",
            outcome.diff
        );
        assert_eq!(read(root, "Cargo.toml"), before);
        assert!(git(root, &["status", "--porcelain"]).unwrap().is_empty());
        assert!(git(root, &["tag", "-l"]).unwrap().is_empty());
    }

    #[test]
    fn a_dirty_tree_a_wrong_branch_and_a_bad_version_are_refused() {
        let dir = sandbox();
        let root = dir.path();
        std::fs::write(root.join("stray.txt"), "x").unwrap();
        let err = release(root, &opts("patch", false, vec![])).unwrap_err();
        assert!(err.contains("uncommitted changes"), "{err}");
        std::fs::remove_file(root.join("stray.txt")).unwrap();
        let err = release(root, &opts("1.2", false, vec![])).unwrap_err();
        assert!(err.contains("bad version"), "{err}");
        git(root, &["checkout", "-qb", "feature"]).unwrap();
        let err = release(root, &opts("patch", false, vec![])).unwrap_err();
        assert!(err.contains("from main"), "{err}");
    }

    #[test]
    fn a_failure_midway_leaves_the_tree_unchanged() {
        let dir = sandbox();
        let root = dir.path();
        let before = (read(root, "Cargo.toml"), read(root, "CHANGELOG.md"));
        let failing = vec![vec!["true".to_string()], vec!["false".to_string()]];
        let err = release(root, &opts("major", false, failing)).unwrap_err();
        assert!(err.contains("false failed"), "{err}");
        assert_eq!(
            (read(root, "Cargo.toml"), read(root, "CHANGELOG.md")),
            before
        );
        assert!(git(root, &["status", "--porcelain"]).unwrap().is_empty());
        assert!(git(root, &["tag", "-l"]).unwrap().is_empty());
    }

    /// A temporary directory removed on drop (std has none; a dependency for this is
    /// not worth it).
    mod tempdir {
        use std::path::{Path, PathBuf};

        pub struct Dir(PathBuf);

        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let n = N.fetch_add(1, Ordering::Relaxed);
                let path =
                    std::env::temp_dir().join(format!("xtask-release-{}-{n}", std::process::id()));
                let _ = std::fs::remove_dir_all(&path);
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }

            pub fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
