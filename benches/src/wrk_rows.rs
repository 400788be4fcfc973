//! The names of the rows that run wrk, in one place: the harness names its rows with
//! them (`wrk.rs`), and `cargo xtask bench` (which includes this file) installs wrk only
//! when its filter can select one of them.

/// Throughput under wrk on epoll.
pub const HTTP1_HELLO_WRK: &str = "http1_hello_wrk";
/// The same load's 99th-percentile latency.
pub const HTTP1_HELLO_WRK_P99: &str = "http1_hello_wrk_p99";
/// Throughput on io_uring, readiness-based I/O.
pub const HTTP1_HELLO_WRK_URING: &str = "http1_hello_wrk_uring";
/// Throughput on io_uring through `CompletionIo`.
pub const HTTP1_HELLO_WRK_URING_COMPLETION: &str = "http1_hello_wrk_uring_completion";

/// Every wrk row.
pub const WRK_ROWS: &[&str] = &[
    HTTP1_HELLO_WRK,
    HTTP1_HELLO_WRK_P99,
    HTTP1_HELLO_WRK_URING,
    HTTP1_HELLO_WRK_URING_COMPLETION,
];

/// The filter that selects the wrk CPU table.
pub const WRK_CPU_FILTER: &str = "wrk-cpu";
