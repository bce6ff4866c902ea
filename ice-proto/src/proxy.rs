//! Proxies: [`ObjectPrx`], a cheap-to-clone handle that invokes operations
//! on a remote Ice object.
//!
//! A proxy is [`ProxyData`] (identity, facet, mode, encoding, endpoints)
//! plus per-proxy settings (context, invocation timeout, a fixed
//! connection). Builder-style methods (`ice_oneway`, `ice_context`,
//! `ice_facet`, ...) return a new proxy. [`ObjectPrx::ice_invoke`] sends a
//! request with an already-encoded parameter encapsulation and returns the
//! reply's encapsulation; generated proxies build on it.
//!
//! Retries follow Ice: after `Ice.RetryIntervals` pauses, a request is sent
//! again when it is known not to have been dispatched (it could not be
//! sent, or the server closed the connection gracefully before answering)
//! or when the operation is idempotent and the connection was lost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::communicator::Communicator;
use crate::connection::Connection;
use crate::encoding::proxy::InvocationMode;
use crate::encoding::{EncodingVersion, Format, InputStream, OutputStream, ProxyData, Registry};
use crate::locator::Locator;
use crate::protocol::{
    Context, Encapsulation, OperationMode, Reply, ReplyBody, Request, RequestHeader,
};
use crate::runtime_error::{Result, RuntimeError};

/// The outcome of a twoway invocation that reached the servant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The operation returned; the encapsulation holds the results.
    Ok(Encapsulation),
    /// The operation raised a user exception, in the encapsulation.
    UserException(Encapsulation),
}

impl Outcome {
    /// The results encapsulation, or the user exception's encapsulation
    /// as `Err` for the caller to decode.
    ///
    /// # Errors
    /// `Err(encaps)` when the operation raised a user exception.
    pub fn into_results(self) -> std::result::Result<Encapsulation, Encapsulation> {
        match self {
            Self::Ok(e) => Ok(e),
            Self::UserException(e) => Err(e),
        }
    }
}

/// Opens `encaps` for reading.
///
/// # Errors
/// An encoding error when the encapsulation header is malformed.
pub fn read_encapsulation(encaps: &Encapsulation) -> crate::encoding::Result<InputStream> {
    InputStream::for_encapsulation(encaps.body.clone(), encaps.encoding)
}

struct Inner {
    communicator: Communicator,
    data: ProxyData,
    context: Context,
    fixed: Option<Connection>,
    invocation_timeout: Option<Option<Duration>>,
    compress: bool,
    /// The locator that resolves this proxy when it is indirect.
    locator: Option<Arc<Locator>>,
    /// Ice's `ice_locatorCacheTimeout` in seconds (-1: for ever, 0: never).
    locator_cache_timeout: i32,
    batch: Mutex<Vec<Request>>,
    /// The connection a direct proxy used last, reused while it is open
    /// (Ice's connection caching), so that an invocation does not look
    /// the endpoints up in the communicator each time.
    cached: Mutex<Option<Connection>>,
    /// A request of a finished call, kept so that the next one reuses its
    /// identity, facet, operation and context strings instead of copying
    /// them again (see [`ObjectPrx::request`]).
    spare: Mutex<Option<Box<Request>>>,
}

/// A proxy for an Ice object of any type.
#[derive(Clone)]
pub struct ObjectPrx {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ObjectPrx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectPrx")
            .field("data", &self.inner.data)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for ObjectPrx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::reference::to_string(&self.inner.data))
    }
}

impl ObjectPrx {
    pub(crate) fn new(
        communicator: Communicator,
        data: ProxyData,
        fixed: Option<Connection>,
    ) -> Self {
        let compress = communicator.override_compress().unwrap_or_else(|| {
            data.endpoints.iter().any(|e| match e {
                crate::encoding::Endpoint::Tcp(ip) => ip.compress,
                _ => false,
            })
        });
        let locator = communicator.default_locator();
        let locator_cache_timeout = communicator.default_locator_cache_timeout();
        Self {
            inner: Arc::new(Inner {
                communicator,
                data,
                context: Context::new(),
                fixed,
                invocation_timeout: None,
                compress,
                locator,
                locator_cache_timeout,
                batch: Mutex::new(Vec::new()),
                cached: Mutex::new(None),
                spare: Mutex::new(None),
            }),
        }
    }

