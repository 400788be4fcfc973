//! HTTP/1.1 hello world loaded by wrk, the load generator issue #7 names first: a C
//! program in a process of its own (`wrk -t1 -c100 --latency`), so neither server shares
//! a runtime, an allocator or a thread with its load. The servers are the ones of
//! `http.rs` (hyper, same handler, 2 workers), started in this process; each run points
//! one short wrk run at one of them.
//!
//! The `http1_hello_wrk*` rows report the time 100,000 requests take at the run's rate
//! (so their ratio is the inverse requests/s ratio) and wrk's 99th-percentile latency.
//! `cpu_section` then splits one run's CPU time per request into the server's user and
//! kernel time and wrk's, from `getrusage` of this process and of the wrk child: on a
//! 2-core machine where both are busy, that split bounds what any runtime can gain.
//! Without wrk on `PATH` (`cargo xtask bench` installs it where it can) the rows are
//! skipped with a note; the in-process generator rows of `http.rs` still run.

use crate::Bench;
use crate::http::{
    Transport, tokio_server, trioxide_server, trioxide_server_on, trioxide_server_with,
};
use crate::wrk_rows::{
    HTTP1_HELLO_WRK, HTTP1_HELLO_WRK_P99, HTTP1_HELLO_WRK_URING, HTTP1_HELLO_WRK_URING_COMPLETION,
};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use trioxide::runtime::Io;

/// wrk's connections (as the in-process generator's) and threads.
const CONNECTIONS: &str = "100";
const WRK_THREADS: &str = "1";
/// How long one timed run loads the server.
const RUN_SECONDS: u64 = 1;
/// The requests the throughput rows' times stand for.
const REQUESTS_PER_ROW: f64 = 100_000.0;

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub struct WrkRun {
    requests: u64,
    requests_per_sec: f64,
    p99: Duration,
    /// This process's (the server's) user and kernel CPU time during the run.
    server_user: Duration,
    server_kernel: Duration,
    /// wrk's CPU time (user plus kernel).
    wrk_cpu: Duration,
}

/// Whether wrk can be started.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("wrk")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
}

/// CPU time used so far by this process (`RUSAGE_SELF`) or its waited-for children
/// (`RUSAGE_CHILDREN`): (user, kernel).
fn cpu_times(who: libc::c_int) -> (Duration, Duration) {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable `rusage`; `who` is RUSAGE_SELF or
    // RUSAGE_CHILDREN.
    let rc = unsafe { libc::getrusage(who, &mut usage) };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (tv(usage.ru_utime), tv(usage.ru_stime))
}

/// One wrk run of `seconds` against `addr`.
fn run(addr: SocketAddr, seconds: u64) -> WrkRun {
    let (self_user, self_kernel) = cpu_times(libc::RUSAGE_SELF);
    let (child_user, child_kernel) = cpu_times(libc::RUSAGE_CHILDREN);
    let out = Command::new("wrk")
        .args(["-t", WRK_THREADS, "-c", CONNECTIONS, "--latency"])
        .arg(format!("-d{seconds}s"))
        .arg(format!("http://{addr}/bench"))
        .stderr(Stdio::inherit())
        .output()
        .expect("start wrk");
    let (self_user2, self_kernel2) = cpu_times(libc::RUSAGE_SELF);
    let (child_user2, child_kernel2) = cpu_times(libc::RUSAGE_CHILDREN);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {text}");
    let parsed = parse(&text).unwrap_or_else(|| panic!("unreadable wrk output:\n{text}"));
    WrkRun {
        server_user: self_user2 - self_user,
        server_kernel: self_kernel2 - self_kernel,
        wrk_cpu: (child_user2 - child_user) + (child_kernel2 - child_kernel),
        ..parsed
    }
}

/// Reads wrk's report: `N requests in ...`, `Requests/sec: R` and the `99%` row of
/// `--latency`'s distribution. CPU times are left zero.
fn parse(text: &str) -> Option<WrkRun> {
    let mut requests = None;
    let mut requests_per_sec = None;
    let mut p99 = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["Requests/sec:", rate] => requests_per_sec = rate.parse().ok(),
            ["99%", latency] => p99 = parse_latency(latency),
            [count, "requests", "in", ..] => requests = count.parse().ok(),
            _ => {}
        }
    }
    Some(WrkRun {
        requests: requests?,
        requests_per_sec: requests_per_sec?,
        p99: p99?,
        server_user: Duration::ZERO,
        server_kernel: Duration::ZERO,
        wrk_cpu: Duration::ZERO,
    })
}

