//! User exceptions in encodings 1.0 and 1.1.
//!
//! A Slice exception maps to a Rust struct holding its base exception as a
//! field named `base`, implementing [`UserException`] and
//! [`UserExceptionType`]. Slices go from most derived to base; an unknown
//! derived exception is sliced off to its most-derived known base (1.0
//! slices always carry sizes; 1.1 needs the sliced format). In 1.0 a flag
//! says whether class instances trail the exception.
//!
//! `["preserve-slice"]` on an exception (or a base) keeps those unknown
//! slices: in encoding 1.1 with the sliced format, the slices skipped before
//! the most-derived known type are stored in the decoded exception
//! ([`UserException::set_sliced_data`]) and written back in front of its
//! known slices when it is sent again, so a peer that knows the whole type
//! receives the original exception. As in Ice, encoding 1.0 and the
//! compact format carry no preserved slices.

use std::any::{Any, TypeId};
use std::fmt;
use std::marker::PhantomData;

use super::class::{SliceKind, SlicedData};
use super::error::{Error, Result};
use super::{InputStream, OutputStream};

/// A user exception: what generated exception structs implement.
pub trait UserException: Any + Send + Sync + fmt::Debug {
    /// The most-derived Slice type id.
    fn ice_id(&self) -> &str;

    /// Writes every slice, most derived first ([`OutputStream::start_slice`],
    /// members, optional members, [`OutputStream::end_slice`]).
    fn write_slices(&self, out: &mut OutputStream);

    /// Whether the exception (or a base) has class members (1.0 then writes
    /// the instances after it).
    fn uses_classes(&self) -> bool {
        false
    }

    /// Borrows the exception as `target` if it is that type or a base.
    fn as_type(&self, target: TypeId) -> Option<&dyn Any>;

    /// Whether unknown derived slices are kept and written back
    /// (`["preserve-slice"]` on the exception or a base).
    fn preserves_slices(&self) -> bool {
        false
    }

    /// The unknown derived slices kept when the exception was decoded.
    fn sliced_data(&self) -> Option<&SlicedData> {
        None
    }

    /// Keeps the unknown derived slices read before this exception's own
    /// (called by the decoder when [`UserException::preserves_slices`]).
    fn set_sliced_data(&mut self, data: SlicedData) {
        let _ = data;
    }

    /// A boxed copy of the exception, as its most-derived type.
    fn clone_box(&self) -> Box<dyn UserException>;
}

impl Clone for Box<dyn UserException> {
    fn clone(&self) -> Self {
        self.as_ref().clone_box()
    }
}

impl fmt::Display for dyn UserException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ice_id())
    }
}

/// A user exception received (or to be thrown) as a `T`: the exception
/// itself keeps its most-derived type, its members and any preserved
/// slices, so it can be matched as any subtype known here
/// ([`Thrown::downcast_ref`]) and thrown on unchanged
/// ([`Thrown::into_inner`], or `Err(thrown.into())` in a servant).
///
/// It dereferences to the `T` part of the exception.
pub struct Thrown<T: ?Sized> {
    ex: Box<dyn UserException>,
    _type: PhantomData<fn() -> Box<T>>,
}

impl<T: UserException> Thrown<T> {
    /// Wraps an exception of type `T` exactly.
    pub fn new(ex: T) -> Self {
        Self {
            ex: Box::new(ex),
            _type: PhantomData,
        }
    }

    /// Wraps `ex` if it is a `T` or derives from it; gives it back if not.
    ///
    /// # Errors
    /// `ex` itself when it is not a `T`.
    pub fn try_from_box(
        ex: Box<dyn UserException>,
    ) -> std::result::Result<Self, Box<dyn UserException>> {
        if ex.as_type(TypeId::of::<T>()).is_some() {
            Ok(Self {
                ex,
                _type: PhantomData,
            })
        } else {
            Err(ex)
        }
    }

    /// Borrows the exception as `U`, if it is a `U` or derives from it.
    pub fn downcast_ref<U: Any>(&self) -> Option<&U> {
        self.ex.downcast_ref::<U>()
    }

