//! The Ice protocol's 14-byte message header and the framing of whole
//! messages, with bzip2 compression.
//!
//! A codec in the sense of hyper's h1 or mini-redis: bytes in, frames out,
//! no sockets. [`FrameDecoder::decode`] says "incomplete" (`Ok(None)`) apart
//! from "malformed" (`Err`), and checks the magic, the versions and the
//! size limit from the header alone, before any body byte is buffered.
//!
//! Header layout (all messages, protocol 1.0):
//!
//! | bytes | field |
//! |---|---|
//! | 0..4 | magic `I` `c` `e` `P` |
//! | 4, 5 | protocol major, minor (1, 0) |
//! | 6, 7 | protocol encoding major, minor (1, 0) |
//! | 8 | message type |
//! | 9 | compression status: 0 none, 1 none but the sender accepts compressed replies, 2 compressed |
//! | 10..14 | total message size, header included, little-endian `i32` |
//!
//! A compressed message (status 2) carries, after the header, the size of
//! the whole uncompressed message as an `i32` and then the bzip2 stream of
//! the uncompressed body. The header's size field is then the compressed
//! total. Ice compresses nothing under 100 bytes.

use std::io::{Read, Write};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::ProtocolError;
use crate::encoding::{EncodingVersion, OutputStream};

/// The length of every message header.
pub const HEADER_SIZE: usize = 14;

/// The magic bytes that start every message.
pub const MAGIC: [u8; 4] = *b"IceP";

/// The protocol version this implementation speaks (1.0).
pub const PROTOCOL_VERSION: (u8, u8) = (1, 0);

/// The encoding of the protocol's own headers (always 1.0).
pub const PROTOCOL_ENCODING: (u8, u8) = (1, 0);

/// Messages shorter than this are never compressed, as in Ice.
pub const COMPRESSION_THRESHOLD: usize = 100;

/// Ice's default `Ice.MessageSizeMax`: 1 MiB.
pub const DEFAULT_MESSAGE_SIZE_MAX: usize = 1024 * 1024;

/// The five kinds of Ice protocol message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// A twoway or oneway request.
    Request = 0,
    /// One or more batched oneway requests.
    BatchRequest = 1,
    /// The reply to a twoway request.
    Reply = 2,
    /// Sent by a server when it accepts a connection.
    ValidateConnection = 3,
    /// Announces a graceful close.
    CloseConnection = 4,
}

impl MessageType {
    /// The message type for a header byte.
    ///
    /// # Errors
    /// [`ProtocolError::UnknownMessageType`] for any other byte.
    pub fn from_byte(b: u8) -> Result<Self, ProtocolError> {
        Ok(match b {
            0 => Self::Request,
            1 => Self::BatchRequest,
            2 => Self::Reply,
            3 => Self::ValidateConnection,
            4 => Self::CloseConnection,
            other => return Err(ProtocolError::UnknownMessageType { value: other }),
        })
    }
}

/// The compression status byte of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionStatus {
    /// Not compressed; the sender does not ask for compressed replies.
    NotCompressed = 0,
    /// Not compressed; the sender accepts a compressed reply.
    Accepted = 1,
    /// The body is compressed with bzip2.
    Compressed = 2,
}

impl CompressionStatus {
    /// The status for a header byte.
    ///
    /// # Errors
    /// [`ProtocolError::InvalidCompressionStatus`] for any other byte.
    pub fn from_byte(b: u8) -> Result<Self, ProtocolError> {
        Ok(match b {
            0 => Self::NotCompressed,
            1 => Self::Accepted,
            2 => Self::Compressed,
            other => return Err(ProtocolError::InvalidCompressionStatus { value: other }),
        })
    }
}

/// A parsed message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// What kind of message follows.
    pub message_type: MessageType,
    /// Whether (and how) the body is compressed.
    pub compression: CompressionStatus,
    /// The total size of the message on the wire, header included.
    pub size: usize,
}

