//! `cargo xtask stress [rounds]`: the stress suite (`tests/tests/stress/`) in release mode
//! at issue #9's figures — 10,000 echo connections x 100 messages, 1,000,000 timers,
//! 1,000,000 tasks, 10,000,000 pipeline items — on every flavor and I/O backend, `rounds`
//! times each (default 1; each round has its own seed and a time bound, so long runs such
//! as `cargo xtask stress 50` end by themselves). `cargo xtask ci` runs the same scenarios
//! at small sizes (`TRIOXIDE_STRESS_SCALE` unset).

use crate::shell::{cargo, run_cmd};

/// Entry point for `cargo xtask stress`.
pub fn run(args: &[String]) -> Result<(), String> {
    let rounds = match args.first() {
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("rounds must be a positive number, got {s:?}")),
        },
        None => 1,
    };
    if let Some(extra) = args.get(1) {
        return Err(format!(
            "unexpected argument {extra:?}; usage: cargo xtask stress [rounds]"
        ));
    }
    let mut cmd = cargo(&[
        "test",
        "--release",
        "-p",
        "trioxide-tests",
        "--test",
        "stress",
        "--",
        "--test-threads=1",
        "--nocapture",
    ]);
    cmd.env("TRIOXIDE_STRESS_SCALE", rounds.to_string());
    run_cmd(cmd)
}
