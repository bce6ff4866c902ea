//! The `ws` and `wss` transports: Ice over WebSocket, through
//! tokio-tungstenite.
//!
//! The connecting side sends an HTTP/1.1 upgrade request for the
//! endpoint's resource (`-r`, default `/`) asking for the `ice.zeroc.com`
//! sub-protocol; the accepting side answers only requests that ask for
//! it. Ice's bytes then travel in binary frames: a frame holds any part of
//! the byte stream when read, so [`WsStream`] turns frames back into a
//! byte stream for the connection layer; it writes one Ice message a frame,
//! as ZeroC does (and as ZeroC's servers need, see [`WsStream`]). tungstenite answers pings
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

/// The size of an Ice message header; its bytes 10..14 hold the message
/// size (header included), little-endian.
const HEADER_SIZE: usize = 14;

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
/// is read in order; what is written goes out one Ice message a frame, as
/// ZeroC sends, each write reported written once its frame is flushed to
/// the stream below (as [`super::WriteThrough`] does).
///
/// One message a frame is more than a habit: ZeroC Ice 3.7 unmasks a
/// client's frame wrongly past the first message it holds (seen against
/// its Python and C++ servers: a second message in a masked frame reads as
/// garbage and the server closes the connection).
pub struct WsStream<S> {
    ws: WebSocketStream<S>,
    /// What is left of the last binary frame read.
    unread: Bytes,
    /// The length of a write sent into a frame but not flushed yet.
    taken: Option<usize>,
    /// What is left to send of the Ice message the last frame started.
    message_left: usize,
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
            message_left: 0,
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
    /// How many of the `total` bytes in `bufs` the next frame holds: the
    /// rest of the Ice message being sent, or at a message's start the
    /// size its header gives (all of them when no whole header is there).
    fn frame_len(&self, bufs: &[std::io::IoSlice<'_>], total: usize) -> (usize, usize) {
        if self.message_left > 0 {
            let n = self.message_left.min(total);
            return (n, self.message_left - n);
        }
        let mut head = [0u8; HEADER_SIZE];
        let mut got = 0;
        for b in bufs {
            let take = (HEADER_SIZE - got).min(b.len());
            if let (Some(dst), Some(src)) = (head.get_mut(got..got + take), b.get(..take)) {
                dst.copy_from_slice(src);
            }
            got += take;
            if got == HEADER_SIZE {
                break;
            }
        }
        let size = (got == HEADER_SIZE)
            .then(|| i32::from_le_bytes([head[10], head[11], head[12], head[13]]))
            .and_then(|size| usize::try_from(size).ok())
            .filter(|&size| size >= HEADER_SIZE);
        match size {
            Some(size) => {
                let n = size.min(total);
                (n, size - n)
            }
            None => (total, 0),
        }
    }

    /// Sends the start of `bufs` as one binary frame (see the type's doc)
    /// and waits for it to be flushed.
    fn poll_send(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let n = match self.taken {
            Some(n) => n,
            None => {
                let total: usize = bufs.iter().map(|b| b.len()).sum();
                if total == 0 {
                    return Poll::Ready(Ok(0));
                }
                ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io_error)?;
                let (n, left) = self.frame_len(bufs, total);
                let mut frame = Vec::with_capacity(n);
                for b in bufs {
                    let take = (n - frame.len()).min(b.len());
                    frame.extend_from_slice(b.get(..take).unwrap_or_default());
                    if frame.len() == n {
                        break;
                    }
                }
                Pin::new(&mut self.ws)
                    .start_send(Message::Binary(Bytes::from(frame)))
                    .map_err(io_error)?;
                self.message_left = left;
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
        self.poll_send(cx, &[std::io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.poll_send(cx, bufs)
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::protocol::Role;

    /// An Ice message of `size` bytes: a header with that size, then
    /// `size - 14` bytes of `fill`.
    fn message(size: usize, fill: u8) -> Vec<u8> {
        let mut m = b"IceP\x01\x00\x01\x00\x00\x00".to_vec();
        m.extend_from_slice(&i32::try_from(size).unwrap_or(0).to_le_bytes());
        m.resize(size, fill);
        m
    }

    /// Two messages written at once leave in two frames, one each; what
    /// arrives in frames reads back as one byte stream.
    #[tokio::test]
    async fn one_frame_per_message_out_a_byte_stream_in() -> std::io::Result<()> {
        let (a, b) = tokio::io::duplex(1 << 20);
        let mut client =
            WsStream::new(WebSocketStream::from_raw_socket(a, Role::Client, None).await);
        let mut server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        let (first, second) = (message(45, 1), message(30, 2));
        let bufs = [
            std::io::IoSlice::new(&first[..14]),
            std::io::IoSlice::new(&first[14..]),
            std::io::IoSlice::new(&second),
        ];
        // A write stops at the end of the first message...
        assert_eq!(client.write_vectored(&bufs).await?, 45);
        assert_eq!(client.write_vectored(&bufs[2..]).await?, 30);
        for expected in [&first, &second] {
            match server.next().await {
                Some(Ok(Message::Binary(data))) => assert_eq!(&data[..], &expected[..]),
                other => panic!("expected one binary frame per message, got {other:?}"),
            }
        }
        // Frames in: any split of the stream reads back in order.
        let whole = [first.clone(), second.clone()].concat();
        for chunk in whole.chunks(20) {
            futures_util::SinkExt::send(
                &mut server,
                Message::Binary(Bytes::copy_from_slice(chunk)),
            )
            .await
            .map_err(io_error)?;
        }
        let mut back = vec![0u8; whole.len()];
        client.read_exact(&mut back).await?;
        assert_eq!(back, whole);
        // A text frame is refused.
        futures_util::SinkExt::send(&mut server, Message::text("hello"))
            .await
            .map_err(io_error)?;
        let mut one = [0u8; 1];
        assert!(client.read(&mut one).await.is_err());
        Ok(())
    }
}
