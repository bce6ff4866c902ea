//! Encapsulations kept as opaque bytes.
//!
//! The streams open and close encapsulations themselves
//! ([`OutputStream::start_encapsulation`], [`InputStream::start_encapsulation`]);
//! this module adds [`Encapsulation`], an encapsulation carried verbatim
//! (for example request parameters forwarded without decoding them).

use bytes::Bytes;

use super::{Decode, EncodingVersion, InputStream, OutputStream, Result};

/// An encapsulation whose body is kept as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encapsulation {
    /// The encoding of the body.
    pub encoding: EncodingVersion,
    /// The body, after the 6-byte header.
    pub body: Bytes,
}

impl Encapsulation {
    /// An empty encapsulation of `encoding`.
    pub fn empty(encoding: EncodingVersion) -> Self {
        Self {
            encoding,
            body: Bytes::new(),
        }
    }
}

impl super::Encode for Encapsulation {
    fn encode(&self, out: &mut OutputStream) {
        out.write_encapsulation(self.encoding, &self.body);
    }
}

impl Decode for Encapsulation {
    const MIN_WIRE_SIZE: usize = 6;
    fn decode(input: &mut InputStream) -> Result<Self> {
        let (encoding, body) = input.read_encapsulation()?;
        Ok(Self { encoding, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Encode;
    use pretty_assertions::assert_eq;

    #[test]
    fn verbatim_round_trip() {
        let e = Encapsulation {
            encoding: EncodingVersion::V1_0,
            body: Bytes::from_static(&[1, 2]),
        };
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        e.encode(&mut out);
        assert_eq!(out.as_slice(), &[8, 0, 0, 0, 1, 0, 1, 2]);
        let mut input = InputStream::from_slice(out.as_slice(), EncodingVersion::V1_1);
        assert_eq!(Encapsulation::decode(&mut input), Ok(e));
        let mut input = InputStream::from_slice(&[5, 0, 0, 0, 1, 0], EncodingVersion::V1_1);
        assert!(Encapsulation::decode(&mut input).is_err());
    }
}
