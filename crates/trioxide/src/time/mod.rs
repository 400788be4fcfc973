//! Time: `sleep`, `sleep_until`, `timeout`, `interval` and trioxide's `Instant`, all on
//! the runtime's hierarchical timer wheel (1 ms resolution, O(1) arm and disarm), and
//! virtual time for tests ([`pause`], [`resume`], [`advance`],
//! `Builder::start_paused`).
//!
//! ```
//! use std::time::Duration;
//! use trioxide::time::{sleep, timeout};
//!
//! trioxide::run(async {
//!     sleep(Duration::from_millis(5)).await;
//!     let slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(60))).await;
//!     assert!(slow.is_err());
//! });
//! ```

mod clock;
mod instant;
mod interval;
mod sleep;
mod timeout;

pub use clock::{TimeControlError, advance, is_paused, pause, resume};
pub use instant::Instant;
pub use interval::{Interval, interval, interval_at};
pub use sleep::{Sleep, sleep, sleep_until};
pub use std::time::Duration;
pub(crate) use timeout::hard_timeout;
pub use timeout::{Elapsed, Timeout, timeout, timeout_at};
