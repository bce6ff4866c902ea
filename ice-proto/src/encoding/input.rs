//! [`InputStream`]: reads Ice data from a [`Bytes`] buffer.
//!
//! Every read checks the bytes that remain first, and every size or count
//! is checked against the remaining input (times the least wire size of an
//! element) before anything is allocated. Byte sequences are handed out as
//! [`Bytes`] slices of the input, without copying. Classes, exceptions and
//! optional values add methods in their own modules.

use std::sync::Arc;

use bytes::{Buf, Bytes};

use super::class::{ClassReader, Registry};
use super::error::{Error, Result};
use super::EncodingVersion;

/// The default limit on nested class instances (see [`InputStream::with_max_depth`]).
pub const DEFAULT_CLASS_GRAPH_DEPTH_MAX: usize = 100;

/// An open encapsulation while reading.
#[derive(Debug)]
struct EncapsFrame {
    /// Position just past the encapsulation's last byte.
    end: usize,
    saved_encoding: EncodingVersion,
    saved_classes: ClassReader,
}

/// Reads Ice-encoded data.
#[derive(Debug)]
pub struct InputStream {
    buf: Bytes,
    pos: usize,
    encoding: EncodingVersion,
    /// The innermost open encapsulation, kept inline: a request's or
    /// reply's stream opens one and allocates nothing for it.
    encaps: Option<EncapsFrame>,
    /// The encapsulations enclosing `encaps`, innermost last.
    outer_encaps: Vec<EncapsFrame>,
    pub(crate) classes: ClassReader,
    pub(crate) registry: Arc<Registry>,
    pub(crate) max_depth: usize,
    /// The communicator proxies read from this stream are bound to.
    communicator: Option<crate::communicator::Communicator>,
}

impl InputStream {
    /// A stream over `buf`, read in `encoding`, knowing no classes or exceptions.
    pub fn new(buf: Bytes, encoding: EncodingVersion) -> Self {
        Self {
            buf,
            pos: 0,
            encoding,
            encaps: None,
            outer_encaps: Vec::new(),
            classes: ClassReader::default(),
            registry: Registry::empty(),
            max_depth: DEFAULT_CLASS_GRAPH_DEPTH_MAX,
            communicator: None,
        }
    }

    /// A stream positioned inside an encapsulation whose `body` (the bytes
    /// after its 6-byte header) and `encoding` were already read, as a
    /// request's parameters are: reading ends with
    /// [`Self::end_encapsulation`], as after [`Self::start_encapsulation`].
    /// The body is not copied.
    ///
    /// # Errors
    /// [`Error::UnsupportedEncoding`] for an encoding other than 1.0 or 1.1.
    pub fn for_encapsulation(body: Bytes, encoding: EncodingVersion) -> Result<Self> {
        Self::for_encapsulation_with(body, encoding, Registry::empty(), None)
    }

    /// [`Self::for_encapsulation`] with the registry of
    /// [`Self::with_registry`] and the communicator of
    /// [`Self::with_communicator`], set as the stream is made rather than
    /// by moving it through those.
    ///
    /// # Errors
    /// [`Error::UnsupportedEncoding`] for an encoding other than 1.0 or 1.1.
    pub fn for_encapsulation_with(
        body: Bytes,
        encoding: EncodingVersion,
        registry: Arc<Registry>,
        communicator: Option<crate::communicator::Communicator>,
    ) -> Result<Self> {
        if !encoding.is_supported() {
            return Err(Error::UnsupportedEncoding {
                what: "encapsulation",
                major: encoding.major,
                minor: encoding.minor,
            });
        }
        let end = body.len();
        Ok(Self {
            buf: body,
            pos: 0,
            encoding,
            encaps: Some(EncapsFrame {
                end,
                saved_encoding: EncodingVersion::V1_0,
                saved_classes: ClassReader::default(),
            }),
            outer_encaps: Vec::new(),
            classes: ClassReader::default(),
            registry,
            max_depth: DEFAULT_CLASS_GRAPH_DEPTH_MAX,
            communicator,
        })
    }

    /// A stream over a copy of `bytes`.
    pub fn from_slice(bytes: &[u8], encoding: EncodingVersion) -> Self {
        Self::new(Bytes::copy_from_slice(bytes), encoding)
    }

