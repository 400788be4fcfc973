//! Backend selection when io_uring is refused: `Io::Auto` falls back to epoll and still
//! runs sockets, `Io::IoUring` fails with the typed `BuildError::IoUringUnavailable`
//! (and a reason saying what to do).
//!
//! Two ways of refusing, each in a child process (this binary re-run with a marker
//! variable; limits and environment variables are process-wide):
//! - the test hook `TRIOXIDE_IO_URING_FORCE_UNAVAILABLE=1`: always refused;
//! - `RLIMIT_MEMLOCK` lowered to 0 (and, when running as root, `CAP_IPC_LOCK` dropped,
//!   since it overrides the limit). Kernels since 5.12 charge ring memory to the memory
//!   cgroup instead of the locked-memory limit, so there io_uring may still work: the
//!   child then reports that, and the test checks that whichever backend was chosen works
//!   and that a refusal is explained with the limit (`ulimit -l`).

use std::process::Command;
use trioxide::runtime::{BuildError, Flavor, Io, IoBackend, Runtime};

const CHILD_ENV: &str = "TRIOXIDE_FALLBACK_CHILD";
const FORCE_ENV: &str = "TRIOXIDE_IO_URING_FORCE_UNAVAILABLE";

/// Runs the child test `name` with `envs`; returns its stdout, asserting it passed.
fn run_child(name: &str, envs: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env(CHILD_ENV, name)
        .env_remove(trioxide_tests::REQUIRE_IO_URING) // each child sets what it tests
        .env_remove(FORCE_ENV)
        .args(["--exact", name, "--nocapture", "--test-threads=1"]);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child {name} failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("1 passed"), "child {name} ran:\n{stdout}");
    stdout
}

fn in_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|v| v == name)
}

/// A TCP round trip on `rt`, whatever its backend.
fn sockets_work(rt: &Runtime) {
    use trioxide::io::{AsyncReadExt, AsyncWriteExt};
    rt.block_on(async {
        let listener = trioxide::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let server = trioxide::spawn(async move {
            let (mut c, _) = listener.accept().await.unwrap();
            c.write_all(b"ok").await.unwrap();
        });
        let mut s = trioxide::net::TcpStream::connect(addr).await.unwrap();
        let mut b = [0u8; 2];
        s.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ok");
        server.await.unwrap();
    });
}

fn build(io: Io) -> Result<Runtime, BuildError> {
    Runtime::builder()
        .flavor(Flavor::WorkStealing)
        .worker_threads(1)
        .io(io)
        .build()
}

#[test]
fn forced_unavailable_falls_back_or_fails_typed() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    run_child("child_forced", &[(FORCE_ENV, "1")]);
}

#[test]
fn child_forced() {
    if !in_child("child_forced") {
        return;
    }
    let rt = build(Io::Auto).expect("Io::Auto always builds");
    assert_eq!(rt.io_backend(), IoBackend::Epoll, "Auto fell back to epoll");
    sockets_work(&rt);
    match build(Io::IoUring) {
        Err(BuildError::IoUringUnavailable { reason }) => {
            assert!(reason.contains(FORCE_ENV), "{reason}");
        }
        Err(e) => panic!("wrong error type: {e}"),
        Ok(_) => panic!("Io::IoUring must fail while io_uring is forced off"),
    }
    let msg = build(Io::IoUring).err().unwrap().to_string();
    assert!(
        msg.contains("use Io::Auto"),
        "the error says what to do: {msg}"
    );
}

/// The suite's io_uring configurations skip where io_uring is refused, unless
/// `TRIOXIDE_TEST_REQUIRE_IO_URING` is set: then the skip is a failure, so a machine that
/// must run both backends cannot pass without running them.
#[test]
fn a_required_io_uring_turns_the_suites_skip_into_a_failure() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    run_child("child_skip_or_require", &[(FORCE_ENV, "1")]);
}

#[test]
fn child_skip_or_require() {
    if !in_child("child_skip_or_require") {
        return;
    }
    // Refused and not required: skipped, no panic.
    assert!(trioxide_tests::try_runtime(Flavor::CurrentThread, Io::IoUring).is_none());
    // Refused and required: a failure that names the variable.
    // SAFETY: this child process runs this one test on one thread (`--test-threads=1`),
    // and no runtime or other thread exists while the variable is written.
    unsafe { std::env::set_var(trioxide_tests::REQUIRE_IO_URING, "1") };
    let failed = std::panic::catch_unwind(|| {
        trioxide_tests::try_runtime(Flavor::CurrentThread, Io::IoUring).is_none()
    })
    .expect_err("the required configuration was skipped");
    let msg = failed
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(msg.contains(trioxide_tests::REQUIRE_IO_URING), "{msg}");
}

#[test]
fn memlock_zero_falls_back_or_still_works() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let out = run_child("child_memlock", &[]);
    // Shown with --nocapture: which case this kernel is.
    for line in out.lines().filter(|l| l.starts_with("memlock:")) {
        println!("{line}");
    }
    assert!(out.contains("memlock:"), "{out}");
}

/// Drops `CAP_IPC_LOCK` (which lets root ignore `RLIMIT_MEMLOCK`) from this process's
/// effective and permitted sets; returns whether it was held.
fn drop_cap_ipc_lock() -> bool {
    const CAP_IPC_LOCK: u32 = 14;
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes two `Data` entries (version 3) and reads the header.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget: {}", std::io::Error::last_os_error());
    let bit = 1u32 << CAP_IPC_LOCK;
    let held = data[0].effective & bit != 0;
    data[0].effective &= !bit;
    data[0].permitted &= !bit;
    // SAFETY: capset reads the header and two `Data` entries; dropping a capability is
    // always allowed.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
    held
}

#[test]
fn child_memlock() {
    if !in_child("child_memlock") {
        return;
    }
    let zero = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: setrlimit reads the rlimit we pass; lowering a limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &zero) }, 0);
    let had_cap = drop_cap_ipc_lock();
    let auto = build(Io::Auto).expect("Io::Auto always builds");
    sockets_work(&auto);
    match build(Io::IoUring) {
        Ok(rt) => {
            assert_eq!(
                auto.io_backend(),
                IoBackend::IoUring,
                "Auto agrees with IoUring"
            );
            sockets_work(&rt);
            println!(
                "memlock: io_uring still works with RLIMIT_MEMLOCK=0 (CAP_IPC_LOCK dropped: \
                 {had_cap}): this kernel charges ring memory to the memory cgroup"
            );
        }
        Err(BuildError::IoUringUnavailable { reason }) => {
            assert_eq!(
                auto.io_backend(),
                IoBackend::Epoll,
                "Auto fell back to epoll"
            );
            assert!(
                reason.contains("ulimit -l"),
                "the reason names the limit: {reason}"
            );
            println!("memlock: refused ({reason}); Auto fell back to epoll");
        }
        Err(e) => panic!("wrong error type: {e}"),
    }
}
