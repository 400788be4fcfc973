//! Builds and runs the `tour` example and checks that it prints what the seed's Python
//! programs print, section by section.

use std::process::Command;

/// Section 9's debug-mode line, matched as a prefix (it ends with a duration).
const SLOW_POLL: &str = "trioxide debug: slow poll";

#[test]
fn the_tour_prints_what_the_python_prints() {
    // `cargo run` (not a stale binary): the test always checks the current tour.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["run", "--quiet", "-p", "trioxide", "--example", "tour"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs the tour");
    assert!(
        out.status.success(),
        "tour failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let expect_in_order = [
        "Hello, Alice!",
        "Goodbye, Alice!",
        "Hello, Bob!",
        "Goodbye, Bob!",
        "Fetching data from http://example.com",
        "Fetching data from http://example.org",
        "Fetching data from http://example.net",
        "Data from http://example.com",
        "Data from http://example.org",
        "Data from http://example.net",
        "Processed A",
        "Processed B",
        "Processed C",
        "GET / -> Hello, Anonymous!",
        "GET /Alice -> Hello, Alice!",
        "Working...",
        "Task was cancelled",
        "Main: task was cancelled",
        "Hello from my coroutine!",
        "Task completed",
        "Task completed with result: 0",
        SLOW_POLL,
        "Consumed: 0",
        "Consumed: 18",
    ];
    let mut at = 0;
    for want in expect_in_order {
        let matches = |l: &&str| *l == want || (want == SLOW_POLL && l.starts_with(want));
        match lines[at..].iter().position(matches) {
            Some(i) => at += i + 1,
            None => panic!("missing (or out of order) line {want:?} in:\n{text}"),
        }
    }
    let working = lines.iter().filter(|l| **l == "Working...").count();
    assert!(
        (5..=7).contains(&working),
        "the task worked about 5 times before cancel: {working}"
    );
    let consumed: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("Consumed: "))
        .copied()
        .collect();
    let want: Vec<String> = (0..10).map(|i| format!("Consumed: {}", i * 2)).collect();
    assert_eq!(consumed, want, "the pipeline delivers every item, in order");
}
