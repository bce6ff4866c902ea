//! [`Encode`]/[`Decode`] for Slice's built-in types, sequences and dictionaries.
//!
//! Mapping: `bool`, `byte` (`u8`), `short` (`i16`), `int` (`i32`), `long`
//! (`i64`), `float` (`f32`), `double` (`f64`), `string` (`String`),
//! `sequence<T>` (`Vec<T>`; `sequence<byte>` may also be [`Bytes`], read
//! without copying), `dictionary<K, V>` (`BTreeMap`, whose key order is the
//! order ZeroC's C++ `std::map` writes, or `HashMap`, whose order is not).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};

use bytes::Bytes;

use super::{Decode, Encode, InputStream, OptionalFormat, OutputStream, Result};

macro_rules! primitive {
    ($t:ty, $size:expr, $fmt:ident, $write:ident, $read:ident) => {
        impl Encode for $t {
            const FIXED_SIZE: Option<usize> = Some($size);
            const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::$fmt;
            #[inline]
            fn encode(&self, out: &mut OutputStream) {
                out.$write(*self);
            }
            #[inline]
            fn encode_slice(items: &[Self], out: &mut OutputStream) {
                out.reserve(items.len() * $size);
                for v in items {
                    out.buf.extend_from_slice(&v.to_le_bytes());
                }
            }
        }

        impl Decode for $t {
            const MIN_WIRE_SIZE: usize = $size;
            const FIXED_SIZE: Option<usize> = Some($size);
            const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::$fmt;
            #[inline]
            fn decode(input: &mut InputStream) -> Result<Self> {
                input.$read()
            }
            fn decode_vec(input: &mut InputStream, count: usize) -> Result<Vec<Self>> {
                let bytes = input.take(count.saturating_mul($size), stringify!($t))?;
                Ok(bytes
                    .chunks_exact($size)
                    .map(|c| {
                        let mut a = [0u8; $size];
                        a.copy_from_slice(c);
                        <$t>::from_le_bytes(a)
                    })
                    .collect())
            }
        }
    };
}

primitive!(i16, 2, F2, write_i16, read_i16);
primitive!(i32, 4, F4, write_i32, read_i32);
primitive!(i64, 8, F8, write_i64, read_i64);
primitive!(f32, 4, F4, write_f32, read_f32);
primitive!(f64, 8, F8, write_f64, read_f64);

impl Encode for u8 {
    const FIXED_SIZE: Option<usize> = Some(1);
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::F1;
    #[inline]
    fn encode(&self, out: &mut OutputStream) {
        out.write_u8(*self);
    }
    #[inline]
    fn encode_slice(items: &[Self], out: &mut OutputStream) {
        out.write_blob(items);
    }
}

impl Decode for u8 {
    const MIN_WIRE_SIZE: usize = 1;
    const FIXED_SIZE: Option<usize> = Some(1);
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::F1;
    #[inline]
    fn decode(input: &mut InputStream) -> Result<Self> {
        input.read_u8()
    }
    fn decode_vec(input: &mut InputStream, count: usize) -> Result<Vec<Self>> {
        Ok(input.take(count, "sequence<byte>")?.to_vec())
    }
}

impl Encode for bool {
    const FIXED_SIZE: Option<usize> = Some(1);
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::F1;
    #[inline]
    fn encode(&self, out: &mut OutputStream) {
        out.write_bool(*self);
    }
    fn encode_slice(items: &[Self], out: &mut OutputStream) {
        out.buf.extend(items.iter().map(|&b| u8::from(b)));
    }
}

impl Decode for bool {
    const MIN_WIRE_SIZE: usize = 1;
    const FIXED_SIZE: Option<usize> = Some(1);
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::F1;
    #[inline]
    fn decode(input: &mut InputStream) -> Result<Self> {
        input.read_bool()
    }
    fn decode_vec(input: &mut InputStream, count: usize) -> Result<Vec<Self>> {
        Ok(input
            .take(count, "sequence<bool>")?
            .iter()
            .map(|&b| b != 0)
            .collect())
    }
}

impl Encode for str {
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::VSize;
    #[inline]
    fn encode(&self, out: &mut OutputStream) {
        out.write_string(self);
    }
}

impl Encode for String {
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::VSize;
    #[inline]
    fn encode(&self, out: &mut OutputStream) {
        out.write_string(self);
    }
}

impl Decode for String {
    const MIN_WIRE_SIZE: usize = 1;
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::VSize;
    #[inline]
    fn decode(input: &mut InputStream) -> Result<Self> {
        input.read_string()
    }
    fn decode_vec(input: &mut InputStream, count: usize) -> Result<Vec<Self>> {
        input.read_string_vec(count)
    }
}

/// Optional format of a sequence of `T`: `VSize` when `T` is fixed-size.
const fn seq_format(elem_fixed: Option<usize>) -> OptionalFormat {
    match elem_fixed {
        Some(_) => OptionalFormat::VSize,
        None => OptionalFormat::FSize,
    }
}

