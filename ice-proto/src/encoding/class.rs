//! Class instances in encodings 1.0 and 1.1.
//!
//! # The mapping: one shared handle, typed by the class: [`Class<T>`]
//!
//! A Slice class maps to a plain Rust struct that holds its base class as a
//! field named `base` (composition, not a flat copy of inherited members)
//! and implements [`Value`] and [`ValueType`]. A member, element or
//! parameter of class `Shape` is an `Option<Class<Shape>>` (`None` is
//! Slice's null), and a `Class<Shape>` may hold a `Shape` or any class
//! derived from it, as `shared_ptr<Shape>` does in ZeroC's C++11 mapping:
//!
//! - Typed access: [`Class::read`] borrows the instance as a `Shape`
//!   (whatever its most-derived class), [`Class::write`] borrows it
//!   mutably; [`Class::downcast`] gives a `Class<Circle>` sharing the same
//!   instance when it is one, and [`Class::upcast`] goes the other way.
//! - Shared and mutable: a `Class<T>` is an `Arc` around a lock
//!   ([`parking_lot::RwLock`]) holding the boxed value. Clones share the
//!   instance ([`Class::ptr_eq`]): two members pointing at one instance are
//!   written as one instance and decode as one. Any task can set members
//!   through [`Class::write`]; `Send + Sync` hold throughout.
//! - An instance never changes class: to put a subclass in a member, assign
//!   the member a new handle (`node.write().next = Some(c.upcast())`).
//! - Cycles: the decoder makes the handle (empty) as soon as an instance id
//!   is known, hands clones of it to whoever references the id, and fills
//!   it once the instance's members are read. A cycle of handles is a cycle
//!   of `Arc`s and is never freed on its own, like a `shared_ptr` cycle:
//!   break it by setting one member of the cycle to `None` when the graph
//!   is no longer needed.
//! - Untyped: Slice's `Value` (and `Object` used by value) maps to
//!   [`ClassRef`], the same handle without a type; [`ClassRef::downcast`]
//!   makes it typed.
//! - Checked: a decoded instance that is not of the declared class fails
//!   the decoding ([`Error::UnexpectedObject`], Ice's
//!   `UnexpectedObjectException`), so a `Class<T>` always holds a `T`.
//!
//! Do not hold a guard from [`Class::write`] across a call that sends the
//! instance: writing the instance takes a read lock on it.
//!
//! # Decoding: value factories, then generated types, then slicing
//!
//! For each slice of an instance, most derived first, the decoder asks the
//! communicator's [`ValueFactoryManager`] for the slice's type id (then its
//! default factory, registered for `""`), then the [`Registry`] of
//! generated types; the first value made reads the slices it knows into
//! itself ([`Value::read_slices`]). Unknown slices are skipped, and kept in
//! [`SlicedData`] when the value asks for it ([`Value::preserves_slices`],
//! Slice's `["preserve-slice"]`). A value none of whose slices is known
//! becomes an [`UnknownSlicedValue`] (1.1 sliced format only, as in Ice).
//! Nested instances count against a depth limit
//! ([`InputStream::with_max_depth`]), so input cannot exhaust the stack.
//!
//! [`Value::ice_pre_marshal`] runs before an instance is written and
//! [`Value::ice_post_unmarshal`] once an instance and everything it
//! references are read, for values that ask for them
//! ([`Value::has_marshal_hooks`]).

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
};

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

/// Whether compact type ids of known classes are written (ZeroC's C++ 3.7
/// never writes them). Preserved slices that arrived with a compact id go
/// back out with it.
const WRITE_COMPACT_IDS: bool = false;

/// The type id ending every instance in encoding 1.0.
pub const OBJECT_TYPE_ID: &str = "::Ice::Object";

/// A class instance: what generated class structs implement, and what a
/// value factory makes.
///
/// A type of the application's that extends a generated class (to add
/// state or the marshal hooks) holds the generated class as a field,
/// forwards the slice methods to it, answers [`Value::as_type`] for itself
/// and then for that field, and is made by a value factory registered for
/// the class's type id.
pub trait Value: Any + Send + Sync + fmt::Debug {
    /// The most-derived Slice type id, e.g. `::Golden::Derived`.
    fn ice_id(&self) -> &str;

    /// Writes every slice of the value, most derived first: for each
    /// class, [`OutputStream::start_slice`], its members, its optional
    /// members by tag, [`OutputStream::end_slice`].
    fn write_slices(&self, out: &mut OutputStream);

