//! The State Replicator pattern: recognised in a component's Slice file by
//! the shape of its operations, and the Rust glue that joins the generated
//! mapping to a generic replicator core.
//!
//! # What is recognised
//!
//! A *replicator* interface (no bases) whose operations are exactly:
//!
//! | role | shape |
//! |---|---|
//! | add listener, remove listener | `void op(L* listener)`, a pair for one interface `L`; told apart by the verbs add/register/subscribe/attach and remove/unregister/unsubscribe/detach |
//! | set | `void op(ItemSeq items)` |
//! | remove (optional) | `void op(KeySeq keys)`, or `void op(ItemSeq items)` removing the items' keys (then named by metadata, as it has the shape of set) |
//! | get | `ItemSeq op(KeySeq keys)` (the result may be the only out-parameter) |
//! | get all | `ItemSeq op()` (idem) |
//!
//! and a *listener* interface `L` (no bases) with `void op(ItemSeq)` (items
//! set) and, optionally, `void op(KeySeq)` (items removed). `ItemSeq` is a
//! sequence of a class (the item base, keyed by a member of the key type)
//! or of a struct holding one instance of such a class beside a key (keys
//! external to the items). A class deriving directly from the item base
//! with no members of its own marks a removal when the replicator has no
//! remove operation (or the listener no removed operation), as in the
//! removal-as-subtype variant of the design.
//!
//! Nothing depends on names other than the add/remove verbs. When several
//! operations have a role's shape, the one whose mode fits (`idempotent`
//! for get and get all, not for set and remove) is taken if it is the only
//! one. Where the shape still leaves a choice open, metadata (or the
//! equivalent [`Options`]) settles it:
//!
//! - `["rs:replicator"]` on an interface: it must fit, and a misfit is an
//!   error saying what is missing or which shape did not match;
//! - `["rs:replicator-op:ROLE"]` on an operation, ROLE one of `add-listener`,
//!   `remove-listener`, `set`, `remove`, `get`, `get-all` (replicator) and
//!   `items-set`, `items-removed` (listener);
//! - `["rs:replicator-key:NAME"]` on the replicator interface, the item
//!   base class or the entry struct: the key member;
//! - `["rs:replicator-removal"]` on a class: the removal subtype.
//!
//! # What is generated
//!
//! For each recognised replicator `R`, a module
//! `replication::<r_in_snake_case>` at the root of the generated tree with:
//! `Item` (the item, `Keyed`), `ListenerProxy` (a listener proxy as the
//! core's `Listener`; its form is its encoding and its operations' class
//! formats, so the core encodes a change once for all the listeners alike,
//! writing the parameters and sending the request exactly as the proxy
//! methods of the listener's operations do), `ReplicatorServant` (`R` over the generic
//! `StateReplicator`), `Client` (a member's `ReplicatorClient` over an `R`
//! proxy), `Member`, `MemberSlot` and `MemberListener` (the `L` servant
//! feeding a member's store). The generic core is reached through
//! [`Options::crate_path`] (default `::replicator`).

use crate::ast::*;
use crate::codegen::ident;
use crate::codegen::iface::explicit_format;
use crate::diagnostics::{Diagnostics, Span};
use crate::Model;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The diagnostic code of this module's errors.
pub const CODE: &str = "replication";

/// What to recognise and how to generate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Generate glue at all (naming an interface turns this on too).
    pub enabled: bool,
    /// Interfaces that must be replicators (`Module::Interface`, with or
    /// without a leading `::`), as if they had `["rs:replicator"]`.
    pub interfaces: Vec<String>,
    /// Key members by replicator interface, item class or entry struct
    /// (`(scoped name, member)`), as `["rs:replicator-key:NAME"]`.
    pub keys: Vec<(String, String)>,
    /// The Rust path of the crate with the generic core (default
    /// `::replicator`; `crate` inside that crate).
    pub crate_path: Option<String>,
}

/// The operations of a recognised pattern, by Slice name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ops {
    /// Registers a listener.
    pub add_listener: String,
    /// Unregisters a listener.
    pub remove_listener: String,
    /// Adds or updates many items.
    pub set: String,
    /// Removes by keys.
    pub remove: Option<String>,
    /// The remove operation takes items (their keys are removed), not keys.
    pub remove_takes_items: bool,
    /// Items by keys.
    pub get: String,
    /// Every item.
    pub get_all: String,
    /// The listener's items-set push.
    pub items_set: String,
    /// The listener's items-removed push.
    pub items_removed: Option<String>,
}

/// How items are keyed.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    /// A member of the item base class or one of its bases.
    Member {
        /// The member's name.
        member: String,
        /// How many `base` fields lead from the item base to the class
        /// declaring it.
        depth: usize,
    },
    /// Items travel in a struct beside their key.
    External {
        /// The struct.
        entry: DefId,
        /// Its key member.
        key_member: String,
        /// Its item member.
        item_member: String,
    },
}

/// A recognised State Replicator pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The replicator interface.
    pub replicator: DefId,
    /// The listener interface.
    pub listener: DefId,
    /// The operations.
    pub ops: Ops,
    /// The sequence of items (or entries).
    pub item_seq: DefId,
    /// The item base class.
    pub item_base: DefId,
    /// The key type.
    pub key_type: Type,
    /// How the key is found.
    pub key: Key,
    /// The removal subtype, if any.
    pub removal: Option<DefId>,
}

impl Pattern {
    /// A one-line summary, stable for tests:
    /// `::M::R listener=::M::L add=.. remove-listener=.. set=.. remove=..
    /// get=.. get-all=.. items-set=.. items-removed=.. item=::M::I
    /// key=member:NAME|external:::M::E.NAME removal=::M::X|-`.
    pub fn summary(&self, ast: &Ast) -> String {
        let name = |id: DefId| ast.def(id).scoped.clone();
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        let remove = match (&self.ops.remove, self.ops.remove_takes_items) {
            (Some(r), true) => format!("{r}(items)"),
            (r, _) => opt(r),
        };
        let key = match &self.key {
            Key::Member { member, .. } => format!("member:{member}"),
            Key::External {
                entry, key_member, ..
            } => format!("external:{}.{key_member}", name(*entry)),
        };
        format!(
            "{} listener={} add={} remove-listener={} set={} remove={} get={} get-all={} \
             items-set={} items-removed={} item={} key={} removal={}",
            name(self.replicator),
            name(self.listener),
            self.ops.add_listener,
            self.ops.remove_listener,
            self.ops.set,
            remove,
            self.ops.get,
            self.ops.get_all,
            self.ops.items_set,
            opt(&self.ops.items_removed),
            name(self.item_base),
            key,
            self.removal.map(name).unwrap_or_else(|| "-".into()),
        )
    }
}

/// Why an interface is not a replicator.
enum Misfit {
    /// It does not have the shape.
    No(Span, String),
    /// It has it in more than one way.
    Ambiguous(Span, String),
}

const MD_REPLICATOR: &str = "rs:replicator";
const MD_OP: &str = "rs:replicator-op:";
const MD_KEY: &str = "rs:replicator-key:";
const MD_REMOVAL: &str = "rs:replicator-removal";

fn norm(scoped: &str) -> String {
    if scoped.starts_with("::") {
        scoped.to_string()
    } else {
        format!("::{scoped}")
    }
}

fn md_value<'m>(md: &'m [Metadata], prefix: &str) -> Option<&'m str> {
    md.iter().find_map(|m| m.value.strip_prefix(prefix))
}

/// Recognises the patterns of the main file of `model`. Interfaces named
/// by metadata or `options` must fit; other interfaces are patterns when
/// they fit, are skipped when they do not, and are an error when they fit
/// in more than one way.
pub fn recognize(model: &Model, options: &Options) -> (Vec<Pattern>, Diagnostics) {
    let r = Recognizer {
        ast: &model.ast,
        options,
    };
    let mut patterns = Vec::new();
    let mut diags = Diagnostics::new();
    for id in model.ast.defs_in_file(model.main) {
        let def = model.ast.def(id);
        let DefKind::Interface(iface) = &def.kind else {
            continue;
        };
        if def.local {
            continue;
        }
        let named = is_named(def, options);
        match r.fit(id, iface) {
            Ok(p) => patterns.push(p),
            Err(Misfit::Ambiguous(span, msg)) => diags.error(CODE, span, msg),
            Err(Misfit::No(span, msg)) if named => diags.error(
                CODE,
                span,
                format!(
                    "interface `{}` is named as a State Replicator but does not fit: {msg}",
                    def.name.name
                ),
            ),
            Err(Misfit::No(..)) => {}
        }
    }
    (patterns, diags)
}