/// The size prefix Ice writes before an optional sequence of fixed-size
/// elements: the byte length of the elements plus the count's own size.
fn fixed_seq_prefix(count: usize, elem: usize) -> usize {
    count * elem + if count > 254 { 5 } else { 1 }
}

impl<T: Encode> Encode for [T] {
    const OPTIONAL_FORMAT: OptionalFormat = seq_format(T::FIXED_SIZE);
    #[inline]
    fn encode(&self, out: &mut OutputStream) {
        out.write_size(self.len());
        // Room for the elements at once: their size when fixed, else a
        // few bytes each (a string's size byte and a short text).
        out.reserve(self.len().saturating_mul(T::FIXED_SIZE.unwrap_or(4)));
        T::encode_slice(self, out);
    }
    fn encode_optional(&self, out: &mut OutputStream) {
        match T::FIXED_SIZE {
            Some(1) => self.encode(out),
            Some(n) => {
                out.write_size(fixed_seq_prefix(self.len(), n));
                self.encode(out);
            }
            None => super::optional::encode_fsize(self, out),
        }
    }
}

impl<T: Encode> Encode for Vec<T> {
    const OPTIONAL_FORMAT: OptionalFormat = seq_format(T::FIXED_SIZE);
    #[inline]
    fn encode(&self, out: &mut OutputStream) {
        self.as_slice().encode(out);
    }
    fn encode_optional(&self, out: &mut OutputStream) {
        self.as_slice().encode_optional(out);
    }
}

impl<T: Decode> Decode for Vec<T> {
    const MIN_WIRE_SIZE: usize = 1;
    const OPTIONAL_FORMAT: OptionalFormat = seq_format(T::FIXED_SIZE);
    #[inline]
    fn decode(input: &mut InputStream) -> Result<Self> {
        let count = input.read_count("sequence", T::MIN_WIRE_SIZE)?;
        T::decode_vec(input, count)
    }
    fn decode_optional(input: &mut InputStream) -> Result<Self> {
        match T::FIXED_SIZE {
            Some(1) => {}
            Some(_) => {
                input.read_size("optional sequence size")?;
            }
            None => input.skip(4, "optional sequence size")?,
        }
        Self::decode(input)
    }
}

/// `sequence<byte>` as [`Bytes`]: decoding borrows the input buffer.
impl Encode for Bytes {
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::VSize;
    #[inline]
    fn encode(&self, out: &mut OutputStream) {
        out.write_size(self.len());
        out.write_blob(self);
    }
}

impl Decode for Bytes {
    const MIN_WIRE_SIZE: usize = 1;
    const OPTIONAL_FORMAT: OptionalFormat = OptionalFormat::VSize;
    #[inline]
    fn decode(input: &mut InputStream) -> Result<Self> {
        let n = input.read_size("sequence<byte>")?;
        input.read_bytes(n, "sequence<byte>")
    }
}

/// Optional format of a dictionary: `VSize` when key and value are fixed-size.
const fn dict_format(k: Option<usize>, v: Option<usize>) -> OptionalFormat {
    match (k, v) {
        (Some(_), Some(_)) => OptionalFormat::VSize,
        _ => OptionalFormat::FSize,
    }
}

fn encode_dict<'a, K, V, I>(len: usize, entries: I, out: &mut OutputStream)
where
    K: Encode + 'a,
    V: Encode + 'a,
    I: Iterator<Item = (&'a K, &'a V)>,
{
    out.write_size(len);
    for (k, v) in entries {
        k.encode(out);
        v.encode(out);
    }
}

fn encode_dict_optional<D: Encode + ?Sized>(
    d: &D,
    len: usize,
    k: Option<usize>,
    v: Option<usize>,
    out: &mut OutputStream,
) {
    match (k, v) {
        (Some(k), Some(v)) => {
            out.write_size(fixed_seq_prefix(len, k + v));
            d.encode(out);
        }
        _ => super::optional::encode_fsize(d, out),
    }
}

fn skip_dict_optional_prefix(
    input: &mut InputStream,
    k: Option<usize>,
    v: Option<usize>,
) -> Result<()> {
    match (k, v) {
        (Some(_), Some(_)) => input.read_size("optional dictionary size").map(|_| ()),
        _ => input.skip(4, "optional dictionary size"),
    }
}

impl<K: Encode, V: Encode> Encode for BTreeMap<K, V> {
    const OPTIONAL_FORMAT: OptionalFormat = dict_format(K::FIXED_SIZE, V::FIXED_SIZE);
    fn encode(&self, out: &mut OutputStream) {
        encode_dict(self.len(), self.iter(), out);
    }
    fn encode_optional(&self, out: &mut OutputStream) {
        encode_dict_optional(self, self.len(), K::FIXED_SIZE, V::FIXED_SIZE, out);
    }
}

