//! `slice2rs`: the command-line front end of the Slice compiler.
//!
//! Takes the options ZeroC's Slice compilers share (`-I`, `-D`, `-U`, `-E`,
//! `--output-dir`, `--depend`) and prints diagnostics as
//! `file:line: error: text`. Exit status 1 on any error.
//!
//! With `--output-dir DIR` it writes one Rust file per Slice file,
//! `DIR/<path>.rs` with `<path>` the file's path relative to the include
//! folder holding it, or its stem (see
//! [`slice_compiler::codegen::write_per_file`] and the `--help` text for
//! how to mount them in a crate). Two input files mounted as the same
//! module are an error.

use clap::Parser;
use slice_compiler::preprocess::{FileCache, PreprocessOptions};
use slice_compiler::{compile, diagnostics::SourceMap, preprocess_file, Options, VERSION};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "slice2rs",
    version = VERSION,
    about = "Compiles Slice (.ice) files; validates them like ZeroC's compilers.",
    long_about = "Compiles Slice (.ice) files; validates them like ZeroC's compilers.\n\n\
Without --output-dir the files are only checked. With --output-dir DIR, each Slice \
file given on the command line becomes one Rust file (written only when its content \
changed): the Rust module tree of the definitions of that file alone (Slice modules as \
nested `pub mod`s), whose code depends on the ice-proto crate. The file is \
DIR/<path>.rs, where <path> is the Slice file's path relative to the -I folder holding \
it, without .ice (the nearest such folder when several do), or the file's stem when no \
-I folder holds it: with -I /usr/share/ice/slice, IceGrid/Session.ice becomes \
DIR/IceGrid/Session.rs.\n\n\
Mount each file in a module named after <path>, each folder and the stem in \
snake_case joined by `_`, all side by side in one parent module, e.g. for \
Ice/Identity.ice, Ice/Locator.ice and IceGrid/Session.ice:\n\n\
    pub mod ice_identity { include!(concat!(env!(\"OUT_DIR\"), \"/Ice/Identity.rs\")); }\n\
    pub mod ice_locator { include!(concat!(env!(\"OUT_DIR\"), \"/Ice/Locator.rs\")); }\n\
    pub mod ice_grid_session { include!(concat!(env!(\"OUT_DIR\"), \"/IceGrid/Session.rs\")); }\n\n\
A definition used from an included file is referred to as `super::<file module>::...` \
(Ice/Locator.rs uses `super::ice_identity::ice::Identity`), so every included file must \
be compiled too (in the same call or another one, with the same -I folders) and mounted \
beside it; each file's `register_types` also registers the classes and exceptions of \
the files it includes. Two input files that would get the same module are refused.\n\n\
A build script can do the same with slice_compiler::builder::Builder::per_file, or \
generate all files as one tree with the default Builder.",
    disable_version_flag = true
)]
struct Args {
    /// Put DIR in the include file search path.
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Define NAME as 1, or NAME=DEF as DEF.
    #[arg(short = 'D', value_name = "NAME[=DEF]")]
    define: Vec<String>,
    /// Remove any definition for NAME.
    #[arg(short = 'U', value_name = "NAME")]
    undefine: Vec<String>,
    /// Print preprocessor output on stdout.
    #[arg(short = 'E')]
    preprocess_only: bool,
    /// Create files in the directory DIR.
    #[arg(long = "output-dir", value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// With --output-dir, also compile every file the input files include,
    /// so that no file module the output refers to is missing.
    #[arg(long = "with-includes")]
    with_includes: bool,
    /// Generate Makefile dependencies.
    #[arg(long)]
    depend: bool,
    /// Write dependencies to FILE instead of standard output.
    #[arg(long = "depend-file", value_name = "FILE")]
    depend_file: Option<PathBuf>,
    /// Report the State Replicator patterns the files hold (one line each)
    /// or why a named interface does not fit.
    #[arg(long)]
    replication: bool,
    /// An interface that must fit the State Replicator pattern (implies
    /// --replication).
    #[arg(long, value_name = "MODULE::INTERFACE")]
    replicator: Vec<String>,
    /// The key member of a replicator's items, by replicator, item class
    /// or entry struct.
    #[arg(long = "replicator-key", value_name = "SCOPED=MEMBER")]
    replicator_key: Vec<String>,
    /// Display the version.
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: (),
    /// The Slice files.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if args.files.is_empty() {
        eprintln!("slice2rs: error: no input file");
        return ExitCode::from(1);
    }
    let pp = PreprocessOptions {
        include_dirs: args.include.clone(),
        defines: args
            .define
            .iter()
            .map(|d| match d.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (d.clone(), None),
            })
            .collect(),
        undefines: args.undefine.clone(),
    };
    if args.preprocess_only || args.depend || args.depend_file.is_some() {
        return preprocess_only(&args, &pp);
    }
    if let Some(dir) = &args.output_dir {
        if !dir.is_dir() {
            eprintln!("slice2rs: error: argument for --output-dir does not exist or is not a directory: {}", dir.display());
            return ExitCode::from(1);
        }
    }
    let mut files = args.files.clone();
    let mut c = compile(&Options {
        files: files.clone(),
        preprocess: pp.clone(),
    });
    if args.with_includes && !c.has_errors() {
        let all = slice_compiler::with_included_files(&c, &files);
        if all.len() > files.len() {
            files = all;
            c = compile(&Options {
                files: files.clone(),
                preprocess: pp,
            });
        }
    }
    eprint!("{}", c.render_diagnostics());
    for model in c.units.iter().flatten() {
        let unknown = slice_compiler::codegen::metadata::warnings(model);
        eprint!("{}", unknown.render(&c.sources));
    }
    if c.has_errors() {
        return ExitCode::from(1);
    }
    if args.replication || !args.replicator.is_empty() {
        let options = slice_compiler::codegen::replication::Options {
            enabled: true,
            interfaces: args.replicator.clone(),
            keys: args
                .replicator_key
                .iter()
                .filter_map(|k| k.split_once('='))
                .map(|(s, m)| (s.to_string(), m.to_string()))
                .collect(),
            crate_path: None,
        };
        let (out, errors) = slice_compiler::codegen::replication::report(&c, &options);
        print!("{out}");
        eprint!("{errors}");
        if !errors.is_empty() {
            return ExitCode::from(1);
        }
    }
    if let Some(dir) = &args.output_dir {
        if let Err(e) = slice_compiler::codegen::write_per_file(&c, &files, &args.include, dir) {
            eprintln!("slice2rs: error: {e}");
            return ExitCode::from(1);
        }
        warn_missing_includes(&c, &files, &args.include, dir);
    }
    ExitCode::SUCCESS
}

