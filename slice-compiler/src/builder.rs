//! The `build.rs` API, in the style of `prost-build`: compiles `.ice` files
//! into one Rust module tree in `OUT_DIR` while cargo builds a crate.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     slice_compiler::builder::compile(&["slice/Hello.ice"], &["slice"])?;
//!     Ok(())
//! }
//! ```
//!
//! and in the crate:
//!
//! ```ignore
//! include!(concat!(env!("OUT_DIR"), "/slice.rs"));
//! ```
//!
//! [`Builder`] takes include folders, preprocessor defines, the output folder
//! and file name. Every file the preprocessor read (includes too) is
//! announced with `cargo:rerun-if-changed`; Slice warnings are passed on as
//! `cargo:warning`; Slice errors are printed as `file:line: error: ...` and
//! returned as [`BuildError::Slice`], so `?` in `main` fails the build with
//! them shown. The output is written only when its content changed, so an
//! unchanged `.ice` file does not rebuild the crate.

use crate::preprocess::PreprocessOptions;
use crate::{codegen, compile as compile_slice, Options};
use std::path::{Path, PathBuf};

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The Slice files have errors; `diagnostics` holds them as Ice prints them.
    #[error("Slice compilation failed:\n{diagnostics}")]
    Slice {
        /// `file:line: error: text` lines.
        diagnostics: String,
    },
    /// No output folder: neither [`Builder::out_dir`] nor `OUT_DIR` is set.
    #[error("no output folder: set OUT_DIR or call Builder::out_dir")]
    NoOutDir,
    /// Writing the generated file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The generator failed (a bug in slice2rs).
    #[error(transparent)]
    Codegen(#[from] codegen::Error),
    /// Per-file output: two files would be mounted as the same module.
    #[error("{first} and {second} would both be mounted as module `{module}`")]
    SameModule {
        /// The first file.
        first: PathBuf,
        /// The second file.
        second: PathBuf,
        /// The module name they share.
        module: String,
    },
}

