//! The Slice parser (nom 8): preprocessed text in, definitions pushed into the
//! [`Ast`] arena out. One function per production, each with its grammar rule
//! in its doc comment; after the keyword that decides a branch the parser
//! commits with `cut`, so a syntax error points at the real mistake.
//!
//! Whitespace and comments are skipped before each token (never after), so a
//! failing token parser reports the position where the unexpected token
//! starts. Doc comments (`/** ... */`, `///`) before a definition, member or
//! operation are kept. Name lookup and semantic checks are left to
//! [`crate::resolve`] and [`crate::validate`]; the few checks that depend
//! only on the syntax (keywords used as names, misplaced file metadata) are
//! made here.

use crate::ast::*;
use crate::diagnostics::{Diagnostics, Span};
use crate::preprocess::LineMap;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::{cut, opt, recognize};
use nom::error::{context, ContextError, ErrorKind, ParseError};
use nom::{IResult, Parser as _};
use std::cell::RefCell;

/// The error type of the parser: where it failed and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct PError<'a> {
    /// Input at the failure point.
    pub input: &'a str,
    /// The innermost `context` label, if any.
    pub context: Option<&'static str>,
    /// A specific message replacing `syntax error`.
    pub message: Option<String>,
}

impl<'a> ParseError<&'a str> for PError<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        PError {
            input,
            context: None,
            message: None,
        }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }

    fn or(self, other: Self) -> Self {
        // Keep the error that got further.
        if other.input.len() < self.input.len() {
            other
        } else {
            self
        }
    }
}

impl<'a> ContextError<&'a str> for PError<'a> {
    fn add_context(_input: &'a str, ctx: &'static str, mut other: Self) -> Self {
        if other.context.is_none() {
            other.context = Some(ctx);
        }
        other
    }
}

type PResult<'a, T> = IResult<&'a str, T, PError<'a>>;

/// The Slice keywords (case-sensitive).
pub const KEYWORDS: &[&str] = &[
    "bool",
    "byte",
    "class",
    "const",
    "dictionary",
    "double",
    "enum",
    "exception",
    "extends",
    "false",
    "float",
    "idempotent",
    "implements",
    "int",
    "interface",
    "local",
    "LocalObject",
    "long",
    "module",
    "Object",
    "optional",
    "out",
    "sequence",
    "short",
    "string",
    "struct",
    "throws",
    "true",
    "Value",
    "void",
];

/// True when `s` is a Slice keyword.
pub fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses one preprocessed unit into `ast`, pushing errors into `diags`.
pub fn parse(text: &str, lines: &LineMap, ast: &mut Ast, diags: &mut Diagnostics) {
    let p = Parser {
        src: text,
        lines,
        ast: RefCell::new(std::mem::take(ast)),
        diags: RefCell::new(Diagnostics::new()),
        seen_def_in_file: RefCell::new(Vec::new()),
        depth: std::cell::Cell::new(0),
    };
    let result = p.unit(text);
    if let Err(e) = result {
        // Keep what was parsed before the error reachable from `top`, so
        // the definitions that precede it can still be checked.
        {
            let mut a = p.ast.borrow_mut();
            let roots: Vec<DefId> = a.ids().filter(|id| a.def(*id).parent.is_none()).collect();
            a.top = roots;
        }
        let err = match e {
            nom::Err::Error(e) | nom::Err::Failure(e) => e,
            nom::Err::Incomplete(_) => PError {
                input: "",
                context: None,
                message: None,
            },
        };
        let pos = ice_error_pos(text, text.len().saturating_sub(err.input.len()));
        let span = p.lines.span(pos);
        let msg = err.message.unwrap_or_else(|| match err.context {
            Some(c) => format!("syntax error (expected {c})"),
            None => "syntax error".to_string(),
        });
        p.diags.borrow_mut().error("syntax", span, msg);
    }
    *ast = p.ast.into_inner();
    diags.extend(p.diags.into_inner());
}

/// Where ZeroC's compilers report a syntax error at `pos`: at the offending
/// token, or, when a block comment follows it on the same line, where that
/// comment ends (their scanner has read the comment by then).
fn ice_error_pos(src: &str, pos: usize) -> usize {
    let Some(rest) = src.get(pos..) else {
        return pos;
    };
    let token_len = match rest.chars().next() {
        None => return pos,
        Some(c) if c.is_alphanumeric() || c == '_' || c == '.' => rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len()),
        Some('"') => rest[1..].find('"').map(|e| e + 2).unwrap_or(rest.len()),
        Some(_) if rest.starts_with("[[") => rest.find("]]").map(|e| e + 2).unwrap_or(2),
        Some(c) if ["::", "]]"].iter().any(|t| rest.starts_with(t)) => 2 * c.len_utf8(),
        Some(c) => c.len_utf8(),
    };
    let after = &rest[token_len..];
    let gap = after.len() - after.trim_start_matches([' ', '\t']).len();
    match after[gap..].strip_prefix("/*").and_then(|c| c.find("*/")) {
        Some(end) => pos + token_len + gap + 2 + end,
        None => pos,
    }
}

struct Parser<'a> {
    src: &'a str,
    lines: &'a LineMap,
    ast: RefCell<Ast>,
    diags: RefCell<Diagnostics>,
    seen_def_in_file: RefCell<Vec<crate::diagnostics::FileId>>,
    depth: std::cell::Cell<usize>,
}

/// Deepest module nesting accepted (keeps recursion off the stack limit).
const MAX_NESTING: usize = 100;

/// Where a member list appears; decides what is legal inside.
#[derive(Clone, Copy, PartialEq)]
enum Body {
    Class,
    Interface,
    Exception,
    Struct,
}

/// A member or an operation, as parsed inside a body.
enum Contained {
    Member(DataMember),
    Operation(Operation),
}

fn fail<'a, T>(input: &'a str, message: Option<String>) -> PResult<'a, T> {
    Err(nom::Err::Failure(PError {
        input,
        context: None,
        message,
    }))
}

fn backtrack<'a, T>(input: &'a str) -> PResult<'a, T> {
    Err(nom::Err::Error(PError {
        input,
        context: None,
        message: None,
    }))
}

impl<'a> Parser<'a> {
    fn span(&self, rest: &str) -> Span {
        let pos = self.src.len().saturating_sub(rest.len());
        self.lines.span(pos)
    }

    fn error(&self, code: &'static str, span: Span, msg: impl Into<String>) {
        self.diags.borrow_mut().error(code, span, msg);
    }

