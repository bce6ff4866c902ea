//! The Slice syntax tree, owned by one arena ([`Ast`]) and addressed by typed
//! ids ([`DefId`]). Every node carries a [`Span`] (file and line); doc comments
//! and metadata are kept for code generation. The parser fills the arena;
//! [`crate::resolve`] fills the `resolved` fields of type references and
//! constant values; validation only reads it.

use crate::diagnostics::{FileId, Span};

/// Index of a definition in [`Ast::defs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DefId(pub u32);

impl DefId {
    /// The index into [`Ast::defs`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An identifier as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// The name without a leading `\`.
    pub name: String,
    /// Written with a leading `\` (escaped keyword).
    pub escaped: bool,
    /// Where it was written.
    pub span: Span,
    /// The token after it, where ZeroC's compilers report some problems
    /// with the definition it names (they check on reading that token).
    pub next: Span,
}

/// A possibly scoped name such as `::Ice::Identity` or `Identity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedName {
    /// Starts with `::`.
    pub global: bool,
    /// The components.
    pub parts: Vec<String>,
    /// Where it was written.
    pub span: Span,
    /// The token after it: where ZeroC's compilers report a name that does
    /// not resolve (they look it up once they read the next token).
    pub next: Span,
}

impl std::fmt::Display for ScopedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.global {
            f.write_str("::")?;
        }
        f.write_str(&self.parts.join("::"))
    }
}

/// One `["..."]` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The directive, unquoted and unescaped.
    pub value: String,
    /// Where it was written.
    pub span: Span,
}

/// The built-in types of Slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Builtin {
    /// `bool`
    Bool,
    /// `byte`
    Byte,
    /// `short`
    Short,
    /// `int`
    Int,
    /// `long`
    Long,
    /// `float`
    Float,
    /// `double`
    Double,
    /// `string`
    String,
    /// `Object` (a class instance of any type in Ice 3.7 when used as a value)
    Object,
    /// `Object*`
    ObjectProxy,
    /// `Value`
    Value,
    /// `LocalObject`
    LocalObject,
}

impl Builtin {
    /// The Slice spelling.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Bool => "bool",
            Builtin::Byte => "byte",
            Builtin::Short => "short",
            Builtin::Int => "int",
            Builtin::Long => "long",
            Builtin::Float => "float",
            Builtin::Double => "double",
            Builtin::String => "string",
            Builtin::Object => "Object",
            Builtin::ObjectProxy => "Object*",
            Builtin::Value => "Value",
            Builtin::LocalObject => "LocalObject",
        }
    }

    /// Integral types (`byte` to `long`).
    pub fn is_integral(self) -> bool {
        matches!(
            self,
            Builtin::Byte | Builtin::Short | Builtin::Int | Builtin::Long
        )
    }

    /// Types with a fixed-size encoding or `string`: the ones a constant may have.
    pub fn is_primitive(self) -> bool {
        matches!(
            self,
            Builtin::Bool
                | Builtin::Byte
                | Builtin::Short
                | Builtin::Int
                | Builtin::Long
                | Builtin::Float
                | Builtin::Double
                | Builtin::String
        )
    }
}

/// A type as written.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeSyntax {
    /// A keyword type.
    Builtin(Builtin),
    /// A user type by name, `proxy` when followed by `*`.
    Named {
        /// The name.
        name: ScopedName,
        /// Written `T*`.
        proxy: bool,
    },
}

/// A type after resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    /// A built-in type.
    Builtin(Builtin),
    /// A user-defined type (struct, class, interface by value, enum, ...).
    Def(DefId),
    /// A proxy `T*` to a class or interface.
    Proxy(DefId),
}

/// A reference to a type, with the metadata written before it.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeRef {
    /// As written.
    pub syntax: TypeSyntax,
    /// Metadata directly before the type.
    pub metadata: Vec<Metadata>,
    /// Where it was written.
    pub span: Span,
    /// The token after it, where ZeroC's compilers report a bad type.
    pub next: Span,
    /// Filled by resolution.
    pub resolved: Option<Type>,
}

/// A tag of an optional member or parameter, `optional(N)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    /// The tag as written (an integer or the name of an integer constant).
    pub syntax: ConstExpr,
    /// The value after resolution.
    pub value: Option<i64>,
    /// Where it was written.
    pub span: Span,
}

/// A constant value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstExpr {
    /// An integer literal (sign applied), decimal, hex or octal.
    Int(i128),
    /// A floating-point literal.
    Float(f64),
    /// A string literal, escapes applied.
    String(String),
    /// `true` / `false`.
    Bool(bool),
    /// The name of a constant or enumerator.
    Name(ScopedName),
}

/// What a constant's name refers to after resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstTarget {
    /// Another constant.
    Const(DefId),
    /// An enumerator: the enum and the index of the enumerator.
    Enumerator(DefId, usize),
}