    /// Whether the exception is a `U` or derives from it.
    pub fn is<U: Any>(&self) -> bool {
        self.downcast_ref::<U>().is_some()
    }

    /// The most-derived type id received.
    pub fn ice_id(&self) -> &str {
        self.ex.ice_id()
    }

    /// The exception as its most-derived type.
    pub fn as_user_exception(&self) -> &dyn UserException {
        self.ex.as_ref()
    }

    /// The boxed exception, as its most-derived type.
    pub fn into_inner(self) -> Box<dyn UserException> {
        self.ex
    }
}

impl<T: UserException> std::ops::Deref for Thrown<T> {
    type Target = T;
    #[allow(clippy::expect_used)] // invariant: only made from a `T` or a subtype
    fn deref(&self) -> &T {
        self.ex
            .downcast_ref::<T>()
            .expect("a Thrown<T> holds a T or a subtype")
    }
}

impl<T: ?Sized> Clone for Thrown<T> {
    fn clone(&self) -> Self {
        Self {
            ex: self.ex.clone(),
            _type: PhantomData,
        }
    }
}

impl<T: ?Sized> fmt::Debug for Thrown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.ex, f)
    }
}

impl<T: ?Sized> fmt::Display for Thrown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ex.ice_id())
    }
}

impl<T: ?Sized> std::error::Error for Thrown<T> {}

/// Compares the exceptions received, most-derived type and members.
impl<T: UserException + PartialEq> PartialEq<T> for Thrown<T> {
    fn eq(&self, other: &T) -> bool {
        self.ex.ice_id() == other.ice_id() && self.ex.downcast_ref::<T>() == Some(other)
    }
}

impl dyn UserException {
    /// Borrows the exception as `T` (its own type or a base exception).
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.as_type(TypeId::of::<T>())?.downcast_ref::<T>()
    }
}

/// A user exception type that can be created from the wire.
pub trait UserExceptionType: UserException + Sized {
    /// The Slice type id.
    const TYPE_ID: &'static str;

    /// Reads the slices of this exception and its bases.
    fn read_slices(input: &mut InputStream) -> Result<Self>;
}

impl OutputStream {
    /// Writes a user exception (as the body of a user-exception reply).
    pub fn write_exception(&mut self, ex: &dyn UserException) {
        let uses_classes = self.encoding().is_1_0() && ex.uses_classes();
        if self.encoding().is_1_0() {
            self.write_bool(uses_classes);
        }
        self.push_frame(SliceKind::Exception);
        if let Some(sliced) = ex.sliced_data() {
            self.write_preserved_slices(sliced);
        }
        ex.write_slices(self);
        self.pop_frame();
        if uses_classes {
            self.write_pending_classes();
        }
    }
}

impl InputStream {
    /// Reads a user exception, creating the most-derived type the
    /// registry knows. An exception none of whose slices is known is
    /// [`Error::UnknownUserException`].
    pub fn read_exception(&mut self) -> Result<Box<dyn UserException>> {
        let uses_classes = if self.encoding().is_1_0() {
            self.read_bool()?
        } else {
            false
        };
        self.classes_push_exception_frame();
        let result = self.read_exception_slices(uses_classes);
        self.classes_pop_frame();
        let ex = result?;
        if uses_classes {
            self.read_pending_classes()?;
        }
        Ok(ex)
    }

