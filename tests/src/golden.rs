//! Golden encoding fixtures written by real ZeroC Ice 3.7 (see
//! `tests/golden/encoding/README.md`), and the C++ program that regenerates
//! them and checks bytes written by our encoder.
//!
//! This module only locates, parses and runs things: it knows nothing about
//! the values inside the fixtures (the manifest's `value` column describes
//! them in words) and leaves encoding and decoding to `ice-proto`.
//!
//! The C++ program is built once per source version: [`checker`] hashes the
//! sources, builds into `target/golden-encoding/<hash>/` under the workspace
//! root, and reuses that build afterwards. Parallel tests (threads of one test
//! binary, or several processes) wait for one build instead of racing.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::build_cache::{self, CacheError};
use crate::workspace_root;

/// An Ice encoding version a fixture is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encoding {
    /// Encoding 1.0 (Ice 3.4 and earlier; file suffix `.e10.bin`).
    V1_0,
    /// Encoding 1.1 (Ice 3.5 and later; file suffix `.e11.bin`).
    V1_1,
}

impl Encoding {
    /// Both encodings, 1.0 first.
    pub const ALL: [Encoding; 2] = [Encoding::V1_0, Encoding::V1_1];

    /// The manifest spelling: `1.0` or `1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::V1_0 => "1.0",
            Encoding::V1_1 => "1.1",
        }
    }

    /// The file suffix: `e10` or `e11`.
    pub fn suffix(self) -> &'static str {
        match self {
            Encoding::V1_0 => "e10",
            Encoding::V1_1 => "e11",
        }
    }

    /// The `(major, minor)` pair.
    pub fn version(self) -> (u8, u8) {
        match self {
            Encoding::V1_0 => (1, 0),
            Encoding::V1_1 => (1, 1),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "1.0" => Some(Encoding::V1_0),
            "1.1" => Some(Encoding::V1_1),
            _ => None,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a fixture is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// The value written directly on the stream, no encapsulation.
    Raw,
    /// The value written inside one encapsulation, the way Ice writes
    /// request parameters (with `writePendingValues()` when classes are involved).
    Encaps,
}

/// The class format a case was written with, taken from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Name ends in `_sliced`: `Ice::FormatType::SlicedFormat`.
    Sliced,
    /// Name ends in `_compact`: `Ice::FormatType::CompactFormat`.
    Compact,
    /// No suffix: Ice's default format (compact), as for parameters without
    /// `["format"]` metadata.
    Default,
}

/// One line of `MANIFEST.tsv`: one fixture file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The case name, e.g. `int_neg1` or `class_node_cycle_sliced`.
    pub name: String,
    /// The encoding of this file.
    pub encoding: Encoding,
    /// Raw value or encapsulation.
    pub framing: Framing,
    /// `false` when Ice's bytes are not the only correct encoding of the value
    /// (compare decoded values, not bytes).
    pub canonical: bool,
    /// The exact value, as printed by `golden.cpp` (see the README for the notation).
    pub value: String,
}

impl Case {
    /// The class format, from the name's `_sliced` / `_compact` suffix.
    pub fn format(&self) -> Format {
        if self.name.ends_with("_sliced") {
            Format::Sliced
        } else if self.name.ends_with("_compact") {
            Format::Compact
        } else {
            Format::Default
        }
    }

    /// True when the value uses a type of `GoldenHidden.ice`, which the Rust
    /// side does not know: the Rust decoder must slice it to the most-derived
    /// known type, and the Rust encoder cannot reproduce the fixture (except
    /// for preserved slices, see [`Case::preserved`]).
    pub fn hidden(&self) -> bool {
        self.name.contains("hidden")
    }

    /// True for hidden cases whose unknown slices are kept (`["preserve-slice"]`):
    /// decoding then re-encoding them must give Ice's bytes back.
    pub fn preserved(&self) -> bool {
        self.hidden() && self.name.contains("preserved")
    }

    /// True when ZeroC Ice itself refuses to decode the case (the value column
    /// says `==> Ice rejects: <error>`), e.g. a class graph deeper than
    /// Ice's default `Ice.ClassGraphDepthMax` of 100. Our decoder must fail too.
    pub fn ice_rejects(&self) -> bool {
        self.value.contains(ICE_REJECTS)
    }

    /// True when a decoder without `GoldenHidden.ice` must fail: Ice rejects
    /// the case; or it holds an unknown type in the 1.1 compact format (which
    /// cannot be sliced); or it is input ZeroC C++ lets through unchecked but
    /// a checking decoder must refuse (`==> must be rejected: ...`, e.g.
    /// invalid UTF-8).
    pub fn decode_must_fail(&self) -> bool {
        self.ice_rejects()
            || self.value.contains(MUST_BE_REJECTED)
            || self
                .value
                .split_once(WITHOUT_HIDDEN)
                .is_some_and(|(_, rest)| rest.starts_with("decoding fails"))
    }

