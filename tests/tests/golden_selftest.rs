//! Self-test of the golden encoding fixtures: the C++ program (ZeroC Ice
//! 3.7) that wrote them must read every committed fixture back as its value,
//! must reject damaged input, and must regenerate the committed bytes exactly.

// Test code: a failed setup step (writing a scratch file) fails the test.
#![allow(clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use interop_tests::golden::{self, Encoding};
use pretty_assertions::assert_eq;

/// A scratch folder under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("golden-selftest-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ice_reads_every_committed_fixture_as_its_value() {
    let cases = golden::manifest();
    let out = golden::check_dir(&golden::fixtures_dir());
    let text = stdout(&out);
    let failures: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(
        failures,
        Vec::<&str>::new(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "golden check failed:\n{text}");
    let oks = text.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(oks, cases.len(), "every manifest line must be checked");
    for case in &cases {
        let line = format!("ok {} {}", case.name, case.encoding);
        assert!(text.lines().any(|l| l == line), "no `{line}`");
    }
}

#[test]
fn checker_rejects_damaged_and_missing_input() {
    // Nothing to check: a failure, not a silent pass.
    let empty = Scratch::new("empty");
    let out = golden::check_dir(empty.path());
    assert!(!out.status.success(), "checking nothing must fail");

    // Changed values: each damaged file must be reported as FAIL.
    let bad = Scratch::new("bad");
    let damaged = [
        ("int_neg1", Encoding::V1_1, 0usize), // -1 becomes 0xfe...: another int
        ("string_ascii", Encoding::V1_0, 3),  // a different letter
        ("class_node_cycle_sliced", Encoding::V1_1, 20), // inside the first instance
        ("struct_small", Encoding::V1_0, 1),  // a letter of the name
    ];
    for (case, enc, at) in damaged {
        let mut bytes = golden::read(case, enc);
        assert!(
            at < bytes.len(),
            "{case}: offset {at} beyond {} bytes",
            bytes.len()
        );
        bytes[at] ^= 0x01;
        fs::write(bad.path().join(golden::file_name(case, enc)), &bytes)
            .unwrap_or_else(|e| panic!("write: {e}"));
    }
    // And one cut short, one with a trailing byte.
    let mut short = golden::read("seq_int", Encoding::V1_1);
    short.pop();
    fs::write(
        bad.path()
            .join(golden::file_name("seq_int", Encoding::V1_1)),
        &short,
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    let mut long = golden::read("dict_int_string", Encoding::V1_0);
    long.push(0);
    fs::write(
        bad.path()
            .join(golden::file_name("dict_int_string", Encoding::V1_0)),
        &long,
    )
    .unwrap_or_else(|e| panic!("write: {e}"));

    let out = golden::check_dir(bad.path());
    let text = stdout(&out);
    assert!(!out.status.success(), "damaged files passed:\n{text}");
    let fails = text.lines().filter(|l| l.starts_with("FAIL ")).count();
    assert_eq!(fails, 6, "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok ")).count(),
        0,
        "{text}"
    );
}

#[test]
fn regenerating_gives_the_committed_bytes() {
    let dir = Scratch::new("regen");
    let out = golden::gen_dir(dir.path());
    assert!(
        out.status.success(),
        "golden gen failed: {}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    let committed = golden::fixtures_dir();
    let read = |p: PathBuf| fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(
        String::from_utf8_lossy(&read(dir.path().join("MANIFEST.tsv"))),
        String::from_utf8_lossy(&read(committed.join("MANIFEST.tsv"))),
        "MANIFEST.tsv differs: run tests/golden/encoding/regen.sh and commit"
    );
    let mut compared = 0;
    for case in golden::manifest() {
        let name = case.file_name();
        let fresh = read(dir.path().join(&name));
        let old = read(committed.join(&name));
        if case.canonical {
            assert_eq!(
                fresh, old,
                "{name} differs from what ZeroC Ice writes now: run regen.sh"
            );
            compared += 1;
        } else {
            // Ice orders these bytes by memory address (1.0 pending instances):
            // the value is what must agree, and `golden gen` checked it.
            assert_eq!(fresh.len(), old.len(), "{name}: length differs");
        }
    }
    assert!(compared >= 150, "only {compared} canonical files compared");
    // The fresh files, non-canonical ones included, decode to their values.
    let check = golden::check_dir(dir.path());
    assert!(check.status.success(), "{}", stdout(&check));
}

#[test]
fn bench_mode_prints_every_benchmark() {
    let out = golden::bench(1);
    let text = stdout(&out);
    assert!(out.status.success(), "golden bench failed:\n{text}");
    let lines = golden::parse_bench(&text);
    let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "small_structs_50000",
            "strings_50000",
            "bytes_500000",
            "bytes_500000_zerocopy"
        ]
    );
    for line in &lines {
        assert!(line.encode_ns > 0 && line.decode_ns > 0, "{line:?}");
    }
}
