//! [`OutputStream`]: writes Ice data, little-endian, into a growable buffer.
//!
//! Primitives, sizes, strings, blobs, enums and encapsulations live here;
//! classes, exceptions and optional values add methods in their own modules.
//! Writing cannot fail: every Rust value has an encoding.

use bytes::Bytes;

use super::class::ClassWriter;
use super::{EncodingVersion, Format};

/// An open encapsulation while writing.
#[derive(Debug)]
struct EncapsFrame {
    /// Position of the encapsulation's size field.
    start: usize,
    /// Encoding and format of the enclosing level, restored at the end.
    saved_encoding: EncodingVersion,
    saved_format: Format,
    /// Class state of the enclosing level, restored at the end.
    saved_classes: ClassWriter,
}

/// Writes Ice-encoded data.
#[derive(Debug)]
pub struct OutputStream {
    pub(crate) buf: Vec<u8>,
    encoding: EncodingVersion,
    format: Format,
    encaps: Vec<EncapsFrame>,
    pub(crate) classes: ClassWriter,
}

impl OutputStream {
    /// A stream writing `encoding`, with the compact class format.
    pub fn new(encoding: EncodingVersion) -> Self {
        Self::with_capacity(encoding, 64)
    }

    /// A stream with room for `capacity` bytes before it grows.
    pub fn with_capacity(encoding: EncodingVersion, capacity: usize) -> Self {
        Self {
            buf: Vec::with_capacity(capacity),
            encoding,
            format: Format::Compact,
            encaps: Vec::new(),
            classes: ClassWriter::default(),
        }
    }

    /// Sets the class format used outside any encapsulation.
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// The encoding now in use (the innermost encapsulation's).
    pub fn encoding(&self) -> EncodingVersion {
        self.encoding
    }

    /// The class format now in use.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Consumes the stream, returning its bytes.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }

    /// Consumes the stream, returning its bytes as [`Bytes`].
    pub fn finish(self) -> Bytes {
        Bytes::from(self.buf)
    }

