//! The invalid-Slice corpus under `tests/invalid/`: every file holds one mistake and
//! names, in its first line, where the first error must be reported
//! (`// expect-error: 7` or `// expect-error: include/helper.ice:3`; see
//! `tests/invalid/README.md`).
//!
//! Two compilers are held to that annotation: ZeroC's own `slice2cpp` (so the corpus
//! states Ice's rules, not our guess at them) and our `slice2rs`. Each test walks the
//! whole corpus and reports every mismatch at once.

// A test harness: an unreadable corpus or temp dir must fail the test loudly.
#![allow(clippy::panic)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Smallest corpus the issue accepts.
const MIN_CORPUS_FILES: usize = 80;

/// Longest time one compiler run may take before it counts as hung.
const RUN_LIMIT: Duration = Duration::from_secs(10);

/// Where a corpus file expects its first error.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    /// Path relative to the corpus folder, with `/` separators.
    file: String,
    /// One-based line number.
    line: u32,
}

/// One corpus entry.
struct Entry {
    path: PathBuf,
    /// File name relative to the corpus folder (e.g. `dict_key_float.ice`).
    name: String,
    expected: Result<Expected, String>,
}

/// Output of one finished or killed compiler run.
struct RunOutput {
    /// Exit code, `None` if killed by a signal or by the time limit.
    code: Option<i32>,
    stderr: String,
    timed_out: bool,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("invalid")
}

/// Parses the annotation in the first line of a corpus file.
fn parse_annotation(first_line: &str, own_name: &str) -> Result<Expected, String> {
    let rest = first_line
        .trim_end()
        .strip_prefix("// expect-error: ")
        .ok_or_else(|| format!("first line {first_line:?} is not `// expect-error: ...`"))?;
    let (file, line) = match rest.rsplit_once(':') {
        Some((file, line)) => (file.to_string(), line),
        None => (own_name.to_string(), rest),
    };
    let line: u32 = line
        .parse()
        .map_err(|_| format!("bad line number {line:?} in annotation {rest:?}"))?;
    if line == 0 || file.is_empty() || file.contains('\\') {
        return Err(format!("bad annotation {rest:?}"));
    }
    Ok(Expected { file, line })
}

