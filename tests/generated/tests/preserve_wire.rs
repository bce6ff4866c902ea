//! `["preserve-slice"]` in generated exception types, byte for byte: an
//! exception decoded by a receiver that knows only part of its chain is
//! written back exactly as it arrived (encoding 1.1, sliced format), whether
//! the most-derived known type is the preserving `BaseError` or
//! `RustError`, derived from it; a copy of the base part of a `RustError`
//! carries no slices. Encoding 1.0 and the compact format keep
//! nothing, as in Ice. The ZeroC end-to-end checks are in
//! `preserve_relay.rs`.

use generated_check::preserve_slice::preserve as p;
use ice_proto::encoding::{
    EncodingVersion, Format, InputStream, OutputStream, Registry, UserException, UserExceptionType,
};
use pretty_assertions::assert_eq;
use std::any::{Any, TypeId};
use std::sync::Arc;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// An exception derived from `RustError` that generated code does not
/// know (written by hand, as another program's generated code would be).
#[derive(Debug, Clone)]
struct Leaf {
    base: p::RustError,
    depth: i32,
}

impl UserException for Leaf {
    fn ice_id(&self) -> &str {
        "::Preserve::Leaf"
    }
    fn write_slices(&self, out: &mut OutputStream) {
        out.start_slice("::Preserve::Leaf", None, false);
        out.write_i32(self.depth);
        out.end_slice();
        self.base.write_slices(out);
    }
    fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
        if target == TypeId::of::<Self>() {
            return Some(self);
        }
        self.base.as_type(target)
    }
    fn clone_box(&self) -> Box<dyn UserException> {
        Box::new(self.clone())
    }
}

fn leaf() -> Leaf {
    Leaf {
        base: p::RustError {
            base: p::BaseError {
                reason: "why".into(),
                ice_sliced_data: None,
            },
            extra: "extra".into(),
            ice_sliced_data: None,
        },
        depth: 3,
    }
}

fn encode(ex: &dyn UserException, enc: EncodingVersion, format: Format) -> Vec<u8> {
    let mut out = OutputStream::new(enc);
    out.start_encapsulation(enc, format);
    out.write_exception(ex);
    out.end_encapsulation();
    out.as_slice().to_vec()
}

fn decode(
    bytes: &[u8],
    enc: EncodingVersion,
    registry: Arc<Registry>,
) -> Result<Box<dyn UserException>, Box<dyn std::error::Error>> {
    let mut input = InputStream::from_slice(bytes, enc).with_registry(registry);
    input.start_encapsulation()?;
    let ex = input.read_exception()?;
    input.end_encapsulation()?;
    Ok(ex)
}

fn kept(ex: &dyn UserException) -> Vec<String> {
    ex.sliced_data()
        .iter()
        .flat_map(|s| &s.slices)
        .map(|s| s.type_id.clone())
        .collect()
}

#[test]
fn derived_of_a_preserving_exception_keeps_and_rewrites_unknown_slices() -> TestResult {
    let enc = EncodingVersion::V1_1;
    let original = encode(&leaf(), enc, Format::Sliced);
    // The generated registry knows RustError (and BaseError), not Leaf.
    let got = decode(
        &original,
        enc,
        generated_check::preserve_slice::ice_registry(),
    )?;
    assert_eq!(got.ice_id(), p::RustError::ICE_ID);
    assert_eq!(kept(got.as_ref()), ["::Preserve::Leaf"]);
    let rust = got
        .downcast_ref::<p::RustError>()
        .cloned()
        .ok_or("not a RustError")?;
    assert_eq!(rust.extra, "extra");
    // The slices live in the most-derived known type: a handler's copy of
    // the base part carries none (they expect RustError's slice after them).
    assert!(rust.ice_sliced_data.is_some());
    assert_eq!(rust.base.ice_sliced_data, None);
    assert_eq!(encode(&rust, enc, Format::Sliced), original);
    let base_part = got
        .downcast_ref::<p::BaseError>()
        .cloned()
        .ok_or("no base part")?;
    assert_eq!(
        encode(&base_part, enc, Format::Sliced),
        encode(
            &p::BaseError {
                reason: "why".into(),
                ice_sliced_data: None
            },
            enc,
            Format::Sliced
        )
    );
    // The compact format drops them: the bytes of a plain RustError.
    let mut plain = rust.clone();
    plain.ice_sliced_data = None;
    assert_eq!(
        encode(&rust, enc, Format::Compact),
        encode(&plain, enc, Format::Compact)
    );
    Ok(())
}

#[test]
fn preserving_base_keeps_every_unknown_slice() -> TestResult {
    let enc = EncodingVersion::V1_1;
    let original = encode(&leaf(), enc, Format::Sliced);
    let mut only_base = Registry::new();
    only_base.add_exception::<p::BaseError>();
    let got = decode(&original, enc, Arc::new(only_base))?;
    assert_eq!(
        kept(got.as_ref()),
        ["::Preserve::Leaf", p::RustError::TYPE_ID]
    );
    let base = got
        .downcast_ref::<p::BaseError>()
        .cloned()
        .ok_or("not a BaseError")?;
    assert_eq!(base.reason, "why");
    assert_eq!(encode(&base, enc, Format::Sliced), original);
    Ok(())
}

#[test]
fn plain_exceptions_and_encoding_1_0_keep_nothing() -> TestResult {
    // Encoding 1.0.
    let enc = EncodingVersion::V1_0;
    let bytes = encode(&leaf(), enc, Format::Sliced);
    let got = decode(&bytes, enc, generated_check::preserve_slice::ice_registry())?;
    assert_eq!(got.ice_id(), p::RustError::ICE_ID);
    assert!(got.sliced_data().is_none());
    // A PlainError (no preserve-slice) under an unknown derived slice.
    #[derive(Debug, Clone)]
    struct Hidden(p::PlainError);
    impl UserException for Hidden {
        fn ice_id(&self) -> &str {
            "::Preserve::Hidden"
        }
        fn write_slices(&self, out: &mut OutputStream) {
            out.start_slice("::Preserve::Hidden", None, false);
            out.write_string("secret");
            out.end_slice();
            self.0.write_slices(out);
        }
        fn as_type(&self, _: TypeId) -> Option<&dyn Any> {
            None
        }
        fn clone_box(&self) -> Box<dyn UserException> {
            Box::new(self.clone())
        }
    }
    let enc = EncodingVersion::V1_1;
    let bytes = encode(
        &Hidden(p::PlainError { reason: "r".into() }),
        enc,
        Format::Sliced,
    );
    let got = decode(&bytes, enc, generated_check::preserve_slice::ice_registry())?;
    assert_eq!(got.ice_id(), p::PlainError::ICE_ID);
    assert!(!got.preserves_slices());
    assert!(got.sliced_data().is_none());
    Ok(())
}
