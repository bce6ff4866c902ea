//! The Slice compiler: reads `.ice` files, builds a validated semantic
//! model and generates Rust for it ([`codegen`]): types, typed proxies,
//! servant traits and dispatchers over the `ice-proto` runtime. It runs as
//! the `slice2rs` command (options as ZeroC's compilers) or from a build
//! script, where one line compiles a crate's Slice files into `OUT_DIR`:
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     slice_compiler::builder::compile(&["slice/Hello.ice"], &["slice"])?;
//!     Ok(())
//! }
//! ```
//!
//! and the crate mounts the result with
//! `include!(concat!(env!("OUT_DIR"), "/slice.rs"));`. [`builder::Builder`]
//! has the other settings (defines, per-file output, included files).
//! Diagnostics are printed as ZeroC's compilers print them,
//! `file:line: error: text`.
//!
//! The pipeline is the body of [`compile_unit`]: [`preprocess`], [`parser`],
//! [`resolve`], [`validate`]. Each phase runs only when the ones before it
//! produced no error. Like ZeroC's compilers, every file named on the command
//! line is its own compilation unit with its own symbol table; included files
//! are read once per run and shared.

pub mod ast;
pub mod builder;
pub mod codegen;
pub mod diagnostics;
pub mod parser;
pub mod preprocess;
pub mod resolve;
pub mod validate;

use ast::Ast;
use diagnostics::{Diagnostics, FileId, SourceMap};
use preprocess::{FileCache, PreprocessOptions, Preprocessed};
use std::path::PathBuf;

/// The version string printed by `slice2rs --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What to compile and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The `.ice` files, each its own compilation unit.
    pub files: Vec<PathBuf>,
    /// Preprocessor settings (`-I`, `-D`, `-U`).
    pub preprocess: PreprocessOptions,
}

/// The validated model of one compilation unit.
#[derive(Debug, Clone)]
pub struct Model {
    /// The unit's main file.
    pub main: FileId,
    /// The definitions of the unit and everything it includes.
    pub ast: Ast,
    /// Every file read for the unit, main file first.
    pub files: Vec<FileId>,
    /// Warnings (a model exists only when there was no error).
    pub warnings: Diagnostics,
}

/// The result of compiling every unit of an invocation.
#[derive(Debug, Default)]
pub struct Compilation {
    /// The files read, shared by all units.
    pub sources: SourceMap,
    /// One entry per input file: the model, or the diagnostics that stopped it.
    pub units: Vec<Result<Model, Diagnostics>>,
}

impl Compilation {
    /// True when some unit had an error.
    pub fn has_errors(&self) -> bool {
        self.units.iter().any(|u| u.is_err())
    }

    /// All diagnostics (errors and warnings), rendered as Ice prints them.
    pub fn render_diagnostics(&self) -> String {
        let mut out = String::new();
        for u in &self.units {
            match u {
                Ok(m) => out.push_str(&m.warnings.render(&self.sources)),
                Err(d) => out.push_str(&d.render(&self.sources)),
            }
        }
        out
    }
}

/// Compiles every file of `options`, each as its own unit.
pub fn compile(options: &Options) -> Compilation {
    let mut cache = FileCache::default();
    let mut c = Compilation::default();
    for f in &options.files {
        let unit = compile_unit(f, &options.preprocess, &mut cache, &mut c.sources);
        c.units.push(unit);
    }
    c
}

/// Compiles in-memory text as one unit (tests and tools); `name` is the file
/// name used in diagnostics and for relative includes.
pub fn compile_str(
    name: &str,
    text: &str,
    opts: &PreprocessOptions,
) -> (SourceMap, Result<Model, Diagnostics>) {
    let mut cache = FileCache::default();
    let path = PathBuf::from(name);
    cache.insert(
        std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone()),
        text,
    );
    let mut sources = SourceMap::default();
    let r = compile_unit(&path, opts, &mut cache, &mut sources);
    (sources, r)
}