/// Every `*.ice` file directly in the corpus folder (helpers in `include/` excluded),
/// sorted by name.
fn corpus() -> Vec<Entry> {
    let dir = corpus_dir();
    let mut entries = Vec::new();
    let read = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read corpus folder {}: {e}", dir.display()));
    for item in read {
        let path = match item {
            Ok(item) => item.path(),
            Err(e) => panic!("cannot list corpus folder {}: {e}", dir.display()),
        };
        if !path.is_file() || path.extension().is_none_or(|ext| ext != "ice") {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let expected = match std::fs::read_to_string(&path) {
            Ok(text) => parse_annotation(text.lines().next().unwrap_or(""), &name),
            Err(e) => Err(format!("cannot read: {e}")),
        };
        entries.push(Entry {
            path,
            name,
            expected,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

/// Runs `cmd` with a time limit, collecting stderr.
fn run_with_limit(mut cmd: Command) -> std::io::Result<RunOutput> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr_pipe = child.stderr.take();
    // Read stderr on a thread so a chatty child cannot block on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(pipe) = stderr_pipe.as_mut() {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    });
    let start = Instant::now();
    let (code, timed_out) = loop {
        if let Some(status) = child.try_wait()? {
            break (status.code(), false);
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stderr = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    Ok(RunOutput {
        code,
        stderr,
        timed_out,
    })
}

/// Splits a diagnostic line `path:line: rest` into its parts.
fn split_location(line: &str) -> Option<(&str, u32, &str)> {
    // The path may itself hold `:` (unlikely, but be safe): find `:<digits>: `.
    let bytes = line.as_bytes();
    let mut i = 0;
    while let Some(off) = line[i..].find(':') {
        let colon = i + off;
        let digits_end = bytes[colon + 1..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map(|p| colon + 1 + p);
        if let Some(end) = digits_end {
            if end > colon + 1 && line[end..].starts_with(": ") && colon > 0 {
                let number = line[colon + 1..end].parse().ok()?;
                return Some((&line[..colon], number, &line[end + 2..]));
            }
        }
        i = colon + 1;
    }
    None
}

/// True when the path a compiler printed names the expected corpus file: equal to it,
/// or ending in `/<expected>` (compilers print absolute or include-relative paths).
fn same_file(printed: &str, expected: &str) -> bool {
    let printed = printed.replace('\\', "/");
    let printed = printed.strip_prefix("./").unwrap_or(&printed);
    printed == expected || printed.ends_with(&format!("/{expected}"))
}

/// Fails the test with every problem listed.
fn report(what: &str, total: usize, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} of {total} corpus files failed:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

fn slice2cpp_available() -> bool {
    Command::new("slice2cpp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn corpus_is_large_enough_and_annotated() {
    let entries = corpus();
    let dir = corpus_dir();
    let mut problems = Vec::new();
    for entry in &entries {
        match &entry.expected {
            Err(e) => problems.push(format!("{}: {e}", entry.name)),
            Ok(exp) => {
                let target = dir.join(&exp.file);
                match std::fs::read_to_string(&target) {
                    Err(e) => problems.push(format!(
                        "{}: annotated file {} unreadable: {e}",
                        entry.name, exp.file
                    )),
                    Ok(text) if text.lines().count() < exp.line as usize => problems.push(format!(
                        "{}: {} has no line {}",
                        entry.name, exp.file, exp.line
                    )),
                    Ok(_) => {}
                }
            }
        }
    }
    report("annotation check", entries.len(), &problems);
    assert!(
        entries.len() >= MIN_CORPUS_FILES,
        "corpus has {} files, at least {MIN_CORPUS_FILES} required",
        entries.len()
    );
}

#[test]
fn slice2cpp_rejects_each_at_expected_line() {
    assert!(
        slice2cpp_available(),
        "slice2cpp (ZeroC Ice 3.7) is not installed: run scripts/install-ice.sh"
    );
    let dir = corpus_dir();
    let entries = corpus();
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make temp dir: {e}"));
    let mut problems = Vec::new();
    for entry in &entries {
        let Ok(expected) = &entry.expected else {
            problems.push(format!("{}: no valid annotation", entry.name));
            continue;
        };
        let mut cmd = Command::new("slice2cpp");
        cmd.arg("--output-dir")
            .arg(out.path())
            .arg(format!("-I{}", dir.display()))
            .arg(&entry.path);
        let run = match run_with_limit(cmd) {
            Ok(run) => run,
            Err(e) => {
                problems.push(format!("{}: cannot run slice2cpp: {e}", entry.name));
                continue;
            }
        };
        if let Some(problem) = judge(entry, expected, &run, |l| !l.contains("warning:")) {
            problems.push(format!("slice2cpp {problem}"));
        }
    }
    report("slice2cpp", entries.len(), &problems);
}

#[test]
fn slice2rs_rejects_each_at_expected_line() {
    let dir = corpus_dir();
    let entries = corpus();
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make temp dir: {e}"));
    let mut problems = Vec::new();
    for entry in &entries {
        let Ok(expected) = &entry.expected else {
            problems.push(format!("{}: no valid annotation", entry.name));
            continue;
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slice2rs"));
        cmd.arg(format!("-I{}", dir.display()))
            .arg("--output-dir")
            .arg(out.path())
            .arg(&entry.path);
        let run = match run_with_limit(cmd) {
            Ok(run) => run,
            Err(e) => {
                problems.push(format!("{}: cannot run slice2rs: {e}", entry.name));
                continue;
            }
        };
        if run.stderr.contains("panicked") {
            problems.push(format!(
                "slice2rs {}: panicked: {}",
                entry.name,
                run.stderr.trim()
            ));
            continue;
        }
        if !run.timed_out && run.code != Some(1) && run.code != Some(0) {
            problems.push(format!(
                "slice2rs {}: exit status {:?}, want 1",
                entry.name, run.code
            ));
            continue;
        }
        if let Some(problem) = judge(entry, expected, &run, |l| l.contains(": error: ")) {
            problems.push(format!("slice2rs {problem}"));
        }
    }
    report("slice2rs", entries.len(), &problems);
}

/// Checks one run against the annotation: finished in time, non-zero exit, and the
/// first diagnostic that `is_error` accepts is at the expected file and line.
/// Returns a description of the mismatch, if any.
fn judge(
    entry: &Entry,
    expected: &Expected,
    run: &RunOutput,
    is_error: impl Fn(&str) -> bool,
) -> Option<String> {
    let want = format!("{}:{}", expected.file, expected.line);
    if run.timed_out {
        return Some(format!(
            "{}: did not finish within {RUN_LIMIT:?}",
            entry.name
        ));
    }
    if run.code == Some(0) {
        return Some(format!(
            "{}: accepted (exit 0), want error at {want}",
            entry.name
        ));
    }
    let first = run
        .stderr
        .lines()
        .filter_map(|l| split_location(l).map(|loc| (l, loc)))
        .find(|(l, _)| is_error(l));
    match first {
        None => Some(format!(
            "{}: exit {:?} but no `file:line:` error, want {want}; stderr: {}",
            entry.name,
            run.code,
            run.stderr.trim()
        )),
        Some((text, (file, line, _))) => {
            if same_file(file, &expected.file) && line == expected.line {
                None
            } else {
                Some(format!(
                    "{}: first error `{}`, want {want}",
                    entry.name,
                    text.trim()
                ))
            }
        }
    }
}

#[test]
fn annotation_parses_plain_and_included_forms() {
    assert_eq!(
        parse_annotation("// expect-error: 7", "a.ice"),
        Ok(Expected {
            file: "a.ice".into(),
            line: 7
        })
    );
    assert_eq!(
        parse_annotation("// expect-error: include/h.ice:3\r", "a.ice"),
        Ok(Expected {
            file: "include/h.ice".into(),
            line: 3
        })
    );
    assert!(parse_annotation("// expect-error: 0", "a.ice").is_err());
    assert!(parse_annotation("// expect-error: x", "a.ice").is_err());
    assert!(parse_annotation("module M {};", "a.ice").is_err());
}

#[test]
fn diagnostic_locations_split_and_match() {
    assert_eq!(
        split_location("/tmp/x/a.ice:12: error: bad"),
        Some(("/tmp/x/a.ice", 12, "error: bad"))
    );
    assert_eq!(
        split_location("C:/x/a.ice:3: oops"),
        Some(("C:/x/a.ice", 3, "oops"))
    );
    assert_eq!(split_location("slice2cpp: error: cannot open"), None);
    assert!(same_file(
        "/abs/tests/invalid/include/h.ice",
        "include/h.ice"
    ));
    assert!(same_file("include/h.ice", "include/h.ice"));
    assert!(!same_file("/abs/xinclude/h.ice", "include/h.ice"));
    assert!(!same_file("/abs/other.ice", "a.ice"));
}
