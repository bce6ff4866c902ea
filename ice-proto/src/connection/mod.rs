//! One Ice connection over any byte stream: the validation handshake,
//! request ids, replies, dispatch of incoming requests, and close.
//!
//! A [`Connection`] is a cheap handle on tasks that own the stream:
//!
//! - the *reader* fills a buffer, cuts it into frames with
//!   [`FrameDecoder`], completes waiting invocations with their replies and
//!   queues incoming requests; it never waits for a dispatch, so a servant
//!   that calls out (even back over this very connection) still gets its
//!   replies read;
//! - the *writer* sends queued messages, coalescing what is ready into one
//!   write;
//! - the *dispatcher* runs queued requests through the [`RequestHandler`]
//!   (the object adapter), one at a time by default so that requests of one
//!   connection run in arrival order, as in Ice's one-thread server pool.
//!   [`ConnectionConfig::max_dispatches`] raises the concurrency. Each
//!   dispatch runs in its own task, so a panicking servant becomes an
//!   `UnknownException` reply and the connection goes on.
//!
//! A malformed message closes the connection it came on, with a `warn`
//! line naming the [`ProtocolError`]; other connections are not affected.
//! The connection never sees servant types: dispatch goes through the
//! [`RequestHandler`] trait.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::protocol::{
    decode_batch, CompressionStatus, FrameDecoder, FrameEncoder, MessageParts, MessageType,
    ProtocolError, Reply, ReplyBody, Request, RequestFailed, DEFAULT_MESSAGE_SIZE_MAX,
};
use crate::runtime_error::{Result, RuntimeError};

/// A boxed, sendable future, as returned by dispatch traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a connection hands incoming requests to (the object adapter).
pub trait RequestHandler: Send + Sync + 'static {
    /// Dispatches one request that arrived on `connection` and returns the
    /// reply body. The reply is dropped for oneway and batched requests.
    fn handle(&self, request: Request, connection: Connection) -> BoxFuture<'static, ReplyBody>;
}

/// Settings of one connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The largest message accepted, in bytes (`Ice.MessageSizeMax` in KiB
    /// times 1024).
    pub message_size_max: usize,
    /// How long a client waits for the server's validate connection message.
    pub validate_timeout: Duration,
    /// How long a graceful close waits for the peer to close its side.
    pub close_timeout: Duration,
    /// How many requests of this connection may be dispatched at once; 1
    /// (the default) keeps arrival order.
    pub max_dispatches: usize,
    /// Send a validate connection message (an Ice 3.7 heartbeat) when
    /// nothing was written for this long; `None` sends none.
    pub heartbeat: Option<Duration>,
    /// Like `heartbeat`, but only while requests of this connection are
    /// being dispatched, so that a ZeroC peer's ACM does not take a long
    /// dispatch for a dead connection (Ice's default `HeartbeatOnDispatch`).
    pub heartbeat_on_dispatch: Option<Duration>,
    /// Close the connection gracefully once nothing was sent or received
    /// for this long and no request is pending either way (ACM's
    /// `CloseOnIdle`); `None` keeps idle connections open.
    pub idle_close: Option<Duration>,
    /// Close the connection forcefully once nothing was sent or received
    /// for this long while twoway invocations wait for replies (ACM's
    /// `CloseOnInvocation`: the peer is taken for dead); they fail with
    /// [`RuntimeError::ConnectionTimeout`].
    pub close_on_invocation: Option<Duration>,
    /// Close the connection forcefully once nothing was sent or received
    /// for this long, whatever is pending (ACM's `CloseOnIdleForceful`).
    pub forceful_idle_close: Option<Duration>,
    /// `Ice.Trace.Network`: above 0, connections opened and closed are
    /// logged at `info` with target `ice::trace::network`.
    pub trace_network: i32,
    /// `Ice.Trace.Protocol`: above 0, every message sent and received is
    /// logged at `info` with target `ice::trace::protocol`.
    pub trace_protocol: i32,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            message_size_max: DEFAULT_MESSAGE_SIZE_MAX,
            validate_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(10),
            max_dispatches: 1,
            heartbeat: None,
            heartbeat_on_dispatch: Some(Duration::from_secs(15)),
            idle_close: None,
            close_on_invocation: None,
            forceful_idle_close: None,
            trace_network: 0,
            trace_protocol: 0,
        }
    }
}

