//! The bodies of request, batch request and reply messages.
//!
//! A request body is: request id (`i32`, 0 for oneway), identity, facet
//! (a `sequence<string>` of zero or one element), operation name, mode
//! (byte), context (`dictionary<string, string>`), and the parameters as an
//! encapsulation. A batch request body is a count followed by that many
//! requests without request ids. A reply body is the request id, a status
//! byte and a status-dependent rest. All of it is written in encoding 1.0;
//! only the encapsulations inside may use 1.1.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};

use crate::encoding::{EncodingVersion, Identity, InputStream, OutputStream};

use super::{FrameEncoder, MessageParts, MessageType, ProtocolError};

/// A request context: string pairs sent with a request.
pub type Context = BTreeMap<String, String>;

/// The operation mode sent with a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum OperationMode {
    /// An ordinary operation.
    #[default]
    Normal = 0,
    /// The deprecated `nonmutating` mode; dispatched as idempotent.
    Nonmutating = 1,
    /// An `idempotent` operation: safe to retry.
    Idempotent = 2,
}

impl OperationMode {
    fn from_byte(b: u8) -> Result<Self, ProtocolError> {
        Ok(match b {
            0 => Self::Normal,
            1 => Self::Nonmutating,
            2 => Self::Idempotent,
            other => return Err(ProtocolError::InvalidOperationMode { value: other }),
        })
    }
}

/// An encapsulation kept as bytes: its encoding and its body (without the
/// 6-byte size and version header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encapsulation {
    /// The encoding the body is written in.
    pub encoding: EncodingVersion,
    /// The body.
    pub body: Bytes,
}

impl Encapsulation {
    /// An encapsulation with no data.
    #[must_use]
    pub fn empty(encoding: EncodingVersion) -> Self {
        Self {
            encoding,
            body: Bytes::new(),
        }
    }

    /// Whether the body is empty and in an encoding this runtime reads
    /// (1.0 or 1.1): reading it finds no value and ends at once, so code
    /// expecting no values (an operation without parameters or results)
    /// may skip opening a stream on it.
    #[must_use]
    pub fn is_empty_and_supported(&self) -> bool {
        self.body.is_empty() && self.encoding.is_supported()
    }

    fn write(&self, out: &mut OutputStream) {
        out.write_encapsulation(self.encoding, &self.body);
    }

    /// Writes the 6-byte size and version header only (the body follows
    /// as the second of [`MessageParts`]).
    fn write_header(&self, out: &mut OutputStream) {
        out.write_i32(i32::try_from(self.body.len() + 6).unwrap_or(i32::MAX));
        out.write_u8(self.encoding.major);
        out.write_u8(self.encoding.minor);
    }

    /// [`Self::write_header`] into a plain buffer.
    fn put_header(&self, out: &mut Vec<u8>) {
        let size = i32::try_from(self.body.len() + 6).unwrap_or(i32::MAX);
        out.extend_from_slice(&size.to_le_bytes());
        out.push(self.encoding.major);
        out.push(self.encoding.minor);
    }

    fn read(input: &mut InputStream) -> Result<Self, ProtocolError> {
        let (encoding, body) = input.read_encapsulation()?;
        Ok(Self { encoding, body })
    }

    /// Reads the encapsulation that ends the body of a `what` message,
    /// taking the rest of the input as it is.
    fn read_last(input: InputStream, what: &'static str) -> Result<Self, ProtocolError> {
        let (encoding, body, trailing) = input.read_last_encapsulation()?;
        if trailing > 0 {
            return Err(ProtocolError::TrailingBytes {
                what,
                count: trailing,
            });
        }
        Ok(Self { encoding, body })
    }
}

/// Everything in a request before its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    /// The request id; 0 for a oneway request.
    pub request_id: i32,
    /// The target object.
    pub identity: Identity,
    /// The target facet, empty for the default facet.
    pub facet: String,
    /// The operation name.
    pub operation: String,
    /// The operation mode.
    pub mode: OperationMode,
    /// The request context.
    pub context: Context,
}

/// A request: header and parameter encapsulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Target, operation, mode, context and request id.
    pub header: RequestHeader,
    /// The in-parameters.
    pub params: Encapsulation,
}

