//! `TcpListener::accept` under descriptor exhaustion: with the process's descriptor table
//! full, clients that connected wait in the backlog and `accept` gets `EMFILE`. trioxide's
//! accept must back off (the process uses little CPU while exhausted: no spin) and accept
//! every waiting client once descriptors free up.
//!
//! Lowering `RLIMIT_NOFILE` and filling the table is process-wide, so the work runs in a
//! child process (this test binary re-run with a marker variable and a filter selecting the
//! child test), one configuration after the other.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use trioxide::net::TcpListener;

const CHILD_ENV: &str = "TRIOXIDE_ACCEPT_EXHAUSTION_CHILD";
/// Clients left waiting in the backlog while the table is full.
const CLIENTS: usize = 8;
/// How long the table stays full.
const EXHAUSTED_FOR: Duration = Duration::from_secs(1);

fn rlimit_nofile() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the rlimit we pass.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim
}

fn set_rlimit_nofile(lim: libc::rlimit) {
    // SAFETY: setrlimit reads the rlimit we pass.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

/// The highest descriptor number open in this process.
fn highest_open_fd() -> RawFd {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
        .max()
        .unwrap_or(2)
}

/// Lowers the soft descriptor limit to just above what is open and fills the rest of the
/// table; returns the fillers (dropping them frees the table) and the limit to restore.
fn exhaust_descriptors() -> (Vec<OwnedFd>, libc::rlimit) {
    let saved = rlimit_nofile();
    let low = (highest_open_fd() as libc::rlim_t + 1 + 16).min(saved.rlim_cur);
    set_rlimit_nofile(libc::rlimit {
        rlim_cur: low,
        rlim_max: saved.rlim_max,
    });
    let mut fillers = Vec::new();
    loop {
        // SAFETY: dup of stdin's number; the result is checked and then owned.
        let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            let err = std::io::Error::last_os_error();
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
            break;
        }
        // SAFETY: `fd` was just returned to us.
        fillers.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    (fillers, saved)
}

/// A non-blocking TCP socket, created before the table is filled.
fn client_socket() -> OwnedFd {
    // SAFETY: plain syscall; the result is checked and then owned.
    let fd = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    assert!(fd >= 0);
    // SAFETY: `fd` was just returned to us.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Starts a non-blocking connect of `fd` to `addr` (needs no new descriptor).
fn start_connect(fd: &OwnedFd, addr: std::net::SocketAddrV4) {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.ip().octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in of the size passed.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    let err = std::io::Error::last_os_error();
    assert!(
        rc == 0 || err.raw_os_error() == Some(libc::EINPROGRESS),
        "{err}"
    );
}

/// User plus system CPU time of the whole process (every thread).
fn process_cpu_time() -> Duration {
    // SAFETY: all-zero is a valid rusage, which getrusage fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes the rusage we pass.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// One configuration: exhaust, connect, measure, free, recover.
async fn accept_backs_off_and_recovers() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let std::net::SocketAddr::V4(addr) = listener.local_addr().unwrap() else {
        unreachable!("bound to an IPv4 address")
    };
    let listener_fd = listener.as_raw_fd();
    let clients: Vec<OwnedFd> = (0..CLIENTS).map(|_| client_socket()).collect();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();

    let (fillers, saved) = exhaust_descriptors();
    for c in &clients {
        start_connect(c, addr);
    }
    // The premise: a waiting client, and accept fails for want of a descriptor (the
    // kernel leaves the connection queued).
    // SAFETY: accept4 with null address pointers on the listener's descriptor.
    let rc = unsafe {
        libc::accept4(
            listener_fd,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_CLOEXEC,
        )
    };
    assert_eq!(rc, -1, "the table is full");
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EMFILE)
    );

    let server = trioxide::spawn(async move {
        let mut conns = Vec::new();
        for _ in 0..CLIENTS {
            let (conn, _) = listener
                .accept()
                .await
                .expect("accept backs off, never fails");
            conns.push(conn);
            count.fetch_add(1, Ordering::SeqCst);
        }
        conns.len()
    });
    let (cpu_before, wall_before) = (process_cpu_time(), Instant::now());
    trioxide::time::sleep(EXHAUSTED_FOR).await;
    let cpu = process_cpu_time() - cpu_before;
    let wall = wall_before.elapsed();
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "nothing accepted while exhausted"
    );
    // A spinning accept loop burns a whole core (cpu ~ wall); backing off costs a few
    // wake-ups. The bound is generous for a loaded machine.
    assert!(
        cpu < wall / 4,
        "accept spun while exhausted: {cpu:?} CPU in {wall:?}"
    );

    drop(fillers);
    set_rlimit_nofile(saved);
    let n = trioxide::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("every waiting client accepted within 10 s of descriptors freeing up")
        .unwrap();
    assert_eq!(n, CLIENTS);
    println!("cpu {cpu:?} in {wall:?}");
}

#[test]
fn accept_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return; // only meaningful in the child process
    }
    for &(name, flavor, io) in trioxide_tests::CONFIGS {
        let Some(rt) = trioxide_tests::try_runtime(flavor, io) else {
            continue;
        };
        rt.block_on(accept_backs_off_and_recovers());
        drop(rt);
        println!("exhaustion-ok {name}");
    }
}

#[test]
fn accept_backs_off_under_descriptor_exhaustion_and_recovers() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, "1")
        .args(["--exact", "accept_child", "--nocapture", "--test-threads=1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    for &(name, _, _) in trioxide_tests::CONFIGS.iter().take(3) {
        assert!(
            stdout.contains(&format!("exhaustion-ok {name}")),
            "{name} ran: {stdout}"
        );
    }
    println!("{stdout}");
}
