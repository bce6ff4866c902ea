//! Hand-written Rust mirrors of `tests/golden/encoding/Fixtures.ice`, standing
//! in for what slice2rs will generate: each type implements the `ice-proto`
//! encoding traits and nothing else ([`Encode`]/[`Decode`] for structs and
//! enums, [`Value`]/[`ValueType`] for classes, [`UserException`]/
//! [`UserExceptionType`] for exceptions). `GoldenHidden.ice` is deliberately
//! NOT mirrored: those types exercise slicing.
//!
//! [`show`] prints values in the notation of `golden.cpp`'s printer (the
//! manifest's `value` column), so decoded values can be compared with what
//! ZeroC Ice wrote.

#![allow(dead_code)] // Each test binary uses a different part of the mirrors.

pub mod cases;
pub mod show;

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::sync::Arc;

pub use ice_proto::encoding::Bytes;
use ice_proto::encoding::{
    ClassRef, Decode, Encode, Error, InputStream, OptionalFormat, OutputStream, ProxyData,
    Registry, Result, UserException, UserExceptionType, Value, ValueType,
};

use show::{Printer, Show};

/// Sum of fixed sizes; `None` if any member is variable-size.
pub const fn fixed_sum(xs: &[Option<usize>]) -> Option<usize> {
    let mut total = 0;
    let mut i = 0;
    while i < xs.len() {
        match xs[i] {
            Some(n) => total += n,
            None => return None,
        }
        i += 1;
    }
    Some(total)
}

const fn struct_format(fixed: Option<usize>) -> OptionalFormat {
    match fixed {
        Some(_) => OptionalFormat::VSize,
        None => OptionalFormat::FSize,
    }
}

macro_rules! golden_struct {
    ($name:ident { $($f:ident : $t:ty),* $(,)? }) => {
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name { $(pub $f: $t),* }

        impl Encode for $name {
            const FIXED_SIZE: Option<usize> = fixed_sum(&[$(<$t as Encode>::FIXED_SIZE),*]);
            const OPTIONAL_FORMAT: OptionalFormat = struct_format(<Self as Encode>::FIXED_SIZE);
            fn encode(&self, out: &mut OutputStream) {
                $(self.$f.encode(out);)*
            }
        }

        impl Decode for $name {
            const MIN_WIRE_SIZE: usize = 0 $(+ <$t as Decode>::MIN_WIRE_SIZE)*;
            const FIXED_SIZE: Option<usize> = fixed_sum(&[$(<$t as Decode>::FIXED_SIZE),*]);
            const OPTIONAL_FORMAT: OptionalFormat = struct_format(<Self as Decode>::FIXED_SIZE);
            fn decode(input: &mut InputStream) -> Result<Self> {
                Ok(Self { $($f: <$t as Decode>::decode(input)?),* })
            }
        }

        impl Show for $name {
            fn show(&self, p: &mut Printer) {
                p.open();
                $(p.item(&self.$f);)*
                p.close();
            }
        }
    };
}

golden_struct!(Small {
    name: String,
    value: f64
});
golden_struct!(Fixed {
    flag: bool,
    b: u8,
    s: i16,
    i: i32,
    l: i64,
    f: f32,
    d: f64
});
golden_struct!(Point { x: i32, y: i32 });
golden_struct!(Nested {
    small: Small,
    point: Point,
    color: Color,
    ints: Vec<i32>,
    names: BTreeMap<i32, String>,
    label: String,
});
golden_struct!(BaseBox { item: Option<ClassRef>, n: i32 });
golden_struct!(ProxyBox { prx: Option<ProxyData>, tag: String });

const fn max_of(xs: &[i32]) -> i32 {
    let mut m = 0;
    let mut i = 0;
    while i < xs.len() {
        if xs[i] > m {
            m = xs[i];
        }
        i += 1;
    }
    m
}

macro_rules! golden_enum {
    ($name:ident, $label:literal, $named:literal, [$($v:ident = $n:expr),* $(,)?]) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
        #[allow(clippy::enum_variant_names)] // Named exactly as the Slice enumerators.
        pub enum $name { #[default] $($v = $n),* }

        impl $name {
            /// The largest enumerator.
            pub const MAX: i32 = max_of(&[$($n),*]);
            fn from_i32(v: i32) -> Option<Self> {
                $(if v == $n { return Some(Self::$v); })*
                None
            }
            fn name(self) -> &'static str {
                match self { $(Self::$v => stringify!($v)),* }
            }
        }

        impl Encode for $name {
            const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::Size;
            fn encode(&self, out: &mut OutputStream) {
                out.write_enum(*self as i32, Self::MAX);
            }
        }

        impl Decode for $name {
            const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::Size;
            fn decode(input: &mut InputStream) -> Result<Self> {
                let v = input.read_enum(Self::MAX, $label)?;
                Self::from_i32(v).ok_or(Error::InvalidEnumerator { type_name: $label, value: v })
            }
        }

        impl Show for $name {
            fn show(&self, p: &mut Printer) {
                if $named {
                    p.raw(&format!("{}::{}({})", $label, self.name(), *self as i32));
                } else {
                    p.raw(&format!("{}({})", $label, *self as i32));
                }
            }
        }
    };
}