impl Header {
    /// Parses and checks a header: magic, protocol and protocol-encoding
    /// versions, message type, compression status, and the size against
    /// `HEADER_SIZE` and `max_size`.
    ///
    /// # Errors
    /// A [`ProtocolError`] naming the first field that is wrong.
    pub fn parse(bytes: &[u8; HEADER_SIZE], max_size: usize) -> Result<Self, ProtocolError> {
        let mut b = &bytes[..];
        let mut magic = [0u8; 4];
        b.copy_to_slice(&mut magic);
        if magic != MAGIC {
            return Err(ProtocolError::BadMagic { found: magic });
        }
        let (pmaj, pmin) = (b.get_u8(), b.get_u8());
        if pmaj != PROTOCOL_VERSION.0 {
            return Err(ProtocolError::UnsupportedProtocol {
                major: pmaj,
                minor: pmin,
            });
        }
        let (emaj, emin) = (b.get_u8(), b.get_u8());
        if emaj != PROTOCOL_ENCODING.0 {
            return Err(ProtocolError::UnsupportedProtocolEncoding {
                major: emaj,
                minor: emin,
            });
        }
        let message_type = MessageType::from_byte(b.get_u8())?;
        let compression = CompressionStatus::from_byte(b.get_u8())?;
        let size = b.get_i32_le();
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s >= HEADER_SIZE)
            .ok_or(ProtocolError::IllegalMessageSize {
                size: i64::from(size),
            })?;
        if size > max_size {
            return Err(ProtocolError::MessageTooLarge {
                size,
                max: max_size,
            });
        }
        Ok(Self {
            message_type,
            compression,
            size,
        })
    }

    /// The header of a message of `size` bytes in all, as bytes.
    #[must_use]
    pub fn bytes(
        message_type: MessageType,
        compression: CompressionStatus,
        size: usize,
    ) -> [u8; HEADER_SIZE] {
        let mut h = [0u8; HEADER_SIZE];
        let size = i32::try_from(size).unwrap_or(i32::MAX).to_le_bytes();
        let fields = [
            MAGIC[0],
            MAGIC[1],
            MAGIC[2],
            MAGIC[3],
            PROTOCOL_VERSION.0,
            PROTOCOL_VERSION.1,
            PROTOCOL_ENCODING.0,
            PROTOCOL_ENCODING.1,
            message_type as u8,
            compression as u8,
            size[0],
            size[1],
            size[2],
            size[3],
        ];
        h.copy_from_slice(&fields);
        h
    }

    /// Writes a header for a message of `size` bytes in all.
    pub fn write(
        message_type: MessageType,
        compression: CompressionStatus,
        size: usize,
        dst: &mut BytesMut,
    ) {
        dst.put_slice(&Self::bytes(message_type, compression, size));
    }
}

/// One whole message: its type, the compression status its sender used,
/// and its body (decompressed, header removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What kind of message this is.
    pub message_type: MessageType,
    /// The compression status byte the sender used; a server answers a
    /// request sent with status 1 or 2 with a compressed reply when it can.
    pub compression: CompressionStatus,
    /// The message body after the header, decompressed.
    pub body: Bytes,
}

/// Splits a byte stream into frames.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_size: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MESSAGE_SIZE_MAX)
    }
}

impl FrameDecoder {
    /// A decoder that rejects messages larger than `max_size` bytes
    /// (`Ice.MessageSizeMax`, converted from KiB by the caller).
    #[must_use]
    pub fn new(max_size: usize) -> Self {
        Self { max_size }
    }

    /// The largest message accepted, in bytes.
    #[must_use]
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Peeks at the header at the start of `buf`, if all 14 bytes are there.
    ///
    /// # Errors
    /// As [`Header::parse`].
    pub fn peek_header(&self, buf: &[u8]) -> Result<Option<Header>, ProtocolError> {
        match buf
            .get(..HEADER_SIZE)
            .and_then(|h| <&[u8; HEADER_SIZE]>::try_from(h).ok())
        {
            Some(h) => Header::parse(h, self.max_size).map(Some),
            None => Ok(None),
        }
    }

