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
///
/// Its `ice_*` factory methods return a copy of the same type, as ZeroC's
/// C++11 `prx->ice_oneway()` keeps the proxy's type (`ice_facet` returns
/// an untyped proxy, as Ice's does): `hello.ice_oneway()` is a `HelloPrx`.
/// Generated modules bring the trait into scope for `use module::*`.
pub trait TypedProxy: Sized {
    /// Uses `proxy` as this type without asking the object.
    fn from_object_prx(proxy: ObjectPrx) -> Self;
    /// The untyped proxy.
    fn object_prx(&self) -> &ObjectPrx;

    /// A copy with `f` applied to the untyped proxy, of the same type.
    #[must_use]
    fn map_object_prx(&self, f: impl FnOnce(ObjectPrx) -> ObjectPrx) -> Self {
        Self::from_object_prx(f(self.object_prx().clone()))
    }

    /// A twoway copy (Ice's `ice_twoway`).
    #[must_use]
    fn ice_twoway(&self) -> Self {
        self.map_object_prx(ObjectPrx::ice_twoway)
    }

    /// A oneway copy (Ice's `ice_oneway`).
    #[must_use]
    fn ice_oneway(&self) -> Self {
        self.map_object_prx(ObjectPrx::ice_oneway)
    }

    /// A batch-oneway copy with its own batch queue (Ice's
    /// `ice_batchOneway`).
    #[must_use]
    fn ice_batch_oneway(&self) -> Self {
        self.map_object_prx(ObjectPrx::ice_batch_oneway)
    }

    /// A copy with `context` as its per-proxy context (Ice's `ice_context`).
    #[must_use]
    fn ice_context(&self, context: crate::protocol::Context) -> Self {
        self.map_object_prx(|p| p.ice_context(context))
    }

    /// An untyped copy targeting `facet` (Ice's `ice_facet`).
    #[must_use]
    fn ice_facet(&self, facet: &str) -> ObjectPrx {
        self.object_prx().clone().ice_facet(facet)
    }

    /// A copy for another identity (Ice's `ice_identity`).
    #[must_use]
    fn ice_identity(&self, identity: Identity) -> Self {
        self.map_object_prx(|p| p.ice_identity(identity))
    }

    /// A copy that encodes in `encoding` (Ice's `ice_encodingVersion`).
    #[must_use]
    fn ice_encoding_version(&self, encoding: crate::encoding::EncodingVersion) -> Self {
        self.map_object_prx(|p| p.ice_encoding_version(encoding))
    }

    /// A copy with its own invocation timeout, `None` for none (Ice's
    /// `ice_invocationTimeout`).
    #[must_use]
    fn ice_invocation_timeout(&self, timeout: Option<std::time::Duration>) -> Self {
        self.map_object_prx(|p| p.ice_invocation_timeout(timeout))
    }

    /// A copy that compresses requests (Ice's `ice_compress`).
    #[must_use]
    fn ice_compress(&self, compress: bool) -> Self {
        self.map_object_prx(|p| p.ice_compress(compress))
    }

    /// A copy bound to `connection` (Ice's `ice_fixed`).
    #[must_use]
    fn ice_fixed(&self, connection: crate::connection::Connection) -> Self {
        self.map_object_prx(|p| p.ice_fixed(connection))
    }

    /// A copy resolved through `locator` (Ice's `ice_locator`).
    #[must_use]
    fn ice_locator(&self, locator: Option<&ObjectPrx>) -> Self {
        self.map_object_prx(|p| p.ice_locator(locator))
    }

    /// A copy whose locator cache answers last `seconds` (Ice's
    /// `ice_locatorCacheTimeout`).
    #[must_use]
    fn ice_locator_cache_timeout(&self, seconds: i32) -> Self {
        self.map_object_prx(|p| p.ice_locator_cache_timeout(seconds))
    }

    /// An indirect copy for adapter `id` (Ice's `ice_adapterId`).
    #[must_use]
    fn ice_adapter_id(&self, id: &str) -> Self {
        self.map_object_prx(|p| p.ice_adapter_id(id))
    }

