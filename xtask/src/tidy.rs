//! Tidy checks, run as ordinary tests: every Rust file opens with `//!` module docs, and
//! every `unsafe` block or `unsafe impl` has a `// SAFETY:` comment just above it.

use crate::shell::project_root;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn all_sources() -> Vec<PathBuf> {
    let root = project_root();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests", "benches"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(
        files.len() > 10,
        "tidy found too few files; is project_root right?"
    );
    files
}

/// Whether a line opens an unsafe block or impl (not an `unsafe fn` declaration, whose
/// contract lives in its `# Safety` doc section).
fn opens_unsafe(line: &str) -> bool {
    let code = line.split("//").next().unwrap_or("");
    code.contains("unsafe {") || code.contains("unsafe impl") || code.trim_end().ends_with("unsafe")
}

#[test]
fn every_file_has_module_docs() {
    let missing: Vec<_> = all_sources()
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "files without `//!` module docs: {missing:#?}"
    );
}

#[test]
fn every_unsafe_has_a_safety_comment() {
    let mut bad = Vec::new();
    for path in all_sources() {
        if path.ends_with("xtask/src/tidy.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !opens_unsafe(line) {
                continue;
            }
            let window = &lines[i.saturating_sub(8)..=i];
            if !window.iter().any(|l| l.contains("SAFETY:")) {
                bad.push(format!("{}:{}", path.display(), i + 1));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "unsafe without a `// SAFETY:` comment above it: {bad:#?}"
    );
}