// `#[default]` must sit on the first enumerator; the macro puts it there.
golden_enum!(Color, "Color", true, [Red = 0, Green = 1, Blue = 2]);
golden_enum!(
    Sparse,
    "Sparse",
    false,
    [SparseOne = 1, SparseFive = 5, SparseHundred = 100]
);
golden_enum!(Max126, "Max126", false, [Lo126 = 0, Hi126 = 126]);
golden_enum!(Max127, "Max127", false, [Lo127 = 0, Hi127 = 127]);
golden_enum!(Max32766, "Max32766", false, [Lo32766 = 0, Hi32766 = 32766]);
golden_enum!(Max32767, "Max32767", false, [Lo32767 = 0, Hi32767 = 32767]);
golden_enum!(
    BigEnum,
    "BigEnum",
    false,
    [BigZero = 0, BigMid = 70000, BigMax = 2147483647]
);

/// Fields of a class or exception, base members first (C++ `ice_tuple`).
pub trait ShowFields {
    /// Prints the fields as items of the enclosing `{...}`.
    fn show_fields(&self, p: &mut Printer);
}

macro_rules! golden_class {
    (
        $name:ident $(: $base:ident)?, $tid:literal, compact $compact:expr, preserve $preserve:expr,
        { $($f:ident : $t:ty),* $(,)? }
        optional { $($tag:literal $of:ident : $ot:ty),* $(,)? }
    ) => {
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $(pub base: $base,)?
            $(pub $f: $t,)*
            $(pub $of: Option<$ot>,)*
        }

        impl Value for $name {
            fn ice_id(&self) -> &str {
                $tid
            }
            fn write_slices(&self, out: &mut OutputStream) {
                let last = true $(&& stringify!($base).is_empty())?;
                out.start_slice($tid, $compact, last);
                $(self.$f.encode(out);)*
                $(out.write_optional($tag, self.$of.as_ref());)*
                out.end_slice();
                $(<$base as Value>::write_slices(&self.base, out);)?
            }
            fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
                if target == TypeId::of::<Self>() {
                    return Some(self);
                }
                $(return <$base as Value>::as_type(&self.base, target);)?
                #[allow(unreachable_code)]
                None
            }
            fn preserves_slices(&self) -> bool {
                $preserve
            }
            fn eq_value(&self, other: &dyn Value) -> bool {
                other.ice_id() == self.ice_id() && other.downcast_ref::<Self>() == Some(self)
            }
        }

        impl ValueType for $name {
            const TYPE_ID: &'static str = $tid;
            const COMPACT_ID: Option<i32> = $compact;
            fn read_slices(input: &mut InputStream) -> Result<Self> {
                input.start_slice()?;
                $(let $f = <$t as Decode>::decode(input)?;)*
                $(let $of = input.read_optional::<$ot>($tag)?;)*
                input.end_slice()?;
                Ok(Self {
                    $(base: <$base as ValueType>::read_slices(input)?,)?
                    $($f,)*
                    $($of,)*
                })
            }
        }

        impl ShowFields for $name {
            #[allow(unused_variables)] // Empty classes print nothing.
            fn show_fields(&self, p: &mut Printer) {
                $(<$base as ShowFields>::show_fields(&self.base, p);)?
                $(p.item(&self.$f);)*
                $(p.item(&self.$of);)*
            }
        }
    };
}

golden_class!(Base, "::Golden::Base", compact None, preserve false,
    { id: i32, name: String } optional {});
golden_class!(Derived: Base, "::Golden::Derived", compact None, preserve false,
    { weight: f64, values: Vec<i32> } optional {});
golden_class!(MoreDerived: Derived, "::Golden::MoreDerived", compact None, preserve false,
    { extra: String } optional {});
golden_class!(Pair, "::Golden::Pair", compact None, preserve false,
    { first: Option<ClassRef>, second: Option<ClassRef>, tag: String } optional {});
golden_class!(Node, "::Golden::Node", compact None, preserve false,
    { value: i32, next: Option<ClassRef> } optional {});
golden_class!(Optionals, "::Golden::Optionals", compact None, preserve false,
{ req: i32 }
optional {
    1 ob: u8, 2 obool: bool, 3 os: i16, 4 oi: i32, 5 of: f32, 6 ol: i64, 7 od: f64,
    8 oe: Color, 9 ostr: String, 10 obytes: Bytes, 11 opoint: Point, 12 oints: Vec<i32>,
    13 osmall: Small, 14 ostrs: Vec<String>, 15 odict: BTreeMap<i32, String>,
    16 ocls: Option<ClassRef>, 300 ofar: i32,
});
golden_class!(OptDerived: Base, "::Golden::OptDerived", compact None, preserve false,
    {} optional { 1 note: String, 2 count: i32 });
