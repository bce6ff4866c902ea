//! The symbol table and name resolution, with Ice's lookup rules.
//!
//! ZeroC's compilers check a unit in one pass, in text order: a name can only
//! refer to something defined (or forward-declared) before it. This module
//! follows that order: it walks the definitions as written, checks each new
//! name against the table (redefinitions, names that differ only in case,
//! forward declarations of another kind), then resolves the names the
//! definition uses (types, bases, `throws`, constant values, tags) against the
//! table as it is at that point, and fills the `resolved`/`target` fields of
//! the [`Ast`]. Checks that do not depend on order live in [`crate::validate`].
//!
//! Lookup of an unscoped or relative name `A::B` used in scope `::X::Y` tries
//! `::X::Y::A::B`, then `::X::A::B`, then `::A::B`; `::A::B` is looked up only
//! at the top. Modules may be reopened; enumerators live in the scope of their
//! enumeration's module (and in the enumeration itself).

use crate::ast::*;
use crate::diagnostics::{Diagnostics, Span};
use std::collections::HashMap;

/// What a scoped name in the table stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sym {
    /// A definition (module, type, constant, forward declaration).
    Def(DefId),
    /// An enumerator: its enumeration and index.
    Enumerator(DefId, usize),
    /// An operation or data member (named only to say it is not a type).
    Member,
}

/// The symbol table of one unit: fully scoped name (`::M::S`) to every
/// symbol with that name, in definition order.
#[derive(Debug, Default, Clone)]
pub struct Symbols {
    table: HashMap<String, Vec<Sym>>,
    /// Enumerators by their name in the enumeration's enclosing scope
    /// (a deprecated way to name them that Ice 3.7 still accepts).
    outer_enumerators: HashMap<String, Vec<Sym>>,
    /// Lower-cased scoped name to the first spelling and symbol.
    folded: HashMap<String, (String, Sym)>,
}

impl Symbols {
    /// Every symbol defined with exactly this scoped name.
    pub fn get(&self, scoped: &str) -> &[Sym] {
        self.table.get(scoped).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Looks up `name` as written in scope `scope` (`""` for file level,
    /// `::M` inside module `M`), returning the scoped name found and its symbols.
    pub fn lookup(&self, scope: &str, name: &ScopedName) -> Option<(String, &[Sym])> {
        let joined = name.parts.join("::");
        if name.global {
            let key = format!("::{joined}");
            let found = self
                .table
                .get(&key)
                .or_else(|| self.outer_enumerators.get(&key));
            return found.map(|v| (key, v.as_slice()));
        }
        let mut s = scope;
        loop {
            let key = format!("{s}::{joined}");
            if let Some(v) = self.table.get(&key) {
                return Some((key, v.as_slice()));
            }
            if let Some(v) = self.outer_enumerators.get(&key) {
                return Some((key, v.as_slice()));
            }
            if s.is_empty() {
                return None;
            }
            s = match s.rfind("::") {
                Some(i) => &s[..i],
                None => "",
            };
        }
    }

    fn insert(&mut self, key: String, sym: Sym) {
        self.folded
            .entry(key.to_lowercase())
            .or_insert_with(|| (key.clone(), sym));
        self.table.entry(key).or_default().push(sym);
    }
}

/// The best symbol among several with one name: a full definition of a
/// class or interface rather than its forward declaration.
pub fn best(ast: &Ast, syms: &[Sym]) -> Option<Sym> {
    syms.iter()
        .rev()
        .find(|s| match s {
            Sym::Def(id) => !matches!(
                ast.def(*id).kind,
                DefKind::ClassForward | DefKind::InterfaceForward
            ),
            _ => true,
        })
        .or_else(|| syms.last())
        .copied()
}

/// Builds the symbol table in text order and resolves every name.
pub fn resolve(ast: &mut Ast, diags: &mut Diagnostics) -> Symbols {
    let mut r = Resolver {
        syms: Symbols::default(),
        diags,
        introduced: HashMap::new(),
        use_container: None,
    };
    let top = ast.top.clone();
    for id in top {
        r.definition(ast, id);
    }
    link_forward_declarations(ast);
    r.syms
}

/// Points type references that resolved to a forward declaration (a use
/// before the definition) at the definition, when the unit has one, so a
/// code generator always finds the members and operations.
fn link_forward_declarations(ast: &mut Ast) {
    let mut full: HashMap<String, DefId> = HashMap::new();
    for id in ast.ids() {
        let d = ast.def(id);
        if matches!(d.kind, DefKind::Class(_) | DefKind::Interface(_)) {
            full.entry(d.scoped.clone()).or_insert(id);
        }
    }
    let forwards: HashMap<DefId, DefId> = ast
        .ids()
        .filter(|id| {
            matches!(
                ast.def(*id).kind,
                DefKind::ClassForward | DefKind::InterfaceForward
            )
        })
        .filter_map(|id| full.get(&ast.def(id).scoped).map(|f| (id, *f)))
        .collect();
    if forwards.is_empty() {
        return;
    }
    ast.for_each_type_mut(|t| {
        t.resolved = match t.resolved {
            Some(Type::Def(d)) => Some(Type::Def(forwards.get(&d).copied().unwrap_or(d))),
            Some(Type::Proxy(d)) => Some(Type::Proxy(forwards.get(&d).copied().unwrap_or(d))),
            other => other,
        };
    });
}

struct Resolver<'d> {
    syms: Symbols,
    diags: &'d mut Diagnostics,
    /// Ice's "introduced names": for each container (module, or interface
    /// and class for their operations), the lower-cased first component of
    /// every unscoped name used in it, and what that component meant then.
    /// Defining something there later under that name is an error: the
    /// name would change meaning.
    introduced: HashMap<String, HashMap<String, String>>,
    /// The container that the names being resolved are used in; `None`
    /// where Ice does not record them (operation parameters).
    use_container: Option<String>,
}

fn scope_of(ast: &Ast, id: DefId) -> String {
    match ast.def(id).parent {
        Some(p) => ast.def(p).scoped.clone(),
        None => String::new(),
    }
}

fn display(name: &ScopedName) -> String {
    name.parts.join("::")
}

fn is_class(k: &DefKind) -> bool {
    matches!(k, DefKind::Class(_) | DefKind::ClassForward)
}

fn is_interface(k: &DefKind) -> bool {
    matches!(k, DefKind::Interface(_) | DefKind::InterfaceForward)
}

impl Resolver<'_> {
    fn err(&mut self, code: &'static str, span: Span, msg: String) {
        self.diags.error(code, span, msg);
    }