/// A value written for a constant or a default.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstValue {
    /// As written.
    pub expr: ConstExpr,
    /// The exact text written (for code generators that keep literals).
    pub literal: String,
    /// Where it was written.
    pub span: Span,
    /// For [`ConstExpr::Name`], what it refers to.
    pub target: Option<ConstTarget>,
}

/// A data member of a class, exception or struct.
#[derive(Debug, Clone, PartialEq)]
pub struct DataMember {
    /// The name.
    pub name: Ident,
    /// The type.
    pub ty: TypeRef,
    /// `optional(N)`.
    pub tag: Option<Tag>,
    /// `= value`.
    pub default: Option<ConstValue>,
    /// Metadata before the member.
    pub metadata: Vec<Metadata>,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where it starts.
    pub span: Span,
}

/// A parameter of an operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The name.
    pub name: Ident,
    /// The type.
    pub ty: TypeRef,
    /// `out` parameter.
    pub out: bool,
    /// `optional(N)`.
    pub tag: Option<Tag>,
    /// Metadata before the parameter.
    pub metadata: Vec<Metadata>,
    /// Where it starts.
    pub span: Span,
}

/// An operation of an interface or (deprecated) class.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The name.
    pub name: Ident,
    /// `None` for `void`.
    pub return_type: Option<TypeRef>,
    /// `optional(N)` on the return type.
    pub return_tag: Option<Tag>,
    /// The parameters, in order.
    pub params: Vec<Param>,
    /// `throws` list, resolved to exceptions by resolution.
    pub throws: Vec<(ScopedName, Option<DefId>)>,
    /// `idempotent`.
    pub idempotent: bool,
    /// Metadata before the operation.
    pub metadata: Vec<Metadata>,
    /// Doc comment.
    pub doc: Option<String>,
    /// Where it starts.
    pub span: Span,
}

/// An enumerator.
#[derive(Debug, Clone, PartialEq)]
pub struct Enumerator {
    /// The name.
    pub name: Ident,
    /// `= value` as written.
    pub explicit: Option<ConstValue>,
    /// The value (explicit or previous + 1), set by resolution.
    pub value: Option<i64>,
    /// Doc comment.
    pub doc: Option<String>,
    /// Metadata.
    pub metadata: Vec<Metadata>,
}

/// A class definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassDef {
    /// `(N)` compact id.
    pub compact_id: Option<ConstValue>,
    /// `extends` name and its resolution.
    pub base: Option<(ScopedName, Option<DefId>)>,
    /// Deprecated `implements` list.
    pub implements: Vec<(ScopedName, Option<DefId>)>,
    /// Data members.
    pub members: Vec<DataMember>,
    /// Deprecated class operations.
    pub operations: Vec<Operation>,
}

/// An interface definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InterfaceDef {
    /// `extends` list and resolutions.
    pub bases: Vec<(ScopedName, Option<DefId>)>,
    /// Operations.
    pub operations: Vec<Operation>,
}

/// An exception definition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExceptionDef {
    /// `extends` name and resolution.
    pub base: Option<(ScopedName, Option<DefId>)>,
    /// Data members.
    pub members: Vec<DataMember>,
}

/// What a definition is.
#[derive(Debug, Clone, PartialEq)]
pub enum DefKind {
    /// `module M { ... }`.
    Module {
        /// The definitions inside, in order.
        contents: Vec<DefId>,
    },
    /// `class C ...`.
    Class(ClassDef),
    /// `class C;`.
    ClassForward,
    /// `interface I ...`.
    Interface(InterfaceDef),
    /// `interface I;`.
    InterfaceForward,
    /// `exception E ...`.
    Exception(ExceptionDef),
    /// `struct S { ... }`.
    Struct {
        /// Data members.
        members: Vec<DataMember>,
    },
    /// `sequence<T> S;`.
    Sequence {
        /// Element type.
        element: TypeRef,
    },
    /// `dictionary<K, V> D;`.
    Dictionary {
        /// Key type.
        key: TypeRef,
        /// Value type.
        value: TypeRef,
    },
    /// `enum E { ... }`.
    Enum {
        /// Enumerators in order.
        enumerators: Vec<Enumerator>,
    },
    /// `const T N = V;`.
    Const {
        /// Declared type.
        ty: TypeRef,
        /// Value.
        value: ConstValue,
    },
}