    /// Reads the slices of the value's class and its bases into `self`,
    /// each between [`InputStream::start_slice`] and
    /// [`InputStream::end_slice`].
    ///
    /// # Errors
    /// Malformed or truncated input.
    fn read_slices(&mut self, input: &mut InputStream) -> Result<()>;

    /// Borrows the value as the type `target` if it is that type or one of
    /// its bases (walks the `base` fields).
    fn as_type(&self, target: TypeId) -> Option<&dyn Any>;

    /// Mutably borrows the value as the type `target` if it is that type or
    /// one of its bases.
    fn as_type_mut(&mut self, target: TypeId) -> Option<&mut dyn Any>;

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

    /// Whether [`Value::ice_pre_marshal`] and [`Value::ice_post_unmarshal`]
    /// do something (the runtime locks the instance for writing to call
    /// them only then).
    fn has_marshal_hooks(&self) -> bool {
        false
    }

    /// Called before the instance is written (Ice's `ice_preMarshal`).
    fn ice_pre_marshal(&mut self) {}

    /// Called once the instance and the instances it references are read
    /// (Ice's `ice_postUnmarshal`).
    fn ice_post_unmarshal(&mut self) {}
}

impl dyn Value {
    /// Borrows the value as `T` (its own type or a base class).
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.as_type(TypeId::of::<T>())?.downcast_ref::<T>()
    }

    /// Mutably borrows the value as `T` (its own type or a base class).
    pub fn downcast_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.as_type_mut(TypeId::of::<T>())?.downcast_mut::<T>()
    }

    /// Whether the value is a `T` or derives from it.
    pub fn is<T: Any>(&self) -> bool {
        self.as_type(TypeId::of::<T>()).is_some()
    }
}

/// A class type that can be created from the wire: generated classes.
pub trait ValueType: Value + Default + Sized {
    /// The Slice type id.
    const TYPE_ID: &'static str;
    /// The compact id (`class K(7)`), if any.
    const COMPACT_ID: Option<i32> = None;
}

/// `Self` is class `B` or derives from it: what [`Class::upcast`] needs.
/// Generated code implements it for a class and each of its bases.
pub trait IsA<B: ?Sized>: Value {}

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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnknownSlicedValue {
    /// The most-derived type id on the wire.
    pub type_id: String,
}

impl Value for UnknownSlicedValue {
    fn ice_id(&self) -> &str {
        &self.type_id
    }
    fn write_slices(&self, _out: &mut OutputStream) {}
    fn read_slices(&mut self, _input: &mut InputStream) -> Result<()> {
        Ok(())
    }
    fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
        (target == TypeId::of::<Self>()).then_some(self as &dyn Any)
    }
    fn as_type_mut(&mut self, target: TypeId) -> Option<&mut dyn Any> {
        (target == TypeId::of::<Self>()).then_some(self as &mut dyn Any)
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

type Slot = RwLock<Option<Instance>>;

/// A shared, mutable, possibly cyclic reference to a class instance of any
/// class: Slice's `Value`. [`Class<T>`] is the same handle typed by a class.
#[derive(Clone)]
pub struct ClassRef(Arc<Slot>);

impl ClassRef {
    /// A reference to a new instance holding `value`.
    pub fn new<V: Value>(value: V) -> Self {
        Self::from_box(Box::new(value))
    }

    /// A reference to a new instance holding the boxed `value`.
    pub fn from_box(value: Box<dyn Value>) -> Self {
        Self(Arc::new(RwLock::new(Some(Instance {
            value,
            sliced: None,
        }))))
    }

    /// A reference the decoder fills later (instance ids seen before their
    /// instance).
    pub(crate) fn pending() -> Self {
        Self(Arc::new(RwLock::new(None)))
    }

    fn fill(&self, value: Box<dyn Value>, sliced: Option<SlicedData>) -> bool {
        let mut slot = self.0.write();
        if slot.is_some() {
            return false;
        }
        *slot = Some(Instance { value, sliced });
        true
    }

    fn is_filled(&self) -> bool {
        self.0.read_recursive().is_some()
    }

    /// Borrows the value; `None` only while the decoder has not filled it.
    pub fn read(&self) -> Option<MappedRwLockReadGuard<'_, dyn Value>> {
        RwLockReadGuard::try_map(self.0.read_recursive(), |i| {
            i.as_ref().map(|i| i.value.as_ref())
        })
        .ok()
    }

    /// Mutably borrows the value; `None` only while the decoder has not
    /// filled it.
    pub fn write(&self) -> Option<MappedRwLockWriteGuard<'_, dyn Value>> {
        RwLockWriteGuard::try_map(self.0.write(), |i| i.as_mut().map(|i| i.value.as_mut())).ok()
    }

    /// The same instance typed as class `T`, if it is a `T` (or derives
    /// from it).
    pub fn downcast<T: Value>(&self) -> Option<Class<T>> {
        self.is::<T>().then(|| Class::from_ref(self.clone()))
    }

    /// Whether the value is a `T` (or derives from `T`).
    pub fn is<T: Any>(&self) -> bool {
        self.read().is_some_and(|v| v.is::<T>())
    }

    /// The most-derived type id of the value.
    pub fn ice_id(&self) -> Option<String> {
        self.read().map(|v| v.ice_id().to_owned())
    }

    /// The unknown slices kept when the value was decoded.
    pub fn sliced_data(&self) -> Option<SlicedData> {
        self.0
            .read_recursive()
            .as_ref()
            .and_then(|i| i.sliced.clone())
    }

    /// Whether two references designate the same instance.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    fn key(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