/// The lifecycle of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Closing,
    Closed,
}

/// A message for the writer task.
enum Outgoing {
    /// One message (or several whole messages in its head).
    Message(MessageParts),
    /// Send close connection, then shut the write side down.
    Close,
}

/// An incoming request waiting for dispatch.
struct Incoming {
    request: Request,
    compress: bool,
}

type PendingMap = HashMap<i32, oneshot::Sender<Result<Reply>>>;

struct Inner {
    id: u64,
    description: String,
    is_server: bool,
    config: ConnectionConfig,
    out_tx: mpsc::UnboundedSender<Outgoing>,
    pending: Mutex<PendingMap>,
    next_request_id: AtomicI32,
    state: Mutex<State>,
    handler: RwLock<Option<Arc<dyn RequestHandler>>>,
    /// Outgoing twoways awaiting replies plus requests queued or in dispatch.
    busy: watch::Sender<usize>,
    /// Requests queued or in dispatch.
    dispatching: AtomicUsize,
    /// When a message was last sent or received.
    last_activity: Mutex<tokio::time::Instant>,
    /// Batch requests of proxies fixed to this connection, with whether
    /// any of them asked for compression; sent by
    /// [`Connection::flush_batch_requests`].
    batch: Mutex<(Vec<Request>, bool)>,
    /// Set once, with the reason, when the connection is closed.
    closed: watch::Sender<Option<RuntimeError>>,
}

/// A handle on a live connection; clones share it.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.inner.id)
            .field("description", &self.inner.description)
            .field("is_server", &self.inner.is_server)
            .finish()
    }
}

impl PartialEq for Connection {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Connection {}

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

impl Connection {
    /// Starts the server side of a connection just accepted: sends validate
    /// connection, then serves requests through `handler`.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when the validate connection message cannot be
    /// written.
    pub async fn accept<S>(
        mut stream: S,
        description: String,
        config: ConnectionConfig,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Result<Self>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let mut validate = BytesMut::new();
        FrameEncoder::encode_empty(MessageType::ValidateConnection, &mut validate);
        stream
            .write_all(&validate)
            .await
            .map_err(|e| RuntimeError::io("send validate connection", e))?;
        tracing::debug!(connection = %description, "accepted connection, sent validate connection");
        Ok(Self::start(
            stream,
            BytesMut::new(),
            description,
            true,
            config,
            handler,
        ))
    }