impl DefKind {
    /// The word Ice uses for this kind in messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            DefKind::Module { .. } => "module",
            DefKind::Class(_) | DefKind::ClassForward => "class",
            DefKind::Interface(_) | DefKind::InterfaceForward => "interface",
            DefKind::Exception(_) => "exception",
            DefKind::Struct { .. } => "struct",
            DefKind::Sequence { .. } => "sequence",
            DefKind::Dictionary { .. } => "dictionary",
            DefKind::Enum { .. } => "enumeration",
            DefKind::Const { .. } => "constant",
        }
    }

    /// True for the kinds that name a type.
    pub fn is_type(&self) -> bool {
        !matches!(self, DefKind::Module { .. } | DefKind::Const { .. })
    }
}

/// One definition, of any kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// Its name.
    pub name: Ident,
    /// The enclosing module (`None` at file level).
    pub parent: Option<DefId>,
    /// Fully scoped name, `::A::B::Name`.
    pub scoped: String,
    /// `local`.
    pub local: bool,
    /// Metadata before it.
    pub metadata: Vec<Metadata>,
    /// Doc comment before it (text between `/**` and `*/`, or `///` lines).
    pub doc: Option<String>,
    /// Where the definition starts (its name's line for most kinds).
    pub span: Span,
    /// Where it ends: its closing `}` (or its name for definitions without a body).
    pub end: Span,
    /// The kind and its contents.
    pub kind: DefKind,
}

/// File metadata `[["..."]]` of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileMetadata {
    /// The file.
    pub file: FileId,
    /// The directives in order.
    pub metadata: Vec<Metadata>,
}

/// The arena of a compilation unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ast {
    /// Every definition; [`DefId`] indexes here.
    pub defs: Vec<Definition>,
    /// Definitions at file level (modules, or errors), in order.
    pub top: Vec<DefId>,
    /// File metadata, per file.
    pub file_metadata: Vec<FileMetadata>,
}

impl Ast {
    /// The definition with this id.
    ///
    /// Ids come from this arena, so this cannot be out of bounds for ids the
    /// parser made; an id from another arena gives the first definition.
    pub fn def(&self, id: DefId) -> &Definition {
        &self.defs[id.index().min(self.defs.len().saturating_sub(1))]
    }

    /// Mutable access to a definition.
    pub fn def_mut(&mut self, id: DefId) -> &mut Definition {
        let i = id.index().min(self.defs.len().saturating_sub(1));
        &mut self.defs[i]
    }

    /// Adds a definition and returns its id.
    pub fn push(&mut self, def: Definition) -> DefId {
        self.defs.push(def);
        DefId(u32::try_from(self.defs.len() - 1).unwrap_or(u32::MAX))
    }

    /// All ids, in creation order.
    pub fn ids(&self) -> impl Iterator<Item = DefId> {
        (0..self.defs.len() as u32).map(DefId)
    }

    /// The definitions with this fully scoped name (`::M::S`), in order
    /// (a reopened module or a forward declaration gives several).
    pub fn find(&self, scoped: &str) -> impl Iterator<Item = DefId> + '_ {
        let scoped = scoped.to_string();
        self.ids().filter(move |id| self.def(*id).scoped == scoped)
    }

    /// The definitions that come from `file` (a code generator emits those of
    /// the main file only).
    pub fn defs_in_file(&self, file: FileId) -> impl Iterator<Item = DefId> + '_ {
        self.ids().filter(move |id| self.def(*id).span.file == file)
    }

    /// Calls `f` on every type reference of the unit (members, parameters,
    /// return types, sequence elements, dictionary keys and values, constants).
    pub fn for_each_type_mut(&mut self, mut f: impl FnMut(&mut TypeRef)) {
        for def in &mut self.defs {
            match &mut def.kind {
                DefKind::Class(c) => {
                    c.members.iter_mut().for_each(|m| f(&mut m.ty));
                    for o in &mut c.operations {
                        o.return_type.iter_mut().for_each(&mut f);
                        o.params.iter_mut().for_each(|p| f(&mut p.ty));
                    }
                }
                DefKind::Interface(i) => {
                    for o in &mut i.operations {
                        o.return_type.iter_mut().for_each(&mut f);
                        o.params.iter_mut().for_each(|p| f(&mut p.ty));
                    }
                }
                DefKind::Exception(e) => e.members.iter_mut().for_each(|m| f(&mut m.ty)),
                DefKind::Struct { members } => members.iter_mut().for_each(|m| f(&mut m.ty)),
                DefKind::Sequence { element } => f(element),
                DefKind::Dictionary { key, value } => {
                    f(key);
                    f(value);
                }
                DefKind::Const { ty, .. } => f(ty),
                DefKind::Module { .. }
                | DefKind::ClassForward
                | DefKind::InterfaceForward
                | DefKind::Enum { .. } => {}
            }
        }
    }

    /// File metadata of a file.
    pub fn file_metadata(&self, file: FileId) -> &[Metadata] {
        self.file_metadata
            .iter()
            .find(|m| m.file == file)
            .map(|m| m.metadata.as_slice())
            .unwrap_or(&[])
    }
}
