//! `slice2rs --output-dir` per-file output with definitions used across
//! files: ZeroC Ice's own Slice files (Ice, IceBox and part of Glacier2,
//! which include each other and refer to each other's types) go through
//! the CLI one `.rs` per `.ice`, are mounted side by side in a scratch crate
//! as `slice2rs --help` says, and that crate must build with
//! `#![deny(warnings, missing_docs)]`.
//!
//! The scratch crate has its own target folder under the workspace target
//! (`codegen-outdir/`), kept between runs, so only the first run compiles
//! ice-proto and its dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ICE_SLICE: &str = "/usr/share/ice/slice";

/// The Slice files compiled: every file of `Ice/` and `IceBox/`, and the
/// files of `Glacier2/` whose names do not clash with `Ice/` ones
/// (`Router.ice`, `Metrics.ice` exist in both, and per-file modules are
/// named after the file).
fn inputs(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["Ice", "IceBox", "Glacier2"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.ends_with(".ice") {
                continue;
            }
            if dir == "Glacier2" && (name.starts_with("Router") || name.starts_with("Metrics")) {
                continue;
            }
            files.push(p);
        }
    }
    files.sort();
    files
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("codegen-outdir")
}

/// The module name `slice2rs --help` tells users to mount a file under.
fn module_name(stem: &str) -> String {
    slice_compiler::codegen::ident::module_name(stem).to_string()
}

#[test]
fn ice_slice_files_compile_one_rust_file_each_across_includes() -> TestResult {
    let root = Path::new(ICE_SLICE);
    let files = inputs(root);
    assert!(
        files.len() > 40,
        "ZeroC's Slice files are missing under {ICE_SLICE} (scripts/install-ice.sh installs them)"
    );
    let work = target_dir();
    let gen = work.join("gen");
    let _ = std::fs::remove_dir_all(&gen);
    std::fs::create_dir_all(&gen)?;
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .arg("-I")
        .arg(root)
        .arg("--output-dir")
        .arg(&gen)
        .args(&files)
        .output()?;
    assert!(
        out.status.success(),
        "slice2rs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("slice2rs: {} files in {:?}", files.len(), started.elapsed());

    // One Rust file per Slice file, and definitions of included files
    // referred to through their file modules.
    let mut mounts = String::new();
    for f in &files {
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let rs = gen.join(format!("{stem}.rs"));
        assert!(rs.is_file(), "{} not written", rs.display());
        mounts.push_str(&format!(
            "/// `{stem}.ice`.\npub mod {} {{\n    include!({:?});\n}}\n",
            module_name(&stem),
            rs
        ));
    }
    let locator = std::fs::read_to_string(gen.join("Locator.rs"))?;
    assert!(
        locator.contains("identity::ice::Identity"),
        "Locator.rs does not refer to Identity.ice's tree"
    );
    let session = std::fs::read_to_string(gen.join("Session.rs"))?;
    assert!(
        session.contains("identity::ice::Identity")
            && session.contains("ssl_info::glacier2::SslInfo"),
        "Glacier2's Session.rs does not refer to Identity.ice's and SSLInfo.ice's trees"
    );

    // The scratch crate.
    let krate = work.join("crate");
    std::fs::create_dir_all(krate.join("src"))?;
    let ice_proto = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ice-proto")
        .canonicalize()?;
    let manifest = format!(
        "[package]\nname = \"outdir-check\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nice-proto = {{ path = {:?} }}\n\n[workspace]\n",
        ice_proto
    );
    write_if_changed(&krate.join("Cargo.toml"), &manifest)?;
    // Same dependency versions as the workspace, without the network.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    if !krate.join("Cargo.lock").exists() {
        std::fs::copy(&lock, krate.join("Cargo.lock"))?;
    }
    let lib = format!(
        "//! Per-file slice2rs output of ZeroC's Slice files, side by side.\n\
         #![deny(warnings, missing_docs)]\n\n{mounts}"
    );
    write_if_changed(&krate.join("src/lib.rs"), &lib)?;

    let started = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--lib"])
        .current_dir(&krate)
        .env("CARGO_TARGET_DIR", work.join("target"))
        .env_remove("RUSTFLAGS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    // Bounded: a first run builds ice-proto's dependencies too.
    let deadline = Duration::from_secs(600);
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("cargo build of the scratch crate took over {deadline:?}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output()?;
    println!("cargo build of the scratch crate: {:?}", started.elapsed());
    assert!(
        out.status.success(),
        "per-file output does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text)
}

#[test]
fn files_with_the_same_stem_are_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .arg("-I")
        .arg(ICE_SLICE)
        .arg("--output-dir")
        .arg(dir.path())
        .arg(Path::new(ICE_SLICE).join("Glacier2/Session.ice"))
        .arg(Path::new(ICE_SLICE).join("IceGrid/Session.ice"))
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Session.rs"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path())?.count(), 0, "nothing written");
    Ok(())
}
