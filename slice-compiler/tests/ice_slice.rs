//! Every `.ice` file that ZeroC's `zeroc-ice-slice` package installs under
//! `/usr/share/ice/slice` must pass `slice2rs` without error, in one
//! invocation and file by file (the files include each other through
//! `-I/usr/share/ice/slice`).

// A test harness: a missing Ice installation must fail loudly.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

const ICE_SLICE: &str = "/usr/share/ice/slice";

/// The 67 files of Ice 3.7.8: Ice, IceGrid, IceStorm, Glacier2, IceBox,
/// IceSSL, IcePatch2, IceBT, IceIAP.
const EXPECTED_FILES: usize = 67;

fn ice_files() -> Vec<PathBuf> {
    let root = Path::new(ICE_SLICE);
    assert!(
        root.is_dir(),
        "{ICE_SLICE} is missing: install zeroc-ice-slice (scripts/install-ice.sh) to run this test"
    );
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "ice") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert_eq!(
        files.len(),
        EXPECTED_FILES,
        "unexpected number of Ice Slice files: {files:?}"
    );
    files
}

fn slice2rs() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_slice2rs"));
    c.arg(format!("-I{ICE_SLICE}"));
    c
}

#[test]
fn all_ice_files_in_one_invocation() {
    let files = ice_files();
    let out = slice2rs()
        .args(&files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run slice2rs: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("error:"),
        "slice2rs reported errors:\n{stderr}"
    );
    assert!(
        out.status.success(),
        "exit status {:?}\n{stderr}",
        out.status
    );
}

#[test]
fn each_ice_file_alone() {
    let mut problems = Vec::new();
    for f in ice_files() {
        let out = slice2rs()
            .arg(&f)
            .output()
            .unwrap_or_else(|e| panic!("cannot run slice2rs: {e}"));
        if !out.status.success() || !out.stderr.is_empty() {
            problems.push(format!(
                "{}: {:?}\n{}",
                f.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn library_model_of_ice_files_is_complete() {
    // Through the library: the model of Ice/Identity.ice holds the struct
    // with its two string members, its doc comment and its file metadata.
    let path = Path::new(ICE_SLICE).join("Ice/Identity.ice");
    assert!(
        path.is_file(),
        "{} is missing: install zeroc-ice-slice",
        path.display()
    );
    let c = slice_compiler::compile(&slice_compiler::Options {
        files: vec![path],
        preprocess: slice_compiler::preprocess::PreprocessOptions {
            include_dirs: vec![ICE_SLICE.into()],
            ..Default::default()
        },
    });
    let model = match c.units.into_iter().next() {
        Some(Ok(m)) => m,
        other => panic!("Identity.ice failed: {other:?}"),
    };
    let identity = model
        .ast
        .defs
        .iter()
        .find(|d| d.scoped == "::Ice::Identity")
        .unwrap_or_else(|| panic!("no ::Ice::Identity"));
    let slice_compiler::ast::DefKind::Struct { members } = &identity.kind else {
        panic!("Identity is not a struct: {:?}", identity.kind);
    };
    let names: Vec<&str> = members.iter().map(|m| m.name.name.as_str()).collect();
    assert_eq!(names, ["name", "category"]);
    assert!(
        identity.doc.as_deref().unwrap_or("").contains("identity"),
        "{:?}",
        identity.doc
    );
    assert!(model
        .ast
        .file_metadata(model.main)
        .iter()
        .any(|m| m.value == "ice-prefix"));
}
