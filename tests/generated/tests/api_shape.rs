//! The shape of the generated API, as application code writes it
//! (`slice/ApiShape.ice`): this file must compile, so a change of the
//! mapping that breaks the common call shape fails the build, and the
//! calls are then made against a Rust server.
//!
//! - parameters are borrowed: `&str`, `&[T]`, `&Struct`, `&BTreeMap`,
//!   numbers by value, `Option<&str>` / `Option<i32>` for optional ones;
//!   no context argument;
//! - several outputs come back as a struct with named fields;
//! - an operation inherited from a base interface is called through the
//!   derived proxy and fails with the same error type as through the base;
//! - the typed `ice_*` methods keep the proxy type.

mod support;

use std::sync::Mutex;

use generated_check::shape_check::api_shape as a;
use ice_proto::adapter::{Current, DispatchError};
use ice_proto::communicator::Communicator;
use ice_proto::properties::Properties;
use ice_proto::typed_proxy::TypedProxy;
use ice_proto::RuntimeError;
use support::TestResult;

#[derive(Default)]
struct RegistryImpl {
    entries: Mutex<Vec<(String, a::Entry)>>,
}

impl a::Registry for RegistryImpl {
    async fn put(
        &self,
        name: String,
        aliases: a::Names,
        e: a::Entry,
        extra: a::Counts,
        _current: &Current,
    ) -> Result<(), DispatchError> {
        if name.len() > 8 {
            return Err(a::TooLong {
                base: a::Refused {
                    reason: format!("{name} is too long"),
                },
                max: 8,
            }
            .into());
        }
        if name.is_empty() {
            return Err(a::Refused {
                reason: "empty".into(),
            }
            .into());
        }
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| DispatchError::OperationNotExist)?;
        for n in std::iter::once(name).chain(aliases) {
            let mut e = e.clone();
            e.count += extra.get(&n).copied().unwrap_or(0);
            entries.push((n, e));
        }
        Ok(())
    }

    async fn count(
        &self,
        name: String,
        floor: Option<i32>,
        _current: &Current,
    ) -> Result<a::RegistryCountResult, DispatchError> {
        let entries = self
            .entries
            .lock()
            .map_err(|_| DispatchError::OperationNotExist)?;
        let matching: Vec<&(String, a::Entry)> = entries
            .iter()
            .filter(|(n, e)| *n == name || e.name == name)
            .collect();
        let detail = matching
            .iter()
            .map(|(n, e)| (n.clone(), e.count.max(floor.unwrap_or(i32::MIN))))
            .collect();
        Ok(a::RegistryCountResult {
            return_value: i32::try_from(matching.len()).unwrap_or(i32::MAX),
            detail,
        })
    }
}

impl a::AuditedRegistry for RegistryImpl {
    async fn history(
        &self,
        after: Option<String>,
        _current: &Current,
    ) -> Result<a::Names, DispatchError> {
        let entries = self
            .entries
            .lock()
            .map_err(|_| DispatchError::OperationNotExist)?;
        Ok(entries
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| after.as_deref().is_none_or(|after| n.as_str() > after))
            .collect())
    }
}

/// Handles the error of `put` the same way whichever proxy made the call:
/// one error type per operation.
fn refusal(e: a::RegistryPutError) -> String {
    match e {
        a::RegistryPutError::Refused(r) => match r.downcast_ref::<a::TooLong>() {
            Some(t) => format!("too long (max {})", t.max),
            None => format!("refused: {}", r.reason),
        },
        a::RegistryPutError::Runtime(e) => format!("runtime: {e}"),
        _ => "unknown".into(),
    }
}

#[tokio::test]
async fn generated_api_has_the_documented_shape() -> TestResult {
    let communicator = Communicator::new(Properties::new());
    let port = support::serve(
        &communicator,
        "ApiShape",
        vec![(
            a::AuditedRegistryServant::new(RegistryImpl::default()),
            "registry",
        )],
    )
    .await?;
    let base = support::loopback_proxy(&communicator, "registry", port)?;
    let audited: a::AuditedRegistryPrx = a::AuditedRegistryPrx::checked_cast(&base)
        .await?
        .ok_or("not an AuditedRegistry")?;
    let registry: a::RegistryPrx = audited.clone().into();

    // Borrowed parameters: a &str, a slice of strings, a struct, a map.
    let aliases = ["a1".to_string(), "a2".to_string()];
    let extra = a::Counts::from([("a2".to_string(), 5)]);
    let entry = a::Entry {
        name: "first".into(),
        count: 1,
    };
    audited
        .put("first", &aliases, &entry, &extra)
        .await
        .map_err(refusal)?;
    let second = a::Entry {
        name: "second".into(),
        count: 0,
    };
    registry
        .put("second", &[], &second, &a::Counts::new())
        .await
        .map_err(refusal)?;

    // The inherited operation through the derived proxy and through the
    // base proxy: the same error type, handled by the same function.
    let through_derived: Result<(), a::RegistryPutError> =
        audited.put("", &[], &entry, &extra).await;
    let through_base: Result<(), a::RegistryPutError> =
        registry.put("far-too-long", &[], &entry, &extra).await;
    assert_eq!(
        through_derived.map_err(refusal),
        Err("refused: empty".to_string())
    );
    assert_eq!(
        through_base.map_err(refusal),
        Err("too long (max 8)".to_string())
    );

    // Several outputs: a struct with the return value and the out-parameters.
    let a::RegistryCountResult {
        return_value,
        detail,
    } = audited.count("first", Some(2)).await?;
    assert_eq!(return_value, 3);
    assert_eq!(
        detail,
        a::Counts::from([
            ("first".to_string(), 2),
            ("a1".to_string(), 2),
            ("a2".to_string(), 6)
        ])
    );
    assert_eq!(registry.count("none", None).await?.return_value, 0);

    // Optional parameters as `Option<&str>`.
    assert_eq!(
        audited.history(Some("first")).await?,
        vec!["second".to_string()]
    );
    assert_eq!(audited.history(None).await?.len(), 4);

    // Typed ice_* methods keep the proxy type; a oneway call of an
    // operation that returns data is refused before it is sent.
    let oneway: a::AuditedRegistryPrx = audited.ice_oneway();
    assert!(!oneway.ice_is_twoway());
    match oneway.history(None).await {
        Err(RuntimeError::TwowayOnly { operation }) => assert_eq!(operation, "history"),
        other => panic!("expected TwowayOnly, got {other:?}"),
    }
    assert!(oneway.ice_is_oneway() && !oneway.ice_is_batch_oneway());
    let twoway: a::AuditedRegistryPrx = oneway.ice_twoway();
    assert_eq!(twoway.ice_get_identity().name, "registry");
    assert_eq!(twoway.ice_get_facet(), "");
    assert_eq!(twoway.ice_get_adapter_id(), "");
    assert_eq!(twoway.ice_get_endpoints().len(), 1);
    assert!(twoway.ice_get_context().is_empty() && !twoway.ice_is_secure());
    // A secure copy has no secure endpoint to use here, as in Ice.
    let secure: a::AuditedRegistryPrx = twoway.ice_secure(true);
    assert!(secure.ice_is_secure());
    assert!(secure.history(None).await.is_err());
    assert_eq!(
        twoway.history(Some("a2")).await?,
        vec!["first".to_string(), "second".to_string()]
    );
    communicator.destroy().await;
    Ok(())
}