    /// Takes one whole message off the front of `buf`. `Ok(None)` means more
    /// bytes are needed; the header is checked as soon as it is complete, so
    /// an oversized or malformed message fails before its body arrives.
    ///
    /// # Errors
    /// A [`ProtocolError`] for a malformed header or compressed body; the
    /// connection should then be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let Some(header) = self.peek_header(buf)? else {
            return Ok(None);
        };
        if buf.len() < header.size {
            buf.reserve(header.size - buf.len());
            return Ok(None);
        }
        let mut message = buf.split_to(header.size);
        message.advance(HEADER_SIZE);
        let body = match header.compression {
            CompressionStatus::Compressed => decompress(message.freeze(), self.max_size)?,
            _ => message.freeze(),
        };
        if matches!(
            header.message_type,
            MessageType::ValidateConnection | MessageType::CloseConnection
        ) && !body.is_empty()
        {
            return Err(ProtocolError::IllegalMessageSize {
                size: header.size as i64,
            });
        }
        Ok(Some(Frame {
            message_type: header.message_type,
            compression: header.compression,
            body,
        }))
    }
}

/// Decompresses the body of a status-2 message: an `i32` uncompressed total
/// size, then a bzip2 stream.
fn decompress(mut body: Bytes, max_size: usize) -> Result<Bytes, ProtocolError> {
    if body.len() < 4 {
        return Err(ProtocolError::BadCompressedBody {
            reason: "missing uncompressed size",
        });
    }
    let total = body.get_i32_le();
    let total = usize::try_from(total)
        .ok()
        .filter(|t| *t >= HEADER_SIZE)
        .ok_or(ProtocolError::IllegalMessageSize {
            size: i64::from(total),
        })?;
    if total > max_size {
        return Err(ProtocolError::MessageTooLarge {
            size: total,
            max: max_size,
        });
    }
    let want = total - HEADER_SIZE;
    // Exactly the announced size is allocated, once: the stream is read
    // into it and then checked to end there (reading to the end of a
    // vector that is full would double it first).
    let mut out = vec![0u8; want];
    let mut decoder = bzip2::read::BzDecoder::new(&body[..]);
    let bad = |_| ProtocolError::BadCompressedBody {
        reason: "invalid bzip2 stream",
    };
    let mut filled = 0;
    while filled < want {
        match decoder.read(&mut out[filled..]).map_err(bad)? {
            0 => break,
            n => filled += n,
        }
    }
    let mut probe = [0u8; 1];
    if filled != want || decoder.read(&mut probe).map_err(bad)? != 0 {
        return Err(ProtocolError::BadCompressedBody {
            reason: "uncompressed size differs from the announced size",
        });
    }
    Ok(Bytes::from(out))
}

/// Builds whole messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameEncoder;

/// One message as two byte strings sent one right after the other: `head`
/// (the message header and everything before the encapsulation body) and
/// `body`. A large body is handed to the socket as it is, shared with the
/// encapsulation it came from, instead of being copied behind its header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageParts {
    /// The message header and the start of the message.
    pub head: Bytes,
    /// The rest of the message (may be empty).
    pub body: Bytes,
}

impl MessageParts {
    /// A message already whole in `bytes`.
    #[must_use]
    pub fn whole(bytes: Bytes) -> Self {
        Self {
            head: bytes,
            body: Bytes::new(),
        }
    }

    /// The message's length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    /// Whether the message has no bytes at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The message as one contiguous buffer (copies a non-empty body).
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        if self.body.is_empty() {
            return self.head.clone();
        }
        let mut all = BytesMut::with_capacity(self.len());
        all.put_slice(&self.head);
        all.put_slice(&self.body);
        all.freeze()
    }
}

