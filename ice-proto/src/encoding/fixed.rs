//! [`FixedWire`]: values Ice always writes in the same number of bytes
//! (Slice's fixed-size types: `bool`, `byte`, `short`, `int`, `long`,
//! `float`, `double` and structs of only those), read and written straight
//! from and into a byte block.
//!
//! A sequence of such a type is one block of `count * WIRE_SIZE` bytes.
//! [`decode_fixed_vec`] checks the block's length once and then reads every
//! element from its own slice, and [`encode_fixed_slice`] sizes the output
//! once and fills it: no bounds check or error path per member. Generated
//! fixed-size structs implement the trait and use both for their
//! sequences; everything else goes through [`Encode`](super::Encode)/[`Decode`](super::Decode).

use super::{InputStream, OutputStream, Result};

/// A value of a fixed wire size, read from and written to plain bytes.
pub trait FixedWire: Sized {
    /// The bytes every value takes on the wire.
    const WIRE_SIZE: usize;

    /// Reads a value from the first [`Self::WIRE_SIZE`] bytes of `bytes`
    /// (bytes missing from a shorter slice read as zero).
    fn read_wire(bytes: &[u8]) -> Self;

    /// Writes the value into the first [`Self::WIRE_SIZE`] bytes of
    /// `bytes` (as much as fits in a shorter slice).
    fn write_wire(&self, bytes: &mut [u8]);
}

/// The bytes of `bytes` from `offset` on (empty when `offset` is past the end).
#[inline]
#[must_use]
pub fn wire_at(bytes: &[u8], offset: usize) -> &[u8] {
    bytes.get(offset..).unwrap_or_default()
}

/// The bytes of `bytes` from `offset` on, writable (empty when `offset` is
/// past the end).
#[inline]
pub fn wire_at_mut(bytes: &mut [u8], offset: usize) -> &mut [u8] {
    bytes.get_mut(offset..).unwrap_or_default()
}

macro_rules! fixed_number {
    ($t:ty, $size:expr) => {
        impl FixedWire for $t {
            const WIRE_SIZE: usize = $size;
            #[inline]
            fn read_wire(bytes: &[u8]) -> Self {
                let mut a = [0u8; $size];
                if let Some(b) = bytes.get(..$size) {
                    a.copy_from_slice(b);
                }
                <$t>::from_le_bytes(a)
            }
            #[inline]
            fn write_wire(&self, bytes: &mut [u8]) {
                if let Some(b) = bytes.get_mut(..$size) {
                    b.copy_from_slice(&self.to_le_bytes());
                }
            }
        }
    };
}

fixed_number!(u8, 1);
fixed_number!(i16, 2);
fixed_number!(i32, 4);
fixed_number!(i64, 8);
fixed_number!(f32, 4);
fixed_number!(f64, 8);

impl FixedWire for bool {
    const WIRE_SIZE: usize = 1;
    #[inline]
    fn read_wire(bytes: &[u8]) -> Self {
        bytes.first().is_some_and(|&b| b != 0)
    }
    #[inline]
    fn write_wire(&self, bytes: &mut [u8]) {
        if let Some(b) = bytes.first_mut() {
            *b = u8::from(*self);
        }
    }
}

/// Reads the `count` elements of a sequence of a fixed-size type, after
/// its count: checks that the whole block is there, then reads each
/// element from its slice of the block.
///
/// # Errors
/// [`super::Error::EndOfInput`] when fewer than `count * T::WIRE_SIZE`
/// bytes remain.
pub fn decode_fixed_vec<T: FixedWire>(input: &mut InputStream, count: usize) -> Result<Vec<T>> {
    let size = T::WIRE_SIZE.max(1);
    let block = input.take(count.saturating_mul(size), "sequence")?;
    Ok(block.chunks_exact(size).map(T::read_wire).collect())
}

