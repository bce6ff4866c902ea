//! Object adapters: endpoints to listen on, a servant map, and dispatch.
//!
//! An [`ObjectAdapter`] is created by the communicator from properties
//! (`<Name>.Endpoints`, `<Name>.PublishedEndpoints`,
//! `<Name>.ThreadPool.Size`/`SizeMax`). It maps identity and facet to a
//! [`Servant`] (with default servants and [`ServantLocator`]s by
//! category), answers Ice's built-in
//! operations (`ice_ping`, `ice_isA`, `ice_id`, `ice_ids`) from the
//! servant's type ids, and turns a dispatch result into a reply body: Ice's
//! statuses for a missing object, facet or operation, user exceptions,
//! unknown exceptions. It never touches a socket: the accept loop hands
//! each connection to the `connection` layer, which calls back through
//! [`RequestHandler`].
//!
//! A reply uses the encoding of the request's parameter encapsulation, so
//! a peer speaking encoding 1.0 gets 1.0 back.
//!
//! With `<Name>.AdapterId` (and optionally `<Name>.ReplicaGroupId`) and a
//! locator (`<Name>.Locator`, else `Ice.Default.Locator`), the adapter
//! registers its published endpoints with the locator registry when
//! activated and unregisters them when deactivated, and the proxies it
//! creates are indirect (`id@AdapterId`, or `id@ReplicaGroupId`), as Ice
//! makes them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use crate::communicator::Communicator;
use crate::connection::{BoxFuture, Connection, ConnectionConfig, RequestHandler};
use crate::encoding::{
    EncodingVersion, Endpoint, Format, Identity, InputStream, IpEndpoint, OutputStream, ProxyData,
    Registry, Thrown, UserException,
};
use crate::locator::Locator;
use crate::protocol::{
    Context, Encapsulation, OperationMode, ReplyBody, Request, RequestFailed, RequestHeader,
};
use crate::proxy::ObjectPrx;
use crate::runtime_error::{Result, RuntimeError};
use crate::transport::{ConnectionInfo, TcpAcceptor, Transport, Upgrade};

/// The type id every Ice object has.
pub const OBJECT_TYPE_ID: &str = "::Ice::Object";

/// Information about the request being dispatched.
#[derive(Debug, Clone)]
pub struct Current {
    /// The adapter dispatching the request.
    pub adapter: ObjectAdapter,
    /// The connection the request arrived on; a proxy fixed to it calls
    /// back to the caller (bidirectional connections).
    pub connection: Connection,
    /// The target identity.
    pub id: Identity,
    /// The target facet.
    pub facet: String,
    /// The operation name.
    pub operation: String,
    /// The operation mode the caller sent.
    pub mode: OperationMode,
    /// The request context.
    pub context: Context,
    /// The request id (0 for oneway and batch requests).
    pub request_id: i32,
    /// The encoding of the parameters; results are written in it too.
    pub encoding: EncodingVersion,
    /// The class format of user exceptions ([`Current::user_exception`]):
    /// the communicator's `Ice.Default.SlicedFormat` (compact unless set),
    /// unless the operation's `["format:...]` metadata says otherwise
    /// (generated dispatchers set it).
    pub format: Format,
}

impl Current {
    /// An input stream positioned on the parameters in `params`.
    ///
    /// # Errors
    /// A [`DispatchError::UnknownLocalException`] (Ice's `MarshalException`)
    /// when the encapsulation is malformed.
    pub fn params_stream(
        params: &Encapsulation,
    ) -> std::result::Result<InputStream, DispatchError> {
        Ok(InputStream::for_encapsulation(
            params.body.clone(),
            params.encoding,
        )?)
    }

    /// An input stream positioned on the parameters in `params`, creating
    /// classes and user exceptions from `registry` and binding the proxies
    /// it reads to the adapter's communicator (what generated dispatchers
    /// read with).
    ///
    /// # Errors
    /// As [`Current::params_stream`].
    pub fn params_input(
        &self,
        params: &Encapsulation,
        registry: Arc<Registry>,
    ) -> std::result::Result<InputStream, DispatchError> {
        Ok(InputStream::for_encapsulation_with(
            params.body.clone(),
            params.encoding,
            registry,
            Some(self.adapter.communicator().clone()),
        )?)
    }

    /// Builds a result encapsulation in the request's encoding.
    pub fn results(&self, write: impl FnOnce(&mut OutputStream)) -> Encapsulation {
        encapsulate(self.encoding, Format::Compact, write)
    }

    /// This request information with user exceptions written in `format`.
    #[must_use]
    pub fn with_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// A user-exception outcome holding `ex`, in the request's encoding and
    /// the operation's format ([`Current::format`]).
    pub fn user_exception(&self, ex: &dyn UserException) -> DispatchError {
        DispatchError::EncodedUserException(encapsulate(self.encoding, self.format, |out| {
            out.write_exception(ex);
        }))
    }

    /// A proxy to `identity` that calls back over the connection this
    /// request came in on.
    #[must_use]
    pub fn callback_proxy(&self, identity: Identity) -> ObjectPrx {
        self.adapter
            .communicator()
            .fixed_proxy(identity, self.connection.clone())
    }
}

/// Writes an encapsulation of `encoding` with `write` and keeps its body.
pub fn encapsulate(
    encoding: EncodingVersion,
    format: Format,
    write: impl FnOnce(&mut OutputStream),
) -> Encapsulation {
    // The body is written on its own (what an encapsulation's contents
    // are: a fresh stream in its encoding), so no header is split off it.
    let mut out = OutputStream::new(encoding).with_format(format);
    write(&mut out);
    let body = if out.is_empty() {
        bytes::Bytes::new()
    } else {
        out.finish()
    };
    Encapsulation { encoding, body }
}

/// Results encoded into a body this large are dropped only once the
/// reply is written (see [`keep_until_sent`]).
const KEEP_RESULTS_FROM: usize = 64 * 1024;

/// `encaps`, the encoded results of a dispatch, keeping `results` (the
/// values they were encoded from) until the reply is written when the
/// body is large: freeing 50,000 strings then happens while the caller
/// decodes the reply, not before it is sent. Small results are dropped
/// at once.
pub fn keep_until_sent<T: Send + 'static>(encaps: Encapsulation, results: T) -> Encapsulation {
    if encaps.body.len() < KEEP_RESULTS_FROM {
        return encaps;
    }
    /// A body that owns the values it was encoded from.
    struct Keeping<T> {
        body: bytes::Bytes,
        _results: T,
    }
    impl<T> AsRef<[u8]> for Keeping<T> {
        fn as_ref(&self) -> &[u8] {
            &self.body
        }
    }
    let Encapsulation { encoding, body } = encaps;
    Encapsulation {
        encoding,
        body: bytes::Bytes::from_owner(Keeping {
            body,
            _results: results,
        }),
    }
}

