//! What every stress scenario shares: the size mode read from `TRIOXIDE_STRESS_SCALE`, a
//! seeded generator, the runtime configurations, a watchdog that ends a hung round, a lock
//! that runs the scenarios one at a time, a counting allocator for leak checks, and the
//! descriptor limit.
//!
//! Sizes: with `TRIOXIDE_STRESS_SCALE` unset (or 0) each scenario runs its small "ci"
//! size; with it set to `N` each scenario runs `N` rounds at issue #9's figures, each
//! round with its own seed. Live memory and descriptors stay those of one round, and every
//! round is bounded in time by [`bounded`], so `cargo xtask stress 50` ends by itself.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};
use trioxide::runtime::{Flavor, Io, Runtime};

/// The environment variable selecting the stress sizes (see the module docs).
pub const SCALE_ENV: &str = "TRIOXIDE_STRESS_SCALE";

/// How big the scenarios run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The bounded subset `cargo xtask ci` runs (debug build, loaded machine).
    Ci,
    /// `rounds` rounds at the figures (`cargo xtask stress [rounds]`).
    Stress {
        /// Rounds per scenario and configuration.
        rounds: usize,
    },
}

impl Mode {
    /// Reads [`SCALE_ENV`].
    pub fn from_env() -> Mode {
        match std::env::var(SCALE_ENV).ok().and_then(|s| s.parse().ok()) {
            None | Some(0) => Mode::Ci,
            Some(rounds) => Mode::Stress { rounds },
        }
    }

    /// `ci` in ci mode, `stress` otherwise.
    pub fn pick<T>(self, ci: T, stress: T) -> T {
        match self {
            Mode::Ci => ci,
            Mode::Stress { .. } => stress,
        }
    }

    /// Rounds per configuration (1 in ci mode).
    pub fn rounds(self) -> usize {
        match self {
            Mode::Ci => 1,
            Mode::Stress { rounds } => rounds,
        }
    }
}

/// A tiny deterministic generator (xorshift64), so a failing seed replays.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; zero is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// Every configuration the scenarios run on: (name, flavor, io).
pub fn configs() -> impl Iterator<Item = (&'static str, Flavor, Io)> {
    trioxide_tests::CONFIGS.iter().copied()
}

/// The runtime for one configuration, or `None` (with a message) where io_uring is refused.
pub fn runtime(flavor: Flavor, io: Io) -> Option<Runtime> {
    trioxide_tests::try_runtime(flavor, io)
}

/// Runs `round` with a watchdog: if it has not returned after `limit`, the process prints
/// what hung and exits with a failure instead of hanging (a hung runtime may not fire the
/// timers an in-runtime timeout would need). Prints the round's duration on return.
pub fn bounded<T>(what: &str, limit: Duration, round: impl FnOnce() -> T) -> T {
    let (done, wait) = mpsc::channel::<()>();
    let name = what.to_string();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(limit) {
            eprintln!("stress: {name} still running after {limit:?}: a hang; failing the run");
            std::process::exit(101);
        }
    });
    let start = Instant::now();
    let out = round();
    let took = start.elapsed();
    drop(done);
    watchdog.join().expect("the watchdog thread does not panic");
    println!("stress: {what}: {took:.2?}");
    out
}

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Serialises the scenarios of this binary (under `cargo test` they would otherwise run on
/// parallel threads, overloading the machine and mixing the allocation counts).
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The system allocator, counting live allocations and bytes for the leak checks.
struct CountingAlloc;

static LIVE_ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counters are bookkeeping only.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on unchanged.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from our `alloc`/`realloc`, i.e. from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller upholds `realloc`'s contract, which we pass on unchanged.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: CountingAlloc = CountingAlloc;

/// Live heap allocations and bytes of the whole process right now.
#[derive(Clone, Copy, Debug)]
pub struct HeapSnapshot {
    /// Allocations not yet freed.
    pub allocations: isize,
    /// Bytes in them.
    pub bytes: isize,
}

impl HeapSnapshot {
    /// Reads the counters.
    pub fn now() -> HeapSnapshot {
        HeapSnapshot {
            allocations: LIVE_ALLOCATIONS.load(Ordering::Relaxed),
            bytes: LIVE_BYTES.load(Ordering::Relaxed),
        }
    }

    /// What is live now that was not at `self`.
    pub fn growth(self) -> HeapSnapshot {
        let now = HeapSnapshot::now();
        HeapSnapshot {
            allocations: now.allocations - self.allocations,
            bytes: now.bytes - self.bytes,
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the rlimit we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the rlimit we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return raised.rlim_cur;
        }
    }
    lim.rlim_cur
}

/// Polls `count` until it reads zero, for at most 10 s; returns the last reading. Counters
/// such as `live_tasks` lag a task's completion a little on multi-threaded flavors (the
/// worker releases the task just after its handle can see the result).
pub fn settles_to_zero(mut count: impl FnMut() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = count();
        if n == 0 || Instant::now() >= deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