    /// The proxy as data (what is marshaled when a proxy is a parameter).
    #[must_use]
    pub fn data(&self) -> &ProxyData {
        &self.inner.data
    }

    /// The communicator this proxy belongs to.
    #[must_use]
    pub fn communicator(&self) -> &Communicator {
        &self.inner.communicator
    }

    /// The encoding used for parameters.
    #[must_use]
    pub fn encoding(&self) -> EncodingVersion {
        self.inner.data.encoding
    }

    /// The per-proxy context.
    #[must_use]
    pub fn context(&self) -> &Context {
        &self.inner.context
    }

    /// The fixed connection, for a proxy bound to one.
    #[must_use]
    pub fn fixed_connection(&self) -> Option<&Connection> {
        self.inner.fixed.as_ref()
    }

    fn rebuild(&self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            communicator: self.inner.communicator.clone(),
            data: self.inner.data.clone(),
            context: self.inner.context.clone(),
            fixed: self.inner.fixed.clone(),
            invocation_timeout: self.inner.invocation_timeout,
            compress: self.inner.compress,
            locator: self.inner.locator.clone(),
            locator_cache_timeout: self.inner.locator_cache_timeout,
            batch: Mutex::new(Vec::new()),
            cached: Mutex::new(None),
            spare: Mutex::new(None),
        };
        change(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A twoway copy of this proxy.
    #[must_use]
    pub fn ice_twoway(self) -> Self {
        self.rebuild(|i| i.data.mode = InvocationMode::Twoway)
    }

    /// A oneway copy of this proxy.
    #[must_use]
    pub fn ice_oneway(self) -> Self {
        self.rebuild(|i| i.data.mode = InvocationMode::Oneway)
    }

    /// A batch-oneway copy of this proxy, with its own (empty) batch queue.
    #[must_use]
    pub fn ice_batch_oneway(self) -> Self {
        self.rebuild(|i| i.data.mode = InvocationMode::BatchOneway)
    }

    /// A copy with `context` as its per-proxy context.
    #[must_use]
    pub fn ice_context(self, context: Context) -> Self {
        self.rebuild(|i| i.context = context)
    }

    /// A copy targeting `facet`.
    #[must_use]
    pub fn ice_facet(self, facet: &str) -> Self {
        self.rebuild(|i| i.data.facet = facet.to_owned())
    }

    /// A copy for another identity at the same endpoints.
    #[must_use]
    pub fn ice_identity(self, identity: crate::encoding::Identity) -> Self {
        self.rebuild(|i| i.data.identity = identity)
    }

    /// A copy that encodes parameters in `encoding`.
    #[must_use]
    pub fn ice_encoding_version(self, encoding: EncodingVersion) -> Self {
        self.rebuild(|i| i.data.encoding = encoding)
    }

    /// A copy with its own invocation timeout (`None`: wait for ever).
    #[must_use]
    pub fn ice_invocation_timeout(self, timeout: Option<Duration>) -> Self {
        self.rebuild(|i| i.invocation_timeout = Some(timeout))
    }

    /// A copy that compresses requests (and asks for compressed replies).
    #[must_use]
    pub fn ice_compress(self, compress: bool) -> Self {
        self.rebuild(|i| i.compress = compress)
    }

    /// A copy bound to `connection`.
    #[must_use]
    pub fn ice_fixed(self, connection: Connection) -> Self {
        self.rebuild(|i| i.fixed = Some(connection))
    }

    /// A copy resolved through `locator` when indirect (Ice's
    /// `ice_locator`); `None` for no locator.
    #[must_use]
    pub fn ice_locator(self, locator: Option<&ObjectPrx>) -> Self {
        let locator = locator.map(|l| self.inner.communicator.locator(l.data()));
        self.with_locator(locator)
    }

    /// A copy resolved through `locator` (shared with its cache).
    #[must_use]
    pub fn with_locator(self, locator: Option<Arc<Locator>>) -> Self {
        self.rebuild(|i| i.locator = locator)
    }

    /// The locator that resolves this proxy, if any (Ice's `ice_getLocator`).
    #[must_use]
    pub fn ice_get_locator(&self) -> Option<ObjectPrx> {
        self.inner
            .locator
            .as_ref()
            .map(|l| l.proxy(&self.inner.communicator))
    }

    /// The locator, with its cache.
    #[must_use]
    pub fn locator(&self) -> Option<&Arc<Locator>> {
        self.inner.locator.as_ref()
    }

    /// A copy whose cached locator answers are used for at most `seconds`
    /// (-1: for ever, 0: never), as Ice's `ice_locatorCacheTimeout`.
    #[must_use]
    pub fn ice_locator_cache_timeout(self, seconds: i32) -> Self {
        self.rebuild(|i| i.locator_cache_timeout = seconds)
    }

    /// The locator cache timeout in seconds.
    #[must_use]
    pub fn locator_cache_timeout(&self) -> i32 {
        self.inner.locator_cache_timeout
    }

    /// An indirect copy for adapter `id` (no endpoints); an empty `id`
    /// makes a well-known proxy.
    #[must_use]
    pub fn ice_adapter_id(self, id: &str) -> Self {
        self.rebuild(|i| {
            i.data.adapter_id = id.to_owned();
            i.data.endpoints.clear();
        })
    }

    /// A copy that uses only secure endpoints (`ssl`, `wss`) when `secure`
    /// (Ice's `ice_secure`, the `-s` option of a stringified proxy).
    #[must_use]
    pub fn ice_secure(self, secure: bool) -> Self {
        self.rebuild(|i| i.data.secure = secure)
    }

    /// A copy with `endpoints` (and no adapter id): a direct proxy.
    #[must_use]
    pub fn ice_endpoints(self, endpoints: Vec<crate::encoding::Endpoint>) -> Self {
        self.rebuild(|i| {
            i.data.adapter_id.clear();
            i.data.endpoints = endpoints;
        })
    }

    /// Whether the proxy has no endpoints and needs a locator.
    #[must_use]
    pub fn is_indirect(&self) -> bool {
        self.inner.data.endpoints.is_empty() && self.inner.fixed.is_none()
    }

    /// Whether requests are compressed (the endpoints' `-z`, or
    /// `Ice.Override.Compress`, or [`ObjectPrx::ice_compress`]).
    #[must_use]
    pub fn is_compressed(&self) -> bool {
        self.inner.compress
    }

    /// Reads the user exception of a user-exception reply (what generated
    /// proxies do): the most-derived type `registry` knows, whole.
    ///
    /// # Errors
    /// [`RuntimeError::UnknownUserException`] with the type id when no
    /// slice of the exception is known (or, in the compact format, the
    /// most-derived one is not), as Ice raises `UnknownUserException`;
    /// other decoding failures as [`RuntimeError::Encoding`].
    pub fn read_user_exception(
        &self,
        encaps: &Encapsulation,
        registry: Arc<Registry>,
    ) -> Result<Box<dyn crate::encoding::UserException>, RuntimeError> {
        let mut input = self.results_input(encaps, registry)?;
        match input.read_exception() {
            Ok(ex) => Ok(ex),
            Err(crate::encoding::Error::UnknownUserException { type_id }) => {
                Err(RuntimeError::UnknownUserException(type_id))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Fails with [`RuntimeError::TwowayOnly`] unless invocations wait
    /// for a reply (what generated code checks, before sending anything,
    /// for an operation that returns data or declares exceptions).
    ///
    /// # Errors
    /// [`RuntimeError::TwowayOnly`] for a oneway, batch or datagram proxy.
    pub fn require_twoway(&self, operation: &str) -> Result<(), RuntimeError> {
        if self.is_twoway() {
            Ok(())
        } else {
            Err(RuntimeError::TwowayOnly {
                operation: operation.to_owned(),
            })
        }
    }

    /// Whether invocations wait for a reply.
    #[must_use]
    pub fn is_twoway(&self) -> bool {
        self.inner.data.mode == InvocationMode::Twoway
    }

    /// An input stream positioned on `results` (a reply's encapsulation),
    /// creating classes and user exceptions from `registry` and binding the
    /// proxies it reads to this proxy's communicator (what generated
    /// proxies read with).
    ///
    /// # Errors
    /// [`crate::encoding::Error::UnsupportedEncoding`] for an encoding
    /// other than 1.0 or 1.1.
    pub fn results_input(
        &self,
        results: &Encapsulation,
        registry: Arc<Registry>,
    ) -> crate::encoding::Result<InputStream> {
        InputStream::for_encapsulation_with(
            results.body.clone(),
            results.encoding,
            registry,
            Some(self.inner.communicator.clone()),
        )
    }

    /// Encodes parameters in this proxy's encoding.
    pub fn params(&self, write: impl FnOnce(&mut OutputStream)) -> Encapsulation {
        crate::adapter::encapsulate(self.encoding(), Format::Compact, write)
    }

    /// The connection this proxy uses (opening it if needed).
    ///
    /// # Errors
    /// As for connecting.
    pub async fn ice_get_connection(&self) -> Result<Connection> {
        match &self.inner.fixed {
            Some(c) => Ok(c.clone()),
            None if !self.inner.data.endpoints.is_empty() => {
                let cached = self
                    .inner
                    .cached
                    .lock()
                    .ok()
                    .and_then(|c| c.as_ref().filter(|c| !c.is_closed()).cloned());
                if let Some(conn) = cached {
                    return Ok(conn);
                }
                let conn = self
                    .inner
                    .communicator
                    .connection_for(&self.inner.data)
                    .await?;
                if let Ok(mut c) = self.inner.cached.lock() {
                    *c = Some(conn.clone());
                }
                Ok(conn)
            }
            None => self.indirect_connection().await,
        }
    }

    /// Resolves an indirect proxy through its locator and connects; when
    /// cached endpoints fail, drops them and resolves once more.
    async fn indirect_connection(&self) -> Result<Connection> {
        let communicator = &self.inner.communicator;
        let data = &self.inner.data;
        let Some(locator) = &self.inner.locator else {
            return Err(RuntimeError::NoEndpoint {
                proxy: crate::reference::to_string(data),
            });
        };
        let mut timeout = self.inner.locator_cache_timeout;
        loop {
            let resolved = locator.resolve_boxed(communicator, data, timeout).await?;
            if resolved.endpoints.is_empty() {
                return Err(RuntimeError::NoEndpoint {
                    proxy: crate::reference::to_string(data),
                });
            }
            let mut direct = data.clone();
            direct.endpoints = resolved.endpoints;
            match communicator.connection_for(&direct).await {
                Ok(conn) => return Ok(conn),
                Err(e) if resolved.cached => {
                    tracing::debug!(
                        proxy = %crate::reference::to_string(data),
                        error = %e,
                        "cached endpoints failed; resolving again"
                    );
                    locator.clear(data);
                    timeout = 0;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The request of a call: the spare request of an earlier call when
    /// there is one with the same context (its operation name rewritten in
    /// place), else a new one. Boxed, so that it moves as a pointer.
    fn request(
        &self,
        operation: &str,
        mode: OperationMode,
        params: Encapsulation,
        context: Option<&Context>,
    ) -> Box<Request> {
        let context = context.unwrap_or(&self.inner.context);
        let spare = self.inner.spare.lock().ok().and_then(|mut s| s.take());
        let same_context = |r: &Request| {
            let theirs = &r.header.context;
            (theirs.is_empty() && context.is_empty()) || theirs == context
        };
        if let Some(mut request) = spare.filter(|r| same_context(r)) {
            let header = &mut request.header;
            header.request_id = 0;
            if header.operation != operation {
                header.operation.clear();
                header.operation.push_str(operation);
            }
            header.mode = mode;
            request.params = params;
            return request;
        }
        Box::new(Request {
            header: RequestHeader {
                request_id: 0,
                identity: self.inner.data.identity.clone(),
                facet: self.inner.data.facet.clone(),
                operation: operation.to_owned(),
                mode,
                context: context.clone(),
            },
            params,
        })
    }

    /// Keeps `request`, whose call is over, as the spare request (its
    /// parameters dropped), unless another call already left one.
    fn recycle(&self, mut request: Box<Request>) {
        request.params.body = bytes::Bytes::new();
        if let Ok(mut spare) = self.inner.spare.lock() {
            if spare.is_none() {
                *spare = Some(request);
            }
        }
    }

    /// The connection of [`Self::ice_get_connection`] when it is at hand
    /// without waiting: the fixed one, or the cached one while open.
    fn ready_connection(&self) -> Option<Connection> {
        if let Some(c) = &self.inner.fixed {
            return Some(c.clone());
        }
        if self.inner.data.endpoints.is_empty() {
            return None;
        }
        self.inner
            .cached
            .lock()
            .ok()
            .and_then(|c| c.as_ref().filter(|c| !c.is_closed()).cloned())
    }

    /// Invokes `operation` with an encoded parameter encapsulation. For a
    /// oneway proxy the request is sent and `Outcome::Ok` with an empty
    /// encapsulation is returned; for a batch proxy it is queued until
    /// [`ObjectPrx::ice_flush_batch_requests`]. `context`, when given,
    /// replaces the proxy's context for this call.
    ///
    /// # Errors
    /// The failure replies (`ObjectNotExist`, ...), connection errors once
    /// retries are exhausted, and [`RuntimeError::InvocationTimeout`].
    pub async fn ice_invoke(
        &self,
        operation: &str,
        mode: OperationMode,
        params: Encapsulation,
        context: Option<&Context>,
    ) -> Result<Outcome> {
        let request = self.request(operation, mode, params, context);
        match self.inner.data.mode {
            InvocationMode::Twoway => {}
            InvocationMode::Oneway | InvocationMode::Datagram => {
                let outcome = self.send_oneway(&request).await;
                self.recycle(request);
                return outcome.map(|()| Outcome::Ok(Encapsulation::empty(self.encoding())));
            }
            InvocationMode::BatchOneway | InvocationMode::BatchDatagram => {
                // A fixed proxy queues on its connection, as Ice does.
                if let Some(conn) = &self.inner.fixed {
                    conn.queue_batch_request(*request, self.inner.compress)?;
                } else if let Ok(mut q) = self.inner.batch.lock() {
                    q.push(*request);
                }
                return Ok(Outcome::Ok(Encapsulation::empty(self.encoding())));
            }
        }
        let timeout = self
            .inner
            .invocation_timeout
            .unwrap_or_else(|| self.inner.communicator.invocation_timeout());
        // The call future is awaited where it is made: moving it (into a
        // variable, then into a timeout) copies it each time.
        let reply = match timeout {
            Some(t) => tokio::time::timeout(t, self.invoke_with_retries(&request))
                .await
                .map_err(|_| RuntimeError::InvocationTimeout {
                    millis: u64::try_from(t.as_millis()).unwrap_or(u64::MAX),
                }),
            None => Ok(self.invoke_with_retries(&request).await),
        };
        self.recycle(request);
        outcome(reply??)
    }

    async fn send_oneway(&self, request: &Request) -> Result<()> {
        let mut attempt = 0;
        loop {
            let sent = match self.ready_connection() {
                Some(conn) => conn.send_oneway_ref(request, self.inner.compress),
                None => match Box::pin(self.ice_get_connection()).await {
                    Ok(conn) => conn.send_oneway_ref(request, self.inner.compress),
                    Err(e) => Err(e),
                },
            };
            match sent {
                Ok(()) => return Ok(()),
                Err(e) => Box::pin(self.before_retry(&e, true, &mut attempt))
                    .await
                    .map_err(|()| e)?,
            }
        }
    }

    /// Sends `request` and waits for its reply, retrying as Ice does. The
    /// rare paths (connecting, waiting before a retry) are boxed, so that
    /// the future of a call on an open connection stays small.
    async fn invoke_with_retries(&self, request: &Request) -> Result<Reply> {
        let idempotent = request.header.mode != OperationMode::Normal;
        let mut attempt = 0;
        loop {
            let conn = match self.ready_connection() {
                Some(c) => c,
                None => match Box::pin(self.ice_get_connection()).await {
                    Ok(c) => c,
                    Err(e) => {
                        Box::pin(self.before_retry(&e, true, &mut attempt))
                            .await
                            .map_err(|()| e)?;
                        continue;
                    }
                },
            };
            match conn.invoke_ref(request, self.inner.compress).await {
                Ok(reply) => return Ok(reply),
                Err(e) => {
                    let safe = match e {
                        RuntimeError::CloseConnection | RuntimeError::ConnectionClosed => true,
                        RuntimeError::ConnectionLost | RuntimeError::ConnectionTimeout { .. } => {
                            idempotent
                        }
                        _ => false,
                    };
                    Box::pin(self.before_retry(&e, safe, &mut attempt))
                        .await
                        .map_err(|()| e)?;
                }
            }
        }
    }

    /// Waits before the next attempt, or `Err` when the error is final.
    async fn before_retry(
        &self,
        error: &RuntimeError,
        safe: bool,
        attempt: &mut usize,
    ) -> std::result::Result<(), ()> {
        let retryable =
            safe && matches!(
                error,
                RuntimeError::Io { .. }
                    | RuntimeError::ConnectTimeout { .. }
                    | RuntimeError::ConnectionLost
                    | RuntimeError::ConnectionTimeout { .. }
                    | RuntimeError::CloseConnection
                    | RuntimeError::ConnectionClosed
            ) && self.inner.fixed.is_none();
        let intervals = self.inner.communicator.retry_intervals();
        match intervals.get(*attempt) {
            Some(pause) if retryable => {
                *attempt += 1;
                if self.is_indirect() {
                    if let Some(locator) = &self.inner.locator {
                        locator.clear(&self.inner.data);
                    }
                }
                tracing::debug!(error = %error, attempt = *attempt, "retrying invocation");
                if !pause.is_zero() {
                    tokio::time::sleep(*pause).await;
                }
                Ok(())
            }
            _ => Err(()),
        }
    }

    /// Sends the requests queued on this batch proxy as one batch message
    /// (for a fixed proxy: those queued on its connection).
    ///
    /// # Errors
    /// As for connecting; the queue is emptied either way.
    pub async fn ice_flush_batch_requests(&self) -> Result<()> {
        if let Some(conn) = &self.inner.fixed {
            return conn.flush_batch_requests();
        }
        let requests: Vec<Request> = self
            .inner
            .batch
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default();
        if requests.is_empty() {
            return Ok(());
        }
        let conn = self.ice_get_connection().await?;
        conn.send_batch(&requests, self.inner.compress)
    }

    async fn twoway_builtin(
        &self,
        operation: &str,
        params: Encapsulation,
    ) -> Result<Encapsulation> {
        if !self.is_twoway() {
            return Err(RuntimeError::TwowayOnly {
                operation: operation.to_owned(),
            });
        }
        match self
            .ice_invoke(operation, OperationMode::Nonmutating, params, None)
            .await?
        {
            Outcome::Ok(e) => Ok(e),
            Outcome::UserException(_) => Err(RuntimeError::UnknownUserException(format!(
                "user exception from `{operation}`"
            ))),
        }
    }

    /// Checks that the object exists (Ice's `ice_ping`).
    ///
    /// # Errors
    /// `ObjectNotExist`, `FacetNotExist`, or a connection error.
    pub async fn ice_ping(&self) -> Result<()> {
        let params = self.params(|_| {});
        if self.is_twoway() {
            self.twoway_builtin("ice_ping", params).await.map(drop)
        } else {
            self.ice_invoke("ice_ping", OperationMode::Nonmutating, params, None)
                .await
                .map(drop)
        }
    }

    /// Whether the object implements `type_id` (Ice's `ice_isA`).
    ///
    /// # Errors
    /// As [`ObjectPrx::ice_ping`]; also for a non-twoway proxy.
    pub async fn ice_is_a(&self, type_id: &str) -> Result<bool> {
        let params = self.params(|out| out.write_string(type_id));
        let results = self.twoway_builtin("ice_isA", params).await?;
        Ok(read_encapsulation(&results)?.read_bool()?)
    }

    /// The most-derived type id of the object (Ice's `ice_id`).
    ///
    /// # Errors
    /// As [`ObjectPrx::ice_is_a`].
    pub async fn ice_id(&self) -> Result<String> {
        let results = self.twoway_builtin("ice_id", self.params(|_| {})).await?;
        Ok(read_encapsulation(&results)?.read_string()?)
    }

    /// All type ids of the object, sorted (Ice's `ice_ids`).
    ///
    /// # Errors
    /// As [`ObjectPrx::ice_is_a`].
    pub async fn ice_ids(&self) -> Result<Vec<String>> {
        let results = self.twoway_builtin("ice_ids", self.params(|_| {})).await?;
        Ok(read_encapsulation(&results)?.read::<Vec<String>>()?)
    }

    /// Ice's `checkedCast`: this proxy if the object implements `type_id`,
    /// `None` if it does not or does not exist.
    ///
    /// # Errors
    /// Connection errors and other failures.
    pub async fn checked_cast(&self, type_id: &str) -> Result<Option<Self>> {
        match self.ice_is_a(type_id).await {
            Ok(true) => Ok(Some(self.clone())),
            Ok(false) => Ok(None),
            Err(RuntimeError::FacetNotExist(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Turns a reply into an outcome or the matching error.
fn outcome(reply: Reply) -> Result<Outcome> {
    match reply.body {
        ReplyBody::Ok(e) => Ok(Outcome::Ok(e)),
        ReplyBody::UserException(e) => Ok(Outcome::UserException(e)),
        ReplyBody::ObjectNotExist(f) => Err(RuntimeError::ObjectNotExist(f)),
        ReplyBody::FacetNotExist(f) => Err(RuntimeError::FacetNotExist(f)),
        ReplyBody::OperationNotExist(f) => Err(RuntimeError::OperationNotExist(f)),
        ReplyBody::UnknownLocalException(s) => Err(RuntimeError::UnknownLocalException(s)),
        ReplyBody::UnknownUserException(s) => Err(RuntimeError::UnknownUserException(s)),
        ReplyBody::UnknownException(s) => Err(RuntimeError::UnknownException(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::Properties;
    use crate::protocol::{FrameDecoder, FrameEncoder, MessageType};
    use crate::transport::TcpAcceptor;
    use bytes::BytesMut;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// What the fake server does with the one request it reads on a
    /// connection.
    #[derive(Clone, Copy)]
    enum Then {
        /// Sends close connection without answering.
        CloseGracefully,
        /// Drops the socket without a word.
        Vanish,
        /// Answers with an empty result.
        Answer,
    }

    /// Serves one connection per entry of `plan`; returns its port and a
    /// task yielding how many requests arrived.
    async fn fake_server(plan: Vec<Then>) -> Result<(u16, tokio::task::JoinHandle<usize>)> {
        let acceptor = TcpAcceptor::bind("127.0.0.1", 0).await?;
        let port = acceptor.local_addr()?.port();
        let task = tokio::spawn(async move {
            let mut seen = 0;
            for then in plan {
                let Ok((mut s, _)) = acceptor.accept().await else {
                    break;
                };
                let mut msg = BytesMut::new();
                FrameEncoder::encode_empty(MessageType::ValidateConnection, &mut msg);
                let _ = s.write_all(&msg).await;
                let mut buf = BytesMut::new();
                let mut decoder = FrameDecoder::default();
                let frame = loop {
                    if let Ok(Some(f)) = decoder.decode(&mut buf) {
                        break Some(f);
                    }
                    match s.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => break None,
                        Ok(_) => {}
                    }
                };
                let Some(frame) = frame else { continue };
                seen += 1;
                let mut out = BytesMut::new();
                match then {
                    Then::CloseGracefully => {
                        FrameEncoder::encode_empty(MessageType::CloseConnection, &mut out);
                        let _ = s.write_all(&out).await;
                        let _ = s.shutdown().await;
                        let mut rest = Vec::new();
                        let _ = s.read_to_end(&mut rest).await;
                    }
                    Then::Vanish => drop(s),
                    Then::Answer => {
                        let Ok(request) = Request::decode(frame.body) else {
                            continue;
                        };
                        let reply = Reply {
                            request_id: request.header.request_id,
                            body: ReplyBody::Ok(Encapsulation::empty(request.params.encoding)),
                        };
                        FrameEncoder::encode(MessageType::Reply, &reply.to_body(), false, &mut out);
                        let _ = s.write_all(&out).await;
                        let mut rest = Vec::new();
                        let _ = s.read_to_end(&mut rest).await;
                    }
                }
            }
            seen
        });
        Ok((port, task))
    }

    fn proxy_to(communicator: &Communicator, port: u16) -> ObjectPrx {
        let mut data = ProxyData::new("obj");
        data.endpoints = vec![crate::encoding::Endpoint::Tcp(
            crate::encoding::IpEndpoint {
                host: "127.0.0.1".into(),
                port: i32::from(port),
                timeout: -1,
                ..Default::default()
            },
        )];
        communicator.proxy(data)
    }

    async fn call(prx: &ObjectPrx, mode: OperationMode) -> Result<Outcome> {
        let params = prx.params(|_| {});
        prx.ice_invoke("op", mode, params, None).await
    }

    #[tokio::test]
    async fn graceful_close_before_the_reply_is_retried() -> Result<()> {
        let (port, server) = fake_server(vec![Then::CloseGracefully, Then::Answer]).await?;
        let communicator = Communicator::new(Properties::new());
        let prx = proxy_to(&communicator, port);
        assert!(matches!(
            call(&prx, OperationMode::Normal).await?,
            Outcome::Ok(_)
        ));
        communicator.destroy().await;
        assert_eq!(server.await.map_err(|_| RuntimeError::ConnectionLost)?, 2);
        Ok(())
    }

    #[tokio::test]
    async fn lost_connection_is_retried_only_for_idempotent_operations() -> Result<()> {
        let (port, server) = fake_server(vec![Then::Vanish, Then::Vanish, Then::Answer]).await?;
        let communicator = Communicator::new(Properties::new());
        let prx = proxy_to(&communicator, port);
        assert!(matches!(
            call(&prx, OperationMode::Normal).await,
            Err(RuntimeError::ConnectionLost)
        ));
        assert!(matches!(
            call(&prx, OperationMode::Idempotent).await?,
            Outcome::Ok(_)
        ));
        communicator.destroy().await;
        assert_eq!(server.await.map_err(|_| RuntimeError::ConnectionLost)?, 3);
        Ok(())
    }

    #[tokio::test]
    async fn retry_intervals_minus_one_disables_retries() -> Result<()> {
        let (port, server) = fake_server(vec![Then::CloseGracefully]).await?;
        let communicator = Communicator::new(Properties::new().with("Ice.RetryIntervals", "-1"));
        let prx = proxy_to(&communicator, port);
        assert!(matches!(
            call(&prx, OperationMode::Idempotent).await,
            Err(RuntimeError::CloseConnection)
        ));
        assert_eq!(server.await.map_err(|_| RuntimeError::ConnectionLost)?, 1);
        Ok(())
    }

    #[tokio::test]
    async fn oneway_and_batch_proxies_send_without_waiting() -> Result<()> {
        let (port, server) = fake_server(vec![Then::Answer]).await?;
        let communicator = Communicator::new(Properties::new());
        let batch = proxy_to(&communicator, port).ice_batch_oneway();
        call(&batch, OperationMode::Normal).await?;
        call(&batch, OperationMode::Normal).await?;
        assert!(matches!(
            batch.ice_is_a("::X").await,
            Err(RuntimeError::TwowayOnly { .. })
        ));
        batch.ice_flush_batch_requests().await?;
        communicator.destroy().await;
        // The two batched requests arrive as one message.
        assert_eq!(server.await.map_err(|_| RuntimeError::ConnectionLost)?, 1);
        Ok(())
    }
}