/// Whether metadata or `options` name this interface as a replicator: it
/// then must fit.
fn is_named(def: &Definition, options: &Options) -> bool {
    let DefKind::Interface(iface) = &def.kind else {
        return false;
    };
    def.metadata
        .iter()
        .any(|m| m.value == MD_REPLICATOR || m.value.starts_with(MD_KEY))
        || iface
            .operations
            .iter()
            .any(|o| md_value(&o.metadata, MD_OP).is_some())
        || options.interfaces.iter().any(|n| norm(n) == def.scoped)
}

struct Recognizer<'a> {
    ast: &'a Ast,
    options: &'a Options,
}

/// The shape of one operation.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// `void op(L* p)`.
    ProxyIn(DefId),
    /// `void op(S p)` with `S` a sequence.
    SeqIn(DefId),
    /// `S2 op(S1 p)`.
    SeqInSeqOut(DefId, DefId),
    /// `S op()`.
    SeqOut(DefId),
    /// Anything else.
    Other,
}

impl<'a> Recognizer<'a> {
    /// The definition behind a forward declaration (same scoped name).
    fn full(&self, id: DefId) -> DefId {
        let def = self.ast.def(id);
        match def.kind {
            DefKind::ClassForward | DefKind::InterfaceForward => self
                .ast
                .find(&def.scoped)
                .find(|i| {
                    matches!(
                        self.ast.def(*i).kind,
                        DefKind::Class(_) | DefKind::Interface(_)
                    )
                })
                .unwrap_or(id),
            _ => id,
        }
    }

    fn seq(&self, t: Option<Type>) -> Option<DefId> {
        match t? {
            Type::Def(id) if matches!(self.ast.def(id).kind, DefKind::Sequence { .. }) => Some(id),
            _ => None,
        }
    }

    fn element(&self, seq: DefId) -> Option<Type> {
        match &self.ast.def(seq).kind {
            DefKind::Sequence { element } => element.resolved,
            _ => None,
        }
    }

    fn class(&self, t: Option<Type>) -> Option<(DefId, &'a ClassDef)> {
        let Some(Type::Def(id)) = t else {
            return None;
        };
        let id = self.full(id);
        match &self.ast.def(id).kind {
            DefKind::Class(c) => Some((id, c)),
            _ => None,
        }
    }

    fn shape(&self, op: &Operation) -> Shape {
        if op.params.iter().any(|p| p.tag.is_some()) || op.return_tag.is_some() {
            return Shape::Other;
        }
        let ins: Vec<&Param> = op.params.iter().filter(|p| !p.out).collect();
        let mut outs: Vec<Option<Type>> = op
            .params
            .iter()
            .filter(|p| p.out)
            .map(|p| p.ty.resolved)
            .collect();
        if let Some(r) = &op.return_type {
            outs.push(r.resolved);
        }
        match (ins.as_slice(), outs.as_slice()) {
            ([p], []) => match p.ty.resolved {
                Some(Type::Proxy(l)) => {
                    let l = self.full(l);
                    if matches!(self.ast.def(l).kind, DefKind::Interface(_)) {
                        Shape::ProxyIn(l)
                    } else {
                        Shape::Other
                    }
                }
                t => self.seq(t).map_or(Shape::Other, Shape::SeqIn),
            },
            ([p], [o]) => match (self.seq(p.ty.resolved), self.seq(*o)) {
                (Some(i), Some(o)) => Shape::SeqInSeqOut(i, o),
                _ => Shape::Other,
            },
            ([], [o]) => self.seq(*o).map_or(Shape::Other, Shape::SeqOut),
            _ => Shape::Other,
        }
    }

    /// The item base class a sequence element is, directly or inside an
    /// entry struct: `(class, entry struct)`.
    fn items_of(&self, seq: DefId) -> Option<(DefId, Option<DefId>)> {
        let el = self.element(seq)?;
        if let Some((c, _)) = self.class(Some(el)) {
            return Some((c, None));
        }
        let Type::Def(s) = el else {
            return None;
        };
        let DefKind::Struct { members } = &self.ast.def(s).kind else {
            return None;
        };
        let classes: Vec<DefId> = members
            .iter()
            .filter_map(|m| self.class(m.ty.resolved).map(|c| c.0))
            .collect();
        match classes.as_slice() {
            [c] => Some((*c, Some(s))),
            _ => None,
        }
    }

