//! Class instances in encodings 1.0 and 1.1.
//!
//! # The mapping: one generic handle, [`ClassRef`]
//!
//! A Slice class maps to a plain Rust struct that holds its base class as a
//! field named `base` (composition, not a flat copy of inherited members)
//! and implements [`Value`] and [`ValueType`]. Any class-typed field,
//! sequence element or parameter is an `Option<ClassRef>` (`None` is Slice's
//! null). `ClassRef` is an `Arc` around a [`OnceLock`] slot holding the
//! boxed value, and answers "is this a `Derived`?" with
//! [`ClassRef::downcast_ref`], which walks the `base` chain through
//! [`Value::as_type`], so a `MoreDerived` borrows as a `Derived` too.
//!
//! Why this shape:
//! - `Send + Sync`: `Arc` + `OnceLock` + `Box<dyn Value + Send + Sync>`.
//! - Shared instances: two references to one instance are two clones of one
//!   `Arc` ([`ClassRef::ptr_eq`]).
//! - Cycles: the decoder creates the handle (empty) as soon as an instance id
//!   is known and hands clones of it to whoever references the id, then
//!   fills the slot once the instance's members are read. The slot is the
//!   only interior mutability, written once. No patch lists are needed: in
//!   1.1 the indirection table of a sliced-format slice is read before the
//!   slice's body (the slice size says where it is, and a sliced-format body
//!   never holds inline instances, so instance ids come out in the same
//!   order as ZeroC's reader assigns them). Cycles made of `Arc`s are never
//!   freed, like `shared_ptr` cycles in ZeroC's C++11 mapping.
//! - Slicing: the [`Registry`] maps type ids (and compact ids) to factories;
//!   unknown slices are skipped until a known type is found, and kept in
//!   [`SlicedData`] when the value asks for it ([`Value::preserves_slices`],
//!   Slice's `["preserve-slice"]`). A value none of whose slices is known
//!   becomes an [`UnknownSlicedValue`] (1.1 sliced format only, as in Ice).
//! - Bounded: nested instances count against a depth limit
//!   ([`InputStream::with_max_depth`]), so input cannot exhaust the stack.
//!
//! A handle left empty (built with [`ClassRef::pending`] and never set) is
//! written as null.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::error::{Error, Result};
use super::exception::UserException;
use super::{Decode, Encode, Format, InputStream, OptionalFormat, OutputStream};

/// Slice flag: the type id is a string.
pub(crate) const FLAG_HAS_TYPE_ID_STRING: u8 = 1;
/// Slice flag: the type id is an index into the type-id table.
pub(crate) const FLAG_HAS_TYPE_ID_INDEX: u8 = 2;
/// Slice flag: the type id is a compact id (both bits).
pub(crate) const FLAG_HAS_TYPE_ID_COMPACT: u8 = 3;
/// Slice flag: optional members follow the required ones.
pub(crate) const FLAG_HAS_OPTIONAL_MEMBERS: u8 = 4;
/// Slice flag: an indirection table follows the slice.
pub(crate) const FLAG_HAS_INDIRECTION_TABLE: u8 = 8;
/// Slice flag: the slice carries its size.
pub(crate) const FLAG_HAS_SLICE_SIZE: u8 = 16;
/// Slice flag: this is the last (least derived) slice.
pub(crate) const FLAG_IS_LAST_SLICE: u8 = 32;

/// Whether compact type ids are written (ZeroC's C++ 3.7 never writes them).
const WRITE_COMPACT_IDS: bool = false;

/// The type id ending every instance in encoding 1.0.
pub const OBJECT_TYPE_ID: &str = "::Ice::Object";

/// A class instance: what generated class structs implement.
pub trait Value: Any + Send + Sync + fmt::Debug {
    /// The most-derived Slice type id, e.g. `::Golden::Derived`.
    fn ice_id(&self) -> &str;

    /// Writes every slice of the value, most derived first: for each
    /// class, [`OutputStream::start_slice`], its members, its optional
    /// members by tag, [`OutputStream::end_slice`].
    fn write_slices(&self, out: &mut OutputStream);

    /// Borrows the value as the type `target` if it is that type or one of
    /// its bases (walks the `base` fields).
    fn as_type(&self, target: TypeId) -> Option<&dyn Any>;

    /// Whether unknown derived slices are kept and written back
    /// (`["preserve-slice"]` on the class or a base).
    fn preserves_slices(&self) -> bool {
        false
    }

    /// Deep equality with another value (generated code compares fields).
    fn eq_value(&self, other: &dyn Value) -> bool {
        let _ = other;
        false
    }
}

impl dyn Value {
    /// Borrows the value as `T` (its own type or a base class).
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.as_type(TypeId::of::<T>())?.downcast_ref::<T>()
    }
}

/// A class type that can be created from the wire.
pub trait ValueType: Value + Sized {
    /// The Slice type id.
    const TYPE_ID: &'static str;
    /// The compact id (`class K(7)`), if any.
    const COMPACT_ID: Option<i32> = None;

    /// Reads the slices of this class and its bases, starting each with
    /// [`InputStream::start_slice`] and ending with [`InputStream::end_slice`].
    fn read_slices(input: &mut InputStream) -> Result<Self>;
}

/// One slice the receiver did not know, kept for writing back.
#[derive(Debug, Clone, PartialEq)]
pub struct SliceInfo {
    /// The slice's type id (empty when sent as a compact id).
    pub type_id: String,
    /// The compact id, if sent as one.
    pub compact_id: Option<i32>,
    /// The slice body (without the optional end marker).
    pub bytes: Bytes,
    /// Whether the body ends with optional members.
    pub has_optional_members: bool,
    /// Whether this was the last slice.
    pub is_last_slice: bool,
    /// The slice's indirection table.
    pub instances: Vec<ClassRef>,
}

