//! Transports on tokio: `tcp`, `ssl` (TLS through rustls), `ws` and `wss`
//! (Ice's WebSocket transport), behind one way to connect and one way to
//! accept.
//!
//! Every transport starts from a TCP stream ([`connect`],
//! [`TcpAcceptor`]); `ssl` runs a TLS handshake over it ([`ssl`]), `ws` an
//! HTTP/1.1 upgrade ([`ws`]), `wss` both. What comes out is a byte stream for the `connection` layer, with
//! a [`ConnectionInfo`] saying what the handshake established (addresses,
//! the peer's verified certificate chain, the cipher). This module never
//! sees Ice messages: framing, validation and request ids are the
//! `connection` layer's job, and which endpoint to try is the
//! communicator's.

pub mod ssl;
mod tcp;
pub mod ws;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub use tcp::{
    backlog_from_properties, connect, connect_with, BufferSizes, TcpAcceptor, DEFAULT_BACKLOG,
};

use crate::encoding::Endpoint;
use crate::runtime_error::{Result, RuntimeError};

/// How long a TLS handshake or WebSocket upgrade may take before the
/// connection attempt fails (ZeroC bounds it by the connect timeout).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The transport of an endpoint or a connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain TCP.
    #[default]
    Tcp,
    /// TLS over TCP.
    Ssl,
    /// WebSocket over TCP.
    Ws,
    /// WebSocket over TLS over TCP.
    Wss,
}

impl Transport {
    /// The transport of `endpoint`; `None` for datagram and opaque ones.
    #[must_use]
    pub fn of(endpoint: &Endpoint) -> Option<Self> {
        match endpoint {
            Endpoint::Tcp(_) => Some(Self::Tcp),
            Endpoint::Ssl(_) => Some(Self::Ssl),
            Endpoint::Ws(_) => Some(Self::Ws),
            Endpoint::Wss(_) => Some(Self::Wss),
            Endpoint::Udp(_) | Endpoint::Opaque(_) => None,
        }
    }

    /// The endpoint protocol name (`tcp`, `ssl`, `ws`, `wss`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Ssl => "ssl",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }

    /// Whether the transport encrypts (`ssl`, `wss`): what `ice_secure`
    /// asks for.
    #[must_use]
    pub fn is_secure(self) -> bool {
        matches!(self, Self::Ssl | Self::Wss)
    }

    /// Whether the transport runs TLS.
    fn uses_tls(self) -> bool {
        self.is_secure()
    }

    /// Whether the transport runs the WebSocket upgrade.
    fn uses_ws(self) -> bool {
        matches!(self, Self::Ws | Self::Wss)
    }
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a connection's transport established, as Ice's `ConnectionInfo`
/// (with its `underlying` chain flattened): addresses, and for `ssl`/`wss`
/// the peer's certificates and the cipher, for `ws`/`wss` the upgrade's
/// HTTP headers.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInfo {
    /// The transport.
    pub transport: Transport,
    /// Whether this side accepted the connection.
    pub incoming: bool,
    /// The name of the adapter that accepted it (empty for outgoing ones).
    pub adapter_name: String,
    /// This side's address.
    pub local_address: Option<SocketAddr>,
    /// The peer's address.
    pub remote_address: Option<SocketAddr>,
    /// TLS details, for `ssl` and `wss`.
    pub ssl: Option<ssl::SslInfo>,
    /// The HTTP headers of the WebSocket upgrade (the request's on the
    /// accepting side, the response's on the connecting side), for `ws`
    /// and `wss`.
    pub headers: Vec<(String, String)>,
}

impl ConnectionInfo {
    /// Information about a plain TCP stream.
    #[must_use]
    pub fn tcp(stream: &TcpStream, incoming: bool, adapter_name: &str) -> Self {
        Self {
            transport: Transport::Tcp,
            incoming,
            adapter_name: adapter_name.to_owned(),
            local_address: stream.local_addr().ok(),
            remote_address: stream.peer_addr().ok(),
            ..Self::default()
        }
    }
}

/// A byte stream of any transport.
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// A boxed byte stream of any transport.
pub type BoxedStream = Box<dyn Stream>;

/// Where to connect: a transport, host, port and (for `ws`/`wss`) the
/// HTTP resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport.
    pub transport: Transport,
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// The WebSocket resource (`-r`), `/` when not given.
    pub resource: String,
}