    fn fit(&self, id: DefId, iface: &'a InterfaceDef) -> Result<Pattern, Misfit> {
        let def = self.ast.def(id);
        let here = def.span;
        let no = |span: Span, m: String| Misfit::No(span, m);
        if !iface.bases.is_empty() {
            return Err(no(
                here,
                "it extends other interfaces (a replicator has exactly the pattern's operations)"
                    .into(),
            ));
        }
        let ops = &iface.operations;
        let shapes: Vec<Shape> = ops.iter().map(|o| self.shape(o)).collect();
        let role_of = |o: &'a Operation| md_value(&o.metadata, MD_OP);
        let mut taken = vec![false; ops.len()];

        // Operations named by metadata first, checked against their shape.
        let named =
            |role: &str| -> Option<usize> { ops.iter().position(|o| role_of(o) == Some(role)) };

        // Listener pair.
        let proxy_ops: Vec<(usize, DefId)> = shapes
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Shape::ProxyIn(l) => Some((i, *l)),
                _ => None,
            })
            .collect();
        let verb = |name: &str, verbs: &[&str]| {
            let n = name.to_ascii_lowercase();
            verbs.iter().any(|v| n.starts_with(v))
        };
        let pick_listener_op = |role: &str, verbs: &[&str]| -> Result<(usize, DefId), Misfit> {
            if let Some(i) = named(role) {
                return match shapes[i] {
                    Shape::ProxyIn(l) => Ok((i, l)),
                    _ => Err(no(
                        ops[i].span,
                        format!(
                            "operation `{}` is named `{role}` but does not take exactly one listener proxy and return nothing",
                            ops[i].name.name
                        ),
                    )),
                };
            }
            let c: Vec<&(usize, DefId)> = proxy_ops
                .iter()
                .filter(|(i, _)| verb(&ops[*i].name.name, verbs) && role_of(&ops[*i]).is_none())
                .collect();
            match c.as_slice() {
                [one] => Ok(**one),
                [] => Err(no(
                    here,
                    format!(
                        "no operation fits `{role}` (`void {}…(Listener* listener)`)",
                        verbs[0]
                    ),
                )),
                _ => Err(Misfit::Ambiguous(
                    ops[c[1].0].span,
                    format!(
                        "operations `{}` and `{}` both fit `{role}`; name one with [\"{MD_OP}{role}\"]",
                        ops[c[0].0].name.name,
                        ops[c[1].0].name.name
                    ),
                )),
            }
        };
        let (add, listener) =
            pick_listener_op("add-listener", &["add", "register", "subscribe", "attach"])?;
        let (remove_l, listener2) = pick_listener_op(
            "remove-listener",
            &["remove", "unregister", "unsubscribe", "detach", "delete"],
        )?;
        if listener != listener2 || add == remove_l {
            return Err(no(
                ops[remove_l].span,
                format!(
                    "`{}` and `{}` do not take proxies to one listener interface",
                    ops[add].name.name, ops[remove_l].name.name
                ),
            ));
        }
        taken[add] = true;
        taken[remove_l] = true;

        // Get all: fixes the item sequence.
        let get_all = self.pick(
            ops,
            &shapes,
            &taken,
            "get-all",
            here,
            |s| matches!(s, Shape::SeqOut(seq) if self.items_of(seq).is_some()),
            "`ItemSeq op()` returning a sequence of class instances or of entries holding one",
        )?;
        taken[get_all] = true;
        let Shape::SeqOut(item_seq) = shapes[get_all] else {
            return Err(no(here, "internal: get-all shape".into()));
        };
        let Some((item_base, entry)) = self.items_of(item_seq) else {
            return Err(no(here, "internal: items".into()));
        };
        let item_el = self.element(item_seq);
        let same_items = |s: DefId| self.element(s) == item_el;
        let item_seq_name = self.ast.def(item_seq).name.name.clone();

        // Get by keys: fixes the key type.
        let get = self.pick(
            ops,
            &shapes,
            &taken,
            "get",
            here,
            |s| matches!(s, Shape::SeqInSeqOut(_, o) if same_items(o)),
            &format!("`{item_seq_name} op(KeySeq keys)`"),
        )?;
        taken[get] = true;
        let Shape::SeqInSeqOut(key_seq, _) = shapes[get] else {
            return Err(no(here, "internal: get shape".into()));
        };
        let Some(key_type) = self.element(key_seq) else {
            return Err(no(
                ops[get].span,
                "the key sequence's element does not resolve".into(),
            ));
        };
        if !self.hashable(key_type) {
            return Err(no(
                ops[get].span,
                "keys must be a string, an integral type, bool or an enumeration".into(),
            ));
        }
        let same_keys = |s: DefId| self.element(s) == Some(key_type);

        let set = self.pick(
            ops,
            &shapes,
            &taken,
            "set",
            here,
            |s| matches!(s, Shape::SeqIn(i) if same_items(i)),
            &format!("`void op({item_seq_name} items)`"),
        )?;
        taken[set] = true;
        let remove = match self.pick(
            ops,
            &shapes,
            &taken,
            "remove",
            here,
            |s| matches!(s, Shape::SeqIn(k) if same_keys(k) || same_items(k)),
            "`void op(KeySeq keys)` or `void op(ItemSeq items)`",
        ) {
            Ok(i) => {
                taken[i] = true;
                Some(i)
            }
            Err(Misfit::No(..)) => None,
            Err(e) => return Err(e),
        };
        if let Some(i) = taken.iter().position(|t| !t) {
            return Err(no(
                ops[i].span,
                format!(
                    "operation `{}` is not part of the pattern (add/remove listener, set, remove, get, get all)",
                    ops[i].name.name
                ),
            ));
        }

        // The listener interface.
        let ldef = self.ast.def(listener);
        let DefKind::Interface(liface) = &ldef.kind else {
            return Err(no(here, "the listener is not an interface".into()));
        };
        if !liface.bases.is_empty() {
            return Err(no(
                ldef.span,
                format!("listener `{}` extends other interfaces", ldef.name.name),
            ));
        }
        let lops = &liface.operations;
        let lshapes: Vec<Shape> = lops.iter().map(|o| self.shape(o)).collect();
        let mut ltaken = vec![false; lops.len()];
        let items_set = self.pick(
            lops,
            &lshapes,
            &ltaken,
            "items-set",
            ldef.span,
            |s| matches!(s, Shape::SeqIn(i) if same_items(i)),
            &format!(
                "listener `{}`: `void op({item_seq_name} items)`",
                ldef.name.name
            ),
        )?;
        ltaken[items_set] = true;
        let items_removed = match self.pick(
            lops,
            &lshapes,
            &ltaken,
            "items-removed",
            ldef.span,
            |s| matches!(s, Shape::SeqIn(k) if same_keys(k)),
            "`void op(KeySeq keys)`",
        ) {
            Ok(i) => {
                ltaken[i] = true;
                Some(i)
            }
            Err(Misfit::No(..)) => None,
            Err(e) => return Err(e),
        };
        if let Some(i) = ltaken.iter().position(|t| !t) {
            return Err(no(
                lops[i].span,
                format!(
                    "listener operation `{}` is not part of the pattern (items set, items removed)",
                    lops[i].name.name
                ),
            ));
        }

        // The key.
        let key_name = md_value(&def.metadata, MD_KEY)
            .map(str::to_string)
            .or_else(|| self.option_key(&def.scoped));
        let key = match entry {
            None => {
                let base_def = self.ast.def(item_base);
                let name = key_name
                    .or_else(|| md_value(&base_def.metadata, MD_KEY).map(str::to_string))
                    .or_else(|| self.option_key(&base_def.scoped));
                self.member_key(item_base, key_type, name.as_deref(), here)?
            }
            Some(e) => {
                let edef = self.ast.def(e);
                let name = key_name
                    .or_else(|| md_value(&edef.metadata, MD_KEY).map(str::to_string))
                    .or_else(|| self.option_key(&edef.scoped));
                self.entry_key(e, key_type, name.as_deref())?
            }
        };

        // The removal subtype.
        let subclasses: Vec<(DefId, &ClassDef)> = self
            .ast
            .ids()
            .filter_map(|i| match &self.ast.def(i).kind {
                DefKind::Class(c)
                    if c.base.as_ref().and_then(|b| b.1).map(|b| self.full(b))
                        == Some(item_base) =>
                {
                    Some((i, c))
                }
                _ => None,
            })
            .collect();
        let marked: Vec<DefId> = subclasses
            .iter()
            .filter(|(i, _)| {
                self.ast
                    .def(*i)
                    .metadata
                    .iter()
                    .any(|m| m.value == MD_REMOVAL)
            })
            .map(|(i, _)| *i)
            .collect();
        let removal = if let Some(m) = marked.first() {
            Some(*m)
        } else if remove.is_none() || items_removed.is_none() {
            let empty: Vec<DefId> = subclasses
                .iter()
                .filter(|(_, c)| c.members.is_empty())
                .map(|(i, _)| *i)
                .collect();
            match empty.as_slice() {
                [one] => Some(*one),
                [] => {
                    let which = if remove.is_none() {
                        "no remove operation (`void op(KeySeq keys)`)"
                    } else {
                        "the listener has no items-removed operation (`void op(KeySeq keys)`)"
                    };
                    return Err(no(
                        here,
                        format!(
                            "{which} and no removal subtype (a class extending `{}` with no members)",
                            self.ast.def(item_base).name.name
                        ),
                    ));
                }
                more => {
                    return Err(Misfit::Ambiguous(
                        self.ast.def(more[1]).span,
                        format!(
                            "classes `{}` and `{}` both fit the removal subtype; mark one with [\"{MD_REMOVAL}\"]",
                            self.ast.def(more[0]).name.name,
                            self.ast.def(more[1]).name.name
                        ),
                    ))
                }
            }
        } else {
            None
        };

        let name = |i: usize| ops[i].name.name.clone();
        Ok(Pattern {
            replicator: id,
            listener,
            ops: Ops {
                add_listener: name(add),
                remove_listener: name(remove_l),
                set: name(set),
                remove: remove.map(name),
                remove_takes_items: remove
                    .is_some_and(|i| matches!(shapes[i], Shape::SeqIn(k) if same_items(k))),
                get: name(get),
                get_all: name(get_all),
                items_set: lops[items_set].name.name.clone(),
                items_removed: items_removed.map(|i| lops[i].name.name.clone()),
            },
            item_seq,
            item_base,
            key_type,
            key,
            removal,
        })
    }

    fn option_key(&self, scoped: &str) -> Option<String> {
        self.options
            .keys
            .iter()
            .find(|(s, _)| norm(s) == scoped)
            .map(|(_, m)| m.clone())
    }

    fn hashable(&self, t: Type) -> bool {
        match t {
            Type::Builtin(b) => b == Builtin::String || b == Builtin::Bool || b.is_integral(),
            Type::Def(id) => matches!(self.ast.def(id).kind, DefKind::Enum { .. }),
            Type::Proxy(_) => false,
        }
    }

    /// One operation for `role`: the one named by metadata (checked), or
    /// the only untaken one that `fits`.
    #[allow(clippy::too_many_arguments)] // one call per role, all arguments differ
    fn pick(
        &self,
        ops: &[Operation],
        shapes: &[Shape],
        taken: &[bool],
        role: &str,
        here: Span,
        fits: impl Fn(Shape) -> bool,
        wanted: &str,
    ) -> Result<usize, Misfit> {
        if let Some(i) = ops
            .iter()
            .position(|o| md_value(&o.metadata, MD_OP) == Some(role))
        {
            return if fits(shapes[i]) {
                Ok(i)
            } else {
                Err(Misfit::No(
                    ops[i].span,
                    format!(
                        "operation `{}` is named `{role}` but its shape does not match {wanted}",
                        ops[i].name.name
                    ),
                ))
            };
        }
        let c: Vec<usize> = (0..ops.len())
            .filter(|&i| {
                !taken[i] && md_value(&ops[i].metadata, MD_OP).is_none() && fits(shapes[i])
            })
            .collect();
        // Reads (get, get all) are idempotent, writes are not: when the
        // shape fits several operations, that may settle it.
        let reads = matches!(role, "get" | "get-all");
        let by_mode: Vec<usize> = c
            .iter()
            .copied()
            .filter(|&i| ops[i].idempotent == reads)
            .collect();
        match (c.as_slice(), by_mode.as_slice()) {
            ([one], _) | ([_, _, ..], [one]) => Ok(*one),
            ([], _) => Err(Misfit::No(
                here,
                format!("no operation fits `{role}` ({wanted})"),
            )),
            _ => Err(Misfit::Ambiguous(
                ops[c[1]].span,
                format!(
                    "operations `{}` and `{}` both fit `{role}`; name one with [\"{MD_OP}{role}\"]",
                    ops[c[0]].name.name, ops[c[1]].name.name
                ),
            )),
        }
    }

    /// The key member of an internally keyed item base.
    fn member_key(
        &self,
        base: DefId,
        key_type: Type,
        name: Option<&str>,
        here: Span,
    ) -> Result<Key, Misfit> {
        let mut found: Vec<(String, usize)> = Vec::new();
        let mut cur = Some(base);
        let mut depth = 0;
        while let Some(c) = cur {
            let DefKind::Class(cd) = &self.ast.def(c).kind else {
                break;
            };
            for m in &cd.members {
                if name.is_some_and(|n| n == m.name.name) {
                    return if m.ty.resolved == Some(key_type) && m.tag.is_none() {
                        Ok(Key::Member {
                            member: m.name.name.clone(),
                            depth,
                        })
                    } else {
                        Err(Misfit::No(
                            m.span,
                            format!(
                                "key member `{}` is not a required member of the key type",
                                m.name.name
                            ),
                        ))
                    };
                }
                if m.ty.resolved == Some(key_type) && m.tag.is_none() {
                    found.push((m.name.name.clone(), depth));
                }
            }
            cur = cd.base.as_ref().and_then(|b| b.1).map(|b| self.full(b));
            depth += 1;
            if depth > 64 {
                break;
            }
        }
        let bname = &self.ast.def(base).name.name;
        if let Some(n) = name {
            return Err(Misfit::No(
                self.ast.def(base).span,
                format!("class `{bname}` has no member `{n}` (named as the key)"),
            ));
        }
        match found.as_slice() {
            [(member, depth)] => Ok(Key::Member {
                member: member.clone(),
                depth: *depth,
            }),
            [] => Err(Misfit::No(
                here,
                format!("item class `{bname}` has no member of the key type"),
            )),
            [a, b, ..] => Err(Misfit::Ambiguous(
                self.ast.def(base).span,
                format!(
                    "members `{}` and `{}` of `{bname}` both fit the key; name one with [\"{MD_KEY}NAME\"]",
                    a.0, b.0
                ),
            )),
        }
    }

    /// The key and item members of an entry struct.
    fn entry_key(&self, entry: DefId, key_type: Type, name: Option<&str>) -> Result<Key, Misfit> {
        let edef = self.ast.def(entry);
        let DefKind::Struct { members } = &edef.kind else {
            return Err(Misfit::No(edef.span, "not a struct".into()));
        };
        let item_member = members
            .iter()
            .find(|m| self.class(m.ty.resolved).is_some())
            .map(|m| m.name.name.clone())
            .unwrap_or_default();
        let keys: Vec<&DataMember> = members
            .iter()
            .filter(|m| {
                m.ty.resolved == Some(key_type)
                    && m.tag.is_none()
                    && name.is_none_or(|n| n == m.name.name)
            })
            .collect();
        match keys.as_slice() {
            [k] => Ok(Key::External {
                entry,
                key_member: k.name.name.clone(),
                item_member,
            }),
            [] => Err(Misfit::No(
                edef.span,
                match name {
                    Some(n) => format!("struct `{}` has no key member `{n}`", edef.name.name),
                    None => format!("struct `{}` has no member of the key type", edef.name.name),
                },
            )),
            [a, b, ..] => Err(Misfit::Ambiguous(
                edef.span,
                format!(
                    "members `{}` and `{}` of `{}` both fit the key; name one with [\"{MD_KEY}NAME\"]",
                    a.name.name, b.name.name, edef.name.name
                ),
            )),
        }
    }
}