    /// `ws := (whitespace | comment)*`; returns the last doc comment seen.
    fn doc_ws(&self, mut i: &'a str) -> PResult<'a, Option<String>> {
        let mut doc: Option<String> = None;
        let mut line_doc = false;
        loop {
            let t = i.trim_start();
            if let Some(rest) = t.strip_prefix("/*") {
                let Some(end) = rest.find("*/") else {
                    return fail(t, Some("EOF in comment".into()));
                };
                doc = if rest.starts_with('*') && !rest.starts_with("*/") {
                    Some(clean_block_doc(&rest[1..end]))
                } else {
                    None
                };
                line_doc = false;
                i = &rest[end + 2..];
            } else if let Some(rest) = t.strip_prefix("//") {
                let end = rest.find('\n').unwrap_or(rest.len());
                let body = &rest[..end];
                match body.strip_prefix('/').filter(|d| !d.starts_with('/')) {
                    Some(d) => {
                        let line = d.trim();
                        match (&mut doc, line_doc) {
                            (Some(prev), true) => {
                                prev.push('\n');
                                prev.push_str(line);
                            }
                            _ => doc = Some(line.to_string()),
                        }
                        line_doc = true;
                    }
                    None => {
                        doc = None;
                        line_doc = false;
                    }
                }
                i = &rest[end..];
            } else {
                return Ok((t, doc));
            }
        }
    }

    fn ws(&self, i: &'a str) -> PResult<'a, ()> {
        let (i, _) = self.doc_ws(i)?;
        Ok((i, ()))
    }

    /// A keyword: `word` not followed by an identifier character.
    fn kw(&self, word: &'static str) -> impl FnMut(&'a str) -> PResult<'a, &'a str> + '_ {
        move |i| {
            let (i, _) = self.ws(i)?;
            let (rest, w) = tag(word).parse(i)?;
            if rest.starts_with(is_ident_char) {
                return backtrack(i);
            }
            Ok((rest, w))
        }
    }

    /// Punctuation.
    fn sym(&self, s: &'static str) -> impl FnMut(&'a str) -> PResult<'a, &'a str> + '_ {
        move |i| {
            let (i, _) = self.ws(i)?;
            tag(s).parse(i)
        }
    }

    /// `word := [A-Za-z_][A-Za-z0-9_]*` (a raw word, keywords included).
    fn word(&self, i: &'a str) -> PResult<'a, &'a str> {
        let (i, _) = self.ws(i)?;
        recognize((
            take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
            take_while(is_ident_char),
        ))
        .parse(i)
    }

