//! The communicator: properties, outgoing connections (one per endpoint,
//! reused), object adapters, and the settings invocations read.
//!
//! Settings read from [`Properties`]:
//! `Ice.MessageSizeMax` (KiB, default 1024), `Ice.Default.EncodingVersion`,
//! `Ice.Default.Host`, `Ice.Default.Protocol`, `Ice.Default.Timeout`,
//! `Ice.Default.InvocationTimeout` (ms, -1 none), `Ice.Override.Compress`,
//! `Ice.RetryIntervals` (ms list, default `0`: one immediate retry; `-1`:
//! none),
//! `Ice.ACM.Heartbeat`/`Ice.ACM.Timeout` (a heartbeat after a quarter of the
//! timeout without writes: only while dispatching with the default 1,
//! always with 2 or 3, never with 0), `Ice.Trace.Network` and
//! `Ice.Trace.Protocol` (as `tracing` events with targets
//! `ice::trace::network` and `ice::trace::protocol`),
//! `Ice.ACM.Close`/`Ice.ACM.Client.Close`/`Ice.ACM.Server.Close` with
//! `Ice.ACM[.Client|.Server].Timeout` (0 off, 1 close idle connections
//! gracefully, 2 close forcefully a connection silent while invocations
//! wait, 3 both, 4 close forcefully any silent connection; Ice's defaults
//! are 3 for outgoing and 2 for accepted connections, after 60 s), and
//! `Ice.Default.Locator` (the locator of every new proxy),
//! `Ice.Default.LocatorCacheTimeout` (seconds, -1 for ever),
//! `Ice.Trace.Locator` (target `ice::trace::locator`),
//! `Ice.Default.EndpointSelection` (`Random`, the default, or `Ordered`),
//! `Ice.Default.SlicedFormat` (above 0: classes and exceptions in the sliced
//! format where the operation's metadata does not choose),
//! `Ice.TCP.Backlog` (listen queue, default `SOMAXCONN` as ZeroC's C++),
//! `IceProto.SendQueueSizeMax` (KiB of replies and other messages a
//! connection queues before it stops reading its peer's requests; default
//! 16384, see [`ConnectionConfig::send_queue_max`]),
//! and per
//! adapter
//! `<Name>.Endpoints`, `<Name>.PublishedEndpoints`,
//! `<Name>.ThreadPool.Size`/`SizeMax` (dispatch concurrency per connection;
//! `Ice.ThreadPool.Server.Size`/`SizeMax` when the adapter sets neither),
//! `<Name>.MessageSizeMax` (KiB, before `Ice.MessageSizeMax`, for the
//! adapter's connections),
//! `<Name>.AdapterId`, `<Name>.ReplicaGroupId` and `<Name>.Locator`
//! (registration with the locator registry, see [`crate::locator`]).
//!
//! Proxy strings are parsed by [`crate::reference`]; this module turns the
//! result into live [`ObjectPrx`] values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::adapter::ObjectAdapter;
use crate::connection::{Connection, ConnectionConfig, DEFAULT_SEND_QUEUE_MAX};
use crate::encoding::{EncodingVersion, Endpoint, Identity, ProxyData};
use crate::locator::Locator;
use crate::properties::Properties;
use crate::proxy::ObjectPrx;
use crate::reference::{self, ParseDefaults};
use crate::runtime_error::{Result, RuntimeError};
use crate::transport::ssl::SslEngine;
use crate::transport::{Target, Transport};

type ConnectionSlot = Arc<tokio::sync::Mutex<Option<Connection>>>;