fn protocol_stream() -> OutputStream {
    OutputStream::new(EncodingVersion::V1_0)
}

/// The length of a size on the wire.
fn size_len(n: usize) -> usize {
    if n < 255 {
        1
    } else {
        5
    }
}

/// Appends a size as [`OutputStream::write_size`] does.
fn put_size(out: &mut Vec<u8>, n: usize) {
    if n < 255 {
        out.push(n as u8);
    } else {
        out.push(255);
        out.extend_from_slice(&i32::try_from(n).unwrap_or(i32::MAX).to_le_bytes());
    }
}

/// Appends a string as [`OutputStream::write_string`] does.
fn put_string(out: &mut Vec<u8>, s: &str) {
    put_size(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

/// The length of a string on the wire.
fn string_len(s: &str) -> usize {
    size_len(s.len()) + s.len()
}

fn write_facet(out: &mut OutputStream, facet: &str) {
    if facet.is_empty() {
        out.write_size(0);
    } else {
        out.write_size(1);
        out.write_string(facet);
    }
}

fn read_facet(input: &mut InputStream) -> Result<String, ProtocolError> {
    let n = input.read_count("facet", 1)?;
    match n {
        0 => Ok(String::new()),
        1 => Ok(input.read_string()?),
        _ => Err(ProtocolError::InvalidFacet { count: n }),
    }
}

fn write_context(out: &mut OutputStream, context: &Context) {
    out.write_size(context.len());
    for (k, v) in context {
        out.write_string(k);
        out.write_string(v);
    }
}

fn read_context(input: &mut InputStream) -> Result<Context, ProtocolError> {
    let n = input.read_count("request context", 2)?;
    let mut context = Context::new();
    for _ in 0..n {
        let k = input.read_string()?;
        let v = input.read_string()?;
        context.insert(k, v);
    }
    Ok(context)
}

impl Request {
    /// Writes the request body (after the message header).
    pub fn encode(&self, out: &mut OutputStream) {
        out.write_i32(self.header.request_id);
        self.encode_without_id(out);
    }

    fn encode_without_id(&self, out: &mut OutputStream) {
        self.encode_head_without_id(out);
        out.write_blob(&self.params.body);
    }

    /// The length [`Self::encode_head_without_id`] writes.
    fn head_len_without_id(&self) -> usize {
        let h = &self.header;
        let facet = if h.facet.is_empty() {
            1
        } else {
            1 + string_len(&h.facet)
        };
        let context: usize = h
            .context
            .iter()
            .map(|(k, v)| string_len(k) + string_len(v))
            .sum();
        string_len(&h.identity.name)
            + string_len(&h.identity.category)
            + facet
            + string_len(&h.operation)
            + 1
            + size_len(h.context.len())
            + context
            + 6
    }

    /// [`Self::encode_head_without_id`] into a plain buffer.
    fn put_head_without_id(&self, out: &mut Vec<u8>) {
        let h = &self.header;
        put_string(out, &h.identity.name);
        put_string(out, &h.identity.category);
        if h.facet.is_empty() {
            out.push(0);
        } else {
            out.push(1);
            put_string(out, &h.facet);
        }
        put_string(out, &h.operation);
        out.push(h.mode as u8);
        put_size(out, h.context.len());
        for (k, v) in &h.context {
            put_string(out, k);
            put_string(out, v);
        }
        self.params.put_header(out);
    }

    /// Everything but the parameters' body.
    fn encode_head_without_id(&self, out: &mut OutputStream) {
        let h = &self.header;
        out.write(&h.identity);
        write_facet(out, &h.facet);
        out.write_string(&h.operation);
        out.write_u8(h.mode as u8);
        write_context(out, &h.context);
        self.params.write_header(out);
    }

    /// The whole request message as [`MessageParts`]: the parameters'
    /// body is not copied.
    #[must_use]
    pub fn to_parts(&self, compress: bool) -> MessageParts {
        self.to_parts_with_id(self.header.request_id, compress)
    }

    /// [`Self::to_parts`] with `request_id` in place of the header's, so a
    /// request can be sent again under a new id without being copied.
    #[must_use]
    pub fn to_parts_with_id(&self, request_id: i32, compress: bool) -> MessageParts {
        FrameEncoder::encode_parts_sized(
            MessageType::Request,
            compress,
            4 + self.head_len_without_id(),
            self.params.body.clone(),
            |out| {
                out.extend_from_slice(&request_id.to_le_bytes());
                self.put_head_without_id(out);
            },
        )
    }

    /// The request body as bytes.
    #[must_use]
    pub fn to_body(&self) -> Bytes {
        let mut out = protocol_stream();
        self.encode(&mut out);
        out.finish()
    }

    /// The whole request message, header included, with the parameters
    /// copied once (see [`FrameEncoder::encode_with`]).
    #[must_use]
    pub fn to_message(&self, compress: bool) -> Bytes {
        FrameEncoder::encode_with(
            MessageType::Request,
            compress,
            self.params.body.len() + 128,
            |out| self.encode(out),
        )
    }

    /// Reads a request body.
    ///
    /// # Errors
    /// A [`ProtocolError`] when the body is malformed or has bytes left over.
    pub fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        let mut input = InputStream::new(body, EncodingVersion::V1_0);
        let request_id = input.read_i32()?;
        let header = Self::decode_header(&mut input, request_id)?;
        let params = Encapsulation::read_last(input, "request")?;
        Ok(Self { header, params })
    }

    fn decode_without_id(input: &mut InputStream, request_id: i32) -> Result<Self, ProtocolError> {
        let header = Self::decode_header(input, request_id)?;
        let params = Encapsulation::read(input)?;
        Ok(Self { header, params })
    }

    /// Reads everything after the request id up to the parameters.
    fn decode_header(
        input: &mut InputStream,
        request_id: i32,
    ) -> Result<RequestHeader, ProtocolError> {
        let identity: Identity = input.read()?;
        let facet = read_facet(input)?;
        let operation = input.read_string()?;
        let mode = OperationMode::from_byte(input.read_u8()?)?;
        let context = read_context(input)?;
        Ok(RequestHeader {
            request_id,
            identity,
            facet,
            operation,
            mode,
            context,
        })
    }
}

/// Writes a batch request body holding `requests` (their ids are ignored).
pub fn encode_batch(requests: &[Request]) -> Bytes {
    let mut out = protocol_stream();
    out.write_i32(i32::try_from(requests.len()).unwrap_or(i32::MAX));
    for r in requests {
        r.encode_without_id(&mut out);
    }
    out.finish()
}

/// Reads a batch request body; every request gets id 0.
///
/// # Errors
/// A [`ProtocolError`] when the body is malformed.
pub fn decode_batch(body: Bytes) -> Result<Vec<Request>, ProtocolError> {
    let mut input = InputStream::new(body, EncodingVersion::V1_0);
    let n = input.read_i32()?;
    // A batched request takes at least 2 (identity) + 1 + 1 + 1 + 1 + 6 bytes.
    let n = usize::try_from(n).map_err(|_| ProtocolError::InvalidBatchCount {
        count: i64::from(n),
    })?;
    input.check_count("batch request", n, 12)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(Request::decode_without_id(&mut input, 0)?);
    }
    if !input.is_at_end() {
        return Err(ProtocolError::TrailingBytes {
            what: "batch request",
            count: input.remaining(),
        });
    }
    Ok(out)
}

