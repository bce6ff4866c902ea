//! The `ws` and `wss` transports: Ice over WebSocket, through
//! tokio-tungstenite.
//!
//! The connecting side sends an HTTP/1.1 upgrade request for the
//! endpoint's resource (`-r`, default `/`) asking for the `ice.zeroc.com`
//! sub-protocol; the accepting side answers only requests that ask for
//! it. Ice's bytes then travel in binary frames: a frame holds any part of
//! the byte stream (ZeroC sends about one Ice message per frame), so
//! [`WsStream`] turns frames back into a byte stream for the connection
//! layer and writes each write as one frame. tungstenite answers pings
//! and the close handshake; a text frame is a protocol error that closes
//! the connection. Frame and message sizes are bounded by tungstenite's
//! limits (16 MiB a frame, 64 MiB a message).

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_util::{Sink, Stream as _};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{BoxedStream, Target};
use crate::runtime_error::{Result, RuntimeError};

/// The WebSocket sub-protocol Ice speaks.
pub const PROTOCOL: &str = "ice.zeroc.com";

const PROTOCOL_HEADER: &str = "Sec-WebSocket-Protocol";

fn ws_error(reason: impl Into<String>) -> RuntimeError {
    RuntimeError::io(
        "websocket handshake",
        std::io::Error::new(std::io::ErrorKind::InvalidData, reason.into()),
    )
}

fn headers_of(map: &tokio_tungstenite::tungstenite::http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Whether a `Sec-WebSocket-Protocol` header lists Ice's sub-protocol.
fn asks_for_ice(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == PROTOCOL))
}

/// The upgrade of a stream just opened to `target` (over TLS for `wss`);
/// returns the WebSocket byte stream and the response's headers.
///
/// # Errors
/// [`RuntimeError::Io`] when the server refuses the upgrade or does not
/// agree to Ice's sub-protocol.
pub async fn connect(
    stream: BoxedStream,
    target: &Target,
) -> Result<(WsStream<BoxedStream>, Vec<(String, String)>)> {
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    let resource = if target.resource.starts_with('/') {
        target.resource.clone()
    } else {
        format!("/{}", target.resource)
    };
    let mut request = format!("ws://{host}:{}{resource}", target.port)
        .into_client_request()
        .map_err(|e| ws_error(format!("request for {target}: {e}")))?;
    request
        .headers_mut()
        .insert(PROTOCOL_HEADER, HeaderValue::from_static(PROTOCOL));
    let (ws, response) = tokio_tungstenite::client_async(request, stream)
        .await
        .map_err(|e| ws_error(format!("upgrade with {target} failed: {e}")))?;
    if !asks_for_ice(response.headers().get(PROTOCOL_HEADER)) {
        return Err(ws_error(format!(
            "{target} did not agree to the `{PROTOCOL}` sub-protocol"
        )));
    }
    Ok((WsStream::new(ws), headers_of(response.headers())))
}

/// Answers the upgrade request on an accepted stream (over TLS for
/// `wss`); returns the WebSocket byte stream and the request's headers.
///
/// # Errors
/// [`RuntimeError::Io`] when what arrives is not a WebSocket upgrade
/// asking for Ice's sub-protocol (the peer gets an HTTP error status).
pub async fn accept(stream: BoxedStream) -> Result<(WsStream<BoxedStream>, Vec<(String, String)>)> {
    let mut headers = Vec::new();
    let callback = |request: &Request,
                    mut response: Response|
     -> std::result::Result<Response, ErrorResponse> {
        headers = headers_of(request.headers());
        if !asks_for_ice(request.headers().get(PROTOCOL_HEADER)) {
            let mut refusal = ErrorResponse::new(Some(format!(
                "the {PROTOCOL} WebSocket sub-protocol is required\n"
            )));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        response
            .headers_mut()
            .insert(PROTOCOL_HEADER, HeaderValue::from_static(PROTOCOL));
        Ok(response)
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, callback)
        .await
        .map_err(|e| ws_error(format!("not a WebSocket upgrade for Ice: {e}")))?;
    Ok((WsStream::new(ws), headers))
}

/// A WebSocket connection as a byte stream: what arrives in binary frames
/// is read in order; each write goes out as one binary frame, reported
/// written once it is flushed to the stream below (as
/// [`super::WriteThrough`] does).
pub struct WsStream<S> {
    ws: WebSocketStream<S>,
    /// What is left of the last binary frame read.
    unread: Bytes,
    /// The length of a write sent into a frame but not flushed yet.
    taken: Option<usize>,
    /// Set once the peer closed (or the stream ended).
    eof: bool,
}

impl<S> std::fmt::Debug for WsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsStream")
            .field("unread", &self.unread.len())
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl<S> WsStream<S> {
    fn new(ws: WebSocketStream<S>) -> Self {
        Self {
            ws,
            unread: Bytes::new(),
            taken: None,
            eof: false,
        }
    }
}

fn io_error(e: tokio_tungstenite::tungstenite::Error) -> std::io::Error {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Io(e) => e,
        Error::ConnectionClosed | Error::AlreadyClosed => std::io::ErrorKind::BrokenPipe.into(),
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            if !self.unread.is_empty() {
                let n = self.unread.len().min(buf.remaining());
                let chunk = self.unread.split_to(n);
                buf.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            if self.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.unread = data,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "a text frame on an Ice WebSocket connection",
                    )))
                }
                Some(Ok(Message::Close(_))) | None => self.eof = true,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        frame: impl FnOnce() -> Bytes,
    ) -> Poll<std::io::Result<usize>> {
        let n = match self.taken {
            Some(n) => n,
            None => {
                ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io_error)?;
                let data = frame();
                let n = data.len();
                Pin::new(&mut self.ws)
                    .start_send(Message::Binary(data))
                    .map_err(io_error)?;
                self.taken = Some(n);
                n
            }
        };
        ready!(Pin::new(&mut self.ws).poll_flush(cx)).map_err(io_error)?;
        self.taken = None;
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_send(cx, || Bytes::copy_from_slice(buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.poll_send(cx, || {
            let mut all = Vec::with_capacity(bufs.iter().map(|b| b.len()).sum());
            for b in bufs {
                all.extend_from_slice(b);
            }
            Bytes::from(all)
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(io_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match ready!(Pin::new(&mut self.ws).poll_close(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(io_error(e))),
        }
    }
}