/// Warns, naming the file to add, about every included file whose output
/// is neither written by this run nor in `dir` from an earlier one: the
/// generated code refers to its module, which rustc would report missing.
fn warn_missing_includes(
    c: &slice_compiler::Compilation,
    files: &[PathBuf],
    include: &[PathBuf],
    dir: &std::path::Path,
) {
    for extra in slice_compiler::with_included_files(c, files)
        .iter()
        .skip(files.len())
    {
        let out = dir.join(slice_compiler::codegen::per_file_output(extra, include));
        if !out.exists() {
            eprintln!(
                "slice2rs: warning: {} is included but not compiled: the generated code refers to \
                 its module; compile it too (or pass --with-includes)",
                extra.display()
            );
        }
    }
}

/// `-E` and `--depend`: run the preprocessor only.
fn preprocess_only(args: &Args, pp: &PreprocessOptions) -> ExitCode {
    let mut cache = FileCache::default();
    let mut sources = SourceMap::default();
    let mut out = String::new();
    let mut failed = false;
    for f in &args.files {
        match preprocess_file(f, pp, &mut cache, &mut sources) {
            Ok(p) => {
                if args.preprocess_only {
                    out.push_str(&p.to_marked_text(&sources));
                } else {
                    let rs = slice_compiler::codegen::per_file_output(f, &args.include);
                    let target = match &args.output_dir {
                        Some(d) => d.join(rs).display().to_string(),
                        None => rs.display().to_string(),
                    };
                    out.push_str(&format!("{target}: \\\n {}", f.display()));
                    for id in p.files.iter().skip(1) {
                        out.push_str(&format!(" \\\n {}", sources.name(*id)));
                    }
                    out.push('\n');
                }
            }
            Err(d) => {
                failed = true;
                eprint!("{}", d.render(&sources));
            }
        }
    }
    let written = match &args.depend_file {
        Some(path) if !args.preprocess_only => std::fs::write(path, &out).is_ok(),
        _ => std::io::stdout().write_all(out.as_bytes()).is_ok(),
    };
    if failed || !written {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
