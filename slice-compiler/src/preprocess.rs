//! The C-style preprocessor that ZeroC's compilers run before parsing.
//!
//! Handles `#include "f"` / `#include <f>` (searched in the including file's
//! folder, then the `-I` folders), `#pragma once`, `#define`/`#undef`,
//! `#if`/`#ifdef`/`#ifndef`/`#elif`/`#else`/`#endif` with `defined(X)`,
//! `#error` and `#warning`. Comments are kept (the parser keeps doc comments),
//! and every output line maps back to its file and line through a compact
//! [`LineMap`]. Macros are not expanded in Slice text (Slice files do not use
//! them); they only feed conditionals. Parsing is left to [`crate::parser`].

use crate::diagnostics::{Diagnostics, FileId, SourceFile, SourceMap, Span};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The macro predefined by `slice2rs`, as `slice2cpp` predefines `__SLICE2CPP__`.
pub const PREDEFINED: &str = "__SLICE2RS__";

/// Deepest include nesting accepted before reporting an error.
const MAX_INCLUDE_DEPTH: usize = 200;

/// Preprocessor settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct PreprocessOptions {
    /// `-I` folders, searched in order.
    pub include_dirs: Vec<PathBuf>,
    /// `-D NAME[=VALUE]`, in command-line order.
    pub defines: Vec<(String, Option<String>)>,
    /// `-U NAME`, applied after the defines.
    pub undefines: Vec<String>,
}

/// Text of files read once per run and shared by every unit.
#[derive(Debug, Default)]
pub struct FileCache {
    /// Canonical path to text (or `None` if it could not be read).
    texts: HashMap<PathBuf, Option<Arc<str>>>,
}

impl FileCache {
    /// Reads a file, or returns the cached text.
    pub fn read(&mut self, canonical: &Path) -> Option<Arc<str>> {
        if let Some(t) = self.texts.get(canonical) {
            return t.clone();
        }
        let t = std::fs::read(canonical)
            .ok()
            .map(|b| Arc::from(String::from_utf8_lossy(&b).as_ref()));
        self.texts.insert(canonical.to_path_buf(), t.clone());
        t
    }

    /// True when text for this path was put or read already.
    pub fn contains(&self, path: &Path) -> bool {
        matches!(self.texts.get(path), Some(Some(_)))
    }

    /// Puts text for a path (used by tests and in-memory compilation).
    pub fn insert(&mut self, canonical: PathBuf, text: &str) {
        self.texts.insert(canonical, Some(Arc::from(text)));
    }
}

/// One run of output lines that come from consecutive lines of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    /// First output line (0-based) of the run.
    out_line: u32,
    /// Source file of the run.
    file: FileId,
    /// Line (1-based) in `file` of the first output line of the run.
    line: u32,
}

/// Maps byte offsets of the preprocessed text to original files and lines.
#[derive(Debug, Clone, Default)]
pub struct LineMap {
    line_starts: Vec<u32>,
    segments: Vec<Segment>,
}

impl LineMap {
    /// The span of a byte offset of the preprocessed text.
    pub fn span(&self, pos: usize) -> Span {
        let pos32 = u32::try_from(pos).unwrap_or(u32::MAX);
        let out_line = self
            .line_starts
            .partition_point(|&s| s <= pos32)
            .saturating_sub(1) as u32;
        self.span_of_line(out_line, pos32)
    }

    fn span_of_line(&self, out_line: u32, pos: u32) -> Span {
        let i = self.segments.partition_point(|s| s.out_line <= out_line);
        match i.checked_sub(1).and_then(|i| self.segments.get(i)) {
            Some(seg) => Span {
                file: seg.file,
                line: seg.line + (out_line - seg.out_line),
                pos,
            },
            None => Span {
                file: FileId(0),
                line: 1,
                pos,
            },
        }
    }

    /// The file a byte offset belongs to.
    pub fn file_at(&self, pos: usize) -> FileId {
        self.span(pos).file
    }
}