/// wrk's latency figures: a number and a unit, `us`, `ms`, `s` or `m`.
fn parse_latency(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The time `REQUESTS_PER_ROW` requests take at `run`'s rate.
fn time_per_row(run: WrkRun) -> Duration {
    Duration::from_secs_f64(REQUESTS_PER_ROW / run.requests_per_sec.max(f64::MIN_POSITIVE))
}

/// The wrk rows; none, with a note, where wrk is missing.
pub fn benches() -> Vec<Bench> {
    if !available() {
        eprintln!(
            "wrk not found: the rows {} are skipped (cargo xtask bench installs it from Debian's packages where it can)",
            crate::wrk_rows::WRK_ROWS.join(", ")
        );
        return Vec::new();
    }
    // One tokio server serves every row's tokio side.
    let theirs: Arc<OnceLock<SocketAddr>> = Arc::new(OnceLock::new());
    let throughput = time_per_row as fn(WrkRun) -> Duration;
    let p99 = (|run: WrkRun| run.p99) as fn(WrkRun) -> Duration;
    let ours = Arc::new(OnceLock::new());
    vec![
        wrk_row(
            HTTP1_HELLO_WRK,
            "hyper hello world as in http1_hello, loaded by wrk in its own process (1 thread, 100 keep-alive connections, 1 s): time of 100,000 requests at the measured rate (ratio = inverse requests/s ratio)",
            (ours.clone(), trioxide_server),
            &theirs,
            throughput,
        ),
        wrk_row(
            HTTP1_HELLO_WRK_P99,
            "the same wrk load: wrk's 99th-percentile latency",
            (ours, trioxide_server),
            &theirs,
            p99,
        ),
        wrk_row(
            HTTP1_HELLO_WRK_URING,
            "the same wrk load on hyper over WorkStealing on io_uring (readiness-based I/O); tokio as in http1_hello_wrk",
            (Arc::new(OnceLock::new()), || {
                trioxide_server_on(Io::IoUring)
            }),
            &theirs,
            throughput,
        ),
        wrk_row(
            HTTP1_HELLO_WRK_URING_COMPLETION,
            "the same wrk load on hyper over WorkStealing on io_uring through CompletionIo (RECV/SEND operations on owned buffers); tokio as in http1_hello_wrk",
            (Arc::new(OnceLock::new()), || {
                trioxide_server_with(Io::IoUring, Transport::Completion)
            }),
            &theirs,
            throughput,
        ),
    ]
}

/// One wrk row: `measure` of a run against trioxide's server (started by `start` the
/// first time, kept in `ours`) and against tokio's (shared by every row in `theirs`).
fn wrk_row(
    name: &'static str,
    what: &'static str,
    (ours, start): (Arc<OnceLock<SocketAddr>>, fn() -> SocketAddr),
    theirs: &Arc<OnceLock<SocketAddr>>,
    measure: fn(WrkRun) -> Duration,
) -> Bench {
    let theirs = theirs.clone();
    Bench {
        name,
        what,
        trioxide: Box::new(move || measure(run(*ours.get_or_init(start), RUN_SECONDS))),
        tokio: Box::new(move || measure(run(*theirs.get_or_init(tokio_server), RUN_SECONDS))),
    }
}

/// Microseconds of `d` per request of `run`.
fn per_request(d: Duration, run: &WrkRun) -> f64 {
    d.as_secs_f64() * 1e6 / run.requests.max(1) as f64
}

/// The CPU split of one 3-second wrk run per server, as a markdown section; `None`
/// where wrk is missing.
pub fn cpu_section() -> Option<String> {
    if !available() {
        return None;
    }
    let servers: [(&str, SocketAddr); 5] = [
        (
            "bare epoll loop (no runtime, no hyper)",
            crate::bare_http::start(),
        ),
        ("trioxide (epoll)", trioxide_server()),
        ("trioxide (io_uring)", trioxide_server_on(Io::IoUring)),
        (
            "trioxide (io_uring, CompletionIo)",
            trioxide_server_with(Io::IoUring, Transport::Completion),
        ),
        ("tokio", tokio_server()),
    ];
    let mut rows = Vec::new();
    let mut rates = Vec::new();
    for (name, addr) in servers {
        run(addr, 1); // warm-up
        let r = run(addr, 3);
        let (user, kernel, wrk) = (
            per_request(r.server_user, &r),
            per_request(r.server_kernel, &r),
            per_request(r.wrk_cpu, &r),
        );
        let total = user + kernel + wrk;
        rates.push(r.requests_per_sec);
        rows.push(format!(
            "| {name} | {:.0} | {user:.2} | {kernel:.2} | {wrk:.2} | {total:.2} | {:.2} |",
            r.requests_per_sec,
            total / (kernel + wrk),
        ));
    }
    Some(format!(
        "## Where an HTTP request's CPU time goes (wrk)\n\n\
         One 3-second wrk run per server (after a 1-second warm-up), CPU time per request \
         in microseconds from `getrusage`: the server process's user and kernel time, and \
         wrk's. On 2 cores both are busy, so requests/s is about 2 s / (total per request). \
         The last column is how much faster the requests could come if the server spent \
         no user time at all, hyper's parsing included: the ceiling on what any runtime \
         can gain over another on this load, since the kernel's part is the same for both.\n\n\
         | server | requests/s | server user µs | server kernel µs | wrk µs | total µs | ceiling (no server user time) |\n\
         |---|---|---|---|---|---|---|\n{}\n\n\
         The bare loop (`bare_http.rs`: two threads, an epoll each, no parsing beyond each \
         request's blank line) answers {:.2}x tokio's requests/s in this run. A server \
         running hyper on any runtime does more work than it per request, so that is about \
         the most a runtime can gain over tokio on this load and machine.\n",
        rows.join("\n"),
        rates[0] / rates[rates.len() - 1],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 1s test @ http://127.0.0.1:40000/bench
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.96ms  300.00us   5.00ms   90.00%
    Req/Sec   101.00k     2.00k  104.00k    80.00%
  Latency Distribution
     50%  719.00us
     75%    1.02ms
     90%    1.40ms
     99%    2.00ms
  101813 requests in 1.00s, 8.45MB read
Requests/sec: 101813.79
Transfer/sec:      8.45MB
";

    #[test]
    fn wrk_reports_are_read() {
        let run = parse(REPORT).expect("a full report");
        assert_eq!(run.requests, 101_813);
        assert!((run.requests_per_sec - 101_813.79).abs() < 1e-6);
        assert_eq!(run.p99, Duration::from_millis(2));
    }

    #[test]
    fn latencies_keep_their_units_and_bad_ones_are_refused() {
        assert_eq!(parse_latency("719.00us"), Some(Duration::from_micros(719)));
        assert_eq!(parse_latency("1.50s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_latency("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_latency("3.0h"), None);
        assert_eq!(parse_latency("ms"), None);
        assert!(parse("Requests/sec: 5\n").is_none(), "no p99, no run");
    }
}
