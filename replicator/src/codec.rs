//! The [`ItemCodec`] of items that travel over Ice: an item is stored as
//! the encapsulation body (encoding 1.1, sliced format) of a one-item
//! sequence of the component's item type, as a `set` call carries it, so
//! subclasses the replicator does not know are kept whole where the Slice
//! asks for `["preserve-slice"]`; a key as its encoding 1.1 bytes.
//!
//! The codec knows the item type only through the generated glue's
//! `Item::to_seq` / `Item::from_seq` and the sequence's `Encode`/`Decode`,
//! so it does not depend on how the mapping represents classes.

use std::marker::PhantomData;
use std::sync::Arc;

use ice_proto::codegen::{Decode, Encode, EncodingVersion, Format, InputStream, Registry};

use crate::durable::ItemCodec;
use crate::state::Keyed;

/// Items of type `I` stored as encoded sequences `S`.
pub struct IceCodec<I, S> {
    to_seq: fn(&[I]) -> S,
    from_seq: fn(S) -> Vec<I>,
    registry: Arc<Registry>,
    _items: PhantomData<fn() -> I>,
}

impl<I, S> std::fmt::Debug for IceCodec<I, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceCodec").finish_non_exhaustive()
    }
}

impl<I, S> IceCodec<I, S> {
    /// A codec writing items with `to_seq`, reading them with `from_seq`,
    /// creating classes from `registry` (the generated `ice_registry()`).
    #[must_use]
    pub fn new(to_seq: fn(&[I]) -> S, from_seq: fn(S) -> Vec<I>, registry: Arc<Registry>) -> Self {
        Self {
            to_seq,
            from_seq,
            registry,
            _items: PhantomData,
        }
    }
}

fn encode(format: Format, write: impl FnOnce(&mut ice_proto::codegen::OutputStream)) -> Vec<u8> {
    ice_proto::adapter::encapsulate(EncodingVersion::V1_1, format, write)
        .body
        .to_vec()
}

impl<I, S> ItemCodec<I> for IceCodec<I, S>
where
    I: Keyed,
    I::Key: Encode,
    S: Encode + Decode + 'static,
{
    fn encode_item(&self, item: &I) -> Vec<u8> {
        encode(Format::Sliced, |out| {
            out.write(&(self.to_seq)(std::slice::from_ref(item)));
            out.write_pending_classes();
        })
    }

    fn decode_item(&self, bytes: &[u8]) -> Result<I, String> {
        let mut input = InputStream::for_encapsulation_with(
            bytes::Bytes::copy_from_slice(bytes),
            EncodingVersion::V1_1,
            Arc::clone(&self.registry),
            None,
        )
        .map_err(|e| e.to_string())?;
        let seq: S = input.read().map_err(|e| e.to_string())?;
        input.read_pending_classes().map_err(|e| e.to_string())?;
        input.end_encapsulation().map_err(|e| e.to_string())?;
        let mut items = (self.from_seq)(seq);
        match (items.pop(), items.is_empty()) {
            (Some(item), true) => Ok(item),
            (None, _) => Err("no item in the record".into()),
            (Some(_), false) => Err("more than one item in the record".into()),
        }
    }

    fn encode_key(&self, key: &I::Key) -> Vec<u8> {
        encode(Format::Compact, |out| out.write(key))
    }
}
