//! The Ice encoding: values to bytes and back, in encodings 1.0 and 1.1.
//!
//! [`OutputStream`] writes little-endian Ice data into a growable buffer;
//! [`InputStream`] reads it from a [`bytes::Bytes`] without copying byte
//! sequences. Types are written by implementing [`Encode`] and read by
//! implementing [`Decode`]; the code generator emits exactly these impls.
//! Classes ([`class`]), user exceptions ([`exception`]), optional values
//! ([`optional`]) and proxies ([`proxy`]) build on the same two streams.
//!
//! This layer is pure: no I/O, no async. Framing of whole messages belongs
//! to the protocol layer above.

pub mod builtins;
pub mod class;
pub mod encaps;
pub mod error;
pub mod exception;
pub mod fixed;
pub mod input;
pub mod optional;
pub mod output;
pub mod pool;
pub mod proxy;

pub use class::{
    Class, ClassRef, IsA, Registry, SliceInfo, SlicedData, UnknownSlicedValue, Value, ValueFactory,
    ValueFactoryManager, ValueType,
};
pub use error::{Error, Result};
pub use exception::{Thrown, UserException, UserExceptionType};
pub use fixed::FixedWire;
pub use input::InputStream;
pub use optional::OptionalFormat;
pub use output::OutputStream;
pub use proxy::{
    Endpoint, Identity, IpEndpoint, OpaqueEndpoint, ProxyData, UdpEndpoint, WsEndpoint,
};

/// An encoding version (`major.minor`), as carried by encapsulation headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EncodingVersion {
    /// Major version (always 1).
    pub major: u8,
    /// Minor version (0 or 1).
    pub minor: u8,
}

impl EncodingVersion {
    /// Encoding 1.0, the only one Ice 3.4-era peers speak.
    pub const V1_0: Self = Self { major: 1, minor: 0 };
    /// Encoding 1.1, the default of Ice 3.5 and later.
    pub const V1_1: Self = Self { major: 1, minor: 1 };

    /// Whether this implementation can read and write this encoding.
    pub fn is_supported(self) -> bool {
        self == Self::V1_0 || self == Self::V1_1
    }

    /// Whether this is encoding 1.0.
    pub fn is_1_0(self) -> bool {
        self == Self::V1_0
    }
}

impl std::fmt::Display for EncodingVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A protocol version (`major.minor`), carried by proxies in encoding 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolVersion {
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl ProtocolVersion {
    /// Protocol 1.0, the only protocol Ice speaks.
    pub const V1_0: Self = Self { major: 1, minor: 0 };
}

/// How class instances and exceptions are laid out in encoding 1.1.
///
/// Ignored by encoding 1.0, which has a single layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Slices without sizes: smallest, but a receiver cannot skip unknown slices.
    #[default]
    Compact,
    /// Slices with sizes and indirection tables: unknown slices can be skipped.
    Sliced,
}

/// A type that can be written to an [`OutputStream`].
///
/// Generated structs, enums and sequences implement this; classes and
/// exceptions implement [`Value`] and [`UserException`] instead.
pub trait Encode {
    /// The wire size when every value of the type has the same size
    /// (Slice's "fixed-size" types), `None` otherwise.
    const FIXED_SIZE: Option<usize> = None;
    /// The format of the type when written as an optional value.
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::FSize;

    /// Writes `self`.
    fn encode(&self, out: &mut OutputStream);

    /// Writes a run of values (the elements of a sequence, after its size).
    /// Primitive types override this with a bulk copy.
    fn encode_slice(items: &[Self], out: &mut OutputStream)
    where
        Self: Sized,
    {
        for item in items {
            item.encode(out);
        }
    }

    /// Writes `self` as the body of an optional value (after the tag),
    /// adding the size prefix its [`Self::OPTIONAL_FORMAT`] calls for.
    fn encode_optional(&self, out: &mut OutputStream) {
        optional::encode_optional_default(self, Self::FIXED_SIZE, Self::OPTIONAL_FORMAT, out);
    }
}

/// A type that can be read from an [`InputStream`].
pub trait Decode: Sized {
    /// The least number of bytes one value occupies on the wire; used to
    /// check a count against the remaining input before allocating.
    const MIN_WIRE_SIZE: usize = 1;
    /// The wire size when fixed, as in [`Encode::FIXED_SIZE`].
    const FIXED_SIZE: Option<usize> = None;
    /// The format of the type when read as an optional value.
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::FSize;

    /// Reads one value.
    fn decode(input: &mut InputStream) -> Result<Self>;

    /// Reads `count` values (a sequence's elements); the caller has already
    /// checked `count * MIN_WIRE_SIZE` against the input. Primitive types
    /// override this with a bulk copy.
    fn decode_vec(input: &mut InputStream, count: usize) -> Result<Vec<Self>> {
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(Self::decode(input)?);
        }
        Ok(items)
    }

    /// Reads the body of an optional value (after the tag), skipping the
    /// size prefix its [`Self::OPTIONAL_FORMAT`] carries.
    fn decode_optional(input: &mut InputStream) -> Result<Self> {
        optional::decode_optional_default::<Self>(Self::FIXED_SIZE, Self::OPTIONAL_FORMAT, input)
    }
}

/// The buffer type byte sequences are read into without copying.
pub use bytes::Bytes;