    /// Records that `name`, found as `found` (its full scoped key), is used
    /// in the current container.
    fn introduce(&mut self, name: &ScopedName, found: &str) {
        let Some(container) = &self.use_container else {
            return;
        };
        let Some(first) = name.parts.first() else {
            return;
        };
        if name.global {
            return;
        }
        // The meaning of the first component: the found key without the
        // name's remaining components.
        let mut meaning = found;
        for _ in 1..name.parts.len() {
            meaning = meaning.rsplit_once("::").map_or(meaning, |(head, _)| head);
        }
        self.introduced
            .entry(container.clone())
            .or_default()
            .entry(first.to_lowercase())
            .or_insert_with(|| meaning.to_owned());
    }

    /// Reports a definition named `name` (scoped `scoped`) in `container`
    /// when that name was used there before with another meaning.
    fn check_changed_meaning(&mut self, container: &str, name: &Ident, scoped: Option<&str>) {
        let before = self
            .introduced
            .get(container)
            .and_then(|m| m.get(&name.name.to_lowercase()));
        if let Some(meaning) = before {
            if Some(meaning.as_str()) != scoped {
                let msg = format!("`{}' has changed meaning", name.name);
                self.err("changed-meaning", name.span, msg);
            }
        }
    }

    fn definition(&mut self, ast: &mut Ast, id: DefId) {
        // A sequence, dictionary or constant is named only after its types
        // and value are resolved (`sequence<S> S;` is an error in Ice);
        // everything else can refer to itself.
        let declare_after = matches!(
            ast.def(id).kind,
            DefKind::Sequence { .. } | DefKind::Dictionary { .. } | DefKind::Const { .. }
        );
        if !declare_after {
            self.declare(ast, id);
        }
        let scope = scope_of(ast, id);
        let own = ast.def(id).scoped.clone();
        let mut kind = std::mem::replace(&mut ast.def_mut(id).kind, DefKind::ClassForward);
        match &mut kind {
            DefKind::Module { contents } => {
                // Children are resolved with the module's real kind in place.
                let contents = contents.clone();
                ast.def_mut(id).kind = kind;
                for c in contents {
                    self.definition(ast, c);
                }
                return;
            }
            DefKind::Class(c) => {
                if let Some(v) = &mut c.compact_id {
                    self.const_value(ast, &scope, v);
                }
                if let Some((name, target)) = &mut c.base {
                    *target = self.base(ast, &scope, name, id, "class", is_class);
                }
                for (name, target) in &mut c.implements {
                    *target = self.base(ast, &scope, name, id, "interface", is_interface);
                }
                for m in &mut c.members {
                    self.member(ast, &scope, &own, m);
                }
                for o in &mut c.operations {
                    self.operation(ast, &scope, &own, o);
                }
            }
            DefKind::Interface(i) => {
                for (name, target) in &mut i.bases {
                    *target = self.base(ast, &scope, name, id, "interface", is_interface);
                }
                for o in &mut i.operations {
                    self.operation(ast, &scope, &own, o);
                }
            }
            DefKind::Exception(e) => {
                if let Some((name, target)) = &mut e.base {
                    *target = self.base(ast, &scope, name, id, "exception", |k| {
                        matches!(k, DefKind::Exception(_))
                    });
                }
                for m in &mut e.members {
                    self.member(ast, &scope, &own, m);
                }
            }
            DefKind::Struct { members } => {
                for m in members {
                    self.member(ast, &scope, &own, m);
                }
            }
            DefKind::Sequence { element } => {
                self.use_container = Some(scope.clone());
                self.ty(ast, &scope, element);
            }
            DefKind::Dictionary { key, value } => {
                self.use_container = Some(scope.clone());
                self.ty(ast, &scope, key);
                self.ty(ast, &scope, value);
            }
            DefKind::Enum { enumerators } => {
                for e in enumerators.iter_mut() {
                    if let Some(v) = &mut e.explicit {
                        self.const_value(ast, &scope, v);
                    }
                }
            }
            DefKind::Const { ty, value } => {
                self.use_container = Some(scope.clone());
                self.ty(ast, &scope, ty);
                self.const_value(ast, &scope, value);
            }
            DefKind::ClassForward | DefKind::InterfaceForward => {}
        }
        ast.def_mut(id).kind = kind;
        if declare_after {
            self.declare(ast, id);
        }
        // Enumerators become visible after their enumeration.
        if let DefKind::Enum { enumerators } = &ast.def(id).kind {
            let names: Vec<(String, Span)> = enumerators
                .iter()
                .map(|e| (e.name.name.clone(), e.name.span))
                .collect();
            for (k, (name, span)) in names.into_iter().enumerate() {
                let sym = Sym::Enumerator(id, k);
                self.syms
                    .outer_enumerators
                    .entry(format!("{scope}::{name}"))
                    .or_default()
                    .push(sym);
                self.declare_enumerator(ast, format!("{own}::{name}"), name, span, sym);
            }
        }
    }