/// The reply statuses of the Ice protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyStatus {
    /// The operation returned; the encapsulation holds its results.
    Ok = 0,
    /// The operation raised a user exception, in the encapsulation.
    UserException = 1,
    /// No servant for the identity.
    ObjectNotExist = 2,
    /// The object has no such facet.
    FacetNotExist = 3,
    /// The object has no such operation.
    OperationNotExist = 4,
    /// The dispatch raised an Ice local exception.
    UnknownLocalException = 5,
    /// The dispatch raised a user exception not in the operation's `throws`.
    UnknownUserException = 6,
    /// The dispatch failed some other way.
    UnknownException = 7,
}

/// The status-dependent part of a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// Status 0: results.
    Ok(Encapsulation),
    /// Status 1: a user exception.
    UserException(Encapsulation),
    /// Status 2: identity, facet and operation of the failed request.
    ObjectNotExist(RequestFailed),
    /// Status 3.
    FacetNotExist(RequestFailed),
    /// Status 4.
    OperationNotExist(RequestFailed),
    /// Status 5: a description.
    UnknownLocalException(String),
    /// Status 6: a description.
    UnknownUserException(String),
    /// Status 7: a description.
    UnknownException(String),
}

/// What a "does not exist" reply names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestFailed {
    /// The identity the request named.
    pub identity: Identity,
    /// The facet the request named.
    pub facet: String,
    /// The operation the request named.
    pub operation: String,
}

