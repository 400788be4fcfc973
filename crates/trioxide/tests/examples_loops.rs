//! Builds and runs the custom-event-loop examples and checks what they print:
//! `custom_loop` (a priority `SchedulePolicy`) and `embed` (trioxide driven from a plain
//! `poll(2)` loop, on both reactors).

use std::process::Command;

fn run_example(name: &str, io: Option<&str>) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["run", "--quiet", "-p", "trioxide", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(io) = io {
        cmd.env("TRIOXIDE_IO", io);
    }
    let out = cmd.output().expect("cargo runs the example");
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The lines that are not the loop's monitoring output.
fn work_lines(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(String::as_str)
        .filter(|l| !l.starts_with("[loop]"))
        .collect()
}

#[test]
fn the_priority_loop_runs_higher_priorities_first() {
    let lines = run_example("custom_loop", None);
    assert_eq!(
        work_lines(&lines),
        [
            "input: step 0",
            "input: step 1",
            "input: done",
            "render: step 0",
            "render: step 1",
            "render: done",
            "log-rotate: step 0",
            // spawned by log-rotate: the highest priority, so it runs at the next turn
            "alarm: step 0",
            "alarm: done",
            "log-rotate: done",
        ],
        "in:\n{}",
        lines.join("\n")
    );
    let monitoring: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("[loop] turn"))
        .collect();
    assert_eq!(monitoring.len(), 12, "one monitoring line per poll");
    assert!(
        monitoring[1].contains("input (priority 9)"),
        "{}",
        monitoring[1]
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "[loop] idle after 12 polls; 0 task(s) alive")
    );
}

fn check_embed(io: &str) {
    let lines = run_example("embed", Some(io));
    let text = lines.join("\n");
    let conversation: Vec<_> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| {
            l.starts_with("host: send") || l.starts_with("host: echo") || l.starts_with("task: got")
        })
        .collect();
    assert_eq!(
        conversation,
        [
            r#"host: send "hello""#,
            r#"task: got "hello""#,
            r#"host: echo "HELLO""#,
            r#"host: send "from""#,
            r#"task: got "from""#,
            r#"host: echo "FROM""#,
            r#"host: send "the host""#,
            r#"task: got "the host""#,
            r#"host: echo "THE HOST""#,
            r#"host: send "quit""#,
            r#"task: got "quit""#,
        ],
        "in:\n{text}"
    );
    assert!(
        text.contains("host: poll(2) says trioxide's reactor has events"),
        "the reactor's fd never woke poll(2):\n{text}"
    );
    assert!(text.contains("the task echoed 3 messages"), "{text}");
}

#[test]
fn a_poll_loop_drives_trioxide_on_epoll() {
    check_embed("epoll");
}

#[test]
fn a_poll_loop_drives_trioxide_on_io_uring() {
    if let Err(e) = trioxide_reactor::uring::probe() {
        eprintln!("skipping: io_uring unavailable here ({})", e.reason);
        return;
    }
    check_embed("io_uring");
}
