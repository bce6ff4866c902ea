//! Tests of the object adapter, communicator and proxies over loopback TCP,
//! Rust against Rust. Interop with ZeroC peers is in the `tests` crate.

use std::time::Duration;

use super::*;
use crate::properties::Properties;
use crate::proxy::{read_encapsulation, Outcome};

/// A servant of `::T::Thing`: `echo` returns its string, `sleep` sleeps
/// its int of milliseconds, `call_back` pings the identity `cb` over the
/// caller's connection, `boom` returns a user exception.
struct Thing;

impl Servant for Thing {
    fn type_ids(&self) -> &[&str] {
        &["::T::Thing", "::T::Base"]
    }

    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move {
            let mut input = Current::params_stream(&params)?;
            match current.operation.as_str() {
                "echo" => {
                    let s = input.read_string()?;
                    Ok(current.results(|out| out.write_string(&s)))
                }
                "whoami" => {
                    let s = format!("{}/{}", current.id.category, current.id.name);
                    Ok(current.results(|out| out.write_string(&s)))
                }
                "sleep" => {
                    let ms = input.read_i32()?;
                    tokio::time::sleep(Duration::from_millis(u64::try_from(ms).unwrap_or(0))).await;
                    Ok(current.results(|_| {}))
                }
                "call_back" => {
                    let prx = current.callback_proxy(Identity {
                        name: "cb".into(),
                        category: String::new(),
                    });
                    let answer = prx
                        .ice_id()
                        .await
                        .map_err(|e| DispatchError::UnknownException(e.to_string()))?;
                    Ok(current.results(|out| out.write_string(&answer)))
                }
                "boom" => Err(DispatchError::EncodedUserException(
                    current.results(|out| out.write_string("not really an exception")),
                )),
                _ => Err(DispatchError::OperationNotExist),
            }
        })
    }
}

fn id(name: &str) -> Identity {
    Identity {
        name: name.into(),
        category: String::new(),
    }
}

async fn server() -> Result<(Communicator, ObjectAdapter)> {
    let props = Properties::new().with("A.Endpoints", "tcp -h 127.0.0.1 -p 0");
    let communicator = Communicator::new(props);
    let adapter = communicator.create_object_adapter("A").await?;
    let _ = adapter.add(Arc::new(Thing), id("thing"));
    adapter.activate();
    Ok((communicator, adapter))
}

async fn echo(prx: &ObjectPrx, s: &str) -> Result<String> {
    let params = prx.params(|out| out.write_string(s));
    match prx
        .ice_invoke("echo", OperationMode::Normal, params, None)
        .await?
    {
        Outcome::Ok(e) => Ok(read_encapsulation(&e)?.read_string()?),
        Outcome::UserException(_) => Err(RuntimeError::UnknownUserException("?".into())),
    }
}

#[tokio::test]
async fn builtin_operations_answer_from_type_ids() -> Result<()> {
    let (_c, adapter) = server().await?;
    let client = Communicator::new(Properties::new());
    let prx = client.proxy(adapter.create_proxy(id("thing")).data().clone());
    prx.ice_ping().await?;
    assert!(prx.ice_is_a("::T::Base").await?);
    assert!(prx.ice_is_a("::Ice::Object").await?);
    assert!(!prx.ice_is_a("::T::Other").await?);
    assert_eq!(prx.ice_id().await?, "::T::Thing");
    assert_eq!(
        prx.ice_ids().await?,
        vec!["::Ice::Object", "::T::Base", "::T::Thing"]
    );
    assert!(prx.checked_cast("::T::Thing").await?.is_some());
    assert!(prx.checked_cast("::T::Nope").await?.is_none());
    assert_eq!(echo(&prx, "hi").await?, "hi");
    Ok(())
}