impl Target {
    /// The target of a stream endpoint (`tcp`, `ssl`, `ws`, `wss`), with
    /// `default_host` standing in for an empty host; `None` for other
    /// endpoints and ports out of range.
    #[must_use]
    pub fn of(endpoint: &Endpoint, default_host: &str) -> Option<Self> {
        let transport = Transport::of(endpoint)?;
        let (ip, resource) = match endpoint {
            Endpoint::Tcp(ip) | Endpoint::Ssl(ip) => (ip, ""),
            Endpoint::Ws(ws) | Endpoint::Wss(ws) => (&ws.ip, ws.resource.as_str()),
            Endpoint::Udp(_) | Endpoint::Opaque(_) => return None,
        };
        let port = u16::try_from(ip.port).ok()?;
        let host = if ip.host.is_empty() {
            default_host.to_owned()
        } else {
            ip.host.clone()
        };
        let resource = if transport.uses_ws() && resource.is_empty() {
            "/".to_owned()
        } else {
            resource.to_owned()
        };
        Some(Self {
            transport,
            host,
            port,
            resource,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}:{}", self.transport, self.host, self.port)?;
        if !self.resource.is_empty() {
            write!(f, "{}", self.resource)?;
        }
        Ok(())
    }
}

/// Runs the handshakes of a non-TCP transport over a TCP stream just
/// opened to `target`: TLS (checked by `ssl`'s client rules) and/or the
/// WebSocket upgrade, bounded by [`HANDSHAKE_TIMEOUT`].
///
/// # Errors
/// [`RuntimeError::Security`] when TLS fails or the peer is not trusted,
/// [`RuntimeError::Io`] when the stream breaks, [`RuntimeError::ConnectTimeout`]
/// when the handshakes take too long.
pub async fn upgrade_outgoing(
    tcp: TcpStream,
    target: &Target,
    ssl: Option<&ssl::SslEngine>,
) -> Result<(BoxedStream, ConnectionInfo)> {
    let mut info = ConnectionInfo::tcp(&tcp, false, "");
    info.transport = target.transport;
    let work = async {
        let stream: BoxedStream = if target.transport.uses_tls() {
            let engine = ssl.ok_or_else(|| RuntimeError::Security {
                reason: "no IceSSL configuration for an ssl endpoint".into(),
            })?;
            let (tls, ssl_info) = engine.connect(tcp, &target.host).await?;
            info.ssl = Some(ssl_info);
            Box::new(WriteThrough::new(tls))
        } else {
            Box::new(tcp)
        };
        if target.transport.uses_ws() {
            let (ws, headers) = ws::connect(stream, target).await?;
            info.headers = headers;
            return Ok::<BoxedStream, RuntimeError>(Box::new(ws));
        }
        Ok(stream)
    };
    let stream = within_handshake_timeout(work).await?;
    Ok((stream, info))
}

/// `work` (a transport's handshakes), failing with
/// [`RuntimeError::ConnectTimeout`] after [`HANDSHAKE_TIMEOUT`].
async fn within_handshake_timeout<T>(
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, work)
        .await
        .map_err(|_| RuntimeError::ConnectTimeout {
            millis: u64::try_from(HANDSHAKE_TIMEOUT.as_millis()).unwrap_or(u64::MAX),
        })?
}

/// What an adapter's acceptor runs on each connection it accepts before
/// Ice's validation: nothing (`tcp`), a TLS handshake, a WebSocket
/// upgrade, or both.
#[derive(Clone)]
pub struct Upgrade {
    /// The acceptor's transport.
    pub transport: Transport,
    /// The TLS side, for `ssl` and `wss`.
    pub ssl: Option<Arc<ssl::SslEngine>>,
    /// The name of the adapter (for `IceSSL.TrustOnly.Server.<Adapter>`
    /// and [`ConnectionInfo::adapter_name`]).
    pub adapter_name: String,
}

impl std::fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgrade")
            .field("transport", &self.transport)
            .field("adapter_name", &self.adapter_name)
            .finish_non_exhaustive()
    }
}

impl Upgrade {
    /// Runs the handshakes on an accepted TCP stream, bounded by
    /// [`HANDSHAKE_TIMEOUT`].
    ///
    /// # Errors
    /// [`RuntimeError::Security`] when TLS fails or the peer's certificate
    /// is refused by the trust rules, [`RuntimeError::Io`] and
    /// [`RuntimeError::Protocol`]-like failures when the peer does not
    /// speak the transport (for example garbage bytes instead of a TLS
    /// hello, or a plain HTTP request on a ws port).
    pub async fn accept(&self, tcp: TcpStream) -> Result<(BoxedStream, ConnectionInfo)> {
        let mut info = ConnectionInfo::tcp(&tcp, true, &self.adapter_name);
        info.transport = self.transport;
        let work = async {
            let stream: BoxedStream = if self.transport.uses_tls() {
                let engine = self.ssl.as_ref().ok_or_else(|| RuntimeError::Security {
                    reason: "no IceSSL configuration for an ssl endpoint".into(),
                })?;
                let (tls, ssl_info) = engine.accept(tcp, &self.adapter_name).await?;
                info.ssl = Some(ssl_info);
                Box::new(WriteThrough::new(tls))
            } else {
                Box::new(tcp)
            };
            if self.transport.uses_ws() {
                let (ws, headers) = ws::accept(stream).await?;
                info.headers = headers;
                return Ok::<BoxedStream, RuntimeError>(Box::new(ws));
            }
            Ok(stream)
        };
        let stream = within_handshake_timeout(work).await?;
        Ok((stream, info))
    }
}

/// A stream that buffers what is written (a TLS session) made to report
/// a write only once it reached the socket.
///
/// The connection layer writes without flushing, and may hand a write
/// over to another task when the socket is full; a TLS stream that took
/// the bytes into its session but could not send them yet would keep
/// them until the next write. Here a write is `Pending` until its bytes
/// are flushed, and is reported written (with the length the inner
/// stream took) on the next call, which flushes first.
#[derive(Debug)]
pub struct WriteThrough<S> {
    inner: S,
    /// The length the inner stream took but did not flush yet.
    taken: Option<usize>,
}

impl<S> WriteThrough<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner, taken: None }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteThrough<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> WriteThrough<S> {
    /// Writes through `write`, then flushes; see the type's doc.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        let n = match self.taken {
            Some(n) => n,
            None => {
                let n = ready!(write(Pin::new(&mut self.inner), cx))?;
                self.taken = Some(n);
                n
            }
        };
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        self.taken = None;
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteThrough<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.poll_write_with(cx, |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.poll_write_with(cx, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
