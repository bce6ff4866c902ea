//! What generated code uses, through one stable path
//! (`::ice_proto::codegen`): the encoding items it names, and the two
//! helpers every generated operation goes through, [`invoke`] on the
//! proxy side and [`read_params`] / [`reply`] on the servant side.
//!
//! A generated operation is thin: it says what the operation is ([`Op`]),
//! how its parameters and results are written and read (two closures),
//! and leaves the call itself (the twoway check, the encapsulation, the
//! request, the reply's user exception, the results stream) to these
//! helpers, written once here.

use std::sync::Arc;

pub use crate::adapter::{Current, DispatchError, DispatchResult};
pub use crate::encoding::class::{Class, ClassRef, IsA, Registry, SlicedData, Value, ValueType};
pub use crate::encoding::exception::{Thrown, UserException, UserExceptionType};
pub use crate::encoding::fixed::{
    decode_fixed_vec, encode_fixed_slice, wire_at, wire_at_mut, FixedWire,
};
pub use crate::encoding::{
    Decode, Encode, EncodingVersion, Error, Format, InputStream, OptionalFormat, OutputStream,
    ProxyData, Result,
};
pub use crate::protocol::Encapsulation;
pub use crate::proxy::ObjectPrx;
pub use crate::runtime_error::RuntimeError;
pub use crate::typed_proxy::TypedProxy;
pub use std::future::Future;

use crate::adapter::{encapsulate, keep_until_sent};
use crate::protocol::OperationMode;
use crate::proxy::Outcome;

/// What a generated operation tells the runtime about a Slice operation.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    name: &'static str,
    registry: fn() -> Arc<Registry>,
    mode: OperationMode,
    format: Option<Format>,
    params: bool,
    results: bool,
    throws: bool,
}

impl Op {
    /// A normal operation with in-parameters, no results and no
    /// exceptions, in the communicator's default class format, whose
    /// classes and exceptions are decoded with `registry` (the generated
    /// tree's `ice_registry`).
    #[must_use]
    pub const fn new(name: &'static str, registry: fn() -> Arc<Registry>) -> Self {
        Self {
            name,
            registry,
            mode: OperationMode::Normal,
            format: None,
            params: true,
            results: false,
            throws: false,
        }
    }

    /// The operation is `idempotent`.
    #[must_use]
    pub const fn idempotent(mut self) -> Self {
        self.mode = OperationMode::Idempotent;
        self
    }

    /// The operation has no in-parameters: its request carries the empty
    /// encapsulation.
    #[must_use]
    pub const fn no_params(mut self) -> Self {
        self.params = false;
        self
    }

    /// The operation returns data (a return value or out-parameters).
    #[must_use]
    pub const fn returns(mut self) -> Self {
        self.results = true;
        self
    }

    /// The operation declares user exceptions.
    #[must_use]
    pub const fn throws(mut self) -> Self {
        self.throws = true;
        self
    }

    /// `["format:sliced"]` (`true`) or `["format:compact"]` (`false`)
    /// metadata on the operation or its interface.
    #[must_use]
    pub const fn format(mut self, sliced: bool) -> Self {
        self.format = Some(if sliced {
            Format::Sliced
        } else {
            Format::Compact
        });
        self
    }

