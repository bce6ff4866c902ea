//! The Ice protocol (1.0): message headers, framing and compression.
//!
//! This layer turns bytes into frames and frames into bytes. It knows no
//! sockets (that is `transport` and `connection`) and no servants (that is
//! the object adapter).

mod frame;
mod message;

pub use message::{
    decode_batch, encode_batch, Context, Encapsulation, OperationMode, Reply, ReplyBody,
    ReplyStatus, Request, RequestFailed, RequestHeader,
};

pub use frame::{
    CompressionStatus, Frame, FrameDecoder, FrameEncoder, Header, MessageParts, MessageType,
    COMPRESSION_THRESHOLD, DEFAULT_MESSAGE_SIZE_MAX, HEADER_SIZE, MAGIC, PROTOCOL_ENCODING,
    PROTOCOL_VERSION,
};

use thiserror::Error;

/// What was wrong with a message read from a connection. Each of these
/// closes the connection it arrived on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The message does not start with `IceP`.
    #[error("bad magic {found:02x?} in message header")]
    BadMagic {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// The peer speaks a protocol major version other than 1.
    #[error("unsupported protocol {major}.{minor}")]
    UnsupportedProtocol {
        /// Major version in the header.
        major: u8,
        /// Minor version in the header.
        minor: u8,
    },
    /// The header's protocol encoding is not 1.x.
    #[error("unsupported protocol encoding {major}.{minor}")]
    UnsupportedProtocolEncoding {
        /// Major version in the header.
        major: u8,
        /// Minor version in the header.
        minor: u8,
    },
    /// The message type byte is not one of the five kinds.
    #[error("unknown message type {value}")]
    UnknownMessageType {
        /// The byte found.
        value: u8,
    },
    /// The compression status byte is not 0, 1 or 2.
    #[error("invalid compression status {value}")]
    InvalidCompressionStatus {
        /// The byte found.
        value: u8,
    },
    /// The size in the header is smaller than a header or otherwise impossible.
    #[error("illegal message size {size}")]
    IllegalMessageSize {
        /// The size found.
        size: i64,
    },
    /// The message is larger than `Ice.MessageSizeMax` allows.
    #[error("message of {size} bytes exceeds Ice.MessageSizeMax ({max} bytes)")]
    MessageTooLarge {
        /// The size announced.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// The body of a request or reply could not be decoded.
    #[error("malformed message body: {0}")]
    Encoding(#[from] crate::encoding::Error),
    /// A request's operation mode byte is not 0, 1 or 2.
    #[error("invalid operation mode {value}")]
    InvalidOperationMode {
        /// The byte found.
        value: u8,
    },
    /// A facet sequence holds more than one element.
    #[error("facet sequence of {count} elements (at most 1 allowed)")]
    InvalidFacet {
        /// The count found.
        count: usize,
    },
    /// A reply status byte is not one of Ice's eight.
    #[error("invalid reply status {value}")]
    InvalidReplyStatus {
        /// The byte found.
        value: u8,
    },
    /// A batch request announces a negative count.
    #[error("invalid batch request count {count}")]
    InvalidBatchCount {
        /// The count found.
        count: i64,
    },
    /// A message body has bytes after its last field.
    #[error("{count} unexpected bytes after the {what} body")]
    TrailingBytes {
        /// Which message.
        what: &'static str,
        /// How many bytes were left.
        count: usize,
    },
    /// A compressed message could not be decompressed.
    #[error("bad compressed message: {reason}")]
    BadCompressedBody {
        /// What was wrong.
        reason: &'static str,
    },
}
