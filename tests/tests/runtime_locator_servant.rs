//! Servant locators against ZeroC: one program, written twice (a ZeroC
//! Python server, `tests/interop/locator_server.py`, and the Rust server
//! below), is called by one ZeroC Python client (`locator_client.py`);
//! both servers must give it the same answers, line for line: the lookup
//! order (servant map, default servants, locator of the category, locator
//! of `""`), `finished` with the cookie (built-ins included), and every
//! exception `locate` and `finished` throw as the client observes it.

mod runtime_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, ensure, Result};
use ice_proto::adapter::{
    Cookie, Current, DispatchError, Located, ObjectAdapter, Servant, ServantLocator,
};
use ice_proto::communicator::Communicator;
use ice_proto::connection::BoxFuture;
use ice_proto::encoding::{Endpoint, Identity};
use ice_proto::properties::Properties;
use runtime_support::{
    run_python, start_python_server, Boom, Tester, TesterAddResult, TesterServant,
};

type Log = Arc<Mutex<Vec<String>>>;

fn push(log: &Log, line: String) {
    if let Ok(mut l) = log.lock() {
        l.push(line);
    }
}

/// `Test::Tester` whose `echo` answers `<name>:<s>`; `takeRecorded`
/// returns and clears the shared log.
struct Named {
    name: String,
    log: Log,
}

fn named(name: &str, log: &Log) -> Arc<dyn Servant> {
    TesterServant::new(Named {
        name: name.to_owned(),
        log: log.clone(),
    })
}

impl Tester for Named {
    async fn echo(&self, s: String, _: &Current) -> Result<String, DispatchError> {
        Ok(format!("{}:{s}", self.name))
    }
    async fn add(&self, a: i32, b: i32, _: &Current) -> Result<TesterAddResult, DispatchError> {
        Ok(TesterAddResult {
            return_value: a.wrapping_add(b),
            product: a.wrapping_mul(b),
        })
    }
    async fn record(&self, msg: String, _: &Current) -> Result<(), DispatchError> {
        push(&self.log, msg);
        Ok(())
    }
    async fn take_recorded(&self, _: &Current) -> Result<Vec<String>, DispatchError> {
        Ok(self
            .log
            .lock()
            .map(|mut l| l.drain(..).collect())
            .unwrap_or_default())
    }
    async fn get_context(&self, key: String, current: &Current) -> Result<String, DispatchError> {
        Ok(current
            .context
            .get(&key)
            .cloned()
            .unwrap_or_else(|| "<none>".to_owned()))
    }
    async fn fail(&self, reason: String, code: i32, _: &Current) -> Result<(), DispatchError> {
        Err(Boom { reason, code }.into())
    }
    async fn crash(&self, _: &Current) -> Result<(), DispatchError> {
        Err(DispatchError::UnknownException("crash".into()))
    }
    async fn call_back(&self, name: String, _: &Current) -> Result<String, DispatchError> {
        Ok(name)
    }
    async fn shutdown(&self, _: &Current) -> Result<(), DispatchError> {
        Ok(())
    }
}

/// The locator of `locator_server.py`: see its documentation.
struct Loc {
    prefix: String,
    log: Log,
}

impl ServantLocator for Loc {
    fn locate<'a>(&'a self, current: &'a Current) -> BoxFuture<'a, Result<Located, DispatchError>> {
        Box::pin(async move {
            match current.id.name.as_str() {
                "missing" => Ok(None),
                "userex" => Err(Boom {
                    reason: "locate".into(),
                    code: 1,
                }
                .into()),
                "notexist" => Err(DispatchError::ObjectNotExist),
                "crash" => Err(DispatchError::UnknownException("locate crashed".into())),
                name => {
                    let servant = named(&format!("{}:{name}", self.prefix), &self.log);
                    let cookie: Cookie = Box::new(name.to_owned());
                    Ok(Some((servant, Some(cookie))))
                }
            }
        })
    }

