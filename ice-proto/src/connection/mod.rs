//! One Ice connection over any byte stream: the validation handshake,
//! request ids, replies, dispatch of incoming requests, and close.
//!
//! A [`Connection`] is a cheap handle on tasks that own the stream:
//!
//! - the *reader* fills a buffer, cuts it into frames with
//!   [`FrameDecoder`], completes waiting invocations with their replies and
//!   dispatches incoming requests. When nothing else of the connection is
//!   being dispatched, it polls the dispatch once in place: a dispatch that
//!   finishes at once (most do) costs no task hop, and the replies to the
//!   requests of one read go out in one write before the next read. A
//!   dispatch that has to wait goes on in the *dispatcher*, so the reader
//!   never waits for one: a servant that calls out (even back over this
//!   very connection) still gets its replies read;
//! - the *dispatcher* runs the requests that queue behind a waiting
//!   dispatch through the [`RequestHandler`] (the object adapter), one at a
//!   time by default so that requests of one connection run in arrival
//!   order, as in Ice's one-thread server pool.
//!   [`ConnectionConfig::max_dispatches`] raises the concurrency. A
//!   panicking servant becomes an `UnknownException` reply and the
//!   connection goes on;
//! - the write side has one owner at a time. A caller whose twoway request
//!   is the only one waiting writes it itself when nothing else is being
//!   written (no task hop); everything else (oneway floods, heartbeats,
//!   concurrent callers, what a socket does not take at once) queues for
//!   the *writer*, which coalesces what is queued into one write.
//!
//! A malformed message closes the connection it came on, with a `warn`
//! line naming the [`ProtocolError`]; other connections are not affected.
//! The connection never sees servant types: dispatch goes through the
//! [`RequestHandler`] trait.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch, Notify, Semaphore};

use crate::protocol::{
    decode_batch, CompressionStatus, FrameDecoder, FrameEncoder, MessageParts, MessageType,
    ProtocolError, Reply, ReplyBody, Request, RequestFailed, DEFAULT_MESSAGE_SIZE_MAX,
};
use crate::runtime_error::{Result, RuntimeError};
use crate::transport::ConnectionInfo;

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
    /// The bytes of outgoing messages (replies above all) a connection
    /// queues before it stops reading requests from its peer: a peer that
    /// sends requests and never reads the replies then finds its sends
    /// blocked (back-pressure) instead of the server's memory growing
    /// with every reply. Reading resumes once the peer has read enough
    /// for the queue to drop to this size. One request's replies may go
    /// past it (a reply is never refused); the queue stays within this
    /// plus the replies of the requests being dispatched.
    pub send_queue_max: usize,
}

/// [`ConnectionConfig::send_queue_max`] by default: 16 MiB.
pub const DEFAULT_SEND_QUEUE_MAX: usize = 16 * 1024 * 1024;

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
            send_queue_max: DEFAULT_SEND_QUEUE_MAX,
        }
    }
}

/// The lifecycle of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    /// We sent (or are about to send) close connection.
    Closing,
    /// The peer sent close connection; our replies go out first.
    PeerClosing,
    Closed,
}

/// A message for the writer task.
enum Outgoing {
    /// One message (or several whole messages in its head).
    Message(MessageParts),
    /// Send close connection, then shut the write side down.
    Close,
    /// Shut the write side down once what is queued before is written
    /// (the peer sent close connection; our replies went out first).
    Finish,
}

/// Work for the dispatch task.
enum Incoming {
    /// A request waiting for dispatch.
    Queued { request: Request, compress: bool },
    /// A dispatch the reader started that did not finish at once.
    Started(Started),
}

/// A dispatch under way: its future and what its reply needs.
struct Started {
    future: CatchPanic,
    request_id: i32,
    operation: String,
    compress: bool,
}

/// Request ids are small consecutive integers: they hash to themselves.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_i32(&mut self, id: i32) {
        // Spread consecutive ids over the table's buckets.
        self.0 = u64::from(id.unsigned_abs()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PendingMap =
    HashMap<i32, oneshot::Sender<Result<Reply>>, std::hash::BuildHasherDefault<IdHasher>>;

/// How a message goes to the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Written by the calling task at once when nothing else is being
    /// written (no task hop); queued behind the write under way otherwise.
    Direct,
    /// Queued for the writer task, which coalesces what is queued into one
    /// write (oneway floods, heartbeats, concurrent callers).
    Writer,
    /// Queued without waking anyone: the reader writes what it queued
    /// (replies to the requests of one read) before it reads again.
    Deferred,
}