    /// `identifier := '\'? word` where an unescaped word is not a keyword.
    fn ident(&self, i: &'a str) -> PResult<'a, Ident> {
        let (i, _) = self.ws(i)?;
        let span = self.span(i);
        let (i, esc) = opt(tag("\\")).parse(i)?;
        let (rest, w) = self.word(i)?;
        if esc.is_none() && is_keyword(w) {
            return backtrack(i);
        }
        Ok((
            rest,
            Ident {
                name: w.to_string(),
                escaped: esc.is_some(),
                span,
                next: self.next_token(rest),
            },
        ))
    }

    /// The name of a new definition; a keyword here is reported as Ice does
    /// (`keyword `x' cannot be used as struct name`) and parsing goes on.
    fn def_name(&self, i: &'a str, what: &str) -> PResult<'a, Ident> {
        let (i, _) = self.ws(i)?;
        let span = self.span(i);
        if !i.starts_with('\\') {
            if let Ok((rest, w)) = self.word(i) {
                if is_keyword(w) {
                    self.error(
                        "keyword",
                        span,
                        format!("keyword `{w}' cannot be used as {what} name"),
                    );
                    return Ok((
                        rest,
                        Ident {
                            name: w.to_string(),
                            escaped: false,
                            span,
                            next: self.next_token(rest),
                        },
                    ));
                }
            }
        }
        cut(|i| self.ident(i)).parse(i)
    }

    /// `scoped_name := '::'? identifier ('::' identifier)*`
    fn scoped_name(&self, i: &'a str) -> PResult<'a, ScopedName> {
        let (i, _) = self.ws(i)?;
        let span = self.span(i);
        let start_of_name = i;
        let (i, global) = opt(tag("::")).parse(i)?;
        // A scoped name is one token: nothing may follow a `::` but a name.
        let glued = |r: &'a str| !r.starts_with(|c: char| c.is_whitespace() || c == '/');
        if global.is_some() && !glued(i) {
            // Reported at the `::` (or after a comment that follows it).
            return fail(start_of_name, None);
        }
        let (mut i, first) = self.ident(i)?;
        let mut parts = vec![first.name];
        while let Some(rest) = i.strip_prefix("::") {
            if !glued(rest) {
                return fail(i, None);
            }
            let (r, id) = cut(|i| self.ident(i)).parse(rest)?;
            parts.push(id.name);
            i = r;
        }
        let next = self.next_token(i);
        Ok((
            i,
            ScopedName {
                global: global.is_some(),
                parts,
                span,
                next,
            },
        ))
    }

    /// The span of the token that follows `i` (after whitespace and comments).
    fn next_token(&self, i: &'a str) -> Span {
        self.span(self.ws(i).map(|(r, _)| r).unwrap_or(i))
    }

    /// `string_literal := '"' (char | escape)* '"'`
    fn string_lit(&self, i: &'a str) -> PResult<'a, (String, &'a str)> {
        let (i, _) = self.ws(i)?;
        let start = i;
        let Some(mut rest) = i.strip_prefix('"') else {
            return backtrack(i);
        };
        let mut out = String::new();
        loop {
            let mut chars = rest.char_indices();
            let Some((_, c)) = chars.next() else {
                return fail(start, Some("EOF in string".into()));
            };
            match c {
                '"' => {
                    rest = &rest[1..];
                    let lit = &start[..start.len() - rest.len()];
                    return Ok((rest, (out, lit)));
                }
                '\n' => return fail(start, Some("newline in string".into())),
                '\\' => {
                    let next = rest[1..].chars().next().unwrap_or(' ');
                    if !"ntrvfab\\\"'?01234567xuU".contains(next) {
                        self.diags.borrow_mut().warning(
                            "escape",
                            self.span(rest),
                            format!("unknown escape sequence `\\{next}'"),
                        );
                    }
                    let (n, r) = match unescape(&rest[1..]) {
                        Ok(v) => v,
                        Err(m) => return fail(rest, Some(m)),
                    };
                    out.push_str(&n);
                    rest = r;
                }
                c => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
    }

    /// `number := [+-]? (integer | float)`; integers are decimal, `0x` hex or
    /// `0` octal; floats have a `.`, an exponent or an `f` suffix.
    fn number(&self, i: &'a str) -> PResult<'a, ConstExpr> {
        let (i, _) = self.ws(i)?;
        let start = i;
        let (i, sign) = opt(alt((tag("+"), tag("-")))).parse(i)?;
        let neg = sign == Some("-");
        let (rest, body) = recognize((
            take_while(|c: char| c.is_ascii_digit()),
            opt((tag("."), take_while(|c: char| c.is_ascii_digit()))),
            take_while(|c: char| c.is_ascii_alphanumeric()),
        ))
        .parse(i)?;
        // Exponent sign, e.g. 1e-5.
        let (rest, body) = if (body.ends_with('e') || body.ends_with('E'))
            && !body.starts_with("0x")
            && !body.starts_with("0X")
            && (rest.starts_with('-') || rest.starts_with('+'))
        {
            let (r2, digits) = take_while(|c: char| c.is_ascii_alphanumeric()).parse(&rest[1..])?;
            let len = body.len() + 1 + digits.len();
            (r2, &i[..len])
        } else {
            (rest, body)
        };
        if body.is_empty()
            || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
            || body == "."
        {
            return backtrack(start);
        }
        let is_hex = body.starts_with("0x") || body.starts_with("0X");
        // A float has a `.` or an exponent; only then may `f` end it.
        if !is_hex && (body.contains('.') || body.contains(['e', 'E'])) {
            let t = body.trim_end_matches(['f', 'F']);
            return match t.parse::<f64>() {
                Ok(v) if v.is_infinite() => fail(
                    start,
                    Some(format!(
                        "floating-point constant `{body}' too large (overflow)"
                    )),
                ),
                Ok(v) => Ok((rest, ConstExpr::Float(if neg { -v } else { v }))),
                Err(_) => fail(
                    start,
                    Some(format!("invalid floating-point literal `{body}'")),
                ),
            };
        }
        let parsed = if is_hex {
            u128::from_str_radix(&body[2..], 16).ok()
        } else if body.len() > 1 && body.starts_with('0') {
            // Like Ice, digits 8 and 9 make a leading-zero literal decimal.
            u128::from_str_radix(&body[1..], 8)
                .ok()
                .or_else(|| body.parse::<u128>().ok())
        } else {
            body.parse::<u128>().ok()
        };
        match parsed.and_then(|v| i128::try_from(v).ok()) {
            Some(v) if v <= i128::from(u64::MAX) => {
                Ok((rest, ConstExpr::Int(if neg { -v } else { v })))
            }
            Some(_) => fail(start, Some("integer constant too large".to_string())),
            None if is_hex || body.chars().all(|c| c.is_ascii_digit()) => {
                fail(start, Some("integer constant too large".to_string()))
            }
            None => fail(start, Some(format!("invalid integer literal `{body}'"))),
        }
    }

    /// `const_value := number | string_literal | 'true' | 'false' | scoped_name`
    fn const_value(&self, i: &'a str) -> PResult<'a, ConstValue> {
        let (i, _) = self.ws(i)?;
        let span = self.span(i);
        let start = i;
        let (rest, expr) = context(
            "constant value",
            alt((
                |i| self.number(i),
                |i| {
                    self.string_lit(i)
                        .map(|(r, (s, _))| (r, ConstExpr::String(s)))
                },
                |i| {
                    self.kw("true")
                        .parse(i)
                        .map(|(r, _)| (r, ConstExpr::Bool(true)))
                },
                |i| {
                    self.kw("false")
                        .parse(i)
                        .map(|(r, _)| (r, ConstExpr::Bool(false)))
                },
                |i| self.scoped_name(i).map(|(r, n)| (r, ConstExpr::Name(n))),
            )),
        )
        .parse(i)?;
        let literal = start[..start.len() - rest.len()].to_string();
        Ok((
            rest,
            ConstValue {
                expr,
                literal,
                span,
                target: None,
            },
        ))
    }

    /// `metadata := '[' string_literal (',' string_literal)* ']'`
    fn metadata(&self, i: &'a str) -> PResult<'a, Vec<Metadata>> {
        // Ice accepts one list here; a second one is a syntax error.
        let (r, _) = self.ws(i)?;
        if !r.starts_with('[') || r.starts_with("[[") {
            return Ok((r, Vec::new()));
        }
        let (r, list) = self.metadata_list(&r[1..])?;
        let (r, _) = cut(self.sym("]")).parse(r)?;
        Ok((r, list))
    }

    fn metadata_list(&self, i: &'a str) -> PResult<'a, Vec<Metadata>> {
        let mut out = Vec::new();
        let mut i = i;
        loop {
            let (r, _) = self.ws(i)?;
            let span = self.span(r);
            let (r, (s, _)) = cut(|i| self.string_lit(i)).parse(r)?;
            out.push(Metadata { value: s, span });
            match self.sym(",").parse(r) {
                Ok((r, _)) => i = r,
                Err(_) => return Ok((r, out)),
            }
        }
    }

    /// `unit := (file_metadata | definition)*`
    fn unit(&self, i: &'a str) -> PResult<'a, ()> {
        let mut i = i;
        loop {
            let (r, doc) = self.doc_ws(i)?;
            if r.is_empty() {
                return Ok((r, ()));
            }
            if let Some(r2) = r.strip_prefix("[[") {
                i = self.file_metadata(r, r2)?.0;
                continue;
            }
            let (r, id) = self.definition(r, doc, None)?;
            self.ast.borrow_mut().top.push(id);
            i = r;
        }
    }

    /// `file_metadata := '[[' string_literal (',' string_literal)* ']]'`
    fn file_metadata(&self, at: &'a str, i: &'a str) -> PResult<'a, ()> {
        let span = self.span(at);
        let (r, list) = self.metadata_list(i)?;
        let (r, _) = cut(self.sym("]]")).parse(r)?;
        if self.seen_def_in_file.borrow().contains(&span.file) {
            self.error(
                "file-metadata",
                span,
                "file metadata must appear before any definitions",
            );
        }
        let mut ast = self.ast.borrow_mut();
        match ast.file_metadata.iter_mut().find(|m| m.file == span.file) {
            Some(m) => m.metadata.extend(list),
            None => ast.file_metadata.push(FileMetadata {
                file: span.file,
                metadata: list,
            }),
        }
        Ok((r, ()))
    }

    /// `definition := metadata 'local'? (module | class | interface | exception
    ///                | struct | sequence | dictionary | enum | const) ';'?`
    ///
    /// The `;` is required after definitions that do not end with `}`.
    fn definition(
        &self,
        i: &'a str,
        doc: Option<String>,
        parent: Option<DefId>,
    ) -> PResult<'a, DefId> {
        let (i, metadata) = self.metadata(i)?;
        let (i, doc2) = self.doc_ws(i)?;
        let doc = doc2.or(doc);
        let span = self.span(i);
        {
            let mut seen = self.seen_def_in_file.borrow_mut();
            if !seen.contains(&span.file) {
                seen.push(span.file);
            }
        }
        let (i, local) = opt(self.kw("local")).parse(i)?;
        let local = local.is_some();
        let (i, w) = match self.word(i) {
            Ok(v) => v,
            Err(_) => return fail(self.ws(i)?.0, None),
        };
        let head = Head {
            metadata,
            doc,
            local,
            parent,
            span,
        };
        let (i, (id, braced)) = match w {
            "module" if !local => self.module(i, head)?,
            "class" => self.class(i, head)?,
            "interface" => self.interface(i, head)?,
            "exception" => self.exception(i, head)?,
            "struct" => self.structure(i, head)?,
            "sequence" => self.sequence(i, head)?,
            "dictionary" => self.dictionary(i, head)?,
            "enum" => self.enumeration(i, head)?,
            "const" if !local => self.constant(i, head)?,
            _ => return fail(self.skip_ws_back(i, w), None),
        };
        if braced {
            let end = self.lines.span(self.src.len().saturating_sub(i.len() + 1));
            self.ast.borrow_mut().def_mut(id).end = end;
            let (i, _) = opt(self.sym(";")).parse(i)?;
            Ok((i, id))
        } else {
            let (i, _) = cut(context("`;'", self.sym(";"))).parse(i)?;
            Ok((i, id))
        }
    }

    fn skip_ws_back(&self, after_word: &'a str, w: &str) -> &'a str {
        // Point at the start of the unexpected word.
        let pos = self.src.len() - after_word.len() - w.len();
        &self.src[pos..]
    }

    fn push_def(&self, head: Head, name: Ident, kind: DefKind) -> DefId {
        let mut ast = self.ast.borrow_mut();
        let scoped = match head.parent {
            Some(p) => format!("{}::{}", ast.def(p).scoped, name.name),
            None => format!("::{}", name.name),
        };
        let span = name.span;
        ast.push(Definition {
            name,
            parent: head.parent,
            scoped,
            local: head.local,
            metadata: head.metadata,
            doc: head.doc,
            span,
            end: span,
            kind,
        })
    }

    /// `module := 'module' identifier ('::' identifier)* '{' definition* '}'`
    fn module(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        if self.depth.get() >= MAX_NESTING {
            return fail(i, Some("modules nested too deeply".into()));
        }
        self.depth.set(self.depth.get() + 1);
        let r = self.module_inner(i, head);
        self.depth.set(self.depth.get().saturating_sub(1));
        r
    }

    fn module_inner(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        let (i, name) = self.def_name(i, "module")?;
        let mut names = vec![name];
        let mut i = i;
        while let Some(r) = i.strip_prefix("::") {
            let (r, n) = cut(|i| self.ident(i)).parse(r)?;
            names.push(n);
            i = r;
        }
        // Create the chain of modules (before the `{`, so that a bad name
        // is reported even when a syntax error follows); the innermost gets
        // the contents.
        let mut ids = Vec::new();
        let mut parent = head.parent;
        let n = names.len();
        for (k, name) in names.into_iter().enumerate() {
            let h = Head {
                metadata: if k == 0 {
                    head.metadata.clone()
                } else {
                    Vec::new()
                },
                doc: if k + 1 == n { head.doc.clone() } else { None },
                local: false,
                parent,
                span: head.span,
            };
            let id = self.push_def(
                h,
                name,
                DefKind::Module {
                    contents: Vec::new(),
                },
            );
            if let Some(&prev) = ids.last() {
                self.add_content(prev, id);
            }
            ids.push(id);
            parent = Some(id);
        }
        let inner = parent;
        let (mut i, _) = cut(context("`{'", self.sym("{"))).parse(i)?;
        loop {
            let (r, doc) = self.doc_ws(i)?;
            if let Some(r) = r.strip_prefix('}') {
                i = r;
                break;
            }
            if r.is_empty() {
                return fail(r, Some("syntax error: missing `}'".into()));
            }
            if r.starts_with("[[") {
                return fail(
                    r,
                    Some("file metadata must appear before any definitions".into()),
                );
            }
            let (r, id) = self.definition(r, doc, inner)?;
            if let Some(m) = inner {
                self.add_content(m, id);
            }
            i = r;
        }
        match ids.first() {
            Some(&first) => Ok((i, (first, true))),
            None => fail(i, None),
        }
    }

    fn add_content(&self, module: DefId, id: DefId) {
        if let DefKind::Module { contents } = &mut self.ast.borrow_mut().def_mut(module).kind {
            contents.push(id);
        }
    }

    /// `class := 'class' identifier ( ';' | ('(' const_value ')')?
    ///           ('extends' scoped_name)? ('implements' scoped_name (',' scoped_name)*)?
    ///           '{' (data_member | operation)* '}' )`
    fn class(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        let (i, name) = self.def_name(i, "class")?;
        if let Ok((i2, _)) = self.sym(";").parse(i) {
            let _ = i2;
            return Ok((i, (self.push_def(head, name, DefKind::ClassForward), false)));
        }
        let (i, compact_id) = opt(|i| {
            let (i, _) = self.sym("(").parse(i)?;
            let (i, v) = cut(|i| self.const_value(i)).parse(i)?;
            let (i, _) = cut(self.sym(")")).parse(i)?;
            Ok((i, v))
        })
        .parse(i)?;
        let (i, base) = opt(|i| {
            let (i, _) = self.kw("extends").parse(i)?;
            cut(|i| self.scoped_name(i)).parse(i)
        })
        .parse(i)?;
        let (i, implements) = opt(|i| {
            let (i, _) = self.kw("implements").parse(i)?;
            cut(|i| self.name_list(i)).parse(i)
        })
        .parse(i)?;
        let (brace, _) = self.ws(i)?;
        if implements.is_some() && !head.local {
            // Ice reports this where the class body starts.
            self.diags.borrow_mut().warning(
                "deprecated",
                self.span(brace),
                "classes implementing interfaces are deprecated",
            );
        }
        let (i, _) = cut(context("`{'", self.sym("{"))).parse(i)?;
        let (i, body) = self.body(i, Body::Class)?;
        let mut def = ClassDef {
            compact_id,
            base: base.map(|b| (b, None)),
            implements: implements
                .unwrap_or_default()
                .into_iter()
                .map(|n| (n, None))
                .collect(),
            ..Default::default()
        };
        for c in body {
            match c {
                Contained::Member(m) => def.members.push(m),
                Contained::Operation(o) => def.operations.push(o),
            }
        }
        Ok((i, (self.push_def(head, name, DefKind::Class(def)), true)))
    }

    /// `name_list := scoped_name (',' scoped_name)*`
    fn name_list(&self, i: &'a str) -> PResult<'a, Vec<ScopedName>> {
        let (mut i, first) = self.scoped_name(i)?;
        let mut out = vec![first];
        while let Ok((r, _)) = self.sym(",").parse(i) {
            let (r, n) = cut(|i| self.scoped_name(i)).parse(r)?;
            out.push(n);
            i = r;
        }
        Ok((i, out))
    }

    /// `interface := 'interface' identifier ( ';' |
    ///               ('extends' scoped_name (',' scoped_name)*)? '{' operation* '}' )`
    fn interface(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        let (i, name) = self.def_name(i, "interface")?;
        if self.sym(";").parse(i).is_ok() {
            return Ok((
                i,
                (self.push_def(head, name, DefKind::InterfaceForward), false),
            ));
        }
        let (i, bases) = opt(|i| {
            let (i, _) = self.kw("extends").parse(i)?;
            cut(|i| self.name_list(i)).parse(i)
        })
        .parse(i)?;
        let (i, _) = cut(context("`{'", self.sym("{"))).parse(i)?;
        let (i, body) = self.body(i, Body::Interface)?;
        let mut def = InterfaceDef {
            bases: bases
                .unwrap_or_default()
                .into_iter()
                .map(|n| (n, None))
                .collect(),
            operations: Vec::new(),
        };
        for c in body {
            match c {
                Contained::Member(m) => {
                    self.error("syntax", m.span, "syntax error");
                }
                Contained::Operation(o) => def.operations.push(o),
            }
        }
        Ok((
            i,
            (self.push_def(head, name, DefKind::Interface(def)), true),
        ))
    }

    /// `exception := 'exception' identifier ('extends' scoped_name)? '{' data_member* '}'`
    fn exception(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        let (i, name) = self.def_name(i, "exception")?;
        let (i, base) = opt(|i| {
            let (i, _) = self.kw("extends").parse(i)?;
            cut(|i| self.scoped_name(i)).parse(i)
        })
        .parse(i)?;
        let (i, _) = cut(context("`{'", self.sym("{"))).parse(i)?;
        let (i, body) = self.body(i, Body::Exception)?;
        let mut def = ExceptionDef {
            base: base.map(|b| (b, None)),
            members: Vec::new(),
        };
        for c in body {
            if let Contained::Member(m) = c {
                def.members.push(m);
            }
        }
        Ok((
            i,
            (self.push_def(head, name, DefKind::Exception(def)), true),
        ))
    }

    /// `struct := 'struct' identifier '{' data_member* '}'`
    fn structure(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        let (i, name) = self.def_name(i, "struct")?;
        let (i, _) = cut(context("`{'", self.sym("{"))).parse(i)?;
        let (i, body) = self.body(i, Body::Struct)?;
        let members = body
            .into_iter()
            .filter_map(|c| match c {
                Contained::Member(m) => Some(m),
                Contained::Operation(_) => None,
            })
            .collect();
        Ok((
            i,
            (self.push_def(head, name, DefKind::Struct { members }), true),
        ))
    }

    /// `body := (doc metadata (data_member | operation))* '}'`
    fn body(&self, mut i: &'a str, kind: Body) -> PResult<'a, Vec<Contained>> {
        let mut out = Vec::new();
        loop {
            let (r, doc) = self.doc_ws(i)?;
            if let Some(r) = r.strip_prefix('}') {
                return Ok((r, out));
            }
            if r.is_empty() {
                return fail(r, None);
            }
            let (r, c) = self.contained(r, doc, kind)?;
            out.push(c);
            i = r;
        }
    }

    /// `contained := metadata 'idempotent'? ('optional' '(' const_value ')')?
    ///               (type | 'void') identifier
    ///               ( '(' params ')' ('throws' name_list)? | ('=' const_value)? ) ';'`
    fn contained(&self, i: &'a str, doc: Option<String>, kind: Body) -> PResult<'a, Contained> {
        let (i, metadata) = self.metadata(i)?;
        let (i, doc2) = self.doc_ws(i)?;
        let doc = doc2.or(doc);
        let span = self.span(i);
        let (idem_at, _) = self.ws(i)?;
        let (i, idem) = opt(self.kw("idempotent")).parse(i)?;
        if idem.is_some() && matches!(kind, Body::Struct | Body::Exception) {
            return fail(idem_at, None);
        }
        let (i, tag) = opt(|i| self.tag(i)).parse(i)?;
        let (i, _) = self.ws(i)?;
        let void_at = i;
        let (i, void) = opt(self.kw("void")).parse(i)?;
        if void.is_some() && tag.is_some() {
            // `optional(N)` must be followed by a type.
            return fail(void_at, None);
        }
        let (i, ty) = if void.is_some() {
            (i, None)
        } else {
            let (i, t) = cut(context("type", |i| self.ty(i))).parse(i)?;
            (i, Some(t))
        };
        let (i, _) = self.ws(i)?;
        let name_at = i;
        let (i, name) = self.member_name(i, kind, ty.is_none() || idem.is_some())?;
        if let Ok((r, _)) = self.sym("(").parse(i) {
            if kind == Body::Struct || kind == Body::Exception {
                return fail(name_at, None);
            }
            let (r, params) = self.params(r)?;
            let (r, throws) = opt(|i| {
                let (i, _) = self.kw("throws").parse(i)?;
                cut(|i| self.name_list(i)).parse(i)
            })
            .parse(r)?;
            let (r, _) = cut(context("`;'", self.sym(";"))).parse(r)?;
            return Ok((
                r,
                Contained::Operation(Operation {
                    name,
                    return_type: ty,
                    return_tag: tag,
                    params,
                    throws: throws
                        .unwrap_or_default()
                        .into_iter()
                        .map(|n| (n, None))
                        .collect(),
                    idempotent: idem.is_some(),
                    metadata,
                    doc,
                    span,
                }),
            ));
        }
        let Some(ty) = ty else {
            return fail(self.ws(i)?.0, None);
        };
        if idem.is_some() {
            return fail(self.ws(i)?.0, None);
        }
        let (i, default) = opt(|i| {
            let (i, _) = self.sym("=").parse(i)?;
            cut(|i| self.const_value(i)).parse(i)
        })
        .parse(i)?;
        let (i, _) = cut(context("`;'", self.sym(";"))).parse(i)?;
        Ok((
            i,
            Contained::Member(DataMember {
                name,
                ty,
                tag,
                default,
                metadata,
                doc,
                span,
            }),
        ))
    }

    fn member_name(&self, i: &'a str, kind: Body, op: bool) -> PResult<'a, Ident> {
        let what = match (kind, op) {
            (_, true) | (Body::Interface, _) => "operation",
            _ => "data member",
        };
        let span = self.span(i);
        if !i.starts_with('\\') {
            if let Ok((rest, w)) = self.word(i) {
                if is_keyword(w) {
                    let what = if rest.trim_start().starts_with('(') {
                        "operation"
                    } else {
                        what
                    };
                    self.error(
                        "keyword",
                        span,
                        format!("keyword `{w}' cannot be used as {what} name"),
                    );
                    return Ok((
                        rest,
                        Ident {
                            name: w.to_string(),
                            escaped: false,
                            span,
                            next: self.next_token(rest),
                        },
                    ));
                }
            }
        }
        cut(|i| self.ident(i)).parse(i)
    }

    /// `tag := 'optional' '(' const_value ')'`
    fn tag(&self, i: &'a str) -> PResult<'a, Tag> {
        let (i, _) = self.kw("optional").parse(i)?;
        let (i, _) = self.ws(i)?;
        let span = self.span(i);
        let (i, _) = cut(self.sym("(")).parse(i)?;
        let (i, v) = cut(|i| self.const_value(i)).parse(i)?;
        let (i, _) = cut(self.sym(")")).parse(i)?;
        let value = match v.expr {
            ConstExpr::Int(n) => i64::try_from(n).ok(),
            _ => None,
        };
        Ok((
            i,
            Tag {
                syntax: v.expr,
                value,
                span,
            },
        ))
    }

    /// `params := (param (',' param)*)? ')'`,
    /// `param := 'out'? metadata tag? type identifier`
    fn params(&self, i: &'a str) -> PResult<'a, Vec<Param>> {
        let mut out = Vec::new();
        if let Ok((r, _)) = self.sym(")").parse(i) {
            return Ok((r, out));
        }
        let mut i = i;
        loop {
            let (r, _) = self.ws(i)?;
            let span = self.span(r);
            let (r, o) = opt(self.kw("out")).parse(r)?;
            let (r, metadata) = self.metadata(r)?;
            let (r, tag) = opt(|i| self.tag(i)).parse(r)?;
            let (r, ty) = cut(context("type", |i| self.ty(i))).parse(r)?;
            let (r, _) = self.ws(r)?;
            let pspan = self.span(r);
            let (r, name) = if !r.starts_with('\\') {
                match self.word(r) {
                    Ok((rest, w)) if is_keyword(w) => {
                        self.error(
                            "keyword",
                            pspan,
                            format!("keyword `{w}' cannot be used as parameter name"),
                        );
                        (
                            rest,
                            Ident {
                                name: w.to_string(),
                                escaped: false,
                                span: pspan,
                                next: self.next_token(rest),
                            },
                        )
                    }
                    _ => cut(|i| self.ident(i)).parse(r)?,
                }
            } else {
                cut(|i| self.ident(i)).parse(r)?
            };
            let md = metadata;
            out.push(Param {
                name,
                ty,
                out: o.is_some(),
                tag,
                metadata: md,
                span,
            });
            if let Ok((r, _)) = self.sym(",").parse(r) {
                i = r;
                continue;
            }
            let (r, _) = cut(context("`)'", self.sym(")"))).parse(r)?;
            return Ok((r, out));
        }
    }

    /// `type := builtin | 'Object' '*'? | scoped_name '*'?`
    fn ty(&self, i: &'a str) -> PResult<'a, TypeRef> {
        self.ty_inner(i, Vec::new())
    }

    /// `type_with_metadata := metadata type` (sequence elements, dictionary
    /// keys and values, constants).
    fn ty_with_metadata(&self, i: &'a str) -> PResult<'a, TypeRef> {
        let (i, metadata) = self.metadata(i)?;
        self.ty_inner(i, metadata)
    }

    fn ty_inner(&self, i: &'a str, metadata: Vec<Metadata>) -> PResult<'a, TypeRef> {
        let (i, _) = self.ws(i)?;
        let span = self.span(i);
        let (r, w) = match self.word(i) {
            Ok(v) => v,
            Err(_) => {
                let (r, name) = self.scoped_name(i)?;
                return self.proxy_suffix(r, name, metadata, span);
            }
        };
        let b = match w {
            "bool" => Some(Builtin::Bool),
            "byte" => Some(Builtin::Byte),
            "short" => Some(Builtin::Short),
            "int" => Some(Builtin::Int),
            "long" => Some(Builtin::Long),
            "float" => Some(Builtin::Float),
            "double" => Some(Builtin::Double),
            "string" => Some(Builtin::String),
            "Object" => Some(Builtin::Object),
            "Value" => Some(Builtin::Value),
            "LocalObject" => Some(Builtin::LocalObject),
            _ => None,
        };
        if let Some(mut b) = b {
            let mut r = r;
            if b == Builtin::Object {
                if let Ok((r2, _)) = self.sym("*").parse(r) {
                    b = Builtin::ObjectProxy;
                    r = r2;
                }
            }
            return Ok((
                r,
                TypeRef {
                    syntax: TypeSyntax::Builtin(b),
                    metadata,
                    span,
                    next: self.next_token(r),
                    resolved: None,
                },
            ));
        }
        let (r, name) = self.scoped_name(i)?;
        self.proxy_suffix(r, name, metadata, span)
    }

    fn proxy_suffix(
        &self,
        r: &'a str,
        name: ScopedName,
        metadata: Vec<Metadata>,
        span: Span,
    ) -> PResult<'a, TypeRef> {
        let (r, star) = opt(self.sym("*")).parse(r)?;
        Ok((
            r,
            TypeRef {
                syntax: TypeSyntax::Named {
                    name,
                    proxy: star.is_some(),
                },
                metadata,
                span,
                next: self.next_token(r),
                resolved: None,
            },
        ))
    }

    /// `sequence := 'sequence' '<' type '>' identifier`
    fn sequence(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        let (i, _) = cut(self.sym("<")).parse(i)?;
        let (i, element) = cut(|i| self.ty_with_metadata(i)).parse(i)?;
        let (i, _) = cut(self.sym(">")).parse(i)?;
        let (i, name) = self.def_name(i, "sequence")?;
        Ok((
            i,
            (
                self.push_def(head, name, DefKind::Sequence { element }),
                false,
            ),
        ))
    }

    /// `dictionary := 'dictionary' '<' type ',' type '>' identifier`
    fn dictionary(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        let (i, _) = cut(self.sym("<")).parse(i)?;
        let (i, key) = cut(|i| self.ty_with_metadata(i)).parse(i)?;
        let (i, _) = cut(self.sym(",")).parse(i)?;
        let (i, value) = cut(|i| self.ty_with_metadata(i)).parse(i)?;
        let (i, _) = cut(self.sym(">")).parse(i)?;
        let (i, name) = self.def_name(i, "dictionary")?;
        Ok((
            i,
            (
                self.push_def(head, name, DefKind::Dictionary { key, value }),
                false,
            ),
        ))
    }

    /// `enum := 'enum' identifier '{' (enumerator (',' enumerator)* ','?)? '}'`,
    /// `enumerator := identifier ('=' const_value)?`
    fn enumeration(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        let (i, name) = self.def_name(i, "enumeration")?;
        let (mut i, _) = cut(context("`{'", self.sym("{"))).parse(i)?;
        let mut enumerators = Vec::new();
        loop {
            let (r, doc) = self.doc_ws(i)?;
            if let Some(r) = r.strip_prefix('}') {
                i = r;
                break;
            }
            let (r, metadata) = self.metadata(r)?;
            let (r, _) = self.ws(r)?;
            let span = self.span(r);
            let (r, en) = match self.word(r) {
                Ok((rest, w)) if is_keyword(w) && !r.starts_with('\\') => {
                    self.error(
                        "keyword",
                        span,
                        format!("keyword `{w}' cannot be used as enumerator"),
                    );
                    (
                        rest,
                        Ident {
                            name: w.to_string(),
                            escaped: false,
                            span,
                            next: self.next_token(rest),
                        },
                    )
                }
                _ => cut(|i| self.ident(i)).parse(r)?,
            };
            let (r, explicit) = opt(|i| {
                let (i, _) = self.sym("=").parse(i)?;
                cut(|i| self.const_value(i)).parse(i)
            })
            .parse(r)?;
            enumerators.push(Enumerator {
                name: en,
                explicit,
                value: None,
                doc,
                metadata,
            });
            if let Ok((r2, _)) = self.sym(",").parse(r) {
                i = r2;
                continue;
            }
            let (r, _) = cut(context("`}'", self.sym("}"))).parse(r)?;
            i = r;
            break;
        }
        Ok((
            i,
            (
                self.push_def(head, name, DefKind::Enum { enumerators }),
                true,
            ),
        ))
    }

    /// `const := 'const' type identifier '=' const_value`
    fn constant(&self, i: &'a str, head: Head) -> PResult<'a, (DefId, bool)> {
        let (i, ty) = cut(|i| self.ty_with_metadata(i)).parse(i)?;
        let (i, name) = self.def_name(i, "constant")?;
        let (i, _) = cut(context("`='", self.sym("="))).parse(i)?;
        let (i, value) = cut(|i| self.const_value(i)).parse(i)?;
        Ok((
            i,
            (
                self.push_def(head, name, DefKind::Const { ty, value }),
                false,
            ),
        ))
    }
}

/// What every definition starts with.
struct Head {
    metadata: Vec<Metadata>,
    doc: Option<String>,
    local: bool,
    parent: Option<DefId>,
    #[allow(dead_code)] // kept for diagnostics about the keyword position
    span: Span,
}

/// Strips the leading `*` of each line of a `/** */` comment.
fn clean_block_doc(body: &str) -> String {
    body.lines()
        .map(|l| {
            let t = l.trim();
            t.strip_prefix('*').map(str::trim_start).unwrap_or(t)
        })
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// Decodes one escape sequence (the text after `\`); returns the decoded
/// text and the rest.
fn unescape(s: &str) -> Result<(String, &str), String> {
    let mut chars = s.chars();
    let Some(c) = chars.next() else {
        return Err("EOF in string".into());
    };
    let simple = match c {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        'v' => Some('\x0b'),
        'f' => Some('\x0c'),
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        '\\' => Some('\\'),
        '"' => Some('"'),
        '\'' => Some('\''),
        '?' => Some('?'),
        _ => None,
    };
    if let Some(ch) = simple {
        return Ok((ch.to_string(), &s[1..]));
    }
    match c {
        '0'..='7' => {
            let n = s
                .chars()
                .take(3)
                .take_while(|c| ('0'..='7').contains(c))
                .count();
            let v = u32::from_str_radix(&s[..n], 8).map_err(|e| e.to_string())?;
            if v > 255 {
                return Err("octal escape sequence out of range: `\\".to_string() + &s[..n] + "'");
            }
            Ok((char::from(v as u8).to_string(), &s[n..]))
        }
        'x' => {
            // Like Ice, at most two hex digits.
            let n = s[1..]
                .chars()
                .take(2)
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            if n == 0 {
                return Err("no hex digit in hex escape sequence".into());
            }
            let v = u32::from_str_radix(&s[1..1 + n], 16)
                .map_err(|_| "hex escape sequence out of range".to_string())?;
            if v > 255 {
                return Err("hex escape sequence out of range".into());
            }
            Ok((char::from(v as u8).to_string(), &s[1 + n..]))
        }
        'u' | 'U' => {
            let want = if c == 'u' { 4 } else { 8 };
            let digits: String = s[1..].chars().take(want).collect();
            if digits.len() != want || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!(
                    "unknown escape sequence in string literal: `\\{c}'"
                ));
            }
            let v = u32::from_str_radix(&digits, 16).map_err(|e| e.to_string())?;
            match char::from_u32(v) {
                Some(ch) => Ok((ch.to_string(), &s[1 + want..])),
                None => Err(format!(
                    "unknown escape sequence in string literal: `\\{c}{digits}'"
                )),
            }
        }
        other => Ok((format!("\\{other}"), &s[other.len_utf8()..])),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)] // test harness: a failed case must stop the test
    use super::*;
    use crate::diagnostics::{FileId, SourceFile, SourceMap};
    use crate::preprocess::{preprocess, FileCache, PreprocessOptions};
    use std::path::{Path, PathBuf};

    fn parse_text(text: &str) -> (Ast, Diagnostics) {
        let mut cache = FileCache::default();
        cache.insert(PathBuf::from("/p/t.ice"), text);
        let mut sources = SourceMap::default();
        sources.add(SourceFile {
            display: "t.ice".into(),
            canonical: "/p/t.ice".into(),
        });
        let mut diags = Diagnostics::new();
        let pp = preprocess(
            Path::new("/p/t.ice"),
            &PreprocessOptions::default(),
            &mut cache,
            &mut sources,
            &mut diags,
        )
        .unwrap_or_else(|| panic!("preprocess failed"));
        let mut ast = Ast::default();
        parse(&pp.text, &pp.lines, &mut ast, &mut diags);
        (ast, diags)
    }

    fn ok(text: &str) -> Ast {
        let (ast, d) = parse_text(text);
        assert!(!d.has_errors(), "{text}: {d:?}");
        ast
    }

    fn find<'a>(ast: &'a Ast, scoped: &str) -> &'a Definition {
        ast.defs
            .iter()
            .find(|d| d.scoped == scoped)
            .unwrap_or_else(|| panic!("no {scoped}"))
    }

    fn const_expr(ast: &Ast, scoped: &str) -> ConstExpr {
        match &find(ast, scoped).kind {
            DefKind::Const { value, .. } => value.expr.clone(),
            k => panic!("{scoped} is {k:?}"),
        }
    }

    #[test]
    fn literals_table() {
        let cases: &[(&str, ConstExpr)] = &[
            ("int X = 0x1F", ConstExpr::Int(31)),
            ("int X = 017", ConstExpr::Int(15)),
            ("int X = -42", ConstExpr::Int(-42)),
            ("int X = +7", ConstExpr::Int(7)),
            (
                "long X = 9223372036854775807",
                ConstExpr::Int(9_223_372_036_854_775_807),
            ),
            ("double X = 1.5e3", ConstExpr::Float(1500.0)),
            ("double X = -2E-1", ConstExpr::Float(-0.2)),
            ("float X = .5f", ConstExpr::Float(0.5)),
            ("float X = 3.F", ConstExpr::Float(3.0)),
            ("bool X = true", ConstExpr::Bool(true)),
            ("bool X = false", ConstExpr::Bool(false)),
            (
                r#"string X = "a\x41\101\u00e9\n\t\\\"""#,
                ConstExpr::String("aAA\u{e9}\n\t\\\"".into()),
            ),
            (
                r#"string X = "\U0001F600""#,
                ConstExpr::String("\u{1F600}".into()),
            ),
        ];
        for (decl, want) in cases {
            let ast = ok(&format!("module M {{ const {decl}; }};"));
            assert_eq!(&const_expr(&ast, "::M::X"), want, "{decl}");
        }
    }

    #[test]
    fn syntax_errors_table() {
        // (text, line of the first error)
        let cases: &[(&str, u32)] = &[
            ("module M {\nstruct S { int x }\n};", 2),
            ("module M {\nsequence<int> S\n};", 3),
            ("module M {\nconst int X = ;\n};", 2),
            ("module M {\ninterface I { void f(int); };\n};", 2),
            ("module M {\nstruct S { int x; };\n", 3),
            ("module M {\n/* open\n};", 6),
            ("module M {\nconst string S = \"abc\n\";\n};", 2),
            ("module M {\nconst int X = 99999999999999999999999;\n};", 2),
            ("module M {\nstruct module { int x; };\n};", 2),
            ("module M {\nclass C extends { int x; };\n};", 2),
            ("module M {\ndictionary<int string> D;\n};", 2),
        ];
        for (text, line) in cases {
            let (_, d) = parse_text(text);
            let first = d
                .iter()
                .find(|x| x.severity == crate::diagnostics::Severity::Error)
                .and_then(|x| x.span)
                .map(|s| s.line);
            assert_eq!(first, Some(*line), "{text}: {d:?}");
        }
    }

    #[test]
    fn definitions_keep_docs_metadata_and_structure() {
        let text = r#"
[["cpp:header-ext:h", "ice-prefix"]]
module M
{
    /** The interface.
     *  Second line. */
    ["amd", "deprecate:x"]
    interface I extends A, ::B::C
    {
        /// Does f.
        /// Really.
        ["cpp:const"] idempotent optional(1) int f(string a, out ["cpp:type:wstring"] optional(2) string b) throws E, ::N::F;
        void g();
    };
    local class C(7) extends D implements I
    {
        /** x doc */
        int x = 5;
        optional(3) C next;
        void op();
    };
    interface Fwd;
    class CFwd;
    exception E extends Base { string why = "no"; };
    sequence<["cpp:array"] byte> Bytes;
    dictionary<string, Object*> D;
    enum Color { Red, /** g */ Green = 5, Blue, };
    struct \module { Value v; LocalObject l; Object o; };
};
module A::B { struct S { int x; }; };
"#;
        let ast = ok(text);
        assert_eq!(ast.file_metadata(FileId(0)).len(), 2);
        let i = find(&ast, "::M::I");
        assert_eq!(i.doc.as_deref(), Some("The interface.\nSecond line."));
        assert_eq!(
            i.metadata
                .iter()
                .map(|m| m.value.as_str())
                .collect::<Vec<_>>(),
            ["amd", "deprecate:x"]
        );
        let DefKind::Interface(idef) = &i.kind else {
            panic!("{:?}", i.kind)
        };
        assert_eq!(idef.bases.len(), 2);
        assert!(idef.bases[1].0.global);
        assert_eq!(idef.bases[1].0.parts, ["B", "C"]);
        let f = &idef.operations[0];
        assert_eq!(f.doc.as_deref(), Some("Does f.\nReally."));
        assert!(f.idempotent);
        assert_eq!(f.return_tag.as_ref().and_then(|t| t.value), Some(1));
        assert_eq!(f.params.len(), 2);
        assert!(!f.params[0].out && f.params[1].out);
        assert_eq!(f.params[1].tag.as_ref().and_then(|t| t.value), Some(2));
        assert_eq!(
            f.params[1].metadata.len() + f.params[1].ty.metadata.len(),
            1
        );
        assert_eq!(f.throws.len(), 2);
        assert_eq!(f.span.line, 12);
        assert!(idef.operations[1].return_type.is_none());
        let c = find(&ast, "::M::C");
        assert!(c.local);
        let DefKind::Class(cdef) = &c.kind else {
            panic!()
        };
        assert_eq!(
            cdef.compact_id.as_ref().map(|v| v.expr.clone()),
            Some(ConstExpr::Int(7))
        );
        assert_eq!(cdef.implements.len(), 1);
        assert_eq!(cdef.members[0].doc.as_deref(), Some("x doc"));
        assert_eq!(
            cdef.members[0].default.as_ref().map(|v| v.literal.as_str()),
            Some("5")
        );
        assert_eq!(cdef.members[1].tag.as_ref().and_then(|t| t.value), Some(3));
        assert_eq!(cdef.operations.len(), 1);
        assert!(matches!(
            find(&ast, "::M::Fwd").kind,
            DefKind::InterfaceForward
        ));
        assert!(matches!(
            find(&ast, "::M::CFwd").kind,
            DefKind::ClassForward
        ));
        let DefKind::Enum { enumerators } = &find(&ast, "::M::Color").kind else {
            panic!()
        };
        assert_eq!(enumerators.len(), 3);
        assert_eq!(enumerators[1].doc.as_deref(), Some("g"));
        let DefKind::Sequence { element } = &find(&ast, "::M::Bytes").kind else {
            panic!()
        };
        assert_eq!(element.metadata[0].value, "cpp:array");
        assert_eq!(element.syntax, TypeSyntax::Builtin(Builtin::Byte));
        let DefKind::Dictionary { value, .. } = &find(&ast, "::M::D").kind else {
            panic!()
        };
        assert_eq!(value.syntax, TypeSyntax::Builtin(Builtin::ObjectProxy));
        let s = find(&ast, "::M::module");
        assert!(s.name.escaped);
        assert_eq!(s.span.line, 28);
        assert!(matches!(
            find(&ast, "::A::B::S").kind,
            DefKind::Struct { .. }
        ));
        let m = find(&ast, "::M");
        assert_eq!(m.end.line, 29);
    }
}