    fn declare_enumerator(&mut self, ast: &Ast, key: String, name: String, span: Span, sym: Sym) {
        if let Some(prev) = self.syms.table.get(&key).and_then(|v| v.last()).copied() {
            let what = match prev {
                Sym::Enumerator(..) => "enumerator".to_string(),
                Sym::Def(d) => ast.def(d).kind.kind_name().to_string(),
                Sym::Member => "member".to_string(),
            };
            let msg = if matches!(prev, Sym::Enumerator(..)) {
                format!("redefinition of enumerator `{name}'")
            } else {
                format!("redefinition of {what} `{name}' as enumerator")
            };
            self.err("redefinition", span, msg);
        } else if let Some((first, _)) = self.syms.folded.get(&key.to_lowercase()) {
            let prev = first.rsplit("::").next().unwrap_or("").to_string();
            self.err(
                "redefinition",
                span,
                format!("enumerator `{name}' differs only in capitalization from `{prev}'"),
            );
        }
        self.syms.insert(key, sym);
    }

    /// Checks a new name against the table and enters it.
    fn declare(&mut self, ast: &Ast, id: DefId) {
        let def = ast.def(id);
        let container = scope_of(ast, id);
        // A module named like an enclosing module is its own error, which
        // validation reports as Ice does.
        let mut enclosing = def.parent;
        let mut clashes_with_enclosing = false;
        while let Some(p) = enclosing {
            let pd = ast.def(p);
            clashes_with_enclosing |= pd.name.name.eq_ignore_ascii_case(&def.name.name);
            enclosing = pd.parent;
        }
        if !(matches!(def.kind, DefKind::Module { .. }) && clashes_with_enclosing) {
            self.check_changed_meaning(&container, &def.name, Some(&def.scoped));
        }
        let key = def.scoped.clone();
        let name = &def.name.name;
        let span = def.span;
        let new_kind = &def.kind;
        let existing: Vec<Sym> = self.syms.get(&key).to_vec();
        if existing.is_empty() {
            if let Some((first, sym)) = self.syms.folded.get(&key.to_lowercase()).cloned() {
                let prev_name = first.rsplit("::").next().unwrap_or("").to_string();
                let prev_kind = match sym {
                    Sym::Def(d) => ast.def(d).kind.kind_name(),
                    Sym::Enumerator(..) => "enumerator",
                    Sym::Member => "member",
                };
                let msg = if matches!(new_kind, DefKind::Module { .. }) && prev_kind == "module" {
                    format!("module `{name}' is capitalized inconsistently with its previous name: `{prev_name}'")
                } else {
                    format!(
                        "{} `{name}' differs only in capitalization from {prev_kind} `{prev_name}'",
                        new_kind.kind_name()
                    )
                };
                self.err("redefinition", span, msg);
            }
            self.syms.insert(key, Sym::Def(id));
            return;
        }
        let new_name = new_kind.kind_name();
        let mut error: Option<String> = None;
        for sym in &existing {
            let Sym::Def(prev) = *sym else {
                error = Some(format!("redefinition of enumerator `{name}' as {new_name}"));
                break;
            };
            let p = ast.def(prev);
            let pk = &p.kind;
            let msg = match (pk, new_kind) {
                (DefKind::Module { .. }, DefKind::Module { .. }) => None,
                (DefKind::ClassForward | DefKind::Class(_), DefKind::ClassForward)
                | (DefKind::InterfaceForward | DefKind::Interface(_), DefKind::InterfaceForward) => {
                    local_mismatch(p.local, def.local, name)
                }
                (DefKind::ClassForward, DefKind::Class(_))
                | (DefKind::InterfaceForward, DefKind::Interface(_)) => {
                    local_mismatch(p.local, def.local, name)
                }
                (DefKind::Class(_), DefKind::Class(_)) => {
                    Some(format!("redefinition of class `{name}'"))
                }
                (DefKind::Interface(_), DefKind::Interface(_)) => {
                    Some(format!("redefinition of interface `{name}'"))
                }
                (DefKind::ClassForward, DefKind::Interface(_) | DefKind::InterfaceForward) => {
                    Some(format!("interface `{name}' was declared as class"))
                }
                (DefKind::InterfaceForward, DefKind::Class(_) | DefKind::ClassForward) => {
                    Some(format!("class `{name}' was declared as interface"))
                }
                (DefKind::Class(_), DefKind::Interface(_)) => {
                    Some(format!("redefinition of interface `{name}'"))
                }
                (DefKind::Interface(_), DefKind::Class(_)) => {
                    Some(format!("redefinition of class `{name}'"))
                }
                (_, DefKind::ClassForward | DefKind::InterfaceForward) => Some(format!(
                    "declaration of already defined `{name}' as {new_name}"
                )),
                _ => Some(format!(
                    "redefinition of {} `{name}' as {new_name}",
                    pk.kind_name()
                )),
            };
            if msg.is_some() {
                error = msg;
                break;
            }
        }
        if let Some(m) = error {
            self.err("redefinition", span, m);
        } else if let Some((first, _)) = self.syms.folded.get(&key.to_lowercase()) {
            // Same name with another spelling defined earlier.
            if first != &key {
                let prev_name = first.rsplit("::").next().unwrap_or("").to_string();
                let msg = if matches!(new_kind, DefKind::Module { .. }) {
                    format!("module `{name}' is capitalized inconsistently with its previous name: `{prev_name}'")
                } else {
                    format!("{new_name} `{name}' differs only in capitalization from `{prev_name}'")
                };
                self.err("redefinition", span, msg);
            }
        }
        self.syms.insert(key, Sym::Def(id));
    }

