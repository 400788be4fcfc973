//! `cargo xtask <command>`: the project's automation, one file per subcommand.
//!
//! Commands: `ci` (what CI runs), `test` (the test suite alone), `bench` (trioxide vs
//! tokio, writes docs/BENCHMARKS.md), `loom` (model-check the task core with a thorough bound), `miri` (the task core under Miri),
//! `asan` / `tsan` (the io_uring and socket tests under a sanitizer),
//! `release` (version, check, commit and tag every crate together).

mod asan;
mod bench;
mod changelog;
mod ci;
mod loom;
mod miri;
mod release;
mod shell;
mod stress;
mod test;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((cmd, rest)) => (cmd.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match cmd {
        "ci" => ci::run(rest),
        "test" => test::run(rest),
        "bench" => bench::run(rest),
        "loom" => loom::run(rest),
        "miri" => miri::run(rest),
        "asan" => asan::run(asan::Sanitizer::Address, rest),
        "tsan" => asan::run(asan::Sanitizer::Thread, rest),
        "release" => release::run(rest),
        "changelog-check" => changelog::check(rest),
        "semver" => changelog::semver(rest),
        "stress" => stress::run(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | test | bench | loom | miri | asan | tsan | stress | release | changelog-check | semver>\n\
                 \n  ci     fmt, clippy -D warnings, tests (nextest if installed), doc tests, loom, Miri\
                 \n  test [filter..]  the test suite only (every flavor and backend), then the doc tests\
                 \n  bench  trioxide vs tokio benchmarks; writes docs/BENCHMARKS.md\
                 \n  loom   loom model checks of the task core (LOOM_MAX_PREEMPTIONS=3)\
                 \n  miri   the task core's unit tests under Miri (nightly)\
                 \n  asan [filter]  io_uring and socket tests under AddressSanitizer (nightly, build-std)\
                 \n  tsan [filter]  the same under ThreadSanitizer\
                 \n  release <patch|minor|major|X.Y.Z> [--dry-run] [--execute]\
                 \n  stress [rounds]  the stress suite at issue #9's figures, rounds times (default 1)\
                 \n  changelog-check  every change since the last tag touched CHANGELOG.md\
                 \n  semver  cargo semver-checks against the last tag (if installed)"
            );
            return if cmd == "help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask {cmd}: {err}");
            ExitCode::FAILURE
        }
    }
}
