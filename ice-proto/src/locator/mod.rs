//! The locator client: resolving indirect proxies through an Ice locator
//! (IceGrid's registry), with a cache, and registering adapter endpoints
//! with the locator registry.
//!
//! A proxy without endpoints is *indirect*: `id@adapter` names an object
//! adapter, a bare `id` is a *well-known* object. Before connecting, such a
//! proxy asks its locator (`Ice.Default.Locator`, `<Adapter>.Locator`, or
//! [`crate::proxy::ObjectPrx::ice_locator`]):
//! `Ice::Locator::findAdapterById(string) -> Object*` for an adapter id,
//! `Ice::Locator::findObjectById(Ice::Identity) -> Object*` for a
//! well-known object (whose answer may itself be `id@adapter`, resolved in
//! turn). Ice's `AdapterNotFoundException` and `ObjectNotFoundException`
//! become [`RuntimeError::NotRegistered`], as Ice raises
//! `NotRegisteredException`; a null answer (nothing active) leaves the
//! proxy without endpoints ([`RuntimeError::NoEndpoint`]).
//!
//! Answers are cached per locator. A proxy's locator cache timeout
//! (`Ice.Default.LocatorCacheTimeout`, `ice_locator_cache_timeout`, in
//! seconds: -1 for ever, the default; 0 never) says how old a cached
//! answer may be. When connecting to cached endpoints fails, the entry is
//! dropped and the proxy resolved again once: that is what lets a client
//! follow a server that restarted elsewhere.
//!
//! Servers register with `Ice::Locator::getRegistry()` and
//! `Ice::LocatorRegistry::setAdapterDirectProxy` (or
//! `setReplicatedAdapterDirectProxy` with a replica group); see
//! [`register_adapter`]. The few operations are encoded here by hand:
//! their Slice definitions live in Ice's `Ice/Locator.ice`.
//!
//! `Ice.Trace.Locator` traces as Ice does, as `tracing` events with target
//! `ice::trace::locator` at `info` (at `debug` when the level is lower):
//! 1 for locator and registry requests and failures, 2 also for the
//! cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::communicator::Communicator;
use crate::encoding::{Endpoint, Identity, InputStream, OutputStream, ProxyData};
use crate::protocol::{Encapsulation, OperationMode};
use crate::proxy::{read_encapsulation, ObjectPrx, Outcome};
use crate::reference;
use crate::runtime_error::{Result, RuntimeError};

/// Type id of `Ice::AdapterNotFoundException`.
pub const ADAPTER_NOT_FOUND: &str = "::Ice::AdapterNotFoundException";
/// Type id of `Ice::ObjectNotFoundException`.
pub const OBJECT_NOT_FOUND: &str = "::Ice::ObjectNotFoundException";
/// Type id of `Ice::AdapterAlreadyActiveException`.
pub const ADAPTER_ALREADY_ACTIVE: &str = "::Ice::AdapterAlreadyActiveException";
/// Type id of `Ice::InvalidReplicaGroupIdException`.
pub const INVALID_REPLICA_GROUP_ID: &str = "::Ice::InvalidReplicaGroupIdException";

/// How long a cached locator answer may be used, as Ice's
/// `ice_locatorCacheTimeout` in seconds: negative for ever, 0 never.
fn fresh(stored: Instant, timeout: i32) -> bool {
    match timeout {
        t if t < 0 => true,
        0 => false,
        t => stored.elapsed() <= Duration::from_secs(u64::try_from(t).unwrap_or(0)),
    }
}

#[derive(Default)]
struct Cache {
    adapters: HashMap<String, (Vec<Endpoint>, Instant)>,
    objects: HashMap<Identity, (ProxyData, Instant)>,
}

/// A locator with its cache; proxies using the same locator share one.
pub struct Locator {
    data: ProxyData,
    cache: Mutex<Cache>,
    /// `Ice.Trace.Locator`.
    trace: i32,
}

/// Emits a locator trace of Ice's `level` when `configured` reaches it.
fn trace(configured: i32, level: i32, message: &str) {
    if configured >= level {
        tracing::info!(target: "ice::trace::locator", "{message}");
    } else {
        tracing::debug!(target: "ice::trace::locator", "{message}");
    }
}

fn endpoints_text(endpoints: &[Endpoint]) -> String {
    endpoints
        .iter()
        .map(reference::endpoint_to_string)
        .collect::<Vec<_>>()
        .join(":")
}

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locator")
            .field("proxy", &reference::to_string(&self.data))
            .finish_non_exhaustive()
    }
}