impl FrameEncoder {
    /// Appends a message with `body` to `dst`. With `compress`, a body whose
    /// message reaches [`COMPRESSION_THRESHOLD`] bytes is bzip2-compressed
    /// (status 2) when that makes it smaller; otherwise the message is sent
    /// as it is with status 1 (compression accepted) if `compress` was asked
    /// for, or 0.
    pub fn encode(message_type: MessageType, body: &[u8], compress: bool, dst: &mut BytesMut) {
        let total = HEADER_SIZE + body.len();
        if compress && total >= COMPRESSION_THRESHOLD {
            if let Some(packed) = compress_body(body) {
                let size = HEADER_SIZE + 4 + packed.len();
                if size < total {
                    dst.reserve(size);
                    Header::write(message_type, CompressionStatus::Compressed, size, dst);
                    dst.put_i32_le(i32::try_from(total).unwrap_or(i32::MAX));
                    dst.put_slice(&packed);
                    return;
                }
            }
        }
        dst.reserve(total);
        Header::write(message_type, plain_status(compress), total, dst);
        dst.put_slice(body);
    }

    /// A whole message whose body `write` produces (in encoding 1.0),
    /// written once into one buffer right behind the header, so a large
    /// body is not copied again as with [`Self::encode`] of a body built
    /// apart. `capacity` is a guess of the body's size. Compression as for
    /// [`Self::encode`] (a compressed body is still built apart first).
    pub fn encode_with(
        message_type: MessageType,
        compress: bool,
        capacity: usize,
        write: impl FnOnce(&mut OutputStream),
    ) -> Bytes {
        Self::encode_head(message_type, compress, capacity, Bytes::new(), write).head
    }

    /// A whole message as [`MessageParts`]: `write` produces everything
    /// up to `body` (in encoding 1.0), and `body` (a request's parameters
    /// or a reply's results) follows it without being copied. With
    /// `compress` and a message of at least [`COMPRESSION_THRESHOLD`] bytes,
    /// the message is built whole and compressed as by [`Self::encode`].
    pub fn encode_parts(
        message_type: MessageType,
        compress: bool,
        body: Bytes,
        write: impl FnOnce(&mut OutputStream),
    ) -> MessageParts {
        Self::encode_head(message_type, compress, 64, body, write)
    }

