//! System calls per TCP echo round trip, for each echo benchmark and each side: the
//! harness runs itself once per (benchmark, side) under `strace -f -c` with
//! `BENCH_SIDE` and `BENCH_RUNS=1`, and divides strace's call count by the round trips
//! of one run. The count covers the whole run, so it includes the 100 connections' set-up
//! (a few hundred calls against tens of thousands) and the runtime's start and stop.
//! Skipped, with a note, where `strace` is missing or not permitted.

use std::process::Command;

/// The echo benchmarks and the round trips one run makes (100 connections times the
/// rounds each).
pub const ECHO_ROUND_TRIPS: &[(&str, u64)] = &[
    ("tcp_echo_100x1KiB", 100 * 200),
    ("tcp_echo_uring_100x1KiB", 100 * 200),
    ("ws_tcp_echo_100x1KiB", 100 * 200),
    ("ws_tcp_echo_uring_100x1KiB", 100 * 200),
    ("ws_tcp_echo_uring_owned_100x1KiB", 100 * 200),
];

/// One side's count: calls per round trip, and the three most frequent calls (name,
/// calls per round trip).
struct Count {
    per_round_trip: f64,
    top: Vec<(String, f64)>,
}

/// Runs `bench` on `side` under strace; `None` if strace failed or is absent.
fn count(bench: &str, side: &str, round_trips: u64) -> Option<Count> {
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!("trioxide-syscalls-{bench}-{side}.txt"));
    let status = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .arg(&exe)
        .arg(format!("={bench}"))
        .env("BENCH_SIDE", side)
        .env("BENCH_RUNS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return None;
    }
    parse(&text?, round_trips)
}

/// Parses `strace -c` output: rows of `% time, seconds, usecs/call, calls, [errors,]
/// syscall`, then a `total` row.
fn parse(text: &str, round_trips: u64) -> Option<Count> {
    let mut rows = Vec::new();
    let mut total = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
            continue;
        }
        let name = fields[fields.len() - 1];
        let Ok(calls) = fields[3].parse::<u64>() else {
            continue;
        };
        if name == "total" {
            total = Some(calls);
        } else {
            rows.push((name.to_string(), calls));
        }
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.1));
    let per = |calls: u64| calls as f64 / round_trips as f64;
    Some(Count {
        per_round_trip: per(total?),
        top: rows
            .into_iter()
            .take(3)
            .map(|(name, calls)| (name, per(calls)))
            .collect(),
    })
}

/// The markdown section, or `None` if strace is unusable here.
pub fn section() -> Option<String> {
    let mut rows = Vec::new();
    for &(bench, round_trips) in ECHO_ROUND_TRIPS {
        for side in ["trioxide", "tokio"] {
            let Some(c) = count(bench, side, round_trips) else {
                eprintln!("syscall counts skipped: `strace -f -c` is not available here");
                return None;
            };
            let top: Vec<String> = c
                .top
                .iter()
                .map(|(name, per)| format!("{name} {per:.2}"))
                .collect();
            eprintln!(
                "{bench:<34} {side:<8} {:.2} per round trip ({})",
                c.per_round_trip,
                top.join(", ")
            );
            rows.push(format!(
                "| {bench} | {side} | {:.2} | {} |",
                c.per_round_trip,
                top.join(", ")
            ));
        }
    }
    Some(format!(
        "## System calls per echo round trip\n\n\
         One run of each side under `strace -f -c`, calls divided by the run's round trips \
         (the count includes connection set-up and runtime start/stop, under 2% of it). \
         A round trip is one message each way: the client's write and read and the \
         server's read and write.\n\n\
         | benchmark | side | calls per round trip | most frequent (per round trip) |\n\
         |---|---|---|---|\n{}\n",
        rows.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_strace_summaries_with_and_without_an_errors_column() {
        let text = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ------------------
 50.94    0.563454          33     16988           io_uring_enter
 46.05    0.509426         924       551        56 futex
  0.49    0.005464          18       296         2 read
------ ----------- ----------- --------- --------- ------------------
100.00    1.106127          61     17835        58 total
";
        let c = parse(text, 20_000).unwrap();
        assert!((c.per_round_trip - 17835.0 / 20_000.0).abs() < 1e-9);
        assert_eq!(c.top[0].0, "io_uring_enter");
        assert_eq!(c.top[1].0, "futex");
        assert_eq!(c.top.len(), 3);
        assert!(parse("no summary here", 1).is_none());
    }
}
