//! Builds and runs the `debug_mode` example (`cargo run`, like `tour.rs`) and checks its
//! output: the stuck-poll report before the slow-poll line, the task tree with the scope
//! under the server, and the metrics.

use std::process::Command;

#[test]
fn the_debug_example_reports_dumps_and_counts() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "run",
            "--quiet",
            "-p",
            "trioxide",
            "--example",
            "debug_mode",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIOXIDE_DEBUG")
        .output()
        .expect("cargo runs the example");
    assert!(
        out.status.success(),
        "debug_mode failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let find = |prefix: &str| {
        lines
            .iter()
            .position(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
    };
    let stuck = find("trioxide debug: stuck poll: task ");
    let slow = find("trioxide debug: slow poll: task ");
    assert!(
        stuck < slow,
        "reported while stuck, then when it returned:\n{text}"
    );
    for line in [lines[stuck], lines[slow]] {
        assert!(
            line.contains("\"blocking_sleep\" spawned at crates/trioxide/examples/debug_mode.rs:"),
            "{line}"
        );
    }
    let dump = find("trioxide task dump: 5 live task(s)");
    let indent = |l: &str| l.len() - l.trim_start().len();
    let server = dump + 1;
    assert!(lines[server].contains("\"server\" [idle]"), "{text}");
    let scope = find("scope #");
    assert!(
        lines[scope].ends_with(")") && lines[scope].contains("(in task "),
        "{text}"
    );
    assert!(indent(lines[scope]) > indent(lines[server]), "{text}");
    // Ids are unique but not consecutive (threads take them in blocks): find the
    // connections by name.
    for name in ["\"connection-0\"", "\"connection-1\""] {
        let at = lines
            .iter()
            .position(|l| l.trim_start().starts_with("task ") && l.contains(name))
            .unwrap_or_else(|| panic!("no {name} task in:\n{text}"));
        assert_eq!(indent(lines[at]), indent(lines[server]) + 2, "{text}");
    }
    let workers: Vec<_> = lines[scope + 1..scope + 3].to_vec();
    assert!(
        workers
            .iter()
            .all(|l| l.contains("(unnamed) [idle]") && indent(l) == indent(lines[scope]) + 2),
        "{text}"
    );
    // (`live tasks` may still count a task that finished a moment ago on another
    // worker, so it is not pinned.)
    let metrics = find("metrics: workers 2, live tasks ");
    assert!(metrics > dump);
    assert!(lines[metrics].contains(", spawned 6, polls "), "{text}");
    assert!(
        !text.contains("shutdown with"),
        "every task finished before shutdown:
{text}"
    );
    assert!(text.contains("driver calls "), "{text}");
}