    /// The value a Rust decoder (which does not know `GoldenHidden.ice`) must
    /// produce, in the manifest's notation: the part after
    /// `==> without GoldenHidden.ice: ` when present, else after
    /// `==> read back as: ` (unknown optionals skipped), else the whole value.
    pub fn expected_value(&self) -> &str {
        if let Some((_, rest)) = self.value.split_once(WITHOUT_HIDDEN) {
            return rest;
        }
        if let Some((_, rest)) = self.value.split_once(READ_BACK_AS) {
            return rest;
        }
        let value = self.value.split(ICE_REJECTS).next().unwrap_or(&self.value);
        value.split(MUST_BE_REJECTED).next().unwrap_or(value)
    }

    /// The fixture file name, e.g. `int_neg1.e11.bin`.
    pub fn file_name(&self) -> String {
        file_name(&self.name, self.encoding)
    }

    /// The fixture's bytes.
    ///
    /// # Panics
    /// When the committed fixture cannot be read (a broken checkout).
    pub fn bytes(&self) -> Vec<u8> {
        read(&self.name, self.encoding)
    }
}

const ICE_REJECTS: &str = " ==> Ice rejects: ";
const WITHOUT_HIDDEN: &str = " ==> without GoldenHidden.ice: ";
const READ_BACK_AS: &str = " ==> read back as: ";
const MUST_BE_REJECTED: &str = " ==> must be rejected: ";

/// What went wrong finding, reading or building the golden fixtures.
#[derive(Debug)]
#[non_exhaustive]
pub enum GoldenError {
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A manifest line is malformed.
    Manifest {
        /// 1-based line number in `MANIFEST.tsv`.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `build.sh` failed (missing slice2cpp, g++ or Ice headers, or a compile error).
    Build {
        /// Exit status, when there was one.
        status: Option<i32>,
        /// What the build printed on stderr (its tail).
        stderr: String,
    },
    /// Another process held the build lock for too long.
    LockTimeout {
        /// The lock directory.
        path: PathBuf,
    },
}

impl fmt::Display for GoldenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GoldenError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            GoldenError::Manifest { line, reason } => {
                write!(f, "MANIFEST.tsv line {line}: {reason}")
            }
            GoldenError::Build { status, stderr } => write!(
                f,
                "building the golden C++ checker failed (exit {status:?}); it needs slice2cpp \
                 (zeroc-ice-compilers), g++ and the Ice headers/libraries (libzeroc-ice-dev):\n{stderr}"
            ),
            GoldenError::LockTimeout { path } => write!(
                f,
                "timed out waiting for another build of the golden checker (lock {})",
                path.display()
            ),
        }
    }
}

impl std::error::Error for GoldenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GoldenError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> GoldenError + '_ {
    move |source| GoldenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `tests/golden/encoding/` (sources, scripts, README).
pub fn source_dir() -> PathBuf {
    workspace_root().join("tests/golden/encoding")
}

/// `tests/golden/encoding/fixtures/` (the committed `.bin` files and `MANIFEST.tsv`).
pub fn fixtures_dir() -> PathBuf {
    source_dir().join("fixtures")
}

/// The file name of a case in an encoding, e.g. `size_255.e10.bin`.
pub fn file_name(case: &str, enc: Encoding) -> String {
    format!("{case}.{}.bin", enc.suffix())
}

/// Parses manifest text (the content of `MANIFEST.tsv`).
pub fn parse_manifest(text: &str) -> Result<Vec<Case>, GoldenError> {
    let mut cases = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.splitn(5, '\t');
        let (Some(name), Some(enc), Some(framing), Some(canonical), Some(value)) = (
            cols.next(),
            cols.next(),
            cols.next(),
            cols.next(),
            cols.next(),
        ) else {
            return Err(GoldenError::Manifest {
                line: line_no,
                reason: "expected 5 tab-separated columns",
            });
        };
        let encoding = Encoding::parse(enc).ok_or(GoldenError::Manifest {
            line: line_no,
            reason: "encoding must be 1.0 or 1.1",
        })?;
        let framing = match framing {
            "raw" => Framing::Raw,
            "encaps" => Framing::Encaps,
            _ => {
                return Err(GoldenError::Manifest {
                    line: line_no,
                    reason: "framing must be raw or encaps",
                })
            }
        };
        let canonical = match canonical {
            "yes" => true,
            "no" => false,
            _ => {
                return Err(GoldenError::Manifest {
                    line: line_no,
                    reason: "canonical must be yes or no",
                })
            }
        };
        if name.is_empty() || name.contains(['/', '.', ' ']) {
            return Err(GoldenError::Manifest {
                line: line_no,
                reason: "bad case name",
            });
        }
        cases.push(Case {
            name: name.to_string(),
            encoding,
            framing,
            canonical,
            value: value.to_string(),
        });
    }
    Ok(cases)
}

