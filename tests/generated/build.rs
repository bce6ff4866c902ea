//! Generates Rust for every Slice file of ZeroC Ice (`/usr/share/ice/slice`,
//! when installed) and of this project (`slice/`) with the `build.rs` API,
//! one module tree each.

use std::path::{Path, PathBuf};

/// Every `.ice` file under `dir`, sorted.
fn ice_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ice") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ice_dir = Path::new("/usr/share/ice/slice");
    let ice = ice_files(ice_dir);
    // Without ZeroC's Slice files installed the Ice tree is empty; the
    // test of this crate reports that instead of passing silently.
    println!("cargo:rustc-env=ICE_SLICE_FILES={}", ice.len());
    println!("cargo:rerun-if-changed={}", ice_dir.display());
    slice_compiler::builder::Builder::new()
        .files(ice)
        .include_dir(ice_dir)
        .file_name("ice.rs")
        .compile()?;

    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../slice");
    let files = ice_files(&project);
    println!("cargo:rustc-env=PROJECT_SLICE_FILES={}", files.len());
    slice_compiler::builder::Builder::new()
        .files(files)
        .include_dir(&project)
        .include_dir(ice_dir)
        .file_name("project.rs")
        .compile()?;

    // The call shape of generated proxies and servants.
    slice_compiler::builder::Builder::new()
        .file(Path::new(env!("CARGO_MANIFEST_DIR")).join("slice/ApiShape.ice"))
        .file_name("api_shape.rs")
        .compile()?;

    // The interop test's types and interfaces.
    slice_compiler::builder::Builder::new()
        .file(Path::new(env!("CARGO_MANIFEST_DIR")).join("slice/Codegen.ice"))
        .file_name("codegen.rs")
        .compile()?;

    // The comprehensive interop test's types and interfaces.
    slice_compiler::builder::Builder::new()
        .file(Path::new(env!("CARGO_MANIFEST_DIR")).join("slice/Test.ice"))
        .file_name("test_ice.rs")
        .compile()?;

    // Slicing and ["preserve-slice"] through a Rust relay: the shared
    // types plus the ones only the Rust side knows.
    let slice_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("slice");
    slice_compiler::builder::Builder::new()
        .file(slice_dir.join("Preserve.ice"))
        .file(slice_dir.join("PreserveRustOnly.ice"))
        .include_dir(&slice_dir)
        .file_name("preserve.rs")
        .compile()?;

    // Ice.Default.SlicedFormat against a peer that lacks the derived types.
    slice_compiler::builder::Builder::new()
        .file(slice_dir.join("FormatDefault.ice"))
        .file_name("format_default.rs")
        .compile()?;

    // Classes and exceptions with full Ice fidelity, and the same
    // component as an older program knows it.
    slice_compiler::builder::Builder::new()
        .file(slice_dir.join("Fidelity.ice"))
        .file_name("fidelity.rs")
        .compile()?;
    slice_compiler::builder::Builder::new()
        .file(slice_dir.join("FidelityOld.ice"))
        .file_name("fidelity_old.rs")
        .compile()?;

    // Multiple interface inheritance.
    slice_compiler::builder::Builder::new()
        .file(slice_dir.join("MultiInherit.ice"))
        .file_name("multi_inherit.rs")
        .compile()?;

    // Per-file output: one tree per Slice file, referring to the trees of
    // the files it includes (some of ZeroC's and two of ours).
    let per_file = PathBuf::from(std::env::var("OUT_DIR")?).join("per_file");
    std::fs::create_dir_all(&per_file)?;
    let slice_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("slice");
    let ice_per_file = ["BuiltinSequences", "Identity", "Process", "Locator"];
    let ice_per_file: Vec<PathBuf> = if ice_dir.join("Ice/Locator.ice").exists() {
        ice_per_file
            .iter()
            .map(|f| ice_dir.join(format!("Ice/{f}.ice")))
            .collect()
    } else {
        // Without ZeroC's Slice files, empty trees keep the crate building.
        for f in ice_per_file {
            std::fs::create_dir_all(per_file.join("Ice"))?;
            std::fs::write(per_file.join(format!("Ice/{f}.rs")), "")?;
        }
        Vec::new()
    };
    slice_compiler::builder::Builder::new()
        .files(ice_per_file)
        .files([
            slice_dir.join("PerFileBase.ice"),
            slice_dir.join("PerFileUse.ice"),
        ])
        .include_dir(ice_dir)
        .include_dir(&slice_dir)
        .out_dir(&per_file)
        .per_file(true)
        .compile()?;

    // The golden files of the generator's own tests must compile too.
    let golden_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../slice-compiler/tests/golden_codegen");
    slice_compiler::builder::Builder::new()
        .files(ice_files(&golden_dir))
        .file_name("golden_codegen.rs")
        .compile()?;

    // The types ZeroC wrote the golden encoding fixtures with.
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/encoding/Fixtures.ice");
    slice_compiler::builder::Builder::new()
        .file(golden)
        .file_name("golden.rs")
        .compile()?;
    Ok(())
}