/// Why a dispatch did not return results.
///
/// A servant returns a user exception with `Err(e.into())` or `?` (any
/// generated exception, or a [`Thrown`] exception received from another
/// call, which goes back out unchanged); a failed nested call's
/// [`RuntimeError`] becomes an unknown local exception with `?`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// A user exception, written in the request's encoding and the
    /// operation's format.
    #[error("user exception {0}")]
    UserException(Box<dyn UserException>),
    /// A user exception already encoded in the request's encoding.
    #[error("user exception (encoded)")]
    EncodedUserException(Encapsulation),
    /// Answer "object does not exist".
    #[error("object does not exist")]
    ObjectNotExist,
    /// Answer "facet does not exist".
    #[error("facet does not exist")]
    FacetNotExist,
    /// Answer "operation does not exist".
    #[error("operation does not exist")]
    OperationNotExist,
    /// An Ice local exception (for example bad parameters), described.
    #[error("unknown local exception: {0}")]
    UnknownLocalException(String),
    /// An undeclared user exception, described.
    #[error("unknown user exception: {0}")]
    UnknownUserException(String),
    /// Any other failure, described.
    #[error("unknown exception: {0}")]
    UnknownException(String),
}

impl DispatchError {
    /// A user exception already written for `current`'s encoding and
    /// format (what a dispatcher whose operation chooses a format does).
    #[must_use]
    pub fn encoded_for(self, current: &Current) -> Self {
        match self {
            Self::UserException(ex) => current.user_exception(ex.as_ref()),
            other => other,
        }
    }
}

impl From<crate::encoding::Error> for DispatchError {
    fn from(e: crate::encoding::Error) -> Self {
        Self::UnknownLocalException(format!("Ice::MarshalException: {e}"))
    }
}

/// A failed nested call: its unknown exceptions pass on as they came
/// (as Ice re-sends an `UnknownUserException` a servant lets through);
/// anything else is an unknown local exception describing it.
impl From<RuntimeError> for DispatchError {
    fn from(e: RuntimeError) -> Self {
        match e {
            RuntimeError::UnknownUserException(s) => Self::UnknownUserException(s),
            RuntimeError::UnknownLocalException(s) => Self::UnknownLocalException(s),
            RuntimeError::UnknownException(s) => Self::UnknownException(s),
            e => Self::UnknownLocalException(e.to_string()),
        }
    }
}

impl<E: UserException> From<E> for DispatchError {
    fn from(e: E) -> Self {
        Self::UserException(Box::new(e))
    }
}

impl<T: UserException> From<Thrown<T>> for DispatchError {
    fn from(e: Thrown<T>) -> Self {
        Self::UserException(e.into_inner())
    }
}

impl From<Box<dyn UserException>> for DispatchError {
    fn from(e: Box<dyn UserException>) -> Self {
        Self::UserException(e)
    }
}

/// What a dispatch returns: the results encapsulation or a failure.
pub type DispatchResult = std::result::Result<Encapsulation, DispatchError>;

/// An Ice object implementation. `dispatch` sees every operation except
/// the built-in `ice_ping`, `ice_isA`, `ice_id` and `ice_ids`, which the
/// adapter answers from [`Servant::type_ids`], unless
/// [`Servant::dispatches_builtins`] says the servant answers them itself.
pub trait Servant: Send + Sync + 'static {
    /// The Slice type ids of the object, most derived first; `::Ice::Object`
    /// may be left out.
    fn type_ids(&self) -> &[&str];

    /// Dispatches one operation; `params` is the in-parameter encapsulation.
    /// Unknown operations return [`DispatchError::OperationNotExist`].
    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult>;

    /// Whether [`Servant::dispatch`] receives the built-in operations too
    /// (`ice_ping`, `ice_isA`, `ice_id`, `ice_ids`, with their
    /// [`Current`]), to override them as a ZeroC servant can; a built-in
    /// it answers with [`DispatchError::OperationNotExist`] is answered
    /// from [`Servant::type_ids`]. `false` by default.
    fn dispatches_builtins(&self) -> bool {
        false
    }
}

/// A layer every request of an adapter goes through once its servant is
/// found ([`ObjectAdapter::add_dispatch_interceptor`]), built-in
/// operations included: it sees the [`Current`] and the parameters, and
/// answers the request itself, passes it on with [`Next::run`] (changed
/// or not), or looks at the outcome (logging, metrics, authorization).
/// ZeroC's `DispatchInterceptor` is a servant wrapping another; this is
/// the same, for every servant of the adapter at once.
pub trait DispatchInterceptor: Send + Sync + 'static {
    /// Handles one request; `next` runs the interceptors added after this
    /// one and then the servant.
    fn intercept<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
        next: Next<'a>,
    ) -> BoxFuture<'a, DispatchResult>;
}

/// The rest of a request's dispatch, as a [`DispatchInterceptor`] sees it.
pub struct Next<'a> {
    servant: &'a dyn Servant,
    rest: &'a [Arc<dyn DispatchInterceptor>],
}

impl<'a> Next<'a> {
    /// Runs the rest: the next interceptor, or the servant (built-in
    /// operations answered as without interceptors).
    pub fn run(self, current: &'a Current, params: Encapsulation) -> BoxFuture<'a, DispatchResult> {
        match self.rest.split_first() {
            Some((first, rest)) => first.intercept(
                current,
                params,
                Next {
                    servant: self.servant,
                    rest,
                },
            ),
            None => Box::pin(dispatch_to(self.servant, current, params)),
        }
    }

    /// The servant the request goes to.
    #[must_use]
    pub fn servant(&self) -> &'a dyn Servant {
        self.servant
    }
}

impl std::fmt::Debug for Next<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Next")
            .field("interceptors_left", &self.rest.len())
            .finish_non_exhaustive()
    }
}

/// The interceptors of an adapter, outermost first.
type Interceptors = Arc<[Arc<dyn DispatchInterceptor>]>;

/// What a [`ServantLocator`] hands back with a servant and gets again in
/// [`ServantLocator::finished`] (Ice's `cookie`).
pub type Cookie = Box<dyn std::any::Any + Send + Sync>;

/// What [`ServantLocator::locate`] found: a servant for the request and
/// its cookie, or `None` ("object does not exist").
pub type Located = Option<(Arc<dyn Servant>, Option<Cookie>)>;

