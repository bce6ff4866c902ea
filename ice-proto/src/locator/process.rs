//! The `Process` admin facet a server started by an IceGrid node registers
//! with the locator registry, so that the node can stop it gracefully.
//!
//! With `Ice.Admin.ServerId` and `Ice.Admin.Endpoints` set (an IceGrid
//! node sets both in the configuration of the servers it starts) and
//! `Ice.Admin.Enabled` not 0, the communicator creates the `Ice.Admin`
//! adapter, serves `Ice::Process` (`shutdown`, `writeMessage`) as facet
//! `Process` of `<Ice.Admin.InstanceName>/admin`, and registers it with
//! `Ice::LocatorRegistry::setServerProcessProxy(serverId, proxy)` when its
//! first adapter registers with the locator. The node then counts the
//! server as active and stops it by calling `shutdown`.

use std::sync::Arc;

use crate::adapter::{Current, DispatchError, DispatchResult, Servant};
use crate::communicator::Communicator;
use crate::connection::BoxFuture;
use crate::encoding::Identity;
use crate::properties::Properties;
use crate::protocol::Encapsulation;
use crate::runtime_error::{Result, RuntimeError};

use super::Locator;

/// The type id of `Ice::Process`.
pub const PROCESS_TYPE_ID: &str = "::Ice::Process";

/// Type id of `Ice::ServerNotFoundException`.
pub const SERVER_NOT_FOUND: &str = "::Ice::ServerNotFoundException";

/// What `Ice.Admin.*` asks for: the server id and the admin endpoints,
/// when the `Process` facet is to be served and registered.
pub(crate) fn admin_settings(properties: &Properties) -> Option<(String, String)> {
    let server_id = properties.get_property("Ice.Admin.ServerId")?.trim();
    let endpoints = properties.get_property("Ice.Admin.Endpoints")?.trim();
    let enabled = properties.get_property_as_int_with_default("Ice.Admin.Enabled", 1);
    (!server_id.is_empty() && !endpoints.is_empty() && enabled > 0)
        .then(|| (server_id.to_owned(), endpoints.to_owned()))
}

/// A name no other process uses, for `Ice.Admin.InstanceName` left unset.
fn unique_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let a = hasher.finish();
    hasher.write_u64(a);
    format!("{a:016x}{:016x}", hasher.finish())
}

/// `Ice::Process`: `shutdown` shuts the communicator down (after the reply
/// is sent), `writeMessage` writes to stdout (fd 1) or stderr (fd 2).
struct ProcessServant {
    communicator: Communicator,
}

impl Servant for ProcessServant {
    fn type_ids(&self) -> &[&str] {
        &[PROCESS_TYPE_ID]
    }

    fn dispatch<'a>(
        &'a self,
        current: &'a Current,
        params: Encapsulation,
    ) -> BoxFuture<'a, DispatchResult> {
        Box::pin(async move {
            match current.operation.as_str() {
                "shutdown" => {
                    tracing::info!("shutdown requested through the Process admin facet");
                    let communicator = self.communicator.clone();
                    tokio::spawn(async move { communicator.shutdown().await });
                    Ok(current.results(|_| {}))
                }
                "writeMessage" => {
                    let mut input = Current::params_stream(&params)?;
                    let message = input.read_string()?;
                    let fd = input.read_i32()?;
                    match fd {
                        2 => eprintln!("{message}"),
                        _ => println!("{message}"),
                    }
                    Ok(current.results(|_| {}))
                }
                _ => Err(DispatchError::OperationNotExist),
            }
        })
    }
}

/// Creates the `Ice.Admin` adapter with the `Process` facet and registers
/// it for `server_id` with the registry of `locator`.
///
/// # Errors
/// [`RuntimeError::NotRegistered`] when the registry knows no such server
/// (as Ice, which then refuses to start); adapter and connection errors.
pub(crate) async fn register_process(
    communicator: &Communicator,
    locator: &Locator,
    server_id: &str,
    endpoints: &str,
) -> Result<()> {
    let instance = communicator
        .properties()
        .get_property("Ice.Admin.InstanceName")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map_or_else(unique_name, str::to_owned);
    let adapter = communicator
        .create_object_adapter_with_endpoints("Ice.Admin", endpoints)
        .await?;
    let identity = Identity {
        name: "admin".into(),
        category: instance,
    };
    let servant = Arc::new(ProcessServant {
        communicator: communicator.clone(),
    });
    let proxy = adapter
        .add_facet(servant, identity.clone(), "Process")
        .data()
        .clone();
    adapter.activate();
    let registry =
        locator
            .get_registry(communicator)
            .await?
            .ok_or_else(|| RuntimeError::NoEndpoint {
                proxy: "locator registry".into(),
            })?;
    let registry = communicator.proxy(registry).ice_locator(None);
    let params = registry.params(|out| {
        out.write_string(server_id);
        out.write(&Some(proxy.clone()));
    });
    let outcome = registry
        .ice_invoke(
            "setServerProcessProxy",
            crate::protocol::OperationMode::Idempotent,
            params,
            None,
        )
        .await;
    let message = match &outcome {
        Ok(crate::proxy::Outcome::Ok(_)) => format!(
            "registered server `{server_id}' with the locator registry\nprocess proxy = {}",
            crate::reference::to_string(&proxy)
        ),
        Ok(_) => format!(
            "couldn't register server `{server_id}' with the locator registry:\nthe server is not known to the locator registry"
        ),
        Err(e) => format!(
            "couldn't register server `{server_id}' with the locator registry:\n{e}"
        ),
    };
    super::trace(locator.trace, 1, &message);
    match outcome? {
        crate::proxy::Outcome::Ok(_) => Ok(()),
        crate::proxy::Outcome::UserException(e) => {
            match super::user_exception(&e, server_id.to_owned()) {
                RuntimeError::UnknownUserException(t) if t == SERVER_NOT_FOUND => {
                    Err(RuntimeError::NotRegistered {
                        kind: "server",
                        id: server_id.to_owned(),
                    })
                }
                other => Err(other),
            }
        }
    }
}