/// The name of the root module holding the glue.
pub const ROOT_MODULE: &str = "replication";

/// Recognises the patterns of `models` and generates their glue: a
/// `pub mod replication { ... }` to append to the tree [`super::generate`]
/// made (empty when nothing was asked for). Errors are diagnostics with
/// file and line.
pub fn generate(models: &[&Model], options: &Options) -> Result<String, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut modules = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut any_named = false;
    for model in models {
        let named_here = model
            .ast
            .defs_in_file(model.main)
            .any(|id| is_named(model.ast.def(id), options));
        any_named |= named_here;
        if !options.enabled && !named_here {
            continue;
        }
        let (patterns, d) = recognize(model, options);
        diags.extend(d);
        for p in patterns {
            let def = model.ast.def(p.replicator);
            let m = ident::module_name(&def.name.name).to_string();
            if names.contains(&m) {
                diags.error(
                    CODE,
                    def.span,
                    format!(
                        "a State Replicator named `{}` was recognised twice; its glue module `{m}` would clash",
                        def.name.name
                    ),
                );
                continue;
            }
            names.push(m);
            modules.push(glue(&model.ast, &p, options));
        }
        for &top in &model.ast.top {
            let d = model.ast.def(top);
            if d.span.file == model.main && ident::module_name(&d.name.name) == ROOT_MODULE {
                diags.error(
                    CODE,
                    d.span,
                    format!(
                        "module `{}` clashes with the generated `{ROOT_MODULE}` module",
                        d.name.name
                    ),
                );
            }
        }
    }
    for n in &options.interfaces {
        let found = models.iter().any(|m| {
            m.ast
                .defs_in_file(m.main)
                .any(|id| m.ast.def(id).scoped == norm(n))
        });
        if !found {
            diags.global_error(
                CODE,
                format!("replicator interface `{n}` is not defined in the files compiled"),
            );
        }
    }
    if diags.has_errors() {
        diags.sort_by_position();
        return Err(diags);
    }
    if modules.is_empty() {
        if options.enabled && !any_named {
            diags.global_error(
                CODE,
                "State Replicator glue was asked for but no interface fits the pattern",
            );
            return Err(diags);
        }
        return Ok(String::new());
    }
    let root = ident::plain(ROOT_MODULE);
    let tokens = quote! {
        /// Glue between the State Replicator interfaces of these files and
        /// the generic replicator core, one module per replicator.
        pub mod #root {
            #(#modules)*
        }
    };
    let file: syn::File = syn::parse2(tokens).map_err(|e| {
        let mut d = Diagnostics::new();
        d.global_error(CODE, format!("generated glue does not parse: {e}"));
        d
    })?;
    Ok(prettyplease::unparse(&file))
}

/// What `slice2rs --replication` prints: one line per recognised pattern,
/// `<file>: <summary>` (see [`Pattern::summary`]), and the rendered
/// diagnostics (empty when there was no error): misfits of named
/// interfaces, ambiguities, names that are not defined, and no pattern at
/// all.
pub fn report(c: &crate::Compilation, options: &Options) -> (String, String) {
    let mut out = String::new();
    let mut diags = Diagnostics::new();
    let mut found = 0;
    for model in c.units.iter().filter_map(|u| u.as_ref().ok()) {
        let (patterns, d) = recognize(model, options);
        diags.extend(d);
        for p in patterns {
            found += 1;
            out.push_str(&format!(
                "{}: {}\n",
                c.sources.name(model.main),
                p.summary(&model.ast)
            ));
        }
    }
    for n in &options.interfaces {
        let defined = c.units.iter().filter_map(|u| u.as_ref().ok()).any(|m| {
            m.ast
                .defs_in_file(m.main)
                .any(|id| m.ast.def(id).scoped == norm(n))
        });
        if !defined {
            diags.global_error(
                CODE,
                format!("replicator interface `{n}` is not defined in the files compiled"),
            );
        }
    }
    if found == 0 && !diags.has_errors() {
        diags.global_error(CODE, "no interface fits the State Replicator pattern");
    }
    diags.sort_by_position();
    (out, diags.render(&c.sources))
}