    /// Binds the typed proxies read from this stream (generated `XPrx`
    /// types, `ObjectPrx`) to `communicator`; without one, reading such a
    /// proxy fails with [`super::Error::Misuse`]. `ProxyData` needs none.
    #[must_use]
    pub fn with_communicator(mut self, communicator: crate::communicator::Communicator) -> Self {
        self.communicator = Some(communicator);
        self
    }

    /// The communicator set with [`Self::with_communicator`].
    #[must_use]
    pub fn communicator(&self) -> Option<&crate::communicator::Communicator> {
        self.communicator.as_ref()
    }

    /// Uses `registry` to create class instances and user exceptions.
    #[must_use]
    pub fn with_registry(mut self, registry: Arc<Registry>) -> Self {
        self.registry = registry;
        self
    }

    /// Limits how deeply class instances may nest (default 100).
    #[must_use]
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// The encoding now in use (the innermost encapsulation's).
    pub fn encoding(&self) -> EncodingVersion {
        self.encoding
    }

    /// The read position.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left in the whole buffer.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Whether the whole buffer was read.
    pub fn is_at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// End of the innermost encapsulation (or of the buffer).
    pub(crate) fn encaps_end(&self) -> usize {
        self.encaps.as_ref().map_or(self.buf.len(), |f| f.end)
    }