/// The result of preprocessing one compilation unit.
#[derive(Debug, Clone)]
pub struct Preprocessed {
    /// The text the parser reads (one output line per source line).
    pub text: String,
    /// Offsets to files and lines.
    pub lines: LineMap,
    /// The unit's main file.
    pub main: FileId,
    /// Every file read for this unit, main file first, in include order.
    pub files: Vec<FileId>,
}

impl Preprocessed {
    /// The text with `#line N "file"` markers, as printed by `-E`.
    pub fn to_marked_text(&self, sources: &SourceMap) -> String {
        let mut out = String::with_capacity(self.text.len() + 256);
        let mut seg_iter = self.lines.segments.iter().peekable();
        if seg_iter.peek().is_some_and(|s| s.file != self.main) {
            // The main file starts with an include: name it first, as Ice does.
            out.push_str(&format!("#line 1 \"{}\"\n", sources.name(self.main)));
        }
        for (n, line) in self.text.split_inclusive('\n').enumerate() {
            while let Some(seg) = seg_iter.peek() {
                if seg.out_line as usize == n {
                    out.push_str(&format!(
                        "#line {} \"{}\"\n",
                        seg.line,
                        sources.name(seg.file)
                    ));
                    seg_iter.next();
                } else {
                    break;
                }
            }
            out.push_str(line);
        }
        out
    }
}

#[derive(Debug, Clone)]
struct Cond {
    /// The enclosing region is active.
    parent_active: bool,
    /// Some branch of this conditional was already taken.
    taken: bool,
    /// The current branch is active.
    active: bool,
    /// `#else` was seen.
    seen_else: bool,
}

struct State<'a> {
    opts: &'a PreprocessOptions,
    cache: &'a mut FileCache,
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    macros: HashMap<String, String>,
    once: HashSet<FileId>,
    out: String,
    out_line: u32,
    line_starts: Vec<u32>,
    segments: Vec<Segment>,
    files: Vec<FileId>,
    depth: usize,
}

