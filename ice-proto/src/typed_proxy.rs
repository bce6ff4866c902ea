//! Typed proxies as data: the [`TypedProxy`] trait that generated proxy
//! types (`HelloPrx`) and [`ObjectPrx`] implement, so that `Option<P>` of
//! any of them is a Slice proxy (`Hello*`, `Object*`) in a struct, a
//! sequence, a dictionary or a parameter.
//!
//! A proxy travels as [`ProxyData`]; reading one makes a live proxy, which
//! needs the communicator the stream was given with
//! [`InputStream::with_communicator`] (generated proxies and dispatchers
//! set it). Equality of proxies compares their data, as Ice compares
//! proxies by their reference.

use crate::encoding::{
    Decode, Encode, Error, Identity, InputStream, OutputStream, ProxyData, Result,
};
use crate::proxy::ObjectPrx;

/// A proxy type: an [`ObjectPrx`] seen as a Slice interface.
pub trait TypedProxy: Sized {
    /// Uses `proxy` as this type without asking the object.
    fn from_object_prx(proxy: ObjectPrx) -> Self;
    /// The untyped proxy.
    fn object_prx(&self) -> &ObjectPrx;
}

impl TypedProxy for ObjectPrx {
    fn from_object_prx(proxy: ObjectPrx) -> Self {
        proxy
    }

    fn object_prx(&self) -> &ObjectPrx {
        self
    }
}

impl PartialEq for ObjectPrx {
    fn eq(&self, other: &Self) -> bool {
        self.data() == other.data()
    }
}

impl Eq for ObjectPrx {}

/// A nullable typed proxy: `None` is written as an empty identity.
impl<P: TypedProxy> Encode for Option<P> {
    fn encode(&self, out: &mut OutputStream) {
        match self {
            Some(p) => p.object_prx().data().encode(out),
            None => Identity::default().encode(out),
        }
    }
}

impl<P: TypedProxy> Decode for Option<P> {
    const MIN_WIRE_SIZE: usize = 2;

    fn decode(input: &mut InputStream) -> Result<Self> {
        let Some(data) = Option::<ProxyData>::decode(input)? else {
            return Ok(None);
        };
        let communicator = input.communicator().ok_or(Error::Misuse {
            what: "a typed proxy read from a stream without a communicator",
        })?;
        Ok(Some(P::from_object_prx(communicator.proxy(data))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::communicator::Communicator;
    use crate::encoding::EncodingVersion;
    use crate::properties::Properties;

    fn write(p: &Option<ObjectPrx>, enc: EncodingVersion) -> Vec<u8> {
        let mut out = OutputStream::new(enc);
        p.encode(&mut out);
        out.into_vec()
    }

    #[tokio::test]
    async fn typed_proxies_round_trip_through_the_communicator() {
        let communicator = Communicator::new(Properties::new());
        let prx = communicator
            .string_to_proxy("hello -t:tcp -h 127.0.0.1 -p 4061")
            .ok()
            .flatten();
        assert!(prx.is_some());
        for enc in [EncodingVersion::V1_0, EncodingVersion::V1_1] {
            let bytes = write(&prx, enc);
            let mut input =
                InputStream::from_slice(&bytes, enc).with_communicator(communicator.clone());
            let back = Option::<ObjectPrx>::decode(&mut input);
            assert!(input.is_at_end());
            let back = back.ok().flatten();
            assert_eq!(
                back.as_ref().map(|p| p.data().identity.name.clone()),
                Some("hello".to_string())
            );
            assert_eq!(
                back.map(|p| p.data().endpoints.clone()),
                prx.as_ref().map(|p| p.data().endpoints.clone())
            );
        }
        communicator.destroy().await;
    }

    #[test]
    fn a_null_proxy_needs_no_communicator_and_a_proxy_does() {
        let mut input = InputStream::from_slice(&[0, 0], EncodingVersion::V1_1);
        assert_eq!(Option::<ObjectPrx>::decode(&mut input).ok().flatten(), None);
        let mut out = OutputStream::new(EncodingVersion::V1_1);
        Some(ProxyData::new("x")).encode(&mut out);
        let mut input = InputStream::from_slice(out.as_slice(), EncodingVersion::V1_1);
        assert!(matches!(
            Option::<ObjectPrx>::decode(&mut input),
            Err(Error::Misuse { .. })
        ));
    }
}