/// Runs only the preprocessor on one file (for `-E` and `--depend`).
pub fn preprocess_file(
    path: &std::path::Path,
    opts: &PreprocessOptions,
    cache: &mut FileCache,
    sources: &mut SourceMap,
) -> Result<Preprocessed, Diagnostics> {
    let mut diags = Diagnostics::new();
    match preprocess::preprocess(path, opts, cache, sources, &mut diags) {
        Some(pp) if !diags.has_errors() => Ok(pp),
        _ => Err(diags),
    }
}

/// The pipeline for one unit: preprocess, parse, resolve, validate.
pub fn compile_unit(
    path: &std::path::Path,
    opts: &PreprocessOptions,
    cache: &mut FileCache,
    sources: &mut SourceMap,
) -> Result<Model, Diagnostics> {
    let mut diags = Diagnostics::new();
    let pp = preprocess::preprocess(path, opts, cache, sources, &mut diags);
    let Some(pp) = pp.filter(|_| !diags.has_errors()) else {
        return Err(finish(diags));
    };
    let mut ast = Ast::default();
    parser::parse(&pp.text, &pp.lines, &mut ast, &mut diags);
    if diags.has_errors() {
        // ZeroC's compilers check while they parse, so a mistake before a
        // syntax error is reported first: check what was parsed, and keep
        // what precedes the first error.
        let first = diags
            .iter()
            .filter(|d| d.severity == diagnostics::Severity::Error)
            .filter_map(|d| d.span.map(|s| s.pos))
            .min();
        let mut early = Diagnostics::new();
        let symbols = resolve::resolve(&mut ast, &mut early);
        validate::validate(&ast, &symbols, pp.main, &mut early);
        for d in early.iter() {
            if d.span.is_some_and(|s| Some(s.pos) < first) {
                diags.push(d.clone());
            }
        }
        return Err(finish(diags));
    }
    // Resolution and validation both run: ZeroC's compilers check in one
    // pass, so the first error in text order may come from either; the
    // validators skip whatever failed to resolve.
    let symbols = resolve::resolve(&mut ast, &mut diags);
    validate::validate(&ast, &symbols, pp.main, &mut diags);
    if diags.has_errors() {
        return Err(finish(diags));
    }
    suppress_warnings(&ast, &mut diags);
    Ok(Model {
        main: pp.main,
        ast,
        files: pp.files,
        warnings: finish(diags),
    })
}

/// `files` followed by every file their units include that is not among
/// them (each once, by canonical path, in the order first included): what
/// `slice2rs --with-includes` and `Builder::with_includes` compile so that
/// per-file output refers to no missing file module.
pub fn with_included_files(c: &Compilation, files: &[PathBuf]) -> Vec<PathBuf> {
    let canonical = |p: &PathBuf| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
    let mut seen: Vec<PathBuf> = files.iter().map(canonical).collect();
    let mut out = files.to_vec();
    for model in c.units.iter().flatten() {
        for id in model.files.iter().skip(1) {
            let Some(f) = c.sources.get(*id) else {
                continue;
            };
            if !seen.contains(&f.canonical) {
                seen.push(f.canonical.clone());
                out.push(PathBuf::from(&f.display));
            }
        }
    }
    out
}

/// Drops the warnings a file's `[["suppress-warning"]]` (every warning) or
/// `[["suppress-warning:CATEGORY,..."]]` metadata silences, as ZeroC's
/// compilers do (`all`, `deprecated`, `invalid-metadata`,
/// `reserved-identifier`).
fn suppress_warnings(ast: &ast::Ast, diags: &mut Diagnostics) {
    diags.retain(|d| {
        let (Some(span), diagnostics::Severity::Warning) = (d.span, d.severity) else {
            return true;
        };
        !ast.file_metadata(span.file).iter().any(|m| {
            let v = m.value.trim();
            if v == "suppress-warning" {
                return true;
            }
            v.strip_prefix("suppress-warning:").is_some_and(|cats| {
                cats.split(',')
                    .map(str::trim)
                    .any(|c| c == "all" || c == d.code)
            })
        })
    });
}

fn finish(mut d: Diagnostics) -> Diagnostics {
    d.sort_by_position();
    d
}
