//! Errors of the runtime layers: transport, connection, communicator,
//! proxies and object adapters.
//!
//! Codec errors stay [`ProtocolError`] and encoding errors stay
//! [`crate::encoding::Error`]; this enum wraps them when they surface
//! through a connection or an invocation, and adds what only a live
//! runtime can say (lost connections, timeouts, the failure replies of a
//! remote dispatch).

use std::sync::Arc;

use thiserror::Error;

use crate::protocol::{ProtocolError, RequestFailed};

/// A result of the runtime layers.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// What went wrong with a connection, an invocation or an adapter.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A socket operation failed.
    #[error("{op} failed: {source}")]
    Io {
        /// What was being done (`connect`, `bind`, ...).
        op: &'static str,
        /// The I/O error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The peer sent a malformed message; the connection was closed.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// Data could not be encoded or decoded.
    #[error("encoding error: {0}")]
    Encoding(#[from] crate::encoding::Error),
    /// The connection was lost (closed by the peer without a close
    /// connection message, or by a transport error).
    #[error("connection lost")]
    ConnectionLost,
    /// The peer closed the connection gracefully; requests not yet answered
    /// were not dispatched and may be retried.
    #[error("connection closed by the peer")]
    CloseConnection,
    /// The connection was closed locally (by `close` or shutdown).
    #[error("connection closed locally")]
    ConnectionClosed,
    /// The connection was not validated in time.
    #[error("connection not validated within {millis} ms")]
    ConnectTimeout {
        /// The limit in force.
        millis: u64,
    },
    /// ACM closed the connection: nothing was received or sent within its
    /// timeout (Ice's `ConnectionTimeoutException`).
    #[error("connection timed out: nothing received or sent for {millis} ms")]
    ConnectionTimeout {
        /// How long the connection had been silent.
        millis: u64,
    },
    /// A twoway invocation got no reply within its invocation timeout.
    #[error("invocation timed out after {millis} ms")]
    InvocationTimeout {
        /// The timeout in force.
        millis: u64,
    },
    /// The proxy has no endpoint this runtime can use.
    #[error("no usable endpoint for `{proxy}`")]
    NoEndpoint {
        /// The identity name of the proxy.
        proxy: String,
    },
    /// An endpoint string could not be parsed.
    #[error("invalid endpoint `{text}`: {reason}")]
    EndpointParse {
        /// The text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server has no object with the identity.
    #[error("object does not exist: {}", .0.identity.name)]
    ObjectNotExist(RequestFailed),
    /// The object has no such facet.
    #[error("facet `{}` does not exist", .0.facet)]
    FacetNotExist(RequestFailed),
    /// The object has no such operation.
    #[error("operation `{}` does not exist", .0.operation)]
    OperationNotExist(RequestFailed),
    /// The dispatch failed with an Ice local exception.
    #[error("unknown local exception: {0}")]
    UnknownLocalException(String),
    /// The dispatch raised an undeclared user exception.
    #[error("unknown user exception: {0}")]
    UnknownUserException(String),
    /// The dispatch failed some other way.
    #[error("unknown exception: {0}")]
    UnknownException(String),
    /// A twoway-only call (an operation that returns data, has
    /// out-parameters or declares exceptions, or `ice_isA`) was made on a
    /// oneway, batch or datagram proxy (Ice's `TwowayOnlyException`);
    /// nothing was sent.
    #[error("operation `{operation}` needs a twoway proxy")]
    TwowayOnly {
        /// The operation.
        operation: String,
    },
    /// The object adapter or communicator has been deactivated or destroyed.
    #[error("{what} is shut down")]
    ShutDown {
        /// What it is.
        what: &'static str,
    },
    /// A proxy string could not be parsed.
    #[error("invalid proxy `{text}`")]
    ProxyParse {
        /// The text.
        text: String,
    },
    /// The locator does not know an object adapter or well-known object
    /// (Ice's `NotRegisteredException`).
    #[error("no {kind} with id `{id}` is registered with the locator")]
    NotRegistered {
        /// What was looked up: `object adapter`, `object` or `replica group`.
        kind: &'static str,
        /// Its adapter id or stringified identity.
        id: String,
    },
    /// Adapter `Name.Endpoints` is missing or an adapter of that name exists.
    #[error("object adapter `{name}`: {reason}")]
    Adapter {
        /// The adapter name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A secure transport failed: the TLS handshake, a certificate the
    /// peer or the trust rules refused, or the IceSSL configuration (Ice's
    /// `SecurityException`).
    #[error("security: {reason}")]
    Security {
        /// What failed.
        reason: String,
    },
}

impl RuntimeError {
    /// Wraps an I/O error.
    pub(crate) fn io(op: &'static str, source: std::io::Error) -> Self {
        Self::Io {
            op,
            source: Arc::new(source),
        }
    }
}