/// Reads and parses `fixtures/MANIFEST.tsv`.
pub fn try_manifest() -> Result<Vec<Case>, GoldenError> {
    let path = fixtures_dir().join("MANIFEST.tsv");
    let text = fs::read_to_string(&path).map_err(io_err(&path))?;
    parse_manifest(&text)
}

/// Every fixture of the manifest, in manifest order.
///
/// # Panics
/// When the committed manifest is missing or malformed (a broken checkout):
/// the test using it should fail loudly.
pub fn manifest() -> Vec<Case> {
    match try_manifest() {
        Ok(cases) => cases,
        // A test helper: a broken checkout must fail the calling test.
        #[allow(clippy::panic)]
        Err(e) => panic!("golden manifest: {e}"),
    }
}

/// The bytes of fixture `case` in encoding `enc`.
///
/// # Panics
/// When the file is missing (a typo in the case name or a broken checkout).
pub fn read(case: &str, enc: Encoding) -> Vec<u8> {
    let path = fixtures_dir().join(file_name(case, enc));
    match fs::read(&path) {
        Ok(bytes) => bytes,
        // A test helper: a missing fixture must fail the calling test.
        #[allow(clippy::panic)]
        Err(e) => panic!("golden fixture {}: {e}", path.display()),
    }
}

/// The files the checker is built from (a change to any of them rebuilds it).
const SOURCES: [&str; 4] = ["golden.cpp", "Fixtures.ice", "GoldenHidden.ice", "build.sh"];

/// Where cached builds live: `<workspace>/target/golden-encoding/`.
pub fn build_root() -> PathBuf {
    workspace_root().join("target/golden-encoding")
}

impl From<CacheError> for GoldenError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Io { path, source } => GoldenError::Io { path, source },
            CacheError::Build { status, stderr } => GoldenError::Build { status, stderr },
            CacheError::LockTimeout { path } => GoldenError::LockTimeout { path },
        }
    }
}

fn build_once() -> Result<PathBuf, GoldenError> {
    let hash = build_cache::sources_hash(&source_dir(), SOURCES)?;
    let dir =
        build_cache::build_locked(&build_root(), hash, &source_dir().join("build.sh"), |dir| {
            dir.join("golden").is_file()
        })?;
    Ok(dir.join("golden"))
}

/// Builds (once per source version, cached under [`build_root`]) the C++
/// generator/checker and returns the path of the binary.
pub fn try_checker() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_once().map_err(|e| e.to_string()))
        .clone()
}

/// The C++ generator/checker binary (see [`try_checker`]).
///
/// # Panics
/// When it cannot be built; the message says which tool or header is missing.
pub fn checker() -> PathBuf {
    match try_checker() {
        Ok(path) => path,
        // A test helper: without ZeroC Ice the interop test must fail, clearly.
        #[allow(clippy::panic)]
        Err(e) => panic!("{e}"),
    }
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    let bin = checker();
    match Command::new(&bin).args(args).output() {
        Ok(out) => out,
        // A test helper: failing to start a binary we just built fails the test.
        #[allow(clippy::panic)]
        Err(e) => panic!("cannot run {}: {e}", bin.display()),
    }
}

/// Runs `golden check DIR`: ZeroC Ice decodes every `<case>.eNN.bin` found in
/// `dir` and compares it with the case's value. Success means every file
/// found decoded to its value and at least one was checked; stdout has one
/// `ok <case> <enc>` or `FAIL <case> <enc>: <why>` line per file.
pub fn check_dir(dir: &Path) -> Output {
    run(&["check".as_ref(), dir.as_os_str()])
}

/// Runs `golden gen DIR`: writes every fixture and `MANIFEST.tsv` into `dir`.
pub fn gen_dir(dir: &Path) -> Output {
    run(&["gen".as_ref(), dir.as_os_str()])
}

/// Runs `golden bench RUNS` (Ice C++ encode/decode timings, encoding 1.1).
pub fn bench(runs: u32) -> Output {
    let runs = runs.to_string();
    run(&["bench".as_ref(), runs.as_ref()])
}

/// One `bench <name> encode_ns <n> decode_ns <n>` line of `golden bench`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchLine {
    /// The benchmark, e.g. `small_structs_50000`.
    pub name: String,
    /// Best encode time in nanoseconds.
    pub encode_ns: u64,
    /// Best decode time in nanoseconds.
    pub decode_ns: u64,
}

