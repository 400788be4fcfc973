//! The io_uring probe: decides, before a runtime commits to io_uring, whether this process
//! may use it — the checks of issue 6's `Io::Auto` selection.
//!
//! In order: the test hook [`FORCE_UNAVAILABLE_ENV`]; the `kernel.io_uring_disabled`
//! sysctl (`2`: disabled for everyone; `1`: only for the `io_uring_group`, so setup is
//! tried and its `EPERM` explained); `io_uring_setup` itself, whose errors are translated
//! (`ENOSYS`: kernel without io_uring, `EPERM`: seccomp or container policy, `ENOMEM`:
//! locked-memory limit); the `IORING_FEAT_EXT_ARG` feature (timed waits); and, through
//! `IORING_REGISTER_PROBE`, every opcode the driver submits.

use super::sys::Ring;
use io_uring::{Probe, opcode};
use std::io;

/// Setting this environment variable to anything but `""` or `"0"` makes [`probe`] fail,
/// so tests (and users) can exercise the epoll fallback and the "io_uring unavailable"
/// error paths on a kernel where io_uring works.
pub const FORCE_UNAVAILABLE_ENV: &str = "TRIOXIDE_IO_URING_FORCE_UNAVAILABLE";

/// Why io_uring cannot be used here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("io_uring is unavailable: {reason}")]
pub struct UringUnavailable {
    /// A human-readable explanation (which check failed, and the OS error if any).
    pub reason: String,
}

impl UringUnavailable {
    fn new(reason: impl Into<String>) -> UringUnavailable {
        UringUnavailable {
            reason: reason.into(),
        }
    }
}

impl From<UringUnavailable> for io::Error {
    fn from(e: UringUnavailable) -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, e)
    }
}

/// The opcodes the driver submits, with their names for error messages.
const REQUIRED: &[(u8, &str)] = &[
    (opcode::PollAdd::CODE, "POLL_ADD"),
    (opcode::PollRemove::CODE, "POLL_REMOVE"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    (opcode::Read::CODE, "READ"),
    (opcode::Write::CODE, "WRITE"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::Send::CODE, "SEND"),
    (opcode::Accept::CODE, "ACCEPT"),
    (opcode::Connect::CODE, "CONNECT"),
    (opcode::OpenAt::CODE, "OPENAT"),
    (opcode::Close::CODE, "CLOSE"),
    (opcode::Fsync::CODE, "FSYNC"),
    (opcode::Statx::CODE, "STATX"),
    (opcode::Timeout::CODE, "TIMEOUT"),
    (opcode::LinkTimeout::CODE, "LINK_TIMEOUT"),
    (opcode::SendMsg::CODE, "SENDMSG"),
    (opcode::RecvMsg::CODE, "RECVMSG"),
];

/// Checks that io_uring is usable by this process; `Err` says why not.
pub fn probe() -> Result<(), UringUnavailable> {
    if let Ok(v) = std::env::var(FORCE_UNAVAILABLE_ENV)
        && !v.is_empty()
        && v != "0"
    {
        return Err(UringUnavailable::new(format!(
            "forced by {FORCE_UNAVAILABLE_ENV}={v}"
        )));
    }
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .map(|s| s.trim().to_owned());
    if disabled.as_deref() == Some("2") {
        return Err(UringUnavailable::new(
            "disabled by the kernel.io_uring_disabled sysctl (= 2)",
        ));
    }
    let ring = Ring::new(8, 16).map_err(|e| setup_error(&e, disabled.as_deref()))?;
    if !ring.params().is_feature_ext_arg() {
        return Err(UringUnavailable::new(
            "the kernel lacks IORING_FEAT_EXT_ARG (timed waits; Linux 5.11+)",
        ));
    }
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| UringUnavailable::new(format!("IORING_REGISTER_PROBE failed: {e}")))?;
    let missing: Vec<&str> = REQUIRED
        .iter()
        .filter(|(code, _)| !probe.is_supported(*code))
        .map(|(_, name)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(UringUnavailable::new(format!(
            "the kernel lacks the opcodes {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

/// Whether the running kernel's release (`/proc/sys/kernel/osrelease`, e.g.
/// `6.8.0-45-generic`) is at least `major.minor`; `false` if it cannot be read. Used for
/// features the opcode probe cannot see, such as multishot accept (5.19).
pub(crate) fn kernel_at_least(major: u32, minor: u32) -> bool {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|release| parse_release(&release))
        .is_some_and(|version| version >= (major, minor))
}

/// `(major, minor)` of a kernel release string.
fn parse_release(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn setup_error(e: &io::Error, disabled: Option<&str>) -> UringUnavailable {
    let why = match e.raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no io_uring (ENOSYS)".to_owned(),
        Some(libc::EPERM) if disabled == Some("1") => {
            "io_uring_setup denied (EPERM): kernel.io_uring_disabled = 1 and this process \
             is not in io_uring_group"
                .to_owned()
        }
        Some(libc::EPERM) => {
            "io_uring_setup denied (EPERM): blocked by seccomp or the container runtime".to_owned()
        }
        Some(libc::ENOMEM) => {
            "io_uring_setup failed (ENOMEM): the locked-memory limit (ulimit -l) is too low"
                .to_owned()
        }
        _ => format!("io_uring_setup failed: {e}"),
    };
    UringUnavailable::new(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_errors_are_explained() {
        let msg =
            |errno, disabled| setup_error(&io::Error::from_raw_os_error(errno), disabled).reason;
        assert!(msg(libc::ENOSYS, None).contains("ENOSYS"));
        assert!(msg(libc::EPERM, None).contains("seccomp"));
        assert!(msg(libc::EPERM, Some("1")).contains("io_uring_group"));
        assert!(msg(libc::ENOMEM, None).contains("ulimit -l"));
        assert!(msg(libc::EINVAL, None).contains("io_uring_setup failed"));
    }

    #[test]
    fn kernel_releases_parse() {
        assert_eq!(parse_release("6.8.0-45-generic\n"), Some((6, 8)));
        assert_eq!(parse_release("5.19-rc1"), Some((5, 19)));
        assert_eq!(parse_release("garbage"), None);
        assert!((5, 19) >= (5, 19) && (6, 1) >= (5, 19) && (5, 4) < (5, 19));
    }

    #[test]
    fn unavailable_converts_to_unsupported() {
        let err: io::Error = UringUnavailable::new("because").into();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        assert!(err.to_string().contains("because"));
    }

    #[test]
    fn probe_agrees_with_driver_setup() {
        // The forced-failure hook is tested in a separate process (tests/uring_probe.rs),
        // since environment variables are process-wide.
        if std::env::var_os(FORCE_UNAVAILABLE_ENV).is_some() {
            return;
        }
        match probe() {
            Ok(()) => {
                super::super::UringDriver::new().expect("probe passed, setup must work");
            }
            Err(e) => eprintln!("skipping: {e}"),
        }
    }
}