struct Inner {
    /// Settable after creation ([`Communicator::set_property`]).
    properties: std::sync::RwLock<Properties>,
    defaults: ParseDefaults,
    /// Settings of outgoing connections.
    config: ConnectionConfig,
    /// Settings of accepted connections (before per-adapter changes).
    server_config: ConnectionConfig,
    invocation_timeout: Option<Duration>,
    retry_intervals: Vec<Duration>,
    /// One slot per endpoint; a slot's lock is held while connecting, so
    /// concurrent callers share one new connection while other endpoints
    /// are not held up.
    connections: Mutex<HashMap<Target, ConnectionSlot>>,
    /// The `IceSSL.*` configuration, read when first needed.
    ssl: std::sync::OnceLock<Result<Arc<SslEngine>>>,
    adapters: Mutex<Vec<ObjectAdapter>>,
    shutdown: watch::Sender<bool>,
    /// `Ice.Default.Locator`, parsed.
    default_locator: Option<Arc<Locator>>,
    /// `Ice.Default.LocatorCacheTimeout`.
    locator_cache_timeout: i32,
    /// `Ice.Default.EndpointSelection` is `Random` (the default), not `Ordered`.
    random_endpoints: bool,
    /// `Ice.Default.PreferSecure`: secure endpoints are tried first.
    prefer_secure: bool,
    /// `Ice.Default.SlicedFormat`: sliced when above 0, else compact.
    default_format: crate::encoding::Format,
    /// Set once the `Process` admin facet is registered with the locator.
    process_registered: tokio::sync::OnceCell<()>,
    /// Value factories, consulted before the generated classes.
    value_factories: crate::encoding::ValueFactoryManager,
    /// One locator (and cache) per locator proxy, keyed by its text.
    locators: Mutex<HashMap<String, Arc<Locator>>>,
}

/// The root of an Ice runtime: configuration, connections and adapters.
/// Clones share it.
#[derive(Clone)]
pub struct Communicator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Communicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Communicator").finish_non_exhaustive()
    }
}

fn parse_encoding(text: &str) -> Option<EncodingVersion> {
    let (major, minor) = text.trim().split_once('.')?;
    Some(EncodingVersion {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
    })
}

/// Shuffles `items` (Fisher-Yates) with a seed from the standard
/// library's per-process random hasher keys: endpoint selection needs no
/// more than that.
fn shuffle<T>(items: &mut [T]) {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_usize(items.len());
    let mut state = hasher.finish() | 1;
    for i in (1..items.len()).rev() {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).unwrap_or(0);
        items.swap(i, j);
    }
}

/// The close mode Ice 3.7 uses when none is set: `CloseOnInvocationAndIdle`
/// for outgoing connections, `CloseOnInvocation` for accepted ones (as a
/// ZeroC connection's `getACM()` reports).
fn default_close_mode(side: &str) -> i64 {
    if side == "Client" {
        3
    } else {
        2
    }
}