    fn read_exception_slices(&mut self, _uses_classes: bool) -> Result<Box<dyn UserException>> {
        self.read_slice_header()?;
        let most_derived = self.current_exception_id();
        loop {
            let type_id = self.current_exception_id();
            if let Some(factory) = self.registry.exception(&type_id) {
                self.set_skip_first();
                let skipped = self.take_skipped_slices();
                let mut ex = factory(self)?;
                if !skipped.is_empty() && ex.preserves_slices() {
                    ex.set_sliced_data(SlicedData { slices: skipped });
                }
                return Ok(ex);
            }
            let last = self.current_is_last();
            self.skip_slice(&most_derived)?;
            if self.encoding().is_1_0() {
                // 1.0 has no last-slice marker: running out of input is the end.
                if self.read_slice_header().is_err() {
                    return Err(Error::UnknownUserException {
                        type_id: most_derived,
                    });
                }
            } else {
                // ZeroC's C++ writer never flags the last exception slice, so
                // the end of the encapsulation also ends the exception.
                if last || self.position() >= self.encaps_end() {
                    return Err(Error::UnknownUserException {
                        type_id: most_derived,
                    });
                }
                self.read_slice_header()?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EncodingVersion, Format, Registry};
    use super::*;
    use pretty_assertions::assert_eq;
    use std::sync::Arc;

    #[derive(Debug, PartialEq, Clone)]
    struct BaseError {
        code: i32,
    }
    #[derive(Debug, PartialEq, Clone)]
    struct DerivedError {
        base: BaseError,
        reason: String,
    }

    impl UserException for BaseError {
        fn clone_box(&self) -> Box<dyn UserException> {
            Box::new(self.clone())
        }
        fn ice_id(&self) -> &str {
            Self::TYPE_ID
        }
        fn write_slices(&self, out: &mut OutputStream) {
            out.start_slice(Self::TYPE_ID, None, true);
            out.write_i32(self.code);
            out.end_slice();
        }
        fn as_type(&self, t: TypeId) -> Option<&dyn Any> {
            (t == TypeId::of::<Self>()).then_some(self as &dyn Any)
        }
    }
    impl UserExceptionType for BaseError {
        const TYPE_ID: &'static str = "::T::BaseError";
        fn read_slices(input: &mut InputStream) -> Result<Self> {
            input.start_slice()?;
            let code = input.read_i32()?;
            input.end_slice()?;
            Ok(Self { code })
        }
    }
    impl UserException for DerivedError {
        fn clone_box(&self) -> Box<dyn UserException> {
            Box::new(self.clone())
        }
        fn ice_id(&self) -> &str {
            "::T::DerivedError"
        }
        fn write_slices(&self, out: &mut OutputStream) {
            out.start_slice("::T::DerivedError", None, false);
            out.write_string(&self.reason);
            out.end_slice();
            self.base.write_slices(out);
        }
        fn as_type(&self, t: TypeId) -> Option<&dyn Any> {
            if t == TypeId::of::<Self>() {
                Some(self)
            } else {
                self.base.as_type(t)
            }
        }
    }

    #[test]
    fn unknown_derived_exception_slices_to_its_base() {
        let ex = DerivedError {
            base: BaseError { code: 3 },
            reason: "r".into(),
        };
        let mut reg = Registry::new();
        reg.add_exception::<BaseError>();
        let reg = Arc::new(reg);
        for enc in [EncodingVersion::V1_0, EncodingVersion::V1_1] {
            let mut out = OutputStream::new(enc);
            out.start_encapsulation(enc, Format::Sliced);
            out.write_exception(&ex);
            out.end_encapsulation();
            let mut input = InputStream::from_slice(out.as_slice(), enc).with_registry(reg.clone());
            assert!(input.start_encapsulation().is_ok());
            let got = input.read_exception();
            let base = got
                .as_ref()
                .ok()
                .and_then(|e| e.downcast_ref::<BaseError>());
            assert_eq!(base, Some(&BaseError { code: 3 }));
            assert_eq!(input.end_encapsulation(), Ok(()));
            // Unknown altogether.
            let mut input = InputStream::from_slice(out.as_slice(), enc);
            assert!(input.start_encapsulation().is_ok());
            assert!(matches!(
                input.read_exception(),
                Err(Error::UnknownUserException { .. })
            ));
        }
    }

    /// `BaseError` with `["preserve-slice"]`.
    #[derive(Debug, Clone, PartialEq, Default)]
    struct PreservedBase {
        code: i32,
        sliced: Option<SlicedData>,
    }
    impl UserException for PreservedBase {
        fn clone_box(&self) -> Box<dyn UserException> {
            Box::new(self.clone())
        }
        fn ice_id(&self) -> &str {
            BaseError::TYPE_ID
        }
        fn write_slices(&self, out: &mut OutputStream) {
            out.start_slice(BaseError::TYPE_ID, None, true);
            out.write_i32(self.code);
            out.end_slice();
        }
        fn as_type(&self, t: TypeId) -> Option<&dyn Any> {
            (t == TypeId::of::<Self>()).then_some(self as &dyn Any)
        }
        fn preserves_slices(&self) -> bool {
            true
        }
        fn sliced_data(&self) -> Option<&SlicedData> {
            self.sliced.as_ref()
        }
        fn set_sliced_data(&mut self, data: SlicedData) {
            self.sliced = Some(data);
        }
    }
    impl UserExceptionType for PreservedBase {
        const TYPE_ID: &'static str = "::T::BaseError";
        fn read_slices(input: &mut InputStream) -> Result<Self> {
            input.start_slice()?;
            let code = input.read_i32()?;
            input.end_slice()?;
            Ok(Self { code, sliced: None })
        }
    }

    fn encode_exception(ex: &dyn UserException, enc: EncodingVersion, format: Format) -> Vec<u8> {
        let mut out = OutputStream::new(enc);
        out.start_encapsulation(enc, format);
        out.write_exception(ex);
        out.end_encapsulation();
        out.as_slice().to_vec()
    }

    fn decode_exception(
        bytes: &[u8],
        enc: EncodingVersion,
        reg: &Arc<Registry>,
    ) -> Result<Box<dyn UserException>> {
        let mut input = InputStream::from_slice(bytes, enc).with_registry(reg.clone());
        input.start_encapsulation()?;
        let ex = input.read_exception()?;
        input.end_encapsulation()?;
        Ok(ex)
    }

    #[test]
    fn preserved_exception_slices_are_written_back_in_1_1_sliced() -> Result<()> {
        let ex = DerivedError {
            base: BaseError { code: 7 },
            reason: "kept".into(),
        };
        let mut only_base = Registry::new();
        only_base.add_exception::<PreservedBase>();
        let only_base = Arc::new(only_base);
        let enc = EncodingVersion::V1_1;
        let original = encode_exception(&ex, enc, Format::Sliced);
        let got = decode_exception(&original, enc, &only_base)?;
        let base = got
            .downcast_ref::<PreservedBase>()
            .cloned()
            .unwrap_or_default();
        assert_eq!(base.code, 7);
        let kept: Vec<_> = base
            .sliced
            .iter()
            .flat_map(|s| &s.slices)
            .map(|s| s.type_id.as_str())
            .collect();
        assert_eq!(kept, ["::T::DerivedError"]);
        // Sent again: the same bytes as the original.
        assert_eq!(encode_exception(&base, enc, Format::Sliced), original);
        // The compact format cannot carry them: sliced to the base.
        let compact = encode_exception(&base, enc, Format::Compact);
        assert_eq!(
            compact,
            encode_exception(
                &PreservedBase {
                    code: 7,
                    sliced: None
                },
                enc,
                Format::Compact
            )
        );
        Ok(())
    }

    #[test]
    fn exception_slices_are_not_kept_without_preserve_slice_or_in_1_0() -> Result<()> {
        let ex = DerivedError {
            base: BaseError { code: 1 },
            reason: "r".into(),
        };
        let mut plain = Registry::new();
        plain.add_exception::<BaseError>();
        let plain = Arc::new(plain);
        let mut preserving = Registry::new();
        preserving.add_exception::<PreservedBase>();
        let preserving = Arc::new(preserving);
        let e11 = encode_exception(&ex, EncodingVersion::V1_1, Format::Sliced);
        let got = decode_exception(&e11, EncodingVersion::V1_1, &plain)?;
        assert!(got.sliced_data().is_none());
        let e10 = encode_exception(&ex, EncodingVersion::V1_0, Format::Sliced);
        let got = decode_exception(&e10, EncodingVersion::V1_0, &preserving)?;
        assert_eq!(
            got.downcast_ref::<PreservedBase>(),
            Some(&PreservedBase {
                code: 1,
                sliced: None
            })
        );
        Ok(())
    }
}