/// Ice's `ServantLocator`: finds (or makes) servants on demand for the
/// identities of one category ([`ObjectAdapter::add_servant_locator`]).
///
/// As in ZeroC Ice 3.7, an adapter looks for a request's servant in its
/// servant map, then among its default servants (of the identity's
/// category, then of `""`), then asks the locator of the category, then
/// the locator of `""`. The located servant dispatches the request,
/// built-in operations (`ice_ping`...) included; `finished` runs after
/// it, whatever the outcome.
pub trait ServantLocator: Send + Sync + 'static {
    /// Finds the servant for the request `current` describes. `Ok(None)`
    /// answers "object does not exist" (or "facet does not exist" when the
    /// identity has servants in the map); an error is the reply as it is,
    /// and `finished` is not called.
    fn locate<'a>(
        &'a self,
        current: &'a Current,
    ) -> BoxFuture<'a, std::result::Result<Located, DispatchError>>;

    /// Called once the located servant has dispatched the request, with
    /// the cookie `locate` returned. An error replaces the dispatch's
    /// reply.
    fn finished<'a>(
        &'a self,
        current: &'a Current,
        servant: &'a Arc<dyn Servant>,
        cookie: Option<Cookie>,
    ) -> BoxFuture<'a, std::result::Result<(), DispatchError>>;

    /// Called when the adapter is destroyed, for each category the
    /// locator was added with.
    fn deactivate(&self, category: &str);
}

/// The lifecycle of an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterState {
    /// Created or held: connections are not accepted, requests wait.
    Holding,
    /// Accepting and dispatching.
    Active,
    /// Deactivated: no longer accepting; connections closed.
    Deactivated,
}

/// The servants of one identity: the default facet's in its own slot (the
/// facet nearly every request names, found without a second lookup), the
/// others by name.
#[derive(Default)]
struct FacetMap {
    default: Option<Arc<dyn Servant>>,
    named: HashMap<String, Arc<dyn Servant>, KeyHash>,
}

impl FacetMap {
    fn get(&self, facet: &str) -> Option<&Arc<dyn Servant>> {
        if facet.is_empty() {
            self.default.as_ref()
        } else {
            self.named.get(facet)
        }
    }

    fn insert(&mut self, facet: &str, servant: Arc<dyn Servant>) {
        if facet.is_empty() {
            self.default = Some(servant);
        } else {
            self.named.insert(facet.to_owned(), servant);
        }
    }

    fn remove(&mut self, facet: &str) -> Option<Arc<dyn Servant>> {
        if facet.is_empty() {
            self.default.take()
        } else {
            self.named.remove(facet)
        }
    }

    fn is_empty(&self) -> bool {
        self.default.is_none() && self.named.is_empty()
    }
}

/// The hasher of the servant maps: FNV-1a, several times cheaper than the
/// default SipHash on the short identities every request looks up (about
/// 200 instructions a request). The keys are identities the application
/// adds; a peer only looks them up and cannot fill the table with
/// colliding keys, so a keyed hash buys nothing here.
#[derive(Debug, Clone, Copy, Default)]
struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = Fnv1a;
    fn build_hasher(&self) -> Fnv1a {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

/// The FNV-1a hash state (64-bit).
struct Fnv1a(u64);

impl std::hash::Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// How an adapter makes itself known to a locator: `<Name>.AdapterId`,
/// `<Name>.ReplicaGroupId` and the locator (`<Name>.Locator`, else
/// `Ice.Default.Locator`).
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// The adapter id; empty for an adapter that does not register.
    pub adapter_id: String,
    /// The replica group the adapter belongs to; empty for none.
    pub replica_group_id: String,
    /// The locator whose registry receives the endpoints.
    pub locator: Option<Arc<Locator>>,
}

/// How long unregistering at deactivation may take before it is given up.
const UNREGISTER_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

struct Inner {
    name: String,
    communicator: Communicator,
    config: ConnectionConfig,
    servants: RwLock<HashMap<Identity, FacetMap, KeyHash>>,
    default_servants: RwLock<HashMap<String, Arc<dyn Servant>, KeyHash>>,
    /// Servant locators by category; `has_locators` says whether there
    /// are any, so that a request with no servant pays nothing more
    /// when there are none.
    locators: RwLock<HashMap<String, Arc<dyn ServantLocator>, KeyHash>>,
    has_locators: AtomicBool,
    /// The dispatch interceptors; `has_interceptors` says whether there
    /// are any, so that a request pays one load when there are none.
    interceptors: RwLock<Option<Interceptors>>,
    has_interceptors: AtomicBool,
    state: watch::Sender<AdapterState>,
    /// Set once deactivation is complete: dispatches finished and
    /// connections closed.
    deactivated: watch::Sender<bool>,
    endpoints: Vec<Endpoint>,
    published: Vec<Endpoint>,
    connections: Mutex<Vec<Connection>>,
    accept_tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    registration: Registration,
    /// Whether the endpoints are (being) registered with the locator.
    registered: AtomicBool,
}

/// An object adapter; clones share it.
#[derive(Clone)]
pub struct ObjectAdapter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ObjectAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectAdapter")
            .field("name", &self.inner.name)
            .field("endpoints", &self.inner.endpoints)
            .finish()
    }
}

/// The handler a connection dispatches through.
struct AdapterHandler {
    adapter: ObjectAdapter,
}

impl RequestHandler for AdapterHandler {
    fn handle(&self, request: Request, connection: Connection) -> BoxFuture<'static, ReplyBody> {
        dispatch_request(self.adapter.clone(), request, connection)
    }
}

impl ObjectAdapter {
    /// Creates an adapter listening on `endpoints` (already parsed); used by
    /// the communicator. Binding happens here; accepting starts with
    /// [`ObjectAdapter::activate`].
    pub(crate) async fn create(
        name: String,
        communicator: Communicator,
        endpoints: Vec<Endpoint>,
        published: Option<Vec<Endpoint>>,
        config: ConnectionConfig,
        registration: Registration,
    ) -> Result<Self> {
        let mut acceptors = Vec::new();
        let mut bound = Vec::new();
        for endpoint in endpoints {
            let (acceptor, bound_endpoint) = bind_endpoint(&name, &communicator, &endpoint).await?;
            bound.push(bound_endpoint);
            acceptors.push(acceptor);
        }
        let published = published.unwrap_or_else(|| bound.clone());
        let adapter = Self {
            inner: Arc::new(Inner {
                name,
                communicator,
                config,
                servants: RwLock::new(HashMap::default()),
                default_servants: RwLock::new(HashMap::default()),
                locators: RwLock::new(HashMap::default()),
                has_locators: AtomicBool::new(false),
                interceptors: RwLock::new(None),
                has_interceptors: AtomicBool::new(false),
                deactivated: watch::Sender::new(false),
                state: watch::Sender::new(AdapterState::Holding),
                endpoints: bound,
                published,
                connections: Mutex::new(Vec::new()),
                accept_tasks: Mutex::new(Vec::new()),
                registration,
                registered: AtomicBool::new(false),
            }),
        };
        let tasks: Vec<_> = acceptors
            .into_iter()
            .map(|a| tokio::spawn(adapter.clone().accept_loop(a)))
            .collect();
        if let Ok(mut t) = adapter.inner.accept_tasks.lock() {
            t.extend(tasks);
        }
        Ok(adapter)
    }

