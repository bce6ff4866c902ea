//! Tests of locator resolution, the locator cache and adapter registration
//! against a locator written here (Rust against Rust, over loopback TCP).
//! The same behaviour against a real IceGrid registry is checked in the
//! `tests` crate (`locator_icegrid`).

use std::any::{Any, TypeId};
use std::sync::Arc;

use super::*;
use crate::adapter::{Current, DispatchError, DispatchResult, ObjectAdapter, Servant};
use crate::connection::BoxFuture;
use crate::encoding::{IpEndpoint, UserException};
use crate::properties::Properties;

/// A user exception without members, of type id `.0`.
#[derive(Debug)]
struct Empty(&'static str);

impl UserException for Empty {
    fn ice_id(&self) -> &str {
        self.0
    }
    fn write_slices(&self, out: &mut OutputStream) {
        out.start_slice(self.0, None, true);
        out.end_slice();
    }
    fn as_type(&self, target: TypeId) -> Option<&dyn Any> {
        (target == TypeId::of::<Self>()).then_some(self as &dyn Any)
    }
    fn clone_box(&self) -> Box<dyn UserException> {
        Box::new(Empty(self.0))
    }
}

/// A locator and locator registry in one servant: adapters and
/// well-known objects in maps, every call logged.
#[derive(Default)]
struct FakeLocator {
    adapters: Mutex<HashMap<String, Option<ProxyData>>>,
    objects: Mutex<HashMap<Identity, ProxyData>>,
    registry: Mutex<Option<ProxyData>>,
    process: Mutex<Option<ProxyData>>,
    calls: Mutex<Vec<String>>,
}

impl FakeLocator {
    fn log(&self, call: String) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(call);
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, prefix: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.starts_with(prefix))
            .count()
    }
}

fn poisoned<T>(_: T) -> DispatchError {
    DispatchError::UnknownException("poisoned".into())
}

fn show(p: &Option<ProxyData>) -> String {
    p.as_ref()
        .map_or_else(|| "null".to_owned(), reference::to_string)
}

impl Servant for FakeLocator {
    fn type_ids(&self) -> &[&str] {
        &["::Ice::Locator", "::Ice::LocatorRegistry"]
    }

    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move {
            let mut input = Current::params_stream(&params)?;
            match current.operation.as_str() {
                "findAdapterById" => {
                    let id = input.read_string()?;
                    self.log(format!("findAdapterById {id}"));
                    match self.adapters.lock().map_err(poisoned)?.get(&id) {
                        Some(p) => Ok(current.results(|out| out.write(p))),
                        None => Err(current.user_exception(&Empty(ADAPTER_NOT_FOUND))),
                    }
                }
                "findObjectById" => {
                    let id: Identity = input.read()?;
                    self.log(format!("findObjectById {}", id.name));
                    match self.objects.lock().map_err(poisoned)?.get(&id) {
                        Some(p) => Ok(current.results(|out| out.write(&Some(p.clone())))),
                        None => Err(current.user_exception(&Empty(OBJECT_NOT_FOUND))),
                    }
                }
                "getRegistry" => {
                    self.log("getRegistry".into());
                    let registry = self.registry.lock().map_err(poisoned)?.clone();
                    Ok(current.results(|out| out.write(&registry)))
                }
                "setAdapterDirectProxy" => {
                    let id = input.read_string()?;
                    let proxy: Option<ProxyData> = input.read()?;
                    self.log(format!("set {id} {}", show(&proxy)));
                    self.adapters.lock().map_err(poisoned)?.insert(id, proxy);
                    Ok(current.results(|_| {}))
                }
                "setReplicatedAdapterDirectProxy" => {
                    let id = input.read_string()?;
                    let group = input.read_string()?;
                    let proxy: Option<ProxyData> = input.read()?;
                    self.log(format!("set {id} in {group} {}", show(&proxy)));
                    let mut adapters = self.adapters.lock().map_err(poisoned)?;
                    adapters.insert(id, proxy.clone());
                    adapters.insert(group, proxy);
                    Ok(current.results(|_| {}))
                }
                "setServerProcessProxy" => {
                    let id = input.read_string()?;
                    let proxy: Option<ProxyData> = input.read()?;
                    self.log(format!("process {id} {}", show(&proxy)));
                    if id == "Unknown" {
                        return Err(current.user_exception(&Empty(process::SERVER_NOT_FOUND)));
                    }
                    *self.process.lock().map_err(poisoned)? = proxy;
                    Ok(current.results(|_| {}))
                }
                _ => Err(DispatchError::OperationNotExist),
            }
        })
    }
}