    /// Resolves a base (`extends` / `implements`) that must satisfy `ok`.
    fn base(
        &mut self,
        ast: &Ast,
        scope: &str,
        name: &ScopedName,
        this: DefId,
        what: &str,
        ok: fn(&DefKind) -> bool,
    ) -> Option<DefId> {
        let Some((found, syms)) = self.syms.lookup(scope, name) else {
            self.err(
                "undefined",
                name.span,
                format!("`{}' is not defined", display(name)),
            );
            return None;
        };
        let syms = syms.to_vec();
        self.use_container = Some(scope.to_owned());
        self.introduce(name, &found);
        let syms = syms.as_slice();
        let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        let sym = best(ast, syms);
        let Some(Sym::Def(target)) = sym else {
            self.err(
                "wrong-kind",
                name.span,
                format!("`{}' is not {article} {what}", display(name)),
            );
            return None;
        };
        let k = &ast.def(target).kind;
        if !ok(k) {
            self.err(
                "wrong-kind",
                name.span,
                format!("`{}' is not {article} {what}", display(name)),
            );
            return None;
        }
        if target == this || matches!(k, DefKind::ClassForward | DefKind::InterfaceForward) {
            self.err(
                "forward",
                name.span,
                format!("`{}' has been declared but not defined", display(name)),
            );
            return None;
        }
        Some(target)
    }