    /// [`Self::encode_parts`] for a `write` that appends exactly
    /// `head_len` bytes (in encoding 1.0) to a plain buffer, as a request's
    /// or reply's fixed fields are: the head is allocated once at its size
    /// and handed out as [`Bytes`] without a second allocation (a buffer
    /// with room to spare needs one to be shared), and no stream is made
    /// for it. Another length is still encoded correctly, at that extra
    /// cost. Compression as for [`Self::encode_parts`].
    pub fn encode_parts_sized(
        message_type: MessageType,
        compress: bool,
        head_len: usize,
        body: Bytes,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> MessageParts {
        let total = HEADER_SIZE + head_len + body.len();
        if compress && total >= COMPRESSION_THRESHOLD {
            let mut whole = Vec::with_capacity(head_len + body.len());
            write(&mut whole);
            whole.extend_from_slice(&body);
            let mut dst = BytesMut::new();
            Self::encode(message_type, &whole, true, &mut dst);
            return MessageParts {
                head: dst.freeze(),
                body: Bytes::new(),
            };
        }
        let mut head = Vec::with_capacity(HEADER_SIZE + head_len);
        head.extend_from_slice(&[0; HEADER_SIZE]);
        write(&mut head);
        let total = head.len() + body.len();
        if let Some(slot) = head.get_mut(..HEADER_SIZE) {
            slot.copy_from_slice(&Header::bytes(message_type, plain_status(compress), total));
        }
        MessageParts {
            head: Bytes::from(head),
            body,
        }
    }

    /// The head `write` produces (room for `capacity` bytes after the
    /// header) followed by `body`: the work of [`Self::encode_with`] (an
    /// empty body) and [`Self::encode_parts`].
    fn encode_head(
        message_type: MessageType,
        compress: bool,
        capacity: usize,
        body: Bytes,
        write: impl FnOnce(&mut OutputStream),
    ) -> MessageParts {
        let mut out = OutputStream::with_capacity(EncodingVersion::V1_0, HEADER_SIZE + capacity);
        out.write_blob(&[0; HEADER_SIZE]);
        write(&mut out);
        let mut head = out.into_vec();
        let total = head.len() + body.len();
        if compress && total >= COMPRESSION_THRESHOLD {
            head.extend_from_slice(&body);
            let mut dst = BytesMut::new();
            Self::encode(message_type, &head[HEADER_SIZE..], true, &mut dst);
            return MessageParts {
                head: dst.freeze(),
                body: Bytes::new(),
            };
        }
        if let Some(slot) = head.get_mut(..HEADER_SIZE) {
            slot.copy_from_slice(&Header::bytes(message_type, plain_status(compress), total));
        }
        MessageParts {
            head: Bytes::from(head),
            body,
        }
    }

    /// A message with no body (validate or close connection).
    pub fn encode_empty(message_type: MessageType, dst: &mut BytesMut) {
        Header::write(
            message_type,
            CompressionStatus::NotCompressed,
            HEADER_SIZE,
            dst,
        );
    }
}

/// The status of a message sent uncompressed: compression accepted (1)
/// when the sender asked for compression, else none (0).
fn plain_status(compress: bool) -> CompressionStatus {
    if compress {
        CompressionStatus::Accepted
    } else {
        CompressionStatus::NotCompressed
    }
}

/// bzip2 with Ice's settings (block size 100k, default work factor).
fn compress_body(body: &[u8]) -> Option<Vec<u8>> {
    let mut enc = bzip2::write::BzEncoder::new(
        Vec::with_capacity(body.len() / 2),
        bzip2::Compression::new(1),
    );
    enc.write_all(body).ok()?;
    enc.finish().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_are_the_wire_layout() {
        // Header::write appends exactly these bytes (it copies them).
        for (t, c, size, size_field) in [
            (
                MessageType::Request,
                CompressionStatus::NotCompressed,
                14,
                14i32,
            ),
            (
                MessageType::Reply,
                CompressionStatus::Accepted,
                500_030,
                500_030,
            ),
            (
                MessageType::CloseConnection,
                CompressionStatus::Compressed,
                usize::MAX,
                i32::MAX,
            ),
        ] {
            let mut want = vec![b'I', b'c', b'e', b'P', 1, 0, 1, 0, t as u8, c as u8];
            want.extend_from_slice(&size_field.to_le_bytes());
            assert_eq!(&Header::bytes(t, c, size)[..], &want[..]);
            let mut dst = BytesMut::new();
            Header::write(t, c, size, &mut dst);
            assert_eq!(&dst[..], &want[..]);
        }
    }

    fn validate_bytes() -> Vec<u8> {
        vec![b'I', b'c', b'e', b'P', 1, 0, 1, 0, 3, 0, 14, 0, 0, 0]
    }

    #[test]
    fn encode_with_writes_what_encode_writes() {
        for (body, compress) in [
            (b"0123456789".to_vec(), false),
            (b"0123456789".to_vec(), true),
            (vec![7u8; 5000], true),
            (vec![7u8; 5000], false),
        ] {
            let mut want = BytesMut::new();
            FrameEncoder::encode(MessageType::Reply, &body, compress, &mut want);
            let got = FrameEncoder::encode_with(MessageType::Reply, compress, 4, |out| {
                out.write_blob(&body);
            });
            assert_eq!(
                &got[..],
                &want[..],
                "compress {compress}, {} bytes",
                body.len()
            );
        }
    }

    #[test]
    fn validate_connection_is_the_bare_header() {
        let mut out = BytesMut::new();
        FrameEncoder::encode_empty(MessageType::ValidateConnection, &mut out);
        assert_eq!(&out[..], &validate_bytes()[..]);
        let mut dec = FrameDecoder::default();
        let frame = dec.decode(&mut out).ok().flatten();
        assert_eq!(
            frame,
            Some(Frame {
                message_type: MessageType::ValidateConnection,
                compression: CompressionStatus::NotCompressed,
                body: Bytes::new()
            })
        );
        assert!(out.is_empty());
    }

    #[test]
    fn incomplete_input_waits_at_every_length() {
        let mut whole = BytesMut::new();
        FrameEncoder::encode(MessageType::Request, b"0123456789", false, &mut whole);
        for cut in 0..whole.len() {
            let mut part = BytesMut::from(&whole[..cut]);
            assert_eq!(
                FrameDecoder::default().decode(&mut part),
                Ok(None),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn malformed_headers_are_named() {
        let table: Vec<(usize, u8, ProtocolError)> = vec![
            (0, b'X', ProtocolError::BadMagic { found: *b"XceP" }),
            (
                4,
                2,
                ProtocolError::UnsupportedProtocol { major: 2, minor: 0 },
            ),
            (
                6,
                3,
                ProtocolError::UnsupportedProtocolEncoding { major: 3, minor: 0 },
            ),
            (8, 9, ProtocolError::UnknownMessageType { value: 9 }),
            (9, 7, ProtocolError::InvalidCompressionStatus { value: 7 }),
            (10, 5, ProtocolError::IllegalMessageSize { size: 5 }),
        ];
        for (at, byte, want) in table {
            let mut b = validate_bytes();
            b[at] = byte;
            let mut buf = BytesMut::from(&b[..]);
            assert_eq!(
                FrameDecoder::default().decode(&mut buf),
                Err(want),
                "byte {at}"
            );
        }
    }

    #[test]
    fn oversized_message_fails_from_the_header_alone() {
        let mut b = validate_bytes();
        b[8] = 0;
        b[10..14].copy_from_slice(&(2_000_000i32).to_le_bytes());
        let mut buf = BytesMut::from(&b[..]);
        assert_eq!(
            FrameDecoder::new(1024 * 1024).decode(&mut buf),
            Err(ProtocolError::MessageTooLarge {
                size: 2_000_000,
                max: 1024 * 1024
            })
        );
    }

    #[test]
    fn compression_round_trips_and_small_messages_stay_plain() {
        let body: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        let mut out = BytesMut::new();
        FrameEncoder::encode(MessageType::Request, &body, true, &mut out);
        assert_eq!(out[9], 2);
        assert!(out.len() < body.len());
        let frame = FrameDecoder::default().decode(&mut out).ok().flatten();
        assert_eq!(frame.map(|f| f.body.to_vec()), Some(body));

        let mut small = BytesMut::new();
        FrameEncoder::encode(MessageType::Request, &[1, 2, 3], true, &mut small);
        assert_eq!(small[9], 1);
        assert_eq!(small.len(), HEADER_SIZE + 3);
    }

    #[test]
    fn corrupt_compressed_body_is_an_error() {
        let body = vec![7u8; 1000];
        let mut out = BytesMut::new();
        FrameEncoder::encode(MessageType::Request, &body, true, &mut out);
        let last = out.len() - 3;
        out[last] ^= 0xff;
        out[20] ^= 0x55;
        assert!(FrameDecoder::default().decode(&mut out).is_err());
    }
    /// A compressed body announcing `announced` bytes (header included)
    /// whose stream inflates to `actual` zero bytes.
    fn bomb(announced: usize, actual: usize) -> Bytes {
        let mut body = BytesMut::new();
        body.extend_from_slice(&i32::try_from(announced).unwrap_or(i32::MAX).to_le_bytes());
        body.extend_from_slice(&compress_body(&vec![0u8; actual]).unwrap_or_default());
        body.freeze()
    }

    /// The sizes a compressed body must keep to. (Its peak memory is
    /// measured against a real server in the interop robustness tests.)
    #[test]
    fn decompression_checks_the_announced_size() {
        const MAX: usize = 4 << 20;
        let want = MAX - HEADER_SIZE;
        // Exactly the limit is accepted.
        let out = decompress(bomb(MAX, want), MAX);
        assert_eq!(out.as_ref().map(Bytes::len).ok(), Some(want));
        // A stream longer or shorter than announced is refused.
        for actual in [want + 1, want - 1] {
            assert!(matches!(
                decompress(bomb(MAX, actual), MAX),
                Err(ProtocolError::BadCompressedBody { .. })
            ));
        }
        // Announcing more than the limit is refused before inflating.
        assert!(matches!(
            decompress(bomb(MAX + 1, 10), MAX),
            Err(ProtocolError::MessageTooLarge { .. })
        ));
    }
}