/// The endpoints of an indirect proxy, and whether they came from the cache.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) cached: bool,
}

/// The runtime error for a locator's user exception, as Ice maps it.
fn user_exception(encaps: &Encapsulation, id: String) -> RuntimeError {
    let type_id = match read_encapsulation(encaps).and_then(|mut input| input.read_exception()) {
        Err(crate::encoding::Error::UnknownUserException { type_id }) => type_id,
        Ok(ex) => ex.ice_id().to_owned(),
        Err(e) => return RuntimeError::Encoding(e),
    };
    match type_id.as_str() {
        ADAPTER_NOT_FOUND => RuntimeError::NotRegistered {
            kind: "object adapter",
            id,
        },
        OBJECT_NOT_FOUND => RuntimeError::NotRegistered { kind: "object", id },
        _ => RuntimeError::UnknownUserException(type_id),
    }
}

/// Reads a nullable proxy from a results encapsulation.
fn read_proxy(encaps: &Encapsulation) -> Result<Option<ProxyData>> {
    let mut input: InputStream = read_encapsulation(encaps)?;
    Ok(input.read::<Option<ProxyData>>()?)
}

impl Locator {
    /// A locator reached through `data` (a direct proxy to an
    /// `Ice::Locator`, for example `IceGrid/Locator:tcp -p 4061`).
    #[must_use]
    pub fn new(data: ProxyData) -> Self {
        Self {
            data,
            cache: Mutex::new(Cache::default()),
            trace: 0,
        }
    }

    /// This locator, traced at `level` (`Ice.Trace.Locator`).
    #[must_use]
    pub fn with_trace_level(mut self, level: i32) -> Self {
        self.trace = level;
        self
    }

    /// The locator's proxy, as data.
    #[must_use]
    pub fn proxy_data(&self) -> &ProxyData {
        &self.data
    }

    /// A live proxy to the locator.
    #[must_use]
    pub fn proxy(&self, communicator: &Communicator) -> ObjectPrx {
        communicator.proxy(self.data.clone()).ice_locator(None)
    }

    async fn call(
        &self,
        communicator: &Communicator,
        operation: &str,
        write: impl FnOnce(&mut OutputStream),
    ) -> Result<Outcome> {
        let prx = self.proxy(communicator);
        let params = prx.params(write);
        prx.ice_invoke(operation, OperationMode::Nonmutating, params, None)
            .await
    }

    /// `Ice::Locator::findAdapterById`: a proxy holding the endpoints of
    /// adapter `id`, `None` when it is not active.
    ///
    /// # Errors
    /// [`RuntimeError::NotRegistered`] for an unknown adapter; connection
    /// errors reaching the locator.
    pub async fn find_adapter_by_id(
        &self,
        communicator: &Communicator,
        id: &str,
    ) -> Result<Option<ProxyData>> {
        match self
            .call(communicator, "findAdapterById", |out| out.write_string(id))
            .await?
        {
            Outcome::Ok(e) => read_proxy(&e),
            Outcome::UserException(e) => Err(user_exception(&e, id.to_owned())),
        }
    }

    /// `Ice::Locator::findObjectById`: a proxy to the well-known object
    /// `id` (direct, or `id@adapter`), `None` when it is not active.
    ///
    /// # Errors
    /// [`RuntimeError::NotRegistered`] for an unknown object; connection
    /// errors reaching the locator.
    pub async fn find_object_by_id(
        &self,
        communicator: &Communicator,
        id: &Identity,
    ) -> Result<Option<ProxyData>> {
        match self
            .call(communicator, "findObjectById", |out| out.write(id))
            .await?
        {
            Outcome::Ok(e) => read_proxy(&e),
            Outcome::UserException(e) => Err(user_exception(&e, reference::identity_to_string(id))),
        }
    }

    /// `Ice::Locator::getRegistry`: the locator registry, if the locator has one.
    ///
    /// # Errors
    /// Connection errors reaching the locator.
    pub async fn get_registry(&self, communicator: &Communicator) -> Result<Option<ProxyData>> {
        match self.call(communicator, "getRegistry", |_| {}).await? {
            Outcome::Ok(e) => read_proxy(&e),
            Outcome::UserException(e) => Err(user_exception(&e, String::new())),
        }
    }