/// Parses the `bench ...` lines of `golden bench` output.
pub fn parse_bench(stdout: &str) -> Vec<BenchLine> {
    stdout
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["bench", name, "encode_ns", enc, "decode_ns", dec, ..] => Some(BenchLine {
                    name: (*name).to_string(),
                    encode_ns: enc.parse().ok()?,
                    decode_ns: dec.parse().ok()?,
                }),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_manifest_lines() {
        let text = "# header\nint_neg1\t1.0\traw\tyes\t-1\nclass_x_sliced\t1.1\tencaps\tno\t#1 ::A{1, \"a b\"}\n";
        let cases = parse_manifest(text).unwrap_or_default();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].name, "int_neg1");
        assert_eq!(cases[0].encoding, Encoding::V1_0);
        assert_eq!(cases[0].framing, Framing::Raw);
        assert!(cases[0].canonical);
        assert_eq!(cases[1].format(), Format::Sliced);
        assert!(!cases[1].canonical);
        assert_eq!(cases[1].value, "#1 ::A{1, \"a b\"}");
        assert_eq!(cases[1].file_name(), "class_x_sliced.e11.bin");
    }

    #[test]
    fn rejects_bad_manifest_lines() {
        for bad in [
            "a\t1.2\traw\tyes\tv",
            "a\t1.0\tboxed\tyes\tv",
            "a\t1.0\traw\tmaybe\tv",
            "a\t1.0\traw",
            "../x\t1.0\traw\tyes\tv",
        ] {
            assert!(
                matches!(
                    parse_manifest(bad),
                    Err(GoldenError::Manifest { line: 1, .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn hidden_and_preserved_from_names() {
        let mk = |name: &str| Case {
            name: name.to_string(),
            encoding: Encoding::V1_1,
            framing: Framing::Encaps,
            canonical: true,
            value: String::new(),
        };
        assert!(mk("class_hidden_derived_sliced").hidden());
        assert!(!mk("class_hidden_derived_sliced").preserved());
        assert!(mk("class_hidden_preserved_sliced").preserved());
        assert!(!mk("class_preserved_known_sliced").hidden());
        assert_eq!(mk("exc_base_compact").format(), Format::Compact);
        assert_eq!(mk("int_1").format(), Format::Default);
    }

    #[test]
    fn expected_value_and_failures_from_value_column() {
        let mk = |name: &str, value: &str| Case {
            name: name.to_string(),
            encoding: Encoding::V1_1,
            framing: Framing::Encaps,
            canonical: true,
            value: value.to_string(),
        };
        let plain = mk("int_1", "1");
        assert_eq!(plain.expected_value(), "1");
        assert!(!plain.decode_must_fail());
        let hidden = mk(
            "class_hidden_x_sliced",
            "#1 ::A{1, 2} ==> without GoldenHidden.ice: #1 ::B[sliced from ::A]{1}",
        );
        assert_eq!(hidden.expected_value(), "#1 ::B[sliced from ::A]{1}");
        assert!(!hidden.decode_must_fail());
        let compact = mk(
            "class_hidden_x_compact",
            "#1 ::A{1} ==> without GoldenHidden.ice: decoding fails (compact format)",
        );
        assert!(compact.decode_must_fail());
        let deep = mk("deep_rejected", "#1 ::N{..} ==> Ice rejects: maximum depth");
        assert!(deep.ice_rejects() && deep.decode_must_fail());
        assert_eq!(deep.expected_value(), "#1 ::N{..}");
        let skipped = mk(
            "optparams_x",
            "5; tag1=1; tag2=2 ==> read back as: 5; tag2=2",
        );
        assert_eq!(skipped.expected_value(), "5; tag2=2");
    }

    #[test]
    fn parses_bench_lines() {
        let out = "bench small_structs_50000 encode_ns 100 decode_ns 200 bytes 5\nnoise\n";
        assert_eq!(
            parse_bench(out),
            vec![BenchLine {
                name: "small_structs_50000".into(),
                encode_ns: 100,
                decode_ns: 200
            }]
        );
    }

    #[test]
    fn committed_manifest_matches_files() {
        let cases = manifest();
        assert!(cases.len() >= 150, "only {} fixture files", cases.len());
        for case in &cases {
            assert!(
                fixtures_dir().join(case.file_name()).is_file(),
                "{} missing",
                case.file_name()
            );
        }
        let names: std::collections::BTreeSet<&str> =
            cases.iter().map(|c| c.name.as_str()).collect();
        assert!(names.len() >= 80, "only {} cases", names.len());
        // Both encodings for most cases.
        let both = names
            .iter()
            .filter(|n| cases.iter().filter(|c| c.name == **n).count() == 2)
            .count();
        assert!(
            both * 10 >= names.len() * 9,
            "{both} of {} in both encodings",
            names.len()
        );
    }
}