/// Preprocesses one compilation unit, starting at `path`.
///
/// Returns `None` when the main file cannot be read (an error is pushed).
pub fn preprocess(
    path: &Path,
    opts: &PreprocessOptions,
    cache: &mut FileCache,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Option<Preprocessed> {
    let canonical = canonicalize(path);
    let text = match cache.read(&canonical) {
        Some(t) => t,
        None => {
            diags.global_error("io", format!("cannot open file `{}'", path.display()));
            return None;
        }
    };
    let main = intern(sources, path.display().to_string(), canonical);
    let mut macros = HashMap::new();
    macros.insert(PREDEFINED.to_string(), "1".to_string());
    macros.insert("__ICE_VERSION__".to_string(), "030708".to_string());
    for (name, value) in &opts.defines {
        macros.insert(name.clone(), value.clone().unwrap_or_else(|| "1".into()));
    }
    for name in &opts.undefines {
        macros.remove(name);
    }
    let mut st = State {
        opts,
        cache,
        sources,
        diags,
        macros,
        once: HashSet::new(),
        out: String::with_capacity(text.len() * 2),
        out_line: 0,
        line_starts: vec![0],
        segments: Vec::new(),
        files: Vec::new(),
        depth: 0,
    };
    st.file(main, &text);
    let lines = LineMap {
        line_starts: st.line_starts,
        segments: st.segments,
    };
    Some(Preprocessed {
        text: st.out,
        lines,
        main,
        files: st.files,
    })
}

fn canonicalize(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn intern(sources: &mut SourceMap, display: String, canonical: PathBuf) -> FileId {
    match sources.find(&canonical) {
        Some(id) => id,
        None => sources.add(SourceFile { display, canonical }),
    }
}

impl State<'_> {
    fn emit_line(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
        self.out_line += 1;
        self.line_starts
            .push(u32::try_from(self.out.len()).unwrap_or(u32::MAX));
    }

    fn segment(&mut self, file: FileId, line: u32) {
        let seg = Segment {
            out_line: self.out_line,
            file,
            line,
        };
        if let Some(last) = self.segments.last_mut() {
            if last.out_line == seg.out_line {
                *last = seg;
                return;
            }
        }
        self.segments.push(seg);
    }

    fn span(&self, file: FileId, line: u32) -> Span {
        Span {
            file,
            line,
            pos: u32::try_from(self.out.len()).unwrap_or(u32::MAX),
        }
    }

    fn file(&mut self, id: FileId, text: &str) {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if !self.files.contains(&id) {
            self.files.push(id);
        }
        self.segment(id, 1);
        let mut conds: Vec<Cond> = Vec::new();
        let mut in_comment = false;
        let mut lines = text.split('\n').enumerate().peekable();
        // Set by `#line N`: added to physical line numbers.
        let mut line_delta: i64 = 0;
        let ends_with_newline = text.ends_with('\n');
        while let Some((idx, raw)) = lines.next() {
            if ends_with_newline && lines.peek().is_none() && raw.is_empty() {
                break;
            }
            let physical = idx as u32 + 1;
            let line_no = u32::try_from((i64::from(physical) + line_delta).max(1)).unwrap_or(1);
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let active = conds.last().map(|c| c.active).unwrap_or(true);
            let trimmed = raw.trim_start();
            if !in_comment && trimmed.starts_with('#') {
                // Join continuation lines.
                let mut directive = trimmed[1..].to_string();
                let mut extra = 0u32;
                while directive.ends_with('\\') {
                    directive.pop();
                    match lines.next() {
                        Some((_, next)) => {
                            directive.push(' ');
                            directive.push_str(next.strip_suffix('\r').unwrap_or(next));
                            extra += 1;
                        }
                        None => break,
                    }
                }
                let directive = strip_comments(&directive);
                let span = self.span(id, line_no);
                let before = line_delta;
                let included = self.directive(
                    id,
                    span,
                    directive.trim(),
                    &mut conds,
                    active,
                    &mut line_delta,
                );
                if !included {
                    self.emit_line("");
                }
                for _ in 0..extra {
                    self.emit_line("");
                }
                if included || before != line_delta {
                    let next = i64::from(physical) + i64::from(extra) + 1 + line_delta;
                    self.segment(id, u32::try_from(next.max(1)).unwrap_or(1));
                }
                continue;
            }
            let (still_in_comment, open) = scan_comment_state(raw, in_comment);
            in_comment = still_in_comment;
            if active {
                let msg = match open {
                    Some(b'"') => Some("Unterminated string literal, skipped the line"),
                    Some(_) => Some("Unterminated character constant 39, skipped the line"),
                    None => None,
                };
                if let Some(msg) = msg {
                    let span = self.span(id, line_no);
                    self.diags.error("preprocessor", span, msg);
                }
            }
            if active {
                self.emit_line(raw);
            } else {
                self.emit_line("");
            }
        }
        if in_comment {
            // Like ZeroC's preprocessor: warn and close the comment.
            let last = text.lines().count().max(1) as u32;
            let span = self.span(id, last);
            self.diags.warning(
                "preprocessor",
                span,
                "End of input with unterminated comment, terminated the comment",
            );
            if self.out.ends_with('\n') {
                self.out.insert_str(self.out.len() - 1, "*/");
                if let Some(l) = self.line_starts.last_mut() {
                    *l += 2;
                }
                if self.depth == 0 {
                    // ZeroC's preprocessor ends such a file two lines later,
                    // where a syntax error at its end is then reported.
                    self.emit_line("");
                    self.emit_line("");
                }
            }
        }
        if let Some(_c) = conds.last() {
            let span = self.span(id, text.lines().count().max(1) as u32);
            self.diags.error("preprocessor", span, "missing #endif");
        }
    }

    /// Handles one directive; returns true when it was an include whose
    /// content was emitted (the caller then restarts the line mapping).
    fn directive(
        &mut self,
        file: FileId,
        span: Span,
        d: &str,
        conds: &mut Vec<Cond>,
        active: bool,
        line_delta: &mut i64,
    ) -> bool {
        let (name, rest) = split_word(d);
        let rest = rest.trim();
        match name {
            "ifdef" | "ifndef" => {
                let (m, extra) = split_word(rest);
                if active && !m.is_empty() && !is_ident(m) {
                    self.diags.error(
                        "preprocessor",
                        span,
                        format!("Not an identifier \"{}\"", split_word_any(rest)),
                    );
                }
                if active && !m.is_empty() && !extra.trim().is_empty() {
                    self.diags.error(
                        "preprocessor",
                        span,
                        format!("Excessive token sequence \"{}\"", extra.trim()),
                    );
                }
                if active && m.is_empty() {
                    self.diags.error(
                        "preprocessor",
                        span,
                        format!("no macro name given in #{name} directive"),
                    );
                }
                let defined = self.macros.contains_key(m);
                let cond = if name == "ifdef" { defined } else { !defined };
                conds.push(Cond {
                    parent_active: active,
                    taken: active && cond,
                    active: active && cond,
                    seen_else: false,
                });
            }
            "if" => {
                let v = if active { self.eval(rest, span) } else { false };
                conds.push(Cond {
                    parent_active: active,
                    taken: active && v,
                    active: active && v,
                    seen_else: false,
                });
            }
            "elif" => {
                let Some(top) = conds.last().cloned() else {
                    self.diags.error("preprocessor", span, "#elif without #if");
                    return false;
                };
                if top.seen_else {
                    self.diags.error("preprocessor", span, "#elif after #else");
                }
                let v = if top.parent_active && !top.taken {
                    self.eval(rest, span)
                } else {
                    false
                };
                if let Some(c) = conds.last_mut() {
                    c.active = c.parent_active && !c.taken && v;
                    c.taken |= c.active;
                }
            }
            "else" | "endif" if !rest.is_empty() => {
                self.diags.error(
                    "preprocessor",
                    span,
                    format!("Excessive token sequence \"{rest}\""),
                );
                self.close_or_else(name, span, conds);
            }
            "else" | "endif" => self.close_or_else(name, span, conds),
            _ if !active => {}
            "define" => {
                let (m, value) = split_macro(rest);
                if m.is_empty() || !is_ident(m) {
                    self.diags.error(
                        "preprocessor",
                        span,
                        "illegal macro name in #define directive",
                    );
                } else {
                    self.macros.insert(m.to_string(), value.trim().to_string());
                }
            }
            "undef" => {
                let (m, _) = split_word(rest);
                self.macros.remove(m);
            }
            "pragma" => self.pragma(file, span, rest),
            "include" => return self.include(file, span, rest),
            "error" => {
                self.diags
                    .error("preprocessor", span, format!("#error {rest}"));
            }
            "warning" => {
                self.diags
                    .warning("preprocessor", span, format!("#warning {rest}"));
            }
            "line" => {
                let (n, _) = split_word(rest);
                match n.parse::<u32>() {
                    Ok(n) if n > 0 => {
                        *line_delta += i64::from(n) - i64::from(span.line) - 1;
                    }
                    _ => self
                        .diags
                        .error("preprocessor", span, "invalid #line directive"),
                }
            }
            "" => {}
            other => {
                self.diags.error(
                    "preprocessor",
                    span,
                    format!("unknown preprocessor directive `#{other}'"),
                );
            }
        }
        false
    }

    /// `#else` and `#endif`.
    fn close_or_else(&mut self, name: &str, span: Span, conds: &mut Vec<Cond>) {
        if name == "endif" {
            if conds.pop().is_none() {
                self.diags.error("preprocessor", span, "#endif without #if");
            }
            return;
        }
        let Some(c) = conds.last_mut() else {
            self.diags.error("preprocessor", span, "#else without #if");
            return;
        };
        if c.seen_else {
            self.diags.error("preprocessor", span, "#else after #else");
        }
        c.seen_else = true;
        c.active = c.parent_active && !c.taken;
        c.taken = true;
    }

    /// `#pragma once`; other pragmas go on to the Slice parser in ZeroC's
    /// compilers, which rejects them (on the next line when the pragma is the
    /// first line of the file, as Ice reports it).
    fn pragma(&mut self, file: FileId, span: Span, rest: &str) {
        let (word, args) = split_word(rest);
        let args = args.trim();
        if !is_ident(word) {
            let msg = if rest.is_empty() {
                "No sub-directive".to_string()
            } else {
                format!("Not an identifier \"{}\"", split_word_any(rest))
            };
            self.diags.warning("preprocessor", span, msg);
            return;
        }
        if word == "once" {
            self.once.insert(file);
            if args.is_empty() {
                return;
            }
            self.diags.warning(
                "preprocessor",
                span,
                format!("Unknown argument \"{}\"", split_word_any(args)),
            );
        }
        let line = if span.line == 1 { 2 } else { span.line };
        self.diags
            .error("syntax", Span { line, ..span }, "syntax error");
    }

    fn include(&mut self, file: FileId, span: Span, rest: &str) -> bool {
        let (name, quoted) = if let Some(r) = rest.strip_prefix('"') {
            match r.find('"') {
                Some(end) => (&r[..end], true),
                None => {
                    self.diags
                        .error("preprocessor", span, "missing terminating \" in #include");
                    return false;
                }
            }
        } else if let Some(r) = rest.strip_prefix('<') {
            match r.find('>') {
                Some(end) => (&r[..end], false),
                None => {
                    self.diags
                        .error("preprocessor", span, "missing terminating > in #include");
                    return false;
                }
            }
        } else {
            self.diags.error(
                "preprocessor",
                span,
                "#include expects \"FILENAME\" or <FILENAME>",
            );
            return false;
        };
        // Nothing may follow the file name.
        let after = rest.get(name.len() + 2..).unwrap_or("").trim();
        if !after.is_empty() {
            self.diags.error(
                "preprocessor",
                span,
                format!("Excessive token sequence \"{after}\""),
            );
            return false;
        }
        let mut candidates: Vec<PathBuf> = Vec::new();
        if quoted {
            let dir = self
                .sources
                .get(file)
                .map(|f| PathBuf::from(&f.display))
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_default();
            candidates.push(dir.join(name));
        }
        for d in &self.opts.include_dirs {
            candidates.push(d.join(name));
        }
        let found = candidates
            .into_iter()
            .find(|c| self.cache.contains(c) || c.is_file());
        let Some(found) = found else {
            self.diags.error(
                "preprocessor",
                span,
                format!("cannot open include file `{name}'"),
            );
            return false;
        };
        let canonical = canonicalize(&found);
        let display = normalize_display(&found);
        let id = intern(self.sources, display, canonical.clone());
        if self.once.contains(&id) {
            if !self.files.contains(&id) {
                self.files.push(id);
            }
            return false;
        }
        if self.depth >= MAX_INCLUDE_DEPTH {
            self.diags
                .error("preprocessor", span, "#include nested too deeply");
            return false;
        }
        let Some(text) = self.cache.read(&canonical) else {
            self.diags.error(
                "preprocessor",
                span,
                format!("cannot open include file `{name}'"),
            );
            return false;
        };
        self.depth += 1;
        self.file(id, &text);
        self.depth -= 1;
        true
    }

    fn eval(&mut self, expr: &str, span: Span) -> bool {
        let toks = match tokenize_expr(expr) {
            Some(t) => t,
            None => {
                self.diags.error(
                    "preprocessor",
                    span,
                    format!("invalid #if expression `{expr}'"),
                );
                return false;
            }
        };
        let mut ev = Eval {
            toks: &toks,
            pos: 0,
            macros: &self.macros,
            depth: 0,
        };
        match ev.ternary() {
            Some(v) if ev.pos == toks.len() => v != 0,
            _ => {
                self.diags.error(
                    "preprocessor",
                    span,
                    format!("invalid #if expression `{expr}'"),
                );
                false
            }
        }
    }
}

/// Removes `.` and `..` components textually so included names read like
/// Ice's (`/usr/share/ice/slice/Ice/Identity.ice`).
fn normalize_display(p: &Path) -> String {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out.display().to_string()
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// The first whitespace-separated word.
fn split_word_any(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

fn split_macro(s: &str) -> (&str, &str) {
    let (name, rest) = split_word(s);
    if let Some(r) = rest.strip_prefix('(') {
        // Function-like macro: skip the parameter list.
        let end = r.find(')').map(|e| e + 1).unwrap_or(r.len());
        return (name, &r[end..]);
    }
    (name, rest)
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Removes `//` and `/* */` comments from a directive line.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices().peekable();
    let mut in_str = false;
    while let Some((i, c)) = chars.next() {
        if in_str {
            out.push(c);
            if c == '\\' {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '/' if s[i + 1..].starts_with('/') => break,
            '/' if s[i + 1..].starts_with('*') => {
                chars.next();
                out.push(' ');
                let mut prev = ' ';
                for (_, n) in chars.by_ref() {
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Returns whether a block comment is open at the end of `line`, and the
/// quote (`"` or `'`) of a string or character literal left open on it.
fn scan_comment_state(line: &str, mut in_comment: bool) -> (bool, Option<u8>) {
    let b = line.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if in_comment {
            if c == b'*' && b.get(i + 1) == Some(&b'/') {
                in_comment = false;
                i += 2;
                continue;
            }
        } else if let Some(q) = quote {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
        } else if c == b'"' || c == b'\'' {
            quote = Some(c);
        } else if c == b'/' && b.get(i + 1) == Some(&b'/') {
            return (false, None);
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            in_comment = true;
            i += 2;
            continue;
        }
        i += 1;
    }
    (in_comment, quote)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(i64),
    Ident(String),
    Op(&'static str),
}

const OPS: [&str; 24] = [
    "||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "(", ")", "!", "~", "+", "-", "*", "/", "%",
    "<", ">", "&", "|", "^", "?", ":",
];

fn tokenize_expr(s: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            let lit = s[start..i].trim_end_matches(['u', 'U', 'l', 'L']);
            let v = if let Some(h) = lit.strip_prefix("0x").or_else(|| lit.strip_prefix("0X")) {
                i64::from_str_radix(h, 16).ok()?
            } else if lit.len() > 1 && lit.starts_with('0') {
                i64::from_str_radix(&lit[1..], 8).ok()?
            } else {
                lit.parse().ok()?
            };
            out.push(Tok::Num(v));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(s[start..i].to_string()));
        } else {
            let op = OPS.iter().find(|op| s[i..].starts_with(**op))?;
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    Some(out)
}

struct Eval<'a> {
    toks: &'a [Tok],
    pos: usize,
    macros: &'a HashMap<String, String>,
    depth: usize,
}

impl Eval<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.pos) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn eat(&mut self, op: &str) -> bool {
        if self.peek_op() == Some(op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ternary(&mut self) -> Option<i64> {
        let c = self.binary(0)?;
        if self.eat("?") {
            let a = self.ternary()?;
            if !self.eat(":") {
                return None;
            }
            let b = self.ternary()?;
            return Some(if c != 0 { a } else { b });
        }
        Some(c)
    }

    fn binary(&mut self, level: usize) -> Option<i64> {
        const LEVELS: [&[&str]; 10] = [
            &["||"],
            &["&&"],
            &["|"],
            &["^"],
            &["&"],
            &["==", "!="],
            &["<", ">", "<=", ">="],
            &["<<", ">>"],
            &["+", "-"],
            &["*", "/", "%"],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary();
        };
        let mut lhs = self.binary(level + 1)?;
        while let Some(op) = self.peek_op().filter(|o| ops.contains(o)) {
            self.pos += 1;
            let rhs = self.binary(level + 1)?;
            lhs = match op {
                "||" => i64::from(lhs != 0 || rhs != 0),
                "&&" => i64::from(lhs != 0 && rhs != 0),
                "|" => lhs | rhs,
                "^" => lhs ^ rhs,
                "&" => lhs & rhs,
                "==" => i64::from(lhs == rhs),
                "!=" => i64::from(lhs != rhs),
                "<" => i64::from(lhs < rhs),
                ">" => i64::from(lhs > rhs),
                "<=" => i64::from(lhs <= rhs),
                ">=" => i64::from(lhs >= rhs),
                "<<" => lhs.checked_shl(u32::try_from(rhs).ok()?)?,
                ">>" => lhs.checked_shr(u32::try_from(rhs).ok()?)?,
                "+" => lhs.wrapping_add(rhs),
                "-" => lhs.wrapping_sub(rhs),
                "*" => lhs.wrapping_mul(rhs),
                "/" => lhs.checked_div(rhs)?,
                "%" => lhs.checked_rem(rhs)?,
                _ => return None,
            };
        }
        Some(lhs)
    }

    fn unary(&mut self) -> Option<i64> {
        // Bound the recursion of `!!!...` and `(((...`.
        self.depth += 1;
        if self.depth > 100 {
            return None;
        }
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> Option<i64> {
        if self.eat("!") {
            return Some(i64::from(self.unary()? == 0));
        }
        if self.eat("~") {
            return Some(!self.unary()?);
        }
        if self.eat("-") {
            return Some(self.unary()?.wrapping_neg());
        }
        if self.eat("+") {
            return self.unary();
        }
        if self.eat("(") {
            let v = self.ternary()?;
            return if self.eat(")") { Some(v) } else { None };
        }
        match self.toks.get(self.pos)?.clone() {
            Tok::Num(n) => {
                self.pos += 1;
                Some(n)
            }
            Tok::Ident(id) if id == "defined" => {
                self.pos += 1;
                let paren = self.eat("(");
                let name = match self.toks.get(self.pos) {
                    Some(Tok::Ident(n)) => n.clone(),
                    _ => return None,
                };
                self.pos += 1;
                if paren && !self.eat(")") {
                    return None;
                }
                Some(i64::from(self.macros.contains_key(&name)))
            }
            Tok::Ident(id) => {
                self.pos += 1;
                match self.macros.get(&id) {
                    Some(v) if self.depth < 64 => {
                        let toks = tokenize_expr(v)?;
                        if toks.is_empty() {
                            return Some(0);
                        }
                        let mut sub = Eval {
                            toks: &toks,
                            pos: 0,
                            macros: self.macros,
                            depth: self.depth + 1,
                        };
                        let r = sub.ternary()?;
                        if sub.pos != toks.len() {
                            return None;
                        }
                        Some(r)
                    }
                    _ => Some(0),
                }
            }
            Tok::Op(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        files: &[(&str, &str)],
        opts: &PreprocessOptions,
    ) -> (String, Diagnostics, SourceMap, Preprocessed) {
        let mut cache = FileCache::default();
        for (p, t) in files {
            cache.insert(PathBuf::from(p), t);
        }
        let mut sources = SourceMap::default();
        let mut diags = Diagnostics::new();
        let pp = preprocess(
            Path::new(files[0].0),
            opts,
            &mut cache,
            &mut sources,
            &mut diags,
        );
        let pp = pp.unwrap_or(Preprocessed {
            text: String::new(),
            lines: LineMap::default(),
            main: FileId(0),
            files: vec![],
        });
        (pp.text.clone(), diags, sources, pp)
    }

    #[test]
    fn conditionals_table() {
        let cases: &[(&str, &str)] = &[
            ("#ifdef __SLICE2RS__\nyes\n#else\nno\n#endif\n", "yes"),
            ("#ifndef __SLICE2RS__\nno\n#else\nyes\n#endif\n", "yes"),
            (
                "#if defined(__SLICE2RS__) && !defined(X)\nyes\n#endif\n",
                "yes",
            ),
            ("#if 0\nno\n#elif 1\nyes\n#else\nno\n#endif\n", "yes"),
            ("#define A 3\n#if A == 3\nyes\n#endif\n", "yes"),
            ("#define A\n#undef A\n#ifdef A\nno\n#endif\nyes\n", "yes"),
            ("#if 0\n#if 1\nno\n#endif\n#else\nyes\n#endif\n", "yes"),
            ("#if defined X || (2 * 3 > 5)\nyes\n#endif\n", "yes"),
        ];
        for (src, want) in cases {
            let (text, diags, _, _) = run(&[("/t/a.ice", src)], &PreprocessOptions::default());
            assert!(!diags.has_errors(), "{src}: {diags:?}");
            let got: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(got, vec![*want], "{src}");
            assert_eq!(text.lines().count(), src.lines().count(), "{src}");
        }
    }

    #[test]
    fn command_line_defines() {
        let opts = PreprocessOptions {
            defines: vec![("FOO".into(), None), ("BAR".into(), Some("2".into()))],
            undefines: vec!["__SLICE2RS__".into()],
            ..Default::default()
        };
        let src = "#if FOO && BAR == 2 && !defined(__SLICE2RS__)\nyes\n#endif\n";
        let (text, _, _, _) = run(&[("/t/a.ice", src)], &opts);
        assert!(text.contains("yes"));
    }

    #[test]
    fn errors_table() {
        let cases = [
            ("#if 1\n", 1usize),
            ("#endif\n", 1),
            ("x\n#else\n", 1),
            ("#include \"missing.ice\"\n", 1),
            ("#foo\n", 1),
            ("#if 1 +\n#endif\n", 1),
            ("#error stop\n", 1),
        ];
        for (src, n) in cases {
            let (_, diags, _, _) = run(&[("/t/a.ice", src)], &PreprocessOptions::default());
            assert_eq!(diags.error_count(), n, "{src}");
        }
    }

    #[test]
    fn include_maps_lines_and_once() {
        let files = [
            (
                "/t/a.ice",
                "// a\n#include \"b.ice\"\n#include \"b.ice\"\nA\n",
            ),
            ("/t/b.ice", "#pragma once\nB1\nB2\n"),
        ];
        let (text, diags, sources, pp) = run(&files, &PreprocessOptions::default());
        assert!(!diags.has_errors(), "{diags:?}");
        let b2 = text.find("B2").unwrap_or(0);
        let s = pp.lines.span(b2);
        assert_eq!((sources.name(s.file), s.line), ("/t/b.ice", 3));
        let a = text.find("\nA").unwrap_or(0) + 1;
        let s = pp.lines.span(a);
        assert_eq!((sources.name(s.file), s.line), ("/t/a.ice", 4));
        assert_eq!(text.matches("B1").count(), 1);
        assert_eq!(pp.files.len(), 2);
        let marked = pp.to_marked_text(&sources);
        assert!(marked.contains("#line 1 \"/t/b.ice\""), "{marked}");
        assert!(marked.contains("#line 3 \"/t/a.ice\""), "{marked}");
    }

    #[test]
    fn directives_in_comments_are_text() {
        let src = "/*\n#error no\n*/\nx // #error\n";
        let (_, diags, _, _) = run(&[("/t/a.ice", src)], &PreprocessOptions::default());
        assert!(!diags.has_errors());
    }
}
