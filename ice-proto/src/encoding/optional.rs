//! Optional values (encoding 1.1): tags, formats, and skipping unknown tags.
//!
//! An optional value is a tag header (format in the low 3 bits, tag in the
//! high 5, tags from 30 up spilled into a following size) and a body whose
//! shape depends on the format. Encoding 1.0 has no optional values: writes
//! are dropped and reads find nothing. Unknown tags are skipped by format;
//! the end marker `0xFF` closes the optional members of a class or exception
//! slice, the end of the encapsulation closes optional parameters.

use super::error::{Error, Result};
use super::{Decode, Encode, InputStream, OutputStream};

/// The end marker after the optional members of a slice.
pub const OPTIONAL_END_MARKER: u8 = 0xFF;

/// The wire format of an optional value's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OptionalFormat {
    /// One byte (`byte`, `bool`).
    F1 = 0,
    /// Two bytes (`short`).
    F2 = 1,
    /// Four bytes (`int`, `float`).
    F4 = 2,
    /// Eight bytes (`long`, `double`).
    F8 = 3,
    /// A size (enums).
    Size = 4,
    /// A size, then that many bytes (strings, fixed-size structs and sequences).
    VSize = 5,
    /// An `int` byte count, then that many bytes (variable-size types, proxies).
    FSize = 6,
    /// A class instance.
    Class = 7,
}

impl OptionalFormat {
    /// The format with wire code `code` (its low 3 bits).
    pub fn from_code(code: u8) -> Self {
        match code & 7 {
            0 => Self::F1,
            1 => Self::F2,
            2 => Self::F4,
            3 => Self::F8,
            4 => Self::Size,
            5 => Self::VSize,
            6 => Self::FSize,
            _ => Self::Class,
        }
    }
}

/// Writes `v` with an `int` byte-count prefix (the `FSize` format).
pub fn encode_fsize<T: Encode + ?Sized>(v: &T, out: &mut OutputStream) {
    let pos = out.len();
    out.write_i32(0);
    v.encode(out);
    let size = out.len() - pos - 4;
    out.rewrite_i32(pos, i32::try_from(size).unwrap_or(i32::MAX));
}

/// The default optional body of a type: a size prefix for fixed-size
/// `VSize` types (structs), an `int` prefix for `FSize`, none otherwise.
pub fn encode_optional_default<T: Encode + ?Sized>(
    v: &T,
    fixed: Option<usize>,
    format: OptionalFormat,
    out: &mut OutputStream,
) {
    match format {
        OptionalFormat::VSize => {
            if let Some(n) = fixed {
                out.write_size(n);
            }
            v.encode(out);
        }
        OptionalFormat::FSize => encode_fsize(v, out),
        _ => v.encode(out),
    }
}

/// Reads the default optional body, mirror of [`encode_optional_default`].
pub fn decode_optional_default<T: Decode>(
    fixed: Option<usize>,
    format: OptionalFormat,
    input: &mut InputStream,
) -> Result<T> {
    match format {
        OptionalFormat::VSize if fixed.is_some() => {
            input.read_size("optional size")?;
        }
        OptionalFormat::FSize => input.skip(4, "optional size")?,
        _ => {}
    }
    T::decode(input)
}

impl OutputStream {
    /// Writes the tag header of an optional value; returns false (and
    /// writes nothing) in encoding 1.0, which has no optional values.
    pub fn write_optional_tag(&mut self, tag: i32, format: OptionalFormat) -> bool {
        if self.encoding().is_1_0() {
            return false;
        }
        self.mark_optional_members();
        let code = format as u8;
        if tag < 30 {
            self.write_u8(code | ((tag as u8) << 3));
        } else {
            self.write_u8(code | (30 << 3));
            self.write_size(usize::try_from(tag).unwrap_or(0));
        }
        true
    }

    /// Writes an optional value with tag `tag`, if it is set.
    pub fn write_optional<T: Encode + ?Sized>(&mut self, tag: i32, v: Option<&T>) {
        if let Some(v) = v {
            if self.write_optional_tag(tag, T::OPTIONAL_FORMAT) {
                v.encode_optional(self);
            }
        }
    }
}

