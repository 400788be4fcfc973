//! The benchmark harness: trioxide vs tokio, same process, same machine, alternating
//! runs, medians and the trioxide/tokio ratio (lower is better). Writes the table to
//! `docs/BENCHMARKS.md`. Run with `cargo xtask bench [name-filter]`.
//!
//! After the timed runs, one untimed run of each side measures its peak heap growth.
//! `BENCH_SIDE=trioxide` (or `tokio`) runs only that side (no table, no peak run), for
//! profilers and `perf stat`. A full run (or the filter `syscalls`) ends with the system
//! calls per echo round trip of each side, counted under `strace` (`syscalls.rs`).

mod bare_echo;
mod bare_http;
mod current_thread;
mod fs;
mod http;
mod net;
mod peak;
mod per_core;
mod scope;
mod sync;
mod syscalls;
mod work_stealing;
mod wrk;
mod wrk_rows;

use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: peak::Counting = peak::Counting;

/// One benchmark: a name, what it measures, and one run of each side.
pub struct Bench {
    /// Short name, used as the filter key.
    pub name: &'static str,
    /// What one run does, for the table.
    pub what: &'static str,
    /// One trioxide run, returning the measured time.
    pub trioxide: Box<dyn FnMut() -> Duration>,
    /// The same work on tokio.
    pub tokio: Box<dyn FnMut() -> Duration>,
}

/// Times `f` once.
pub fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, server] = filter.as_slice()
        && mode == "--serve-http"
    {
        http::serve(server);
    }
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let mut rows = Vec::new();
    let all = current_thread::benches()
        .into_iter()
        .chain(work_stealing::benches())
        .chain(net::benches())
        .chain(per_core::benches())
        .chain(bare_echo::benches())
        .chain(fs::benches())
        .chain(scope::benches())
        .chain(sync::benches())
        .chain(http::benches())
        .chain(wrk::benches());
    for mut bench in all {
        // A filter matches names containing it; `=name` matches that name only.
        let matches = |f: &String| match f.strip_prefix('=') {
            Some(exact) => bench.name == exact,
            None => bench.name.contains(f.as_str()),
        };
        if !filter.is_empty() && !filter.iter().any(matches) {
            continue;
        }
        // `BENCH_SIDE=trioxide` (or `tokio`) runs one side only, for profilers and
        // `strace -c` (one runtime's system calls).
        if let Ok(side) = std::env::var("BENCH_SIDE") {
            let f = if side == "tokio" {
                &mut bench.tokio
            } else {
                &mut bench.trioxide
            };
            let times: Vec<_> = (0..runs).map(|_| f()).collect();
            eprintln!("{:<28} {side} {:>10}", bench.name, fmt(median(times)));
            continue;
        }
        // Warm up both sides once, then alternate so drift hits both equally.
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..=runs {
            let a = (bench.trioxide)();
            let b = (bench.tokio)();
            if round > 0 {
                ours.push(a);
                theirs.push(b);
            }
        }
        let (a, b) = (median(ours), median(theirs));
        let ratio = a.as_secs_f64() / b.as_secs_f64().max(f64::MIN_POSITIVE);
        let peak_ours = peak::measure(|| {
            (bench.trioxide)();
        });
        let peak_theirs = peak::measure(|| {
            (bench.tokio)();
        });
        eprintln!(
            "{:<28} trioxide {:>10}  tokio {:>10}  ratio {ratio:.2}  peak heap {} vs {}",
            bench.name,
            fmt(a),
            fmt(b),
            peak::fmt_bytes(peak_ours),
            peak::fmt_bytes(peak_theirs),
        );
        rows.push(format!(
            "| {} | {} | {} | {} | {ratio:.2} | {} | {} |",
            bench.name,
            bench.what,
            fmt(a),
            fmt(b),
            peak::fmt_bytes(peak_ours),
            peak::fmt_bytes(peak_theirs),
        ));
    }
    let machine = machine_description();
    let table = format!(
        "| benchmark | what | trioxide | tokio | ratio | peak heap trioxide | peak heap tokio |\n|---|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    println!("{table}");
    // Counting re-runs the echo benchmarks under strace: on a full run, or when asked.
    let syscalls = if filter.is_empty() || filter.iter().any(|f| f == "syscalls") {
        syscalls::section()
    } else {
        None
    };
    if let Some(section) = &syscalls {
        println!("{section}");
    }
    // The CPU split under wrk: on a full run, or when asked.
    let cpu = if filter.is_empty() || filter.iter().any(|f| f == wrk_rows::WRK_CPU_FILTER) {
        wrk::cpu_section()
    } else {
        None
    };
    if let Some(section) = &cpu {
        println!("{section}");
    }
    let doc = format!(
        "# Benchmarks\n\nMedians of {runs} alternating runs, trioxide vs tokio in the same \
         process (ratio = trioxide time / tokio time; lower is better). Absolute times on \
         shared machines are noise; the ratios are the result. The peak-heap columns \
         are the highest net heap growth during one extra, untimed run of each side \
         (a counting global allocator).\n\n\
         Command: `cargo xtask bench` (set `BENCH_RUNS` to change the run count).\n\n\
         Machine: {machine}\n\nThe first block compares trioxide's CurrentThread flavor (epoll, \
         or io_uring where named) with tokio's current_thread runtime; `ws_*` compare \
         the WorkStealing flavor (epoll) with tokio's multi_thread runtime, both with 2 \
         workers; `scope_*` the same on trioxide's default backend (`Io::Auto`: io_uring \
         here) against `JoinSet`; the `*_vs_*` rows compare \
         trioxide-sync with the named peer, all on one tokio multi_thread runtime (2 \
         workers), the `blocking_*` rows between plain threads; `tpc_*` run the echo on \
         trioxide's ThreadPerCore flavor (2 pinned cores, io_uring, owned buffers, one \
         `SO_REUSEPORT` listener per core steered by `SO_INCOMING_CPU`, so both ends of \
         each connection share a CPU) against tokio's multi_thread runtime, and \
         `*_vs_tokio_per_core_*` against tokio in that same per-core design (a pinned \
         current_thread runtime and steered listener per core); `http1_*` run hyper on \
         trioxide (WorkStealing, epoll; `_uring`: on io_uring; `_uring_completion`: on io_uring through \
         `CompletionIo`'s owned-buffer RECV/SEND; `_tpc_uring`: ThreadPerCore, io_uring) and on tokio \
         (multi_thread), 2 workers each, loaded by one generator on its own thread (`http1_hello_wrk*`: \
         by wrk, in a process of its own); `bare_tcp_echo_uring*` run the echo with no runtime at all \
         (two pinned threads driving a ring each), against the same tokio echo: the ceiling of the \
         io_uring rows on this machine.\n\n{table}\n{}{}",
        syscalls.unwrap_or_default(),
        cpu.map(|c| format!("\n{c}")).unwrap_or_default()
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/BENCHMARKS.md");
    if filter.is_empty() {
        std::fs::write(&path, doc).expect("write docs/BENCHMARKS.md");
        eprintln!("wrote {}", path.display());
    }
}

fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, Linux {}", kernel.trim())
}