    /// Writes a `byte`.
    #[inline]
    pub fn write_u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Writes a `bool` (one byte, 0 or 1).
    #[inline]
    pub fn write_bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// Writes a `short`.
    #[inline]
    pub fn write_i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes an `int`.
    #[inline]
    pub fn write_i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a `long`.
    #[inline]
    pub fn write_i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a `float`.
    #[inline]
    pub fn write_f32(&mut self, v: f32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a `double`.
    #[inline]
    pub fn write_f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Writes a size: one byte below 255, else 255 and an `int`.
    ///
    /// Sizes above `i32::MAX` cannot be represented by Ice and are written
    /// as `i32::MAX`; no Ice message can hold such a value anyway.
    #[inline]
    pub fn write_size(&mut self, v: usize) {
        if v < 255 {
            self.buf.push(v as u8);
        } else {
            self.buf.push(255);
            self.write_i32(i32::try_from(v).unwrap_or(i32::MAX));
        }
    }

    /// Makes room for at least `additional` more bytes, so that a large
    /// write grows the buffer once instead of doubling it step by step
    /// (each step a copy). A hint: writing never needs it.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    /// Writes raw bytes with no size.
    #[inline]
    pub fn write_blob(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Writes a `string`: its UTF-8 length as a size, then the bytes.
    #[inline]
    pub fn write_string(&mut self, v: &str) {
        self.write_size(v.len());
        self.buf.extend_from_slice(v.as_bytes());
    }

    /// Writes an enumerator `value` of an enum whose largest enumerator is
    /// `max_value`: in 1.0 a byte, short or int chosen by `max_value`, in
    /// 1.1 a size.
    pub fn write_enum(&mut self, value: i32, max_value: i32) {
        if self.encoding.is_1_0() {
            if max_value < 127 {
                self.write_u8(value as u8);
            } else if max_value < 32767 {
                self.write_i16(value as i16);
            } else {
                self.write_i32(value);
            }
        } else {
            self.write_size(usize::try_from(value).unwrap_or(0));
        }
    }

    /// Overwrites four bytes at `pos` with `v` (for sizes known later).
    pub(crate) fn rewrite_i32(&mut self, pos: usize, v: i32) {
        if let Some(slot) = self.buf.get_mut(pos..pos + 4) {
            slot.copy_from_slice(&v.to_le_bytes());
        }
    }

    /// Overwrites the byte at `pos`.
    pub(crate) fn rewrite_u8(&mut self, pos: usize, v: u8) {
        if let Some(slot) = self.buf.get_mut(pos) {
            *slot = v;
        }
    }

    /// Opens an encapsulation of `encoding` whose classes use `format`.
    ///
    /// Class instance ids and type-id tables start afresh inside it.
    pub fn start_encapsulation(&mut self, encoding: EncodingVersion, format: Format) {
        let start = self.buf.len();
        self.encaps.push(EncapsFrame {
            start,
            saved_encoding: self.encoding,
            saved_format: self.format,
            saved_classes: std::mem::take(&mut self.classes),
        });
        self.write_i32(0);
        self.write_u8(encoding.major);
        self.write_u8(encoding.minor);
        self.encoding = encoding;
        self.format = format;
    }

    /// Closes the innermost encapsulation, filling in its size.
    ///
    /// Does nothing when no encapsulation is open.
    pub fn end_encapsulation(&mut self) {
        if let Some(frame) = self.encaps.pop() {
            let size = self.buf.len() - frame.start;
            self.rewrite_i32(frame.start, i32::try_from(size).unwrap_or(i32::MAX));
            self.encoding = frame.saved_encoding;
            self.format = frame.saved_format;
            self.classes = frame.saved_classes;
        }
    }

    /// Writes an encapsulation holding nothing.
    pub fn write_empty_encapsulation(&mut self, encoding: EncodingVersion) {
        self.write_i32(6);
        self.write_u8(encoding.major);
        self.write_u8(encoding.minor);
    }

    /// Writes an encapsulation of `encoding` holding `body` verbatim.
    pub fn write_encapsulation(&mut self, encoding: EncodingVersion, body: &[u8]) {
        self.write_i32(i32::try_from(body.len() + 6).unwrap_or(i32::MAX));
        self.write_u8(encoding.major);
        self.write_u8(encoding.minor);
        self.write_blob(body);
    }

    /// Writes any [`Encode`](super::Encode) value.
    #[inline]
    pub fn write<T: super::Encode + ?Sized>(&mut self, v: &T) {
        v.encode(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn sizes_use_one_or_five_bytes() {
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        out.write_size(0);
        out.write_size(254);
        out.write_size(255);
        out.write_size(70000);
        assert_eq!(
            out.as_slice(),
            &[0, 254, 255, 255, 0, 0, 0, 255, 0x70, 0x11, 0x01, 0x00]
        );
    }

    #[test]
    fn enums_follow_the_encoding() {
        let mut out = OutputStream::new(EncodingVersion::V1_0);
        out.write_enum(2, 126);
        out.write_enum(2, 127);
        out.write_enum(2, 32767);
        assert_eq!(out.as_slice(), &[2, 2, 0, 2, 0, 0, 0]);
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        out.write_enum(300, 32767);
        assert_eq!(out.as_slice(), &[255, 44, 1, 0, 0]);
    }

    #[test]
    fn nested_encapsulations_fill_their_sizes() {
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        out.start_encapsulation(EncodingVersion::V1_1, Format::Compact);
        out.write_u8(7);
        out.start_encapsulation(EncodingVersion::V1_0, Format::Compact);
        assert_eq!(out.encoding(), EncodingVersion::V1_0);
        out.end_encapsulation();
        out.end_encapsulation();
        assert_eq!(out.encoding(), EncodingVersion::V1_1);
        assert_eq!(out.as_slice(), &[13, 0, 0, 0, 1, 1, 7, 6, 0, 0, 0, 1, 0]);
    }
}