    /// The endpoints of adapter `id`, from the cache when fresh enough.
    async fn adapter_endpoints(
        &self,
        communicator: &Communicator,
        id: &str,
        timeout: i32,
    ) -> Result<Resolved> {
        if let Ok(cache) = self.cache.lock() {
            if let Some((endpoints, at)) = cache.adapters.get(id) {
                if fresh(*at, timeout) {
                    trace(
                        self.trace,
                        2,
                        &format!(
                            "found endpoints for adapter in locator cache\nadapter = {id}\nendpoints = {}",
                            endpoints_text(endpoints)
                        ),
                    );
                    return Ok(Resolved {
                        endpoints: endpoints.clone(),
                        cached: true,
                    });
                }
            }
        }
        trace(
            self.trace,
            1,
            &format!("searching for adapter by id\nadapter = {id}"),
        );
        let found = self.find_adapter_by_id(communicator, id).await;
        let endpoints = match found {
            Ok(p) => p.map(|p| p.endpoints).unwrap_or_default(),
            Err(e) => {
                trace(
                    self.trace,
                    1,
                    &format!("couldn't find adapter\nadapter = {id}\nreason = {e}"),
                );
                return Err(e);
            }
        };
        if endpoints.is_empty() {
            trace(
                self.trace,
                1,
                &format!("adapter has no endpoints (not active)\nadapter = {id}"),
            );
        } else {
            trace(
                self.trace,
                1,
                &format!(
                    "retrieved endpoints for adapter from locator, adding to locator cache\nadapter = {id}\nendpoints = {}",
                    endpoints_text(&endpoints)
                ),
            );
        }
        if let Ok(mut cache) = self.cache.lock() {
            if endpoints.is_empty() {
                cache.adapters.remove(id);
            } else {
                cache
                    .adapters
                    .insert(id.to_owned(), (endpoints.clone(), Instant::now()));
            }
        }
        Ok(Resolved {
            endpoints,
            cached: false,
        })
    }

    /// The endpoints of indirect proxy `data`, resolving its adapter id or
    /// its well-known identity (then the adapter id that may come back).
    pub(crate) async fn resolve(
        &self,
        communicator: &Communicator,
        data: &ProxyData,
        timeout: i32,
    ) -> Result<Resolved> {
        if !data.adapter_id.is_empty() {
            return self
                .adapter_endpoints(communicator, &data.adapter_id, timeout)
                .await;
        }
        let mut cached = None;
        if let Ok(cache) = self.cache.lock() {
            if let Some((proxy, at)) = cache.objects.get(&data.identity) {
                if fresh(*at, timeout) {
                    trace(
                        self.trace,
                        2,
                        &format!(
                            "found well-known object in locator cache\nwell-known proxy = {}\nproxy = {}",
                            reference::to_string(data),
                            reference::to_string(proxy)
                        ),
                    );
                    cached = Some(proxy.clone());
                }
            }
        }
        let from_cache = cached.is_some();
        let target = match cached {
            Some(p) => Some(p),
            None => {
                trace(
                    self.trace,
                    1,
                    &format!(
                        "searching for well-known object\nwell-known proxy = {}",
                        reference::to_string(data)
                    ),
                );
                let found = match self.find_object_by_id(communicator, &data.identity).await {
                    Ok(found) => found,
                    Err(e) => {
                        trace(
                            self.trace,
                            1,
                            &format!(
                                "couldn't find well-known object\nwell-known proxy = {}\nreason = {e}",
                                reference::to_string(data)
                            ),
                        );
                        return Err(e);
                    }
                };
                trace(
                    self.trace,
                    1,
                    &format!(
                        "retrieved well-known object from locator, adding to locator cache\nwell-known proxy = {}\nproxy = {}",
                        reference::to_string(data),
                        found.as_ref().map_or_else(|| "null".to_owned(), reference::to_string)
                    ),
                );
                if let (Some(p), Ok(mut cache)) = (&found, self.cache.lock()) {
                    cache
                        .objects
                        .insert(data.identity.clone(), (p.clone(), Instant::now()));
                }
                found
            }
        };
        let Some(target) = target else {
            return Ok(Resolved {
                endpoints: Vec::new(),
                cached: false,
            });
        };
        if !target.endpoints.is_empty() {
            return Ok(Resolved {
                endpoints: target.endpoints,
                cached: from_cache,
            });
        }
        if target.adapter_id.is_empty() {
            return Ok(Resolved {
                endpoints: Vec::new(),
                cached: false,
            });
        }
        let resolved = self
            .adapter_endpoints(communicator, &target.adapter_id, timeout)
            .await;
        if resolved.is_err() && from_cache {
            self.clear(data);
        }
        let resolved = resolved?;
        Ok(Resolved {
            endpoints: resolved.endpoints,
            cached: resolved.cached || from_cache,
        })
    }

