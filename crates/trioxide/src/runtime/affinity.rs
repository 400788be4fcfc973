//! Pinning a thread to one CPU (`sched_setaffinity`), for `Builder::pin_threads`.

/// Pins the calling thread to CPU `index % available CPUs`. Failure (e.g. a restricted
/// cpuset) leaves the thread unpinned: pinning is an optimisation, never required.
pub(crate) fn pin_current_thread(index: usize) {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cpu = index % cpus;
    // SAFETY: `cpu_set_t` is plain data for which all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE (available_parallelism is far smaller), and
    // `set` is a valid cpu_set_t.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is valid for its size.
    let _ = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
}

/// The CPU the calling thread runs on now (`sched_getcpu`); `None` where the kernel does
/// not say. On a thread pinned to one CPU (`Builder::pin_threads`) it is that CPU.
///
/// ```
/// match trioxide::runtime::current_cpu() {
///     Some(cpu) => println!("running on CPU {cpu}"),
///     None => println!("the kernel does not say which CPU this is"),
/// }
/// ```
pub fn current_cpu() -> Option<usize> {
    // SAFETY: plain call with no arguments; a negative result means unavailable.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}
