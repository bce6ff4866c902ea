//! The one error type of the encoding layer.
//!
//! Every failure names what was being read (`what`), so a bad frame can be
//! logged with a useful line. Nothing here is ever raised by a panic: each
//! decoder path returns one of these variants instead.

use thiserror::Error;

/// An error raised while encoding or decoding Ice data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The input ended before a value was complete.
    #[error("unexpected end of input reading {what}: needed {needed} bytes, {remaining} remain")]
    EndOfInput {
        /// What was being read.
        what: &'static str,
        /// Bytes the value needed.
        needed: usize,
        /// Bytes that remained.
        remaining: usize,
    },
    /// A size or count read from the wire cannot fit in the bytes that remain.
    #[error("{what}: count {count} times at least {min_each} bytes each exceeds the {remaining} bytes that remain")]
    SizeExceedsInput {
        /// What was being read.
        what: &'static str,
        /// The count read from the wire.
        count: usize,
        /// The least wire size of one element.
        min_each: usize,
        /// Bytes that remained.
        remaining: usize,
    },
    /// A size read from the wire was negative.
    #[error("negative size {value} reading {what}")]
    NegativeSize {
        /// What was being read.
        what: &'static str,
        /// The value read.
        value: i32,
    },
    /// A string was not valid UTF-8.
    #[error("invalid UTF-8 reading {what} at byte {valid_up_to}")]
    InvalidUtf8 {
        /// What was being read.
        what: &'static str,
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// An enum value on the wire matches no enumerator.
    #[error("invalid enumerator {value} for enum {type_name}")]
    InvalidEnumerator {
        /// The Slice enum.
        type_name: &'static str,
        /// The value read.
        value: i32,
    },
    /// An encapsulation uses an encoding this implementation does not know.
    #[error("unsupported encoding {major}.{minor} in {what}")]
    UnsupportedEncoding {
        /// What was being read.
        what: &'static str,
        /// Major version read.
        major: u8,
        /// Minor version read.
        minor: u8,
    },
    /// An encapsulation header is inconsistent with the input.
    #[error("invalid encapsulation size {size} ({remaining} bytes remain) reading {what}")]
    InvalidEncapsulationSize {
        /// What was being read.
        what: &'static str,
        /// Size read from the header.
        size: i32,
        /// Bytes that remained after the size field.
        remaining: usize,
    },
    /// An encapsulation was not read to its end (or read past it).
    #[error("encapsulation size mismatch: {unread} bytes left unread")]
    EncapsulationMismatch {
        /// Bytes left between the read position and the end (negative if read past).
        unread: i64,
    },
    /// `end_encapsulation` without a matching start, or the reverse.
    #[error("unbalanced encapsulation: {what}")]
    UnbalancedEncapsulation {
        /// What went wrong.
        what: &'static str,
    },
    /// A proxy on the wire is malformed.
    #[error("invalid proxy: {reason}")]
    InvalidProxy {
        /// Why it was rejected.
        reason: &'static str,
        /// The offending value, where one applies.
        value: i64,
    },
    /// A class instance id or reference is malformed.
    #[error("invalid class instance reference {id} reading {what}")]
    InvalidInstanceId {
        /// What was being read.
        what: &'static str,
        /// The id read.
        id: i64,
    },
    /// A class or exception slice is malformed.
    #[error("invalid slice: {reason}")]
    InvalidSlice {
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A type-id index refers to no type id read so far.
    #[error("unknown type-id index {index}")]
    UnknownTypeIdIndex {
        /// The index read.
        index: usize,
    },
    /// The class graph is nested deeper than the limit.
    #[error("class graph depth exceeds {max}")]
    ClassGraphTooDeep {
        /// The configured limit.
        max: usize,
    },
    /// No factory knows the type and it cannot be sliced off.
    #[error("no value factory for {type_id}: {reason}")]
    NoValueFactory {
        /// Most-derived type id (or compact id as `#n`).
        type_id: String,
        /// Why slicing could not help.
        reason: &'static str,
    },
    /// A user exception none of whose slices is known.
    #[error("unknown user exception {type_id}")]
    UnknownUserException {
        /// The most-derived type id on the wire.
        type_id: String,
    },
    /// A factory is registered for this id already.
    #[error("{kind} already registered for `{id}`")]
    AlreadyRegistered {
        /// What was registered.
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// A class instance is not of the class its member, element or
    /// parameter declares (Ice's `UnexpectedObjectException`).
    #[error("unexpected class instance: expected {expected}, received {received}")]
    UnexpectedObject {
        /// The declared class.
        expected: &'static str,
        /// The most-derived type id received.
        received: String,
    },
    /// A class reference was never matched by an instance.
    #[error("class instance {id} referenced but never sent")]
    MissingInstance {
        /// The instance id.
        id: i64,
    },
    /// An optional value's format differs from the expected one.
    #[error("optional tag {tag}: expected format {expected}, found {found}")]
    OptionalFormatMismatch {
        /// The tag.
        tag: i32,
        /// Expected format code.
        expected: u8,
        /// Format code on the wire.
        found: u8,
    },
    /// A decoded value is of another class than the one expected.
    #[error("class instance of type {found} where {expected} was expected")]
    UnexpectedClass {
        /// Expected type id.
        expected: &'static str,
        /// Type id found.
        found: String,
    },
    /// A stream operation was used out of order (a caller bug, not input).
    #[error("stream misuse: {what}")]
    Misuse {
        /// What was wrong.
        what: &'static str,
    },
}

/// Result alias of the encoding layer.
pub type Result<T> = std::result::Result<T, Error>;
