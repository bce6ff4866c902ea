//! `slice2rs`: the command-line front end of the Slice compiler.
//!
//! Takes the options ZeroC's Slice compilers share (`-I`, `-D`, `-U`, `-E`,
//! `--output-dir`, `--depend`) and prints diagnostics as
//! `file:line: error: text`. Exit status 1 on any error.
//!
//! With `--output-dir DIR` it writes one Rust file per Slice file,
//! `DIR/<stem>.rs` (see [`slice_compiler::codegen::write_per_file`] and
//! the `--help` text for how to mount them in a crate). Two input files
//! with the same stem would write the same file: that is an error.

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
file X.ice given on the command line becomes DIR/X.rs (written only when its content \
changed): the Rust module tree of the definitions of X.ice alone (Slice modules as \
nested `pub mod`s), whose code depends on the ice-proto crate.\n\n\
Mount each file in a module named after its file, snake_case, all side by side in \
one parent module, e.g. for Identity.ice and Locator.ice:\n\n\
    pub mod identity { include!(concat!(env!(\"OUT_DIR\"), \"/Identity.rs\")); }\n\
    pub mod locator { include!(concat!(env!(\"OUT_DIR\"), \"/Locator.rs\")); }\n\n\
A definition used from an included file is referred to as `super::<file module>::...` \
(Locator.rs uses `super::identity::ice::Identity`), so every included file must be \
compiled too (in the same call or another one) and mounted beside it; each file's \
`register_types` also registers the classes and exceptions of the files it includes. \
File stems must therefore be unique among the files mounted together.\n\n\
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
        if let Some((a, b)) = same_stem(&args.files) {
            eprintln!(
                "slice2rs: error: {} and {} would both be written as {}.rs (and mounted as the same module)",
                a.display(),
                b.display(),
                stem_of(a)
            );
            return ExitCode::from(1);
        }
    }
    let c = compile(&Options {
        files: args.files.clone(),
        preprocess: pp,
    });
    eprint!("{}", c.render_diagnostics());
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
        if let Err(e) = slice_compiler::codegen::write_per_file(&c, &args.files, dir) {
            eprintln!("slice2rs: error: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

/// The file stem, as `--output-dir` names the Rust file.
fn stem_of(file: &std::path::Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Two distinct input files whose Rust files would have the same name.
fn same_stem(files: &[PathBuf]) -> Option<(&PathBuf, &PathBuf)> {
    let mut seen: std::collections::HashMap<String, &PathBuf> = std::collections::HashMap::new();
    for f in files {
        let same = |a: &PathBuf, b: &PathBuf| match (a.canonicalize(), b.canonicalize()) {
            (Ok(x), Ok(y)) => x == y,
            _ => a == b,
        };
        match seen.get(&stem_of(f)) {
            Some(&first) if !same(first, f) => return Some((first, f)),
            Some(_) => {}
            None => {
                seen.insert(stem_of(f), f);
            }
        }
    }
    None
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
                    let stem = f
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let target = match &args.output_dir {
                        Some(d) => d.join(format!("{stem}.rs")).display().to_string(),
                        None => format!("{stem}.rs"),
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