/// The unknown slices of a value or exception, most derived first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlicedData {
    /// The slices.
    pub slices: Vec<SliceInfo>,
}

/// A value of a type none of whose slices the receiver knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSlicedValue {
    /// The most-derived type id on the wire.
    pub type_id: String,
}

impl Value for UnknownSlicedValue {
    fn ice_id(&self) -> &str {
        &self.type_id
    }
    fn write_slices(&self, _out: &mut OutputStream) {}
    fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
        (target == TypeId::of::<Self>()).then_some(self as &dyn Any)
    }
    fn preserves_slices(&self) -> bool {
        true
    }
    fn eq_value(&self, other: &dyn Value) -> bool {
        other.downcast_ref::<Self>() == Some(self)
    }
}

struct Instance {
    value: Box<dyn Value>,
    sliced: Option<SlicedData>,
}

/// A shared, possibly cyclic reference to a class instance.
#[derive(Clone)]
pub struct ClassRef(Arc<OnceLock<Instance>>);

impl ClassRef {
    /// A reference to a new instance holding `value`.
    pub fn new<V: Value>(value: V) -> Self {
        Self::from_box(Box::new(value), None)
    }

    fn from_box(value: Box<dyn Value>, sliced: Option<SlicedData>) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Instance { value, sliced });
        Self(Arc::new(cell))
    }

    /// A reference whose value is set later with [`ClassRef::set`] (to
    /// build cycles).
    pub fn pending() -> Self {
        Self(Arc::new(OnceLock::new()))
    }

    /// Sets the value of a pending reference; false if it was already set.
    pub fn set<V: Value>(&self, value: V) -> bool {
        self.fill(Box::new(value), None)
    }

    fn fill(&self, value: Box<dyn Value>, sliced: Option<SlicedData>) -> bool {
        self.0.set(Instance { value, sliced }).is_ok()
    }

    /// The value, unless the reference is still pending.
    pub fn get(&self) -> Option<&dyn Value> {
        self.0.get().map(|i| i.value.as_ref())
    }

    /// Borrows the value as `T` (its own class or any base).
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.get()?.downcast_ref::<T>()
    }

    /// Whether the value is a `T` (or derives from `T`).
    pub fn is<T: Any>(&self) -> bool {
        self.downcast_ref::<T>().is_some()
    }

    /// The most-derived type id of the value.
    pub fn ice_id(&self) -> Option<&str> {
        self.get().map(|v| v.ice_id())
    }

    /// The unknown slices kept when the value was decoded.
    pub fn sliced_data(&self) -> Option<&SlicedData> {
        self.0.get().and_then(|i| i.sliced.as_ref())
    }

    /// Whether two references designate the same instance.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    fn key(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