/// A servant answering every operation with an empty result.
struct Nothing;

impl Servant for Nothing {
    fn type_ids(&self) -> &[&str] {
        &["::T::Nothing"]
    }

    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        _params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move { Ok(current.results(|_| {})) })
    }
}

fn id(name: &str) -> Identity {
    Identity {
        name: name.into(),
        category: String::new(),
    }
}

/// Starts the fake locator; returns it and its stringified proxy.
async fn locator() -> Result<(Communicator, Arc<FakeLocator>, String)> {
    let communicator = Communicator::new(Properties::new());
    let adapter = communicator
        .create_object_adapter_with_endpoints("Locator", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let fake = Arc::new(FakeLocator::default());
    let locator = adapter.add(fake.clone(), id("Locator"));
    let registry = adapter.add(fake.clone(), id("Registry"));
    if let Ok(mut r) = fake.registry.lock() {
        *r = Some(registry.data().clone());
    }
    adapter.activate();
    let text = locator.to_string();
    Ok((communicator, fake, text))
}

/// A server communicator whose adapter `A` has `adapter_id` (and
/// `group`) and registers with the locator at `locator`.
async fn server(
    locator: &str,
    adapter_id: &str,
    group: &str,
) -> Result<(Communicator, ObjectAdapter)> {
    let mut props = Properties::new()
        .with("Ice.Default.Locator", locator)
        .with("A.Endpoints", "tcp -h 127.0.0.1 -p 0")
        .with("A.AdapterId", adapter_id);
    if !group.is_empty() {
        props = props.with("A.ReplicaGroupId", group);
    }
    let communicator = Communicator::new(props);
    let adapter = communicator.create_object_adapter("A").await?;
    let _ = adapter.add(Arc::new(Nothing), id("thing"));
    adapter.activate_and_register().await?;
    Ok((communicator, adapter))
}

fn client(locator: &str) -> Communicator {
    Communicator::new(Properties::new().with("Ice.Default.Locator", locator))
}

fn proxy(communicator: &Communicator, text: &str) -> Result<ObjectPrx> {
    communicator
        .string_to_proxy(text)?
        .ok_or_else(|| RuntimeError::ProxyParse { text: text.into() })
}

fn port(adapter: &ObjectAdapter) -> i32 {
    match adapter.published_endpoints().first() {
        Some(Endpoint::Tcp(IpEndpoint { port, .. })) => *port,
        _ => 0,
    }
}

#[tokio::test]
async fn adapter_registers_on_activation_and_unregisters_on_deactivation() -> Result<()> {
    let (_l, fake, text) = locator().await?;
    let (server, adapter) = server(&text, "A1", "").await?;
    let p = port(&adapter);
    assert_eq!(
        fake.calls(),
        vec![
            "getRegistry".to_owned(),
            format!("set A1 dummy -t -e 1.1:tcp -h 127.0.0.1 -p {p} -t 60000"),
        ]
    );
    let prx = adapter.create_proxy(id("thing"));
    assert_eq!(prx.to_string(), "thing -t -e 1.1 @ A1");
    assert!(prx.ice_get_locator().is_some());
    assert_eq!(
        adapter.create_direct_proxy(id("thing")).to_string(),
        format!("thing -t -e 1.1:tcp -h 127.0.0.1 -p {p} -t 60000")
    );
    adapter.deactivate().await;
    assert_eq!(fake.calls().last().map(String::as_str), Some("set A1 null"));
    server.destroy().await;
    Ok(())
}

#[tokio::test]
async fn replica_group_members_register_with_their_group() -> Result<()> {
    let (_l, fake, text) = locator().await?;
    let (server, adapter) = server(&text, "R1", "G").await?;
    assert_eq!(
        adapter.create_proxy(id("thing")).to_string(),
        "thing -t -e 1.1 @ G"
    );
    assert_eq!(fake.count("set R1 in G dummy"), 1);
    let client = client(&text);
    proxy(&client, "thing@G")?.ice_ping().await?;
    client.destroy().await;
    server.destroy().await;
    Ok(())
}

#[tokio::test]
async fn indirect_proxies_resolve_once_and_use_the_cache() -> Result<()> {
    let (_l, fake, text) = locator().await?;
    let (server, _adapter) = server(&text, "A1", "").await?;
    let client = client(&text);
    let prx = proxy(&client, "thing@A1")?;
    prx.ice_ping().await?;
    prx.ice_ping().await?;
    proxy(&client, "thing@A1")?.ice_ping().await?;
    assert_eq!(fake.count("findAdapterById A1"), 1, "{:?}", fake.calls());

    // A timeout of 0 never uses the cache: the connection is reused, the
    // locator asked every time.
    let uncached = prx.clone().ice_locator_cache_timeout(0);
    uncached.ice_ping().await?;
    uncached.ice_ping().await?;
    assert_eq!(fake.count("findAdapterById A1"), 3, "{:?}", fake.calls());

    // Without a locator an indirect proxy has no endpoints.
    let alone = prx.ice_locator(None);
    assert!(matches!(
        alone.ice_ping().await,
        Err(RuntimeError::NoEndpoint { .. })
    ));
    client.destroy().await;
    server.destroy().await;
    Ok(())
}

#[tokio::test]
async fn well_known_objects_resolve_through_their_adapter() -> Result<()> {
    let (_l, fake, text) = locator().await?;
    let (server, adapter) = server(&text, "A1", "").await?;
    if let Ok(mut objects) = fake.objects.lock() {
        objects.insert(
            id("thing"),
            adapter.create_proxy(id("thing")).data().clone(),
        );
        // Only the endpoints of the answer count: the identity stays.
        let _ = adapter.add(Arc::new(Nothing), id("direct"));
        objects.insert(
            id("direct"),
            adapter.create_direct_proxy(id("elsewhere")).data().clone(),
        );
    }
    let client = client(&text);
    proxy(&client, "thing")?.ice_ping().await?;
    proxy(&client, "thing")?.ice_ping().await?;
    proxy(&client, "direct")?.ice_ping().await?;
    assert_eq!(fake.count("findObjectById thing"), 1, "{:?}", fake.calls());
    assert_eq!(fake.count("findAdapterById A1"), 1, "{:?}", fake.calls());
    assert_eq!(fake.count("findObjectById direct"), 1, "{:?}", fake.calls());
    client.destroy().await;
    server.destroy().await;
    Ok(())
}

#[tokio::test]
async fn unknown_adapters_and_objects_are_not_registered() -> Result<()> {
    let (_l, _fake, text) = locator().await?;
    let client = client(&text);
    for (text, kind) in [("x@Nowhere", "object adapter"), ("nobody", "object")] {
        match proxy(&client, text)?.ice_ping().await {
            Err(RuntimeError::NotRegistered { kind: k, .. }) => assert_eq!(k, kind),
            other => panic!("{text}: {other:?}"),
        }
    }
    client.destroy().await;
    Ok(())
}

#[tokio::test]
async fn a_server_that_moved_is_found_again() -> Result<()> {
    let (_l, fake, text) = locator().await?;
    let (first, first_adapter) = server(&text, "A1", "").await?;
    let client = client(&text);
    let prx = proxy(&client, "thing@A1")?;
    prx.ice_ping().await?;
    let old = port(&first_adapter);
    first.destroy().await;
    // The server comes back elsewhere; the client's cache still holds the
    // old endpoints.
    let (second, second_adapter) = server(&text, "A1", "").await?;
    assert_ne!(port(&second_adapter), old);
    prx.ice_ping().await?;
    let conn = prx.ice_get_connection().await?;
    assert!(
        conn.description()
            .ends_with(&format!(":{}", port(&second_adapter))),
        "{}",
        conn.description()
    );
    assert_eq!(fake.count("findAdapterById A1"), 2, "{:?}", fake.calls());
    client.destroy().await;
    second.destroy().await;
    Ok(())
}

#[test]
fn cache_timeouts_follow_ice() {
    let now = Instant::now();
    assert!(fresh(now, -1));
    assert!(!fresh(now, 0));
    assert!(fresh(now, 5));
    if let Some(old) = now.checked_sub(Duration::from_secs(10)) {
        assert!(!fresh(old, 5));
        assert!(fresh(old, -1));
    }
}

#[test]
fn clearing_a_well_known_entry_drops_its_adapter_too() {
    let locator = Locator::new(ProxyData::new("Grid/Locator"));
    let mut target = ProxyData::new("obj");
    target.adapter_id = "A".into();
    if let Ok(mut cache) = locator.cache.lock() {
        cache
            .objects
            .insert(target.identity.clone(), (target.clone(), Instant::now()));
        cache
            .adapters
            .insert("A".into(), (Vec::new(), Instant::now()));
        cache
            .adapters
            .insert("B".into(), (Vec::new(), Instant::now()));
    }
    locator.clear(&ProxyData::new("obj"));
    let cache = locator.cache.lock().map_err(|_| ()).ok();
    let cache = cache.as_deref();
    assert_eq!(cache.map(|c| c.objects.len()), Some(0));
    assert_eq!(
        cache.map(|c| c.adapters.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["B".to_owned()])
    );
}

/// `Ice.Trace.Locator=2` traces lookups and the cache at `info` (the
/// default subscriber level), in Ice's words.
#[test]
fn trace_locator_reports_lookups_and_cache_hits() -> Result<()> {
    let log = crate::test_support::captured_traces(async {
        let (_l, _fake, text) = locator().await?;
        let (server, _adapter) = server(&text, "A1", "").await?;
        let client = Communicator::new(
            Properties::new()
                .with("Ice.Default.Locator", &text)
                .with("Ice.Trace.Locator", "2"),
        );
        let prx = proxy(&client, "thing@A1")?;
        prx.ice_ping().await?;
        prx.ice_ping().await?;
        let _ = proxy(&client, "nobody")?.ice_ping().await;
        client.destroy().await;
        server.destroy().await;
        Ok(())
    })?;
    for wanted in [
        "searching for adapter by id\nadapter = A1",
        "retrieved endpoints for adapter from locator, adding to locator cache\nadapter = A1",
        "found endpoints for adapter in locator cache\nadapter = A1",
        "searching for well-known object\nwell-known proxy = nobody -t -e 1.1",
        "couldn't find well-known object\nwell-known proxy = nobody -t -e 1.1",
    ] {
        assert!(log.contains(wanted), "missing `{wanted}` in:\n{log}");
    }
    // The server side's registration is traced only at debug: its
    // communicator has no Ice.Trace.Locator.
    assert!(!log.contains("registered object adapter"), "{log}");
    Ok(())
}

/// A server whose `Ice.Admin.ServerId` and `Ice.Admin.Endpoints` are set.
async fn admin_server(locator: &str, server_id: &str, enabled: &str) -> Result<Communicator> {
    let communicator = Communicator::new(
        Properties::new()
            .with("Ice.Default.Locator", locator)
            .with("A.Endpoints", "tcp -h 127.0.0.1 -p 0")
            .with("A.AdapterId", "A1")
            .with("Ice.Admin.ServerId", server_id)
            .with("Ice.Admin.Endpoints", "tcp -h 127.0.0.1")
            .with("Ice.Admin.InstanceName", "Srv")
            .with("Ice.Admin.Enabled", enabled),
    );
    let adapter = communicator.create_object_adapter("A").await?;
    adapter.activate_and_register().await?;
    Ok(communicator)
}

#[tokio::test]
async fn a_server_registers_its_process_facet_and_stops_through_it() -> Result<()> {
    let (_l, fake, text) = locator().await?;
    let server = admin_server(&text, "S1", "1").await?;
    assert_eq!(
        fake.count("process S1 Srv/admin -f Process -t -e 1.1:tcp -h 127.0.0.1"),
        1,
        "{:?}",
        fake.calls()
    );
    let process =
        fake.process
            .lock()
            .ok()
            .and_then(|p| p.clone())
            .ok_or(RuntimeError::NoEndpoint {
                proxy: "process".into(),
            })?;
    let client = client(&text);
    let prx = client.proxy(process);
    assert!(prx.ice_is_a(process::PROCESS_TYPE_ID).await?);
    let params = prx.params(|_| {});
    prx.ice_invoke("shutdown", OperationMode::Normal, params, None)
        .await?;
    tokio::time::timeout(Duration::from_secs(5), server.wait_for_shutdown())
        .await
        .map_err(|_| RuntimeError::InvocationTimeout { millis: 5000 })?;
    server.destroy().await;
    client.destroy().await;

    // Disabled: no Process facet.
    let server = admin_server(&text, "S2", "0").await?;
    assert_eq!(fake.count("process S2"), 0, "{:?}", fake.calls());
    server.destroy().await;

    // A server the registry does not know cannot start, as with Ice.
    match admin_server(&text, "Unknown", "1").await {
        Err(RuntimeError::NotRegistered { kind: "server", id }) => assert_eq!(id, "Unknown"),
        other => panic!("expected NotRegistered, got {other:?}"),
    }
    Ok(())
}
