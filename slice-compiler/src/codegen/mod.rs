//! Rust code generation: validated Slice models in, one formatted Rust
//! module tree out.
//!
//! # The mapping
//!
//! Every call generates **one module tree** for all the Slice files it is
//! given (the main files of the compiled units; definitions of files they
//! only `#include` are not generated again). Slice modules become nested
//! `pub mod`s in `snake_case`; a module reopened in several files is merged
//! into one Rust module. A reference to another Slice type is a relative
//! path (`super::super::ice::Identity`), so the tree can be `include!`d at
//! any place in a crate; a referenced type must be generated in the same
//! tree (compile the included files in the same call).
//!
//! Per-file output (`slice2rs --output-dir`, `Builder::per_file`) writes one
//! tree per Slice file instead, `<path>.rs` where `<path>` is the file's
//! path relative to the include folder holding it ([`file_relative_name`]:
//! `IceGrid/Session.rs` with `-I /usr/share/ice/slice`; the stem alone when
//! no include folder holds it). Each tree is `include!`d in a module named
//! after that path ([`file_module`]: folders and stem in `snake_case`
//! joined by `_`, `ice_grid_session`, `glacier2_session`, `ice_identity`),
//! side by side with those of its includes, so same-named files of
//! different folders (ZeroC's `Session.ice`, `Router.ice`, `Metrics.ice`)
//! coexist. A reference to a definition of an included file leaves the
//! tree into the sibling module of that file
//! (`super::super::ice_identity::ice::Identity` from module `ice` of
//! `Ice/Locator.rs`), and the root's `register_types` registers the
//! included trees' types too.
//!
//! | Slice | Rust |
//! |---|---|
//! | `bool byte short int long float double string` | `bool u8 i16 i32 i64 f32 f64 String` |
//! | `struct S` | `pub struct S` deriving `Debug, Clone, PartialEq, Default`, plus `Eq, Hash, PartialOrd, Ord` when no member is a float, class or proxy; `Encode`/`Decode` |
//! | `enum E` | a fieldless `pub enum E` with the Slice values as discriminants, `Copy`, `Ord`, `Default` (first enumerator); `Encode`/`Decode` as byte/short/int in 1.0 and size in 1.1 |
//! | `sequence<T> S` | `pub type S = Vec<T>`; `sequence<byte>` is `ice_proto::encoding::Bytes` (decoding borrows the input) |
//! | `dictionary<K, V> D` | `pub type D = BTreeMap<K, V>`: Slice keys (integers, `bool`, `string`, enums, structs and sequences of those) are always `Ord`, and ordered maps make encoding deterministic |
//! | `const T C = v` | `pub const C: T = v` (`&str` for strings) |
//! | class `C` | `pub struct C` with a `base` field holding its base class, `Value` + `ValueType` + `IsA<C>` and `IsA<B>` for each base `B`; class-typed fields are `Option<Class<C>>` (`Value` and interfaces by value: `Option<ClassRef>`) |
//! | exception `E` | `pub struct E` with a `base` field, `UserException` + `UserExceptionType`, `Display` and `std::error::Error`; with `["preserve-slice"]` (on it or a base) it has `ice_sliced_data: Option<SlicedData>`, the unknown derived slices kept on decoding (in the most-derived known type, so a copy of a base part has none) and sent again (1.1, sliced format) |
//! | `I*` proxy (as a data member, element or parameter) | `Option<IPrx>`, the generated proxy type; `Object*` is `Option<ObjectPrx>` |
//! | optional member or parameter `optional(N) T m` | `Option<T>` |
//! | `interface I` | proxy `IPrx`, servant trait `I`, dispatcher `IServant<T: I>` (see below) |
//!
//! Every type carries its Slice type id as `ICE_ID`; each module with
//! classes or exceptions has a `register_types` function adding their
//! factories to a `Registry`, and the tree root has one that registers
//! everything plus `ice_registry()`, a shared registry built once, which
//! generated proxies and dispatchers decode with. Names follow [`ident`].
//! Doc comments are carried over; items without one get a short generated
//! doc, so crates with `missing_docs` stay quiet. Local definitions are not
//! generated; metadata for other languages is ignored without a warning,
//! and unknown `["rs:..."]` metadata gets one ([`metadata`]).
//!
//! # Interfaces
//!
//! - `IPrx` wraps an `ice_proto::proxy::ObjectPrx`: `unchecked_cast`,
//!   `checked_cast` (an `ice_isA` round trip), `TypedProxy` (so `Option<IPrx>`
//!   is the Slice type `I*` anywhere: member, element, parameter; decoded
//!   proxies are bound to the communicator of the proxy or adapter that
//!   reads them), equality by proxy data, `From<IPrx>` for `ObjectPrx` and
//!   for the proxy type of each base interface, and one `async` method per
//!   operation of `I` and its bases. In-parameters are taken by reference,
//!   then `context: Option<&Context>` (the per-call context). The result is
//!   `()`, the single output, or a tuple (return value first, then the
//!   out-parameters in order); optional outputs are `Option<T>`. An
//!   `idempotent` operation is sent with mode `Idempotent`. Operations
//!   without `throws` fail with `ice_proto::RuntimeError`; others with a
//!   generated `IOpError` enum: `Runtime(RuntimeError)` plus one variant
//!   per declared exception, holding a `Thrown<Declared>`: the exception
//!   received, whole (most-derived type, members, preserved slices), in
//!   the variant of the most derived declared type it is (or derives
//!   from). `IOpError` converts into `DispatchError`, so a servant re-throws
//!   what a call received with `?`. An operation that returns data or
//!   declares exceptions fails with `RuntimeError::TwowayOnly` on a oneway,
//!   batch or datagram proxy, before anything is sent.
//! - The servant trait `I` (extending the traits of `I`'s bases) has one
//!   method per operation returning `impl Future<Output = Result<Outputs,
//!   DispatchError>> + Send`, so it is implemented with `async fn`; a user
//!   exception is returned as `Err(e.into())` or with `?`.
//! - A class with operations, or implementing interfaces (Ice 3.4-era
//!   Slice, deprecated by Ice 3.7), is also an object: besides its value
//!   struct `C` it gets the proxy `CPrx`, the servant trait `COperations`
//!   (extending the traits of its base class and interfaces) and
//!   `CServant<T>`, as an interface does; `C*` is `Option<CPrx>`.
//! - `IServant<T>(Arc<T>)` implements `ice_proto::adapter::Servant`: it
//!   decodes the parameters, calls the trait method and encodes the
//!   results, for the operations of `I` and all its bases; its type ids are
//!   the whole inheritance chain plus `::Ice::Object`, which the adapter
//!   uses for `ice_isA`/`ice_ids`.
//! - Wire order follows Ice: required parameters in order, then optional
//!   ones by tag; results are the out-parameters, then the return value,
//!   then optional outputs by tag. In encoding 1.0, class instances are
//!   flushed at the end of the encapsulation when a required parameter (or
//!   result) holds classes, as ZeroC decides (1.0 sends no optional
//!   parameters). Classes and exceptions in
//!   the encapsulation (parameters, results and user exceptions) use the
//!   format of `["format:sliced"]`/`["format:compact"]` on the operation,
//!   else on the interface, else the communicator's default
//!   (`Communicator::default_format`, sliced when `Ice.Default.SlicedFormat`
//!   is above 0, compact otherwise; `["format:default"]` asks for it
//!   explicitly), as ZeroC does; every dispatch is asynchronous, so
//!   `["amd"]` changes nothing.
//! - A proxy or servant method whose Slice signature has more than five
//!   in-parameters, or more than one output, carries
//!   `#[allow(clippy::too_many_arguments)]` / `#[allow(clippy::type_complexity)]`
//!   on that method alone: the Slice definition decides its shape. So does
//!   `#[allow(clippy::wrong_self_convention)]` on a method whose Slice name
//!   Rust would read as a conversion with another receiver (`fromX`,
//!   `intoX`, `toXMut`).
//!
//! Generated code reaches the runtime only through
//! `::ice_proto::codegen`, and uses no `use` item, so no Slice
//! name can shadow what it needs.

pub mod ident;
mod iface;
pub mod metadata;
pub mod replication;

use crate::ast::*;
use crate::diagnostics::SourceMap;
use crate::Model;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::HashSet;

/// A failure of the generator itself (never caused by valid Slice input).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The generated tokens did not parse as a Rust file.
    #[error("generated code does not parse: {message}")]
    Unparsable {
        /// The parser's message.
        message: String,
    },
}

/// The runtime path generated code uses inside a Slice module: each module
/// that needs it has `use ::ice_proto::codegen as _ice;` (Slice
/// identifiers cannot start with `_`, so no definition can take the name).
fn rt() -> TokenStream {
    quote!(_ice)
}

/// Type names that would shadow the prelude names generated code uses.
const PRELUDE: &[&str] = &[
    "Option", "Some", "None", "Result", "Ok", "Err", "Vec", "String", "Box", "Default",
];

