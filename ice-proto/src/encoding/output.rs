//! [`OutputStream`]: writes Ice data, little-endian, into a growable buffer.
//!
//! Primitives, sizes, strings, blobs, enums and encapsulations live here;
//! classes, exceptions and optional values add methods in their own modules.
//! Writing cannot fail: every Rust value has an encoding.

use bytes::Bytes;

use super::class::ClassWriter;
use super::{EncodingVersion, Format};

/// Blobs this long or longer are checked for [`write_aliases`].
const ALIASING_MIN: usize = 4096;

/// Whether appending `src` to `buf` would write 1 to 63 bytes ahead of
/// where it reads, modulo 4 KiB: the case in which a large `memcpy` (a
/// sequence's bytes written behind its size) is an order of magnitude
/// slower on x86 CPUs with `rep movsb` (measured: a 500,000-byte copy at
/// offsets 1 to 16 takes 180 to 245 us, at 0 or 64 and beyond 15 to 20 us).
fn write_aliases(buf: &[u8], src: &[u8]) -> bool {
    super::pool::aliases(buf.as_ptr() as usize + buf.len(), src.as_ptr() as usize)
}

/// Appends `bytes` to `buf` 64 bytes at a time (fixed-size copies the
/// compiler inlines as vector moves).
fn extend_in_blocks(buf: &mut Vec<u8>, bytes: &[u8]) {
    let mut blocks = bytes.chunks_exact(64);
    for block in &mut blocks {
        if let Ok(block) = <&[u8; 64]>::try_from(block) {
            buf.extend_from_slice(block);
        }
    }
    buf.extend_from_slice(blocks.remainder());
}

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
    /// Padding (`base` bytes, in a large buffer only), then what was written.
    pub(crate) buf: Vec<u8>,
    /// Where the written bytes start in `buf` (see [`super::pool`]).
    base: usize,
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
            base: 0,
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
        self.buf.len() - self.base
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(self.base..).unwrap_or_default()
    }

    /// Consumes the stream, returning its bytes.
    pub fn into_vec(mut self) -> Vec<u8> {
        self.buf.drain(..self.base);
        self.buf
    }

    /// Consumes the stream, returning its bytes as [`Bytes`]. A large
    /// buffer returns to the [buffer pool](super::pool) when the last
    /// `Bytes` sharing it is dropped.
    pub fn finish(self) -> Bytes {
        super::pool::into_bytes(self.buf, self.base)
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
        self.reserve_for(additional, None);
    }

    /// [`reserve`](Self::reserve) before writing `blob` (when large), so
    /// that a new large buffer's start does not make its copy alias.
    fn reserve_for(&mut self, additional: usize, blob: Option<&[u8]>) {
        let needed = self.len().saturating_add(additional);
        if self.buf.len().saturating_add(additional) <= self.buf.capacity() {
            return;
        }
        if needed < super::pool::MIN_CAPACITY {
            self.buf.reserve(additional);
            return;
        }
        // A large buffer (idle in the pool, else new) whose contents start
        // where the kernel copies them fast (see `pool`).
        let blob = blob
            .filter(|b| b.len() >= ALIASING_MIN)
            .map(|b| (self.len(), b.as_ptr() as usize));
        let (mut large, base) = super::pool::take_padded(needed, blob);
        large.extend_from_slice(self.as_slice());
        let old = std::mem::replace(&mut self.buf, large);
        self.base = base;
        super::pool::POOL.give(old);
    }

    /// Writes raw bytes with no size.
    #[inline]
    pub fn write_blob(&mut self, bytes: &[u8]) {
        if bytes.len() > self.buf.capacity() - self.buf.len() {
            self.reserve_for(bytes.len(), Some(bytes));
        }
        if bytes.len() >= ALIASING_MIN && write_aliases(&self.buf, bytes) {
            // A few bytes ahead of the source modulo 4 KiB, `memcpy`'s
            // `rep movsb` runs about ten times slower on this machine
            // (500 KB: 180-245 us against 15-20 us). Copying in 64-byte
            // blocks moves the same bytes without it.
            extend_in_blocks(&mut self.buf, bytes);
        } else {
            self.buf.extend_from_slice(bytes);
        }
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
        let pos = self.base + pos;
        if let Some(slot) = self.buf.get_mut(pos..pos + 4) {
            slot.copy_from_slice(&v.to_le_bytes());
        }
    }

    /// Overwrites the byte at `pos`.
    pub(crate) fn rewrite_u8(&mut self, pos: usize, v: u8) {
        if let Some(slot) = self.buf.get_mut(self.base + pos) {
            *slot = v;
        }
    }

    /// Opens an encapsulation of `encoding` whose classes use `format`.
    ///
    /// Class instance ids and type-id tables start afresh inside it.
    pub fn start_encapsulation(&mut self, encoding: EncodingVersion, format: Format) {
        let start = self.len();
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
            let size = self.len() - frame.start;
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

    /// The block copy appends exactly the bytes, whatever their length;
    /// the aliasing test finds distances 1 to 63 modulo 4 KiB only.
    #[test]
    fn blobs_copied_in_blocks_are_intact() {
        let src: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
        for len in [0, 1, 63, 64, 65, 4096, 9_999, 10_000] {
            let mut buf = vec![9u8; 5];
            extend_in_blocks(&mut buf, &src[..len]);
            assert_eq!(&buf[..5], &[9; 5]);
            assert_eq!(&buf[5..], &src[..len]);
        }
        let page = vec![0u8; 3 * 4096];
        let base = (4096 - page.as_ptr() as usize % 4096) % 4096;
        let src = &page[base..base + 4096];
        let dst_store = vec![0u8; 3 * 4096];
        let dbase = (4096 - dst_store.as_ptr() as usize % 4096) % 4096;
        for (ahead, aliases) in [(0, false), (1, true), (5, true), (63, true), (64, false)] {
            let dst = &dst_store[dbase..dbase + ahead];
            assert_eq!(write_aliases(dst, src), aliases, "{ahead} bytes ahead");
        }
        // Written through the stream, a large blob is intact at every offset.
        let blob: Vec<u8> = (0..20_000u32).map(|i| (i % 241) as u8).collect();
        for prefix in 0..70 {
            let mut out = OutputStream::new(EncodingVersion::V1_1);
            out.write_blob(&vec![1u8; prefix]);
            out.write_blob(&blob);
            let bytes = out.finish();
            assert_eq!(&bytes[prefix..], &blob[..]);
        }
    }

    /// A stream that grows into a large buffer keeps what it wrote before,
    /// fills in sizes recorded before the switch, and starts its contents
    /// at `CONTENTS_OFFSET` in a page (64 bytes further when a large blob
    /// would otherwise be copied a few bytes ahead of itself).
    #[test]
    fn large_buffers_start_their_contents_at_a_fixed_page_offset() {
        use super::super::pool::{aliases, CONTENTS_OFFSET, MIN_CAPACITY};
        let blob: Vec<u8> = (0..2 * MIN_CAPACITY).map(|i| (i % 251) as u8).collect();
        for prefix in [0usize, 1, 5, 63, 200] {
            let mut out = OutputStream::new(EncodingVersion::V1_1);
            out.start_encapsulation(EncodingVersion::V1_1, Format::Compact);
            out.write_blob(&vec![3u8; prefix]);
            let at = out.len();
            out.write_blob(&blob);
            // A large buffer (its padding may be 0 bytes when it happens
            // to start at the offset already, as a pooled one may).
            assert!(out.buf.capacity() >= MIN_CAPACITY, "a large buffer");
            let start = out.as_slice().as_ptr() as usize % 4096;
            assert!(
                start == CONTENTS_OFFSET || start == CONTENTS_OFFSET + 64,
                "contents at {start}"
            );
            assert!(!aliases(
                out.as_slice().as_ptr() as usize + at,
                blob.as_ptr() as usize
            ));
            out.end_encapsulation();
            let size = 6 + prefix + blob.len();
            let mut want = i32::try_from(size).unwrap_or(0).to_le_bytes().to_vec();
            want.extend_from_slice(&[1, 1]);
            want.extend_from_slice(&vec![3u8; prefix]);
            want.extend_from_slice(&blob);
            assert_eq!(out.len(), want.len());
            assert_eq!(out.as_slice(), &want[..]);
            let bytes = out.finish();
            assert_eq!(bytes.as_ptr() as usize % 4096, start);
            assert_eq!(&bytes[..], &want[..]);
        }
        // `into_vec` drops the padding.
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        out.reserve(MIN_CAPACITY);
        out.write_i32(7);
        out.rewrite_u8(1, 9);
        assert_eq!(out.into_vec(), vec![7, 9, 0, 0]);
    }

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
