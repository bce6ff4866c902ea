//! `slice2rs --output-dir` per-file output with definitions used across
//! files: every Slice file of ZeroC Ice (all folders of
//! `/usr/share/ice/slice`: Ice, IceBox, IceGrid, IceStorm, Glacier2,
//! IcePatch2, IceSSL, IceBT, IceIAP; they include each other, refer to
//! each other's types and reuse file names across folders, such as
//! `Session.ice`, `Router.ice`, `Metrics.ice`) goes through the CLI one
//! `.rs` per `.ice`, is mounted side by side in a scratch crate as
//! `slice2rs --help` says (a module per path relative to the include
//! folder), and that crate must build with
//! `#![deny(warnings, missing_docs)]`.
//!
//! The scratch crate is checked with `rustc` against the workspace's own
//! build of `ice-proto` (`cargo build -p ice-proto`, a no-op once the
//! workspace is built, says where it is), so no dependency is compiled
//! twice.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ICE_SLICE: &str = "/usr/share/ice/slice";

/// The Slice files compiled: every `.ice` file of every folder of `root`.
fn inputs(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root) else {
        return files;
    };
    for dir in dirs.flatten() {
        let Ok(entries) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "ice") {
                files.push(p);
            }
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

/// The module name `slice2rs --help` tells users to mount a file under:
/// the path relative to the include folder, each element in snake_case,
/// joined by `_` (spelled out here rather than taken from the generator).
fn module_name(relative: &Path) -> String {
    let parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| {
            slice_compiler::codegen::ident::module_name(&c.as_os_str().to_string_lossy())
                .to_string()
        })
        .collect();
    parts.join("_")
}

#[test]
fn ice_slice_files_compile_one_rust_file_each_across_includes() -> TestResult {
    let root = Path::new(ICE_SLICE);
    let files = inputs(root);
    assert!(
        files.len() > 60 && files.iter().any(|f| f.ends_with("IceGrid/Session.ice")),
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
        let relative = f.strip_prefix(root)?;
        let rs = gen.join(relative.with_extension("rs"));
        assert!(rs.is_file(), "{} not written", rs.display());
        mounts.push_str(&format!(
            "/// `{}`.\npub mod {} {{\n    include!({:?});\n}}\n",
            relative.display(),
            module_name(relative),
            rs
        ));
    }
    let locator = std::fs::read_to_string(gen.join("Ice/Locator.rs"))?;
    assert!(
        locator.contains("ice_identity::ice::Identity"),
        "Locator.rs does not refer to Identity.ice's tree"
    );
    let session = std::fs::read_to_string(gen.join("Glacier2/Session.rs"))?;
    assert!(
        session.contains("ice_identity::ice::Identity")
            && session.contains("glacier2_ssl_info::glacier2::SslInfo"),
        "Glacier2's Session.rs does not refer to Identity.ice's and SSLInfo.ice's trees"
    );
    let grid_session = std::fs::read_to_string(gen.join("IceGrid/Session.rs"))?;
    assert!(
        grid_session.contains("glacier2_session::glacier2::SessionPrx"),
        "IceGrid's Session.rs does not refer to Glacier2's Session.ice tree"
    );

    // The scratch crate: a lib.rs mounting every file.
    let krate = work.join("crate");
    std::fs::create_dir_all(&krate)?;
    let lib = krate.join("lib.rs");
    write_if_changed(
        &lib,
        &format!(
            "//! Per-file slice2rs output of ZeroC's Slice files, side by side.\n\
             #![deny(warnings, missing_docs)]\n\n{mounts}"
        ),
    )?;

    let started = Instant::now();
    let (rlib, deps) = ice_proto_rlib()?;
    let rustc = std::env::var_os("CARGO")
        .map(PathBuf::from)
        .and_then(|c| c.parent().map(|d| d.join("rustc")))
        .filter(|r| r.is_file())
        .unwrap_or_else(|| PathBuf::from("rustc"));
    let out = run_bounded(
        Command::new(rustc)
            .args([
                "--edition",
                "2021",
                "--crate-type",
                "lib",
                "--crate-name",
                "outdir_check",
            ])
            .args(["--emit", "metadata", "--out-dir"])
            .arg(&krate)
            .arg("-L")
            .arg(format!("dependency={}", deps.display()))
            .arg("--extern")
            .arg(format!("ice_proto={}", rlib.display()))
            .arg(&lib),
        Duration::from_secs(300),
    )?;
    println!("rustc of the scratch crate: {:?}", started.elapsed());
    assert!(
        out.status.success(),
        "per-file output does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The workspace's `ice-proto` metadata and its dependency folder, as
/// `cargo build -p ice-proto` reports them.
fn ice_proto_rlib() -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = run_bounded(
        Command::new(cargo)
            .args([
                "build",
                "--offline",
                "-p",
                "ice-proto",
                "--lib",
                "--message-format=json",
            ])
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")),
        Duration::from_secs(600),
    )?;
    if !out.status.success() {
        return Err(format!(
            "cargo build -p ice-proto failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The metadata file sits in the dependency folder (the rlib is also
    // copied up a level); a metadata-only check needs nothing more.
    let rmeta = stdout
        .lines()
        .filter(|l| l.contains("\"compiler-artifact\"") && l.contains("/ice-proto"))
        .find_map(|l| {
            let end = l.find(".rmeta\"")?;
            let start = l[..end].rfind('"')? + 1;
            Some(PathBuf::from(format!("{}.rmeta", &l[start..end])))
        })
        .ok_or("cargo did not report ice-proto's metadata file")?;
    let deps = rmeta.parent().ok_or("rmeta without folder")?.to_path_buf();
    Ok((rmeta, deps))
}

/// Runs `cmd` to completion, killing it after `limit`.
fn run_bounded(
    cmd: &mut Command,
    limit: Duration,
) -> Result<std::process::Output, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    // Drain both pipes on threads so a chatty child cannot block.
    let mut so = child.stdout.take().ok_or("no stdout")?;
    let mut se = child.stderr.take().ok_or("no stderr")?;
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut v);
        v
    });
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{cmd:?} took over {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Ok(std::process::Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}

fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text)
}

