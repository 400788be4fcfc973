//! `IORING_OP_TIMEOUT` as a one-shot timer: [`UringOps::sleep`].
//!
//! The kernel completes a pure timeout (no completion count) with `-ETIME` when it
//! expires, which is the timer's success; an async cancel (a dropped future) completes it
//! with `-ECANCELED`. The `timespec` the SQE points to lives in the op's slab slot until
//! the CQE. The reactor's own waits do not use timeout SQEs: they pass the timer wheel's
//! deadline through `IORING_ENTER_EXT_ARG` (see `sys.rs`).

use super::{Op, UringOps};
use crate::uring::slab::Keep;
use io_uring::{opcode, types};
use std::io;
use std::time::Duration;

impl UringOps {
    /// Completes after `duration`, measured by the kernel (`CLOCK_MONOTONIC`).
    pub fn sleep(&self, duration: Duration) -> Op<io::Result<()>> {
        let ts = Box::new(
            types::Timespec::new()
                .sec(duration.as_secs())
                .nsec(duration.subsec_nanos()),
        );
        let entry = opcode::Timeout::new(&*ts as *const types::Timespec).build();
        // SAFETY: the SQE points into the boxed `Timespec`, which `Keep::Timespec` owns
        // until the CQE; moving the box does not move its contents.
        unsafe { self.submit(entry, Keep::Timespec(ts), false, finish_timeout) }
    }
}

/// `-ETIME` is an expired timer: success.
fn finish_timeout(res: i32, _keep: Keep) -> io::Result<()> {
    match res {
        r if r == -libc::ETIME || r >= 0 => Ok(()),
        r => Err(io::Error::from_raw_os_error(-r)),
    }
}

#[cfg(test)]
mod tests {
    use super::finish_timeout;
    use crate::uring::slab::Keep;
    use crate::uring::tests::{block_on, driver_or_skip, turn_until};
    use std::time::{Duration, Instant};

    #[test]
    fn sleeps_at_least_the_duration() {
        let Some(driver) = driver_or_skip("sleeps_at_least_the_duration") else {
            return;
        };
        let start = Instant::now();
        block_on(&driver, driver.ops().sleep(Duration::from_millis(20))).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn dropped_sleep_is_cancelled_and_freed() {
        let Some(driver) = driver_or_skip("dropped_sleep_is_cancelled_and_freed") else {
            return;
        };
        let ops = driver.ops();
        let timers: Vec<_> = (0..100)
            .map(|_| ops.sleep(Duration::from_secs(3600)))
            .collect();
        turn_until(&driver, || false, 1);
        assert_eq!(ops.in_flight(), 100);
        drop(timers);
        turn_until(&driver, || ops.in_flight() == 0, 200);
        assert_eq!(
            ops.in_flight(),
            0,
            "cancelled hour-long timers freed their timespecs"
        );
    }

    #[test]
    fn results_map_to_expiry_or_error() {
        assert!(finish_timeout(-libc::ETIME, Keep::None).is_ok());
        assert!(finish_timeout(0, Keep::None).is_ok());
        let err = finish_timeout(-libc::ECANCELED, Keep::None).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
    }
}