/// A shared, mutable reference to an instance of class `T` or of a class
/// derived from it (`Option<Class<T>>` is a member, element or parameter of
/// class `T`). See the [module documentation](self) for the model.
pub struct Class<T: ?Sized> {
    inner: ClassRef,
    _class: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized> Clone for Class<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _class: PhantomData,
        }
    }
}

impl<T: Value> Class<T> {
    /// A new instance holding `value`.
    pub fn new(value: T) -> Self {
        Self::from_ref(ClassRef::new(value))
    }

    /// A new instance holding `value`, of class `T` or one derived from it,
    /// typed as `T` (`Some(Class::from_value(circle))` for a `Shape`
    /// member).
    pub fn from_value<V: IsA<T>>(value: V) -> Self {
        Self::from_ref(ClassRef::new(value))
    }

    /// Types `inner` as `T`; callers have checked that it is one (or, for
    /// an unfilled reference, will check before handing it out).
    fn from_ref(inner: ClassRef) -> Self {
        Self {
            inner,
            _class: PhantomData,
        }
    }

    /// Borrows the instance as a `T`, whatever its most-derived class.
    ///
    /// # Panics
    /// Only for a handle taken from a stream that was not finished: a
    /// stream reading classes ends with [`InputStream::read_pending_classes`],
    /// which generated code always calls.
    #[allow(clippy::expect_used)] // invariant: a finished decode checked the class
    pub fn read(&self) -> MappedRwLockReadGuard<'_, T> {
        self.try_read()
            .expect("class instance read before its stream was finished")
    }

    /// Borrows the instance as a `T`; `None` only for a handle taken from an
    /// unfinished stream.
    pub fn try_read(&self) -> Option<MappedRwLockReadGuard<'_, T>> {
        RwLockReadGuard::try_map(self.inner.0.read_recursive(), |i| {
            i.as_ref()?.value.downcast_ref::<T>()
        })
        .ok()
    }

    /// Mutably borrows the instance as a `T`.
    ///
    /// # Panics
    /// As [`Class::read`].
    #[allow(clippy::expect_used)] // invariant: a finished decode checked the class
    pub fn write(&self) -> MappedRwLockWriteGuard<'_, T> {
        self.try_write()
            .expect("class instance written before its stream was finished")
    }

    /// Mutably borrows the instance as a `T`; `None` only for a handle
    /// taken from an unfinished stream.
    pub fn try_write(&self) -> Option<MappedRwLockWriteGuard<'_, T>> {
        RwLockWriteGuard::try_map(self.inner.0.write(), |i| {
            i.as_mut()?.value.downcast_mut::<T>()
        })
        .ok()
    }

    /// The same instance typed as `U` if it is a `U` (a derived class, or
    /// any class the instance derives from).
    pub fn downcast<U: Value>(&self) -> Option<Class<U>> {
        self.inner.downcast::<U>()
    }

    /// Whether the instance is a `U` or derives from it.
    pub fn is<U: Any>(&self) -> bool {
        self.inner.is::<U>()
    }

    /// The same instance typed as its base class `B`.
    pub fn upcast<B: Value>(self) -> Class<B>
    where
        T: IsA<B>,
    {
        Class::from_ref(self.inner)
    }

    /// The most-derived type id of the instance.
    pub fn ice_id(&self) -> String {
        self.inner.ice_id().unwrap_or_default()
    }

    /// The unknown slices kept when the instance was decoded.
    pub fn sliced_data(&self) -> Option<SlicedData> {
        self.inner.sliced_data()
    }

    /// The untyped handle to the same instance.
    pub fn as_class_ref(&self) -> &ClassRef {
        &self.inner
    }

    /// Whether two handles designate the same instance.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        ClassRef::ptr_eq(&a.inner, &b.inner)
    }
}