    /// A direct copy with `endpoints` (Ice's `ice_endpoints`).
    #[must_use]
    fn ice_endpoints(&self, endpoints: Vec<crate::encoding::Endpoint>) -> Self {
        self.map_object_prx(|p| p.ice_endpoints(endpoints))
    }

    /// A copy that uses only secure endpoints when `secure` (Ice's
    /// `ice_secure`).
    #[must_use]
    fn ice_secure(&self, secure: bool) -> Self {
        self.map_object_prx(|p| p.ice_secure(secure))
    }

    /// The target's identity (Ice's `ice_getIdentity`).
    fn ice_get_identity(&self) -> &Identity {
        &self.object_prx().data().identity
    }

    /// The target facet, empty for the default one (Ice's `ice_getFacet`).
    fn ice_get_facet(&self) -> &str {
        &self.object_prx().data().facet
    }

    /// The per-proxy context (Ice's `ice_getContext`).
    fn ice_get_context(&self) -> &crate::protocol::Context {
        self.object_prx().context()
    }

    /// The adapter id of an indirect proxy, empty otherwise (Ice's
    /// `ice_getAdapterId`).
    fn ice_get_adapter_id(&self) -> &str {
        &self.object_prx().data().adapter_id
    }

    /// The endpoints of a direct proxy (Ice's `ice_getEndpoints`).
    fn ice_get_endpoints(&self) -> &[crate::encoding::Endpoint] {
        &self.object_prx().data().endpoints
    }

    /// The locator cache timeout in seconds (Ice's
    /// `ice_getLocatorCacheTimeout`).
    fn ice_get_locator_cache_timeout(&self) -> i32 {
        self.object_prx().locator_cache_timeout()
    }

    /// The locator of an indirect proxy (Ice's `ice_getLocator`).
    fn ice_get_locator(&self) -> Option<ObjectPrx> {
        self.object_prx().ice_get_locator()
    }

    /// The connection a fixed proxy is bound to (Ice's `ice_isFixed` when
    /// `Some`).
    fn ice_get_fixed_connection(&self) -> Option<&crate::connection::Connection> {
        self.object_prx().fixed_connection()
    }

    /// Whether requests are compressed (Ice's `ice_getCompress`).
    fn ice_get_compress(&self) -> bool {
        self.object_prx().is_compressed()
    }

    /// Whether only secure endpoints are used (Ice's `ice_isSecure`).
    fn ice_is_secure(&self) -> bool {
        self.object_prx().data().secure
    }

    /// Whether invocations are oneway (Ice's `ice_isOneway`).
    fn ice_is_oneway(&self) -> bool {
        self.object_prx().data().mode == crate::encoding::proxy::InvocationMode::Oneway
    }

    /// Whether invocations are queued as batch oneways (Ice's
    /// `ice_isBatchOneway`).
    fn ice_is_batch_oneway(&self) -> bool {
        self.object_prx().data().mode == crate::encoding::proxy::InvocationMode::BatchOneway
    }

    /// Whether invocations wait for a reply (Ice's `ice_isTwoway`).
    fn ice_is_twoway(&self) -> bool {
        self.object_prx().is_twoway()
    }

    /// The encoding parameters are written in (Ice's
    /// `ice_getEncodingVersion`).
    fn ice_get_encoding_version(&self) -> crate::encoding::EncodingVersion {
        self.object_prx().encoding()
    }

    /// The same object as a base type `B` (an upcast: no round trip).
    #[must_use]
    fn upcast<B: TypedProxy + From<Self>>(self) -> B {
        B::from(self)
    }
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

impl OutputStream {
    /// Writes a borrowed nullable typed proxy (`None` as an empty
    /// identity), as generated proxies take proxy parameters.
    pub fn write_proxy<P: TypedProxy>(&mut self, proxy: Option<&P>) {
        match proxy {
            Some(p) => p.object_prx().data().encode(self),
            None => Identity::default().encode(self),
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