golden_class!(Compact, "::Golden::Compact", compact Some(7), preserve false,
    { k: i32 } optional {});
golden_class!(CompactDerived: Compact, "::Golden::CompactDerived", compact Some(8), preserve false,
    { label: String } optional {});
golden_class!(Preserved, "::Golden::Preserved", compact None, preserve true,
    { pv: i32 } optional {});
golden_class!(PreservedKnown: Preserved, "::Golden::PreservedKnown", compact None, preserve true,
    { known: String } optional {});
golden_class!(Empty, "::Golden::Empty", compact None, preserve false, {} optional {});

macro_rules! golden_exception {
    (
        $name:ident $(: $base:ident)?, $tid:literal, uses_classes $uses:expr,
        { $($f:ident : $t:ty),* $(,)? }
        optional { $($tag:literal $of:ident : $ot:ty),* $(,)? }
    ) => {
        #[derive(Debug, Clone, PartialEq, Default)]
        pub struct $name {
            $(pub base: $base,)?
            $(pub $f: $t,)*
            $(pub $of: Option<$ot>,)*
        }

        impl UserException for $name {
            fn ice_id(&self) -> &str {
                $tid
            }
            fn write_slices(&self, out: &mut OutputStream) {
                let last = true $(&& stringify!($base).is_empty())?;
                out.start_slice($tid, None, last);
                $(self.$f.encode(out);)*
                $(out.write_optional($tag, self.$of.as_ref());)*
                out.end_slice();
                $(<$base as UserException>::write_slices(&self.base, out);)?
            }
            fn uses_classes(&self) -> bool {
                $uses
            }
            fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
                if target == TypeId::of::<Self>() {
                    return Some(self);
                }
                $(return <$base as UserException>::as_type(&self.base, target);)?
                #[allow(unreachable_code)]
                None
            }
        }

        impl UserExceptionType for $name {
            const TYPE_ID: &'static str = $tid;
            fn read_slices(input: &mut InputStream) -> Result<Self> {
                input.start_slice()?;
                $(let $f = <$t as Decode>::decode(input)?;)*
                $(let $of = input.read_optional::<$ot>($tag)?;)*
                input.end_slice()?;
                Ok(Self {
                    $(base: <$base as UserExceptionType>::read_slices(input)?,)?
                    $($f,)*
                    $($of,)*
                })
            }
        }

        impl ShowFields for $name {
            fn show_fields(&self, p: &mut Printer) {
                $(<$base as ShowFields>::show_fields(&self.base, p);)?
                $(p.item(&self.$f);)*
                $(p.item(&self.$of);)*
            }
        }
    };
}

golden_exception!(BaseError, "::Golden::BaseError", uses_classes false,
    { code: i32, reason: String } optional {});
golden_exception!(DerivedError: BaseError, "::Golden::DerivedError", uses_classes true,
    { obj: Option<ClassRef>, amount: f64 } optional {});
golden_exception!(OptError: BaseError, "::Golden::OptError", uses_classes false,
    {} optional { 1 oi: i32, 2 os: String });

/// A registry knowing every mirrored class and exception.
pub fn registry() -> Arc<Registry> {
    let mut r = Registry::new();
    r.add_value::<Base>()
        .add_value::<Derived>()
        .add_value::<MoreDerived>()
        .add_value::<Pair>()
        .add_value::<Node>()
        .add_value::<Optionals>()
        .add_value::<OptDerived>()
        .add_value::<Compact>()
        .add_value::<CompactDerived>()
        .add_value::<Preserved>()
        .add_value::<PreservedKnown>()
        .add_value::<Empty>()
        .add_exception::<BaseError>()
        .add_exception::<DerivedError>()
        .add_exception::<OptError>();
    Arc::new(r)
}

/// Wraps a class value into a non-null reference.
pub fn cref<V: Value>(v: V) -> Option<ClassRef> {
    Some(ClassRef::new(v))
}

/// `Base{id, name}`.
pub fn base(id: i32, name: &str) -> Base {
    Base {
        id,
        name: name.into(),
    }
}

/// `Derived{id, name, weight, values}`.
pub fn derived(id: i32, name: &str, weight: f64, values: &[i32]) -> Derived {
    Derived {
        base: base(id, name),
        weight,
        values: values.to_vec(),
    }
}

/// `MoreDerived{id, name, weight, values, extra}`.
pub fn more(id: i32, name: &str, weight: f64, values: &[i32], extra: &str) -> MoreDerived {
    MoreDerived {
        base: derived(id, name, weight, values),
        extra: extra.into(),
    }
}