impl<T: Value> AsRef<ClassRef> for Class<T> {
    fn as_ref(&self) -> &ClassRef {
        &self.inner
    }
}

impl<T: Value> From<Class<T>> for ClassRef {
    fn from(c: Class<T>) -> Self {
        c.inner
    }
}

impl<T: Value> PartialEq for Class<T> {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl<T: Value> fmt::Debug for Class<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
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
        match (self.read(), other.read()) {
            (Some(a), Some(b)) => guarded(self.key(), other.key(), true, || a.eq_value(&*b)),
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
            result = match self.read() {
                Some(v) => v.fmt(f),
                None => f.write_str("<pending>"),
            };
            true
        });
        if !entered {
            return write!(
                f,
                "<cycle to {}>",
                self.ice_id().unwrap_or_else(|| "?".to_owned())
            );
        }
        result
    }
}

/// A function making an empty instance of a generated class.
pub type ValueMaker = fn() -> Box<dyn Value>;
/// A function reading one exception's slices into a boxed exception.
pub type ExceptionFactory = fn(&mut InputStream) -> Result<Box<dyn UserException>>;

fn make_value<T: ValueType>() -> Box<dyn Value> {
    Box::new(T::default())
}

fn exception_factory<T: super::UserExceptionType>(
    input: &mut InputStream,
) -> Result<Box<dyn UserException>> {
    Ok(Box::new(T::read_slices(input)?))
}

/// The generated classes and exceptions a stream can create, by type id
/// and compact id.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    values: HashMap<String, ValueMaker>,
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
            .insert(T::TYPE_ID.to_owned(), make_value::<T> as ValueMaker);
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

    fn value(&self, type_id: &str) -> Option<ValueMaker> {
        self.values.get(type_id).copied()
    }

    fn compact(&self, id: i32) -> Option<&'static str> {
        self.compact.get(&id).copied()
    }

    pub(crate) fn exception(&self, type_id: &str) -> Option<ExceptionFactory> {
        self.exceptions.get(type_id).copied()
    }
}

/// A value factory: given a type id, an empty instance to read into, or
/// `None` to let the next factory (then the generated type) make it.
pub type ValueFactory = Arc<dyn Fn(&str) -> Option<Box<dyn Value>> + Send + Sync>;

/// The value factories of a communicator, by type id (Ice's
/// `ValueFactoryManager`); the factory registered for `""` is the default
/// factory, asked for every type id its own factory did not make.
///
/// It also holds the communicator's compact-id resolver (ZeroC's
/// `InitializationData::compactIdResolver`): the type id of a compact id
/// no generated type has, so that a value factory can make an instance
/// that arrived by its compact id alone.
#[derive(Default)]
pub struct ValueFactoryManager {
    factories: RwLock<HashMap<String, ValueFactory>>,
    any: AtomicBool,
    resolver: RwLock<Option<CompactIdResolver>>,
}

/// A compact-id resolver: the type id of compact id `id`, if known.
pub type CompactIdResolver = Arc<dyn Fn(i32) -> Option<String> + Send + Sync>;

impl fmt::Debug for ValueFactoryManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<String> = self.factories.read().keys().cloned().collect();
        ids.sort();
        f.debug_struct("ValueFactoryManager")
            .field("type_ids", &ids)
            .finish()
    }
}

impl ValueFactoryManager {
    /// A manager with no factory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `factory` for `type_id` (`""`: the default factory).
    ///
    /// # Errors
    /// [`Error::AlreadyRegistered`] when `type_id` has a factory already
    /// (Ice's `AlreadyRegisteredException`).
    pub fn add(
        &self,
        factory: impl Fn(&str) -> Option<Box<dyn Value>> + Send + Sync + 'static,
        type_id: &str,
    ) -> Result<()> {
        let mut map = self.factories.write();
        if map.contains_key(type_id) {
            return Err(Error::AlreadyRegistered {
                kind: "value factory",
                id: type_id.to_owned(),
            });
        }
        map.insert(type_id.to_owned(), Arc::new(factory));
        self.any.store(true, Ordering::Release);
        Ok(())
    }