impl ReplyBody {
    /// The status byte of this reply.
    #[must_use]
    pub fn status(&self) -> ReplyStatus {
        match self {
            Self::Ok(_) => ReplyStatus::Ok,
            Self::UserException(_) => ReplyStatus::UserException,
            Self::ObjectNotExist(_) => ReplyStatus::ObjectNotExist,
            Self::FacetNotExist(_) => ReplyStatus::FacetNotExist,
            Self::OperationNotExist(_) => ReplyStatus::OperationNotExist,
            Self::UnknownLocalException(_) => ReplyStatus::UnknownLocalException,
            Self::UnknownUserException(_) => ReplyStatus::UnknownUserException,
            Self::UnknownException(_) => ReplyStatus::UnknownException,
        }
    }
}

/// A reply: the id of the request it answers and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The request id this answers.
    pub request_id: i32,
    /// Status and contents.
    pub body: ReplyBody,
}

impl Reply {
    /// The reply body as bytes.
    #[must_use]
    pub fn to_body(&self) -> Bytes {
        let mut out = protocol_stream();
        self.encode(&mut out);
        out.finish()
    }

    /// The whole reply message, header included, with the results copied
    /// once (see [`FrameEncoder::encode_with`]).
    #[must_use]
    pub fn to_message(&self, compress: bool) -> Bytes {
        let capacity = match &self.body {
            ReplyBody::Ok(e) | ReplyBody::UserException(e) => e.body.len() + 16,
            _ => 128,
        };
        FrameEncoder::encode_with(MessageType::Reply, compress, capacity, |out| {
            self.encode(out);
        })
    }

    /// The whole reply message as [`MessageParts`]: the results' (or user
    /// exception's) body is not copied.
    #[must_use]
    pub fn to_parts(&self, compress: bool) -> MessageParts {
        match &self.body {
            ReplyBody::Ok(e) | ReplyBody::UserException(e) => {
                // Request id, status and the encapsulation's header.
                FrameEncoder::encode_parts_sized(
                    MessageType::Reply,
                    compress,
                    4 + 1 + 6,
                    e.body.clone(),
                    |out| {
                        out.extend_from_slice(&self.request_id.to_le_bytes());
                        out.push(self.body.status() as u8);
                        e.put_header(out);
                    },
                )
            }
            _ => MessageParts::whole(self.to_message(compress)),
        }
    }

    /// Writes the reply body (after the message header).
    pub fn encode(&self, out: &mut OutputStream) {
        out.write_i32(self.request_id);
        out.write_u8(self.body.status() as u8);
        match &self.body {
            ReplyBody::Ok(e) | ReplyBody::UserException(e) => e.write(out),
            ReplyBody::ObjectNotExist(f)
            | ReplyBody::FacetNotExist(f)
            | ReplyBody::OperationNotExist(f) => {
                out.write(&f.identity);
                write_facet(out, &f.facet);
                out.write_string(&f.operation);
            }
            ReplyBody::UnknownLocalException(s)
            | ReplyBody::UnknownUserException(s)
            | ReplyBody::UnknownException(s) => {
                out.write_string(s);
            }
        }
    }