#[test]
fn files_with_the_same_stem_in_different_include_folders_are_apart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .arg("-I")
        .arg(ICE_SLICE)
        .arg("--output-dir")
        .arg(dir.path())
        .arg(Path::new(ICE_SLICE).join("Glacier2/Session.ice"))
        .arg(Path::new(ICE_SLICE).join("IceGrid/Session.ice"))
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let glacier = std::fs::read_to_string(dir.path().join("Glacier2/Session.rs"))?;
    let grid = std::fs::read_to_string(dir.path().join("IceGrid/Session.rs"))?;
    assert!(glacier.contains("pub mod glacier2"), "{glacier}");
    assert!(grid.contains("pub mod ice_grid"), "{grid}");
    Ok(())
}

#[test]
fn files_mounted_as_the_same_module_are_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let src = tempfile::tempdir()?;
    for sub in ["a", "b"] {
        std::fs::create_dir_all(src.path().join(sub))?;
        std::fs::write(
            src.path().join(sub).join("Same.ice"),
            format!("module {sub} {{ struct S {{ int x; }} }}"),
        )?;
    }
    // No include folder holds them: both are mounted by stem.
    let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .arg("--output-dir")
        .arg(dir.path())
        .arg(src.path().join("a/Same.ice"))
        .arg(src.path().join("b/Same.ice"))
        .output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("module `same`"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path())?.count(), 0, "nothing written");
    // With their parent as include folder they are `a_same` and `b_same`.
    let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
        .arg("-I")
        .arg(src.path())
        .arg("--output-dir")
        .arg(dir.path())
        .arg(src.path().join("a/Same.ice"))
        .arg(src.path().join("b/Same.ice"))
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("a/Same.rs").is_file());
    assert!(dir.path().join("b/Same.rs").is_file());
    Ok(())
}

/// `a.ice` includes `b.ice` and uses its struct: compiled alone, the
/// output refers to `b`'s module, so slice2rs names the file to add;
/// with `--with-includes` it writes `b.rs` too and says nothing.
#[test]
fn included_files_are_named_or_compiled_with_with_includes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src)?;
    std::fs::write(
        src.join("b.ice"),
        "#pragma once\nmodule B { struct P { int x; } }\n",
    )?;
    std::fs::write(
        src.join("a.ice"),
        "#pragma once\n#include <b.ice>\nmodule A { struct Q { B::P p; } }\n",
    )?;
    let run = |out: &Path, with: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_slice2rs"));
        cmd.arg("-I").arg(&src).arg("--output-dir").arg(out);
        if with {
            cmd.arg("--with-includes");
        }
        cmd.arg(src.join("a.ice")).output()
    };
    let alone = dir.path().join("alone");
    std::fs::create_dir_all(&alone)?;
    let out = run(&alone, false)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("b.ice is included but not compiled") && stderr.contains("--with-includes"),
        "{stderr}"
    );
    assert!(!alone.join("b.rs").exists());
    let with = dir.path().join("with");
    std::fs::create_dir_all(&with)?;
    let out = run(&with, true)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert!(with.join("a.rs").is_file() && with.join("b.rs").is_file());
    // A second run into the same folder finds b.rs there: no warning.
    let out = run(&with, false)?;
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Classes with operations warn as slice2cpp does, unless the file's
/// metadata suppresses the warning (all, or the `deprecated` category).
#[test]
fn suppress_warning_file_metadata_silences_deprecation_warnings() -> TestResult {
    let dir = tempfile::tempdir()?;
    let body = "module M { class C { int x; void op(); } }\n";
    for (name, head, warned) in [
        ("plain.ice", "", true),
        ("all.ice", "[[\"suppress-warning\"]]\n", false),
        ("dep.ice", "[[\"suppress-warning:deprecated\"]]\n", false),
        (
            "other.ice",
            "[[\"suppress-warning:invalid-metadata\"]]\n",
            true,
        ),
    ] {
        let ice = dir.path().join(name);
        std::fs::write(&ice, format!("{head}{body}"))?;
        let out = Command::new(env!("CARGO_BIN_EXE_slice2rs"))
            .arg("--output-dir")
            .arg(dir.path())
            .arg(&ice)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        assert_eq!(
            stderr.contains("warning: classes with operations are deprecated"),
            warned,
            "{name}: {stderr}"
        );
    }
    Ok(())
}