    /// The factory registered for `type_id`.
    pub fn find(&self, type_id: &str) -> Option<ValueFactory> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        self.factories.read().get(type_id).cloned()
    }

    /// Removes the factory of `type_id`; false if there was none.
    pub fn remove(&self, type_id: &str) -> bool {
        let mut map = self.factories.write();
        let removed = map.remove(type_id).is_some();
        self.any.store(!map.is_empty(), Ordering::Release);
        removed
    }

    /// Sets the compact-id resolver (`None` removes it); the generated
    /// types' compact ids are known without one.
    pub fn set_compact_id_resolver(
        &self,
        resolver: Option<impl Fn(i32) -> Option<String> + Send + Sync + 'static>,
    ) {
        *self.resolver.write() = resolver.map(|r| Arc::new(r) as CompactIdResolver);
    }

    /// The type id the compact-id resolver gives for `id`.
    pub fn resolve_compact_id(&self, id: i32) -> Option<String> {
        let resolver = self.resolver.read().clone()?;
        resolver(id)
    }

    /// An empty instance for `type_id` from its factory or the default one.
    pub(crate) fn create(&self, type_id: &str) -> Option<Box<dyn Value>> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        if let Some(v) = self.find(type_id).and_then(|f| f(type_id)) {
            return Some(v);
        }
        if type_id.is_empty() {
            return None;
        }
        self.find("").and_then(|f| f(type_id))
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
            Some(r) if r.is_filled() => r,
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
        if r.read().is_some_and(|v| v.has_marshal_hooks()) {
            if let Some(mut v) = r.write() {
                v.ice_pre_marshal();
            }
        }
        let slot = r.0.read_recursive();
        let Some(inst) = slot.as_ref() else { return };
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
                if let (Some(c), true) = (compact_id, WRITE_COMPACT_IDS || type_id.is_empty()) {
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
    /// Typed references read before their instance: checked once filled.
    checks: Vec<PendingCheck>,
    /// Instances read whose `ice_post_unmarshal` is still to run.
    unmarshaled: Vec<ClassRef>,
}

/// A typed reference whose instance was not read yet: the class it must be.
#[derive(Debug)]
struct PendingCheck {
    r: ClassRef,
    is_expected: fn(&dyn Value) -> bool,
    expected: &'static str,
}