    /// Reads a reply body.
    ///
    /// # Errors
    /// A [`ProtocolError`] when the body is malformed.
    pub fn decode(body: Bytes) -> Result<Self, ProtocolError> {
        // Nearly every reply: status 0 or 1 and an encapsulation that ends
        // the body exactly, read without a stream. Anything else, valid or
        // not, goes the general way (and gets its errors from it).
        let mut body = body;
        if let [i0, i1, i2, i3, status @ (0 | 1), s0, s1, s2, s3, major, minor, ..] = *body {
            let size = i32::from_le_bytes([s0, s1, s2, s3]);
            if usize::try_from(size).is_ok_and(|size| size == body.len() - 5) {
                let request_id = i32::from_le_bytes([i0, i1, i2, i3]);
                body.advance(11);
                let e = Encapsulation {
                    encoding: EncodingVersion { major, minor },
                    body,
                };
                let body = if status == 0 {
                    ReplyBody::Ok(e)
                } else {
                    ReplyBody::UserException(e)
                };
                return Ok(Self { request_id, body });
            }
        }
        let mut input = InputStream::new(body, EncodingVersion::V1_0);
        let request_id = input.read_i32()?;
        let status = input.read_u8()?;
        let body = match status {
            0 | 1 => {
                let e = Encapsulation::read_last(input, "reply")?;
                let body = if status == 0 {
                    ReplyBody::Ok(e)
                } else {
                    ReplyBody::UserException(e)
                };
                return Ok(Self { request_id, body });
            }
            2..=4 => {
                let identity: Identity = input.read()?;
                let facet = read_facet(&mut input)?;
                let operation = input.read_string()?;
                let f = RequestFailed {
                    identity,
                    facet,
                    operation,
                };
                match status {
                    2 => ReplyBody::ObjectNotExist(f),
                    3 => ReplyBody::FacetNotExist(f),
                    _ => ReplyBody::OperationNotExist(f),
                }
            }
            5 => ReplyBody::UnknownLocalException(input.read_string()?),
            6 => ReplyBody::UnknownUserException(input.read_string()?),
            7 => ReplyBody::UnknownException(input.read_string()?),
            other => return Err(ProtocolError::InvalidReplyStatus { value: other }),
        };
        if !input.is_at_end() {
            return Err(ProtocolError::TrailingBytes {
                what: "reply",
                count: input.remaining(),
            });
        }
        Ok(Self { request_id, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Request {
        let mut context = Context::new();
        context.insert("k".into(), "v".into());
        Request {
            header: RequestHeader {
                request_id: 1,
                identity: Identity {
                    name: "hello".into(),
                    category: String::new(),
                },
                facet: String::new(),
                operation: "sayHello".into(),
                mode: OperationMode::Idempotent,
                context,
            },
            params: Encapsulation {
                encoding: EncodingVersion::V1_1,
                body: Bytes::from_static(&[7]),
            },
        }
    }

    #[test]
    fn request_bytes_are_as_ice_lays_them_out() {
        let body = sample().to_body();
        let want: Vec<u8> = [
            &[1, 0, 0, 0][..],
            &[5, b'h', b'e', b'l', b'l', b'o', 0],
            &[0],
            &[8, b's', b'a', b'y', b'H', b'e', b'l', b'l', b'o'],
            &[2],
            &[1, 1, b'k', 1, b'v'],
            &[7, 0, 0, 0, 1, 1, 7],
        ]
        .concat();
        assert_eq!(body.to_vec(), want);
        assert_eq!(Request::decode(body), Ok(sample()));
    }

    /// A message in two parts is, byte for byte, the message written
    /// whole, compressed or not, for a small and a large body; the large
    /// body is shared, not copied, when uncompressed.
    #[test]
    fn parts_are_the_whole_message() {
        let large: Bytes = (0..200_000u32)
            .map(|i| (i % 7) as u8)
            .collect::<Vec<_>>()
            .into();
        for body in [Bytes::from_static(&[7]), large] {
            for compress in [false, true] {
                let mut request = sample();
                request.params.body = body.clone();
                let parts = request.to_parts(compress);
                assert_eq!(parts.to_bytes(), request.to_message(compress));
                let e = Encapsulation {
                    encoding: EncodingVersion::V1_1,
                    body: body.clone(),
                };
                for reply_body in [ReplyBody::Ok(e.clone()), ReplyBody::UserException(e)] {
                    let reply = Reply {
                        request_id: 9,
                        body: reply_body,
                    };
                    let parts = reply.to_parts(compress);
                    assert_eq!(parts.to_bytes(), reply.to_message(compress));
                    if !compress {
                        assert_eq!(parts.body.as_ptr(), body.as_ptr());
                    }
                }
            }
        }
        let reply = Reply {
            request_id: 3,
            body: ReplyBody::UnknownException("boom".into()),
        };
        assert_eq!(reply.to_parts(false).to_bytes(), reply.to_message(false));
    }

    /// The head of a request is allocated at its exact length, whatever
    /// the lengths of its strings (short and long sizes) and context.
    #[test]
    fn request_head_length_is_exact() {
        let long = "x".repeat(300);
        for (name, facet, op, pairs) in [
            ("a", "", "op", 0),
            ("", "f", "", 1),
            (long.as_str(), long.as_str(), long.as_str(), 3),
            ("hello", "", "sayHello", 300),
        ] {
            let mut request = sample();
            request.header.identity.name = name.into();
            request.header.identity.category = facet.into();
            request.header.facet = facet.into();
            request.header.operation = op.into();
            request.header.context = (0..pairs)
                .map(|i| (format!("k{i}"), long.clone()))
                .collect();
            let parts = request.to_parts(false);
            assert_eq!(
                parts.head.len(),
                crate::protocol::HEADER_SIZE + 4 + request.head_len_without_id()
            );
            assert_eq!(parts.to_bytes(), request.to_message(false));
        }
    }

    #[test]
    fn replies_round_trip_for_every_status() {
        let f = RequestFailed {
            identity: Identity {
                name: "x".into(),
                category: "c".into(),
            },
            facet: "f".into(),
            operation: "op".into(),
        };
        let e = Encapsulation {
            encoding: EncodingVersion::V1_0,
            body: Bytes::from_static(&[1, 2]),
        };
        for body in [
            ReplyBody::Ok(e.clone()),
            ReplyBody::UserException(e),
            ReplyBody::ObjectNotExist(f.clone()),
            ReplyBody::FacetNotExist(f.clone()),
            ReplyBody::OperationNotExist(f),
            ReplyBody::UnknownLocalException("a".into()),
            ReplyBody::UnknownUserException("b".into()),
            ReplyBody::UnknownException("c".into()),
        ] {
            let reply = Reply {
                request_id: 9,
                body,
            };
            assert_eq!(Reply::decode(reply.to_body()), Ok(reply.clone()));
        }
    }

    #[test]
    fn batch_round_trips_and_truncations_fail() {
        let requests = vec![sample(), sample()];
        let body = encode_batch(&requests);
        let got = decode_batch(body.clone());
        let mut want = requests;
        for r in &mut want {
            r.header.request_id = 0;
        }
        assert_eq!(got, Ok(want));
        for cut in 0..body.len() {
            assert!(decode_batch(body.slice(..cut)).is_err(), "cut {cut}");
        }
        let whole = sample().to_body();
        for cut in 0..whole.len() {
            assert!(Request::decode(whole.slice(..cut)).is_err(), "cut {cut}");
        }
    }

    /// Bytes after the parameters of a request, or after the results of
    /// a reply, are refused and counted.
    #[test]
    fn trailing_bytes_after_the_last_encapsulation_fail() {
        let mut body = sample().to_body().to_vec();
        body.push(0);
        assert_eq!(
            Request::decode(body.into()),
            Err(ProtocolError::TrailingBytes {
                what: "request",
                count: 1,
            })
        );
        let reply = Reply {
            request_id: 4,
            body: ReplyBody::UserException(Encapsulation {
                encoding: EncodingVersion::V1_1,
                body: Bytes::from_static(&[1, 2, 3]),
            }),
        };
        let mut body = reply.to_body().to_vec();
        assert_eq!(Reply::decode(body.clone().into()), Ok(reply));
        for cut in 0..body.len() {
            let short = Bytes::copy_from_slice(&body[..cut]);
            assert!(Reply::decode(short).is_err(), "cut {cut}");
        }
        body.extend_from_slice(&[9, 9]);
        assert_eq!(
            Reply::decode(body.into()),
            Err(ProtocolError::TrailingBytes {
                what: "reply",
                count: 2,
            })
        );
    }

    #[test]
    fn huge_counts_fail_before_allocating() {
        let body = Bytes::from_static(&[0xff, 0xff, 0xff, 0x7f, 0]);
        assert!(decode_batch(body).is_err());
    }
}