#[tokio::test]
async fn missing_object_facet_and_operation() -> Result<()> {
    let (_c, adapter) = server().await?;
    let prx = adapter.create_proxy(id("thing"));
    match prx.clone().ice_identity(id("ghost")).ice_ping().await {
        Err(RuntimeError::ObjectNotExist(f)) => assert_eq!(f.identity.name, "ghost"),
        other => panic!("{other:?}"),
    }
    match prx.clone().ice_facet("f").ice_ping().await {
        Err(RuntimeError::FacetNotExist(f)) => assert_eq!(f.facet, "f"),
        other => panic!("{other:?}"),
    }
    let params = prx.params(|_| {});
    match prx
        .ice_invoke("nope", OperationMode::Normal, params, None)
        .await
    {
        Err(RuntimeError::OperationNotExist(f)) => assert_eq!(f.operation, "nope"),
        other => panic!("{other:?}"),
    }
    // A removed servant is gone.
    assert!(adapter.remove(&id("thing")).is_some());
    assert!(matches!(
        prx.ice_ping().await,
        Err(RuntimeError::ObjectNotExist(_))
    ));
    Ok(())
}

#[tokio::test]
async fn default_servants_by_category_and_facets() -> Result<()> {
    let (_c, adapter) = server().await?;
    adapter.add_default_servant(Arc::new(Thing), "cat");
    let _ = adapter.add_facet(Arc::new(Thing), id("thing"), "side");
    let prx = adapter.create_proxy(Identity {
        name: "anything".into(),
        category: "cat".into(),
    });
    let params = prx.params(|_| {});
    match prx
        .ice_invoke("whoami", OperationMode::Normal, params, None)
        .await?
    {
        Outcome::Ok(e) => assert_eq!(read_encapsulation(&e)?.read_string()?, "cat/anything"),
        other => panic!("{other:?}"),
    }
    // Another category has no default servant.
    assert!(matches!(
        prx.clone()
            .ice_identity(Identity {
                name: "x".into(),
                category: "dog".into()
            })
            .ice_ping()
            .await,
        Err(RuntimeError::ObjectNotExist(_))
    ));
    let side = adapter.create_proxy(id("thing")).ice_facet("side");
    assert_eq!(echo(&side, "s").await?, "s");
    Ok(())
}