/// A path from the glue module (`replication::<name>`) to a definition.
fn path(ast: &Ast, id: DefId) -> TokenStream {
    let def = ast.def(id);
    let parts: Vec<&str> = def.scoped.split("::").filter(|p| !p.is_empty()).collect();
    let mods = parts[..parts.len().saturating_sub(1)]
        .iter()
        .map(|m| ident::module_name(m));
    let name = ident::type_name(&def.name.name);
    quote!(super::super:: #(#mods::)* #name)
}

fn path_with_suffix(ast: &Ast, id: DefId, suffix: &str) -> TokenStream {
    let def = ast.def(id);
    let parts: Vec<&str> = def.scoped.split("::").filter(|p| !p.is_empty()).collect();
    let mods = parts[..parts.len().saturating_sub(1)]
        .iter()
        .map(|m| ident::module_name(m));
    let name = format_ident!("{}{}", ident::type_name(&def.name.name).to_string(), suffix);
    quote!(super::super:: #(#mods::)* #name)
}

fn rust_key(ast: &Ast, t: Type) -> TokenStream {
    match t {
        Type::Builtin(Builtin::String) => quote!(::std::string::String),
        Type::Builtin(Builtin::Bool) => quote!(bool),
        Type::Builtin(Builtin::Byte) => quote!(u8),
        Type::Builtin(Builtin::Short) => quote!(i16),
        Type::Builtin(Builtin::Int) => quote!(i32),
        Type::Builtin(Builtin::Long) => quote!(i64),
        Type::Def(id) => path(ast, id),
        _ => quote!(()),
    }
}

/// Whether the class `depth` bases up from `class` has a base itself (a
/// member named `base` is then `base_` in Rust).
fn holder_has_base(ast: &Ast, class: DefId, depth: usize) -> bool {
    let base_of = |id: DefId| match &ast.def(id).kind {
        DefKind::Class(c) => c.base.as_ref().and_then(|b| b.1),
        _ => None,
    };
    let mut cur = class;
    for _ in 0..depth {
        match base_of(cur) {
            Some(b) => cur = b,
            None => return false,
        }
    }
    base_of(cur).is_some()
}

fn field(name: &str, renamed: bool) -> proc_macro2::Ident {
    let f = ident::field_name(name);
    if renamed && f == "base" {
        format_ident!("base_")
    } else {
        f
    }
}

/// The glue module of one pattern.
fn glue(ast: &Ast, p: &Pattern, options: &Options) -> TokenStream {
    let c: TokenStream = options
        .crate_path
        .as_deref()
        .unwrap_or("::replicator")
        .parse()
        .unwrap_or_else(|_| quote!(::replicator));
    let rdef = ast.def(p.replicator);
    let ldef = ast.def(p.listener);
    let modname = ident::module_name(&rdef.name.name);
    let r_trait = path(ast, p.replicator);
    let r_prx = path_with_suffix(ast, p.replicator, "Prx");
    let l_trait = path(ast, p.listener);
    let l_prx = path_with_suffix(ast, p.listener, "Prx");
    let item_seq = path(ast, p.item_seq);
    let base = path(ast, p.item_base);
    let key_ty = rust_key(ast, p.key_type);
    let m = |s: &str| ident::field_name(s);
    let (add, rem_l, set, get, get_all, items_set) = (
        m(&p.ops.add_listener),
        m(&p.ops.remove_listener),
        m(&p.ops.set),
        m(&p.ops.get),
        m(&p.ops.get_all),
        m(&p.ops.items_set),
    );
    let ops_lit = |s: &str| proc_macro2::Literal::string(s);
    let (set_l, rem_l_l, get_all_l, add_l) = (
        ops_lit(&p.ops.set),
        ops_lit(&p.ops.remove_listener),
        ops_lit(&p.ops.get_all),
        ops_lit(&p.ops.add_listener),
    );
    let rt = quote!(::ice_proto::codegen);
    let mod_doc = format!(
        " Glue for the State Replicator `{}` and its listener `{}`.",
        rdef.scoped, ldef.scoped
    );

    // The item type and its key.
    let base_name = &ast.def(p.item_base).name.name;
    let (item_decl, item_fns, key_fn, removal_check) = match &p.key {
        Key::Member { member, depth } => {
            let mut fields: Vec<proc_macro2::Ident> =
                (0..*depth).map(|_| format_ident!("base")).collect();
            fields.push(field(member, holder_has_base(ast, p.item_base, *depth)));
            let doc = format!(
                " A state item: a `{base_name}` instance (or of a subclass), keyed by its `{member}` member."
            );
            (
                quote! {
                    #[doc = #doc]
                    #[derive(Debug, Clone, PartialEq)]
                    pub struct Item(pub #rt::Class<#base>);
                },
                quote! {
                    /// Wraps a class value: an instance of the item class or a subclass.
                    pub fn new<V: #rt::IsA<#base>>(value: V) -> Self {
                        Self(#rt::Class::new(value).upcast())
                    }

                    /// The item as a `T` (its class, a subclass or a base), if it is one.
                    #[must_use]
                    pub fn downcast<T: #rt::Value>(&self) -> ::std::option::Option<#rt::Class<T>> {
                        self.0.downcast::<T>()
                    }

                    /// Whether the item is a `T` or derives from it.
                    #[must_use]
                    pub fn is<T: ::std::any::Any>(&self) -> bool {
                        self.0.is::<T>()
                    }

                    /// The items of a Slice sequence (null elements are skipped).
                    #[must_use]
                    pub fn from_seq(seq: #item_seq) -> ::std::vec::Vec<Self> {
                        seq.into_iter().flatten().map(Self).collect()
                    }

                    /// A Slice sequence of these items.
                    #[must_use]
                    pub fn to_seq(items: &[Self]) -> #item_seq {
                        items.iter().map(|i| ::std::option::Option::Some(i.0.clone())).collect()
                    }
                },
                quote! {
                    fn key(&self) -> #key_ty {
                        self.0.read().#(#fields).*.clone()
                    }
                },
                p.removal.map(|r| {
                    let r = path(ast, r);
                    quote!(self.0.is::<#r>())
                }),
            )
        }
        Key::External {
            entry,
            key_member,
            item_member,
        } => {
            let entry_ty = path(ast, *entry);
            let kf = field(key_member, false);
            let itf = field(item_member, false);
            let doc = format!(
                " A state item: a `{}` entry, a `{base_name}` instance beside its `{key_member}`.",
                ast.def(*entry).name.name
            );
            (
                quote! {
                    #[doc = #doc]
                    #[derive(Debug, Clone, PartialEq)]
                    pub struct Item(pub #entry_ty);
                },
                quote! {
                    /// An entry holding `value` under `key`.
                    pub fn new<V: #rt::IsA<#base>>(key: #key_ty, value: V) -> Self {
                        let mut e = <#entry_ty as ::std::default::Default>::default();
                        e.#kf = key;
                        e.#itf = ::std::option::Option::Some(#rt::Class::new(value).upcast());
                        Self(e)
                    }

                    /// The entry's item as a `T` (its class, a subclass or a base), if it is one.
                    #[must_use]
                    pub fn downcast<T: #rt::Value>(&self) -> ::std::option::Option<#rt::Class<T>> {
                        self.0.#itf.as_ref().and_then(|c| c.downcast::<T>())
                    }

                    /// Whether the entry's item is a `T` or derives from it.
                    #[must_use]
                    pub fn is<T: ::std::any::Any>(&self) -> bool {
                        self.0.#itf.as_ref().is_some_and(|c| c.is::<T>())
                    }

                    /// The entries of a Slice sequence.
                    #[must_use]
                    pub fn from_seq(seq: #item_seq) -> ::std::vec::Vec<Self> {
                        seq.into_iter().map(Self).collect()
                    }

                    /// A Slice sequence of these entries.
                    #[must_use]
                    pub fn to_seq(items: &[Self]) -> #item_seq {
                        items.iter().map(|i| i.0.clone()).collect()
                    }
                },
                quote! {
                    fn key(&self) -> #key_ty {
                        self.0.#kf.clone()
                    }
                },
                p.removal.map(|r| {
                    let r = path(ast, r);
                    quote!(self.is::<#r>())
                }),
            )
        }
    };
    let removal_fn = p.removal.map(|r| {
        let rname = &ast.def(r).name.name;
        let rp = path(ast, r);
        let doc = format!(" An item marking the removal of `key` (a `{rname}`).");
        let body = match &p.key {
            Key::Member { member, depth } => {
                let mut fields: Vec<proc_macro2::Ident> =
                    (0..=*depth).map(|_| format_ident!("base")).collect();
                fields.push(field(member, holder_has_base(ast, p.item_base, *depth)));
                quote! {
                    let mut v = <#rp as ::std::default::Default>::default();
                    v.#(#fields).* = key;
                    Self::new(v)
                }
            }
            Key::External { .. } => quote! {
                Self::new(key, <#rp as ::std::default::Default>::default())
            },
        };
        quote! {
            #[doc = #doc]
            #[must_use]
            pub fn removal(key: #key_ty) -> Self {
                #body
            }
        }
    });
    let is_removal = removal_check.map(|check| {
        quote! {
            fn is_removal(&self) -> bool {
                #check
            }
        }
    });

    // Pushes of removals: the listener's removed operation, or removal items.
    let push_removed = match &p.ops.items_removed {
        Some(op) => {
            let op = m(op);
            quote!(self.prx.#op(&keys.to_vec()).await)
        }
        None => quote! {
            self.prx
                .#items_set(
                    &Item::to_seq(&keys.iter().cloned().map(Item::removal).collect::<::std::vec::Vec<_>>()),
                )
                .await
        },
    };
    // Pushes encoded once for every listener of one form: the listener's
    // operations written exactly as its proxy methods write them.
    let l_op = |name: &str| -> Option<&Operation> {
        match &ldef.kind {
            DefKind::Interface(iface) => iface.operations.iter().find(|o| o.name.name == name),
            _ => None,
        }
    };
    let op_format = |name: &str| {
        let explicit = l_op(name).and_then(|op| explicit_format(ldef, op));
        match explicit {
            Some(true) => quote!(::ice_proto::encoding::Format::Sliced),
            Some(false) => quote!(::ice_proto::encoding::Format::Compact),
            None => quote!(proxy.communicator().default_format()),
        }
    };
    let op_mode = |name: &str| {
        if l_op(name).is_some_and(|op| op.idempotent) {
            quote!(::ice_proto::protocol::OperationMode::Idempotent)
        } else {
            quote!(::ice_proto::protocol::OperationMode::Normal)
        }
    };
    let set_format = op_format(&p.ops.items_set);
    let set_lit = ops_lit(&p.ops.items_set);
    let set_mode = op_mode(&p.ops.items_set);
    let (removed_format, removed_lit, removed_mode, encode_removed) = match &p.ops.items_removed {
        Some(op) => (
            op_format(op),
            ops_lit(op),
            op_mode(op),
            quote! {
                ::ice_proto::adapter::encapsulate(self.encoding, self.removed_format, |ice_out| {
                    ice_out.write(&keys.to_vec());
                })
                .body
            },
        ),
        None => (
            set_format.clone(),
            set_lit.clone(),
            set_mode.clone(),
            quote! {
                ::ice_proto::adapter::encapsulate(self.encoding, self.removed_format, |ice_out| {
                    ice_out.write(&Item::to_seq(&keys.iter().cloned().map(Item::removal).collect::<::std::vec::Vec<_>>()));
                    ice_out.write_pending_classes();
                })
                .body
            },
        ),
    };
    let (client_remove, remove_name) = match &p.ops.remove {
        Some(op) if p.ops.remove_takes_items => {
            let lit = ops_lit(op);
            let op = m(op);
            (
                quote! {
                    self.replicator
                        .#op(
                            &Item::to_seq(&keys.into_iter().map(Item::keyed).collect::<::std::vec::Vec<_>>())
                        )
                        .await
                },
                lit,
            )
        }
        Some(op) => {
            let lit = ops_lit(op);
            let op = m(op);
            (quote!(self.replicator.#op(&keys).await), lit)
        }
        None => (
            quote! {
                self.replicator
                    .#set(
                        &Item::to_seq(&keys.into_iter().map(Item::removal).collect::<::std::vec::Vec<_>>())
                    )
                    .await
            },
            set_l.clone(),
        ),
    };
    let servant_remove = p.ops.remove.as_ref().map(|op| {
        let op = m(op);
        let (param, keys) = if p.ops.remove_takes_items {
            (
                quote!(items: #item_seq),
                quote!(Item::from_seq(items).iter().map(#c::Keyed::key).collect()),
            )
        } else {
            (quote!(keys: ::std::vec::Vec<#key_ty>), quote!(keys))
        };
        quote! {
            async fn #op(
                &self,
                #param,
                _current: &::ice_proto::adapter::Current,
            ) -> ::std::result::Result<(), ::ice_proto::adapter::DispatchError> {
                self.core
                    .remove_items(#keys)
                    .await
                    .map_err(|e| ::ice_proto::adapter::DispatchError::UnknownException(e.to_string()))
            }
        }
    });
    // An item holding only a key, for a remove operation taking items.
    let keyed_fn = p.ops.remove_takes_items.then(|| {
        let body = match &p.key {
            Key::Member { member, depth } => {
                let mut fields: Vec<proc_macro2::Ident> =
                    (0..*depth).map(|_| format_ident!("base")).collect();
                fields.push(field(member, holder_has_base(ast, p.item_base, *depth)));
                quote! {
                    let mut v = <#base as ::std::default::Default>::default();
                    v.#(#fields).* = key;
                    Self::new(v)
                }
            }
            Key::External {
                entry, key_member, ..
            } => {
                let entry_ty = path(ast, *entry);
                let kf = field(key_member, false);
                quote! {
                    let mut e = <#entry_ty as ::std::default::Default>::default();
                    e.#kf = key;
                    Self(e)
                }
            }
        };
        quote! {
            /// An item holding only `key` (what the remove operation takes).
            #[must_use]
            pub fn keyed(key: #key_ty) -> Self {
                #body
            }
        }
    });
    let member_removed = p.ops.items_removed.as_ref().map(|op| {
        let op = m(op);
        quote! {
            async fn #op(
                &self,
                keys: ::std::vec::Vec<#key_ty>,
                _current: &::ice_proto::adapter::Current,
            ) -> ::std::result::Result<(), ::ice_proto::adapter::DispatchError> {
                if let ::std::option::Option::Some(m) = self.member() {
                    m.pushed_removed(&keys);
                }
                ::std::result::Result::Ok(())
            }
        }
    });
    let r_servant = path_with_suffix(ast, p.replicator, "Servant");
    let l_servant = path_with_suffix(ast, p.listener, "Servant");
    let rname = &rdef.name.name;
    let lname = &ldef.name.name;
    let doc_servant = format!(" The `{rname}` servant over the generic `StateReplicator`.");
    let doc_lprx = format!(" A `{lname}` proxy as a listener of the generic replicator.");
    let doc_client = format!(
        " A member's link to its replicator: a `{rname}` proxy and the member's own `{lname}` proxy."
    );
    let doc_ml = format!(" The member's `{lname}` servant: pushes feed the member's store.");

    quote! {
        #[doc = #mod_doc]
        pub mod #modname {
            #item_decl

            impl Item {
                #item_fns
                #removal_fn
                #keyed_fn
            }

            impl #c::Keyed for Item {
                type Key = #key_ty;
                #key_fn
                #is_removal
            }

            /// How long a push to one listener may take before the listener is dropped.
            pub const PUSH_TIMEOUT: ::std::time::Duration = ::std::time::Duration::from_secs(5);

            #[doc = #doc_lprx]
            #[derive(Debug, Clone)]
            pub struct ListenerProxy {
                prx: #l_prx,
                name: ::std::string::String,
                encoding: ::ice_proto::encoding::EncodingVersion,
                set_format: ::ice_proto::encoding::Format,
                removed_format: ::ice_proto::encoding::Format,
            }

            impl ListenerProxy {
                /// The listener at `proxy`, described by its stringified proxy; pushes time out after [`PUSH_TIMEOUT`].
                #[must_use]
                pub fn new(proxy: ::ice_proto::proxy::ObjectPrx) -> Self {
                    let name = proxy.communicator().proxy_to_string(&proxy);
                    let encoding = proxy.encoding();
                    let set_format = #set_format;
                    let removed_format = #removed_format;
                    let proxy = proxy.ice_invocation_timeout(::std::option::Option::Some(PUSH_TIMEOUT));
                    Self {
                        prx: #l_prx::unchecked_cast(proxy),
                        name,
                        encoding,
                        set_format,
                        removed_format,
                    }
                }
            }

            impl #c::Listener<Item> for ListenerProxy {
                async fn items_set(&self, items: &[Item]) -> ::std::result::Result<(), #c::PushError> {
                    self.prx
                        .#items_set(&Item::to_seq(items))
                        .await
                        .map_err(|e| #c::PushError { reason: e.to_string() })
                }

                async fn items_removed(&self, keys: &[#key_ty]) -> ::std::result::Result<(), #c::PushError> {
                    #push_removed.map_err(|e| #c::PushError { reason: e.to_string() })
                }

                fn describe(&self) -> ::std::string::String {
                    self.name.clone()
                }

                /// The encoding and the formats of the two pushes: listeners alike receive the same bytes.
                fn form(&self) -> ::std::option::Option<#c::Form> {
                    let sliced = |f: ::ice_proto::encoding::Format| u64::from(f == ::ice_proto::encoding::Format::Sliced);
                    ::std::option::Option::Some(#c::Form(
                        u64::from(self.encoding.major) << 24
                            | u64::from(self.encoding.minor) << 16
                            | sliced(self.set_format) << 8
                            | sliced(self.removed_format),
                    ))
                }

                /// The parameters the proxy method of the push writes.
                fn encode(&self, push: #c::Push<'_, Item>) -> #c::Encoded {
                    match push {
                        #c::Push::Set(items) => {
                            ::ice_proto::adapter::encapsulate(self.encoding, self.set_format, |ice_out| {
                                ice_out.write(&Item::to_seq(items));
                                ice_out.write_pending_classes();
                            })
                            .body
                        }
                        #c::Push::Removed(keys) => #encode_removed,
                    }
                }

                /// The request the proxy method of the push sends, with parameters already encoded.
                async fn push_encoded(&self, kind: #c::PushKind, encoded: #c::Encoded) -> ::std::result::Result<(), #c::PushError> {
                    let (operation, mode) = match kind {
                        #c::PushKind::Set => (#set_lit, #set_mode),
                        #c::PushKind::Removed => (#removed_lit, #removed_mode),
                    };
                    let params = ::ice_proto::protocol::Encapsulation { encoding: self.encoding, body: encoded };
                    let proxy = self.prx.ice_object();
                    let push = async {
                        match proxy.ice_invoke(operation, mode, params, ::std::option::Option::None).await? {
                            ::ice_proto::proxy::Outcome::Ok(results) => {
                                if proxy.is_twoway() {
                                    ::ice_proto::proxy::read_encapsulation(&results)?.end_encapsulation()?;
                                }
                                ::std::result::Result::Ok(())
                            }
                            ::ice_proto::proxy::Outcome::UserException(_) => ::std::result::Result::Err(
                                ::ice_proto::RuntimeError::UnknownUserException(::std::string::String::from("undeclared user exception")),
                            ),
                        }
                    };
                    push.await.map_err(|e: ::ice_proto::RuntimeError| #c::PushError { reason: e.to_string() })
                }
            }

            #[doc = #doc_servant]
            #[derive(Debug, Clone)]
            pub struct ReplicatorServant {
                core: #c::StateReplicator<Item>,
                communicator: ::ice_proto::communicator::Communicator,
            }

            impl ReplicatorServant {
                /// A servant over `core`; listener proxies are made with `communicator`.
                #[must_use]
                pub fn new(core: #c::StateReplicator<Item>, communicator: ::ice_proto::communicator::Communicator) -> Self {
                    Self { core, communicator }
                }

                /// The generic core.
                #[must_use]
                pub fn core(&self) -> &#c::StateReplicator<Item> {
                    &self.core
                }

                /// This servant, ready for an object adapter.
                #[must_use]
                pub fn into_dispatcher(self) -> ::std::sync::Arc<#r_servant<Self>> {
                    #r_servant::new(self)
                }
            }

            impl #r_trait for ReplicatorServant {
                async fn #add(
                    &self,
                    listener: ::std::option::Option<#l_prx>,
                    _current: &::ice_proto::adapter::Current,
                ) -> ::std::result::Result<(), ::ice_proto::adapter::DispatchError> {
                    if let ::std::option::Option::Some(l) = listener {
                        self.core.add_listener(ListenerProxy::new(l.ice_object().clone()));
                    }
                    ::std::result::Result::Ok(())
                }

                async fn #rem_l(
                    &self,
                    listener: ::std::option::Option<#l_prx>,
                    _current: &::ice_proto::adapter::Current,
                ) -> ::std::result::Result<(), ::ice_proto::adapter::DispatchError> {
                    if let ::std::option::Option::Some(l) = listener {
                        let name = self.communicator.proxy_to_string(l.ice_object());
                        self.core.remove_listener(&name);
                    }
                    ::std::result::Result::Ok(())
                }

                async fn #set(
                    &self,
                    items: #item_seq,
                    _current: &::ice_proto::adapter::Current,
                ) -> ::std::result::Result<(), ::ice_proto::adapter::DispatchError> {
                    self.core
                        .set_items(Item::from_seq(items))
                        .await
                        .map_err(|e| ::ice_proto::adapter::DispatchError::UnknownException(e.to_string()))
                }

                #servant_remove

                async fn #get(
                    &self,
                    keys: ::std::vec::Vec<#key_ty>,
                    _current: &::ice_proto::adapter::Current,
                ) -> ::std::result::Result<#item_seq, ::ice_proto::adapter::DispatchError> {
                    ::std::result::Result::Ok(Item::to_seq(&self.core.get_items(&keys)))
                }

                async fn #get_all(
                    &self,
                    _current: &::ice_proto::adapter::Current,
                ) -> ::std::result::Result<#item_seq, ::ice_proto::adapter::DispatchError> {
                    ::std::result::Result::Ok(Item::to_seq(&self.core.get_all()))
                }
            }

            #[doc = #doc_client]
            #[derive(Debug, Clone)]
            pub struct Client {
                replicator: #r_prx,
                listener: ::std::option::Option<#l_prx>,
            }

            impl Client {
                /// A client of the replicator at `replicator`, registering `listener`.
                #[must_use]
                pub fn new(replicator: ::ice_proto::proxy::ObjectPrx, listener: &::ice_proto::proxy::ObjectPrx) -> Self {
                    Self {
                        replicator: #r_prx::unchecked_cast(replicator),
                        listener: ::std::option::Option::Some(#l_prx::unchecked_cast(listener.clone())),
                    }
                }

                /// The replicator proxy.
                #[must_use]
                pub fn replicator(&self) -> &#r_prx {
                    &self.replicator
                }
            }

            impl #c::ReplicatorClient<Item> for Client {
                async fn set_items(&self, items: ::std::vec::Vec<Item>) -> ::std::result::Result<(), #c::ReplicatorError> {
                    self.replicator
                        .#set(&Item::to_seq(&items))
                        .await
                        .map_err(|e| #c::ReplicatorError { operation: #set_l, reason: e.to_string() })
                }

                async fn remove_items(&self, keys: ::std::vec::Vec<#key_ty>) -> ::std::result::Result<(), #c::ReplicatorError> {
                    #client_remove
                        .map_err(|e| #c::ReplicatorError { operation: #remove_name, reason: e.to_string() })
                }

                async fn get_all(&self) -> ::std::result::Result<::std::vec::Vec<Item>, #c::ReplicatorError> {
                    self.replicator
                        .#get_all()
                        .await
                        .map(Item::from_seq)
                        .map_err(|e| #c::ReplicatorError { operation: #get_all_l, reason: e.to_string() })
                }

                async fn add_listener(&self) -> ::std::result::Result<(), #c::ReplicatorError> {
                    self.replicator
                        .#add(self.listener.as_ref())
                        .await
                        .map_err(|e| #c::ReplicatorError { operation: #add_l, reason: e.to_string() })
                }

                async fn remove_listener(&self) -> ::std::result::Result<(), #c::ReplicatorError> {
                    self.replicator
                        .#rem_l(self.listener.as_ref())
                        .await
                        .map_err(|e| #c::ReplicatorError { operation: #rem_l_l, reason: e.to_string() })
                }
            }

            /// A replica-group member of this component over Ice.
            pub type Member = #c::Member<Item, Client>;

            /// A late-bound slot for the member: the listener servant serves before the member registers it.
            pub type MemberSlot = ::std::sync::Arc<::std::sync::Mutex<::std::option::Option<Member>>>;

            #[doc = #doc_ml]
            #[derive(Debug, Clone, Default)]
            pub struct MemberListener {
                /// The member pushes go to.
                pub slot: MemberSlot,
            }

            impl MemberListener {
                fn member(&self) -> ::std::option::Option<Member> {
                    self.slot.lock().ok().and_then(|m| m.clone())
                }

                /// This servant, ready for an object adapter.
                #[must_use]
                pub fn into_dispatcher(self) -> ::std::sync::Arc<#l_servant<Self>> {
                    #l_servant::new(self)
                }
            }

            impl #l_trait for MemberListener {
                async fn #items_set(
                    &self,
                    items: #item_seq,
                    _current: &::ice_proto::adapter::Current,
                ) -> ::std::result::Result<(), ::ice_proto::adapter::DispatchError> {
                    if let ::std::option::Option::Some(m) = self.member() {
                        m.pushed_set(&Item::from_seq(items));
                    }
                    ::std::result::Result::Ok(())
                }

                #member_removed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::PreprocessOptions;

    /// A replicator over items of class `Item` keyed by `KEYTYPE k`, with
    /// `EXTRA` inserted among its operations and `CLASSES` after `Item`.
    fn unit(key: &str, extra: &str, classes: &str, attrs: &str) -> String {
        format!(
            "module M {{
enum Color {{ Red, Green }}
sequence<{key}> Keys;
class Item {{ {key} k; }}
{classes}
sequence<Item> Items;
interface L {{ void set(Items i); void removed(Keys k); }}
{attrs}
interface R {{
  void addListener(L* l); void removeListener(L* l);
  void set(Items i); void remove(Keys k);
  idempotent Items get(Keys k); idempotent Items getAll();
  {extra}
}};
}};"
        )
    }

    /// The summaries and rendered diagnostics for a Slice text.
    fn run(text: &str, options: &Options) -> (Vec<String>, String) {
        let (sources, model) = crate::compile_str("T.ice", text, &PreprocessOptions::default());
        let model = match model {
            Ok(m) => m,
            Err(d) => return (Vec::new(), d.render(&sources)),
        };
        let (patterns, diags) = recognize(&model, options);
        (
            patterns.iter().map(|p| p.summary(&model.ast)).collect(),
            diags.render(&sources),
        )
    }

    #[test]
    fn keys_may_be_strings_integers_or_enumerations() {
        for key in ["string", "int", "long", "short", "Color"] {
            let (p, d) = run(&unit(key, "", "", ""), &Options::default());
            assert_eq!(p.len(), 1, "{key}: {d}");
            assert!(p[0].contains("key=member:k"), "{p:?}");
        }
    }

    #[test]
    fn misfits_of_a_named_interface_say_why() {
        let named = "[\"rs:replicator\"]";
        let cases = [
            (unit("double", "", "", named), "keys must be a string"),
            (
                unit("string", "void ping();", "", named),
                "operation `ping` is not part of the pattern",
            ),
            (
                unit("string", "", "", "interface B {}; [\"rs:replicator\"]")
                    .replace("interface R {", "interface R extends B {"),
                "it extends other interfaces",
            ),
        ];
        for (text, want) in cases {
            let (p, d) = run(&text, &Options::default());
            assert!(p.is_empty(), "{p:?}");
            assert!(d.contains(want), "{want}: {d}");
            assert!(d.starts_with("T.ice:"), "{d}");
        }
        // Unnamed, the same misfits are simply not replicators.
        let (p, d) = run(&unit("string", "void ping();", "", ""), &Options::default());
        assert!(p.is_empty() && d.is_empty(), "{p:?} {d}");
    }

    #[test]
    fn removal_subtypes_are_found_or_must_be_marked() {
        let no_remove = |classes: &str| {
            unit("string", "", classes, "")
                .replace("void remove(Keys k);", "")
                .replace("void removed(Keys k);", "")
        };
        let (p, d) = run(
            &no_remove("class Gone extends Item {};"),
            &Options::default(),
        );
        assert!(
            p.first().is_some_and(|p| p.ends_with("removal=::M::Gone")),
            "{p:?} {d}"
        );
        let two = "class Gone extends Item {}; class Away extends Item {};";
        let (p, d) = run(&no_remove(two), &Options::default());
        assert!(p.is_empty());
        assert!(
            d.contains("classes `Gone` and `Away` both fit the removal subtype"),
            "{d}"
        );
        let marked =
            "class Gone extends Item {}; [\"rs:replicator-removal\"] class Away extends Item {};";
        let (p, _) = run(&no_remove(marked), &Options::default());
        assert!(
            p.first().is_some_and(|p| p.ends_with("removal=::M::Away")),
            "{p:?}"
        );
        let (p, d) = run(&no_remove(""), &Options::default());
        assert!(
            p.is_empty() && d.is_empty(),
            "not a replicator without a way to remove: {d}"
        );
    }

    #[test]
    fn the_idempotent_mode_settles_two_candidates() {
        // A second `Items op()`, not idempotent: get-all is the idempotent
        // one, so `drain` is left over (no ambiguity is reported).
        let (p, d) = run(
            &unit("string", "Items drain();", "", ""),
            &Options::default(),
        );
        assert!(p.is_empty() && d.is_empty(), "{p:?} {d}");
        let named = unit("string", "Items drain();", "", "[\"rs:replicator\"]");
        let (_, d) = run(&named, &Options::default());
        assert!(
            d.contains("operation `drain` is not part of the pattern"),
            "{d}"
        );
        // Two idempotent ones remain ambiguous.
        let both = unit("string", "idempotent Items snapshot();", "", "");
        let (p, d) = run(&both, &Options::default());
        assert!(p.is_empty());
        assert!(
            d.contains("operations `getAll` and `snapshot` both fit `get-all`"),
            "{d}"
        );
    }

    #[test]
    fn names_match_with_or_without_the_leading_colons() {
        assert_eq!(norm("M::R"), "::M::R");
        assert_eq!(norm("::M::R"), "::M::R");
        let options = Options {
            interfaces: vec!["M::L".into()],
            ..Options::default()
        };
        let (_, d) = run(&unit("string", "", "", ""), &options);
        assert!(
            d.contains("interface `L` is named as a State Replicator"),
            "{d}"
        );
    }
    #[test]
    fn the_format_of_a_push_follows_the_proxy_methods_rule() {
        let text = "module M {
[\"format:sliced\"] interface S { void a(); [\"format:compact\"] void b(); [\"format:default\"] void c(); };
interface D { void a(); [\"format:sliced\"] void b(); };
};";
        let (_, model) = crate::compile_str("T.ice", text, &PreprocessOptions::default());
        let Ok(model) = model else {
            panic!("T.ice does not compile");
        };
        let formats = |name: &str| -> Vec<Option<bool>> {
            let Some(id) = model.ast.find(name).next() else {
                return Vec::new();
            };
            let def = model.ast.def(id);
            match &def.kind {
                DefKind::Interface(i) => i
                    .operations
                    .iter()
                    .map(|op| explicit_format(def, op))
                    .collect(),
                _ => Vec::new(),
            }
        };
        assert_eq!(formats("::M::S"), vec![Some(true), Some(false), None]);
        assert_eq!(formats("::M::D"), vec![None, Some(true)]);
    }
}