fn is_a<T: Any>(v: &dyn Value) -> bool {
    v.is::<T>()
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
        if value.has_marshal_hooks() {
            self.classes.unmarshaled.push(r.clone());
        }
        r.fill(value, sliced);
        if self.classes.depth == 0 {
            self.run_post_unmarshal();
        }
        Ok(r)
    }

    /// Calls `ice_post_unmarshal` on the instances read so far that want it.
    fn run_post_unmarshal(&mut self) {
        if self.classes.unmarshaled.is_empty() {
            return;
        }
        for r in std::mem::take(&mut self.classes.unmarshaled) {
            if let Some(mut v) = r.write() {
                v.ice_post_unmarshal();
            }
        }
    }

    /// An empty instance of `type_id`: from the communicator's value
    /// factories, then the generated types.
    fn new_instance(&self, type_id: &str) -> Option<Box<dyn Value>> {
        if let Some(v) = self
            .communicator()
            .and_then(|c| c.value_factory_manager().create(type_id))
        {
            return Some(v);
        }
        self.registry.value(type_id).map(|make| make())
    }

    /// Reads a reference to an instance of class `T` (or a derived class).
    ///
    /// # Errors
    /// [`Error::UnexpectedObject`] when the instance is of another class
    /// (for an instance that arrives later, reported by
    /// [`InputStream::read_pending_classes`]).
    pub fn read_class_of<T: ValueType>(&mut self) -> Result<Option<Class<T>>> {
        let Some(r) = self.read_class()? else {
            return Ok(None);
        };
        match r.read() {
            Some(v) if !v.is::<T>() => {
                return Err(Error::UnexpectedObject {
                    expected: T::TYPE_ID,
                    received: v.ice_id().to_owned(),
                })
            }
            Some(_) => {}
            None => self.classes.checks.push(PendingCheck {
                r: r.clone(),
                is_expected: is_a::<T>,
                expected: T::TYPE_ID,
            }),
        }
        Ok(Some(Class::from_ref(r)))
    }

    /// Checks the typed references read before their instances.
    fn check_pending_types(&mut self) -> Result<()> {
        for c in std::mem::take(&mut self.classes.checks) {
            match c.r.read() {
                Some(v) if (c.is_expected)(&*v) => {}
                Some(v) => {
                    return Err(Error::UnexpectedObject {
                        expected: c.expected,
                        received: v.ice_id().to_owned(),
                    })
                }
                None => {
                    return Err(Error::MissingInstance { id: 0 });
                }
            }
        }
        Ok(())
    }

    /// 1.1: finds the most-derived known slice of the instance on top and
    /// reads it, skipping unknown slices.
    fn read_instance_slices(&mut self) -> Result<Box<dyn Value>> {
        self.read_slice_header()?;
        let most_derived = self.current_type_name();
        loop {
            let frame = self.classes.frames.last().ok_or_else(missing_frame)?;
            let last = frame.flags & FLAG_IS_LAST_SLICE != 0;
            let type_id = match frame.compact_id {
                Some(c) => self.compact_type_id(c).unwrap_or_default(),
                None => std::borrow::Cow::Borrowed(frame.type_id.as_str()),
            };
            if let Some(mut value) = self.new_instance(&type_id) {
                if let Some(f) = self.classes.frames.last_mut() {
                    f.skip_first = true;
                }
                value.read_slices(self)?;
                return Ok(value);
            }
            self.skip_slice(&most_derived)?;
            if last {
                return Ok(Box::new(UnknownSlicedValue {
                    type_id: most_derived,
                }));
            }
            self.read_slice_header()?;
        }
    }

    /// The type id of compact id `c`: a generated type's, else the one the
    /// communicator's compact-id resolver gives.
    fn compact_type_id(&self, c: i32) -> Option<std::borrow::Cow<'static, str>> {
        if let Some(t) = self.registry.compact(c) {
            return Some(std::borrow::Cow::Borrowed(t));
        }
        self.communicator()
            .and_then(|comm| comm.value_factory_manager().resolve_compact_id(c))
            .map(std::borrow::Cow::Owned)
    }

    fn current_type_name(&self) -> String {
        match self.classes.frames.last() {
            Some(f) => match f.compact_id {
                Some(c) => self
                    .compact_type_id(c)
                    .map_or_else(|| format!("#{c}"), |t| t.into_owned()),
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
            return self.check_pending_types();
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
        if let Some((&id, _)) = self.classes.refs.iter().find(|(_, (r, _))| !r.is_filled()) {
            return Err(Error::MissingInstance { id: i64::from(id) });
        }
        self.check_pending_types()?;
        self.run_post_unmarshal();
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
        if r.is_filled() {
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
        let value = result?;
        if value.has_marshal_hooks() {
            self.classes.unmarshaled.push(r.clone());
        }
        r.fill(value, None);
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
            if let Some(mut value) = self.new_instance(&frame.type_id) {
                if let Some(f) = self.classes.frames.last_mut() {
                    f.skip_first = true;
                }
                value.read_slices(self)?;
                break value;
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

/// A nullable reference to an instance of class `T` as a field, element
/// or parameter.
impl<T: ValueType> Encode for Option<Class<T>> {
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::Class;
    fn encode(&self, out: &mut OutputStream) {
        out.write_class(self.as_ref().map(Class::as_class_ref));
    }
}

/// A borrowed nullable class reference, as generated proxies take class
/// parameters.
impl Encode for Option<&ClassRef> {
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::Class;
    fn encode(&self, out: &mut OutputStream) {
        out.write_class(*self);
    }
}

/// A borrowed nullable reference to an instance of class `T`, as
/// generated proxies take class parameters.
impl<T: ValueType> Encode for Option<&Class<T>> {
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::Class;
    fn encode(&self, out: &mut OutputStream) {
        out.write_class(self.map(Class::as_class_ref));
    }
}

impl<T: ValueType> Decode for Option<Class<T>> {
    const MIN_WIRE_SIZE: usize = 1;
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::Class;
    fn decode(input: &mut InputStream) -> Result<Self> {
        input.read_class_of::<T>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::EncodingVersion;
    use super::*;
    use pretty_assertions::assert_eq;

    /// `class Node { int value; Node next; }`
    #[derive(Debug, PartialEq, Default)]
    struct Node {
        value: i32,
        next: Option<Class<Node>>,
    }

    impl Value for Node {
        fn ice_id(&self) -> &str {
            Self::TYPE_ID
        }
        fn write_slices(&self, out: &mut OutputStream) {
            out.start_slice(Self::TYPE_ID, None, true);
            out.write_i32(self.value);
            out.write(&self.next);
            out.end_slice();
        }
        fn read_slices(&mut self, input: &mut InputStream) -> Result<()> {
            input.start_slice()?;
            self.value = input.read_i32()?;
            self.next = input.read()?;
            input.end_slice()
        }
        fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
            (target == TypeId::of::<Self>()).then_some(self as &dyn Any)
        }
        fn as_type_mut(&mut self, target: TypeId) -> Option<&mut dyn Any> {
            (target == TypeId::of::<Self>()).then_some(self as &mut dyn Any)
        }
        fn eq_value(&self, other: &dyn Value) -> bool {
            other.downcast_ref::<Self>() == Some(self)
        }
    }

    impl ValueType for Node {
        const TYPE_ID: &'static str = "::T::Node";
    }

    /// `class Leaf(3) { string s; }`, unrelated to `Node`, with hooks.
    #[derive(Debug, PartialEq, Default)]
    struct Leaf {
        s: String,
        pre: bool,
        post: bool,
    }

    impl Value for Leaf {
        fn ice_id(&self) -> &str {
            Self::TYPE_ID
        }
        fn write_slices(&self, out: &mut OutputStream) {
            out.start_slice(Self::TYPE_ID, Self::COMPACT_ID, true);
            out.write_string(&self.s);
            out.write_bool(self.pre);
            out.end_slice();
        }
        fn read_slices(&mut self, input: &mut InputStream) -> Result<()> {
            input.start_slice()?;
            self.s = input.read()?;
            self.pre = input.read()?;
            input.end_slice()
        }
        fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
            (target == TypeId::of::<Self>()).then_some(self as &dyn Any)
        }
        fn as_type_mut(&mut self, target: TypeId) -> Option<&mut dyn Any> {
            (target == TypeId::of::<Self>()).then_some(self as &mut dyn Any)
        }
        fn has_marshal_hooks(&self) -> bool {
            true
        }
        fn ice_pre_marshal(&mut self) {
            self.pre = true;
        }
        fn ice_post_unmarshal(&mut self) {
            self.post = true;
        }
    }

    impl ValueType for Leaf {
        const TYPE_ID: &'static str = "::T::Leaf";
        const COMPACT_ID: Option<i32> = Some(3);
    }

    fn registry() -> Arc<Registry> {
        let mut r = Registry::new();
        r.add_value::<Node>().add_value::<Leaf>();
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

    fn decode_with<T>(
        bytes: &[u8],
        max_depth: usize,
        read: impl FnOnce(&mut InputStream) -> Result<T>,
    ) -> Result<T> {
        let mut input = InputStream::from_slice(bytes, EncodingVersion::V1_1)
            .with_registry(registry())
            .with_max_depth(max_depth);
        input.start_encapsulation()?;
        let v = read(&mut input)?;
        input.read_pending_classes()?;
        input.end_encapsulation()?;
        Ok(v)
    }

    fn decode(bytes: &[u8], max_depth: usize) -> Result<Option<Class<Node>>> {
        decode_with(bytes, max_depth, InputStream::read_class_of::<Node>)
    }

    /// Two nodes pointing at each other, built the way an application
    /// would: make both, then close the cycle through `write`.
    fn cycle() -> Class<Node> {
        let a = Class::new(Node {
            value: 1,
            next: None,
        });
        let b = Class::new(Node {
            value: 2,
            next: Some(a.clone()),
        });
        a.write().next = Some(b);
        a
    }

    const FORMATS: [(EncodingVersion, Format); 3] = [
        (EncodingVersion::V1_0, Format::Compact),
        (EncodingVersion::V1_1, Format::Compact),
        (EncodingVersion::V1_1, Format::Sliced),
    ];

    #[test]
    fn cycles_decode_to_shared_instances_in_every_format() {
        for (enc, format) in FORMATS {
            let original = cycle();
            let bytes = encode(original.as_class_ref(), enc, format);
            let a = decode(&bytes, 100);
            let Ok(Some(a)) = a else {
                panic!("{enc:?} {format:?}: {a:?}");
            };
            assert_eq!(a.read().value, 1);
            let b = a.read().next.clone();
            let b = b.as_ref().map(|b| (b.read().value, b.read().next.clone()));
            assert_eq!(b.as_ref().map(|b| b.0), Some(2));
            let back = b.and_then(|b| b.1);
            assert!(back.is_some_and(|x| Class::ptr_eq(&x, &a)));
            assert_eq!(a, original);
            // Break the cycles so both graphs are freed.
            a.write().next = None;
            original.write().next = None;
        }
    }

    #[test]
    fn decoded_instances_can_be_changed_and_sent_again() {
        let n = Class::new(Node {
            value: 5,
            next: None,
        });
        let bytes = encode(n.as_class_ref(), EncodingVersion::V1_1, Format::Compact);
        let Ok(Some(d)) = decode(&bytes, 100) else {
            panic!("not decoded");
        };
        d.write().value = 6;
        d.write().next = Some(Class::new(Node {
            value: 7,
            next: None,
        }));
        let again = encode(d.as_class_ref(), EncodingVersion::V1_1, Format::Compact);
        let Ok(Some(e)) = decode(&again, 100) else {
            panic!("not decoded");
        };
        assert_eq!(e.read().value, 6);
        assert_eq!(e.read().next.as_ref().map(|n| n.read().value), Some(7));
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
        let mut head: Option<Class<Node>> = None;
        for i in 0..50 {
            head = Some(Class::new(Node {
                value: i,
                next: head,
            }));
        }
        let Some(head) = head else { return };
        for enc in [EncodingVersion::V1_0, EncodingVersion::V1_1] {
            let bytes = encode(head.as_class_ref(), enc, Format::Compact);
            assert!(decode(&bytes, 100).is_ok());
            assert!(matches!(
                decode(&bytes, 10),
                Err(Error::ClassGraphTooDeep { max: 10 })
            ));
        }
    }

    #[test]
    fn an_instance_of_another_class_is_refused() {
        for (enc, format) in FORMATS {
            let leaf = ClassRef::new(Leaf::default());
            let bytes = encode(&leaf, enc, format);
            let r = decode(&bytes, 100);
            assert!(
                matches!(
                    &r,
                    Err(Error::UnexpectedObject { expected: "::T::Node", received })
                        if received == "::T::Leaf"
                ),
                "{enc:?} {format:?}: {r:?}"
            );
        }
    }

    #[test]
    fn hooks_run_on_both_sides() {
        for (enc, format) in FORMATS {
            let leaf = Class::new(Leaf {
                s: "x".into(),
                ..Leaf::default()
            });
            let bytes = encode(leaf.as_class_ref(), enc, format);
            assert!(leaf.read().pre, "ice_pre_marshal ran on the sender");
            let r = decode_with(&bytes, 100, InputStream::read_class_of::<Leaf>);
            let Ok(Some(d)) = r else {
                panic!("{enc:?} {format:?}: {r:?}");
            };
            assert!(d.read().pre, "the flag set by ice_pre_marshal arrived");
            assert!(d.read().post, "ice_post_unmarshal ran on the receiver");
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
        assert_eq!(
            v.as_ref().and_then(|v| v.ice_id()).as_deref(),
            Some("::T::Node")
        );
        if let Some(v) = v {
            assert_eq!(encode(&v, EncodingVersion::V1_1, Format::Sliced), bytes);
        }
    }

    /// `Leaf` arrives by compact id (as a writer that sends them would
    /// send it); a receiver that does not know it keeps the slice and sends
    /// it back with the compact id, so the original sender can read it.
    #[test]
    fn preserved_slices_keep_their_compact_id() {
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        out.start_encapsulation(EncodingVersion::V1_1, Format::Sliced);
        out.write_size(1);
        out.push_frame(SliceKind::Value);
        out.write_u8(FLAG_HAS_TYPE_ID_COMPACT | FLAG_HAS_SLICE_SIZE | FLAG_IS_LAST_SLICE);
        out.write_size(3);
        out.write_i32(4 + 4);
        out.write_string("hi");
        out.write_bool(false);
        out.pop_frame();
        out.end_encapsulation();
        let sent = out.into_vec();
        // A receiver without `Leaf`.
        let mut input = InputStream::from_slice(&sent, EncodingVersion::V1_1);
        assert!(input.start_encapsulation().is_ok());
        let v = input.read_class().ok().flatten();
        let Some(v) = v else { panic!("not decoded") };
        assert_eq!(
            v.sliced_data().map(|d| d.slices[0].compact_id),
            Some(Some(3))
        );
        let back = encode(&v, EncodingVersion::V1_1, Format::Sliced);
        assert_eq!(back, sent);
        let d = decode_with(&back, 100, InputStream::read_class_of::<Leaf>);
        assert_eq!(
            d.ok().flatten().map(|l| l.read().s.clone()),
            Some("hi".into())
        );
    }
}