/// The ACM close settings of one side, as
/// `(idle_close, close_on_invocation, forceful_idle_close)`:
/// `Ice.ACM.<side>.Close` (else `Ice.ACM.Close`, else Ice's default for
/// the side) picks the mode (0 off, 1 on idle, 2 on invocation, 3 both, 4
/// forceful on idle), `Ice.ACM.<side>.Timeout` (else `Ice.ACM.Timeout`,
/// else 60) the seconds of silence; a timeout of 0 turns them all off.
type AcmClose = (Option<Duration>, Option<Duration>, Option<Duration>);
fn acm_close(properties: &Properties, side: &str) -> AcmClose {
    let get = |name: &str| {
        properties
            .get_property(&format!("Ice.ACM.{side}.{name}"))
            .or_else(|| properties.get_property(&format!("Ice.ACM.{name}")))
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let timeout = get("Timeout").unwrap_or(60);
    if timeout <= 0 {
        return (None, None, None);
    }
    let t = Some(Duration::from_secs(u64::try_from(timeout).unwrap_or(60)));
    match get("Close").unwrap_or_else(|| default_close_mode(side)) {
        1 => (t, None, None),
        2 => (None, t, None),
        3 => (t, t, None),
        4 => (None, None, t),
        _ => (None, None, None),
    }
}

impl Communicator {
    /// A communicator configured by `properties`.
    #[must_use]
    pub fn new(properties: Properties) -> Self {
        let size_kib = properties.get_property_as_int_with_default("Ice.MessageSizeMax", 1024);
        let message_size_max = if size_kib < 1 {
            i32::MAX as usize
        } else {
            usize::try_from(size_kib)
                .unwrap_or(1024)
                .saturating_mul(1024)
        };
        let encoding = properties
            .get_property("Ice.Default.EncodingVersion")
            .and_then(parse_encoding)
            .unwrap_or(EncodingVersion::V1_1);
        let defaults = ParseDefaults {
            host: properties
                .get_property("Ice.Default.Host")
                .map(str::to_owned),
            protocol: properties
                .get_property_with_default("Ice.Default.Protocol", "tcp")
                .to_owned(),
            timeout: properties.get_property_as_int_with_default("Ice.Default.Timeout", 60_000),
            encoding,
        };
        let invocation_timeout = match properties
            .get_property_as_int_with_default("Ice.Default.InvocationTimeout", -1)
        {
            n if n > 0 => Some(Duration::from_millis(u64::try_from(n).unwrap_or(0))),
            _ => None,
        };
        let retry_intervals = properties
            .get_property_as_list_with_default("Ice.RetryIntervals", &["0"])
            .unwrap_or_default();
        let retry_intervals = if retry_intervals.first().map(String::as_str) == Some("-1") {
            Vec::new()
        } else {
            retry_intervals
                .iter()
                .filter_map(|s| s.parse::<u64>().ok())
                .map(Duration::from_millis)
                .collect()
        };
        let acm_timeout = properties.get_property_as_int_with_default("Ice.ACM.Timeout", 60);
        // Ice sends a heartbeat after a quarter of the ACM timeout without writes.
        let period = (acm_timeout > 0)
            .then(|| Duration::from_millis(u64::try_from(acm_timeout).unwrap_or(60) * 250));
        let mode = properties.get_property_as_int_with_default("Ice.ACM.Heartbeat", 1);
        // A bound of our own (ZeroC queues without one); not under `Ice.`,
        // where ZeroC programs reading the same file warn about unknown
        // properties. In KiB, as `Ice.MessageSizeMax`; below 1 keeps the
        // default: the queue is never unbounded.
        let send_queue_max = match properties.get_property_as_int("IceProto.SendQueueSizeMax") {
            kib if kib >= 1 => {
                usize::try_from(kib).map_or(DEFAULT_SEND_QUEUE_MAX, |kib| kib.saturating_mul(1024))
            }
            _ => DEFAULT_SEND_QUEUE_MAX,
        };
        let config = ConnectionConfig {
            message_size_max,
            send_queue_max,
            heartbeat: if mode >= 2 { period } else { None },
            heartbeat_on_dispatch: if mode == 1 { period } else { None },
            trace_network: properties.get_property_as_int("Ice.Trace.Network"),
            trace_protocol: properties.get_property_as_int("Ice.Trace.Protocol"),
            ..ConnectionConfig::default()
        };
        let (idle_close, close_on_invocation, forceful_idle_close) =
            acm_close(&properties, "Server");
        let server_config = ConnectionConfig {
            idle_close,
            close_on_invocation,
            forceful_idle_close,
            ..config.clone()
        };
        let (idle_close, close_on_invocation, forceful_idle_close) =
            acm_close(&properties, "Client");
        let config = ConnectionConfig {
            idle_close,
            close_on_invocation,
            forceful_idle_close,
            ..config
        };
        let default_locator = properties
            .get_property("Ice.Default.Locator")
            .filter(|text| !text.trim().is_empty())
            .and_then(|text| match reference::parse(text, &defaults) {
                Ok(data) => data,
                Err(e) => {
                    tracing::warn!(locator = text, error = %e, "invalid Ice.Default.Locator ignored");
                    None
                }
            })
            .map(|data| {
                Arc::new(
                    Locator::new(data)
                        .with_trace_level(properties.get_property_as_int("Ice.Trace.Locator")),
                )
            });
        let locators = default_locator
            .iter()
            .map(|l| (reference::to_string(l.proxy_data()), l.clone()))
            .collect();
        let locator_cache_timeout =
            properties.get_property_as_int_with_default("Ice.Default.LocatorCacheTimeout", -1);
        Self {
            inner: Arc::new(Inner {
                default_locator,
                locator_cache_timeout,
                process_registered: tokio::sync::OnceCell::new(),
                value_factories: crate::encoding::ValueFactoryManager::new(),
                prefer_secure: properties.get_property_as_int("Ice.Default.PreferSecure") > 0,
                random_endpoints: properties
                    .get_property_with_default("Ice.Default.EndpointSelection", "Random")
                    .trim()
                    != "Ordered",
                default_format: if properties.get_property_as_int("Ice.Default.SlicedFormat") > 0 {
                    crate::encoding::Format::Sliced
                } else {
                    crate::encoding::Format::Compact
                },
                locators: Mutex::new(locators),
                properties: std::sync::RwLock::new(properties),
                defaults,
                config,
                server_config,
                invocation_timeout,
                retry_intervals,
                connections: Mutex::new(HashMap::new()),
                ssl: std::sync::OnceLock::new(),
                adapters: Mutex::new(Vec::new()),
                shutdown: watch::Sender::new(false),
            }),
        }
    }

    /// A copy of the communicator's properties: those it was built from,
    /// with what [`Communicator::set_property`] changed since.
    #[must_use]
    pub fn properties(&self) -> Properties {
        self.inner
            .properties
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `f` of the properties, read in place.
    fn with_properties<R>(&self, f: impl FnOnce(&Properties) -> R) -> R {
        f(&self
            .inner
            .properties
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Sets a property after creation, as ZeroC's
    /// `getProperties().setProperty(...)`: object adapters created
    /// afterwards read it (`<Name>.Endpoints`, `<Name>.MessageSizeMax`...),
    /// as does anything read when first used (IceSSL, the admin
    /// settings). Settings read at creation (`Ice.MessageSizeMax`, ACM,
    /// defaults of proxies) keep their values, as in ZeroC. An empty value
    /// removes the property.
    pub fn set_property(&self, key: &str, value: &str) {
        self.inner
            .properties
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .set_property(key, value);
    }

    /// The settings new outgoing connections get.
    #[must_use]
    pub fn connection_config(&self) -> &ConnectionConfig {
        &self.inner.config
    }

    /// `Ice.Default.EncodingVersion`.
    #[must_use]
    pub fn default_encoding(&self) -> EncodingVersion {
        self.inner.defaults.encoding
    }

    /// The class and exception format of operations without `["format:...]`
    /// metadata (`Ice.Default.SlicedFormat`).
    #[must_use]
    pub fn default_format(&self) -> crate::encoding::Format {
        self.inner.default_format
    }

    /// The value factories (Ice's `getValueFactoryManager`): asked for an
    /// instance of each class slice that arrives, before the generated
    /// classes, in replies and in requests alike.
    #[must_use]
    pub fn value_factory_manager(&self) -> &crate::encoding::ValueFactoryManager {
        &self.inner.value_factories
    }

    /// `Ice.Default.InvocationTimeout`, `None` for no timeout.
    #[must_use]
    pub fn invocation_timeout(&self) -> Option<Duration> {
        self.inner.invocation_timeout
    }

    /// `Ice.Override.Compress`, when set: whether every proxy compresses.
    #[must_use]
    pub fn override_compress(&self) -> Option<bool> {
        self.with_properties(|p| {
            p.get_property("Ice.Override.Compress")
                .map(|v| v.trim().parse::<i32>().map(|n| n > 0).unwrap_or(false))
        })
    }

    /// `Ice.RetryIntervals`: the wait before each retry; empty for none.
    #[must_use]
    pub fn retry_intervals(&self) -> &[Duration] {
        &self.inner.retry_intervals
    }

    /// The locator of `Ice.Default.Locator`, if set.
    #[must_use]
    pub fn default_locator(&self) -> Option<Arc<Locator>> {
        self.inner.default_locator.clone()
    }

    /// `Ice.Default.LocatorCacheTimeout` in seconds (-1, the default: for ever).
    #[must_use]
    pub fn default_locator_cache_timeout(&self) -> i32 {
        self.inner.locator_cache_timeout
    }

    /// The locator reached through `data`, shared (with its cache) by
    /// every proxy that uses the same locator proxy.
    #[must_use]
    pub fn locator(&self, data: &ProxyData) -> Arc<Locator> {
        let key = reference::to_string(data);
        match self.inner.locators.lock() {
            Ok(mut map) => map
                .entry(key)
                .or_insert_with(|| {
                    Arc::new(Locator::new(data.clone()).with_trace_level(
                        self.with_properties(|p| p.get_property_as_int("Ice.Trace.Locator")),
                    ))
                })
                .clone(),
            Err(_) => Arc::new(Locator::new(data.clone())),
        }
    }

    /// Serves and registers the `Process` admin facet with `locator`'s
    /// registry once, when `Ice.Admin.ServerId` and `Ice.Admin.Endpoints`
    /// ask for it (see [`crate::locator::process`]); called when an
    /// adapter registers its endpoints.
    ///
    /// # Errors
    /// As [`crate::locator::process`] registration: the registry does not
    /// know the server, or cannot be reached.
    pub(crate) async fn register_process_once(&self, locator: &Locator) -> Result<()> {
        let Some((server_id, endpoints)) =
            crate::locator::process::admin_settings(&self.properties())
        else {
            return Ok(());
        };
        self.inner
            .process_registered
            .get_or_try_init(|| {
                crate::locator::process::register_process(self, locator, &server_id, &endpoints)
            })
            .await
            .map(drop)
    }

    /// Parses a stringified proxy; `Ok(None)` for the null proxy.
    ///
    /// # Errors
    /// [`RuntimeError::ProxyParse`] when Ice would reject the text.
    pub fn string_to_proxy(&self, text: &str) -> Result<Option<ObjectPrx>> {
        let data = reference::parse(text, &self.inner.defaults).map_err(|e| {
            tracing::debug!(error = %e, "proxy parse failed");
            RuntimeError::ProxyParse {
                text: text.to_owned(),
            }
        })?;
        Ok(data.map(|d| self.proxy(d)))
    }

    /// The stringified form of a proxy, as Ice prints it.
    #[must_use]
    pub fn proxy_to_string(&self, proxy: &ObjectPrx) -> String {
        reference::to_string(proxy.data())
    }

    /// A live proxy for `data`.
    #[must_use]
    pub fn proxy(&self, data: ProxyData) -> ObjectPrx {
        ObjectPrx::new(self.clone(), data, None)
    }

    /// A proxy to `identity` at `endpoints`, in the default encoding.
    #[must_use]
    pub fn direct_proxy(&self, identity: Identity, endpoints: Vec<Endpoint>) -> ObjectPrx {
        let mut data = ProxyData::new(identity.name.clone());
        data.identity = identity;
        data.endpoints = endpoints;
        data.encoding = self.inner.defaults.encoding;
        self.proxy(data)
    }

    /// A proxy to `identity` bound to `connection` (a callback over a
    /// bidirectional connection, or Ice's `createProxy` on a connection).
    #[must_use]
    pub fn fixed_proxy(&self, identity: Identity, connection: Connection) -> ObjectPrx {
        let mut data = ProxyData::new(identity.name.clone());
        data.identity = identity;
        data.encoding = self.inner.defaults.encoding;
        ObjectPrx::new(self.clone(), data, Some(connection))
    }

    /// Parses an endpoint list such as `tcp -h 127.0.0.1 -p 0:tcp -p 4061`.
    ///
    /// # Errors
    /// [`RuntimeError::EndpointParse`] when Ice would reject it.
    pub fn parse_endpoints(&self, text: &str) -> Result<Vec<Endpoint>> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let fake = format!("x:{text}");
        match reference::parse(&fake, &self.inner.defaults) {
            Ok(Some(data)) => Ok(data.endpoints),
            Ok(None) => Ok(Vec::new()),
            Err(_) => Err(RuntimeError::EndpointParse {
                text: text.to_owned(),
                reason: "not an Ice endpoint list",
            }),
        }
    }

    /// Creates an adapter from `<name>.Endpoints` (and
    /// `<name>.PublishedEndpoints`); it starts holding: call
    /// [`ObjectAdapter::activate`].
    ///
    /// # Errors
    /// [`RuntimeError::Adapter`] when `<name>.Endpoints` is missing or
    /// invalid, [`RuntimeError::Io`] when binding fails.
    pub async fn create_object_adapter(&self, name: &str) -> Result<ObjectAdapter> {
        let endpoints = self.with_properties(|p| {
            p.get_property(&format!("{name}.Endpoints"))
                .unwrap_or("")
                .to_owned()
        });
        self.create_object_adapter_with_endpoints(name, &endpoints)
            .await
    }

    /// Creates an adapter listening on `endpoints` (Ice's
    /// `createObjectAdapterWithEndpoints`).
    ///
    /// # Errors
    /// As [`Communicator::create_object_adapter`].
    pub async fn create_object_adapter_with_endpoints(
        &self,
        name: &str,
        endpoints: &str,
    ) -> Result<ObjectAdapter> {
        if *self.inner.shutdown.borrow() {
            return Err(RuntimeError::ShutDown {
                what: "communicator",
            });
        }
        let props = &self.properties();
        let endpoints = self.parse_endpoints(endpoints)?;
        let published = match props.get_property(&format!("{name}.PublishedEndpoints")) {
            Some(text) => Some(self.parse_endpoints(text)?),
            None => None,
        };
        // `<name>.ThreadPool.*` when the adapter has a pool of its own,
        // else the server pool's `Ice.ThreadPool.Server.*`, as ZeroC.
        let pool = if props
            .get_property(&format!("{name}.ThreadPool.Size"))
            .or_else(|| props.get_property(&format!("{name}.ThreadPool.SizeMax")))
            .is_some()
        {
            format!("{name}.ThreadPool")
        } else {
            "Ice.ThreadPool.Server".to_owned()
        };
        let size = props.get_property_as_int_with_default(&format!("{pool}.Size"), 1);
        let size_max = props.get_property_as_int_with_default(&format!("{pool}.SizeMax"), size);
        let server_config = &self.inner.server_config;
        // `<name>.MessageSizeMax` (KiB) before `Ice.MessageSizeMax`.
        let message_size_max = match props.get_property(&format!("{name}.MessageSizeMax")) {
            Some(text) => match text.trim().parse::<i64>() {
                Ok(kib) if kib < 1 => i32::MAX as usize,
                Ok(kib) => usize::try_from(kib)
                    .map_or(server_config.message_size_max, |k| k.saturating_mul(1024)),
                Err(_) => server_config.message_size_max,
            },
            None => server_config.message_size_max,
        };
        let config = ConnectionConfig {
            max_dispatches: usize::try_from(size.max(size_max)).unwrap_or(1).max(1),
            message_size_max,
            ..server_config.clone()
        };
        let locator = match props.get_property(&format!("{name}.Locator")) {
            Some(text) if !text.trim().is_empty() => {
                let data = reference::parse(text, &self.inner.defaults)
                    .ok()
                    .flatten()
                    .ok_or_else(|| RuntimeError::ProxyParse {
                        text: text.to_owned(),
                    })?;
                Some(self.locator(&data))
            }
            _ => self.default_locator(),
        };
        let registration = crate::adapter::Registration {
            adapter_id: props
                .get_property(&format!("{name}.AdapterId"))
                .unwrap_or("")
                .trim()
                .to_owned(),
            replica_group_id: props
                .get_property(&format!("{name}.ReplicaGroupId"))
                .unwrap_or("")
                .trim()
                .to_owned(),
            locator,
        };
        let adapter = ObjectAdapter::create(
            name.to_owned(),
            self.clone(),
            endpoints,
            published,
            config,
            registration,
        )
        .await?;
        if let Ok(mut adapters) = self.inner.adapters.lock() {
            adapters.push(adapter.clone());
        }
        Ok(adapter)
    }

    /// The `IceSSL.*` configuration (read once, on first use), for `ssl`
    /// and `wss` endpoints.
    ///
    /// # Errors
    /// [`RuntimeError::Security`] when the configuration is invalid (the
    /// same error every time).
    pub fn ssl_engine(&self) -> Result<Arc<SslEngine>> {
        self.inner
            .ssl
            .get_or_init(|| SslEngine::from_properties(&self.properties()).map(Arc::new))
            .clone()
    }

    /// The connection to use for a proxy: its fixed connection, or an
    /// open connection to one of its stream endpoints (`tcp`, `ssl`, `ws`,
    /// `wss`; only secure ones for a secure proxy), reused, or a new one.
    ///
    /// As Ice does, an open connection to any of the endpoints is reused
    /// first; otherwise the endpoints are tried in random order
    /// (`Ice.Default.EndpointSelection=Random`, the default) or in order
    /// (`Ordered`), non-secure ones before secure ones unless
    /// `Ice.Default.PreferSecure` is set.
    pub(crate) async fn connection_for(&self, data: &ProxyData) -> Result<Connection> {
        let default_host = self
            .inner
            .defaults
            .host
            .clone()
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let mut targets: Vec<Target> = data
            .endpoints
            .iter()
            .filter_map(|endpoint| Target::of(endpoint, &default_host))
            .filter(|t| !data.secure || t.transport.is_secure())
            .collect();
        if targets.len() > 1 {
            let open: Vec<ConnectionSlot> = match self.inner.connections.lock() {
                Ok(map) => targets.iter().filter_map(|k| map.get(k).cloned()).collect(),
                Err(_) => Vec::new(),
            };
            for slot in open {
                // A slot being connected is skipped here, not waited for.
                if let Ok(slot) = slot.try_lock() {
                    if let Some(conn) = slot.as_ref().filter(|c| !c.is_closed()) {
                        return Ok(conn.clone());
                    }
                }
            }
            if self.inner.random_endpoints {
                shuffle(&mut targets);
            }
            // Stable: the order chosen above holds within each group.
            let prefer_secure = self.inner.prefer_secure;
            targets.sort_by_key(|t| t.transport.is_secure() != prefer_secure);
        }
        let mut last_error = None;
        for key in targets {
            let slot = match self.inner.connections.lock() {
                Ok(mut map) => map.entry(key.clone()).or_default().clone(),
                Err(_) => {
                    return Err(RuntimeError::ShutDown {
                        what: "communicator",
                    })
                }
            };
            let mut slot = slot.lock().await;
            if let Some(conn) = slot.as_ref() {
                if !conn.is_closed() {
                    return Ok(conn.clone());
                }
            }
            *slot = None;
            match self.connect_to(&key).await {
                Ok(conn) => {
                    *slot = Some(conn.clone());
                    return Ok(conn);
                }
                Err(e) => {
                    tracing::debug!(target = %key, error = %e, "connect failed");
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| RuntimeError::NoEndpoint {
            proxy: reference::identity_to_string(&data.identity),
        }))
    }

    /// Opens a new connection to `target`: TCP, then the transport's
    /// handshakes, then Ice's validation.
    async fn connect_to(&self, target: &Target) -> Result<Connection> {
        let sizes = crate::transport::BufferSizes::from_properties(&self.properties());
        let stream = crate::transport::connect_with(&target.host, target.port, sizes).await?;
        let description = format!("{}:{}", target.host, target.port);
        let config = self.inner.config.clone();
        if target.transport == Transport::Tcp {
            let info = crate::transport::ConnectionInfo::tcp(&stream, false, "");
            return Connection::connect_with_info(stream, info, description, config, None).await;
        }
        let engine = if target.transport.is_secure() {
            Some(self.ssl_engine()?)
        } else {
            None
        };
        let (stream, info) =
            crate::transport::upgrade_outgoing(stream, target, engine.as_deref()).await?;
        if config.trace_network > 0 {
            if let Some(ssl) = &info.ssl {
                tracing::info!(
                    target: "ice::trace::network",
                    connection = %description,
                    cipher = %ssl.cipher,
                    protocol = %ssl.protocol,
                    peer = ssl.subject.as_deref().unwrap_or("(no certificate)"),
                    "TLS handshake done"
                );
            }
        }
        Connection::connect_with_info(stream, info, description, config, None)
            .await
            .map_err(crate::transport::ssl::classify)
    }

    /// Sends the batch requests queued on every connection, outgoing and
    /// accepted (Ice's `Communicator::flushBatchRequests`: those of fixed
    /// proxies; other proxies keep their own queues).
    ///
    /// # Errors
    /// The first failure; every connection is flushed either way.
    pub async fn flush_batch_requests(&self) -> Result<()> {
        let slots: Vec<_> = self
            .inner
            .connections
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        let mut connections = Vec::new();
        for slot in slots {
            if let Some(conn) = slot.lock().await.as_ref() {
                connections.push(conn.clone());
            }
        }
        let adapters: Vec<_> = self
            .inner
            .adapters
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        for adapter in adapters {
            connections.extend(adapter.connections());
        }
        let mut first_error = None;
        for conn in connections {
            if let Err(e) = conn.flush_batch_requests() {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Starts deactivating every adapter and returns, as ZeroC's
    /// `shutdown`: no new request is dispatched, requests under way
    /// finish and send their replies, then each connection closes
    /// gracefully. Callable from inside a dispatch (whose reply still goes
    /// out); [`Communicator::wait_for_shutdown`] waits for all of it.
    pub async fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
        for adapter in self.adapters() {
            adapter.begin_deactivate();
        }
    }

    fn adapters(&self) -> Vec<ObjectAdapter> {
        self.inner
            .adapters
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }

    /// Waits until [`Communicator::shutdown`] has been called and its
    /// work is done: every adapter's dispatches finished and connections
    /// closed.
    pub async fn wait_for_shutdown(&self) {
        let mut rx = self.inner.shutdown.subscribe();
        let _ = rx.wait_for(|down| *down).await;
        for adapter in self.adapters() {
            adapter.wait_for_deactivate().await;
        }
    }

    /// Shuts down, destroys the adapters and closes outgoing connections
    /// gracefully.
    pub async fn destroy(&self) {
        self.shutdown().await;
        let adapters: Vec<_> = self
            .inner
            .adapters
            .lock()
            .map(|mut a| a.drain(..).collect())
            .unwrap_or_default();
        for adapter in adapters {
            adapter.destroy().await;
        }
        let slots: Vec<_> = self
            .inner
            .connections
            .lock()
            .map(|mut m| m.drain().map(|(_, slot)| slot).collect())
            .unwrap_or_default();
        for slot in slots {
            let conn = slot.lock().await.take();
            if let Some(conn) = conn {
                conn.close().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acm_close_modes_are_read_per_side_with_ice_defaults() {
        let secs = |n| Some(Duration::from_secs(n));
        let modes =
            |c: &ConnectionConfig| (c.idle_close, c.close_on_invocation, c.forceful_idle_close);
        // Ice 3.7: CloseOnInvocationAndIdle out, CloseOnInvocation in, 60 s.
        let defaults = Communicator::new(Properties::new());
        assert_eq!(
            modes(defaults.connection_config()),
            (secs(60), secs(60), None)
        );
        assert_eq!(modes(&defaults.inner.server_config), (None, secs(60), None));
        let both = Communicator::new(
            Properties::new()
                .with("Ice.ACM.Close", "1")
                .with("Ice.ACM.Timeout", "7")
                .with("Ice.ACM.Server.Close", "2"),
        );
        assert_eq!(modes(both.connection_config()), (secs(7), None, None));
        assert_eq!(modes(&both.inner.server_config), (None, secs(7), None));
        let client = Communicator::new(
            Properties::new()
                .with("Ice.ACM.Client.Close", "4")
                .with("Ice.ACM.Client.Timeout", "3")
                .with("Ice.ACM.Server.Close", "0"),
        );
        assert_eq!(modes(client.connection_config()), (None, None, secs(3)));
        assert_eq!(modes(&client.inner.server_config), (None, None, None));
        let off = Communicator::new(Properties::new().with("Ice.ACM.Timeout", "0"));
        assert_eq!(modes(off.connection_config()), (None, None, None));
    }

    /// Two adapters' ports.
    async fn two_servers(server: &Communicator) -> Result<(u16, u16)> {
        let mut ports = Vec::new();
        for name in ["A", "B"] {
            let adapter = server
                .create_object_adapter_with_endpoints(name, "tcp -h 127.0.0.1 -p 0")
                .await?;
            adapter.activate();
            match adapter.endpoints().first() {
                Some(Endpoint::Tcp(ip)) => ports.push(u16::try_from(ip.port).unwrap_or(0)),
                _ => ports.push(0),
            }
        }
        Ok((ports[0], ports[1]))
    }

    fn port_of(conn: &Connection) -> u16 {
        conn.description()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn endpoint_selection_prefers_open_connections_then_order_or_chance() -> Result<()> {
        let server = Communicator::new(Properties::new());
        let (a, b) = two_servers(&server).await?;
        let both = format!("x:tcp -h 127.0.0.1 -p {a}:tcp -h 127.0.0.1 -p {b}");
        let only_b = format!("x:tcp -h 127.0.0.1 -p {b}");
        let parse = |c: &Communicator, text: &str| {
            c.string_to_proxy(text)?.ok_or(RuntimeError::ProxyParse {
                text: text.to_owned(),
            })
        };

        let ordered =
            Communicator::new(Properties::new().with("Ice.Default.EndpointSelection", "Ordered"));
        assert_eq!(
            port_of(&parse(&ordered, &both)?.ice_get_connection().await?),
            a
        );
        ordered.destroy().await;

        // An open connection to the second endpoint is used before trying
        // the first.
        let ordered =
            Communicator::new(Properties::new().with("Ice.Default.EndpointSelection", "Ordered"));
        let to_b = parse(&ordered, &only_b)?.ice_get_connection().await?;
        let reused = parse(&ordered, &both)?.ice_get_connection().await?;
        assert_eq!(reused, to_b);
        ordered.destroy().await;

        // Random (the default): both endpoints get picked.
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..40 {
            let random = Communicator::new(Properties::new());
            seen.insert(port_of(&parse(&random, &both)?.ice_get_connection().await?));
            random.destroy().await;
            if seen.len() == 2 {
                break;
            }
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        server.destroy().await;
        Ok(())
    }
}