    fn finished<'a>(
        &'a self,
        current: &'a Current,
        _servant: &'a Arc<dyn Servant>,
        cookie: Option<Cookie>,
    ) -> BoxFuture<'a, Result<(), DispatchError>> {
        Box::pin(async move {
            let cookie = cookie
                .as_ref()
                .and_then(|c| c.downcast_ref::<String>())
                .cloned()
                .unwrap_or_default();
            push(
                &self.log,
                format!(
                    "finished {}/{} {} {cookie}",
                    current.id.category, current.id.name, current.operation
                ),
            );
            if current.id.name == "finerr" {
                return Err(Boom {
                    reason: "finished".into(),
                    code: 2,
                }
                .into());
            }
            Ok(())
        })
    }

    fn deactivate(&self, category: &str) {
        push(&self.log, format!("deactivate {category}"));
    }
}

fn ident(text: &str) -> Identity {
    match text.split_once('/') {
        Some((category, name)) => Identity {
            name: name.to_owned(),
            category: category.to_owned(),
        },
        None => Identity {
            name: text.to_owned(),
            category: String::new(),
        },
    }
}

/// The Rust server of the program, with its adapter, log and port.
async fn rust_server() -> Result<(Communicator, ObjectAdapter, Log, u16)> {
    let log = Log::default();
    let communicator = Communicator::new(Properties::new());
    let adapter = communicator
        .create_object_adapter_with_endpoints("Loc", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let _ = adapter.add(named("asm", &log), ident("asm"));
    let _ = adapter.add(named("loc-asm", &log), ident("loc/asm"));
    let _ = adapter.add(named("log", &log), ident("log"));
    adapter.add_default_servant(named("default-both", &log), "both");
    for (prefix, category) in [("loc", "loc"), ("locator-both", "both"), ("any", "")] {
        let locator = Arc::new(Loc {
            prefix: prefix.to_owned(),
            log: log.clone(),
        });
        adapter.add_servant_locator(locator, category)?;
    }
    adapter.activate();
    let port = match adapter.endpoints().first() {
        Some(Endpoint::Tcp(ip)) => u16::try_from(ip.port)?,
        other => bail!("unexpected endpoint {other:?}"),
    };
    Ok((communicator, adapter, log, port))
}

async fn client(port: u16) -> Result<String> {
    let (ok, out) = run_python(
        "locator_client.py",
        &[&port.to_string()],
        Duration::from_secs(60),
    )
    .await?;
    ensure!(ok, "locator_client.py failed:\n{out}");
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zeroc_client_sees_the_same_locator_behaviour_as_from_a_zeroc_server() -> Result<()> {
    let (_zeroc, zeroc_port) =
        start_python_server("locator_server.py", &["--Ice.Warn.Dispatch=0"]).await?;
    let zeroc = client(zeroc_port).await?;
    let (_communicator, _adapter, _log, port) = rust_server().await?;
    let ours = client(port).await?;
    // What the ZeroC server answered, checked on its own first.
    for line in [
        "asm#nofacet echo -> any:asm:e",
        "both/x echo -> default-both:e",
        "loc/one echo -> loc:one:e",
        "finished loc/one ice_ping one",
    ] {
        ensure!(
            zeroc.lines().any(|l| l == line),
            "ZeroC: no `{line}`:\n{zeroc}"
        );
    }
    pretty_assertions::assert_eq!(ours, zeroc);
    Ok(())
}

#[tokio::test]
async fn locators_are_found_removed_and_deactivated_on_destroy() -> Result<()> {
    let (_communicator, adapter, log, _port) = rust_server().await?;
    ensure!(adapter.find_servant_locator("loc").is_some());
    ensure!(adapter.find_servant_locator("nope").is_none());
    let again = Arc::new(Loc {
        prefix: "x".into(),
        log: log.clone(),
    });
    ensure!(
        adapter.add_servant_locator(again, "loc").is_err(),
        "a second locator for a category is refused"
    );
    ensure!(adapter.remove_servant_locator("both").is_some());
    ensure!(adapter.find_servant_locator("both").is_none());
    adapter.destroy().await;
    let mut lines = log.lock().map(|l| l.clone()).unwrap_or_default();
    lines.sort();
    // Removed locators are not deactivated.
    ensure!(
        lines == ["deactivate ", "deactivate loc"],
        "deactivate calls: {lines:?}"
    );
    Ok(())
}