    /// [`Locator::resolve`], boxed: resolving invokes the locator through
    /// a proxy, which may itself resolve, so the future type must not
    /// contain itself.
    pub(crate) fn resolve_boxed<'a>(
        &'a self,
        communicator: &'a Communicator,
        data: &'a ProxyData,
        timeout: i32,
    ) -> crate::connection::BoxFuture<'a, Result<Resolved>> {
        Box::pin(self.resolve(communicator, data, timeout))
    }

    /// Drops what the cache holds for indirect proxy `data` (its adapter,
    /// or its well-known object and the adapter that one pointed to).
    pub fn clear(&self, data: &ProxyData) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if !data.adapter_id.is_empty() {
            if let Some((endpoints, _)) = cache.adapters.remove(&data.adapter_id) {
                trace(
                    self.trace,
                    2,
                    &format!(
                        "removed endpoints for adapter from locator cache\nadapter = {}\nendpoints = {}",
                        data.adapter_id,
                        endpoints_text(&endpoints)
                    ),
                );
            }
            return;
        }
        if let Some((proxy, _)) = cache.objects.remove(&data.identity) {
            if !proxy.adapter_id.is_empty() {
                cache.adapters.remove(&proxy.adapter_id);
            }
            trace(
                self.trace,
                2,
                &format!(
                    "removed well-known object from locator cache\nwell-known proxy = {}\nproxy = {}",
                    reference::to_string(data),
                    reference::to_string(&proxy)
                ),
            );
        }
    }
}

/// Registers (or, with `proxy` `None`, unregisters) the endpoints of
/// adapter `adapter_id` with the registry of `locator`:
/// `setAdapterDirectProxy(adapterId, proxy)`, or
/// `setReplicatedAdapterDirectProxy(adapterId, replicaGroupId, proxy)`
/// when `replica_group_id` is not empty.
///
/// # Errors
/// [`RuntimeError::NotRegistered`] when the registry does not know the
/// adapter (or replica group); [`RuntimeError::UnknownUserException`] with
/// the type id for the registry's other refusals (already active);
/// connection errors.
pub async fn register_adapter(
    communicator: &Communicator,
    locator: &Locator,
    adapter_id: &str,
    replica_group_id: &str,
    proxy: Option<&ProxyData>,
) -> Result<()> {
    let registry =
        locator
            .get_registry(communicator)
            .await?
            .ok_or_else(|| RuntimeError::NoEndpoint {
                proxy: format!(
                    "{} (no locator registry)",
                    reference::to_string(&locator.data)
                ),
            })?;
    let registry = communicator.proxy(registry).ice_locator(None);
    let (operation, params) = if replica_group_id.is_empty() {
        (
            "setAdapterDirectProxy",
            registry.params(|out| {
                out.write_string(adapter_id);
                out.write(&proxy.cloned());
            }),
        )
    } else {
        (
            "setReplicatedAdapterDirectProxy",
            registry.params(|out| {
                out.write_string(adapter_id);
                out.write_string(replica_group_id);
                out.write(&proxy.cloned());
            }),
        )
    };
    let group = if replica_group_id.is_empty() {
        String::new()
    } else {
        format!("\nreplica group = {replica_group_id}")
    };
    let outcome = registry
        .ice_invoke(operation, OperationMode::Idempotent, params, None)
        .await;
    if let Err(e) = &outcome {
        trace(
            locator.trace,
            1,
            &format!(
                "couldn't update object adapter `{adapter_id}' endpoints with the locator registry:\n{e}"
            ),
        );
    }
    match outcome? {
        Outcome::Ok(_) => {
            let what = match proxy {
                Some(p) => format!(
                    "registered object adapter `{adapter_id}' endpoints with the locator registry\nendpoints = {}{group}",
                    endpoints_text(&p.endpoints)
                ),
                None => format!(
                    "unregistered object adapter `{adapter_id}' endpoints with the locator registry{group}"
                ),
            };
            trace(locator.trace, 1, &what);
            Ok(())
        }
        Outcome::UserException(e) => {
            let err = user_exception(&e, adapter_id.to_owned());
            match err {
                RuntimeError::UnknownUserException(ref t) if t == INVALID_REPLICA_GROUP_ID => {
                    Err(RuntimeError::NotRegistered {
                        kind: "replica group",
                        id: replica_group_id.to_owned(),
                    })
                }
                other => Err(other),
            }
        }
    }
}

pub mod process;

#[cfg(test)]
mod tests;