/// Writes the elements of a sequence of a fixed-size type (after its
/// count) as one block.
pub fn encode_fixed_slice<T: FixedWire>(items: &[T], out: &mut OutputStream) {
    let size = T::WIRE_SIZE.max(1);
    let start = out.buf.len();
    out.reserve(items.len() * size);
    out.buf.resize(start + items.len() * size, 0);
    if let Some(block) = out.buf.get_mut(start..) {
        for (chunk, item) in block.chunks_exact_mut(size).zip(items) {
            item.write_wire(chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::{Decode, Encode, EncodingVersion};
    use pretty_assertions::assert_eq;

    /// A fixed-size struct written as generated code writes one.
    #[derive(Debug, Clone, PartialEq)]
    struct Point {
        flag: bool,
        small: i16,
        x: i32,
        big: i64,
        f: f32,
        d: f64,
        b: u8,
    }

    impl FixedWire for Point {
        const WIRE_SIZE: usize = 28;
        fn read_wire(bytes: &[u8]) -> Self {
            Self {
                flag: FixedWire::read_wire(wire_at(bytes, 0)),
                small: FixedWire::read_wire(wire_at(bytes, 1)),
                x: FixedWire::read_wire(wire_at(bytes, 3)),
                big: FixedWire::read_wire(wire_at(bytes, 7)),
                f: FixedWire::read_wire(wire_at(bytes, 15)),
                d: FixedWire::read_wire(wire_at(bytes, 19)),
                b: FixedWire::read_wire(wire_at(bytes, 27)),
            }
        }
        fn write_wire(&self, bytes: &mut [u8]) {
            self.flag.write_wire(wire_at_mut(bytes, 0));
            self.small.write_wire(wire_at_mut(bytes, 1));
            self.x.write_wire(wire_at_mut(bytes, 3));
            self.big.write_wire(wire_at_mut(bytes, 7));
            self.f.write_wire(wire_at_mut(bytes, 15));
            self.d.write_wire(wire_at_mut(bytes, 19));
            self.b.write_wire(wire_at_mut(bytes, 27));
        }
    }

    fn points() -> Vec<Point> {
        (0..5)
            .map(|i| Point {
                flag: i % 2 == 0,
                small: -3 * i as i16,
                x: 1_000_000 * i,
                big: -(1 << 40) * i64::from(i),
                f: 0.5 * i as f32,
                d: -1.25 * f64::from(i),
                b: 250 + i as u8,
            })
            .collect()
    }

    /// The block is exactly what member-by-member writes give, and reads
    /// back to the same values.
    #[test]
    fn blocks_match_member_by_member_encoding() {
        let items = points();
        let mut by_member = OutputStream::new(EncodingVersion::V1_1);
        for p in &items {
            by_member.write(&p.flag);
            by_member.write(&p.small);
            by_member.write(&p.x);
            by_member.write(&p.big);
            by_member.write(&p.f);
            by_member.write(&p.d);
            by_member.write(&p.b);
        }
        let mut block = OutputStream::new(EncodingVersion::V1_1);
        block.write_u8(7);
        encode_fixed_slice(&items, &mut block);
        let block = block.finish();
        assert_eq!(&block[1..], &by_member.finish()[..]);
        let mut input = InputStream::from_slice(&block, EncodingVersion::V1_1);
        assert_eq!(input.read_u8(), Ok(7));
        assert_eq!(
            decode_fixed_vec::<Point>(&mut input, items.len()),
            Ok(items)
        );
        assert!(input.is_at_end());
    }

    /// A block shorter than the count says is refused before anything is
    /// read; any non-zero byte reads as `true`.
    #[test]
    fn short_blocks_fail_and_bools_are_lenient() {
        let mut input = InputStream::from_slice(&[0; 27], EncodingVersion::V1_1);
        assert!(decode_fixed_vec::<Point>(&mut input, 1).is_err());
        let mut input = InputStream::from_slice(&[0, 1, 7], EncodingVersion::V1_1);
        assert_eq!(
            decode_fixed_vec::<bool>(&mut input, 3),
            Ok(vec![false, true, true])
        );
        // The Decode/Encode impls of the primitives agree with FixedWire.
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        vec![1.5f64, -2.0].encode(&mut out);
        let mut input = InputStream::from_slice(&out.finish(), EncodingVersion::V1_1);
        assert_eq!(Vec::<f64>::decode(&mut input), Ok(vec![1.5, -2.0]));
    }
}