    fn member(&mut self, ast: &Ast, scope: &str, own: &str, m: &mut DataMember) {
        // Member types count as used in the struct, class or exception;
        // only a class can later define an operation that clashes.
        self.use_container = Some(own.to_owned());
        self.ty(ast, scope, &mut m.ty);
        if let Some(t) = &mut m.tag {
            self.tag(ast, scope, t);
        }
        if let Some(d) = &mut m.default {
            self.const_value(ast, scope, d);
        }
        self.syms
            .table
            .entry(format!("{own}::{}", m.name.name))
            .or_default()
            .push(Sym::Member);
    }

    fn operation(&mut self, ast: &Ast, scope: &str, own: &str, o: &mut Operation) {
        self.use_container = Some(own.to_owned());
        if let Some(t) = &mut o.return_type {
            self.ty(ast, scope, t);
        }
        self.check_changed_meaning(own, &o.name, None);
        self.use_container = None;
        if let Some(t) = &mut o.return_tag {
            self.tag(ast, scope, t);
        }
        for p in &mut o.params {
            if let Some(t) = &mut p.tag {
                self.tag(ast, scope, t);
            }
            self.ty(ast, scope, &mut p.ty);
        }
        for (name, target) in &mut o.throws {
            let found = match self.syms.lookup(scope, name) {
                Some((key, s)) => {
                    let s = s.to_vec();
                    self.use_container = Some(own.to_owned());
                    self.introduce(name, &key);
                    self.use_container = None;
                    best(ast, &s)
                }
                None => None,
            };
            match found {
                None => self.err(
                    "undefined",
                    name.span,
                    format!("`{}' is not defined", display(name)),
                ),
                Some(Sym::Def(d)) if matches!(ast.def(d).kind, DefKind::Exception(_)) => {
                    *target = Some(d)
                }
                Some(_) => self.err(
                    "wrong-kind",
                    name.span,
                    format!("`{}' is not an exception", display(name)),
                ),
            }
        }
        self.syms
            .table
            .entry(format!("{own}::{}", o.name.name))
            .or_default()
            .push(Sym::Member);
    }