/// Compiles `files` with include folders `includes` into
/// `$OUT_DIR/slice.rs`, with the defaults of [`Builder`].
pub fn compile(
    files: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<PathBuf, BuildError> {
    let mut b = Builder::new();
    for f in files {
        b = b.file(f.as_ref());
    }
    for i in includes {
        b = b.include_dir(i.as_ref());
    }
    b.compile()
}

/// Settings of one Slice compilation in a build script.
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    files: Vec<PathBuf>,
    preprocess: PreprocessOptions,
    out_dir: Option<PathBuf>,
    file_name: String,
    cargo_directives: bool,
    per_file: bool,
    with_includes: bool,
    replication: codegen::replication::Options,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// A builder with no files, writing `slice.rs` into `OUT_DIR` and
    /// printing cargo directives.
    pub fn new() -> Self {
        Self {
            files: Vec::new(),
            preprocess: PreprocessOptions::default(),
            out_dir: None,
            file_name: "slice.rs".to_string(),
            cargo_directives: true,
            per_file: false,
            with_includes: false,
            replication: codegen::replication::Options::default(),
        }
    }

    /// Adds a Slice file to compile.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Adds Slice files to compile.
    pub fn files<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.files.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Adds an include folder (`-I`).
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.preprocess.include_dirs.push(dir.into());
        self
    }

    /// Defines a preprocessor symbol (`-D NAME` or `-D NAME=VALUE`).
    pub fn define(mut self, name: impl Into<String>, value: Option<&str>) -> Self {
        self.preprocess
            .defines
            .push((name.into(), value.map(str::to_string)));
        self
    }

    /// Writes into `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Names the generated file (default `slice.rs`).
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// Writes one file per Slice file instead of one tree (default false),
    /// as `slice2rs --output-dir` does: `<path>.rs`, the file's path
    /// relative to the include folder holding it (or its stem alone when
    /// none does), e.g. `IceGrid/Session.rs` with an include folder on
    /// ZeroC's `slice` folder. Include each in the module named after that
    /// path ([`codegen::file_module`]: `IceGrid/Session.ice` in
    /// `mod ice_grid_session`, `Identity.ice` directly in an include folder
    /// in `mod identity`), side by side with those of the files it includes
    /// (see [`codegen::generate_file`]). `file_name` and State Replicator glue
    /// do not apply; [`Builder::compile`] returns the folder.
    pub fn per_file(mut self, on: bool) -> Self {
        self.per_file = on;
        self
    }

    /// With [`Builder::per_file`], also compiles every file the given files
    /// include (default false), so that no file module the output refers
    /// to is missing, as `slice2rs --with-includes`.
    pub fn with_includes(mut self, on: bool) -> Self {
        self.with_includes = on;
        self
    }

    /// Whether to print `cargo:` directives (default true; turn off when
    /// not running inside a build script).
    pub fn cargo_directives(mut self, on: bool) -> Self {
        self.cargo_directives = on;
        self
    }

    /// Generates State Replicator glue (a `replication` module, see
    /// [`codegen::replication`]) for every interface of the files that fits
    /// the pattern (default false; `["rs:replicator"]` metadata asks for one
    /// interface regardless).
    pub fn replication(mut self, on: bool) -> Self {
        self.replication.enabled = on;
        self
    }

    /// Names an interface (`Module::Interface`) that must fit the State
    /// Replicator pattern, and asks for glue.
    pub fn replicator(mut self, scoped: impl Into<String>) -> Self {
        self.replication.interfaces.push(scoped.into());
        self.replication.enabled = true;
        self
    }

    /// Names the key member of a replicator's items: `scoped` is the
    /// replicator interface, the item base class or the entry struct.
    pub fn replicator_key(mut self, scoped: impl Into<String>, member: impl Into<String>) -> Self {
        self.replication.keys.push((scoped.into(), member.into()));
        self
    }

    /// The Rust path of the crate holding the generic replicator core
    /// (default `::replicator`; `crate` from inside it).
    pub fn replicator_crate(mut self, path: impl Into<String>) -> Self {
        self.replication.crate_path = Some(path.into());
        self
    }

    /// Compiles and writes the module tree; returns the generated file's path.
    pub fn compile(self) -> Result<PathBuf, BuildError> {
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(BuildError::NoOutDir)?,
        };
        let mut files = self.files.clone();
        let mut c = compile_slice(&Options {
            files: files.clone(),
            preprocess: self.preprocess.clone(),
        });
        if self.per_file && self.with_includes && !c.has_errors() {
            let all = crate::with_included_files(&c, &files);
            if all.len() > files.len() {
                files = all;
                c = compile_slice(&Options {
                    files: files.clone(),
                    preprocess: self.preprocess.clone(),
                });
            }
        }
        if self.cargo_directives {
            for line in rerun_lines(&files, &c) {
                println!("{line}");
            }
        }
        let mut diagnostics = c.render_diagnostics();
        for model in c.units.iter().flatten() {
            diagnostics.push_str(&codegen::metadata::warnings(model).render(&c.sources));
        }
        if c.has_errors() {
            eprint!("{diagnostics}");
            return Err(BuildError::Slice { diagnostics });
        }
        if self.cargo_directives {
            for line in diagnostics.lines() {
                println!("cargo:warning={line}");
            }
        }
        if self.per_file {
            codegen::write_per_file(&c, &files, &self.preprocess.include_dirs, &out_dir).map_err(
                |e| match e {
                    codegen::WriteError::Io { path, source } => BuildError::Io { path, source },
                    codegen::WriteError::Codegen(e) => BuildError::Codegen(e),
                    codegen::WriteError::SameModule {
                        first,
                        second,
                        module,
                    } => BuildError::SameModule {
                        first,
                        second,
                        module,
                    },
                },
            )?;
            return Ok(out_dir);
        }
        let models: Vec<_> = c.units.iter().filter_map(|u| u.as_ref().ok()).collect();
        let mut code = codegen::generate(&models, &c.sources)?;
        match codegen::replication::generate(&models, &self.replication) {
            Ok(glue) => code.push_str(&glue),
            Err(d) => {
                let diagnostics = d.render(&c.sources);
                eprint!("{diagnostics}");
                return Err(BuildError::Slice { diagnostics });
            }
        }
        let path = out_dir.join(&self.file_name);
        write_if_changed(&path, &code)?;
        Ok(path)
    }
}