/// The write side of a connection. Exactly one party *owns* it at a time:
/// a task writing directly (for the length of one non-blocking write) or
/// the writer task; everyone else queues behind the owner, which empties
/// the queue before it lets go, so messages leave in the order queued.
struct WriteSide {
    state: Mutex<WriteState>,
    stream: Mutex<Pin<Box<dyn AsyncWrite + Send>>>,
    /// Hands the ownership (and the queue) to the writer task.
    wake_writer: Notify,
    /// Bytes queued or being written, not yet taken by the socket.
    queued_bytes: AtomicUsize,
    /// Woken when `queued_bytes` drops to the bound from above it.
    drained: Notify,
}

struct WriteState {
    queue: VecDeque<Outgoing>,
    owned: bool,
    /// Close connection was queued or the connection is closed: nothing
    /// more is accepted.
    shut: bool,
    /// Messages queued so far (wrapping): the heartbeat and ACM timers
    /// compare it between their ticks instead of every message reading
    /// the clock.
    writes: u64,
    /// The list an owner writing directly gathers its messages in, kept
    /// for the next one (no allocation per message).
    spare: Vec<MessageParts>,
}

struct Inner {
    id: u64,
    description: String,
    is_server: bool,
    config: ConnectionConfig,
    /// How often the writer sends heartbeats (always or while
    /// dispatching); `None` sends none.
    heartbeat_period: Option<Duration>,
    /// Replies the reader handed to callers from its last read: when more
    /// than one, their callers are likely to call again at once, and leave
    /// their requests to the writer task to go out in one write.
    replies_per_read: AtomicUsize,
    write: WriteSide,
    pending: Mutex<PendingMap>,
    next_request_id: AtomicI32,
    state: Mutex<State>,
    handler: RwLock<Option<Arc<dyn RequestHandler>>>,
    /// Outgoing twoways awaiting replies plus requests queued or in dispatch.
    busy: AtomicUsize,
    /// Woken when `busy` drops to zero while `idle_waiters` is not zero.
    idle: Notify,
    idle_waiters: AtomicUsize,
    /// Requests queued or in dispatch.
    dispatching: AtomicUsize,
    /// Reads that returned data so far (wrapping); see `WriteState::writes`.
    reads: AtomicU64,
    /// Batch requests of proxies fixed to this connection, with whether
    /// any of them asked for compression; sent by
    /// [`Connection::flush_batch_requests`].
    batch: Mutex<(Vec<Request>, bool)>,
    /// Set once, with the reason, when the connection is closed.
    closed: watch::Sender<Option<RuntimeError>>,
    /// Held (its adapter holds): nothing more is read from the peer and
    /// no heartbeat is sent, so the peer's sends block and its ACM and
    /// timeouts see a silent server, as with ZeroC.
    held: watch::Sender<bool>,
    /// What the transport established.
    info: ConnectionInfo,
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
        stream: S,
        description: String,
        config: ConnectionConfig,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Result<Self>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Self::accept_with_info(
            stream,
            ConnectionInfo::default(),
            description,
            config,
            handler,
        )
        .await
    }

    /// [`Connection::accept`] on a stream whose transport established
    /// `info` ([`Connection::info`]).
    ///
    /// # Errors
    /// As [`Connection::accept`].
    pub async fn accept_with_info<S>(
        mut stream: S,
        info: ConnectionInfo,
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
            (description, info),
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
        stream: S,
        description: String,
        config: ConnectionConfig,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Result<Self>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Self::connect_with_info(
            stream,
            ConnectionInfo::default(),
            description,
            config,
            handler,
        )
        .await
    }

    /// [`Connection::connect`] on a stream whose transport established
    /// `info` ([`Connection::info`]).
    ///
    /// # Errors
    /// As [`Connection::connect`].
    pub async fn connect_with_info<S>(
        mut stream: S,
        info: ConnectionInfo,
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
            (description, info),
            false,
            config,
            handler,
        ))
    }

    fn start<S>(
        stream: S,
        buf: BytesMut,
        (description, info): (String, ConnectionInfo),
        is_server: bool,
        config: ConnectionConfig,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Self
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (read_half, write_half) = tokio::io::split(stream);
        let (dispatch_tx, dispatch_rx) = mpsc::unbounded_channel();
        let heartbeat_period = config.heartbeat.or(config.heartbeat_on_dispatch);
        let inner = Arc::new(Inner {
            id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
            description,
            is_server,
            config,
            heartbeat_period,
            replies_per_read: AtomicUsize::new(0),
            write: WriteSide {
                state: Mutex::new(WriteState {
                    queue: VecDeque::new(),
                    owned: false,
                    shut: false,
                    writes: 0,
                    spare: Vec::new(),
                }),
                stream: Mutex::new(Box::pin(write_half)),
                wake_writer: Notify::new(),
                queued_bytes: AtomicUsize::new(0),
                drained: Notify::new(),
            },
            pending: Mutex::new(PendingMap::default()),
            next_request_id: AtomicI32::new(1),
            state: Mutex::new(State::Active),
            handler: RwLock::new(handler),
            busy: AtomicUsize::new(0),
            idle: Notify::new(),
            idle_waiters: AtomicUsize::new(0),
            dispatching: AtomicUsize::new(0),
            reads: AtomicU64::new(0),
            batch: Mutex::new((Vec::new(), false)),
            closed: watch::Sender::new(None),
            held: watch::Sender::new(false),
            info,
        });
        if inner.config.trace_network > 0 {
            tracing::info!(
                target: "ice::trace::network",
                connection = %inner.description,
                side = if is_server { "server" } else { "client" },
                "established {} connection",
                inner.info.transport
            );
        }
        let conn = Self { inner };
        tokio::spawn(conn.clone().read_loop(read_half, buf, dispatch_tx));
        tokio::spawn(conn.clone().write_loop());
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

    /// What the transport established: addresses, and for `ssl`/`wss`
    /// the peer's verified certificate chain and the cipher (Ice's
    /// `Connection::getInfo`).
    #[must_use]
    pub fn info(&self) -> &ConnectionInfo {
        &self.inner.info
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

    /// Holds the connection (`true`: stops reading from the peer and
    /// sending heartbeats; what was read already is still handled) or
    /// resumes it (`false`): what an object adapter's `hold` and
    /// `activate` do to its connections.
    pub fn set_held(&self, held: bool) {
        self.inner
            .held
            .send_if_modified(|h| std::mem::replace(h, held) != held);
    }

    /// Whether the connection is held ([`Connection::set_held`]).
    #[must_use]
    pub fn is_held(&self) -> bool {
        *self.inner.held.borrow()
    }

    /// Waits while the connection is held; `false` once it is closed.
    async fn wait_unheld(&self) -> bool {
        if !*self.inner.held.borrow() {
            return true;
        }
        tracing::debug!(connection = %self.inner.description, "held: reading paused");
        let mut held = self.inner.held.subscribe();
        let mut closed = self.inner.closed.subscribe();
        tokio::select! {
            r = held.wait_for(|h| !*h) => r.is_ok(),
            _ = closed.wait_for(Option::is_some) => false,
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
        self.inner.busy.fetch_add(1, Ordering::SeqCst);
    }

    /// One request fewer; wakes those waiting for none to be left.
    fn busy_done(&self) {
        let before = self
            .inner
            .busy
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if before == Ok(1) && self.inner.idle_waiters.load(Ordering::SeqCst) > 0 {
            self.inner.idle.notify_waiters();
        }
    }

    /// Waits until no request is pending or in dispatch.
    async fn wait_idle(&self) {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.inner.idle_waiters.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.inner.idle_waiters);
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.busy.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    fn closed_error(&self) -> RuntimeError {
        self.inner
            .closed
            .borrow()
            .clone()
            .unwrap_or(RuntimeError::ConnectionClosed)
    }

    /// A count that changes whenever a message is sent or data received.
    fn activity(&self) -> u64 {
        let writes = self.inner.write.state.lock().map_or(0, |s| s.writes);
        self.inner
            .reads
            .load(Ordering::Relaxed)
            .wrapping_add(writes)
    }

    /// ACM's close modes: once nothing was sent or received for a while,
    /// closes forcefully (`forceful_idle_close`, or `close_on_invocation`
    /// with twoway invocations waiting) or gracefully (`idle_close`, with
    /// nothing pending either way). `period` is the shortest of them.
    ///
    /// It looks four times a period: activity seen since the last look
    /// counts as activity now, so a mode acts between its timeout and a
    /// quarter period later, without messages reading the clock.
    async fn acm_monitor(self, period: Duration) {
        let mut closed = self.inner.closed.subscribe();
        let config = self.inner.config.clone();
        let reached =
            |limit: Option<Duration>, idle_for: Duration| limit.is_some_and(|l| idle_for >= l);
        let tick = (period / 4).max(Duration::from_millis(1));
        let mut seen = self.activity();
        let mut last_active = tokio::time::Instant::now();
        let mut not_before = last_active;
        loop {
            tokio::select! {
                () = tokio::time::sleep(tick) => {}
                _ = closed.wait_for(Option::is_some) => return,
            }
            let now = tokio::time::Instant::now();
            let activity = self.activity();
            if activity != seen {
                seen = activity;
                last_active = now;
                continue;
            }
            let idle_for = now.saturating_duration_since(last_active);
            if idle_for < period || now < not_before {
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
                && self.inner.busy.load(Ordering::SeqCst) == 0
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
        self.send_parts(MessageParts::whole(bytes), Via::Writer)
    }

    fn send_parts(&self, parts: MessageParts, via: Via) -> Result<()> {
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
        self.send_outgoing(Outgoing::Message(parts), via)
    }

    /// Queues `out` (or, [`Via::Direct`] with nothing being written, writes
    /// it at once).
    fn send_outgoing(&self, out: Outgoing, via: Via) -> Result<()> {
        let side = &self.inner.write;
        let mut state = side.state.lock().map_err(|_| self.closed_error())?;
        if state.shut {
            return Err(self.closed_error());
        }
        state.writes = state.writes.wrapping_add(1);
        let size = match &out {
            Outgoing::Message(parts) => parts.head.len() + parts.body.len(),
            Outgoing::Close => crate::protocol::HEADER_SIZE,
            Outgoing::Finish => 0,
        };
        side.queued_bytes.fetch_add(size, Ordering::Relaxed);
        if matches!(out, Outgoing::Close | Outgoing::Finish) {
            state.shut = true;
        }
        if state.owned || via == Via::Deferred {
            state.queue.push_back(out);
            return Ok(());
        }
        state.owned = true;
        match (via, out) {
            (Via::Direct, Outgoing::Message(parts)) => {
                let mut batch = std::mem::take(&mut state.spare);
                take_messages(&mut state.queue, &mut batch);
                drop(state);
                batch.push(parts);
                self.write_owned(batch);
            }
            (_, out) => {
                state.queue.push_back(out);
                drop(state);
                side.wake_writer.notify_one();
            }
        }
        Ok(())
    }

    /// Writes the messages the reader queued ([`Via::Deferred`]), unless
    /// the write side is owned (its owner writes them).
    fn flush_deferred(&self) {
        let side = &self.inner.write;
        let Ok(mut state) = side.state.lock() else {
            return;
        };
        if state.owned || state.queue.is_empty() {
            return;
        }
        state.owned = true;
        let mut batch = std::mem::take(&mut state.spare);
        take_messages(&mut state.queue, &mut batch);
        if batch.is_empty() {
            // Close connection is next: the writer task sends it.
            state.spare = batch;
            drop(state);
            side.wake_writer.notify_one();
            return;
        }
        drop(state);
        self.write_owned(batch);
    }

    /// Writes `batch` without waiting, as the owner of the write side;
    /// what the socket does not take at once goes back to the front of
    /// the queue, and the ownership goes to the writer task, as it does
    /// when more was queued meanwhile.
    fn write_owned(&self, mut batch: Vec<MessageParts>) {
        let side = &self.inner.write;
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let written = match side.stream.lock() {
            Ok(mut stream) => try_write_parts(stream.as_mut(), &mut cx, &mut batch),
            Err(_) => Err(std::io::ErrorKind::Other.into()),
        };
        match written {
            Ok(n) => self.written(n),
            Err(e) => {
                tracing::debug!(connection = %self.inner.description, error = %e, "write failed");
                self.terminate(RuntimeError::ConnectionLost);
                return;
            }
        }
        let Ok(mut state) = side.state.lock() else {
            return;
        };
        let done = batch.is_empty() && state.queue.is_empty();
        for parts in batch.drain(..).rev() {
            state.queue.push_front(Outgoing::Message(parts));
        }
        state.spare = batch;
        if done {
            state.owned = false;
            return;
        }
        drop(state);
        side.wake_writer.notify_one();
    }

    /// `n` queued bytes were taken by the socket; wakes a reader waiting
    /// for the queue to drain when it drops to the bound.
    fn written(&self, n: usize) {
        let side = &self.inner.write;
        let before = side
            .queued_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(n))
            })
            .unwrap_or(0);
        let max = self.inner.config.send_queue_max;
        if before > max && before.saturating_sub(n) <= max {
            side.drained.notify_one();
        }
    }

    /// Bytes of outgoing messages queued or being written that the socket
    /// has not taken yet.
    #[must_use]
    pub fn queued_bytes(&self) -> usize {
        self.inner.write.queued_bytes.load(Ordering::Relaxed)
    }

    /// Waits while more than [`ConnectionConfig::send_queue_max`] bytes
    /// wait to be written: the reader stops reading requests until the
    /// peer reads its replies. Returns `false` when the connection closed.
    async fn wait_send_queue(&self) -> bool {
        let side = &self.inner.write;
        let max = self.inner.config.send_queue_max;
        if side.queued_bytes.load(Ordering::Relaxed) <= max {
            return true;
        }
        // Replies the reader queued go out (or to the writer) first.
        self.flush_deferred();
        tracing::debug!(
            connection = %self.inner.description,
            queued = side.queued_bytes.load(Ordering::Relaxed),
            max,
            "send queue full: reading paused until the peer reads"
        );
        let mut closed = self.inner.closed.subscribe();
        while side.queued_bytes.load(Ordering::Relaxed) > max {
            tokio::select! {
                () = side.drained.notified() => {}
                _ = closed.wait_for(Option::is_some) => return false,
            }
        }
        true
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
        let (id, alone) = {
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
            let alone =
                pending.is_empty() && self.inner.replies_per_read.load(Ordering::Relaxed) <= 1;
            pending.insert(id, tx);
            (id, alone)
        };
        self.busy_add();
        let guard = PendingGuard { conn: self, id };
        // The only caller writes its request itself (no task hop);
        // concurrent callers leave theirs to the writer task, which sends
        // what they queue in one write.
        let via = if alone { Via::Direct } else { Via::Writer };
        self.send_parts(request.to_parts_with_id(id, compress), via)?;
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
        self.send_parts(request.to_parts_with_id(0, compress), Via::Writer)
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
        let idle = self.wait_idle();
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
        let _ = self.send_outgoing(Outgoing::Close, Via::Writer);
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
        if let Ok(mut write) = self.inner.write.state.lock() {
            write.shut = true;
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
        // One wait for the whole loop, not one made per read.
        let closed = closed.wait_for(Option::is_some);
        tokio::pin!(closed);
        let mut replies = 0;
        let reason = loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let is_request = matches!(
                        frame.message_type,
                        MessageType::Request | MessageType::BatchRequest
                    );
                    if frame.message_type == MessageType::Reply {
                        replies += 1;
                    } else if is_request && !self.wait_send_queue().await {
                        return;
                    }
                    match self.on_frame(frame, &dispatch_tx) {
                        Ok(()) => {}
                        Err(RuntimeError::CloseConnection) => self.finish_after_peer_close(),
                        Err(reason) => break reason,
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
            // Every whole message read is handled: the replies of the
            // dispatches that finished go out in one write.
            self.flush_deferred();
            if replies > 0 {
                self.inner
                    .replies_per_read
                    .store(replies, Ordering::Relaxed);
                replies = 0;
            }
            // Room for the rest of a message whose header is in, so a large
            // message is read in large reads into one allocation.
            let missing = announced_size(&buf).map_or(0, |size| {
                size.min(self.inner.config.message_size_max)
                    .saturating_sub(buf.len())
            });
            if buf.capacity() - buf.len() < missing.max(4096) {
                if missing >= PAGE_ALIGNED_READ {
                    buf = page_aligned_copy(&buf, missing);
                } else {
                    buf.reserve(missing.max(16 * 1024));
                }
            }
            if !self.wait_unheld().await {
                return;
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
                        break match self.state() {
                            State::Closing => RuntimeError::ConnectionClosed,
                            State::PeerClosing => RuntimeError::CloseConnection,
                            State::Active | State::Closed => RuntimeError::ConnectionLost,
                        };
                    }
                    Ok(_) => {
                        self.inner.reads.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::debug!(connection = %self.inner.description, error = %e, "read failed");
                        break RuntimeError::ConnectionLost;
                    }
                },
                _ = &mut closed => return,
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

    /// The peer sent close connection: as ZeroC, the replies to the
    /// requests it sent before (being dispatched, or queued) go out
    /// before the connection closes. New requests are ignored from now on, our own waiting
    /// invocations fail with [`RuntimeError::CloseConnection`] (the peer
    /// did not dispatch them: safe to retry), and once the dispatches are
    /// done the write side is shut down behind their replies; the reader
    /// goes on until the peer closes its side.
    fn finish_after_peer_close(&self) {
        tracing::debug!(
            connection = %self.inner.description,
            "peer sent close connection: finishing the dispatches first"
        );
        match self.inner.state.lock() {
            Ok(mut state) if *state == State::Active => *state = State::PeerClosing,
            _ => return,
        }
        let pending: Vec<_> = self
            .inner
            .pending
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default();
        for (_, tx) in pending {
            let _ = tx.send(Err(RuntimeError::CloseConnection));
        }
        self.flush_deferred();
        let conn = self.clone();
        tokio::spawn(async move {
            let timeout = conn.inner.config.close_timeout;
            let _ = tokio::time::timeout(timeout, conn.wait_idle()).await;
            let _ = conn.send_outgoing(Outgoing::Finish, Via::Writer);
            if tokio::time::timeout(timeout, conn.wait_closed())
                .await
                .is_err()
            {
                conn.terminate(RuntimeError::CloseConnection);
            }
        });
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
        let before = self.inner.dispatching.fetch_add(1, Ordering::SeqCst);
        let incoming = if before == 0 && self.inner.config.max_dispatches <= 1 {
            // Nothing queued or running: the request is dispatched here,
            // in the reader, without a task hop; a dispatch that has to
            // wait goes on in the dispatch task, and what arrives in the
            // meantime queues behind it, so the order holds.
            let mut started = self.start_dispatch(request, compress);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match Pin::new(&mut started.future).poll(&mut cx) {
                std::task::Poll::Ready(result) => {
                    self.finish_dispatch(&started, result, Via::Deferred);
                    return;
                }
                // The dispatch task polls it again (with its own waker)
                // as soon as it gets it.
                std::task::Poll::Pending => Incoming::Started(started),
            }
        } else {
            Incoming::Queued { request, compress }
        };
        if dispatch_tx.send(incoming).is_err() {
            self.inner.dispatching.fetch_sub(1, Ordering::SeqCst);
            self.busy_done();
        }
    }

    async fn dispatch_loop(self, mut rx: mpsc::UnboundedReceiver<Incoming>) {
        let serial = self.inner.config.max_dispatches <= 1;
        let permits = Arc::new(Semaphore::new(self.inner.config.max_dispatches.max(1)));
        while let Some(incoming) = rx.recv().await {
            if serial {
                self.dispatch_one(incoming).await;
                continue;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let conn = self.clone();
            tokio::spawn(async move {
                conn.dispatch_one(incoming).await;
                drop(permit);
            });
        }
    }

    /// Starts dispatching `request`: the handler's future (or the answer
    /// when there is no handler), not yet polled.
    fn start_dispatch(&self, request: Request, compress: bool) -> Started {
        let request_id = request.header.request_id;
        match self.handler() {
            Some(handler) => Started {
                request_id,
                operation: request.header.operation.clone(),
                compress,
                future: CatchPanic(Some(handler.handle(request, self.clone()))),
            },
            None => {
                let body = ReplyBody::ObjectNotExist(RequestFailed {
                    identity: request.header.identity,
                    facet: request.header.facet,
                    operation: request.header.operation,
                });
                Started {
                    request_id,
                    operation: String::new(),
                    compress,
                    future: CatchPanic(Some(Box::pin(std::future::ready(body)))),
                }
            }
        }
    }

    /// Sends the reply of a finished dispatch (none for oneway requests).
    fn finish_dispatch(
        &self,
        started: &Started,
        result: std::result::Result<ReplyBody, String>,
        via: Via,
    ) {
        let body = result.unwrap_or_else(|e| {
            let operation = &started.operation;
            tracing::warn!(
                connection = %self.inner.description,
                operation = %operation,
                error = %e,
                "dispatch panicked"
            );
            ReplyBody::UnknownException(format!("servant panicked while dispatching `{operation}`"))
        });
        if started.request_id != 0 {
            let reply = Reply {
                request_id: started.request_id,
                body,
            };
            let _ = self.send_parts(reply.to_parts(started.compress), via);
        }
        self.inner.dispatching.fetch_sub(1, Ordering::SeqCst);
        self.busy_done();
    }

    async fn dispatch_one(&self, incoming: Incoming) {
        let mut started = match incoming {
            Incoming::Queued { request, compress } => self.start_dispatch(request, compress),
            Incoming::Started(started) => started,
        };
        // Polled in place (no task per request); a panic is caught as a
        // spawned task's would be.
        let result = (&mut started.future).await;
        self.finish_dispatch(&started, result, Via::Direct);
    }

    /// The writer task: sleeps until it is handed the write side, then
    /// writes what is queued, coalescing small messages into one write,
    /// until the queue is empty; sends heartbeats when configured.
    async fn write_loop(self) {
        let side = &self.inner.write;
        let mut closed = self.inner.closed.subscribe();
        let closed = closed.wait_for(Option::is_some);
        tokio::pin!(closed);
        let always = self.inner.config.heartbeat;
        let heartbeat = self.inner.heartbeat_period;
        let mut batch = BytesMut::new();
        let mut parts: Vec<MessageParts> = Vec::with_capacity(1);
        // One heartbeat timer for the connection's life, looking four
        // times a period whether anything was written since its last look;
        // a heartbeat goes out once nothing was for a period (at most a
        // quarter period late), without messages reading the clock.
        let period = heartbeat.unwrap_or(Duration::from_secs(3600));
        let tick = (period / 4).max(Duration::from_millis(1));
        let timer = tokio::time::sleep(tick);
        tokio::pin!(timer);
        let mut seen = 0u64;
        let mut last_write = tokio::time::Instant::now();
        'serve: loop {
            tokio::select! {
                () = side.wake_writer.notified() => {}
                _ = &mut closed => break,
                () = &mut timer, if heartbeat.is_some() => {
                    let now = tokio::time::Instant::now();
                    timer.as_mut().reset(now + tick);
                    let writes = side.state.lock().map_or(seen, |s| s.writes);
                    if writes != seen {
                        seen = writes;
                        last_write = now;
                        continue;
                    }
                    if now.saturating_duration_since(last_write) < period {
                        continue;
                    }
                    if always.is_none() && self.inner.dispatching.load(Ordering::SeqCst) == 0 {
                        continue;
                    }
                    if *self.inner.held.borrow() {
                        continue;
                    }
                    let mut msg = BytesMut::new();
                    FrameEncoder::encode_empty(MessageType::ValidateConnection, &mut msg);
                    // Queued like any message; the hand-over wakes this task.
                    let _ = self.send_parts(MessageParts::whole(msg.freeze()), Via::Writer);
                    continue;
                }
            }
            // The write side is ours until the queue is empty.
            loop {
                let mut close = false;
                let mut finish = false;
                // Messages already queued are coalesced into one write; a
                // large message body ends it and goes to the socket as it
                // is, right behind what was gathered (one vectored write,
                // no copy).
                let mut large: Option<Bytes> = None;
                {
                    let Ok(mut state) = side.state.lock() else {
                        break 'serve;
                    };
                    if state.queue.is_empty() {
                        state.owned = false;
                        break;
                    }
                    while batch.len() < 64 * 1024 {
                        match state.queue.pop_front() {
                            None => break,
                            Some(Outgoing::Message(parts)) if parts.body.len() >= COPY_LIMIT => {
                                batch.extend_from_slice(&parts.head);
                                large = Some(parts.body);
                                break;
                            }
                            Some(Outgoing::Message(parts)) => {
                                batch.extend_from_slice(&parts.head);
                                batch.extend_from_slice(&parts.body);
                            }
                            Some(Outgoing::Close) => {
                                close = true;
                                break;
                            }
                            Some(Outgoing::Finish) => {
                                finish = true;
                                break;
                            }
                        }
                    }
                }
                if close {
                    FrameEncoder::encode_empty(MessageType::CloseConnection, &mut batch);
                }
                // What was gathered keeps the rest of its buffer's room for
                // the next gathering.
                parts.push(MessageParts {
                    head: batch.split().freeze(),
                    body: large.unwrap_or_default(),
                });
                let written = tokio::select! {
                    written = self.write_all_parts(&mut parts) => written,
                    _ = &mut closed => break 'serve,
                };
                match written {
                    Ok(n) => self.written(n),
                    Err(e) => {
                        tracing::debug!(connection = %self.inner.description, error = %e, "write failed");
                        self.terminate(RuntimeError::ConnectionLost);
                        break 'serve;
                    }
                }
                if close || finish {
                    let _ = self.shutdown_write().await;
                    // The reader ends the connection when the peer closes
                    // its side.
                    let _ = (&mut closed).await;
                    break 'serve;
                }
            }
        }
        if let Ok(mut state) = side.state.lock() {
            state.shut = true;
            state.queue.clear();
        }
        let _ = self.shutdown_write().await;
    }

    /// Writes all of `parts`, waiting for the socket as needed; returns
    /// the bytes written.
    async fn write_all_parts(&self, parts: &mut Vec<MessageParts>) -> std::io::Result<usize> {
        let stream = &self.inner.write.stream;
        let mut total = 0;
        std::future::poll_fn(|cx| {
            let Ok(mut stream) = stream.lock() else {
                return std::task::Poll::Ready(Err(std::io::ErrorKind::Other.into()));
            };
            // Parts are left only when the socket took no more (and will
            // wake this task when it can).
            let n = try_write_parts(stream.as_mut(), cx, parts)?;
            total += n;
            if parts.is_empty() {
                std::task::Poll::Ready(Ok(total))
            } else {
                // What was taken counts now: a reader waiting for the
                // queue to drain need not wait for the whole batch.
                self.written(n);
                total = 0;
                std::task::Poll::Pending
            }
        })
        .await
    }

    /// Flushes and shuts the write side of the stream down.
    async fn shutdown_write(&self) -> std::io::Result<()> {
        let stream = &self.inner.write.stream;
        std::future::poll_fn(|cx| match stream.lock() {
            Ok(mut stream) => stream.as_mut().poll_shutdown(cx),
            Err(_) => std::task::Poll::Ready(Err(std::io::ErrorKind::Other.into())),
        })
        .await
    }
}

/// Message bodies this long or longer are not copied into the writer's
/// buffer but written from where they are.
const COPY_LIMIT: usize = 8 * 1024;

/// Messages that need this many more bytes once their header is in are
/// read into a buffer of their own starting at a page boundary.
const PAGE_ALIGNED_READ: usize = 64 * 1024;

/// `buf` copied to the start of a 4 KiB page, with room for `more` bytes
/// behind it. The kernel copies a large message from its socket buffer
/// pages into ours at about a tenth of its usual speed when it stores 1
/// to 63 bytes ahead of where it loads modulo 4 KiB, which a large block
/// from glibc's malloc (16 bytes into its page) hits (measured on
/// loopback: a 500 KB read 155-230 us at page offsets 8-16, 28-47 us at
/// 0 or beyond 32).
fn page_aligned_copy(buf: &[u8], more: usize) -> BytesMut {
    use bytes::Buf;
    let mut fresh = BytesMut::with_capacity(buf.len() + more + 4096);
    let pad = (4096 - fresh.as_ptr() as usize % 4096) % 4096;
    fresh.resize(pad, 0);
    fresh.advance(pad);
    fresh.extend_from_slice(buf);
    fresh
}

/// Moves the messages at the front of `queue`, up to a close connection,
/// into `batch`.
fn take_messages(queue: &mut VecDeque<Outgoing>, batch: &mut Vec<MessageParts>) {
    while matches!(queue.front(), Some(Outgoing::Message(_))) {
        if let Some(Outgoing::Message(parts)) = queue.pop_front() {
            batch.push(parts);
        }
    }
}

/// Writes as much of `batch` as `stream` takes without waiting, and
/// removes it from `batch`: a message written in part stays with what is
/// left of it. `batch` is empty when everything was written. Returns the
/// bytes written.
fn try_write_parts(
    mut stream: Pin<&mut (dyn AsyncWrite + Send)>,
    cx: &mut std::task::Context<'_>,
    batch: &mut Vec<MessageParts>,
) -> std::io::Result<usize> {
    use bytes::Buf;
    use std::task::Poll;
    let mut first = 0;
    let mut total = 0;
    loop {
        while batch.get(first).is_some_and(MessageParts::is_empty) {
            first += 1;
        }
        let Some(rest) = batch.get(first..).filter(|r| !r.is_empty()) else {
            break;
        };
        let mut slices = [std::io::IoSlice::new(&[]); 16];
        let mut count = 0;
        for parts in rest {
            for part in [&parts.head, &parts.body] {
                if let (false, Some(slot)) = (part.is_empty(), slices.get_mut(count)) {
                    *slot = std::io::IoSlice::new(part);
                    count += 1;
                }
            }
            if count + 2 > slices.len() {
                break;
            }
        }
        let used = slices.get(..count).unwrap_or_default();
        let mut written = match stream.as_mut().poll_write_vectored(cx, used) {
            Poll::Ready(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Pending => break,
        };
        total += written;
        while written > 0 {
            let Some(parts) = batch.get_mut(first) else {
                break;
            };
            let head = parts.head.len().min(written);
            parts.head.advance(head);
            let body = parts.body.len().min(written - head);
            parts.body.advance(body);
            written -= head + body;
            if parts.is_empty() {
                first += 1;
            }
        }
    }
    batch.drain(..first.min(batch.len()));
    Ok(total)
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