    /// Moves the read position to `pos` (never past the end).
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos.min(self.buf.len());
    }

    /// The input bytes `start..end` (clamped), without copying.
    pub(crate) fn slice_of_input(&self, start: usize, end: usize) -> Bytes {
        let end = end.min(self.buf.len());
        self.buf.slice(start.min(end)..end)
    }

    /// Takes `n` bytes as a slice of the input.
    #[inline]
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&[u8]> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(Error::EndOfInput {
                what,
                needed: n,
                remaining,
            });
        }
        let start = self.pos;
        self.pos += n;
        Ok(&self.buf[start..start + n])
    }

    #[inline]
    fn take_array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    /// Skips `n` bytes.
    pub fn skip(&mut self, n: usize, what: &'static str) -> Result<()> {
        self.take(n, what).map(|_| ())
    }

    /// Reads a `byte`.
    #[inline]
    pub fn read_u8(&mut self) -> Result<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(Error::EndOfInput {
                what: "byte",
                needed: 1,
                remaining: 0,
            }),
        }
    }

    /// Reads a `bool` (any non-zero byte is true, as in Ice).
    #[inline]
    pub fn read_bool(&mut self) -> Result<bool> {
        Ok(self.read_u8()? != 0)
    }

    /// Reads a `short`.
    #[inline]
    pub fn read_i16(&mut self) -> Result<i16> {
        Ok(i16::from_le_bytes(self.take_array("short")?))
    }

    /// Reads an `int`.
    #[inline]
    pub fn read_i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take_array("int")?))
    }

    /// Reads a `long`.
    #[inline]
    pub fn read_i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take_array("long")?))
    }

    /// Reads a `float`.
    #[inline]
    pub fn read_f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take_array("float")?))
    }

    /// Reads a `double`.
    #[inline]
    pub fn read_f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take_array("double")?))
    }

    /// Reads a size (one byte, or 255 and a non-negative `int`).
    #[inline]
    pub fn read_size(&mut self, what: &'static str) -> Result<usize> {
        let b = match self.buf.get(self.pos) {
            Some(&b) => b,
            None => {
                return Err(Error::EndOfInput {
                    what,
                    needed: 1,
                    remaining: 0,
                })
            }
        };
        self.pos += 1;
        if b < 255 {
            return Ok(usize::from(b));
        }
        let v = i32::from_le_bytes(self.take_array(what)?);
        usize::try_from(v).map_err(|_| Error::NegativeSize { what, value: v })
    }

    /// Reads the element count of a sequence or dictionary whose elements
    /// take at least `min_each` bytes, checked against the remaining input.
    #[inline]
    pub fn read_count(&mut self, what: &'static str, min_each: usize) -> Result<usize> {
        let count = self.read_size(what)?;
        self.check_count(what, count, min_each)?;
        Ok(count)
    }

    /// Checks that `count` elements of at least `min_each` bytes can fit.
    #[inline]
    pub fn check_count(&self, what: &'static str, count: usize, min_each: usize) -> Result<()> {
        let remaining = self.remaining();
        if count.saturating_mul(min_each) > remaining {
            return Err(Error::SizeExceedsInput {
                what,
                count,
                min_each,
                remaining,
            });
        }
        Ok(())
    }

    /// Reads `n` bytes as a slice of the input, without copying.
    pub fn read_bytes(&mut self, n: usize, what: &'static str) -> Result<Bytes> {
        let remaining = self.remaining();
        if n > remaining {
            return Err(Error::SizeExceedsInput {
                what,
                count: n,
                min_each: 1,
                remaining,
            });
        }
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    /// Reads a `string` as a borrowed, UTF-8-checked `&str`.
    #[inline]
    pub fn read_str(&mut self, what: &'static str) -> Result<&str> {
        let n = self.read_size(what)?;
        let remaining = self.remaining();
        if n > remaining {
            return Err(Error::SizeExceedsInput {
                what,
                count: n,
                min_each: 1,
                remaining,
            });
        }
        let start = self.pos;
        self.pos += n;
        let bytes = &self.buf[start..start + n];
        if let Some(text) = ascii_str(bytes) {
            return Ok(text);
        }
        std::str::from_utf8(bytes).map_err(|e| Error::InvalidUtf8 {
            what,
            valid_up_to: e.valid_up_to(),
        })
    }

    /// Reads a `string`.
    #[inline]
    pub fn read_string(&mut self) -> Result<String> {
        self.read_str("string").map(str::to_owned)
    }

    /// Reads the `count` elements of a `sequence<string>`.
    ///
    /// The leading run of strings shorter than 128 bytes (one size byte
    /// each, below 0x80) is checked for UTF-8 in one pass: every size byte
    /// of the run is then an ASCII character, which no multi-byte character
    /// can contain, so the run is valid exactly when each string is. Strings
    /// after the run, and a run that is not valid, are read one by one
    /// (which reports the bad string).
    pub fn read_string_vec(&mut self, count: usize) -> Result<Vec<String>> {
        let mut items = Vec::with_capacity(count);
        let start = self.pos;
        let (end, short) = self.short_string_run(count);
        if short > 0 {
            if let Ok(run) = std::str::from_utf8(&self.buf[start..end]) {
                let mut at = 0;
                for _ in 0..short {
                    let len = usize::from(run.as_bytes()[at]);
                    // Always on character boundaries (next to ASCII bytes);
                    // `get` keeps even a broken invariant from panicking.
                    match run.get(at + 1..at + 1 + len) {
                        Some(text) => items.push(text.to_owned()),
                        None => break,
                    }
                    at += 1 + len;
                }
                self.pos = start + at;
            }
        }
        while items.len() < count {
            items.push(self.read_string()?);
        }
        Ok(items)
    }

    /// From the current position, the end of the run of at most `count`
    /// strings whose size is one byte below 128 and which fit in the input,
    /// and how many strings it holds.
    fn short_string_run(&self, count: usize) -> (usize, usize) {
        let limit = self.buf.len();
        let mut at = self.pos;
        let mut n = 0;
        while n < count {
            let Some(&len) = self.buf.get(at) else { break };
            let next = at + 1 + usize::from(len);
            if len >= 0x80 || next > limit {
                break;
            }
            at = next;
            n += 1;
        }
        (at, n)
    }

    /// Reads an enumerator of an enum whose largest enumerator is `max_value`.
    /// The caller checks that the value names an enumerator.
    pub fn read_enum(&mut self, max_value: i32, type_name: &'static str) -> Result<i32> {
        let v = if self.encoding.is_1_0() {
            if max_value < 127 {
                i32::from(self.read_u8()?)
            } else if max_value < 32767 {
                i32::from(self.read_i16()?)
            } else {
                self.read_i32()?
            }
        } else {
            let s = self.read_size(type_name)?;
            i32::try_from(s).map_err(|_| Error::InvalidEnumerator {
                type_name,
                value: i32::MAX,
            })?
        };
        if v < 0 || v > max_value {
            return Err(Error::InvalidEnumerator {
                type_name,
                value: v,
            });
        }
        Ok(v)
    }

    /// Reads an encapsulation header and enters it; returns its encoding.
    ///
    /// Class instance ids and type-id tables start afresh inside it.
    pub fn start_encapsulation(&mut self) -> Result<EncodingVersion> {
        let (end, encoding) = self.read_encaps_header("encapsulation")?;
        let frame = EncapsFrame {
            end,
            saved_encoding: self.encoding,
            saved_classes: std::mem::take(&mut self.classes),
        };
        if let Some(enclosing) = self.encaps.replace(frame) {
            self.outer_encaps.push(enclosing);
        }
        self.encoding = encoding;
        Ok(encoding)
    }

    /// Reads an encapsulation's size and version; returns (end, version).
    fn read_encaps_header(&mut self, what: &'static str) -> Result<(usize, EncodingVersion)> {
        let size = self.read_i32()?;
        let remaining = self.remaining();
        let body = usize::try_from(size).ok().and_then(|s| s.checked_sub(4));
        let body = match body {
            Some(b) if b >= 2 && b <= remaining => b,
            _ => {
                return Err(Error::InvalidEncapsulationSize {
                    what,
                    size,
                    remaining,
                })
            }
        };
        let end = self.pos + body;
        let major = self.read_u8()?;
        let minor = self.read_u8()?;
        let encoding = EncodingVersion { major, minor };
        if !encoding.is_supported() {
            return Err(Error::UnsupportedEncoding { what, major, minor });
        }
        Ok((end, encoding))
    }

    /// Leaves the innermost encapsulation, checking that it was read to its
    /// end. In 1.1, optional values nobody asked for are skipped first; in
    /// 1.0 one trailing byte is tolerated, as Ice does.
    pub fn end_encapsulation(&mut self) -> Result<()> {
        let end = match &self.encaps {
            Some(f) => f.end,
            None => {
                return Err(Error::UnbalancedEncapsulation {
                    what: "end without start",
                })
            }
        };
        if self.encoding.is_1_0() {
            if self.pos + 1 == end {
                self.pos += 1;
            }
        } else {
            self.skip_remaining_optionals()?;
        }
        if self.pos != end {
            return Err(Error::EncapsulationMismatch {
                unread: end as i64 - self.pos as i64,
            });
        }
        if let Some(frame) = std::mem::replace(&mut self.encaps, self.outer_encaps.pop()) {
            self.encoding = frame.saved_encoding;
            self.classes = frame.saved_classes;
        }
        Ok(())
    }

    /// Skips a whole encapsulation; returns its encoding.
    pub fn skip_encapsulation(&mut self) -> Result<EncodingVersion> {
        let (end, encoding) = self.read_encaps_header("skipped encapsulation")?;
        self.seek(end);
        Ok(encoding)
    }

    /// Reads a whole encapsulation as its encoding and body bytes.
    pub fn read_encapsulation(&mut self) -> Result<(EncodingVersion, Bytes)> {
        let (encoding, len) = self.read_encapsulation_size()?;
        let bytes = self.read_bytes(len, "encapsulation body")?;
        Ok((encoding, bytes))
    }

    /// [`Self::read_encapsulation`] of the encapsulation that ends the
    /// input, as in a request or reply: the body is the rest of the input
    /// buffer, taken as it is (no reference count to raise, none to drop).
    /// Also returns how many bytes follow the encapsulation, which the
    /// caller refuses when there are any.
    pub(crate) fn read_last_encapsulation(mut self) -> Result<(EncodingVersion, Bytes, usize)> {
        let (encoding, len) = self.read_encapsulation_size()?;
        let end = self.pos + len;
        let mut body = self.buf;
        let trailing = body.len().saturating_sub(end);
        if trailing > 0 {
            body.truncate(end);
        }
        if self.pos <= body.len() {
            body.advance(self.pos);
        }
        Ok((encoding, body, trailing))
    }

    /// Reads an encapsulation's size and encoding; returns the encoding
    /// and the length of the body, which the input is checked to hold.
    fn read_encapsulation_size(&mut self) -> Result<(EncodingVersion, usize)> {
        let size = self.read_i32()?;
        let remaining = self.remaining();
        let body = match usize::try_from(size).ok().and_then(|s| s.checked_sub(6)) {
            Some(b) if b + 2 <= remaining => b,
            _ => {
                return Err(Error::InvalidEncapsulationSize {
                    what: "encapsulation",
                    size,
                    remaining,
                })
            }
        };
        let major = self.read_u8()?;
        let minor = self.read_u8()?;
        Ok((EncodingVersion { major, minor }, body))
    }

    /// Reads any [`Decode`](super::Decode) value.
    #[inline]
    pub fn read<T: super::Decode>(&mut self) -> Result<T> {
        T::decode(self)
    }
}

