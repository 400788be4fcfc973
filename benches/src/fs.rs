//! Random 4 KiB reads from a 1 GiB file with 64 reads in flight: trioxide's
//! `File::read_at` (io_uring `READ` ops, or the blocking pool on epoll) vs `tokio::fs`
//! (a blocking-pool hop per operation), both runtimes with 2 workers.
//!
//! The file is written once (real data, not sparse, so reads hit page-cache pages rather
//! than the zero page) under `target/bench-data/` and reused by later runs.

use crate::Bench;
use std::path::PathBuf;
use std::time::Duration;
use trioxide::runtime::Io;

const FILE_SIZE: u64 = 1 << 30;
const BLOCK: usize = 4096;
const IN_FLIGHT: usize = 64;
const READS_PER_TASK: usize = 200;

/// The 1 GiB data file, created on first use.
fn data_file() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-data");
    let path = dir.join("random-reads-1GiB.bin");
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == FILE_SIZE) {
        return path;
    }
    std::fs::create_dir_all(&dir).expect("create target/bench-data");
    let tmp = dir.join("random-reads-1GiB.bin.tmp");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).expect("create data file"));
    let mut chunk = vec![0u8; 1 << 20];
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..(FILE_SIZE >> 20) {
        for w in chunk.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        std::io::Write::write_all(&mut f, &chunk).expect("write data file");
    }
    drop(f);
    std::fs::rename(&tmp, &path).expect("rename data file");
    path
}

/// Block-aligned offsets of task `task`'s reads (a fixed pseudo-random sequence, the same
/// for both runtimes).
fn offsets(task: usize) -> impl Iterator<Item = u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (task as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (0..READS_PER_TASK).map(move |_| {
        x ^= x >> 30;
        x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^= x >> 31;
        (x % (FILE_SIZE / BLOCK as u64)) * BLOCK as u64
    })
}

fn trioxide_rt(io: Io) -> trioxide::Runtime {
    trioxide::Runtime::builder()
        .flavor(trioxide::runtime::Flavor::WorkStealing)
        .worker_threads(2)
        .io(io)
        .build()
        .expect("trioxide runtime")
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn trioxide_reads(path: PathBuf) -> Duration {
    let file = std::sync::Arc::new(trioxide::fs::File::open(&path).await.unwrap());
    let start = std::time::Instant::now();
    let tasks: Vec<_> = (0..IN_FLIGHT)
        .map(|t| {
            let file = file.clone();
            trioxide::spawn(async move {
                let mut buf = Vec::with_capacity(BLOCK);
                for off in offsets(t) {
                    let (res, back) = file.read_at(buf, off).await;
                    assert_eq!(res.unwrap(), BLOCK);
                    buf = back;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

async fn tokio_reads(path: PathBuf) -> Duration {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let start = std::time::Instant::now();
    let tasks: Vec<_> = (0..IN_FLIGHT)
        .map(|t| {
            let path = path.clone();
            tokio::spawn(async move {
                // tokio::fs::File has no positional read: one handle per task, seek + read.
                let mut file = tokio::fs::File::open(&path).await.unwrap();
                let mut buf = vec![0u8; BLOCK];
                for off in offsets(t) {
                    file.seek(std::io::SeekFrom::Start(off)).await.unwrap();
                    file.read_exact(&mut buf).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn read_bench(name: &'static str, what: &'static str, io: Io) -> Bench {
    Bench {
        name,
        what,
        trioxide: Box::new(move || trioxide_rt(io).block_on(trioxide_reads(data_file()))),
        tokio: Box::new(|| tokio_rt().block_on(tokio_reads(data_file()))),
    }
}

/// Every file benchmark.
pub fn benches() -> Vec<Bench> {
    vec![
        read_bench(
            "fs_random_4KiB_reads_uring",
            "64 tasks x 200 random 4 KiB reads of a 1 GiB file (io_uring READ ops) vs tokio::fs",
            Io::IoUring,
        ),
        read_bench(
            "fs_random_4KiB_reads_epoll",
            "the same on the epoll backend (trioxide's blocking pool) vs tokio::fs",
            Io::Epoll,
        ),
    ]
}