/// The `cargo:rerun-if-changed` lines for a compilation: the files asked
/// for, then every file the preprocessor read (includes too), each once.
pub fn rerun_lines(files: &[PathBuf], c: &crate::Compilation) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    files
        .iter()
        .cloned()
        .chain(c.sources.files().map(|(_, f)| f.canonical.clone()))
        .filter(|p| seen.insert(p.clone()))
        .map(|p| format!("cargo:rerun-if-changed={}", p.display()))
        .collect()
}

/// Writes `text` to `path` unless the file already holds exactly it.
pub fn write_if_changed(path: &Path, text: &str) -> Result<bool, BuildError> {
    if std::fs::read(path).is_ok_and(|old| old == text.as_bytes()) {
        return Ok(false);
    }
    std::fs::write(path, text).map_err(|source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_when_changed() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let p = dir.path().join("x.rs");
        assert!(write_if_changed(&p, "a")?);
        assert!(!write_if_changed(&p, "a")?);
        assert!(write_if_changed(&p, "b")?);
        assert_eq!(std::fs::read_to_string(&p)?, "b");
        Ok(())
    }

    #[test]
    fn slice_errors_fail_with_file_and_line() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let ice = dir.path().join("Bad.ice");
        std::fs::write(
            &ice,
            "module M {\n struct S { int x; }\n struct S { int y; }\n}\n",
        )?;
        let r = Builder::new()
            .file(&ice)
            .out_dir(dir.path())
            .cargo_directives(false)
            .compile();
        match r {
            Err(BuildError::Slice { diagnostics }) => {
                assert!(diagnostics.contains("Bad.ice:3: "), "{diagnostics}");
            }
            other => return Err(format!("expected a Slice error, got {other:?}").into()),
        }
        assert!(!dir.path().join("slice.rs").exists());
        Ok(())
    }

    #[test]
    fn rerun_lines_name_included_files() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let inc = dir.path().join("inc");
        std::fs::create_dir(&inc)?;
        std::fs::write(
            inc.join("Base.ice"),
            "#pragma once\nmodule B { struct P { int x; } }\n",
        )?;
        let main = dir.path().join("Main.ice");
        std::fs::write(
            &main,
            "#include <Base.ice>\nmodule M { struct Q { ::B::P p; } }\n",
        )?;
        let files = vec![main.clone()];
        let c = crate::compile(&Options {
            files: files.clone(),
            preprocess: PreprocessOptions {
                include_dirs: vec![inc.clone()],
                ..PreprocessOptions::default()
            },
        });
        assert!(!c.has_errors(), "{}", c.render_diagnostics());
        let lines = rerun_lines(&files, &c);
        let base = std::fs::canonicalize(inc.join("Base.ice"))?;
        assert!(
            lines.contains(&format!("cargo:rerun-if-changed={}", base.display())),
            "{lines:?}"
        );
        assert!(lines.contains(&format!("cargo:rerun-if-changed={}", main.display())));
        Ok(())
    }

    #[test]
    fn no_out_dir_is_an_error_not_a_panic() {
        let r = Builder::new()
            .file("does-not-matter.ice")
            .cargo_directives(false);
        if std::env::var_os("OUT_DIR").is_none() {
            assert!(matches!(r.compile(), Err(BuildError::NoOutDir)));
        }
    }
}