    fn tag(&mut self, ast: &Ast, scope: &str, t: &mut Tag) {
        if let ConstExpr::Name(n) = &t.syntax {
            let found = self.syms.lookup(scope, n).and_then(|(_, s)| best(ast, s));
            match found {
                None => self.err(
                    "undefined",
                    n.next,
                    format!("`{}' is not defined", display(n)),
                ),
                Some(Sym::Def(d)) => match &ast.def(d).kind {
                    DefKind::Const { value, .. } => match value.expr {
                        ConstExpr::Int(v) => {
                            t.value = i64::try_from(v).ok();
                            if t.value.is_none() {
                                self.err("tag", t.span, "tag for optional is out of range".into());
                            }
                        }
                        _ => self.err(
                            "tag",
                            t.span,
                            format!("invalid tag `{}' for optional", display(n)),
                        ),
                    },
                    _ => self.err(
                        "tag",
                        t.span,
                        format!("invalid tag `{}' for optional", display(n)),
                    ),
                },
                Some(Sym::Enumerator(e, k)) => {
                    t.value = enumerator_value(ast, e, k);
                    if let DefKind::Enum { enumerators } = &ast.def(e).kind {
                        let name = enumerators
                            .get(k)
                            .map(|x| x.name.name.as_str())
                            .unwrap_or("");
                        let full = format!("{}::{name}", ast.def(e).scoped);
                        if self
                            .syms
                            .lookup(scope, n)
                            .is_some_and(|(key, _)| key != full)
                        {
                            self.diags.warning(
                                "deprecated",
                                n.span,
                                format!("referencing enumerator `{full}' without its enumeration's scope is deprecated"),
                            );
                        }
                    }
                }
                Some(Sym::Member) => self.err(
                    "tag",
                    t.span,
                    format!("invalid tag `{}' for optional", display(n)),
                ),
            }
        }
    }

    fn const_value(&mut self, ast: &Ast, scope: &str, v: &mut ConstValue) {
        if let ConstExpr::Name(n) = &v.expr {
            if let Some((key, [Sym::Enumerator(..), ..])) = self.syms.lookup(scope, n) {
                let via_enclosing_scope = !self.syms.table.contains_key(&key);
                if via_enclosing_scope && (n.global || n.parts.len() > 1) {
                    let name = n.parts.last().cloned().unwrap_or_default();
                    self.diags.warning(
                        "deprecated",
                        n.span,
                        format!("referencing enumerator `{name}' in its enumeration's enclosing scope is deprecated"),
                    );
                }
            }
            let found = self.syms.lookup(scope, n).and_then(|(_, s)| best(ast, s));
            v.target = match found {
                Some(Sym::Def(d)) if matches!(ast.def(d).kind, DefKind::Const { .. }) => {
                    Some(ConstTarget::Const(d))
                }
                Some(Sym::Enumerator(e, k)) => Some(ConstTarget::Enumerator(e, k)),
                _ => None,
            };
        }
    }

    fn ty(&mut self, ast: &Ast, scope: &str, t: &mut TypeRef) {
        let (name, proxy) = match &t.syntax {
            TypeSyntax::Builtin(b) => {
                t.resolved = Some(Type::Builtin(*b));
                return;
            }
            TypeSyntax::Named { name, proxy } => (name, *proxy),
        };
        let shown = display(name);
        let Some((found, syms)) = self.syms.lookup(scope, name) else {
            self.err("undefined", t.next, format!("`{shown}' is not defined"));
            return;
        };
        let syms = syms.to_vec();
        self.introduce(name, &found);
        let syms = syms.as_slice();
        let Some(Sym::Def(d)) = best(ast, syms) else {
            self.err("wrong-kind", t.next, format!("`{shown}' is not a type"));
            return;
        };
        let k = &ast.def(d).kind;
        match k {
            DefKind::Module { .. } | DefKind::Const { .. } => {
                self.err("wrong-kind", t.next, format!("`{shown}' is not a type"));
            }
            DefKind::Exception(_) => {
                self.err(
                    "wrong-kind",
                    t.next,
                    format!("`{shown}' is an exception, which cannot be used as a type"),
                );
            }
            _ if proxy => {
                if is_class(k) || is_interface(k) {
                    t.resolved = Some(Type::Proxy(d));
                } else {
                    self.err(
                        "wrong-kind",
                        t.next,
                        format!("`{shown}' must be class or interface"),
                    );
                }
            }
            _ => t.resolved = Some(Type::Def(d)),
        }
    }
}

fn local_mismatch(prev_local: bool, new_local: bool, name: &str) -> Option<String> {
    match (prev_local, new_local) {
        (true, false) => Some(format!("non-local `{name}' was declared local")),
        (false, true) => Some(format!("local `{name}' was declared non-local")),
        _ => None,
    }
}