/// Generates the module tree for the main files of `models` and returns it
/// formatted, starting with the `@generated` line.
pub fn generate(models: &[&Model], sources: &SourceMap) -> Result<String, Error> {
    generate_tree(models, sources, None)
}

/// Generates the module tree of one Slice file for per-file output
/// (`slice2rs --output-dir`, [`crate::builder::Builder::per_file`]): the
/// definitions of the files it includes are referred to in their own trees,
/// which are expected beside this one, each in the module [`file_module`]
/// names (`Ice/Identity.ice` in `mod ice_identity` with `-I` on the folder
/// holding `Ice/`); its `register_types` registers theirs too.
/// `include_dirs` are the include folders of the compilation.
pub fn generate_file(
    model: &Model,
    sources: &SourceMap,
    include_dirs: &[std::path::PathBuf],
) -> Result<String, Error> {
    generate_tree(&[model], sources, Some(include_dirs))
}

/// The path of a Slice file relative to the include folder holding it,
/// without `.ice`, one element per folder (`["IceGrid", "Session"]` for
/// `/usr/share/ice/slice/IceGrid/Session.ice` with `-I /usr/share/ice/slice`).
/// When several include folders hold it, the nearest one (shortest relative
/// path) wins; when none does, it is the file stem alone.
pub fn file_relative_name(
    file: &std::path::Path,
    include_dirs: &[std::path::PathBuf],
) -> Vec<String> {
    let canonical = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let relative = include_dirs
        .iter()
        .filter_map(|d| {
            let d = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
            canonical
                .strip_prefix(&d)
                .ok()
                .map(std::path::Path::to_path_buf)
        })
        .min_by_key(|r| r.components().count());
    let mut parts: Vec<String> = match relative {
        Some(r) => r
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect(),
        None => Vec::new(),
    };
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match parts.last_mut() {
        Some(last) => *last = stem,
        None => parts.push(stem),
    }
    parts
}

/// The Rust module a per-file tree is mounted in: the elements of
/// [`file_relative_name`] in `snake_case`, joined by `_`
/// (`IceGrid/Session.ice` -> `ice_grid_session`, `Identity.ice` in an
/// include folder itself -> `identity`).
pub fn file_module(
    file: &std::path::Path,
    include_dirs: &[std::path::PathBuf],
) -> proc_macro2::Ident {
    let joined = file_relative_name(file, include_dirs)
        .iter()
        .map(|p| {
            let m = ident::module_name(p).to_string();
            m.strip_prefix("r#").unwrap_or(&m).to_string()
        })
        .collect::<Vec<_>>()
        .join("_");
    ident::module_name(&joined)
}

/// The module of Slice file `id` of the compilation (see [`file_module`]).
fn file_module_of(
    sources: &SourceMap,
    id: crate::diagnostics::FileId,
    include_dirs: &[std::path::PathBuf],
) -> proc_macro2::Ident {
    match sources.get(id) {
        Some(f) => file_module(&f.canonical, include_dirs),
        None => ident::module_name(&file_name(sources, id)),
    }
}

/// Per-file output: the tree modules of the definitions of included files.
fn other_files(model: &Model, sources: &SourceMap, include_dirs: &[std::path::PathBuf]) -> PerFile {
    let mut other = std::collections::HashMap::new();
    let mut includes: Vec<proc_macro2::Ident> = Vec::new();
    for d in &model.ast.defs {
        if d.span.file == model.main
            || d.local
            || matches!(
                d.kind,
                DefKind::Module { .. } | DefKind::ClassForward | DefKind::InterfaceForward
            )
        {
            continue;
        }
        let m = file_module_of(sources, d.span.file, include_dirs);
        if !includes.contains(&m) {
            includes.push(m.clone());
        }
        other.insert(d.scoped.clone(), m);
    }
    // A definition of the main file wins over a same-named one elsewhere.
    for d in &model.ast.defs {
        if d.span.file == model.main {
            other.remove(&d.scoped);
        }
    }
    includes.sort();
    PerFile { other, includes }
}

/// `per_file` holds the include folders when generating per-file output.
fn generate_tree(
    models: &[&Model],
    sources: &SourceMap,
    per_file: Option<&[std::path::PathBuf]>,
) -> Result<String, Error> {
    let mut root = ModNode::default();
    let mut seen_files = HashSet::new();
    let mut names = Vec::new();
    for model in models {
        let canonical = sources.get(model.main).map(|f| f.canonical.clone());
        if !seen_files.insert(canonical) {
            continue;
        }
        names.push(file_name(sources, model.main));
        let files = per_file.map(|dirs| other_files(model, sources, dirs));
        if let Some(f) = &files {
            root.includes = f.includes.clone();
        }
        let g = Gen {
            ast: &model.ast,
            files: files.as_ref(),
        };
        for &id in &model.ast.top {
            let def = model.ast.def(id);
            if def.span.file == model.main {
                g.definition(id, &mut root, &[]);
            }
        }
    }
    let shadowed = models.iter().any(|m| {
        m.ast.defs.iter().any(|d| {
            d.span.file == m.main
                && d.kind.is_type()
                && PRELUDE.contains(&ident::type_name(&d.name.name).to_string().as_str())
        })
    });
    let mut tokens = root.into_tokens(true);
    if !shadowed {
        // No Slice type takes a prelude name: use the short names.
        tokens = shorten(tokens);
    }
    let text = format_file(tokens)?;
    Ok(format!(
        "// @generated by slice2rs from {}; do not edit.\n\n{}",
        names.join(", "),
        text
    ))
}

/// Fully qualified paths and their prelude names.
const SHORT_NAMES: &[(&[&str], &str)] = &[
    (&["std", "option", "Option", "Some"], "Some"),
    (&["std", "option", "Option", "None"], "None"),
    (&["std", "option", "Option"], "Option"),
    (&["std", "result", "Result", "Ok"], "Ok"),
    (&["std", "result", "Result", "Err"], "Err"),
    (&["std", "result", "Result"], "Result"),
    (&["std", "vec", "Vec"], "Vec"),
    (&["std", "string", "String"], "String"),
    (&["std", "default", "Default"], "Default"),
];