/// `bytes` as text when they are all ASCII, checked byte by byte.
///
/// The one `unsafe` block of the workspace, kept for a measured hot path:
/// `std::str::from_utf8` spends about 100 instructions on a 10-byte
/// string, 30% of a client decoding 50,000 `{string; double}` structs
/// (callgrind), where an ASCII check costs a few per byte. ASCII text is
/// valid UTF-8, so the unchecked conversion is sound; anything else goes
/// through `from_utf8`.
#[inline]
#[allow(unsafe_code)]
fn ascii_str(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn sizes_are_checked() {
        let mut i = InputStream::from_slice(&[255, 0, 0, 0, 128], EncodingVersion::V1_1);
        assert!(matches!(i.read_size("x"), Err(Error::NegativeSize { .. })));
        let mut i = InputStream::from_slice(&[5, 1, 2], EncodingVersion::V1_1);
        assert!(matches!(
            i.read_count("seq", 1),
            Err(Error::SizeExceedsInput { count: 5, .. })
        ));
    }

    #[test]
    fn strings_are_utf8_checked() {
        let mut i = InputStream::from_slice(&[2, 0xc3, 0x28], EncodingVersion::V1_1);
        assert!(matches!(i.read_string(), Err(Error::InvalidUtf8 { .. })));
        let mut i = InputStream::from_slice(&[2, 0xc3, 0xa9], EncodingVersion::V1_1);
        assert_eq!(i.read_string(), Ok("é".to_owned()));
        // ASCII (the unchecked path) up to 0x7f; 0x80 alone is refused.
        let mut i = InputStream::from_slice(&[3, b'a', 0, 0x7f, 1, 0x80], EncodingVersion::V1_1);
        assert_eq!(i.read_string(), Ok("a\0\u{7f}".to_owned()));
        assert!(matches!(i.read_string(), Err(Error::InvalidUtf8 { .. })));
    }

    /// Strings read as a sequence equal strings read one by one, whatever
    /// mix of short, long and non-ASCII strings, and a bad string in the
    /// batched run is reported as when read alone.
    #[test]
    fn string_sequences_read_like_single_strings() {
        let long = "x".repeat(300);
        let cases: Vec<Vec<String>> = vec![
            vec![],
            vec!["".into(), "a".into(), "s-00042".into()],
            vec!["é".into(), "日本".into(), long.clone(), "tail".into()],
            vec![long.clone(), "after".into()],
            vec!["z".repeat(127), "y".repeat(128), "\u{7f}".into()],
        ];
        for strings in cases {
            let mut out = crate::encoding::OutputStream::new(EncodingVersion::V1_1);
            for s in &strings {
                out.write_string(s);
            }
            out.write_u8(9);
            let bytes = out.finish();
            let mut i = InputStream::from_slice(&bytes, EncodingVersion::V1_1);
            assert_eq!(i.read_string_vec(strings.len()), Ok(strings.clone()));
            assert_eq!(i.read_u8(), Ok(9), "position after {strings:?}");
        }
        // A bad second string: the same error as reading it alone.
        let bad = [1, b'a', 2, 0xc3, 0x28, 1, b'b'];
        let mut i = InputStream::from_slice(&bad, EncodingVersion::V1_1);
        let batched = i.read_string_vec(3);
        let mut i = InputStream::from_slice(&bad[2..], EncodingVersion::V1_1);
        assert_eq!(batched, Err(i.read_string().unwrap_err()));
        // A multi-byte character cut by a size byte is refused.
        let mut i = InputStream::from_slice(&[1, 0xc3, 1, 0xa9], EncodingVersion::V1_1);
        assert!(matches!(
            i.read_string_vec(2),
            Err(Error::InvalidUtf8 { .. })
        ));
        // Too few bytes for the count.
        let mut i = InputStream::from_slice(&[1, b'a', 3, b'b'], EncodingVersion::V1_1);
        assert!(i.read_string_vec(2).is_err());
    }

    #[test]
    fn encapsulation_checks_size_and_version() {
        let mut i = InputStream::from_slice(&[6, 0, 0, 0, 1, 1], EncodingVersion::V1_0);
        assert_eq!(i.start_encapsulation(), Ok(EncodingVersion::V1_1));
        assert_eq!(i.end_encapsulation(), Ok(()));
        let mut i = InputStream::from_slice(&[6, 0, 0, 0, 1, 2], EncodingVersion::V1_0);
        assert!(matches!(
            i.start_encapsulation(),
            Err(Error::UnsupportedEncoding { .. })
        ));
        let mut i = InputStream::from_slice(&[7, 0, 0, 0, 1, 1], EncodingVersion::V1_0);
        assert!(matches!(
            i.start_encapsulation(),
            Err(Error::InvalidEncapsulationSize { .. })
        ));
        let mut i = InputStream::from_slice(&[7, 0, 0, 0, 1, 1, 9], EncodingVersion::V1_1);
        assert!(i.start_encapsulation().is_ok());
        // 1.1 skips trailing optionals first: 9 is tag 1, F2, cut short.
        assert!(i.end_encapsulation().is_err());
        let mut i = InputStream::from_slice(&[6, 0, 0, 0, 1, 1, 9], EncodingVersion::V1_1);
        assert!(i.start_encapsulation().is_ok());
        assert_eq!(i.read_u8(), Ok(9));
        assert!(matches!(
            i.end_encapsulation(),
            Err(Error::EncapsulationMismatch { unread: -1 })
        ));
        // 1.0 tolerates one trailing byte.
        let mut i = InputStream::from_slice(&[7, 0, 0, 0, 1, 0, 9], EncodingVersion::V1_1);
        assert!(i.start_encapsulation().is_ok());
        assert_eq!(i.end_encapsulation(), Ok(()));
    }

    /// Nested encapsulations (the innermost kept inline, the enclosing
    /// ones on a stack) end where they should and restore the encoding of
    /// the level they close.
    #[test]
    fn nested_encapsulations_restore_their_enclosing_levels() {
        // 1.1 { 1.0 { 1.1 { 7 } 8 } 9 }
        let bytes = [
            21, 0, 0, 0, 1, 1, // outer: 21 bytes
            14, 0, 0, 0, 1, 0, // middle: 14 bytes
            7, 0, 0, 0, 1, 1, 7, // inner: 7 bytes
            8, 9,
        ];
        let mut i = InputStream::from_slice(&bytes, EncodingVersion::V1_0);
        assert_eq!(i.start_encapsulation(), Ok(EncodingVersion::V1_1));
        assert_eq!(i.start_encapsulation(), Ok(EncodingVersion::V1_0));
        assert_eq!(i.start_encapsulation(), Ok(EncodingVersion::V1_1));
        assert_eq!(i.encaps_end(), 19);
        assert_eq!(i.read_u8(), Ok(7));
        assert_eq!(i.end_encapsulation(), Ok(()));
        assert_eq!(i.encoding(), EncodingVersion::V1_0);
        assert_eq!(i.encaps_end(), 20);
        assert_eq!(i.read_u8(), Ok(8));
        assert_eq!(i.end_encapsulation(), Ok(()));
        assert_eq!(i.encoding(), EncodingVersion::V1_1);
        assert_eq!(i.encaps_end(), 21);
        assert_eq!(i.read_u8(), Ok(9));
        assert_eq!(i.end_encapsulation(), Ok(()));
        assert_eq!(i.encoding(), EncodingVersion::V1_0);
        assert!(i.end_encapsulation().is_err());
        assert!(i.is_at_end());
    }

    #[test]
    fn for_encapsulation_reads_a_body_as_start_encapsulation_does() {
        let body = Bytes::from_static(&[5, 0, 0, 0, 9]);
        let mut i = InputStream::for_encapsulation(body.clone(), EncodingVersion::V1_1).unwrap();
        assert_eq!(i.encoding(), EncodingVersion::V1_1);
        assert_eq!(i.read_i32(), Ok(5));
        // 1.1: the trailing 9 is an optional (tag 1, F2) cut short.
        assert!(i.end_encapsulation().is_err());
        let mut i = InputStream::for_encapsulation(body.clone(), EncodingVersion::V1_0).unwrap();
        assert_eq!(i.read_i32(), Ok(5));
        // 1.0 tolerates one trailing byte, then the encoding is restored.
        assert_eq!(i.end_encapsulation(), Ok(()));
        assert_eq!(i.encoding(), EncodingVersion::V1_0);
        let mut i = InputStream::for_encapsulation(body.clone(), EncodingVersion::V1_0).unwrap();
        assert!(matches!(
            i.end_encapsulation(),
            Err(Error::EncapsulationMismatch { unread: 5 })
        ));
        assert!(matches!(
            InputStream::for_encapsulation(body, EncodingVersion { major: 1, minor: 2 }),
            Err(Error::UnsupportedEncoding { .. })
        ));
    }
}