impl InputStream {
    /// Looks for optional tag `tag` of `format`, skipping lower unknown tags.
    /// Returns true with the stream at the body when found; false (stream
    /// unchanged past skipped tags) when absent.
    pub fn find_optional(&mut self, tag: i32, format: OptionalFormat) -> Result<bool> {
        if self.encoding().is_1_0() || !self.slice_may_have_optionals() {
            return Ok(false);
        }
        loop {
            if self.position() >= self.encaps_end() {
                return Ok(false);
            }
            let start = self.position();
            let v = self.read_u8()?;
            if v == OPTIONAL_END_MARKER {
                self.seek(start);
                return Ok(false);
            }
            let found = OptionalFormat::from_code(v);
            let mut t = i64::from(v >> 3);
            if t == 30 {
                t = self.read_size("optional tag")? as i64;
            }
            let want = i64::from(tag);
            if t > want {
                self.seek(start);
                return Ok(false);
            }
            if t < want {
                self.skip_optional(found)?;
                continue;
            }
            if found != format {
                return Err(Error::OptionalFormatMismatch {
                    tag,
                    expected: format as u8,
                    found: found as u8,
                });
            }
            return Ok(true);
        }
    }

    /// Reads optional value `tag`, or `None` when absent.
    pub fn read_optional<T: Decode>(&mut self, tag: i32) -> Result<Option<T>> {
        if self.find_optional(tag, T::OPTIONAL_FORMAT)? {
            T::decode_optional(self).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Skips the body of an optional value of `format`.
    pub fn skip_optional(&mut self, format: OptionalFormat) -> Result<()> {
        match format {
            OptionalFormat::F1 => self.skip(1, "optional F1"),
            OptionalFormat::F2 => self.skip(2, "optional F2"),
            OptionalFormat::F4 => self.skip(4, "optional F4"),
            OptionalFormat::F8 => self.skip(8, "optional F8"),
            OptionalFormat::Size => self.read_size("optional Size").map(|_| ()),
            OptionalFormat::VSize => {
                let n = self.read_size("optional VSize")?;
                self.skip(n, "optional VSize body")
            }
            OptionalFormat::FSize => {
                let n = self.read_i32()?;
                let n = usize::try_from(n).map_err(|_| Error::NegativeSize {
                    what: "optional FSize",
                    value: n,
                })?;
                self.skip(n, "optional FSize body")
            }
            OptionalFormat::Class => self.read_class().map(|_| ()),
        }
    }

    /// Skips every optional value up to the end marker (consumed) or the
    /// end of the encapsulation.
    pub fn skip_remaining_optionals(&mut self) -> Result<()> {
        loop {
            if self.position() >= self.encaps_end() {
                return Ok(());
            }
            let v = self.read_u8()?;
            if v == OPTIONAL_END_MARKER {
                return Ok(());
            }
            if v >> 3 == 30 {
                self.read_size("optional tag")?;
            }
            self.skip_optional(OptionalFormat::from_code(v))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::EncodingVersion;
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn tags_and_bodies() {
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        out.write_optional(1, Some(&7u8));
        out.write_optional(2, Some(&vec![1i32, 2]));
        out.write_optional(3, Some(&vec!["a".to_owned()]));
        out.write_optional(300, Some(&5i32));
        assert_eq!(
            out.as_slice(),
            &[
                0x08, 7, // tag 1 F1
                0x15, 9, 2, 1, 0, 0, 0, 2, 0, 0, 0, // tag 2 VSize
                0x1e, 3, 0, 0, 0, 1, 1, b'a', // tag 3 FSize
                0xf2, 255, 44, 1, 0, 0, 5, 0, 0, 0 // tag 300 F4
            ]
        );
        let mut input = InputStream::from_slice(out.as_slice(), EncodingVersion::V1_1);
        assert_eq!(input.read_optional::<i32>(300 - 1), Ok(None));
        // Tags 1..3 were skipped on the way, so they are gone now.
        assert_eq!(input.read_optional::<i32>(300), Ok(Some(5)));
        let mut input = InputStream::from_slice(out.as_slice(), EncodingVersion::V1_1);
        assert_eq!(input.read_optional::<u8>(1), Ok(Some(7)));
        assert_eq!(
            input.read_optional::<Vec<String>>(3),
            Ok(Some(vec!["a".to_owned()]))
        );
        assert!(matches!(
            input.read_optional::<i64>(300),
            Err(Error::OptionalFormatMismatch { .. })
        ));
    }

    #[test]
    fn encoding_1_0_has_no_optionals() {
        let mut out = OutputStream::new(EncodingVersion::V1_0);
        out.write_optional(1, Some(&7u8));
        assert!(out.is_empty());
    }
}