    /// The adapter's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The communicator that created the adapter.
    #[must_use]
    pub fn communicator(&self) -> &Communicator {
        &self.inner.communicator
    }

    /// The endpoints actually bound (port 0 replaced by the real port).
    #[must_use]
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.inner.endpoints
    }

    /// The endpoints put in proxies this adapter creates.
    #[must_use]
    pub fn published_endpoints(&self) -> &[Endpoint] {
        &self.inner.published
    }

    /// The connections accepted by this adapter that are still open.
    #[must_use]
    pub fn connections(&self) -> Vec<Connection> {
        self.inner
            .connections
            .lock()
            .map(|c| c.iter().filter(|c| !c.is_closed()).cloned().collect())
            .unwrap_or_default()
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> AdapterState {
        *self.inner.state.borrow()
    }

    /// The handler that dispatches requests to this adapter; give it to a
    /// client connection to make it bidirectional.
    #[must_use]
    pub fn handler(&self) -> Arc<dyn RequestHandler> {
        Arc::new(AdapterHandler {
            adapter: self.clone(),
        })
    }

    /// The adapter id (`<Name>.AdapterId`), empty if none.
    #[must_use]
    pub fn adapter_id(&self) -> &str {
        &self.inner.registration.adapter_id
    }

    /// The replica group id (`<Name>.ReplicaGroupId`), empty if none.
    #[must_use]
    pub fn replica_group_id(&self) -> &str {
        &self.inner.registration.replica_group_id
    }

    /// The locator the adapter registers with and gives its proxies.
    #[must_use]
    pub fn locator(&self) -> Option<&Arc<Locator>> {
        self.inner.registration.locator.as_ref()
    }

    /// The locator and adapter id, when the adapter registers.
    fn registers(&self) -> Option<&Arc<Locator>> {
        if self.inner.registration.adapter_id.is_empty() {
            return None;
        }
        self.inner.registration.locator.as_ref()
    }

    /// Registers the published endpoints (or, with `register` false,
    /// unregisters) with the locator registry.
    async fn update_locator_registry(&self, register: bool) -> Result<()> {
        let Some(locator) = self.registers() else {
            return Ok(());
        };
        let proxy = register.then(|| {
            let mut data = ProxyData::new("dummy");
            data.encoding = self.inner.communicator.default_encoding();
            data.endpoints = self.inner.published.clone();
            data
        });
        crate::locator::register_adapter(
            &self.inner.communicator,
            locator,
            &self.inner.registration.adapter_id,
            &self.inner.registration.replica_group_id,
            proxy.as_ref(),
        )
        .await?;
        if register {
            // A server started by an IceGrid node registers its Process
            // facet along with its first adapter.
            self.inner
                .communicator
                .register_process_once(locator)
                .await?;
        }
        Ok(())
    }

    /// Ice's `activate`: registers the published endpoints with the
    /// locator registry first (when the adapter has an `AdapterId` and a
    /// locator), then starts accepting connections and dispatching.
    ///
    /// # Errors
    /// When registration fails ([`RuntimeError::NotRegistered`] for an
    /// adapter the registry does not know, connection errors); the
    /// adapter then stays holding.
    pub async fn activate_and_register(&self) -> Result<()> {
        if self.registers().is_some() && !self.inner.registered.swap(true, Ordering::SeqCst) {
            if let Err(e) = self.update_locator_registry(true).await {
                self.inner.registered.store(false, Ordering::SeqCst);
                return Err(e);
            }
        }
        self.activate();
        Ok(())
    }

    /// Starts accepting connections and dispatching requests. An adapter
    /// that registers with a locator does so in the background (a failure
    /// is logged); [`ObjectAdapter::activate_and_register`] waits for it
    /// and reports failures.
    pub fn activate(&self) {
        if self.registers().is_some() && !self.inner.registered.swap(true, Ordering::SeqCst) {
            let adapter = self.clone();
            tokio::spawn(async move {
                if let Err(e) = adapter.update_locator_registry(true).await {
                    adapter.inner.registered.store(false, Ordering::SeqCst);
                    tracing::warn!(
                        adapter = %adapter.inner.name,
                        adapter_id = %adapter.inner.registration.adapter_id,
                        error = %e,
                        "could not register the adapter endpoints with the locator registry"
                    );
                }
            });
        }
        let activated = self.inner.state.send_if_modified(|s| {
            if *s == AdapterState::Holding {
                *s = AdapterState::Active;
                true
            } else {
                false
            }
        });
        if activated {
            self.set_connections_held(false);
        }
    }

    fn set_connections_held(&self, held: bool) {
        if let Ok(conns) = self.inner.connections.lock() {
            for conn in conns.iter() {
                conn.set_held(held);
            }
        }
    }

    /// Holds, as ZeroC's `hold`: stops accepting connections and stops
    /// reading from the ones it has (so their peers' sends block, and no
    /// heartbeat goes out on them); requests already read wait until the
    /// adapter is activated again.
    pub fn hold(&self) {
        let held = self.inner.state.send_if_modified(|s| {
            if *s == AdapterState::Active {
                *s = AdapterState::Holding;
                true
            } else {
                false
            }
        });
        if held {
            self.set_connections_held(true);
        }
    }

    /// Stops accepting, lets dispatches finish and closes every connection
    /// gracefully (close connection), then returns. From inside a dispatch
    /// of this adapter, use [`ObjectAdapter::begin_deactivate`] (which
    /// does not wait for that very dispatch).
    pub async fn deactivate(&self) {
        self.begin_deactivate();
        self.wait_for_deactivate().await;
    }

    /// Starts deactivating and returns at once, as ZeroC's `deactivate`:
    /// no more connections are accepted nor requests dispatched; in the
    /// background, the endpoints are unregistered from the locator, and
    /// each connection is closed gracefully once its dispatches (the one
    /// calling this included) have sent their replies.
    /// [`ObjectAdapter::wait_for_deactivate`] waits for all of it.
    pub fn begin_deactivate(&self) {
        let was = self.inner.state.send_replace(AdapterState::Deactivated);
        if was == AdapterState::Deactivated {
            return;
        }
        if let Ok(mut tasks) = self.inner.accept_tasks.lock() {
            for t in tasks.drain(..) {
                t.abort();
            }
        }
        let adapter = self.clone();
        tokio::spawn(async move {
            if adapter.inner.registered.swap(false, Ordering::SeqCst) {
                match tokio::time::timeout(UNREGISTER_LIMIT, adapter.update_locator_registry(false))
                    .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(adapter = %adapter.inner.name, error = %e, "unregistering failed");
                    }
                    Err(_) => {
                        tracing::debug!(adapter = %adapter.inner.name, "unregistering timed out");
                    }
                }
            }
            let connections: Vec<_> = adapter
                .inner
                .connections
                .lock()
                .map(|mut c| c.drain(..).collect())
                .unwrap_or_default();
            let closes: Vec<_> = connections
                .into_iter()
                .map(|c| tokio::spawn(async move { c.close().await }))
                .collect();
            for close in closes {
                let _ = close.await;
            }
            tracing::debug!(adapter = %adapter.inner.name, "object adapter deactivated");
            adapter.inner.deactivated.send_replace(true);
        });
    }

    /// Waits until the adapter has been deactivated: its dispatches
    /// finished and its connections closed.
    pub async fn wait_for_deactivate(&self) {
        let mut rx = self.inner.deactivated.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    /// Deactivates the adapter, tells its servant locators
    /// ([`ServantLocator::deactivate`], once per category) and drops its
    /// servants and locators.
    pub async fn destroy(&self) {
        self.deactivate().await;
        let locators: Vec<_> = self
            .inner
            .locators
            .write()
            .map(|mut l| l.drain().collect())
            .unwrap_or_default();
        self.inner.has_locators.store(false, Ordering::SeqCst);
        for (category, locator) in locators {
            locator.deactivate(&category);
        }
        if let Ok(mut s) = self.inner.servants.write() {
            s.clear();
        }
        if let Ok(mut s) = self.inner.default_servants.write() {
            s.clear();
        }
    }

    /// Adds a servant for `identity` (default facet) and returns a proxy to it.
    pub fn add(&self, servant: Arc<dyn Servant>, identity: Identity) -> ObjectPrx {
        self.add_facet(servant, identity, "")
    }

    /// Adds a servant for `identity` and `facet`, replacing any before it,
    /// and returns a proxy to it.
    pub fn add_facet(
        &self,
        servant: Arc<dyn Servant>,
        identity: Identity,
        facet: &str,
    ) -> ObjectPrx {
        if let Ok(mut map) = self.inner.servants.write() {
            map.entry(identity.clone())
                .or_default()
                .insert(facet, servant);
        }
        let prx = self.create_proxy(identity);
        if facet.is_empty() {
            prx
        } else {
            prx.ice_facet(facet)
        }
    }

    /// Adds a servant under a fresh identity (a UUID from
    /// [`generate_uuid`], empty category) and returns a proxy to it, as
    /// Ice's `addWithUUID`.
    pub fn add_with_uuid(&self, servant: Arc<dyn Servant>) -> ObjectPrx {
        self.add_facet_with_uuid(servant, "")
    }

    /// [`ObjectAdapter::add_with_uuid`] for `facet`.
    pub fn add_facet_with_uuid(&self, servant: Arc<dyn Servant>, facet: &str) -> ObjectPrx {
        let identity = Identity {
            name: generate_uuid(),
            category: String::new(),
        };
        self.add_facet(servant, identity, facet)
    }

    /// The servant of `identity`'s default facet in the servant map (not
    /// default servants nor locators), as Ice's `find`.
    #[must_use]
    pub fn find(&self, identity: &Identity) -> Option<Arc<dyn Servant>> {
        self.find_facet(identity, "")
    }

    /// The servant of `identity` and `facet` in the servant map.
    #[must_use]
    pub fn find_facet(&self, identity: &Identity, facet: &str) -> Option<Arc<dyn Servant>> {
        self.inner
            .servants
            .read()
            .ok()?
            .get(identity)?
            .get(facet)
            .cloned()
    }

    /// Every facet of `identity` in the servant map, by facet name (`""`
    /// for the default facet).
    #[must_use]
    pub fn find_all_facets(&self, identity: &Identity) -> HashMap<String, Arc<dyn Servant>> {
        let Ok(map) = self.inner.servants.read() else {
            return HashMap::new();
        };
        let Some(facets) = map.get(identity) else {
            return HashMap::new();
        };
        let mut all: HashMap<String, Arc<dyn Servant>> = facets
            .named
            .iter()
            .map(|(name, servant)| (name.clone(), servant.clone()))
            .collect();
        if let Some(default) = &facets.default {
            all.insert(String::new(), default.clone());
        }
        all
    }

    /// The servant in the servant map for the identity and facet of
    /// `proxy`, as Ice's `findByProxy`.
    #[must_use]
    pub fn find_by_proxy(&self, proxy: &ObjectPrx) -> Option<Arc<dyn Servant>> {
        let data = proxy.data();
        self.find_facet(&data.identity, &data.facet)
    }

    /// The default servant of `category`, if one was added.
    #[must_use]
    pub fn find_default_servant(&self, category: &str) -> Option<Arc<dyn Servant>> {
        self.inner
            .default_servants
            .read()
            .ok()?
            .get(category)
            .cloned()
    }

    /// Removes the servant for `identity` and `facet`; returns it if it was there.
    pub fn remove_facet(&self, identity: &Identity, facet: &str) -> Option<Arc<dyn Servant>> {
        let mut map = self.inner.servants.write().ok()?;
        let facets = map.get_mut(identity)?;
        let removed = facets.remove(facet);
        if facets.is_empty() {
            map.remove(identity);
        }
        removed
    }

    /// Removes the default-facet servant for `identity`.
    pub fn remove(&self, identity: &Identity) -> Option<Arc<dyn Servant>> {
        self.remove_facet(identity, "")
    }

    /// Sets the servant for every identity of `category` that has no servant
    /// of its own; the empty category catches every identity.
    pub fn add_default_servant(&self, servant: Arc<dyn Servant>, category: &str) {
        if let Ok(mut map) = self.inner.default_servants.write() {
            map.insert(category.to_owned(), servant);
        }
    }

    /// Removes the default servant of `category`.
    pub fn remove_default_servant(&self, category: &str) -> Option<Arc<dyn Servant>> {
        self.inner.default_servants.write().ok()?.remove(category)
    }

    /// Adds the servant locator of `category` (`""`: of every category
    /// without one of its own); see [`ServantLocator`] for when it is
    /// asked.
    ///
    /// # Errors
    /// [`RuntimeError::Adapter`] when `category` has one already (Ice's
    /// `AlreadyRegisteredException`).
    pub fn add_servant_locator(
        &self,
        locator: Arc<dyn ServantLocator>,
        category: &str,
    ) -> Result<()> {
        let refuse = |reason| RuntimeError::Adapter {
            name: self.inner.name.clone(),
            reason,
        };
        let mut map = self
            .inner
            .locators
            .write()
            .map_err(|_| refuse("servant locators unavailable"))?;
        if map.contains_key(category) {
            return Err(refuse(
                "a servant locator is already registered for the category",
            ));
        }
        map.insert(category.to_owned(), locator);
        self.inner.has_locators.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Removes the servant locator of `category` and returns it (its
    /// `deactivate` is not called).
    pub fn remove_servant_locator(&self, category: &str) -> Option<Arc<dyn ServantLocator>> {
        let mut map = self.inner.locators.write().ok()?;
        let removed = map.remove(category);
        self.inner
            .has_locators
            .store(!map.is_empty(), Ordering::SeqCst);
        removed
    }

    /// The servant locator of `category`, if one was added.
    #[must_use]
    pub fn find_servant_locator(&self, category: &str) -> Option<Arc<dyn ServantLocator>> {
        self.inner.locators.read().ok()?.get(category).cloned()
    }

    /// Adds a dispatch interceptor, run after those added before it (the
    /// first added sees a request first).
    pub fn add_dispatch_interceptor(&self, interceptor: Arc<dyn DispatchInterceptor>) {
        if let Ok(mut chain) = self.inner.interceptors.write() {
            let mut all: Vec<_> = chain.as_deref().map(<[_]>::to_vec).unwrap_or_default();
            all.push(interceptor);
            *chain = Some(all.into());
            self.inner.has_interceptors.store(true, Ordering::SeqCst);
        }
    }

    /// Removes every dispatch interceptor.
    pub fn clear_dispatch_interceptors(&self) {
        if let Ok(mut chain) = self.inner.interceptors.write() {
            *chain = None;
            self.inner.has_interceptors.store(false, Ordering::SeqCst);
        }
    }

    fn interceptors(&self) -> Option<Interceptors> {
        if !self.inner.has_interceptors.load(Ordering::Relaxed) {
            return None;
        }
        self.inner.interceptors.read().ok()?.clone()
    }

    /// The locator asked for `category`: its own, else that of `""`.
    fn locator_for(&self, category: &str) -> Option<Arc<dyn ServantLocator>> {
        if !self.inner.has_locators.load(Ordering::Relaxed) {
            return None;
        }
        let map = self.inner.locators.read().ok()?;
        map.get(category).or_else(|| map.get("")).cloned()
    }

    /// A proxy to `identity` as Ice's `createProxy` makes it: indirect
    /// (`id@ReplicaGroupId`, else `id@AdapterId`, with the adapter's
    /// locator) when the adapter has an adapter id, else direct.
    #[must_use]
    pub fn create_proxy(&self, identity: Identity) -> ObjectPrx {
        let reg = &self.inner.registration;
        if reg.adapter_id.is_empty() {
            return self.create_direct_proxy(identity);
        }
        let id = if reg.replica_group_id.is_empty() {
            &reg.adapter_id
        } else {
            &reg.replica_group_id
        };
        self.create_indirect_proxy(identity).ice_adapter_id(id)
    }

    /// A proxy to `identity` with this adapter's published endpoints.
    #[must_use]
    pub fn create_direct_proxy(&self, identity: Identity) -> ObjectPrx {
        self.inner
            .communicator
            .direct_proxy(identity, self.inner.published.clone())
    }

    /// A proxy to `identity` with the adapter's adapter id (Ice's
    /// `createIndirectProxy`), resolved through the adapter's locator; a
    /// well-known proxy when the adapter has no adapter id.
    #[must_use]
    pub fn create_indirect_proxy(&self, identity: Identity) -> ObjectPrx {
        self.inner
            .communicator
            .direct_proxy(identity, Vec::new())
            .ice_adapter_id(&self.inner.registration.adapter_id)
            .with_locator(self.inner.registration.locator.clone())
    }

    /// Finds the servant for an identity and facet: its own, or the default
    /// servant of its category, or the default servant of `""`.
    fn lookup(&self, identity: &Identity, facet: &str) -> Lookup {
        if let Ok(map) = self.inner.servants.read() {
            if let Some(facets) = map.get(identity) {
                if let Some(s) = facets.get(facet) {
                    return Lookup::Found(s.clone());
                }
                if let Ok(defaults) = self.inner.default_servants.read() {
                    if let Some(s) = defaults
                        .get(&identity.category)
                        .or_else(|| defaults.get(""))
                    {
                        return Lookup::Found(s.clone());
                    }
                }
                return Lookup::NoFacet;
            }
        }
        if let Ok(defaults) = self.inner.default_servants.read() {
            if let Some(s) = defaults
                .get(&identity.category)
                .or_else(|| defaults.get(""))
            {
                return Lookup::Found(s.clone());
            }
        }
        Lookup::NoObject
    }

    async fn accept_loop(self, (acceptor, upgrade): (TcpAcceptor, Upgrade)) {
        let mut state = self.inner.state.subscribe();
        loop {
            let now = state
                .wait_for(|s| *s != AdapterState::Holding)
                .await
                .map(|s| *s)
                .ok();
            if now != Some(AdapterState::Active) {
                return;
            }
            let (stream, peer) = tokio::select! {
                accepted = acceptor.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(adapter = %self.inner.name, error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = async { let _ = state.wait_for(|s| *s != AdapterState::Active).await; } => continue,
            };
            let adapter = self.clone();
            let upgrade = upgrade.clone();
            tokio::spawn(async move {
                let description = format!("{} <- {peer}", adapter.inner.name);
                let config = adapter.inner.config.clone();
                let handler = Some(adapter.handler());
                let accepted = if upgrade.transport == Transport::Tcp {
                    let info = ConnectionInfo::tcp(&stream, true, &adapter.inner.name);
                    Connection::accept_with_info(stream, info, description, config, handler).await
                } else {
                    match upgrade.accept(stream).await {
                        Ok((stream, info)) => {
                            Connection::accept_with_info(stream, info, description, config, handler)
                                .await
                        }
                        Err(e) => {
                            tracing::warn!(
                                adapter = %adapter.inner.name,
                                peer = %peer,
                                transport = %upgrade.transport,
                                error = %e,
                                "incoming connection refused"
                            );
                            return;
                        }
                    }
                };
                match accepted {
                    Ok(conn) => adapter.track(conn),
                    Err(e) => {
                        tracing::debug!(adapter = %adapter.inner.name, error = %e, "connection failed to start");
                    }
                }
            });
        }
    }

    fn track(&self, conn: Connection) {
        if let Ok(mut conns) = self.inner.connections.lock() {
            conns.retain(|c| !c.is_closed());
            conns.push(conn.clone());
            // Under the lock `hold` and `activate` take: not missed.
            conn.set_held(self.state() == AdapterState::Holding);
        }
        if self.state() == AdapterState::Deactivated {
            tokio::spawn(async move { conn.close().await });
        }
    }

    /// Dispatches one request: waits while held, finds the servant,
    /// answers the built-in operations and maps the outcome to a reply.
    pub async fn dispatch(&self, request: Request, connection: Connection) -> ReplyBody {
        dispatch_request(self.clone(), request, connection).await
    }

    /// Whether the adapter is active, after waiting while it is held.
    async fn wait_until_active(&self) -> bool {
        if *self.inner.state.borrow() == AdapterState::Active {
            return true;
        }
        let mut state = self.inner.state.subscribe();
        let now = state
            .wait_for(|s| *s != AdapterState::Holding)
            .await
            .map(|s| *s)
            .ok();
        now == Some(AdapterState::Active)
    }
}

/// Binds one of an adapter's endpoints (`tcp`, `ssl`, `ws`, `wss`):
/// returns the acceptor with the handshakes its connections go through,
/// and the endpoint as bound (port 0 replaced, a wildcard host made
/// loopback).
async fn bind_endpoint(
    name: &str,
    communicator: &Communicator,
    endpoint: &Endpoint,
) -> Result<((TcpAcceptor, Upgrade), Endpoint)> {
    let refuse = |reason| RuntimeError::Adapter {
        name: name.to_owned(),
        reason,
    };
    let transport = Transport::of(endpoint)
        .ok_or_else(|| refuse("only tcp, ssl, ws and wss endpoints are supported"))?;
    let ip = match endpoint {
        Endpoint::Tcp(ip) | Endpoint::Ssl(ip) => ip,
        Endpoint::Ws(ws) | Endpoint::Wss(ws) => &ws.ip,
        Endpoint::Udp(_) | Endpoint::Opaque(_) => {
            return Err(refuse("only tcp, ssl, ws and wss endpoints are supported"))
        }
    };
    let port = u16::try_from(ip.port).map_err(|_| refuse("port out of range"))?;
    let ssl = if transport.is_secure() {
        let engine = communicator.ssl_engine()?;
        if !engine.can_accept() {
            return Err(RuntimeError::Security {
                reason: format!(
                    "object adapter `{name}`: an {transport} endpoint needs IceSSL.CertFile"
                ),
            });
        }
        Some(engine)
    } else {
        None
    };
    let properties = communicator.properties();
    let sizes = crate::transport::BufferSizes::from_properties(&properties);
    let backlog = crate::transport::backlog_from_properties(&properties);
    let acceptor = TcpAcceptor::bind_with(&ip.host, port, sizes, backlog).await?;
    let addr = acceptor.local_addr()?;
    let host = if ip.host.is_empty() || ip.host == "0.0.0.0" || ip.host == "*" {
        "127.0.0.1".to_owned()
    } else {
        ip.host.clone()
    };
    let bound_ip = IpEndpoint {
        host,
        port: i32::from(addr.port()),
        ..ip.clone()
    };
    let bound = match endpoint {
        Endpoint::Ssl(_) => Endpoint::Ssl(bound_ip),
        Endpoint::Ws(ws) => Endpoint::Ws(crate::encoding::WsEndpoint {
            ip: bound_ip,
            ..ws.clone()
        }),
        Endpoint::Wss(ws) => Endpoint::Wss(crate::encoding::WsEndpoint {
            ip: bound_ip,
            ..ws.clone()
        }),
        _ => Endpoint::Tcp(bound_ip),
    };
    let upgrade = Upgrade {
        transport,
        ssl,
        adapter_name: name.to_owned(),
    };
    Ok(((acceptor, upgrade), bound))
}

/// [`ObjectAdapter::dispatch`] on an adapter it owns, as the boxed future
/// a connection's handler returns. An active adapter's request is looked
/// up and checked here, before any future is made (no servant code runs
/// here), and only what the servant's dispatch needs (servant,
/// [`Current`], parameters) goes into the box; a held adapter's request
/// waits in a future of its own.
fn dispatch_request(
    adapter: ObjectAdapter,
    request: Request,
    connection: Connection,
) -> BoxFuture<'static, ReplyBody> {
    if *adapter.inner.state.borrow() == AdapterState::Active {
        return dispatch_active(adapter, request, connection);
    }
    Box::pin(async move {
        if !adapter.wait_until_active().await {
            return ReplyBody::ObjectNotExist(failed(request.header));
        }
        dispatch_active(adapter, request, connection).await
    })
}

/// What a "does not exist" reply to a request with `header` names.
fn failed(header: RequestHeader) -> RequestFailed {
    RequestFailed {
        identity: header.identity,
        facet: header.facet,
        operation: header.operation,
    }
}

/// Dispatches a request to an active adapter: finds the servant, answers
/// the built-in operations and maps the outcome to a reply. The
/// identity, facet and operation move into the [`Current`]; a "does not
/// exist" reply takes them back.
fn dispatch_active(
    adapter: ObjectAdapter,
    request: Request,
    connection: Connection,
) -> BoxFuture<'static, ReplyBody> {
    let ready =
        |body: ReplyBody| -> BoxFuture<'static, ReplyBody> { Box::pin(std::future::ready(body)) };
    let Request { header, params } = request;
    let (servant, locator) = match adapter.lookup(&header.identity, &header.facet) {
        Lookup::Found(s) => (Some(s), None),
        missing => match adapter.locator_for(&header.identity.category) {
            Some(locator) => (None, Some((locator, matches!(missing, Lookup::NoFacet)))),
            None if matches!(missing, Lookup::NoFacet) => {
                return ready(ReplyBody::FacetNotExist(failed(header)))
            }
            None => return ready(ReplyBody::ObjectNotExist(failed(header))),
        },
    };
    if !params.encoding.is_supported() {
        // The text ZeroC Ice 3.7 sends, less its source location.
        return ready(ReplyBody::UnknownLocalException(format!(
            "::Ice::UnsupportedEncodingException:\nencoding error: unsupported encoding \
             version: {}\n(can only support encodings compatible with version 1.1)",
            params.encoding
        )));
    }
    let format = adapter.communicator().default_format();
    let current = Current {
        adapter,
        connection,
        id: header.identity,
        facet: header.facet,
        operation: header.operation,
        mode: header.mode,
        context: header.context,
        request_id: header.request_id,
        encoding: params.encoding,
        format,
    };
    let chain = current.adapter.interceptors();
    // Servant code (`type_ids` included) runs only when the future is
    // polled, where a panic is caught as the connection expects.
    match (servant, locator) {
        (Some(servant), _) => Box::pin(async move {
            let outcome = match chain {
                None => dispatch_to(servant.as_ref(), &current, params).await,
                Some(chain) => run_chain(&chain, servant.as_ref(), &current, params).await,
            };
            reply_body(outcome, current)
        }),
        (None, Some((locator, has_identity))) => Box::pin(async move {
            let (servant, cookie) = match locator.locate(&current).await {
                Ok(Some(found)) => found,
                Ok(None) if has_identity => {
                    return reply_body(Err(DispatchError::FacetNotExist), current)
                }
                Ok(None) => return reply_body(Err(DispatchError::ObjectNotExist), current),
                Err(e) => return reply_body(Err(e), current),
            };
            let outcome = match chain {
                None => dispatch_to(servant.as_ref(), &current, params).await,
                Some(chain) => run_chain(&chain, servant.as_ref(), &current, params).await,
            };
            let outcome = match locator.finished(&current, &servant, cookie).await {
                Ok(()) => outcome,
                Err(e) => Err(e),
            };
            reply_body(outcome, current)
        }),
        (None, None) => ready(ReplyBody::ObjectNotExist(RequestFailed {
            identity: current.id,
            facet: current.facet,
            operation: current.operation,
        })),
    }
}

/// Dispatches through the interceptors of `chain`, then to `servant`.
async fn run_chain(
    chain: &[Arc<dyn DispatchInterceptor>],
    servant: &dyn Servant,
    current: &Current,
    params: Encapsulation,
) -> DispatchResult {
    Next {
        servant,
        rest: chain,
    }
    .run(current, params)
    .await
}

/// Dispatches to `servant`: a built-in operation answered from its type
/// ids (unless the servant answers it: [`Servant::dispatches_builtins`]),
/// anything else through [`Servant::dispatch`].
async fn dispatch_to(
    servant: &dyn Servant,
    current: &Current,
    params: Encapsulation,
) -> DispatchResult {
    if is_builtin(&current.operation) && servant.dispatches_builtins() {
        match servant.dispatch(current, params.clone()).await {
            Err(DispatchError::OperationNotExist) => {}
            answered => return answered,
        }
    }
    match builtin(servant, current, &params) {
        Some(outcome) => outcome,
        None => servant.dispatch(current, params).await,
    }
}

/// Whether `operation` is one of Ice's built-in operations.
fn is_builtin(operation: &str) -> bool {
    matches!(operation, "ice_ping" | "ice_isA" | "ice_id" | "ice_ids")
}

/// The reply to a dispatch that ended with `outcome`.
fn reply_body(outcome: DispatchResult, current: Current) -> ReplyBody {
    let failed = move || RequestFailed {
        identity: current.id,
        facet: current.facet,
        operation: current.operation,
    };
    match outcome {
        Ok(results) => ReplyBody::Ok(results),
        Err(DispatchError::UserException(ex)) => {
            ReplyBody::UserException(encapsulate(current.encoding, current.format, |out| {
                out.write_exception(ex.as_ref());
            }))
        }
        Err(DispatchError::EncodedUserException(e)) => ReplyBody::UserException(e),
        Err(DispatchError::ObjectNotExist) => ReplyBody::ObjectNotExist(failed()),
        Err(DispatchError::FacetNotExist) => ReplyBody::FacetNotExist(failed()),
        Err(DispatchError::OperationNotExist) => ReplyBody::OperationNotExist(failed()),
        Err(DispatchError::UnknownLocalException(s)) => ReplyBody::UnknownLocalException(s),
        Err(DispatchError::UnknownUserException(s)) => ReplyBody::UnknownUserException(s),
        Err(DispatchError::UnknownException(s)) => ReplyBody::UnknownException(s),
    }
}

enum Lookup {
    Found(Arc<dyn Servant>),
    NoFacet,
    NoObject,
}

/// The sorted type ids of a servant, `::Ice::Object` included.
fn sorted_ids(servant: &dyn Servant) -> Vec<String> {
    let mut ids: Vec<String> = servant.type_ids().iter().map(|s| (*s).to_owned()).collect();
    if !ids.iter().any(|s| s == OBJECT_TYPE_ID) {
        ids.push(OBJECT_TYPE_ID.to_owned());
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Answers `ice_ping`, `ice_isA`, `ice_id` and `ice_ids`; `None` for any
/// other operation.
fn builtin(
    servant: &dyn Servant,
    current: &Current,
    params: &Encapsulation,
) -> Option<DispatchResult> {
    let result = match current.operation.as_str() {
        "ice_ping" => Ok(current.results(|_| {})),
        "ice_isA" => Current::params_stream(params).and_then(|mut input| {
            let id = input.read_string()?;
            let is_a = sorted_ids(servant).contains(&id);
            Ok(current.results(|out| out.write_bool(is_a)))
        }),
        "ice_id" => {
            let id = servant
                .type_ids()
                .first()
                .copied()
                .unwrap_or(OBJECT_TYPE_ID)
                .to_owned();
            Ok(current.results(|out| out.write_string(&id)))
        }
        "ice_ids" => {
            let ids = sorted_ids(servant);
            Ok(current.results(|out| out.write(&ids)))
        }
        _ => return None,
    };
    Some(result)
}

/// A random (version 4) UUID in its usual text form, in upper case as
/// ZeroC's `generateUUID` makes them: what [`ObjectAdapter::add_with_uuid`] names
/// servants with.
#[must_use]
pub fn generate_uuid() -> String {
    let mut bytes = [0u8; 16];
    // The ring provider the IceSSL transport uses (see `transport::ssl` for
    // why despite its deprecation), for its system randomness.
    #[allow(deprecated)]
    let random = rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes);
    if random.is_err() {
        // No system randomness: a clock- and counter-based fallback,
        // still unique within this process.
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..8].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        bytes[8..].copy_from_slice(&nanos.to_le_bytes()[..8]);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests;
