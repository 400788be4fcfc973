//! The defaults that come from outside the code: `TRIOXIDE_DEBUG` turns debug mode on
//! (and `0` or empty leaves it off), and the cancellation grace period is 5 s unless the
//! builder sets another. One test in its own binary: it sets process environment
//! variables, which no other thread may read meanwhile.

use std::time::Duration;
use trioxide::runtime::{Builder, Flavor};

fn debug_with(value: Option<&str>) -> bool {
    // SAFETY: this binary has a single test, so no other test reads the environment
    // meanwhile, and the threads a runtime may leave behind for a moment after its drop
    // (a debug-mode watchdog) never read it.
    unsafe {
        match value {
            Some(v) => std::env::set_var("TRIOXIDE_DEBUG", v),
            None => std::env::remove_var("TRIOXIDE_DEBUG"),
        }
    }
    let rt = Builder::new()
        .flavor(Flavor::CurrentThread)
        .build()
        .unwrap();
    rt.block_on(async { trioxide::runtime::Handle::current().is_debug() })
}

#[test]
fn debug_mode_follows_trioxide_debug_and_the_grace_period_defaults_to_five_seconds() {
    assert!(!debug_with(None), "off without the variable");
    assert!(debug_with(Some("1")), "TRIOXIDE_DEBUG=1 turns it on");
    assert!(debug_with(Some("yes")), "any other value too");
    assert!(!debug_with(Some("0")), "0 leaves it off");
    assert!(!debug_with(Some("")), "so does an empty value");
    // An explicit builder setting wins over the environment.
    // SAFETY: as in `debug_with`.
    unsafe { std::env::set_var("TRIOXIDE_DEBUG", "1") };
    let rt = Builder::new()
        .flavor(Flavor::CurrentThread)
        .debug(false)
        .build()
        .unwrap();
    assert!(!rt.block_on(async { trioxide::runtime::Handle::current().is_debug() }));
    drop(rt);
    // SAFETY: as in `debug_with`.
    unsafe { std::env::remove_var("TRIOXIDE_DEBUG") };

    let rt = Builder::new()
        .flavor(Flavor::CurrentThread)
        .build()
        .unwrap();
    let grace = rt.block_on(async { trioxide::runtime::Handle::current().cancel_grace() });
    assert_eq!(grace, Duration::from_secs(5));
    assert_eq!(grace, trioxide::DEFAULT_CANCEL_GRACE);
}