/// The value of an enumerator computed from explicit values (previous + 1
/// when implicit); `None` when a value is not an integer.
pub fn enumerator_value(ast: &Ast, id: DefId, k: usize) -> Option<i64> {
    let DefKind::Enum { enumerators } = &ast.def(id).kind else {
        return None;
    };
    let mut next: i64 = 0;
    for (i, e) in enumerators.iter().enumerate() {
        let v = match &e.explicit {
            Some(ConstValue {
                expr: ConstExpr::Int(n),
                ..
            }) => i64::try_from(*n).ok()?,
            Some(_) => return None,
            None => next,
        };
        if i == k {
            return Some(v);
        }
        next = v.checked_add(1)?;
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)] // test harness: a failed case must stop the test
    use crate::ast::{DefId, DefKind, Type};
    use crate::compile_str;
    use crate::preprocess::PreprocessOptions;

    /// (source, expected first error line, message fragment)
    const CASES: &[(&str, u32, &str)] = &[
        (
            "module M { struct S { int a; };\nstruct S { int b; }; };",
            2,
            "redefinition of struct `S' as struct",
        ),
        (
            "module M { struct S { int a; };\nstruct s { int b; }; };",
            2,
            "differs only in capitalization",
        ),
        (
            "module M { struct A { B b; };\nstruct B { int x; }; };",
            1,
            "`B' is not defined",
        ),
        (
            "module M { const int C = 1;\nstruct A { C c; }; };",
            2,
            "`C' is not a type",
        ),
        (
            "module M { class A;\nclass B extends A { int x; }; };",
            2,
            "declared but not defined",
        ),
        (
            "module M { interface I { void f(); };\nclass B extends I { int x; }; };",
            2,
            "is not a class",
        ),
        (
            "module M { struct S { int x; };\ninterface I { void f() throws S; }; };",
            2,
            "is not an exception",
        ),
        (
            "module M { struct S { int x; };\nsequence<S*> P; };",
            2,
            "must be class or interface",
        ),
        (
            "module M { class X;\ninterface X { void f(); }; };",
            2,
            "was declared as class",
        ),
        (
            "module Demo {};\nmodule DEMO {};",
            2,
            "capitalized inconsistently",
        ),
    ];

    #[test]
    fn resolution_diagnostics_table() {
        for (src, line, frag) in CASES {
            let (sm, r) = compile_str("/nonexistent/t.ice", src, &PreprocessOptions::default());
            let Err(d) = r else {
                panic!("accepted: {src}");
            };
            let first = d
                .iter()
                .next()
                .map(|x| (x.span.map(|s| s.line), x.message.clone()));
            let (l, m) = first.unwrap_or((None, String::new()));
            assert_eq!(l, Some(*line), "{src}: {}", d.render(&sm));
            assert!(m.contains(frag), "{src}: {m}");
        }
    }

    #[test]
    fn uses_before_definition_point_at_the_definition() {
        let src = "module M { class C; interface I; struct S { C c; I* i; };\n\
                   class C { int x; }; interface I { void f(); }; };";
        let (_, r) = compile_str("/nonexistent/t.ice", src, &PreprocessOptions::default());
        let Ok(m) = r else { panic!("rejected") };
        let DefKind::Struct { members } = &m
            .ast
            .def(m.ast.find("::M::S").next().unwrap_or(DefId(0)))
            .kind
        else {
            panic!("no struct")
        };
        let c = m.ast.find("::M::C").last();
        let i = m.ast.find("::M::I").last();
        assert!(matches!(
            m.ast.def(c.unwrap_or(DefId(0))).kind,
            DefKind::Class(_)
        ));
        assert_eq!(members[0].ty.resolved, c.map(Type::Def));
        assert_eq!(members[1].ty.resolved, i.map(Type::Proxy));
    }

    #[test]
    fn resolves_across_modules_and_scopes() {
        let src = "module A { struct S { int x; }; module B { struct T { S s; ::A::S t; A::S u; }; }; };\n\
                   module A { sequence<S> Ss; };";
        let (sm, r) = compile_str("/nonexistent/t.ice", src, &PreprocessOptions::default());
        assert!(
            r.is_ok(),
            "{}",
            r.err().map(|d| d.render(&sm)).unwrap_or_default()
        );
    }
}