thread_local! {
    static IN_PROGRESS: RefCell<Vec<(usize, usize)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` unless the pair `(a, b)` is already being visited (a cycle).
fn guarded(a: usize, b: usize, on_cycle: bool, f: impl FnOnce() -> bool) -> bool {
    let seen = IN_PROGRESS.with(|s| s.borrow().contains(&(a, b)));
    if seen {
        return on_cycle;
    }
    IN_PROGRESS.with(|s| s.borrow_mut().push((a, b)));
    let r = f();
    IN_PROGRESS.with(|s| {
        s.borrow_mut().pop();
    });
    r
}

/// Deep equality; cycles compare equal when they line up.
impl PartialEq for ClassRef {
    fn eq(&self, other: &Self) -> bool {
        if Self::ptr_eq(self, other) {
            return true;
        }
        match (self.get(), other.get()) {
            (Some(a), Some(b)) => guarded(self.key(), other.key(), true, || a.eq_value(b)),
            (None, None) => true,
            _ => false,
        }
    }
}

impl fmt::Debug for ClassRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.key();
        let mut result = Ok(());
        let entered = guarded(k, 0, false, || {
            result = match self.get() {
                Some(v) => v.fmt(f),
                None => f.write_str("<pending>"),
            };
            true
        });
        if !entered {
            return write!(f, "<cycle to {}>", self.ice_id().unwrap_or("?"));
        }
        result
    }
}

/// A function reading one class's slices into a boxed value.
pub type ValueFactory = fn(&mut InputStream) -> Result<Box<dyn Value>>;
/// A function reading one exception's slices into a boxed exception.
pub type ExceptionFactory = fn(&mut InputStream) -> Result<Box<dyn UserException>>;

fn value_factory<T: ValueType>(input: &mut InputStream) -> Result<Box<dyn Value>> {
    Ok(Box::new(T::read_slices(input)?))
}

fn exception_factory<T: super::UserExceptionType>(
    input: &mut InputStream,
) -> Result<Box<dyn UserException>> {
    Ok(Box::new(T::read_slices(input)?))
}

/// The classes and exceptions a stream can create, by type id and compact id.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    values: HashMap<String, ValueFactory>,
    compact: HashMap<i32, &'static str>,
    exceptions: HashMap<String, ExceptionFactory>,
}

impl Registry {
    /// A registry knowing nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared empty registry.
    pub fn empty() -> Arc<Self> {
        static EMPTY: OnceLock<Arc<Registry>> = OnceLock::new();
        EMPTY.get_or_init(|| Arc::new(Registry::default())).clone()
    }

    /// Registers class `T`.
    pub fn add_value<T: ValueType>(&mut self) -> &mut Self {
        self.values
            .insert(T::TYPE_ID.to_owned(), value_factory::<T> as ValueFactory);
        if let Some(c) = T::COMPACT_ID {
            self.compact.insert(c, T::TYPE_ID);
        }
        self
    }

    /// Registers user exception `T`.
    pub fn add_exception<T: super::UserExceptionType>(&mut self) -> &mut Self {
        self.exceptions.insert(
            T::TYPE_ID.to_owned(),
            exception_factory::<T> as ExceptionFactory,
        );
        self
    }

    fn value(&self, type_id: &str) -> Option<ValueFactory> {
        self.values.get(type_id).copied()
    }

    fn compact(&self, id: i32) -> Option<&'static str> {
        self.compact.get(&id).copied()
    }

    pub(crate) fn exception(&self, type_id: &str) -> Option<ExceptionFactory> {
        self.exceptions.get(type_id).copied()
    }
}

/// What kind of slices an instance frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SliceKind {
    Value,
    Exception,
}

#[derive(Debug)]
struct WriteFrame {
    kind: SliceKind,
    first_slice: bool,
    flags_pos: usize,
    flags: u8,
    body_start: usize,
    indirection: Vec<ClassRef>,
    indirection_map: HashMap<usize, usize>,
}

/// The class state of one encapsulation while writing, allocated on
/// first use, as [`ClassReader`]'s: every output stream (a request's
/// head, each parameter encapsulation) has one, and most write no class.
#[derive(Debug, Default)]
pub(crate) struct ClassWriter(Option<Box<ClassWriterState>>);

impl std::ops::Deref for ClassWriter {
    type Target = ClassWriterState;
    fn deref(&self) -> &ClassWriterState {
        static EMPTY: OnceLock<ClassWriterState> = OnceLock::new();
        match &self.0 {
            Some(state) => state,
            None => EMPTY.get_or_init(ClassWriterState::default),
        }
    }
}

impl std::ops::DerefMut for ClassWriter {
    fn deref_mut(&mut self) -> &mut ClassWriterState {
        self.0.get_or_insert_with(Box::default)
    }
}

/// Class state of one encapsulation while writing.
#[derive(Debug, Default)]
pub(crate) struct ClassWriterState {
    type_ids: HashMap<String, usize>,
    ids: HashMap<usize, i32>,
    last_id: i32,
    frames: Vec<WriteFrame>,
    pending: Vec<(ClassRef, i32)>,
}

impl OutputStream {
    /// Writes a class reference (`None` is null). In 1.1 the instance is
    /// written inline the first time (or, inside a sliced-format slice, put
    /// in the slice's indirection table); in 1.0 an id is written and the
    /// instance waits for [`OutputStream::write_pending_classes`].
    pub fn write_class(&mut self, v: Option<&ClassRef>) {
        let r = match v {
            Some(r) if r.get().is_some() => r,
            _ => {
                if self.encoding().is_1_0() {
                    self.write_i32(0);
                } else {
                    self.write_size(0);
                }
                return;
            }
        };
        if self.encoding().is_1_0() {
            let key = r.key();
            let id = match self.classes.ids.get(&key) {
                Some(&id) => id,
                None => {
                    self.classes.last_id += 1;
                    let id = self.classes.last_id;
                    self.classes.ids.insert(key, id);
                    self.classes.pending.push((r.clone(), id));
                    id
                }
            };
            self.write_i32(-id);
            return;
        }
        let sliced = self.format() == Format::Sliced;
        if let (true, Some(frame)) = (sliced, self.classes.frames.last_mut()) {
            let key = r.key();
            let next = frame.indirection.len() + 1;
            let index = *frame.indirection_map.entry(key).or_insert(next);
            if index == next {
                frame.indirection.push(r.clone());
            }
            self.write_size(index);
        } else {
            self.write_instance(r);
        }
    }

    /// 1.1: writes an instance inline, or its id if already written.
    fn write_instance(&mut self, r: &ClassRef) {
        let key = r.key();
        if let Some(&id) = self.classes.ids.get(&key) {
            self.write_size(usize::try_from(id).unwrap_or(0));
            return;
        }
        if self.classes.last_id == 0 {
            self.classes.last_id = 1;
        }
        self.classes.last_id += 1;
        let id = self.classes.last_id;
        self.classes.ids.insert(key, id);
        self.write_size(1);
        self.write_instance_body(r);
    }

    /// Writes an instance's slices (preserved ones first), and in 1.0 the
    /// trailing `::Ice::Object` slice.
    fn write_instance_body(&mut self, r: &ClassRef) {
        let Some(inst) = r.0.get() else { return };
        self.push_frame(SliceKind::Value);
        if let Some(sliced) = &inst.sliced {
            self.write_preserved_slices(sliced);
        }
        inst.value.write_slices(self);
        if self.encoding().is_1_0() {
            self.start_slice(OBJECT_TYPE_ID, None, true);
            self.write_size(0);
            self.end_slice();
        }
        self.classes.frames.pop();
    }

    /// Writes slices kept by `["preserve-slice"]` into the class or
    /// exception being written, before its known slices. Only the 1.1
    /// sliced format carries them, as in Ice: elsewhere the value goes out
    /// sliced to its most-derived known type.
    pub(crate) fn write_preserved_slices(&mut self, sliced: &SlicedData) {
        if self.encoding().is_1_0() || self.format() != Format::Sliced {
            return;
        }
        for s in &sliced.slices {
            self.start_slice(&s.type_id, s.compact_id, s.is_last_slice);
            self.write_blob(&s.bytes);
            if let Some(frame) = self.classes.frames.last_mut() {
                if s.has_optional_members {
                    frame.flags |= FLAG_HAS_OPTIONAL_MEMBERS;
                }
                frame.indirection = s.instances.clone();
            }
            self.end_slice();
        }
    }

    pub(crate) fn push_frame(&mut self, kind: SliceKind) {
        self.classes.frames.push(WriteFrame {
            kind,
            first_slice: true,
            flags_pos: 0,
            flags: 0,
            body_start: 0,
            indirection: Vec::new(),
            indirection_map: HashMap::new(),
        });
    }

    pub(crate) fn pop_frame(&mut self) {
        self.classes.frames.pop();
    }

    /// 1.0: writes the instances referenced so far (and those they
    /// reference), then the zero that ends them. No-op in 1.1.
    pub fn write_pending_classes(&mut self) {
        if !self.encoding().is_1_0() {
            return;
        }
        while !self.classes.pending.is_empty() {
            let batch = std::mem::take(&mut self.classes.pending);
            self.write_size(batch.len());
            for (r, id) in batch {
                self.write_i32(id);
                self.write_instance_body(&r);
            }
        }
        self.write_size(0);
    }

    /// Returns the type id's index if already written in this
    /// encapsulation, registering it otherwise.
    fn register_type_id(&mut self, type_id: &str) -> Option<usize> {
        if let Some(&i) = self.classes.type_ids.get(type_id) {
            return Some(i);
        }
        let next = self.classes.type_ids.len() + 1;
        self.classes.type_ids.insert(type_id.to_owned(), next);
        None
    }

    /// Starts the slice of class or exception `type_id` (generated code).
    pub fn start_slice(&mut self, type_id: &str, compact_id: Option<i32>, last: bool) {
        let Some(kind) = self.classes.frames.last().map(|f| f.kind) else {
            return;
        };
        let pos = self.len();
        if self.encoding().is_1_0() {
            if kind == SliceKind::Value {
                match self.register_type_id(type_id) {
                    Some(index) => {
                        self.write_bool(true);
                        self.write_size(index);
                    }
                    None => {
                        self.write_bool(false);
                        self.write_string(type_id);
                    }
                }
            } else {
                self.write_string(type_id);
            }
            self.write_i32(0);
            let body_start = self.len();
            if let Some(f) = self.classes.frames.last_mut() {
                f.body_start = body_start;
            }
            return;
        }
        let sliced = self.format() == Format::Sliced;
        let mut flags = 0u8;
        if sliced {
            flags |= FLAG_HAS_SLICE_SIZE;
        }
        // ZeroC's C++ 3.7 runtime marks the last slice of class instances
        // only; exception slices never carry the flag (observed), so readers
        // detect the end of an exception by the end of the encapsulation.
        if last && kind == SliceKind::Value {
            flags |= FLAG_IS_LAST_SLICE;
        }
        self.write_u8(0);
        let first = self.classes.frames.last().is_some_and(|f| f.first_slice);
        if kind == SliceKind::Value {
            if sliced || first {
                // ZeroC's C++ 3.7 runtime never puts compact ids on the wire
                // (observed: `class K(7)` is sent with its type-id string in
                // both formats); we do the same and only read them.
                if let (Some(c), true) = (compact_id, WRITE_COMPACT_IDS) {
                    flags |= FLAG_HAS_TYPE_ID_COMPACT;
                    self.write_size(usize::try_from(c).unwrap_or(0));
                } else {
                    match self.register_type_id(type_id) {
                        Some(index) => {
                            flags |= FLAG_HAS_TYPE_ID_INDEX;
                            self.write_size(index);
                        }
                        None => {
                            flags |= FLAG_HAS_TYPE_ID_STRING;
                            self.write_string(type_id);
                        }
                    }
                }
            }
        } else {
            self.write_string(type_id);
        }
        if sliced {
            self.write_i32(0);
        }
        let body_start = self.len();
        if let Some(f) = self.classes.frames.last_mut() {
            f.flags_pos = pos;
            f.flags = flags;
            f.body_start = body_start;
            f.first_slice = false;
        }
    }

    /// Ends the current slice: optional end marker, size, indirection table.
    pub fn end_slice(&mut self) {
        let is_1_0 = self.encoding().is_1_0();
        let Some(frame) = self.classes.frames.last_mut() else {
            return;
        };
        let body_start = frame.body_start;
        if is_1_0 {
            let size = self.len() - body_start + 4;
            self.rewrite_i32(
                body_start.saturating_sub(4),
                i32::try_from(size).unwrap_or(i32::MAX),
            );
            return;
        }
        let mut flags = frame.flags;
        let flags_pos = frame.flags_pos;
        let table = std::mem::take(&mut frame.indirection);
        frame.indirection_map.clear();
        if flags & FLAG_HAS_OPTIONAL_MEMBERS != 0 {
            self.write_u8(super::optional::OPTIONAL_END_MARKER);
        }
        if flags & FLAG_HAS_SLICE_SIZE != 0 {
            let size = self.len() - body_start + 4;
            self.rewrite_i32(
                body_start.saturating_sub(4),
                i32::try_from(size).unwrap_or(i32::MAX),
            );
        }
        if !table.is_empty() {
            flags |= FLAG_HAS_INDIRECTION_TABLE;
            self.write_size(table.len());
            for r in &table {
                self.write_instance(r);
            }
        }
        self.rewrite_u8(flags_pos, flags);
    }

    /// Notes that the current slice has optional members (called when an
    /// optional tag is written).
    pub(crate) fn mark_optional_members(&mut self) {
        if let Some(f) = self.classes.frames.last_mut() {
            f.flags |= FLAG_HAS_OPTIONAL_MEMBERS;
        }
    }
}

#[derive(Debug)]
struct ReadFrame {
    kind: SliceKind,
    skip_first: bool,
    flags: u8,
    type_id: String,
    compact_id: Option<i32>,
    body_start: usize,
    body_end: Option<usize>,
    indirection: Vec<ClassRef>,
    after_table: Option<usize>,
    slices: Vec<SliceInfo>,
    /// 1.0: depth of the instance being read.
    depth: usize,
}

/// The class state of one encapsulation while reading, allocated on
/// first use: most encapsulations hold no class, and an empty reader is a
/// null pointer, cheap to create, move and drop (every request and reply
/// opens at least one stream).
#[derive(Debug, Default)]
pub(crate) struct ClassReader(Option<Box<ClassReaderState>>);

impl std::ops::Deref for ClassReader {
    type Target = ClassReaderState;
    fn deref(&self) -> &ClassReaderState {
        static EMPTY: OnceLock<ClassReaderState> = OnceLock::new();
        match &self.0 {
            Some(state) => state,
            None => EMPTY.get_or_init(ClassReaderState::default),
        }
    }
}

impl std::ops::DerefMut for ClassReader {
    fn deref_mut(&mut self) -> &mut ClassReaderState {
        self.0.get_or_insert_with(Box::default)
    }
}

/// Class state of one encapsulation while reading.
#[derive(Debug, Default)]
pub(crate) struct ClassReaderState {
    type_ids: Vec<String>,
    /// 1.1: instances by id - 2.
    instances: Vec<ClassRef>,
    /// 1.0: instances by id, with the depth of their deepest referrer.
    refs: HashMap<i32, (ClassRef, usize)>,
    frames: Vec<ReadFrame>,
    depth: usize,
}

impl ReadFrame {
    fn new(kind: SliceKind, depth: usize) -> Self {
        Self {
            kind,
            skip_first: false,
            flags: 0,
            type_id: String::new(),
            compact_id: None,
            body_start: 0,
            body_end: None,
            indirection: Vec::new(),
            after_table: None,
            slices: Vec::new(),
            depth,
        }
    }
}

fn missing_frame() -> Error {
    Error::Misuse {
        what: "slice read outside a class or exception",
    }
}

impl InputStream {
    /// Reads a class reference (`None` is null). In 1.0 the instance itself
    /// arrives with [`InputStream::read_pending_classes`]; the returned
    /// handle is filled then.
    pub fn read_class(&mut self) -> Result<Option<ClassRef>> {
        if self.encoding().is_1_0() {
            let id = i64::from(self.read_i32()?);
            if id > 0 {
                return Err(Error::InvalidInstanceId {
                    what: "class reference",
                    id,
                });
            }
            if id == 0 {
                return Ok(None);
            }
            let id = i32::try_from(-id).map_err(|_| Error::InvalidInstanceId {
                what: "class reference",
                id,
            })?;
            let depth = self.classes.frames.last().map_or(0, |f| f.depth);
            let entry = self
                .classes
                .refs
                .entry(id)
                .or_insert_with(|| (ClassRef::pending(), 0));
            entry.1 = entry.1.max(depth);
            return Ok(Some(entry.0.clone()));
        }
        let index = self.read_size("class reference")?;
        if index == 0 {
            return Ok(None);
        }
        if let Some(frame) = self.classes.frames.last() {
            if frame.flags & FLAG_HAS_INDIRECTION_TABLE != 0 {
                return match frame.indirection.get(index - 1) {
                    Some(r) => Ok(Some(r.clone())),
                    None => Err(Error::InvalidInstanceId {
                        what: "indirection table index",
                        id: index as i64,
                    }),
                };
            }
        }
        self.read_instance(index).map(Some)
    }

    /// False inside a class or exception slice whose flags say it has no
    /// optional members (what follows belongs to the next slice).
    pub(crate) fn slice_may_have_optionals(&self) -> bool {
        self.classes
            .frames
            .last()
            .is_none_or(|f| f.flags & FLAG_HAS_OPTIONAL_MEMBERS != 0)
    }

    pub(crate) fn classes_push_exception_frame(&mut self) {
        let depth = self.classes.depth;
        self.classes
            .frames
            .push(ReadFrame::new(SliceKind::Exception, depth));
    }

    pub(crate) fn classes_pop_frame(&mut self) {
        self.classes.frames.pop();
    }

    pub(crate) fn current_exception_id(&self) -> String {
        self.classes
            .frames
            .last()
            .map(|f| f.type_id.clone())
            .unwrap_or_default()
    }

    pub(crate) fn current_is_last(&self) -> bool {
        self.classes
            .frames
            .last()
            .is_some_and(|f| f.flags & FLAG_IS_LAST_SLICE != 0)
    }

    /// Takes the unknown slices skipped so far in the top frame.
    pub(crate) fn take_skipped_slices(&mut self) -> Vec<SliceInfo> {
        self.classes
            .frames
            .last_mut()
            .map(|f| std::mem::take(&mut f.slices))
            .unwrap_or_default()
    }

    pub(crate) fn set_skip_first(&mut self) {
        if let Some(f) = self.classes.frames.last_mut() {
            f.skip_first = true;
        }
    }

    /// 1.1: reads an inline instance (`index` 1) or resolves a reference.
    fn read_instance(&mut self, index: usize) -> Result<ClassRef> {
        if index > 1 {
            return self.classes.instances.get(index - 2).cloned().ok_or(
                Error::InvalidInstanceId {
                    what: "class instance id",
                    id: index as i64,
                },
            );
        }
        if index == 0 {
            return Err(Error::InvalidInstanceId {
                what: "indirection table entry",
                id: 0,
            });
        }
        if self.classes.depth >= self.max_depth {
            return Err(Error::ClassGraphTooDeep {
                max: self.max_depth,
            });
        }
        let r = ClassRef::pending();
        self.classes.instances.push(r.clone());
        self.classes.depth += 1;
        let depth = self.classes.depth;
        self.classes
            .frames
            .push(ReadFrame::new(SliceKind::Value, depth));
        let result = self.read_instance_slices();
        self.classes.depth -= 1;
        let frame = self.classes.frames.pop();
        let value = result?;
        let sliced = match frame {
            Some(f) if value.preserves_slices() && !f.slices.is_empty() => {
                Some(SlicedData { slices: f.slices })
            }
            _ => None,
        };
        r.fill(value, sliced);
        Ok(r)
    }

    /// 1.1: finds the most-derived known slice of the instance on top and
    /// reads it, skipping unknown slices.
    fn read_instance_slices(&mut self) -> Result<Box<dyn Value>> {
        self.read_slice_header()?;
        let most_derived = self.current_type_name();
        loop {
            let frame = self.classes.frames.last().ok_or_else(missing_frame)?;
            let mut type_id = frame.type_id.as_str();
            if let Some(c) = frame.compact_id {
                type_id = self.registry.compact(c).unwrap_or("");
            }
            if let Some(factory) = self.registry.value(type_id) {
                if let Some(f) = self.classes.frames.last_mut() {
                    f.skip_first = true;
                }
                return factory(self);
            }
            let last = frame.flags & FLAG_IS_LAST_SLICE != 0;
            self.skip_slice(&most_derived)?;
            if last {
                return Ok(Box::new(UnknownSlicedValue {
                    type_id: most_derived,
                }));
            }
            self.read_slice_header()?;
        }
    }

    fn current_type_name(&self) -> String {
        match self.classes.frames.last() {
            Some(f) => match f.compact_id {
                Some(c) => self
                    .registry
                    .compact(c)
                    .map_or_else(|| format!("#{c}"), str::to_owned),
                None => f.type_id.clone(),
            },
            None => String::new(),
        }
    }

    fn read_type_id(&mut self, is_index: bool) -> Result<String> {
        if is_index {
            let index = self.read_size("type id index")?;
            index
                .checked_sub(1)
                .and_then(|i| self.classes.type_ids.get(i))
                .cloned()
                .ok_or(Error::UnknownTypeIdIndex { index })
        } else {
            let s = self.read_str("type id")?.to_owned();
            self.classes.type_ids.push(s.clone());
            Ok(s)
        }
    }

    /// Reads a slice header into the top frame (and in 1.1 sliced format
    /// the slice's indirection table, read ahead).
    pub(crate) fn read_slice_header(&mut self) -> Result<()> {
        let kind = self
            .classes
            .frames
            .last()
            .map(|f| f.kind)
            .ok_or_else(missing_frame)?;
        if self.encoding().is_1_0() {
            let type_id = if kind == SliceKind::Value {
                let is_index = self.read_bool()?;
                self.read_type_id(is_index)?
            } else {
                self.read_str("exception type id")?.to_owned()
            };
            let body_end = self.read_slice_size()?;
            let body_start = self.position();
            if let Some(f) = self.classes.frames.last_mut() {
                f.type_id = type_id;
                f.compact_id = None;
                f.body_start = body_start;
                f.body_end = Some(body_end);
            }
            return Ok(());
        }
        let flags = self.read_u8()?;
        let mut compact_id = None;
        let mut type_id = String::new();
        if kind == SliceKind::Value {
            if flags & FLAG_HAS_TYPE_ID_COMPACT == FLAG_HAS_TYPE_ID_COMPACT {
                let c = self.read_size("compact type id")?;
                compact_id = Some(i32::try_from(c).unwrap_or(i32::MAX));
            } else if flags & FLAG_HAS_TYPE_ID_COMPACT != 0 {
                type_id = self.read_type_id(flags & FLAG_HAS_TYPE_ID_INDEX != 0)?;
            }
        } else {
            type_id = self.read_str("exception type id")?.to_owned();
        }
        let body_end = if flags & FLAG_HAS_SLICE_SIZE != 0 {
            Some(self.read_slice_size()?)
        } else {
            None
        };
        let body_start = self.position();
        let mut table = Vec::new();
        let mut after_table = None;
        if flags & FLAG_HAS_INDIRECTION_TABLE != 0 {
            let Some(end) = body_end else {
                return Err(Error::InvalidSlice {
                    reason: "indirection table without slice size",
                });
            };
            self.seek(end);
            let n = self.read_count("indirection table", 1)?;
            if n == 0 {
                return Err(Error::InvalidSlice {
                    reason: "empty indirection table",
                });
            }
            for _ in 0..n {
                let index = self.read_size("indirection table entry")?;
                table.push(self.read_instance(index)?);
            }
            after_table = Some(self.position());
            self.seek(body_start);
        }
        if let Some(f) = self.classes.frames.last_mut() {
            f.flags = flags;
            f.type_id = type_id;
            f.compact_id = compact_id;
            f.body_start = body_start;
            f.body_end = body_end;
            f.indirection = table;
            f.after_table = after_table;
        }
        Ok(())
    }

    /// Reads a slice size; returns where the slice body ends.
    fn read_slice_size(&mut self) -> Result<usize> {
        let size = self.read_i32()?;
        let body = usize::try_from(size)
            .ok()
            .and_then(|s| s.checked_sub(4))
            .ok_or(Error::InvalidSlice {
                reason: "slice size below 4",
            })?;
        let remaining = self.remaining();
        if body > remaining {
            return Err(Error::EndOfInput {
                what: "slice",
                needed: body,
                remaining,
            });
        }
        Ok(self.position() + body)
    }

    /// Skips the slice on top (known only by its header), keeping it as a
    /// [`SliceInfo`] in 1.1.
    pub(crate) fn skip_slice(&mut self, most_derived: &str) -> Result<()> {
        let frame = self.classes.frames.last().ok_or_else(missing_frame)?;
        let Some(end) = frame.body_end else {
            return Err(match frame.kind {
                SliceKind::Value => Error::NoValueFactory {
                    type_id: most_derived.to_owned(),
                    reason: "compact format prevents slicing",
                },
                SliceKind::Exception => Error::UnknownUserException {
                    type_id: most_derived.to_owned(),
                },
            });
        };
        let is_1_0 = self.encoding().is_1_0();
        let has_opt = frame.flags & FLAG_HAS_OPTIONAL_MEMBERS != 0;
        let body_start = frame.body_start;
        let after = frame.after_table.unwrap_or(end);
        if !is_1_0 {
            let body_end = if has_opt {
                end.saturating_sub(1).max(body_start)
            } else {
                end
            };
            let info = SliceInfo {
                type_id: frame.type_id.clone(),
                compact_id: frame.compact_id,
                bytes: self.slice_of_input(body_start, body_end),
                has_optional_members: has_opt,
                is_last_slice: frame.flags & FLAG_IS_LAST_SLICE != 0,
                instances: frame.indirection.clone(),
            };
            if let Some(f) = self.classes.frames.last_mut() {
                f.slices.push(info);
            }
        }
        self.seek(after);
        Ok(())
    }

    /// Starts reading the next slice of the class or exception being read
    /// (generated code). The first slice's header was already read by the
    /// runtime to find the factory.
    pub fn start_slice(&mut self) -> Result<()> {
        let f = self.classes.frames.last_mut().ok_or_else(missing_frame)?;
        if f.skip_first {
            f.skip_first = false;
            return Ok(());
        }
        self.read_slice_header()
    }

    /// Ends the current slice: skips unread optional members and moves past
    /// the indirection table.
    pub fn end_slice(&mut self) -> Result<()> {
        if self.encoding().is_1_0() {
            return Ok(());
        }
        let (flags, body_end, after) = {
            let f = self.classes.frames.last().ok_or_else(missing_frame)?;
            (f.flags, f.body_end, f.after_table)
        };
        if flags & FLAG_HAS_OPTIONAL_MEMBERS != 0 {
            self.skip_slice_optionals()?;
        }
        if let Some(after) = after {
            if body_end.is_some_and(|end| self.position() > end) {
                return Err(Error::InvalidSlice {
                    reason: "slice body overruns its size",
                });
            }
            self.seek(after);
        }
        Ok(())
    }

    /// Skips optional members up to and including the end marker.
    fn skip_slice_optionals(&mut self) -> Result<()> {
        loop {
            let v = self.read_u8()?;
            if v == super::optional::OPTIONAL_END_MARKER {
                return Ok(());
            }
            if v >> 3 == 30 {
                self.read_size("optional tag")?;
            }
            self.skip_optional(OptionalFormat::from_code(v))?;
        }
    }

    /// 1.0: reads the instances that trail the parameters (call once all
    /// class references were read); checks every reference was matched.
    /// No-op in 1.1.
    pub fn read_pending_classes(&mut self) -> Result<()> {
        if !self.encoding().is_1_0() {
            return Ok(());
        }
        loop {
            let n = self.read_count("pending class instances", 6)?;
            if n == 0 {
                break;
            }
            for _ in 0..n {
                self.read_instance_1_0()?;
            }
        }
        if let Some((&id, _)) = self
            .classes
            .refs
            .iter()
            .find(|(_, (r, _))| r.get().is_none())
        {
            return Err(Error::MissingInstance { id: i64::from(id) });
        }
        Ok(())
    }

    fn read_instance_1_0(&mut self) -> Result<()> {
        let id = self.read_i32()?;
        if id <= 0 {
            return Err(Error::InvalidInstanceId {
                what: "pending instance id",
                id: i64::from(id),
            });
        }
        let (r, depth) = self
            .classes
            .refs
            .entry(id)
            .or_insert_with(|| (ClassRef::pending(), 0))
            .clone();
        if r.get().is_some() {
            return Err(Error::InvalidInstanceId {
                what: "duplicate instance id",
                id: i64::from(id),
            });
        }
        let depth = depth + 1;
        if depth > self.max_depth {
            return Err(Error::ClassGraphTooDeep {
                max: self.max_depth,
            });
        }
        self.classes
            .frames
            .push(ReadFrame::new(SliceKind::Value, depth));
        let result = self.read_instance_body_1_0();
        self.classes.frames.pop();
        r.fill(result?, None);
        Ok(())
    }

    fn read_instance_body_1_0(&mut self) -> Result<Box<dyn Value>> {
        self.read_slice_header()?;
        let most_derived = self.current_type_name();
        let value = loop {
            let frame = self.classes.frames.last().ok_or_else(missing_frame)?;
            if frame.type_id == OBJECT_TYPE_ID {
                return Err(Error::NoValueFactory {
                    type_id: most_derived,
                    reason: "no known slice",
                });
            }
            if let Some(factory) = self.registry.value(&frame.type_id) {
                if let Some(f) = self.classes.frames.last_mut() {
                    f.skip_first = true;
                }
                break factory(self)?;
            }
            self.skip_slice(&most_derived)?;
            self.read_slice_header()?;
        };
        self.read_slice_header()?;
        if self.read_size("Object slice")? != 0 {
            return Err(Error::InvalidSlice {
                reason: "invalid ::Ice::Object slice",
            });
        }
        Ok(value)
    }
}

/// A nullable class reference as a field, element or parameter.
impl Encode for Option<ClassRef> {
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::Class;
    fn encode(&self, out: &mut OutputStream) {
        out.write_class(self.as_ref());
    }
}

impl Decode for Option<ClassRef> {
    const MIN_WIRE_SIZE: usize = 1;
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::Class;
    fn decode(input: &mut InputStream) -> Result<Self> {
        input.read_class()
    }
}

#[cfg(test)]
mod tests {
    use super::super::EncodingVersion;
    use super::*;
    use pretty_assertions::assert_eq;

    /// `class Node { int value; Node next; }`
    #[derive(Debug, PartialEq)]
    struct Node {
        value: i32,
        next: Option<ClassRef>,
    }

    impl Value for Node {
        fn ice_id(&self) -> &str {
            Self::TYPE_ID
        }
        fn write_slices(&self, out: &mut OutputStream) {
            out.start_slice(Self::TYPE_ID, None, true);
            out.write_i32(self.value);
            out.write_class(self.next.as_ref());
            out.end_slice();
        }
        fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
            (target == TypeId::of::<Self>()).then_some(self as &dyn Any)
        }
        fn eq_value(&self, other: &dyn Value) -> bool {
            other.downcast_ref::<Self>() == Some(self)
        }
    }

    impl ValueType for Node {
        const TYPE_ID: &'static str = "::T::Node";
        fn read_slices(input: &mut InputStream) -> Result<Self> {
            input.start_slice()?;
            let value = input.read_i32()?;
            let next = input.read_class()?;
            input.end_slice()?;
            Ok(Self { value, next })
        }
    }

    fn registry() -> Arc<Registry> {
        let mut r = Registry::new();
        r.add_value::<Node>();
        Arc::new(r)
    }

    fn encode(root: &ClassRef, enc: EncodingVersion, format: Format) -> Vec<u8> {
        let mut out = OutputStream::new(enc);
        out.start_encapsulation(enc, format);
        out.write_class(Some(root));
        out.write_pending_classes();
        out.end_encapsulation();
        out.into_vec()
    }

    fn decode(bytes: &[u8], max_depth: usize) -> Result<Option<ClassRef>> {
        let mut input = InputStream::from_slice(bytes, EncodingVersion::V1_1)
            .with_registry(registry())
            .with_max_depth(max_depth);
        input.start_encapsulation()?;
        let v = input.read_class()?;
        input.read_pending_classes()?;
        input.end_encapsulation()?;
        Ok(v)
    }

    fn cycle() -> ClassRef {
        let a = ClassRef::pending();
        let b = ClassRef::new(Node {
            value: 2,
            next: Some(a.clone()),
        });
        a.set(Node {
            value: 1,
            next: Some(b),
        });
        a
    }

    fn unreachable_in_test(enc: EncodingVersion, format: Format) {
        assert_eq!(Some((enc, format)), None, "no value decoded");
    }

    #[test]
    fn cycles_decode_to_shared_instances_in_every_format() {
        for (enc, format) in [
            (EncodingVersion::V1_0, Format::Compact),
            (EncodingVersion::V1_1, Format::Compact),
            (EncodingVersion::V1_1, Format::Sliced),
        ] {
            let bytes = encode(&cycle(), enc, format);
            let a = decode(&bytes, 100).ok().flatten();
            let a = a
                .as_ref()
                .and_then(|a| Some((a.clone(), a.downcast_ref::<Node>()?)));
            let Some((a, na)) = a else {
                unreachable_in_test(enc, format);
                continue;
            };
            assert_eq!(na.value, 1);
            let b = na.next.clone();
            let nb = b.as_ref().and_then(|b| b.downcast_ref::<Node>());
            assert_eq!(nb.map(|n| n.value), Some(2));
            let back = nb.and_then(|n| n.next.clone());
            assert!(back.is_some_and(|x| ClassRef::ptr_eq(&x, &a)));
        }
    }

    #[test]
    fn compact_1_1_bytes() {
        let n = ClassRef::new(Node {
            value: 5,
            next: None,
        });
        let bytes = encode(&n, EncodingVersion::V1_1, Format::Compact);
        let mut expect = vec![23, 0, 0, 0, 1, 1, 1, 0x21, 9];
        expect.extend_from_slice(b"::T::Node");
        expect.extend_from_slice(&[5, 0, 0, 0, 0]);
        assert_eq!(bytes, expect);
    }

    #[test]
    fn depth_limit_guards_the_stack() {
        let mut head: Option<ClassRef> = None;
        for i in 0..50 {
            head = Some(ClassRef::new(Node {
                value: i,
                next: head,
            }));
        }
        let Some(head) = head else { return };
        for enc in [EncodingVersion::V1_0, EncodingVersion::V1_1] {
            let bytes = encode(&head, enc, Format::Compact);
            assert!(decode(&bytes, 100).is_ok());
            assert!(matches!(
                decode(&bytes, 10),
                Err(Error::ClassGraphTooDeep { max: 10 })
            ));
        }
    }

    #[test]
    fn unknown_type_in_compact_format_cannot_be_sliced() {
        let n = ClassRef::new(Node {
            value: 5,
            next: None,
        });
        let bytes = encode(&n, EncodingVersion::V1_1, Format::Compact);
        let mut input = InputStream::from_slice(&bytes, EncodingVersion::V1_1);
        assert!(input.start_encapsulation().is_ok());
        assert!(matches!(
            input.read_class(),
            Err(Error::NoValueFactory { .. })
        ));
        // Sliced format: kept as an UnknownSlicedValue and written back as is.
        let bytes = encode(&n, EncodingVersion::V1_1, Format::Sliced);
        let mut input = InputStream::from_slice(&bytes, EncodingVersion::V1_1);
        assert!(input.start_encapsulation().is_ok());
        let v = input.read_class().ok().flatten();
        assert_eq!(v.as_ref().and_then(|v| v.ice_id()), Some("::T::Node"));
        if let Some(v) = v {
            assert_eq!(encode(&v, EncodingVersion::V1_1, Format::Sliced), bytes);
        }
    }
}
