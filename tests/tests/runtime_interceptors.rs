//! Built-in operations reaching a servant that overrides them, and a
//! dispatch interceptor, as a ZeroC Python client (`builtins_client.py`)
//! sees them: `ice_ping`, `ice_isA` and `ice_ids` with a context reach
//! the servant, which answers from that context; an interceptor rejects
//! the operation a context key names, built-ins included.

mod runtime_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use ice_proto::adapter::{
    Current, DispatchError, DispatchInterceptor, DispatchResult, Next, Servant,
};
use ice_proto::communicator::Communicator;
use ice_proto::connection::BoxFuture;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::properties::Properties;
use ice_proto::protocol::Encapsulation;
use runtime_support::{run_python, tester_servant};

/// A dynamic servant that answers the built-ins itself, from the
/// context: `ice_ping` only with a `who` key, `ice_isA` true only then,
/// `ice_ids` naming who asked; `ice_id` is left to the adapter.
struct Open;

impl Servant for Open {
    fn type_ids(&self) -> &[&str] {
        &["::Test::Tester"]
    }

    fn dispatches_builtins(&self) -> bool {
        true
    }

    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move {
            let who = current.context.get("who");
            match current.operation.as_str() {
                "ice_ping" if who.is_some() => Ok(current.results(|_| {})),
                "ice_ping" => Err(DispatchError::ObjectNotExist),
                "ice_isA" => {
                    let id = Current::params_stream(&params)?.read_string()?;
                    let is_a = who.is_some() && id == "::Test::Tester";
                    Ok(current.results(|out| out.write_bool(is_a)))
                }
                "ice_ids" => {
                    let ids = vec![
                        "::Ice::Object".to_owned(),
                        "::Test::Tester".to_owned(),
                        format!("ctx:{}", who.map_or("", String::as_str)),
                    ];
                    Ok(current.results(|out| out.write(&ids)))
                }
                _ => Err(DispatchError::OperationNotExist),
            }
        })
    }
}

/// Records every operation it sees and rejects the one the `deny`
/// context key names.
struct Guard {
    seen: Mutex<Vec<String>>,
}

impl DispatchInterceptor for Guard {
    fn intercept<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
        next: Next<'a>,
    ) -> BoxFuture<'a, DispatchResult> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(format!("{} {}", current.id.name, current.operation));
        }
        if current.context.get("deny") == Some(&current.operation) {
            let reason = format!("rejected: {}", current.operation);
            return Box::pin(async move { Err(DispatchError::UnknownException(reason)) });
        }
        next.run(current, params)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zeroc_built_ins_reach_an_overriding_servant_and_an_interceptor_rejects_by_context(
) -> Result<()> {
    let communicator = Communicator::new(Properties::new());
    let adapter = communicator
        .create_object_adapter_with_endpoints("Intercepted", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let id = |name: &str| Identity {
        name: name.to_owned(),
        category: String::new(),
    };
    let _ = adapter.add(Arc::new(Open), id("open"));
    let _ = adapter.add(tester_servant(), id("guarded"));
    let guard = Arc::new(Guard {
        seen: Mutex::new(Vec::new()),
    });
    adapter.add_dispatch_interceptor(guard.clone());
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => bail!("unexpected endpoint {other:?}"),
    };
    let (ok, out) = run_python(
        "builtins_client.py",
        &[&port.to_string()],
        Duration::from_secs(60),
    )
    .await?;
    ensure!(ok, "builtins_client.py failed:\n{out}");
    pretty_assertions::assert_eq!(
        out,
        "ice_ping -> ObjectNotExistException\n\
         ice_ping ctx -> ok\n\
         ice_isA ctx -> True\n\
         ice_isA -> False\n\
         ice_ids ctx -> ::Ice::Object,::Test::Tester,ctx:zeroc\n\
         ice_id ctx -> ::Test::Tester\n\
         echo -> e\n\
         echo deny=echo -> UnknownException rejected: echo\n\
         ice_ping deny=ice_ping -> UnknownException rejected: ice_ping\n\
         ice_ping deny=echo -> ok\n\
         ice_isA -> True\n"
    );
    // The interceptor saw every request, built-ins included; the ZeroC
    // client sends the rejected `ice_ping` twice (it retries an
    // idempotent call that failed with an unknown exception once, as it
    // does against a ZeroC server).
    let seen = guard.seen.lock().map(|s| s.clone()).unwrap_or_default();
    ensure!(
        seen == [
            "open ice_ping",
            "open ice_ping",
            "open ice_isA",
            "open ice_isA",
            "open ice_ids",
            "open ice_id",
            "guarded echo",
            "guarded echo",
            "guarded ice_ping",
            "guarded ice_ping",
            "guarded ice_ping",
            "guarded ice_isA",
        ],
        "{seen:?}"
    );
    communicator.destroy().await;
    Ok(())
}