impl<K: Decode + Ord, V: Decode> Decode for BTreeMap<K, V> {
    const MIN_WIRE_SIZE: usize = 1;
    const OPTIONAL_FORMAT: OptionalFormat = dict_format(K::FIXED_SIZE, V::FIXED_SIZE);
    fn decode(input: &mut InputStream) -> Result<Self> {
        let count = input.read_count("dictionary", K::MIN_WIRE_SIZE + V::MIN_WIRE_SIZE)?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let k = K::decode(input)?;
            let v = V::decode(input)?;
            map.insert(k, v);
        }
        Ok(map)
    }
    fn decode_optional(input: &mut InputStream) -> Result<Self> {
        skip_dict_optional_prefix(input, K::FIXED_SIZE, V::FIXED_SIZE)?;
        Self::decode(input)
    }
}

impl<K: Encode, V: Encode, S> Encode for HashMap<K, V, S> {
    const OPTIONAL_FORMAT: OptionalFormat = dict_format(K::FIXED_SIZE, V::FIXED_SIZE);
    fn encode(&self, out: &mut OutputStream) {
        encode_dict(self.len(), self.iter(), out);
    }
    fn encode_optional(&self, out: &mut OutputStream) {
        encode_dict_optional(self, self.len(), K::FIXED_SIZE, V::FIXED_SIZE, out);
    }
}

impl<K: Decode + Eq + Hash, V: Decode, S: BuildHasher + Default> Decode for HashMap<K, V, S> {
    const MIN_WIRE_SIZE: usize = 1;
    const OPTIONAL_FORMAT: OptionalFormat = dict_format(K::FIXED_SIZE, V::FIXED_SIZE);
    fn decode(input: &mut InputStream) -> Result<Self> {
        let count = input.read_count("dictionary", K::MIN_WIRE_SIZE + V::MIN_WIRE_SIZE)?;
        let mut map = HashMap::with_capacity_and_hasher(count, S::default());
        for _ in 0..count {
            let k = K::decode(input)?;
            let v = V::decode(input)?;
            map.insert(k, v);
        }
        Ok(map)
    }
    fn decode_optional(input: &mut InputStream) -> Result<Self> {
        skip_dict_optional_prefix(input, K::FIXED_SIZE, V::FIXED_SIZE)?;
        Self::decode(input)
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    const FIXED_SIZE: Option<usize> = T::FIXED_SIZE;
    const OPTIONAL_FORMAT: OptionalFormat = T::OPTIONAL_FORMAT;
    fn encode(&self, out: &mut OutputStream) {
        (**self).encode(out);
    }
    fn encode_optional(&self, out: &mut OutputStream) {
        (**self).encode_optional(out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EncodingVersion, Error};
    use super::*;
    use pretty_assertions::assert_eq;

    fn round<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: T, bytes: &[u8]) {
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        v.encode(&mut out);
        assert_eq!(out.as_slice(), bytes);
        let mut input = InputStream::from_slice(bytes, EncodingVersion::V1_1);
        assert_eq!(T::decode(&mut input).as_ref(), Ok(&v));
        assert!(input.is_at_end());
    }

    #[test]
    fn primitives_are_little_endian() {
        round(true, &[1]);
        round(0xabu8, &[0xab]);
        round(-2i16, &[0xfe, 0xff]);
        round(0x01020304i32, &[4, 3, 2, 1]);
        round(-1i64, &[0xff; 8]);
        round(1.0f32, &[0, 0, 0x80, 0x3f]);
        round(1.0f64, &[0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
        round("hé".to_owned(), &[3, b'h', 0xc3, 0xa9]);
    }

    #[test]
    fn sequences_and_dictionaries() {
        round(vec![1i16, 2], &[2, 1, 0, 2, 0]);
        round(vec![vec![7u8], vec![]], &[2, 1, 7, 0]);
        round(vec![true, false], &[2, 1, 0]);
        let mut d = BTreeMap::new();
        d.insert(2i32, "b".to_owned());
        d.insert(1i32, "a".to_owned());
        round(d, &[2, 1, 0, 0, 0, 1, b'a', 2, 0, 0, 0, 1, b'b']);
    }

    #[test]
    fn byte_sequences_borrow_the_input() {
        let buf = Bytes::from_static(&[3, 1, 2, 3]);
        let mut input = InputStream::new(buf.clone(), EncodingVersion::V1_1);
        let b = Bytes::decode(&mut input);
        assert_eq!(b.as_deref(), Ok(&[1u8, 2, 3][..]));
        if let Ok(b) = b {
            assert_eq!(b.as_ptr(), buf[1..].as_ptr());
        }
    }

    #[test]
    fn oversized_counts_fail_before_allocating() {
        let mut input =
            InputStream::from_slice(&[255, 0xff, 0xff, 0xff, 0x7f], EncodingVersion::V1_1);
        assert!(matches!(
            Vec::<i64>::decode(&mut input),
            Err(Error::SizeExceedsInput { .. })
        ));
        let mut input = InputStream::from_slice(&[10, 0, 0, 0, 0, 0], EncodingVersion::V1_1);
        assert!(matches!(
            Vec::<i32>::decode(&mut input),
            Err(Error::SizeExceedsInput { min_each: 4, .. })
        ));
    }
}