#[tokio::test]
async fn user_exceptions_and_reply_encoding_follow_the_request() -> Result<()> {
    let (_c, adapter) = server().await?;
    for enc in [EncodingVersion::V1_0, EncodingVersion::V1_1] {
        let prx = adapter.create_proxy(id("thing")).ice_encoding_version(enc);
        let params = prx.params(|_| {});
        match prx
            .ice_invoke("boom", OperationMode::Normal, params, None)
            .await?
        {
            Outcome::UserException(e) => assert_eq!(e.encoding, enc),
            other => panic!("{other:?}"),
        }
        let params = prx.params(|out| out.write_string("x"));
        match prx
            .ice_invoke("echo", OperationMode::Normal, params, None)
            .await?
        {
            Outcome::Ok(e) => assert_eq!(e.encoding, enc),
            other => panic!("{other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn hold_delays_dispatch_until_activate() -> Result<()> {
    let (_c, adapter) = server().await?;
    let prx = adapter.create_proxy(id("thing"));
    prx.ice_ping().await?;
    adapter.hold();
    let call = tokio::spawn({
        let prx = prx.clone();
        async move { prx.ice_ping().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!call.is_finished(), "dispatched while held");
    adapter.activate();
    call.await.map_err(|_| RuntimeError::ConnectionLost)??;
    Ok(())
}

#[tokio::test]
async fn invocation_timeout_and_connection_reuse() -> Result<()> {
    let (_c, adapter) = server().await?;
    let client = Communicator::new(Properties::new().with("Ice.Default.InvocationTimeout", "100"));
    let prx = client.proxy(adapter.create_proxy(id("thing")).data().clone());
    let params = prx.params(|out| out.write_i32(2000));
    assert!(matches!(
        prx.ice_invoke("sleep", OperationMode::Normal, params, None)
            .await,
        Err(RuntimeError::InvocationTimeout { millis: 100 })
    ));
    let a = prx.ice_get_connection().await?;
    let b = prx.clone().ice_oneway().ice_get_connection().await?;
    assert_eq!(a, b, "one connection per endpoint");
    Ok(())
}

#[tokio::test]
async fn servant_calls_back_over_a_bidirectional_connection() -> Result<()> {
    let (_c, adapter) = server().await?;
    // The client's own adapter has no endpoints; it serves over the
    // outgoing connection only.
    let client = Communicator::new(Properties::new());
    let cb_adapter = client
        .create_object_adapter_with_endpoints("CB", "")
        .await?;
    let _ = cb_adapter.add(Arc::new(Thing), id("cb"));
    cb_adapter.activate();
    let prx = client.proxy(adapter.create_proxy(id("thing")).data().clone());
    prx.ice_get_connection()
        .await?
        .set_handler(Some(cb_adapter.handler()));
    let params = prx.params(|_| {});
    let outcome = tokio::time::timeout(
        Duration::from_secs(5),
        prx.ice_invoke("call_back", OperationMode::Normal, params, None),
    )
    .await
    .map_err(|_| RuntimeError::InvocationTimeout { millis: 5000 })??;
    match outcome {
        Outcome::Ok(e) => assert_eq!(read_encapsulation(&e)?.read_string()?, "::T::Thing"),
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn deactivate_closes_gracefully_and_clients_reconnect_or_fail() -> Result<()> {
    let (server_comm, adapter) = server().await?;
    let client = Communicator::new(Properties::new());
    let prx = client.proxy(adapter.create_proxy(id("thing")).data().clone());
    prx.ice_ping().await?;
    let conn = prx.ice_get_connection().await?;
    // A slow call in flight finishes before the connection closes.
    let slow = tokio::spawn({
        let prx = prx.clone();
        async move {
            let params = prx.params(|out| out.write_i32(100));
            prx.ice_invoke("sleep", OperationMode::Normal, params, None)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    server_comm.shutdown().await;
    server_comm.wait_for_shutdown().await;
    assert!(matches!(
        slow.await.map_err(|_| RuntimeError::ConnectionLost)??,
        Outcome::Ok(_)
    ));
    assert!(matches!(
        conn.wait_closed().await,
        RuntimeError::CloseConnection
    ));
    assert_eq!(adapter.state(), AdapterState::Deactivated);
    // Nothing listens any more: connecting fails after the retry.
    assert!(matches!(prx.ice_ping().await, Err(RuntimeError::Io { .. })));
    Ok(())
}

#[tokio::test]
async fn reconnects_after_the_server_closed_an_idle_connection() -> Result<()> {
    let (_c, adapter) = server().await?;
    let client = Communicator::new(Properties::new());
    let prx = client.proxy(adapter.create_proxy(id("thing")).data().clone());
    prx.ice_ping().await?;
    let first = prx.ice_get_connection().await?;
    // The server closes the connection gracefully (as Ice's ACM does).
    let server_side: Vec<Connection> = adapter
        .inner
        .connections
        .lock()
        .map(|c| c.clone())
        .unwrap_or_default();
    for c in server_side {
        c.close().await;
    }
    first.wait_closed().await;
    // A non-idempotent call goes out on a new connection.
    assert_eq!(echo(&prx, "again").await?, "again");
    assert_ne!(prx.ice_get_connection().await?, first);
    Ok(())
}

#[tokio::test]
async fn concurrent_first_calls_share_one_connection() -> Result<()> {
    let (_c, adapter) = server().await?;
    let client = Communicator::new(Properties::new());
    let prx = client.proxy(adapter.create_proxy(id("thing")).data().clone());
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let prx = prx.clone();
            tokio::spawn(async move { prx.ice_ping().await })
        })
        .collect();
    for c in calls {
        c.await.map_err(|_| RuntimeError::ConnectionLost)??;
    }
    let accepted = adapter
        .inner
        .connections
        .lock()
        .map(|c| c.len())
        .unwrap_or(0);
    assert_eq!(accepted, 1);
    Ok(())
}

#[tokio::test]
async fn override_compress_applies_to_every_proxy() -> Result<()> {
    let (_c, adapter) = server().await?;
    let data = adapter.create_proxy(id("thing")).data().clone();
    let plain = Communicator::new(Properties::new()).proxy(data.clone());
    assert!(!plain.is_compressed());
    let forced = Communicator::new(Properties::new().with("Ice.Override.Compress", "1"));
    let prx = forced.proxy(data.clone());
    assert!(prx.is_compressed());
    let long = "z".repeat(10_000);
    assert_eq!(echo(&prx, &long).await?, long);
    let off = Communicator::new(Properties::new().with("Ice.Override.Compress", "0"));
    let mut z = data;
    for e in &mut z.endpoints {
        if let Endpoint::Tcp(ip) = e {
            ip.compress = true;
        }
    }
    assert!(!off.proxy(z.clone()).is_compressed());
    assert!(plain.communicator().proxy(z).is_compressed());
    Ok(())
}

/// A servant whose code panics: in `type_ids` (asked by `ice_id`) and in
/// `dispatch`.
struct Panicky;

impl Servant for Panicky {
    fn type_ids(&self) -> &[&str] {
        panic!("type_ids bug")
    }

    fn dispatch<'a>(&'a self, _: &'a Current, _: Encapsulation) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async { panic!("dispatch bug") })
    }
}

/// A panic in servant code, whether in its type ids or its dispatch,
/// becomes an unknown exception, and the connection and the adapter's
/// other servants go on (within a bound: a panic that escaped would
/// leave the call unanswered).
#[tokio::test]
async fn servant_panics_become_unknown_exceptions() -> Result<()> {
    let (_c, adapter) = server().await?;
    let _ = adapter.add(Arc::new(Panicky), id("panicky"));
    let prx = adapter.create_proxy(id("panicky"));
    let calls = async {
        let type_id = prx.ice_id().await;
        let params = prx.params(|_| {});
        let op = prx
            .ice_invoke("op", OperationMode::Normal, params, None)
            .await;
        let thing = adapter.create_proxy(id("thing"));
        (type_id, op, echo(&thing, "still here").await)
    };
    let (type_id, op, echoed) = tokio::time::timeout(Duration::from_secs(20), calls)
        .await
        .map_err(|_| RuntimeError::InvocationTimeout { millis: 20_000 })?;
    assert!(
        matches!(type_id, Err(RuntimeError::UnknownException(_))),
        "{type_id:?}"
    );
    assert!(
        matches!(op, Err(RuntimeError::UnknownException(_))),
        "{op:?}"
    );
    assert_eq!(echoed?, "still here");
    Ok(())
}

/// Results encoded into a large body live until the last reference to the
/// body (the written reply) is dropped; small results are dropped at once.
#[test]
fn large_results_live_until_their_reply_is_dropped() {
    use std::sync::atomic::AtomicBool;
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let encoding = crate::encoding::EncodingVersion::V1_1;
    let dropped = Arc::new(AtomicBool::new(false));
    let large = Encapsulation {
        encoding,
        body: bytes::Bytes::from(vec![7u8; KEEP_RESULTS_FROM]),
    };
    let kept = keep_until_sent(large, Flag(dropped.clone()));
    assert_eq!(kept.encoding, encoding);
    assert_eq!(kept.body.len(), KEEP_RESULTS_FROM);
    assert!(kept.body.iter().all(|&b| b == 7));
    let written = kept.body.slice(10..);
    drop(kept);
    assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
    drop(written);
    assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));

    let dropped = Arc::new(AtomicBool::new(false));
    let small = Encapsulation {
        encoding,
        body: bytes::Bytes::from(vec![7u8; KEEP_RESULTS_FROM - 1]),
    };
    let kept = keep_until_sent(small, Flag(dropped.clone()));
    assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(kept.body.len(), KEEP_RESULTS_FROM - 1);
}