    /// Starts the client side of a connection just opened: waits for the
    /// server's validate connection message, then allows invocations.
    ///
    /// # Errors
    /// [`RuntimeError::ConnectTimeout`] when no validation arrives in time,
    /// [`RuntimeError::Protocol`] when something else arrives,
    /// [`RuntimeError::ConnectionLost`] when the peer closes first.
    pub async fn connect<S>(
        mut stream: S,
        description: String,
        config: ConnectionConfig,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Result<Self>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let mut buf = BytesMut::with_capacity(1024);
        let mut decoder = FrameDecoder::new(config.message_size_max);
        let wait = async {
            loop {
                if let Some(frame) = decoder.decode(&mut buf)? {
                    if frame.message_type == MessageType::ValidateConnection {
                        return Ok(());
                    }
                    return Err(RuntimeError::Protocol(ProtocolError::UnknownMessageType {
                        value: frame.message_type as u8,
                    }));
                }
                let n = stream
                    .read_buf(&mut buf)
                    .await
                    .map_err(|e| RuntimeError::io("read validate connection", e))?;
                if n == 0 {
                    return Err(RuntimeError::ConnectionLost);
                }
            }
        };
        match tokio::time::timeout(config.validate_timeout, wait).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(RuntimeError::ConnectTimeout {
                    millis: u64::try_from(config.validate_timeout.as_millis()).unwrap_or(u64::MAX),
                })
            }
        }
        tracing::debug!(connection = %description, "connection validated");
        Ok(Self::start(
            stream,
            buf,
            description,
            false,
            config,
            handler,
        ))
    }

    fn start<S>(
        stream: S,
        buf: BytesMut,
        description: String,
        is_server: bool,
        config: ConnectionConfig,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Self
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (dispatch_tx, dispatch_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
            description,
            is_server,
            config,
            out_tx,
            pending: Mutex::new(HashMap::new()),
            next_request_id: AtomicI32::new(1),
            state: Mutex::new(State::Active),
            handler: RwLock::new(handler),
            busy: watch::Sender::new(0),
            dispatching: AtomicUsize::new(0),
            last_activity: Mutex::new(tokio::time::Instant::now()),
            batch: Mutex::new((Vec::new(), false)),
            closed: watch::Sender::new(None),
        });
        if inner.config.trace_network > 0 {
            tracing::info!(
                target: "ice::trace::network",
                connection = %inner.description,
                side = if is_server { "server" } else { "client" },
                "established tcp connection"
            );
        }
        let (read_half, write_half) = tokio::io::split(stream);
        let conn = Self { inner };
        tokio::spawn(conn.clone().read_loop(read_half, buf, dispatch_tx));
        tokio::spawn(conn.clone().write_loop(write_half, out_rx));
        tokio::spawn(conn.clone().dispatch_loop(dispatch_rx));
        let config = &conn.inner.config;
        if let Some(period) = [
            config.idle_close,
            config.close_on_invocation,
            config.forceful_idle_close,
        ]
        .into_iter()
        .flatten()
        .min()
        {
            tokio::spawn(conn.clone().acm_monitor(period));
        }
        conn
    }

    /// A short description: the peer's address, for logs.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// Whether this is the accepting (server) side.
    #[must_use]
    pub fn is_server(&self) -> bool {
        self.inner.is_server
    }

    /// Whether the connection is closed or closing.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.state() != State::Active
    }

    /// The settings in force.
    #[must_use]
    pub fn config(&self) -> &ConnectionConfig {
        &self.inner.config
    }

    /// Sets the handler for requests arriving on this connection, making a
    /// client connection bidirectional (Ice's `setAdapter`).
    pub fn set_handler(&self, handler: Option<Arc<dyn RequestHandler>>) {
        if let Ok(mut h) = self.inner.handler.write() {
            *h = handler;
        }
    }

    fn handler(&self) -> Option<Arc<dyn RequestHandler>> {
        self.inner.handler.read().ok().and_then(|h| h.clone())
    }

    fn state(&self) -> State {
        self.inner.state.lock().map(|s| *s).unwrap_or(State::Closed)
    }

    /// One more request pending or in dispatch. Waiters only wait for the
    /// count to reach zero, so this wakes no one.
    fn busy_add(&self) {
        self.inner.busy.send_if_modified(|n| {
            *n += 1;
            false
        });
    }

    /// One request fewer; wakes the waiters when none is left.
    fn busy_done(&self) {
        self.inner.busy.send_if_modified(|n| {
            *n = n.saturating_sub(1);
            *n == 0
        });
    }

    fn closed_error(&self) -> RuntimeError {
        self.inner
            .closed
            .borrow()
            .clone()
            .unwrap_or(RuntimeError::ConnectionClosed)
    }

    fn touch(&self) {
        if let Ok(mut last) = self.inner.last_activity.lock() {
            *last = tokio::time::Instant::now();
        }
    }

    fn last_activity(&self) -> tokio::time::Instant {
        self.inner
            .last_activity
            .lock()
            .map(|l| *l)
            .unwrap_or_else(|_| tokio::time::Instant::now())
    }

    /// ACM's close modes: once nothing was sent or received for a while,
    /// closes forcefully (`forceful_idle_close`, or `close_on_invocation`
    /// with twoway invocations waiting) or gracefully (`idle_close`, with
    /// nothing pending either way). `period` is the shortest of them.
    async fn acm_monitor(self, period: Duration) {
        let mut closed = self.inner.closed.subscribe();
        let config = self.inner.config.clone();
        let reached =
            |limit: Option<Duration>, idle_for: Duration| limit.is_some_and(|l| idle_for >= l);
        let mut not_before = tokio::time::Instant::now();
        loop {
            let deadline = (self.last_activity() + period).max(not_before);
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {}
                _ = closed.wait_for(Option::is_some) => return,
            }
            let now = tokio::time::Instant::now();
            let idle_for = now.saturating_duration_since(self.last_activity());
            if idle_for < period {
                continue;
            }
            let waiting = self
                .inner
                .pending
                .lock()
                .map(|p| !p.is_empty())
                .unwrap_or(false);
            if reached(config.forceful_idle_close, idle_for)
                || (waiting && reached(config.close_on_invocation, idle_for))
            {
                let millis = u64::try_from(idle_for.as_millis()).unwrap_or(u64::MAX);
                tracing::warn!(
                    connection = %self.inner.description,
                    idle_ms = millis,
                    waiting,
                    "closing connection: nothing received or sent within the ACM timeout"
                );
                self.terminate(RuntimeError::ConnectionTimeout { millis });
                return;
            }
            if reached(config.idle_close, idle_for)
                && *self.inner.busy.borrow() == 0
                && self.queued_batch_requests() == 0
            {
                tracing::debug!(connection = %self.inner.description, "closing idle connection");
                self.close().await;
                return;
            }
            // Requests pending (or a mode that waits for them): look again
            // a period later.
            not_before = now + period;
        }
    }

    fn send_bytes(&self, bytes: Bytes) -> Result<()> {
        self.send_parts(MessageParts::whole(bytes))
    }

    fn send_parts(&self, parts: MessageParts) -> Result<()> {
        self.touch();
        if self.inner.config.trace_protocol > 0 {
            if let Some(header) = parts
                .head
                .get(..crate::protocol::HEADER_SIZE)
                .and_then(|h| <&[u8; crate::protocol::HEADER_SIZE]>::try_from(h).ok())
                .and_then(|h| crate::protocol::Header::parse(h, usize::MAX).ok())
            {
                tracing::info!(
                    target: "ice::trace::protocol",
                    connection = %self.inner.description,
                    message_type = ?header.message_type,
                    compression = ?header.compression,
                    size = header.size,
                    "sending message"
                );
            }
        }
        self.inner
            .out_tx
            .send(Outgoing::Message(parts))
            .map_err(|_| self.closed_error())
    }

    /// Sends a twoway request and waits for its reply. The request id in
    /// `request` is replaced by a fresh one.
    ///
    /// # Errors
    /// [`RuntimeError::ConnectionClosed`] (or the close reason) when the
    /// connection is not active: the request was not sent and can be
    /// retried elsewhere; [`RuntimeError::CloseConnection`] when the peer
    /// closed gracefully before answering (not dispatched, safe to retry);
    /// [`RuntimeError::ConnectionLost`] when the connection broke after
    /// the request was sent.
    pub async fn invoke(&self, request: Request, compress: bool) -> Result<Reply> {
        self.invoke_ref(&request, compress).await
    }

    /// [`Self::invoke`] of a request the caller keeps (to retry it
    /// elsewhere): it is sent under a fresh request id without being
    /// copied.
    ///
    /// # Errors
    /// As [`Self::invoke`].
    pub async fn invoke_ref(&self, request: &Request, compress: bool) -> Result<Reply> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let state = self
                .inner
                .state
                .lock()
                .map_err(|_| RuntimeError::ConnectionClosed)?;
            if *state != State::Active {
                return Err(self.closed_error());
            }
            let id = self.allocate_request_id();
            let mut pending = self
                .inner
                .pending
                .lock()
                .map_err(|_| RuntimeError::ConnectionClosed)?;
            pending.insert(id, tx);
            id
        };
        self.busy_add();
        let guard = PendingGuard { conn: self, id };
        self.send_parts(request.to_parts_with_id(id, compress))?;
        let reply = rx.await.unwrap_or_else(|_| Err(self.closed_error()));
        drop(guard);
        reply
    }

    fn allocate_request_id(&self) -> i32 {
        loop {
            let id = self.inner.next_request_id.fetch_add(1, Ordering::Relaxed);
            if id > 0 {
                return id;
            }
            // Wrapped around: start again at 1 (0 means oneway).
            let _ = self.inner.next_request_id.compare_exchange(
                id.wrapping_add(1),
                1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Sends a oneway request (its id is set to 0).
    ///
    /// # Errors
    /// The close reason when the connection is not active.
    pub fn send_oneway(&self, request: Request, compress: bool) -> Result<()> {
        self.send_oneway_ref(&request, compress)
    }

    /// [`Self::send_oneway`] of a request the caller keeps; it is not copied.
    ///
    /// # Errors
    /// The close reason when the connection is not active.
    pub fn send_oneway_ref(&self, request: &Request, compress: bool) -> Result<()> {
        if self.state() != State::Active {
            return Err(self.closed_error());
        }
        self.send_parts(request.to_parts_with_id(0, compress))
    }

    /// Sends queued batch requests as one batch request message. Nothing is
    /// sent for an empty batch.
    ///
    /// # Errors
    /// The close reason when the connection is not active.
    pub fn send_batch(&self, requests: &[Request], compress: bool) -> Result<()> {
        if requests.is_empty() {
            return Ok(());
        }
        if self.state() != State::Active {
            return Err(self.closed_error());
        }
        let body = crate::protocol::encode_batch(requests);
        let mut msg = BytesMut::new();
        FrameEncoder::encode(MessageType::BatchRequest, &body, compress, &mut msg);
        self.send_bytes(msg.freeze())
    }

    /// Queues a batch oneway request of a proxy fixed to this connection
    /// (Ice queues those per connection) until
    /// [`Connection::flush_batch_requests`].
    ///
    /// # Errors
    /// The close reason when the connection is not active.
    pub fn queue_batch_request(&self, request: Request, compress: bool) -> Result<()> {
        if self.state() != State::Active {
            return Err(self.closed_error());
        }
        if let Ok(mut batch) = self.inner.batch.lock() {
            batch.0.push(request);
            batch.1 |= compress;
        }
        Ok(())
    }

    /// How many batch requests are queued on this connection.
    #[must_use]
    pub fn queued_batch_requests(&self) -> usize {
        self.inner.batch.lock().map(|b| b.0.len()).unwrap_or(0)
    }

    /// Sends the batch requests queued on this connection as one batch
    /// request message (Ice's `Connection::flushBatchRequests`).
    ///
    /// # Errors
    /// The close reason when the connection is not active; the queue is
    /// emptied either way.
    pub fn flush_batch_requests(&self) -> Result<()> {
        let (requests, compress) = self
            .inner
            .batch
            .lock()
            .map(|mut b| (std::mem::take(&mut b.0), std::mem::take(&mut b.1)))
            .unwrap_or_default();
        self.send_batch(&requests, compress)
    }

    /// Sends a validate connection message (an Ice 3.7 heartbeat).
    ///
    /// # Errors
    /// The close reason when the connection is closed.
    pub fn heartbeat(&self) -> Result<()> {
        let mut msg = BytesMut::new();
        FrameEncoder::encode_empty(MessageType::ValidateConnection, &mut msg);
        self.send_bytes(msg.freeze())
    }

    /// Closes gracefully: refuses new invocations, lets outgoing twoways get
    /// their replies and incoming dispatches finish, sends close connection,
    /// and waits (up to [`ConnectionConfig::close_timeout`]) for the peer to
    /// close its side.
    pub async fn close(&self) {
        let was_active = match self.inner.state.lock() {
            Ok(mut state) if *state == State::Active => {
                *state = State::Closing;
                true
            }
            _ => false,
        };
        if !was_active {
            self.wait_closed().await;
            return;
        }
        let mut busy = self.inner.busy.subscribe();
        let idle = busy.wait_for(|n| *n == 0);
        let _ = tokio::time::timeout(self.inner.config.close_timeout, idle).await;
        if self.inner.config.trace_protocol > 0 {
            tracing::info!(
                target: "ice::trace::protocol",
                connection = %self.inner.description,
                message_type = ?MessageType::CloseConnection,
                compression = ?CompressionStatus::NotCompressed,
                size = crate::protocol::HEADER_SIZE,
                "sending message"
            );
        }
        let _ = self.inner.out_tx.send(Outgoing::Close);
        let closed = self.wait_closed();
        if tokio::time::timeout(self.inner.config.close_timeout, closed)
            .await
            .is_err()
        {
            self.terminate(RuntimeError::ConnectionClosed);
        }
    }

    /// Closes at once, without close connection; pending invocations fail
    /// with [`RuntimeError::ConnectionClosed`].
    pub fn abort(&self) {
        self.terminate(RuntimeError::ConnectionClosed);
    }

    /// Waits until the connection is closed and returns why.
    pub async fn wait_closed(&self) -> RuntimeError {
        let mut rx = self.inner.closed.subscribe();
        let reason = match rx.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone(),
            Err(_) => None,
        };
        reason.unwrap_or(RuntimeError::ConnectionClosed)
    }

    /// Ends the connection with `reason`: every waiting invocation fails with
    /// it and the tasks stop. Only the first reason counts.
    fn terminate(&self, reason: RuntimeError) {
        {
            let Ok(mut state) = self.inner.state.lock() else {
                return;
            };
            if *state == State::Closed {
                return;
            }
            *state = State::Closed;
        }
        let pending: Vec<_> = self
            .inner
            .pending
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default();
        for (_, tx) in pending {
            let _ = tx.send(Err(reason.clone()));
        }
        if self.inner.config.trace_network > 0 {
            tracing::info!(
                target: "ice::trace::network",
                connection = %self.inner.description,
                reason = %reason,
                "closed tcp connection"
            );
        } else {
            tracing::debug!(connection = %self.inner.description, reason = %reason, "connection closed");
        }
        self.inner.closed.send_replace(Some(reason));
    }

    async fn read_loop<R>(
        self,
        mut reader: R,
        mut buf: BytesMut,
        dispatch_tx: mpsc::UnboundedSender<Incoming>,
    ) where
        R: AsyncRead + Send + Unpin,
    {
        let mut decoder = FrameDecoder::new(self.inner.config.message_size_max);
        let mut closed = self.inner.closed.subscribe();
        let reason = loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    if let Err(reason) = self.on_frame(frame, &dispatch_tx) {
                        break reason;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(
                        connection = %self.inner.description,
                        error = %error,
                        kind = ?error,
                        "closing connection: protocol error"
                    );
                    break RuntimeError::Protocol(error);
                }
            }
            // Room for the rest of a message whose header is in, so a large
            // message is read in large reads into one allocation.
            let missing = announced_size(&buf).map_or(0, |size| {
                size.min(self.inner.config.message_size_max)
                    .saturating_sub(buf.len())
            });
            if buf.capacity() - buf.len() < missing.max(4096) {
                buf.reserve(missing.max(16 * 1024));
            }
            tokio::select! {
                read = reader.read_buf(&mut buf) => match read {
                    Ok(0) => {
                        if !buf.is_empty() {
                            tracing::warn!(
                                connection = %self.inner.description,
                                buffered = buf.len(),
                                "closing connection: peer closed in the middle of a message"
                            );
                        }
                        break if self.state() == State::Closing {
                            RuntimeError::ConnectionClosed
                        } else {
                            RuntimeError::ConnectionLost
                        };
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(connection = %self.inner.description, error = %e, "read failed");
                        break RuntimeError::ConnectionLost;
                    }
                },
                _ = closed.wait_for(Option::is_some) => return,
            }
        };
        self.terminate(reason);
    }

    /// Handles one frame; `Err` ends the connection with that reason.
    fn on_frame(
        &self,
        frame: crate::protocol::Frame,
        dispatch_tx: &mpsc::UnboundedSender<Incoming>,
    ) -> std::result::Result<(), RuntimeError> {
        let compress = frame.compression != CompressionStatus::NotCompressed;
        self.touch();
        if self.inner.config.trace_protocol > 0 {
            tracing::info!(
                target: "ice::trace::protocol",
                connection = %self.inner.description,
                message_type = ?frame.message_type,
                compression = ?frame.compression,
                body_size = frame.body.len(),
                "received message"
            );
        }
        match frame.message_type {
            MessageType::Reply => {
                let reply = Reply::decode(frame.body).map_err(|e| self.protocol_error(e))?;
                let tx = self
                    .inner
                    .pending
                    .lock()
                    .ok()
                    .and_then(|mut p| p.remove(&reply.request_id));
                match tx {
                    Some(tx) => {
                        let _ = tx.send(Ok(reply));
                    }
                    None => tracing::debug!(
                        connection = %self.inner.description,
                        request_id = reply.request_id,
                        "ignoring reply to an unknown or abandoned request"
                    ),
                }
            }
            MessageType::Request => {
                let request = Request::decode(frame.body).map_err(|e| self.protocol_error(e))?;
                self.queue_dispatch(dispatch_tx, request, compress);
            }
            MessageType::BatchRequest => {
                let requests = decode_batch(frame.body).map_err(|e| self.protocol_error(e))?;
                for request in requests {
                    self.queue_dispatch(dispatch_tx, request, compress);
                }
            }
            MessageType::ValidateConnection => {
                tracing::trace!(connection = %self.inner.description, "heartbeat received");
            }
            MessageType::CloseConnection => {
                tracing::debug!(connection = %self.inner.description, "peer sent close connection");
                return Err(if self.state() == State::Closing {
                    RuntimeError::ConnectionClosed
                } else {
                    RuntimeError::CloseConnection
                });
            }
        }
        Ok(())
    }

    fn protocol_error(&self, error: ProtocolError) -> RuntimeError {
        tracing::warn!(
            connection = %self.inner.description,
            error = %error,
            kind = ?error,
            "closing connection: protocol error"
        );
        RuntimeError::Protocol(error)
    }

    fn queue_dispatch(
        &self,
        dispatch_tx: &mpsc::UnboundedSender<Incoming>,
        request: Request,
        compress: bool,
    ) {
        if self.state() != State::Active {
            // A closing connection ignores new requests, as Ice does: the
            // peer retries them after our close connection message.
            return;
        }
        self.busy_add();
        self.inner.dispatching.fetch_add(1, Ordering::SeqCst);
        if dispatch_tx.send(Incoming { request, compress }).is_err() {
            self.inner.dispatching.fetch_sub(1, Ordering::SeqCst);
            self.busy_done();
        }
    }

    async fn dispatch_loop(self, mut rx: mpsc::UnboundedReceiver<Incoming>) {
        let permits = Arc::new(Semaphore::new(self.inner.config.max_dispatches.max(1)));
        let serial = self.inner.config.max_dispatches <= 1;
        while let Some(incoming) = rx.recv().await {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let conn = self.clone();
            let job = async move {
                conn.dispatch_one(incoming).await;
                drop(permit);
            };
            if serial {
                job.await;
            } else {
                tokio::spawn(job);
            }
        }
    }

    async fn dispatch_one(&self, incoming: Incoming) {
        let Incoming { request, compress } = incoming;
        let id = request.header.request_id;
        let body = match self.handler() {
            Some(handler) => {
                let operation = request.header.operation.clone();
                // Polled in place (no task per request); a panic is caught
                // as a spawned task's would be.
                match CatchPanic(Some(handler.handle(request, self.clone()))).await {
                    Ok(body) => body,
                    Err(e) => {
                        tracing::warn!(
                            connection = %self.inner.description,
                            operation = %operation,
                            error = %e,
                            "dispatch panicked"
                        );
                        ReplyBody::UnknownException(format!(
                            "servant panicked while dispatching `{operation}`"
                        ))
                    }
                }
            }
            None => ReplyBody::ObjectNotExist(RequestFailed {
                identity: request.header.identity,
                facet: request.header.facet,
                operation: request.header.operation,
            }),
        };
        if id != 0 {
            let reply = Reply {
                request_id: id,
                body,
            };
            let _ = self.send_parts(reply.to_parts(compress));
        }
        self.inner.dispatching.fetch_sub(1, Ordering::SeqCst);
        self.busy_done();
    }

    async fn write_loop<W>(self, mut writer: W, mut rx: mpsc::UnboundedReceiver<Outgoing>)
    where
        W: AsyncWrite + Send + Unpin,
    {
        let mut closed = self.inner.closed.subscribe();
        let always = self.inner.config.heartbeat;
        let heartbeat = always.or(self.inner.config.heartbeat_on_dispatch);
        let mut batch = BytesMut::new();
        // One heartbeat timer for the connection's life, armed for a period
        // after the last write: when it fires early (something was written
        // since), it is moved on instead of a timer being made per message.
        let period = heartbeat.unwrap_or(Duration::from_secs(3600));
        let timer = tokio::time::sleep(period);
        tokio::pin!(timer);
        let mut last_write = tokio::time::Instant::now();
        loop {
            let next = tokio::select! {
                next = rx.recv() => next,
                _ = closed.wait_for(Option::is_some) => break,
                () = &mut timer, if heartbeat.is_some() => {
                    let now = tokio::time::Instant::now();
                    let due = last_write + period;
                    if due > now {
                        timer.as_mut().reset(due);
                        continue;
                    }
                    timer.as_mut().reset(now + period);
                    if always.is_none() && self.inner.dispatching.load(Ordering::SeqCst) == 0 {
                        continue;
                    }
                    let mut msg = BytesMut::new();
                    FrameEncoder::encode_empty(MessageType::ValidateConnection, &mut msg);
                    Some(Outgoing::Message(MessageParts::whole(msg.freeze())))
                }
            };
            let Some(first) = next else { break };
            let mut close = false;
            let mut item = Some(first);
            // Messages already queued are coalesced into one write; a large
            // message body ends it and goes to the socket as it is, right
            // behind what was gathered (one vectored write, no copy).
            let mut large: Option<Bytes> = None;
            while let Some(out) = item.take() {
                match out {
                    Outgoing::Message(parts) if parts.body.len() >= COPY_LIMIT => {
                        batch.extend_from_slice(&parts.head);
                        large = Some(parts.body);
                        break;
                    }
                    Outgoing::Message(parts) => {
                        batch.extend_from_slice(&parts.head);
                        batch.extend_from_slice(&parts.body);
                    }
                    Outgoing::Close => {
                        close = true;
                        break;
                    }
                }
                if batch.len() < 64 * 1024 {
                    item = rx.try_recv().ok();
                }
            }
            if close {
                FrameEncoder::encode_empty(MessageType::CloseConnection, &mut batch);
            }
            let written = match &large {
                Some(body) => write_both(&mut writer, &batch, body).await,
                None => writer.write_all(&batch).await,
            };
            if let Err(e) = written {
                tracing::debug!(connection = %self.inner.description, error = %e, "write failed");
                self.terminate(RuntimeError::ConnectionLost);
                break;
            }
            if heartbeat.is_some() {
                last_write = tokio::time::Instant::now();
            }
            batch.clear();
            if close {
                let _ = writer.flush().await;
                let _ = writer.shutdown().await;
                // The reader ends the connection when the peer closes its side.
                let _ = closed.wait_for(Option::is_some).await;
                break;
            }
        }
        let _ = writer.shutdown().await;
    }
}