    /// The Slice name of the operation.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

/// The error type of a generated operation: a runtime error, or one of
/// the user exceptions the operation declares.
pub trait OperationError: From<RuntimeError> {
    /// `ex` as one of the declared exceptions (the variant of the most
    /// derived declared type it is), or `ex` back when it is none of them.
    ///
    /// # Errors
    /// `ex` itself when the operation does not declare it.
    fn from_user_exception(
        ex: Box<dyn UserException>,
    ) -> std::result::Result<Self, Box<dyn UserException>>;
}

/// An operation without `throws`: every user exception is unknown.
impl OperationError for RuntimeError {
    fn from_user_exception(
        ex: Box<dyn UserException>,
    ) -> std::result::Result<Self, Box<dyn UserException>> {
        Err(ex)
    }
}

/// Sends `op` through `proxy` with the parameters `write` writes, and
/// reads its results with `read` (not called for a oneway or batch call
/// of an operation without results, which returns `R::default()`).
///
/// # Errors
/// [`RuntimeError::TwowayOnly`] before anything is sent for an operation
/// that returns data or declares exceptions on a oneway, batch or datagram
/// proxy; the declared user exception received (whole: most-derived type,
/// members, preserved slices), an undeclared one as
/// [`RuntimeError::UnknownUserException`]; any failure of the call;
/// results that do not decode.
pub async fn invoke<R, E>(
    proxy: &ObjectPrx,
    op: Op,
    write: impl FnOnce(&mut OutputStream),
    read: impl FnOnce(&mut InputStream) -> Result<R>,
) -> std::result::Result<R, E>
where
    R: Default,
    E: OperationError,
{
    if op.results || op.throws {
        proxy.require_twoway(op.name)?;
    }
    let params = if op.params {
        let format = op
            .format
            .unwrap_or_else(|| proxy.communicator().default_format());
        encapsulate(proxy.encoding(), format, write)
    } else {
        Encapsulation::empty(proxy.encoding())
    };
    let results = match proxy.ice_invoke(op.name, op.mode, params, None).await? {
        Outcome::Ok(results) => results,
        Outcome::UserException(encaps) => return Err(user_exception::<E>(proxy, op, &encaps)),
    };
    // An empty encapsulation (a oneway's, or a void operation's reply)
    // needs no stream to be checked.
    if !op.results && results.is_empty_and_supported() {
        return Ok(R::default());
    }
    let mut input = proxy
        .results_input(&results, (op.registry)())
        .map_err(RuntimeError::from)?;
    let value = read(&mut input).map_err(RuntimeError::from)?;
    input.end_encapsulation().map_err(RuntimeError::from)?;
    Ok(value)
}

/// The error of a call whose reply holds a user exception.
fn user_exception<E: OperationError>(proxy: &ObjectPrx, op: Op, encaps: &Encapsulation) -> E {
    if !op.throws {
        return E::from(RuntimeError::UnknownUserException(String::from(
            "undeclared user exception",
        )));
    }
    match proxy.read_user_exception(encaps, (op.registry)()) {
        Ok(ex) => E::from_user_exception(ex).unwrap_or_else(|ex| {
            E::from(RuntimeError::UnknownUserException(String::from(
                ex.ice_id(),
            )))
        }),
        Err(e) => E::from(e),
    }
}

/// Reads the parameters of a request with `read`, as a generated
/// dispatcher does before calling the servant. The stream is dropped
/// before the call, so it is not kept in the dispatch future.
///
/// # Errors
/// Parameters that do not decode (Ice's `MarshalException`).
pub fn read_params<A>(
    current: &Current,
    params: &Encapsulation,
    op: Op,
    read: impl FnOnce(&mut InputStream) -> Result<A>,
) -> std::result::Result<A, DispatchError> {
    let mut input = current.params_input(params, (op.registry)())?;
    let args = read(&mut input)?;
    input.end_encapsulation()?;
    Ok(args)
}

/// Checks the parameters of a request for an operation without
/// in-parameters: the empty encapsulation needs no stream; anything else
/// must hold nothing but optional values the operation does not know.
///
/// # Errors
/// As [`read_params`].
pub fn no_params(
    current: &Current,
    params: &Encapsulation,
    op: Op,
) -> std::result::Result<(), DispatchError> {
    if params.is_empty_and_supported() {
        return Ok(());
    }
    read_params(current, params, op, |_| Ok(()))
}

/// The reply to a dispatched request: the servant's `result`, its outputs
/// written by `write` in the request's encoding and `current`'s format
/// (the operation's `["format:...]` metadata, see [`current_for`], which
/// a user exception follows too).
///
/// # Errors
/// The servant's error.
pub fn reply<R: Send + 'static>(
    current: &Current,
    op: Op,
    result: std::result::Result<R, DispatchError>,
    write: impl FnOnce(&mut OutputStream, &R),
) -> DispatchResult {
    let results = match result {
        Ok(results) => results,
        Err(e) if op.format.is_some() => return Err(e.encoded_for(current)),
        Err(e) => return Err(e),
    };
    if !op.results {
        return Ok(Encapsulation::empty(current.encoding));
    }
    let encaps = encapsulate(current.encoding, current.format, |out| write(out, &results));
    // The results are dropped once a large reply is written, not before
    // it is sent.
    Ok(keep_until_sent(encaps, results))
}

/// The dispatcher's `current` for `op`: the request's, or a copy in the
/// operation's `["format:...]` metadata.
#[must_use]
pub fn current_for(current: &Current, op: Op) -> std::borrow::Cow<'_, Current> {
    match op.format {
        Some(format) if format != current.format => {
            std::borrow::Cow::Owned(current.clone().with_format(format))
        }
        _ => std::borrow::Cow::Borrowed(current),
    }
}

/// Implements the traits of a generated operation error enum: `Display`
/// and `Error` (through the variant), `From<RuntimeError>`, `From<Error>`,
/// [`OperationError`] (most derived declared exception first, as listed),
/// and the conversion into `DispatchError` a servant re-throws with.
#[doc(hidden)]
#[macro_export]
macro_rules! __operation_error {
    ($name:ident { $($variant:ident($ty:ty)),+ $(,)? }) => {
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    Self::Runtime(e) => ::std::fmt::Display::fmt(e, f),
                    $(Self::$variant(e) => ::std::fmt::Display::fmt(e, f),)+
                }
            }
        }
        impl ::std::error::Error for $name {}
        impl ::std::convert::From<$crate::RuntimeError> for $name {
            fn from(e: $crate::RuntimeError) -> Self {
                Self::Runtime(e)
            }
        }
        impl ::std::convert::From<$crate::codegen::Error> for $name {
            fn from(e: $crate::codegen::Error) -> Self {
                Self::Runtime($crate::RuntimeError::from(e))
            }
        }
        impl $crate::codegen::OperationError for $name {
            fn from_user_exception(
                ex: ::std::boxed::Box<dyn $crate::codegen::UserException>,
            ) -> ::std::result::Result<Self, ::std::boxed::Box<dyn $crate::codegen::UserException>> {
                $(
                    let ex = match $crate::codegen::Thrown::<$ty>::try_from_box(ex) {
                        ::std::result::Result::Ok(e) => return ::std::result::Result::Ok(Self::$variant(e)),
                        ::std::result::Result::Err(ex) => ex,
                    };
                )+
                ::std::result::Result::Err(ex)
            }
        }
        /// A servant re-throws what the call received: the user exception
        /// unchanged, a runtime error as an unknown local exception.
        impl ::std::convert::From<$name> for $crate::adapter::DispatchError {
            fn from(e: $name) -> Self {
                match e {
                    $name::Runtime(e) => Self::from(e),
                    $($name::$variant(e) => Self::from(e),)+
                }
            }
        }
    };
}

pub use crate::__operation_error as operation_error;