/// `tokens` with each fully qualified path of [`SHORT_NAMES`]
/// (`::std::option::Option`) replaced by its prelude name.
fn shorten(tokens: TokenStream) -> TokenStream {
    use proc_macro2::{Group, Ident, TokenTree};
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        if let Some((short, used)) = long_name_at(&trees[i..]) {
            out.push(TokenTree::Ident(Ident::new(short, trees[i].span())));
            i += used;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(g) => {
                let mut group = Group::new(g.delimiter(), shorten(g.stream()));
                group.set_span(g.span());
                out.push(TokenTree::Group(group));
            }
            t => out.push(t.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// The prelude name and token count of the [`SHORT_NAMES`] path starting
/// `trees`, if one does.
fn long_name_at(trees: &[proc_macro2::TokenTree]) -> Option<(&'static str, usize)> {
    use proc_macro2::TokenTree;
    let colons = |j: usize| {
        matches!(
            (trees.get(j), trees.get(j + 1)),
            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':'
        )
    };
    SHORT_NAMES.iter().find_map(|(segments, short)| {
        let mut j = 0;
        for seg in *segments {
            if !colons(j) {
                return None;
            }
            match trees.get(j + 2) {
                Some(TokenTree::Ident(id)) if id == seg => j += 3,
                _ => return None,
            }
        }
        Some((*short, j))
    })
}

fn format_file(tokens: TokenStream) -> Result<String, Error> {
    let file: syn::File = syn::parse2(tokens).map_err(|e| Error::Unparsable {
        message: e.to_string(),
    })?;
    Ok(prettyplease::unparse(&file))
}

fn file_name(sources: &SourceMap, id: crate::diagnostics::FileId) -> String {
    let display = sources.name(id);
    std::path::Path::new(display)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| display.to_string())
}

/// One Rust module being built: items in Slice order, children merged by name.
#[derive(Default)]
struct ModNode {
    slice_name: String,
    doc: Option<String>,
    items: Vec<TokenStream>,
    /// Types whose factories `register_types` adds: (is_exception, type ident).
    registered: Vec<(bool, proc_macro2::Ident)>,
    children: Vec<ModNode>,
    /// Per-file output, at the root: the tree modules of included files,
    /// whose types `register_types` registers too.
    includes: Vec<proc_macro2::Ident>,
}

impl ModNode {
    fn child(&mut self, name: &str) -> &mut ModNode {
        let i = match self.children.iter().position(|c| c.slice_name == name) {
            Some(i) => i,
            None => {
                self.children.push(ModNode {
                    slice_name: name.to_string(),
                    ..ModNode::default()
                });
                self.children.len() - 1
            }
        };
        &mut self.children[i]
    }

    fn registers_anything(&self) -> bool {
        !self.registered.is_empty() || self.children.iter().any(ModNode::registers_anything)
    }

    fn into_tokens(self, root: bool) -> TokenStream {
        let rt = if root {
            quote!(::ice_proto::codegen)
        } else {
            rt()
        };
        let mut body = TokenStream::new();
        if root || self.registers_anything() {
            let calls = self
                .children
                .iter()
                .filter(|c| c.registers_anything())
                .map(|c| {
                    let m = ident::module_name(&c.slice_name);
                    quote!(#m::register_types(registry);)
                });
            let adds = self.registered.iter().map(|(exception, ty)| {
                if *exception {
                    quote!(registry.add_exception::<#ty>();)
                } else {
                    quote!(registry.add_value::<#ty>();)
                }
            });
            let included = self
                .includes
                .iter()
                .map(|m| quote!(super::#m::register_types(registry);));
            let empty = (!self.registers_anything() && self.includes.is_empty())
                .then(|| quote!(let _ = registry;));
            let doc_text = if root {
                " Adds the factories of every class and exception of this tree to `registry`."
            } else {
                " Adds the factories of the classes and exceptions of this module and its submodules to `registry`."
            };
            body.extend(quote! {
                #[doc = #doc_text]
                pub fn register_types(registry: &mut #rt::Registry) {
                    #empty
                    #(#adds)*
                    #(#calls)*
                    #(#included)*
                }
            });
        }
        if root {
            body.extend(quote! {
                /// A registry of every class and exception of this tree, built once;
                /// generated proxies and servants decode with it.
                pub fn ice_registry() -> ::std::sync::Arc<#rt::Registry> {
                    static REGISTRY: ::std::sync::OnceLock<::std::sync::Arc<#rt::Registry>> =
                        ::std::sync::OnceLock::new();
                    REGISTRY
                        .get_or_init(|| {
                            let mut registry = #rt::Registry::new();
                            register_types(&mut registry);
                            ::std::sync::Arc::new(registry)
                        })
                        .clone()
                }
            });
        }
        for item in self.items {
            body.extend(item);
        }
        if !root && body.to_string().contains("_ice ::") {
            // A module with proxies brings their `ice_*` methods (the
            // `TypedProxy` trait) into scope for `use module::*`; in a
            // crate that never glob-imports the module the re-export is
            // unused, which is no fault of the generated code.
            let typed_proxy = body
                .to_string()
                .contains("_ice :: TypedProxy for")
                .then(|| {
                    quote!(
                        #[allow(unused_imports)]
                        pub use _ice::TypedProxy as _;
                    )
                });
            body = quote! {
                use ::ice_proto::codegen as _ice;
                #typed_proxy
                #body
            };
        }
        for child in self.children {
            let name = ident::module_name(&child.slice_name);
            let doc = doc_attrs(
                child.doc.as_deref(),
                &format!("Slice module `{}`.", child.slice_name),
            );
            let inner = child.into_tokens(false);
            body.extend(quote! {
                #doc
                pub mod #name {
                    #inner
                }
            });
        }
        body
    }
}

/// `#[doc]` attributes for a Slice doc comment, or `fallback` when none.
fn doc_attrs(doc: Option<&str>, fallback: &str) -> TokenStream {
    let text = match doc.map(str::trim) {
        Some(d) if !d.is_empty() => d.to_string(),
        _ => fallback.to_string(),
    };
    let lines = text.lines().map(|l| {
        let l = doc_markdown(l.trim());
        let l = if l.is_empty() { l } else { format!(" {l}") };
        quote!(#[doc = #l])
    });
    quote!(#(#lines)*)
}

/// A line of a Slice doc comment as Markdown rustdoc reads cleanly:
/// `{@link X#y}` becomes `` `X::y` ``, the HTML paragraphs of ZeroC's
/// comments (`<p class="Note">`, `</p>`) are dropped, and any other `<` or
/// `>` is written as an entity, so that text such as `<none>` is not taken
/// for an HTML tag.
fn doc_markdown(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{@link ") {
            if let Some(end) = after.find('}') {
                out.push('`');
                out.push_str(&after[..end].trim().replace('#', "::"));
                out.push('`');
                rest = &after[end + 1..];
                continue;
            }
        }
        if rest.starts_with("<p>") || rest.starts_with("<p ") || rest.starts_with("</p>") {
            if let Some(end) = rest.find('>') {
                rest = rest[end + 1..].trim_start();
                continue;
            }
        }
        let mut chars = rest.chars();
        match chars.next() {
            Some('<') => out.push_str("&lt;"),
            Some('>') => out.push_str("&gt;"),
            Some(c) => out.push(c),
            None => {}
        }
        rest = chars.as_str();
    }
    out
}

/// The generator over one unit's arena.
struct Gen<'a> {
    ast: &'a Ast,
    /// Per-file output: where definitions of other files live.
    files: Option<&'a PerFile>,
}

/// Per-file output: the tree module of each definition of another file
/// (by scoped name), and those modules.
struct PerFile {
    other: std::collections::HashMap<String, proc_macro2::Ident>,
    includes: Vec<proc_macro2::Ident>,
}

/// Slice module names from the root to the definition's enclosing module.
fn module_path_of(scoped: &str) -> Vec<String> {
    let parts: Vec<&str> = scoped.split("::").filter(|p| !p.is_empty()).collect();
    parts[..parts.len().saturating_sub(1)]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn has_metadata(md: &[Metadata], value: &str) -> bool {
    md.iter().any(|m| m.value == value)
}

impl<'a> Gen<'a> {
    fn definition(&self, id: DefId, parent: &mut ModNode, path: &[String]) {
        let def = self.ast.def(id);
        if def.local {
            return;
        }
        match &def.kind {
            DefKind::Module { contents } => {
                let node = parent.child(&def.name.name);
                if node.doc.is_none() {
                    node.doc = def.doc.clone();
                }
                let mut inner = path.to_vec();
                inner.push(def.name.name.clone());
                for &c in contents {
                    self.definition(c, node, &inner);
                }
            }
            DefKind::Struct { members } => parent.items.push(self.structure(def, members, path)),
            DefKind::Enum { enumerators } => parent.items.push(self.enumeration(def, enumerators)),
            DefKind::Sequence { element } => parent.items.push(self.sequence(def, element, path)),
            DefKind::Dictionary { key, value } => {
                parent.items.push(self.dictionary(def, key, value, path))
            }
            DefKind::Const { ty, value } => parent.items.push(self.constant(def, ty, value, path)),
            DefKind::Class(c) => {
                parent.items.push(self.class(id, def, c, path));
                parent
                    .registered
                    .push((false, ident::type_name(&def.name.name)));
                // Ice 3.4-era classes with operations are also objects:
                // a proxy `CPrx` and a servant trait `COperations`.
                if !def.local && self.has_service(id) {
                    parent.items.push(self.interface(id, def, path));
                }
            }
            DefKind::Exception(e) => {
                parent.items.push(self.exception(id, def, e, path));
                parent
                    .registered
                    .push((true, ident::type_name(&def.name.name)));
            }
            DefKind::Interface(_) => parent.items.push(self.interface(id, def, path)),
            // Forward declarations generate nothing.
            DefKind::InterfaceForward | DefKind::ClassForward => {}
        }
    }

    /// The relative Rust path from module `from` to the item `name` of the
    /// definition with scoped name `scoped`.
    fn path_to(&self, from: &[String], scoped: &str, name: proc_macro2::Ident) -> TokenStream {
        let target = module_path_of(scoped);
        if let Some(file) = self.files.and_then(|f| f.other.get(scoped)) {
            // Up out of this file's tree, into the other file's.
            let supers = (0..=from.len()).map(|_| quote!(super::));
            let mods = target.iter().map(|m| {
                let m = ident::module_name(m);
                quote!(#m::)
            });
            return quote!(#(#supers)* #file:: #(#mods)* #name);
        }
        let common = from
            .iter()
            .zip(target.iter())
            .take_while(|(a, b)| a == b)
            .count();
        let supers = (common..from.len()).map(|_| quote!(super::));
        let mods = target[common..].iter().map(|m| {
            let m = ident::module_name(m);
            quote!(#m::)
        });
        quote!(#(#supers)* #(#mods)* #name)
    }

    fn def_path(&self, from: &[String], id: DefId) -> TokenStream {
        let def = self.ast.def(id);
        let name = match def.kind {
            DefKind::Const { .. } => ident::const_name(&def.name.name),
            _ => ident::type_name(&def.name.name),
        };
        self.path_to(from, &def.scoped, name)
    }

    /// The Rust type of a resolved Slice type.
    fn rust_type(&self, t: Option<Type>, from: &[String]) -> TokenStream {
        let rt = rt();
        match t {
            None => quote!(()),
            Some(Type::Builtin(b)) => match b {
                Builtin::Bool => quote!(bool),
                Builtin::Byte => quote!(u8),
                Builtin::Short => quote!(i16),
                Builtin::Int => quote!(i32),
                Builtin::Long => quote!(i64),
                Builtin::Float => quote!(f32),
                Builtin::Double => quote!(f64),
                Builtin::String => quote!(::std::string::String),
                Builtin::Object | Builtin::Value => {
                    quote!(::std::option::Option<#rt::ClassRef>)
                }
                Builtin::ObjectProxy => quote!(::std::option::Option<#rt::ObjectPrx>),
                Builtin::LocalObject => quote!(()),
            },
            Some(Type::Proxy(id)) => {
                let def = self.ast.def(id);
                let prx = self.path_to(
                    from,
                    &def.scoped,
                    format_ident!("{}Prx", ident::type_name(&def.name.name)),
                );
                quote!(::std::option::Option<#prx>)
            }
            Some(Type::Def(id)) => match &self.ast.def(id).kind {
                DefKind::Class(_) | DefKind::ClassForward => {
                    let class = self.def_path(from, id);
                    quote!(::std::option::Option<#rt::Class<#class>>)
                }
                DefKind::Interface(_) | DefKind::InterfaceForward => {
                    quote!(::std::option::Option<#rt::ClassRef>)
                }
                _ => self.def_path(from, id),
            },
        }
    }

    fn rust_type_of(&self, r: &TypeRef, from: &[String]) -> TokenStream {
        self.rust_type(r.resolved, from)
    }

    /// The wire size when every value has the same size (Ice's fixed-size types).
    fn fixed_size(&self, t: Option<Type>, depth: usize) -> Option<usize> {
        if depth > 64 {
            return None;
        }
        match t? {
            Type::Builtin(b) => match b {
                Builtin::Bool | Builtin::Byte => Some(1),
                Builtin::Short => Some(2),
                Builtin::Int | Builtin::Float => Some(4),
                Builtin::Long | Builtin::Double => Some(8),
                _ => None,
            },
            Type::Proxy(_) => None,
            Type::Def(id) => match &self.ast.def(id).kind {
                DefKind::Struct { members } => members.iter().try_fold(0usize, |acc, m| {
                    Some(acc + self.fixed_size(m.ty.resolved, depth + 1)?)
                }),
                _ => None,
            },
        }
    }

    /// The least number of bytes a value takes on the wire.
    fn min_wire_size(&self, t: Option<Type>, depth: usize) -> usize {
        if depth > 64 {
            return 1;
        }
        match t {
            None => 1,
            Some(Type::Builtin(b)) => match b {
                Builtin::Short => 2,
                Builtin::Int | Builtin::Float => 4,
                Builtin::Long | Builtin::Double => 8,
                Builtin::ObjectProxy => 2,
                _ => 1,
            },
            Some(Type::Proxy(_)) => 2,
            Some(Type::Def(id)) => match &self.ast.def(id).kind {
                DefKind::Struct { members } => members
                    .iter()
                    .map(|m| self.min_wire_size(m.ty.resolved, depth + 1))
                    .sum(),
                _ => 1,
            },
        }
    }

    /// Whether values of the type can be `Eq`, `Hash` and `Ord`.
    fn is_total(&self, t: Option<Type>, depth: usize) -> bool {
        if depth > 64 {
            return true;
        }
        match t {
            None => false,
            Some(Type::Builtin(b)) => {
                b.is_integral() || matches!(b, Builtin::Bool | Builtin::String)
            }
            Some(Type::Proxy(_)) => false,
            Some(Type::Def(id)) => match &self.ast.def(id).kind {
                DefKind::Enum { .. } => true,
                DefKind::Struct { members } => members
                    .iter()
                    .all(|m| self.is_total(m.ty.resolved, depth + 1)),
                DefKind::Sequence { element } => self.is_total(element.resolved, depth + 1),
                DefKind::Dictionary { key, value } => {
                    self.is_total(key.resolved, depth + 1)
                        && self.is_total(value.resolved, depth + 1)
                }
                _ => false,
            },
        }
    }

    /// Whether the type holds class instances (Ice's `usesClasses`).
    fn uses_classes(&self, t: Option<Type>, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        match t {
            None => false,
            Some(Type::Builtin(b)) => matches!(b, Builtin::Object | Builtin::Value),
            Some(Type::Proxy(_)) => false,
            Some(Type::Def(id)) => match &self.ast.def(id).kind {
                DefKind::Class(_)
                | DefKind::ClassForward
                | DefKind::Interface(_)
                | DefKind::InterfaceForward => true,
                DefKind::Struct { members } => members
                    .iter()
                    .any(|m| self.uses_classes(m.ty.resolved, depth + 1)),
                DefKind::Sequence { element } => self.uses_classes(element.resolved, depth + 1),
                DefKind::Dictionary { key, value } => {
                    self.uses_classes(key.resolved, depth + 1)
                        || self.uses_classes(value.resolved, depth + 1)
                }
                _ => false,
            },
        }
    }

    fn type_id_const(&self, def: &Definition) -> TokenStream {
        let id = &def.scoped;
        quote! {
            /// The Slice type id.
            pub const ICE_ID: &'static str = #id;
        }
    }

    // ----- structs -------------------------------------------------------

    fn structure(&self, def: &Definition, members: &[DataMember], path: &[String]) -> TokenStream {
        let rt = rt();
        let name = ident::type_name(&def.name.name);
        let doc = doc_attrs(
            def.doc.as_deref(),
            &format!("Slice struct `{}`.", def.scoped),
        );
        let total = members.iter().all(|m| self.is_total(m.ty.resolved, 0));
        let has_defaults = members.iter().any(|m| self.explicit_default(m).is_some());
        let mut derives = vec![quote!(Debug), quote!(Clone), quote!(PartialEq)];
        if total {
            derives.extend([quote!(Eq), quote!(Hash), quote!(PartialOrd), quote!(Ord)]);
        }
        if !has_defaults {
            derives.push(quote!(Default));
        }
        let fields = self.field_decls(members, path, false);
        let names: Vec<_> = members
            .iter()
            .map(|m| ident::field_name(&m.name.name))
            .collect();
        let fixed = members.iter().try_fold(0usize, |acc, m| {
            Some(acc + self.fixed_size(m.ty.resolved, 0)?)
        });
        let min: usize = members
            .iter()
            .map(|m| self.min_wire_size(m.ty.resolved, 0))
            .sum();
        let min = Literal::usize_unsuffixed(min);
        let (fixed_tokens, format) = match fixed {
            Some(n) => {
                let n = Literal::usize_unsuffixed(n);
                (quote!(::std::option::Option::Some(#n)), quote!(VSize))
            }
            None => (quote!(::std::option::Option::None), quote!(FSize)),
        };
        let type_id = self.type_id_const(def);
        let (out, input) = if members.is_empty() {
            (quote!(_out), quote!(_input))
        } else {
            (quote!(out), quote!(input))
        };
        let default_impl = has_defaults.then(|| {
            let inits = members.iter().map(|m| {
                let f = ident::field_name(&m.name.name);
                let v = self.default_value(m, path);
                quote!(#f: #v)
            });
            quote! {
                impl ::std::default::Default for #name {
                    fn default() -> Self {
                        Self { #(#inits),* }
                    }
                }
            }
        });
        // A fixed-size struct is also read and written as a block of bytes,
        // which its sequences use (one bounds check per sequence).
        let (fixed_impl, fixed_encode, fixed_decode) = match fixed {
            Some(size) if !members.is_empty() => {
                let size = Literal::usize_unsuffixed(size);
                let mut offset = 0usize;
                let mut offsets = Vec::new();
                for m in members {
                    offsets.push(Literal::usize_unsuffixed(offset));
                    offset += self.fixed_size(m.ty.resolved, 0).unwrap_or(0);
                }
                (
                    quote! {
                        impl #rt::FixedWire for #name {
                            const WIRE_SIZE: usize = #size;
                            #[inline]
                            fn read_wire(bytes: &[u8]) -> Self {
                                Self {
                                    #(#names: #rt::FixedWire::read_wire(#rt::wire_at(bytes, #offsets)),)*
                                }
                            }
                            #[inline]
                            fn write_wire(&self, bytes: &mut [u8]) {
                                #(#rt::FixedWire::write_wire(&self.#names, #rt::wire_at_mut(bytes, #offsets));)*
                            }
                        }
                    },
                    quote! {
                        fn encode_slice(items: &[Self], out: &mut #rt::OutputStream) {
                            #rt::encode_fixed_slice(items, out);
                        }
                    },
                    quote! {
                        fn decode_vec(
                            input: &mut #rt::InputStream,
                            count: usize,
                        ) -> #rt::Result<::std::vec::Vec<Self>> {
                            #rt::decode_fixed_vec(input, count)
                        }
                    },
                )
            }
            _ => (quote!(), quote!(), quote!()),
        };
        quote! {
            #doc
            #[derive(#(#derives),*)]
            pub struct #name {
                #fields
            }

            impl #name {
                #type_id
            }

            #default_impl

            impl #rt::Encode for #name {
                const FIXED_SIZE: ::std::option::Option<usize> = #fixed_tokens;
                const OPTIONAL_FORMAT: #rt::OptionalFormat = #rt::OptionalFormat::#format;
                fn encode(&self, #out: &mut #rt::OutputStream) {
                    #(out.write(&self.#names);)*
                }
                #fixed_encode
            }

            impl #rt::Decode for #name {
                const MIN_WIRE_SIZE: usize = #min;
                const FIXED_SIZE: ::std::option::Option<usize> = #fixed_tokens;
                const OPTIONAL_FORMAT: #rt::OptionalFormat = #rt::OptionalFormat::#format;
                fn decode(#input: &mut #rt::InputStream) -> #rt::Result<Self> {
                    ::std::result::Result::Ok(Self {
                        #(#names: input.read()?,)*
                    })
                }
                #fixed_decode
            }

            #fixed_impl
        }
    }

    /// Field declarations; optional members become `Option<T>`.
    fn field_decls(
        &self,
        members: &[DataMember],
        path: &[String],
        rename_base: bool,
    ) -> TokenStream {
        let fields = members.iter().map(|m| {
            let f = member_ident(&m.name.name, rename_base);
            let ty = self.rust_type_of(&m.ty, path);
            let ty = if m.tag.is_some() {
                quote!(::std::option::Option<#ty>)
            } else {
                ty
            };
            let doc = doc_attrs(
                m.doc.as_deref(),
                &format!("Slice member `{}`.", m.name.name),
            );
            quote! {
                #doc
                pub #f: #ty,
            }
        });
        quote!(#(#fields)*)
    }

    /// The default value of a member when it differs from the Rust type's
    /// `Default` (`0`, `false`, `""`, the first enumerator): only those
    /// need a hand-written `Default` impl.
    fn explicit_default<'m>(&self, m: &'m DataMember) -> Option<&'m ConstValue> {
        let v = m.default.as_ref()?;
        if m.tag.is_some() {
            return Some(v);
        }
        let (fin, enumerator) = self.final_value(v);
        let trivial = match enumerator {
            Some((e, k)) => match &self.ast.def(e).kind {
                DefKind::Enum { enumerators } => {
                    // The first enumerator is the derived default.
                    k == 0 && !enumerators.is_empty()
                }
                _ => false,
            },
            None => match (&fin.expr, m.ty.resolved) {
                (ConstExpr::Int(0), Some(Type::Builtin(b))) => b != Builtin::Bool,
                (ConstExpr::Float(f), Some(Type::Builtin(_))) => *f == 0.0 && f.is_sign_positive(),
                (ConstExpr::Bool(false), _) => true,
                (ConstExpr::String(s), _) => s.is_empty(),
                _ => false,
            },
        };
        (!trivial).then_some(v)
    }

    /// The default value expression of a member.
    fn default_value(&self, m: &DataMember, path: &[String]) -> TokenStream {
        let Some(v) = self.explicit_default(m) else {
            return quote!(::std::default::Default::default());
        };
        let value = self.const_expr(m.ty.resolved, v, path, false);
        if m.tag.is_some() {
            quote!(::std::option::Option::Some(#value))
        } else {
            value
        }
    }

    // ----- enums ---------------------------------------------------------

    fn enumeration(&self, def: &Definition, enumerators: &[Enumerator]) -> TokenStream {
        let rt = rt();
        let name = ident::type_name(&def.name.name);
        let doc = doc_attrs(def.doc.as_deref(), &format!("Slice enum `{}`.", def.scoped));
        let mut values = Vec::new();
        let mut next = 0i64;
        for e in enumerators {
            let explicit = e
                .explicit
                .as_ref()
                .and_then(|c| match self.final_value(c).0.expr {
                    ConstExpr::Int(i) => i64::try_from(i).ok(),
                    _ => None,
                });
            let v = e.value.or(explicit).unwrap_or(next);
            values.push(v);
            next = v.saturating_add(1);
        }
        let max = values.iter().copied().max().unwrap_or(0);
        let max = i32::try_from(max).unwrap_or(i32::MAX);
        let variants = enumerators
            .iter()
            .zip(&values)
            .enumerate()
            .map(|(i, (e, v))| {
                let vn = ident::variant_name(&e.name.name);
                let doc = doc_attrs(e.doc.as_deref(), &format!("Enumerator `{}`.", e.name.name));
                let lit = Literal::i64_unsuffixed(*v);
                let default = (i == 0).then(|| quote!(#[default]));
                quote! {
                    #doc
                    #default
                    #vn = #lit,
                }
            });
        let arms_from = enumerators.iter().zip(&values).map(|(e, v)| {
            let vn = ident::variant_name(&e.name.name);
            let lit = Literal::i64_unsuffixed(*v);
            quote!(#lit => ::std::option::Option::Some(Self::#vn),)
        });
        let arms_to = enumerators.iter().zip(&values).map(|(e, v)| {
            let vn = ident::variant_name(&e.name.name);
            let lit = Literal::i64_unsuffixed(*v);
            quote!(Self::#vn => #lit,)
        });
        let derive_default = (!enumerators.is_empty()).then(|| quote!(Default,));
        let type_id = self.type_id_const(def);
        let max_lit = Literal::i32_unsuffixed(max);
        quote! {
            #doc
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, #derive_default)]
            pub enum #name {
                #(#variants)*
            }

            impl #name {
                #type_id
                /// The largest enumerator value (decides the 1.0 wire size).
                pub const MAX_VALUE: i32 = #max_lit;

                /// The enumerator with Slice value `value`, if any.
                pub fn from_value(value: i32) -> ::std::option::Option<Self> {
                    match value {
                        #(#arms_from)*
                        _ => ::std::option::Option::None,
                    }
                }

                /// The Slice value of the enumerator.
                pub fn value(self) -> i32 {
                    match self {
                        #(#arms_to)*
                    }
                }
            }

            impl #rt::Encode for #name {
                const OPTIONAL_FORMAT: #rt::OptionalFormat = #rt::OptionalFormat::Size;
                fn encode(&self, out: &mut #rt::OutputStream) {
                    out.write_enum(self.value(), Self::MAX_VALUE);
                }
            }

            impl #rt::Decode for #name {
                const OPTIONAL_FORMAT: #rt::OptionalFormat = #rt::OptionalFormat::Size;
                fn decode(input: &mut #rt::InputStream) -> #rt::Result<Self> {
                    let value = input.read_enum(Self::MAX_VALUE, Self::ICE_ID)?;
                    Self::from_value(value).ok_or(#rt::Error::InvalidEnumerator {
                        type_name: Self::ICE_ID,
                        value,
                    })
                }
            }
        }
    }

    // ----- sequences and dictionaries -------------------------------------

    fn sequence(&self, def: &Definition, element: &TypeRef, path: &[String]) -> TokenStream {
        let name = ident::type_name(&def.name.name);
        let doc = doc_attrs(
            def.doc.as_deref(),
            &format!("Slice sequence `{}`.", def.scoped),
        );
        let ty = if element.resolved == Some(Type::Builtin(Builtin::Byte)) {
            quote!(::ice_proto::encoding::Bytes)
        } else {
            let e = self.rust_type_of(element, path);
            quote!(::std::vec::Vec<#e>)
        };
        quote! {
            #doc
            pub type #name = #ty;
        }
    }

    fn dictionary(
        &self,
        def: &Definition,
        key: &TypeRef,
        value: &TypeRef,
        path: &[String],
    ) -> TokenStream {
        let name = ident::type_name(&def.name.name);
        let doc = doc_attrs(
            def.doc.as_deref(),
            &format!("Slice dictionary `{}`.", def.scoped),
        );
        let k = self.rust_type_of(key, path);
        let v = self.rust_type_of(value, path);
        quote! {
            #doc
            pub type #name = ::std::collections::BTreeMap<#k, #v>;
        }
    }

    // ----- constants -----------------------------------------------------

    fn constant(
        &self,
        def: &Definition,
        ty: &TypeRef,
        value: &ConstValue,
        path: &[String],
    ) -> TokenStream {
        let name = ident::const_name(&def.name.name);
        let doc = doc_attrs(
            def.doc.as_deref(),
            &format!("Slice constant `{}`.", def.scoped),
        );
        let rust_ty = match ty.resolved {
            Some(Type::Builtin(Builtin::String)) => quote!(&str),
            t => self.rust_type(t, path),
        };
        let v = self.const_expr(ty.resolved, value, path, true);
        quote! {
            #doc
            pub const #name: #rust_ty = #v;
        }
    }

    /// The final literal or enumerator a constant value stands for,
    /// following references to other constants.
    fn final_value<'b>(&'b self, v: &'b ConstValue) -> (&'b ConstValue, Option<(DefId, usize)>) {
        let mut cur = v;
        for _ in 0..64 {
            match cur.target {
                Some(ConstTarget::Enumerator(e, k)) => return (cur, Some((e, k))),
                Some(ConstTarget::Const(c)) => match &self.ast.def(c).kind {
                    DefKind::Const { value, .. } => cur = value,
                    _ => return (cur, None),
                },
                None => return (cur, None),
            }
        }
        (cur, None)
    }

    /// A value of type `t` as a Rust expression (`as_const`: a `&str` for strings).
    fn const_expr(
        &self,
        t: Option<Type>,
        v: &ConstValue,
        path: &[String],
        as_const: bool,
    ) -> TokenStream {
        let (v, enumerator) = self.final_value(v);
        if let Some((e, k)) = enumerator {
            let enum_def = self.ast.def(e);
            let ty = self.path_to(
                path,
                &enum_def.scoped,
                ident::type_name(&enum_def.name.name),
            );
            let variant = match &enum_def.kind {
                DefKind::Enum { enumerators } => enumerators
                    .get(k)
                    .map(|en| ident::variant_name(&en.name.name))
                    .unwrap_or_else(|| format_ident!("X")),
                _ => format_ident!("X"),
            };
            return quote!(#ty::#variant);
        }
        let b = match t {
            Some(Type::Builtin(b)) => b,
            _ => return quote!(::std::default::Default::default()),
        };
        match (&v.expr, b) {
            (ConstExpr::Bool(x), _) => quote!(#x),
            (ConstExpr::String(s), _) => {
                if as_const {
                    quote!(#s)
                } else {
                    quote!(::std::string::String::from(#s))
                }
            }
            (ConstExpr::Int(i), Builtin::Float) => float_tokens(*i as f64, true),
            (ConstExpr::Int(i), Builtin::Double) => float_tokens(*i as f64, false),
            (ConstExpr::Float(f), Builtin::Float) => float_tokens(*f, true),
            (ConstExpr::Float(f), _) => float_tokens(*f, false),
            (ConstExpr::Int(i), Builtin::Byte) => {
                let lit = Literal::u8_unsuffixed(*i as u8);
                quote!(#lit)
            }
            (ConstExpr::Int(i), Builtin::Short) => int_tokens(i128::from(*i as i16)),
            (ConstExpr::Int(i), Builtin::Int) => int_tokens(i128::from(*i as i32)),
            (ConstExpr::Int(i), _) => int_tokens(i128::from(*i as i64)),
            (ConstExpr::Name(_), _) => quote!(::std::default::Default::default()),
        }
    }

    // ----- classes -------------------------------------------------------

    fn base_of(&self, base: &Option<(ScopedName, Option<DefId>)>) -> Option<DefId> {
        base.as_ref().and_then(|(_, id)| *id)
    }

    /// The class definition of `id`, following a forward declaration.
    fn class_def(&self, id: DefId) -> Option<(DefId, &'a ClassDef)> {
        match &self.ast.def(id).kind {
            DefKind::Class(c) => Some((id, c)),
            DefKind::ClassForward => {
                let scoped = &self.ast.def(id).scoped;
                self.ast.ids().find_map(|i| match &self.ast.def(i).kind {
                    DefKind::Class(c) if &self.ast.def(i).scoped == scoped => Some((i, c)),
                    _ => None,
                })
            }
            _ => None,
        }
    }

    fn class_preserves(&self, id: DefId, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        let Some((id, c)) = self.class_def(id) else {
            return false;
        };
        has_metadata(&self.ast.def(id).metadata, "preserve-slice")
            || self
                .base_of(&c.base)
                .is_some_and(|b| self.class_preserves(b, depth + 1))
    }

    fn compact_id(&self, c: &ClassDef) -> Option<i32> {
        let v = c.compact_id.as_ref()?;
        let (v, _) = self.final_value(v);
        match v.expr {
            ConstExpr::Int(i) => i32::try_from(i).ok(),
            _ => None,
        }
    }

    /// The code that writes and reads the members of one class or exception
    /// slice: required members in order, then optional ones by tag.
    fn slice_member_code(&self, members: &[DataMember], rename: bool) -> SliceMemberCode {
        let required: Vec<&DataMember> = members.iter().filter(|m| m.tag.is_none()).collect();
        let mut optional: Vec<(i32, &DataMember)> = members
            .iter()
            .filter_map(|m| {
                let tag = m.tag.as_ref()?.value?;
                Some((i32::try_from(tag).ok()?, m))
            })
            .collect();
        optional.sort_by_key(|(t, _)| *t);
        let field = |m: &DataMember| member_ident(&m.name.name, rename);
        SliceMemberCode {
            writes: required
                .iter()
                .map(|m| {
                    let f = field(m);
                    quote!(out.write(&self.#f);)
                })
                .collect(),
            opt_writes: optional
                .iter()
                .map(|(tag, m)| {
                    let f = field(m);
                    let tag = Literal::i32_unsuffixed(*tag);
                    quote!(out.write_optional(#tag, self.#f.as_ref());)
                })
                .collect(),
            reads: required
                .iter()
                .map(|m| {
                    let f = field(m);
                    quote!(let #f = input.read()?;)
                })
                .collect(),
            opt_reads: optional
                .iter()
                .map(|(tag, m)| {
                    let f = field(m);
                    let tag = Literal::i32_unsuffixed(*tag);
                    quote!(let #f = input.read_optional(#tag)?;)
                })
                .collect(),
            fields: members.iter().map(field).collect(),
        }
    }

    fn class(&self, id: DefId, def: &Definition, c: &ClassDef, path: &[String]) -> TokenStream {
        let rt = rt();
        let name = ident::type_name(&def.name.name);
        let doc = doc_attrs(
            def.doc.as_deref(),
            &format!("Slice class `{}`.", def.scoped),
        );
        let base = self.base_of(&c.base);
        let base_ty =
            base.map(|b| self.def_path(path, self.class_def(b).map(|x| x.0).unwrap_or(b)));
        let has_defaults = c.members.iter().any(|m| self.explicit_default(m).is_some());
        let derive_default = (!has_defaults).then(|| quote!(Default));
        let base_field = base_ty.as_ref().map(|b| {
            quote! {
                /// The members of the base class.
                pub base: #b,
            }
        });
        let fields = self.field_decls(&c.members, path, base.is_some());
        let tid = &def.scoped;
        let compact = match self.compact_id(c) {
            Some(n) => {
                let n = Literal::i32_unsuffixed(n);
                quote!(::std::option::Option::Some(#n))
            }
            None => quote!(::std::option::Option::None),
        };
        let rename = base.is_some();
        let SliceMemberCode {
            writes,
            opt_writes,
            reads,
            opt_reads,
            fields: all_fields,
        } = self.slice_member_code(&c.members, rename);
        let last = base.is_none();
        let base_write = base_ty
            .as_ref()
            .map(|b| quote!(<#b as #rt::Value>::write_slices(&self.base, out);));
        let base_read = base_ty
            .as_ref()
            .map(|b| quote!(<#b as #rt::Value>::read_slices(&mut self.base, input)?;));
        let as_type = match &base_ty {
            Some(b) => quote!(<#b as #rt::Value>::as_type(&self.base, target)),
            None => quote!(::std::option::Option::None),
        };
        let as_type_mut = match &base_ty {
            Some(b) => quote!(<#b as #rt::Value>::as_type_mut(&mut self.base, target)),
            None => quote!(::std::option::Option::None),
        };
        // `Class<Derived>` converts to `Class<Base>` for every base.
        let mut is_a = vec![quote!(impl #rt::IsA<#name> for #name {})];
        let mut cur = base;
        let mut guard = 0;
        while let (Some(b), true) = (cur, guard < 64) {
            guard += 1;
            let Some((bid, bc)) = self.class_def(b) else {
                break;
            };
            let bp = self.def_path(path, bid);
            is_a.push(quote!(impl #rt::IsA<#bp> for #name {}));
            cur = self.base_of(&bc.base);
        }
        let preserve = self.class_preserves(id, 0);
        let default_impl = has_defaults.then(|| {
            let base_init = base_ty
                .as_ref()
                .map(|_| quote!(base: ::std::default::Default::default(),));
            let inits = c.members.iter().map(|m| {
                let f = member_ident(&m.name.name, rename);
                let v = self.default_value(m, path);
                quote!(#f: #v,)
            });
            quote! {
                impl ::std::default::Default for #name {
                    fn default() -> Self {
                        Self { #base_init #(#inits)* }
                    }
                }
            }
        });
        quote! {
            #doc
            #[derive(Debug, Clone, PartialEq, #derive_default)]
            pub struct #name {
                #base_field
                #fields
            }

            impl #name {
                /// The Slice type id.
                pub const ICE_ID: &'static str = #tid;
            }

            #default_impl

            impl #rt::Value for #name {
                fn ice_id(&self) -> &str {
                    Self::ICE_ID
                }
                fn write_slices(&self, out: &mut #rt::OutputStream) {
                    out.start_slice(Self::ICE_ID, <Self as #rt::ValueType>::COMPACT_ID, #last);
                    #(#writes)*
                    #(#opt_writes)*
                    out.end_slice();
                    #base_write
                }
                fn read_slices(&mut self, input: &mut #rt::InputStream) -> #rt::Result<()> {
                    input.start_slice()?;
                    #(#reads)*
                    #(#opt_reads)*
                    input.end_slice()?;
                    #(self.#all_fields = #all_fields;)*
                    #base_read
                    ::std::result::Result::Ok(())
                }
                fn as_type(&self, target: ::std::any::TypeId) -> ::std::option::Option<&dyn ::std::any::Any> {
                    if target == ::std::any::TypeId::of::<Self>() {
                        return ::std::option::Option::Some(self);
                    }
                    #as_type
                }
                fn as_type_mut(&mut self, target: ::std::any::TypeId) -> ::std::option::Option<&mut dyn ::std::any::Any> {
                    if target == ::std::any::TypeId::of::<Self>() {
                        return ::std::option::Option::Some(self);
                    }
                    #as_type_mut
                }
                fn preserves_slices(&self) -> bool {
                    #preserve
                }
                fn eq_value(&self, other: &dyn #rt::Value) -> bool {
                    other.ice_id() == self.ice_id() && other.downcast_ref::<Self>() == ::std::option::Option::Some(self)
                }
            }

            impl #rt::ValueType for #name {
                const TYPE_ID: &'static str = #tid;
                const COMPACT_ID: ::std::option::Option<i32> = #compact;
            }

            #(#is_a)*
        }
    }

    // ----- exceptions ----------------------------------------------------

    fn exception_uses_classes(&self, id: DefId, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        let DefKind::Exception(e) = &self.ast.def(id).kind else {
            return false;
        };
        e.members
            .iter()
            .any(|m| self.uses_classes(m.ty.resolved, 0))
            || self
                .base_of(&e.base)
                .is_some_and(|b| self.exception_uses_classes(b, depth + 1))
    }

    fn exception_preserves(&self, id: DefId, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        let DefKind::Exception(e) = &self.ast.def(id).kind else {
            return false;
        };
        has_metadata(&self.ast.def(id).metadata, "preserve-slice")
            || self
                .base_of(&e.base)
                .is_some_and(|b| self.exception_preserves(b, depth + 1))
    }

    fn exception(
        &self,
        id: DefId,
        def: &Definition,
        e: &ExceptionDef,
        path: &[String],
    ) -> TokenStream {
        let rt = rt();
        let name = ident::type_name(&def.name.name);
        let doc = doc_attrs(
            def.doc.as_deref(),
            &format!("Slice exception `{}`.", def.scoped),
        );
        let base = self.base_of(&e.base);
        let base_ty = base.map(|b| self.def_path(path, b));
        let has_defaults = e.members.iter().any(|m| self.explicit_default(m).is_some());
        let derive_default = (!has_defaults).then(|| quote!(Default));
        let base_field = base_ty.as_ref().map(|b| {
            quote! {
                /// The members of the base exception.
                pub base: #b,
            }
        });
        let rename = base.is_some();
        let fields = self.field_decls(&e.members, path, rename);
        // `["preserve-slice"]`: every exception of a preserving chain has
        // its own field, and the decoder fills the one of the most-derived
        // type it knows; a copy of a base part (a handler catching the
        // base) then carries no slices that expect the derived part after
        // them. (Slice reserves names starting with `ice`, so no member
        // can clash with the field.)
        let holds_slices = self.exception_preserves(id, 0);
        let sliced_field = holds_slices.then(|| {
            quote! {
                /// Unknown derived slices kept when this exception was decoded
                /// (`["preserve-slice"]`), sent again in front of its own.
                pub ice_sliced_data: ::std::option::Option<#rt::SlicedData>,
            }
        });
        let preserve_methods = if holds_slices {
            quote! {
                fn preserves_slices(&self) -> bool {
                    true
                }
                fn sliced_data(&self) -> ::std::option::Option<&#rt::SlicedData> {
                    self.ice_sliced_data.as_ref()
                }
                fn set_sliced_data(&mut self, data: #rt::SlicedData) {
                    self.ice_sliced_data = ::std::option::Option::Some(data);
                }
            }
        } else {
            TokenStream::new()
        };
        let tid = &def.scoped;
        let SliceMemberCode {
            writes,
            opt_writes,
            reads,
            opt_reads,
            fields: all_fields,
        } = self.slice_member_code(&e.members, rename);
        let last = base.is_none();
        let base_write = base_ty
            .as_ref()
            .map(|b| quote!(<#b as #rt::UserException>::write_slices(&self.base, out);));
        let base_read = base_ty
            .as_ref()
            .map(|b| quote!(base: <#b as #rt::UserExceptionType>::read_slices(input)?,));
        let as_type = match &base_ty {
            Some(b) => quote!(<#b as #rt::UserException>::as_type(&self.base, target)),
            None => quote!(::std::option::Option::None),
        };
        let uses_classes = self.exception_uses_classes(id, 0);
        let sliced_init =
            holds_slices.then(|| quote!(ice_sliced_data: ::std::option::Option::None,));
        let default_impl = has_defaults.then(|| {
            let base_init = base_ty
                .as_ref()
                .map(|_| quote!(base: ::std::default::Default::default(),));
            let inits = e.members.iter().map(|m| {
                let f = member_ident(&m.name.name, rename);
                let v = self.default_value(m, path);
                quote!(#f: #v,)
            });
            quote! {
                impl ::std::default::Default for #name {
                    fn default() -> Self {
                        Self { #base_init #(#inits)* #sliced_init }
                    }
                }
            }
        });
        quote! {
            #doc
            #[derive(Debug, Clone, PartialEq, #derive_default)]
            pub struct #name {
                #base_field
                #fields
                #sliced_field
            }

            impl #name {
                /// The Slice type id.
                pub const ICE_ID: &'static str = #tid;
            }

            #default_impl

            impl ::std::fmt::Display for #name {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.write_str(Self::ICE_ID)
                }
            }

            impl ::std::error::Error for #name {}

            impl #rt::UserException for #name {
                fn ice_id(&self) -> &str {
                    Self::ICE_ID
                }
                fn clone_box(&self) -> ::std::boxed::Box<dyn #rt::UserException> {
                    ::std::boxed::Box::new(::std::clone::Clone::clone(self))
                }
                fn write_slices(&self, out: &mut #rt::OutputStream) {
                    out.start_slice(Self::ICE_ID, ::std::option::Option::None, #last);
                    #(#writes)*
                    #(#opt_writes)*
                    out.end_slice();
                    #base_write
                }
                fn uses_classes(&self) -> bool {
                    #uses_classes
                }
                fn as_type(&self, target: ::std::any::TypeId) -> ::std::option::Option<&dyn ::std::any::Any> {
                    if target == ::std::any::TypeId::of::<Self>() {
                        return ::std::option::Option::Some(self);
                    }
                    #as_type
                }
                #preserve_methods
            }

            impl #rt::UserExceptionType for #name {
                const TYPE_ID: &'static str = #tid;
                fn read_slices(input: &mut #rt::InputStream) -> #rt::Result<Self> {
                    input.start_slice()?;
                    #(#reads)*
                    #(#opt_reads)*
                    input.end_slice()?;
                    ::std::result::Result::Ok(Self {
                        #base_read
                        #(#all_fields,)*
                        #sliced_init
                    })
                }
            }
        }
    }
}

/// The generated statements for the members of one slice, see
/// `slice_member_code`.
struct SliceMemberCode {
    writes: Vec<TokenStream>,
    opt_writes: Vec<TokenStream>,
    reads: Vec<TokenStream>,
    opt_reads: Vec<TokenStream>,
    fields: Vec<proc_macro2::Ident>,
}

/// A member's field name; in a derived class or exception a member called
/// `base` becomes `base_` so it cannot clash with the base field.
fn member_ident(name: &str, rename_base: bool) -> proc_macro2::Ident {
    let f = ident::field_name(name);
    if rename_base && f == "base" {
        format_ident!("base_")
    } else {
        f
    }
}

fn int_tokens(v: i128) -> TokenStream {
    let lit = Literal::u128_unsuffixed(v.unsigned_abs());
    if v < 0 {
        quote!(-#lit)
    } else {
        quote!(#lit)
    }
}

fn float_tokens(v: f64, single: bool) -> TokenStream {
    let (abs, neg) = (v.abs(), v < 0.0);
    let body = if single {
        let f = abs as f32;
        if f.is_finite() {
            let lit = Literal::f32_unsuffixed(f);
            quote!(#lit)
        } else {
            quote!(f32::INFINITY)
        }
    } else if abs.is_finite() {
        let lit = Literal::f64_unsuffixed(abs);
        quote!(#lit)
    } else if abs.is_nan() {
        quote!(f64::NAN)
    } else {
        quote!(f64::INFINITY)
    };
    if neg {
        quote!(-#body)
    } else {
        body
    }
}

/// Why [`write_per_file`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Generation failed.
    #[error(transparent)]
    Codegen(#[from] Error),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Two input files would be mounted as the same module.
    #[error("{first} and {second} would both be mounted as module `{module}` (give the include folder that tells them apart with -I)")]
    SameModule {
        /// The first file.
        first: std::path::PathBuf,
        /// The second file.
        second: std::path::PathBuf,
        /// The module name they share.
        module: String,
    },
}

/// The file [`write_per_file`] writes for Slice file `file`, relative to the
/// output folder: [`file_relative_name`] with `.rs` (`IceGrid/Session.rs`).
pub fn per_file_output(
    file: &std::path::Path,
    include_dirs: &[std::path::PathBuf],
) -> std::path::PathBuf {
    let mut path: std::path::PathBuf = file_relative_name(file, include_dirs).iter().collect();
    path.set_extension("rs");
    path
}

/// `slice2rs --output-dir DIR`: writes `DIR/<relative path>.rs` for each
/// input file ([`per_file_output`]: the path relative to the include folder
/// holding the file, or the stem alone), holding the module tree of that
/// file's definitions (written only when the content changed), as
/// [`generate_file`] makes it: include each in the module [`file_module`]
/// names (`mod ice_grid_session { include!(".../IceGrid/Session.rs"); }`),
/// side by side with the trees of the files it includes. Two distinct input
/// files with the same module are refused before anything is written.
pub fn write_per_file(
    c: &crate::Compilation,
    files: &[std::path::PathBuf],
    include_dirs: &[std::path::PathBuf],
    dir: &std::path::Path,
) -> Result<Vec<std::path::PathBuf>, WriteError> {
    let mut modules: std::collections::HashMap<String, (&std::path::PathBuf, std::path::PathBuf)> =
        std::collections::HashMap::new();
    for f in files {
        let module = file_module(f, include_dirs).to_string();
        let canonical = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        match modules.get(&module) {
            Some((first, c)) if *c != canonical => {
                return Err(WriteError::SameModule {
                    first: (*first).clone(),
                    second: f.clone(),
                    module,
                })
            }
            Some(_) => {}
            None => {
                modules.insert(module, (f, canonical));
            }
        }
    }
    let jobs: Vec<(&std::path::PathBuf, &Model)> = files
        .iter()
        .zip(&c.units)
        .filter_map(|(f, u)| u.as_ref().ok().map(|m| (f, m)))
        .collect();
    // Files are generated independently: on every core, in turns.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, jobs.len().max(1));
    let mut codes: Vec<Option<Result<String, Error>>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let jobs = &jobs;
                scope.spawn(move || {
                    (w..jobs.len())
                        .step_by(workers)
                        .map(|i| (i, generate_file(jobs[i].1, &c.sources, include_dirs)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            // A panicking generator is a bug; its files are reported missing below.
            if let Ok(done) = h.join() {
                for (i, code) in done {
                    codes[i] = Some(code);
                }
            }
        }
    });
    let mut written = Vec::new();
    for ((file, _), code) in jobs.iter().zip(codes) {
        let code = code.ok_or_else(|| Error::Unparsable {
            message: format!("no code was generated for {}", file.display()),
        })??;
        let path = dir.join(per_file_output(file, include_dirs));
        let unchanged = std::fs::read(&path).is_ok_and(|old| old == code.as_bytes());
        if !unchanged {
            let io = |source| WriteError::Io {
                path: path.clone(),
                source,
            };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::write(&path, &code).map_err(io)?;
        }
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::PreprocessOptions;

    /// Generates code for one in-memory Slice file.
    fn gen(slice: &str) -> String {
        let (sources, model) = crate::compile_str("T.ice", slice, &PreprocessOptions::default());
        let model = match model {
            Ok(m) => m,
            Err(d) => panic!("{}", d.render(&sources)),
        };
        match generate(&[&model], &sources) {
            Ok(code) => code,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn per_file_modules_follow_the_path_under_the_include_folder() {
        use std::path::PathBuf;
        let root = PathBuf::from("/nowhere/slice");
        let table: [(&str, Vec<PathBuf>, &str, &str); 5] = [
            (
                "IceGrid/Session.ice",
                vec![root.clone()],
                "ice_grid_session",
                "IceGrid/Session.rs",
            ),
            (
                "Glacier2/Session.ice",
                vec![root.clone()],
                "glacier2_session",
                "Glacier2/Session.rs",
            ),
            (
                "AsteriskSCF/System/Component/ReplicaIf.ice",
                vec![root.clone()],
                "asterisk_scf_system_component_replica_if",
                "AsteriskSCF/System/Component/ReplicaIf.rs",
            ),
            // The nearest include folder wins.
            (
                "IceGrid/Session.ice",
                vec![root.clone(), root.join("IceGrid")],
                "session",
                "Session.rs",
            ),
            // No include folder holds it: the stem.
            (
                "Ice/Identity.ice",
                vec![PathBuf::from("/elsewhere")],
                "identity",
                "Identity.rs",
            ),
        ];
        for (file, dirs, module, output) in table {
            let path = root.join(file);
            assert_eq!(file_module(&path, &dirs).to_string(), module, "{file}");
            assert_eq!(
                per_file_output(&path, &dirs),
                PathBuf::from(output),
                "{file}"
            );
        }
    }

    #[test]
    fn derives_follow_the_member_types() {
        let table = [
            (
                "struct S { int a; string b; }",
                "Eq, Hash, PartialOrd, Ord, Default",
            ),
            (
                "struct S { double d; }",
                "#[derive(Debug, Clone, PartialEq, Default)]",
            ),
            (
                "struct S { Object* p; }",
                "#[derive(Debug, Clone, PartialEq, Default)]",
            ),
            (
                "class C {} struct S { C c; }",
                "#[derive(Debug, Clone, PartialEq, Default)]",
            ),
        ];
        for (body, want) in table {
            let code = gen(&format!("module M {{ {body} }}"));
            assert!(code.contains(want), "{body}: no `{want}` in\n{code}");
        }
    }

    #[test]
    fn defaults_equal_to_rust_defaults_keep_the_derive() {
        let code = gen("module M { enum E { A, B } struct S { int i = 0; bool b = false; string s = \"\"; E e = A; } }");
        assert!(code.contains("Ord, Default)]"), "{code}");
        assert!(!code.contains("impl Default for S"), "{code}");
        let code = gen("module M { enum E { A, B } struct S { E e = B; } }");
        assert!(code.contains("impl Default for S"), "{code}");
        assert!(code.contains("e: E::B"), "{code}");
    }

    #[test]
    fn enum_values_and_wire_limits() {
        let code = gen("module M { enum E { A = 3, B, C = 200 } }");
        for want in ["A = 3,", "B = 4,", "C = 200,", "MAX_VALUE: i32 = 200"] {
            assert!(code.contains(want), "no `{want}` in\n{code}");
        }
    }

    #[test]
    fn local_definitions_are_not_generated() {
        let code = gen("module M { local struct L { int a; } struct S { int a; } }");
        assert!(!code.contains("pub struct L"), "{code}");
        assert!(code.contains("pub struct S"), "{code}");
    }

    #[test]
    fn references_across_modules_are_relative() {
        let code = gen(
            "module A { struct P { int x; } } module B { module C { struct Q { ::A::P p; } } }",
        );
        assert!(code.contains("pub p: super::super::a::P"), "{code}");
    }

    #[test]
    fn slice_doc_markup_becomes_markdown() {
        assert_eq!(
            doc_markdown("<p class=\"Note\">See {@link Locator#findAdapterById}.</p>"),
            "See `Locator::findAdapterById`."
        );
        assert_eq!(
            doc_markdown("or \"<none>\" if a<b"),
            "or \"&lt;none&gt;\" if a&lt;b"
        );
        assert_eq!(doc_markdown("<pre>x</pre>"), "&lt;pre&gt;x&lt;/pre&gt;");
        assert_eq!(doc_markdown("{@link broken"), "{@link broken");
    }

    #[test]
    fn idempotent_operations_use_the_idempotent_mode() {
        let code = gen("module M { interface I { idempotent void a(); void b(); } }");
        // Proxy and dispatcher tell the runtime the mode with the name.
        let flat: String = code.split_whitespace().collect();
        assert_eq!(
            flat.matches("_ice::Op::new(\"a\",super::ice_registry).idempotent()")
                .count(),
            2,
            "{code}"
        );
        assert_eq!(flat.matches("idempotent()").count(), 2, "{code}");
    }
}