/// Message bodies this long or longer are not copied into the writer's
/// buffer but written from where they are.
const COPY_LIMIT: usize = 8 * 1024;

/// Writes all of `first` and then all of `second`, with vectored writes
/// while both remain.
async fn write_both<W>(writer: &mut W, mut first: &[u8], mut second: &[u8]) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    while !first.is_empty() {
        let slices = [std::io::IoSlice::new(first), std::io::IoSlice::new(second)];
        let n = writer.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        if n < first.len() {
            first = first.get(n..).unwrap_or_default();
        } else {
            second = second.get(n - first.len()..).unwrap_or_default();
            first = &[];
        }
    }
    writer.write_all(second).await
}

/// A dispatch future whose panic becomes `Err` with the panic's message,
/// as awaiting it in a task of its own would give, without that task.
struct CatchPanic(Option<BoxFuture<'static, ReplyBody>>);

impl Future for CatchPanic {
    type Output = std::result::Result<ReplyBody, String>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let Some(future) = self.0.as_mut() else {
            return std::task::Poll::Ready(Err("polled after a panic".into()));
        };
        let polled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.as_mut().poll(cx)));
        match polled {
            Ok(poll) => poll.map(Ok),
            Err(payload) => {
                // The future panicked: it is dropped, never polled again.
                self.0 = None;
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                std::task::Poll::Ready(Err(message))
            }
        }
    }
}

/// The size a message header at the start of `buf` announces, once the
/// whole header is buffered.
fn announced_size(buf: &[u8]) -> Option<usize> {
    let size = buf.get(10..crate::protocol::HEADER_SIZE)?;
    let size = i32::from_le_bytes(size.try_into().ok()?);
    usize::try_from(size).ok()
}

/// Removes a pending invocation when its caller stops waiting (timeout or
/// cancellation) and keeps the busy count right.
struct PendingGuard<'a> {
    conn: &'a Connection,
    id: i32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut p) = self.conn.inner.pending.lock() {
            p.remove(&self.id);
        }
        self.conn.busy_done();
    }
}

#[cfg(test)]
mod tests;
