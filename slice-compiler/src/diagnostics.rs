//! Structured diagnostics: a sink that every phase pushes into, and the
//! renderer that prints them as `file:line: error: text`, as ZeroC's Slice
//! compilers do. Phases never return early on a user error; they push a
//! [`Diagnostic`] and go on, and the driver decides whether the next phase runs.

use std::fmt;

/// Index of a source file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub u32);

/// Where a node or diagnostic comes from: the original file and line (after
/// preprocessing, mapped back through includes) and the byte offset in the
/// preprocessed text of its compilation unit (used to order diagnostics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The file the text came from.
    pub file: FileId,
    /// 1-based line in that file.
    pub line: u32,
    /// Byte offset in the preprocessed text of the unit.
    pub pos: u32,
}

/// The files read while compiling, indexed by [`FileId`].
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

/// One file read by the preprocessor.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name printed in diagnostics: as given on the command line, or
    /// the include directory joined with the included name.
    pub display: String,
    /// Canonical path, used for `#pragma once` and dependencies.
    pub canonical: std::path::PathBuf,
}

impl SourceMap {
    /// Adds a file and returns its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    /// The file with this id, if any.
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    /// The display name of a file (empty when unknown).
    pub fn name(&self, id: FileId) -> &str {
        self.get(id).map(|f| f.display.as_str()).unwrap_or("")
    }

    /// Finds a file by canonical path.
    pub fn find(&self, canonical: &std::path::Path) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.canonical == canonical)
            .and_then(|i| u32::try_from(i).ok())
            .map(FileId)
    }

    /// All files, in the order they were first read.
    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Compilation fails.
    Error,
    /// Printed, but compilation goes on.
    Warning,
}

/// A message about the input, with the place it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A short stable name of the check that raised it (e.g. `redefinition`).
    pub code: &'static str,
    /// Where; `None` for problems not tied to a file (command-line errors).
    pub span: Option<Span>,
    /// The text, in the wording of ZeroC's compilers where there is one.
    pub message: String,
}

/// The sink every phase pushes diagnostics into.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pushes an error.
    pub fn error(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Error,
            code,
            span: Some(span),
            message: message.into(),
        });
    }

    /// Pushes a warning.
    pub fn warning(&mut self, code: &'static str, span: Span, message: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Warning,
            code,
            span: Some(span),
            message: message.into(),
        });
    }

    /// Pushes an error without a place (e.g. a file that cannot be opened).
    pub fn global_error(&mut self, code: &'static str, message: impl Into<String>) {
        self.push(Diagnostic {
            severity: Severity::Error,
            code,
            span: None,
            message: message.into(),
        });
    }

    /// Keeps only the diagnostics `keep` accepts.
    pub fn retain(&mut self, keep: impl FnMut(&Diagnostic) -> bool) {
        self.items.retain(keep);
    }

    /// Pushes any diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Appends all diagnostics of another sink.
    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// True when at least one error was pushed.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// The diagnostics, in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sorts by position in the unit's text (stable, so diagnostics at one
    /// place keep their order); global ones come first.
    pub fn sort_by_position(&mut self) {
        self.items
            .sort_by_key(|d| d.span.map(|s| (1u8, s.pos)).unwrap_or((0, 0)));
    }

    /// Renders every diagnostic, one per line, as ZeroC's compilers print them.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&Rendered { d, sources }.to_string());
            out.push('\n');
        }
        out
    }
}

/// A diagnostic paired with the source map that names its file.
pub struct Rendered<'a> {
    /// The diagnostic.
    pub d: &'a Diagnostic,
    /// The files of its unit.
    pub sources: &'a SourceMap,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match self.d.span {
            Some(s) => write!(
                f,
                "{}:{}: {}: {}",
                self.sources.name(s.file),
                s.line,
                kind,
                self.d.message
            ),
            None => write!(f, "slice2rs: {}: {}", kind, self.d.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_ice() {
        let mut sm = SourceMap::default();
        let f = sm.add(SourceFile {
            display: "a.ice".into(),
            canonical: "/x/a.ice".into(),
        });
        let mut d = Diagnostics::new();
        d.error(
            "x",
            Span {
                file: f,
                line: 3,
                pos: 10,
            },
            "boom",
        );
        d.warning(
            "y",
            Span {
                file: f,
                line: 1,
                pos: 0,
            },
            "hm",
        );
        d.sort_by_position();
        assert_eq!(
            d.render(&sm),
            "a.ice:1: warning: hm\na.ice:3: error: boom\n"
        );
        assert!(d.has_errors());
        assert_eq!(d.error_count(), 1);
    }
}
