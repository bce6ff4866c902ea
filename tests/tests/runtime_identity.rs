//! Identity helpers of an adapter: a servant added under a generated UUID
//! is reached by a ZeroC Python client through the proxy the adapter
//! returns, the UUID has the shape of ZeroC's `Ice.generateUUID()`, and
//! `find`, `find_facet`, `find_all_facets` and `find_by_proxy` see the
//! servant map only.

mod runtime_support;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use ice_proto::adapter::generate_uuid;
use ice_proto::communicator::Communicator;
use ice_proto::encoding::Identity;
use ice_proto::properties::Properties;
use runtime_support::{run_python, tester_servant, PYTHON};

/// The shape of a UUID's text: groups of 8, 4, 4, 4 and 12 upper-case hex
/// digits (as ZeroC writes them), with the version and variant digits.
fn shape(uuid: &str) -> String {
    uuid.chars()
        .enumerate()
        .map(|(i, c)| match (i, c) {
            (14, v) => v,
            (19, v) if "89AB".contains(v) => 'v',
            (_, '-') => '-',
            (_, c) if c.is_ascii_digit() || ('A'..='F').contains(&c) => 'x',
            _ => '?',
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servant_added_with_a_uuid_is_reached_by_a_zeroc_client() -> Result<()> {
    let output = tokio::process::Command::new(PYTHON)
        .args(["-c", "import Ice; print(Ice.generateUUID())"])
        .output()
        .await
        .context("python")?;
    let zeroc_uuid = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let ours = generate_uuid();
    ensure!(
        shape(&ours) == shape(&zeroc_uuid),
        "{ours} vs ZeroC's {zeroc_uuid}"
    );
    ensure!(
        shape(&ours) == "xxxxxxxx-xxxx-4xxx-vxxx-xxxxxxxxxxxx",
        "{ours}"
    );
    ensure!(generate_uuid() != ours);

    let communicator = Communicator::new(Properties::new());
    let adapter = communicator
        .create_object_adapter_with_endpoints("Ids", "tcp -h 127.0.0.1 -p 0")
        .await?;
    let servant = tester_servant();
    let prx = adapter.add_with_uuid(servant.clone());
    let facet = adapter.add_facet_with_uuid(tester_servant(), "extra");
    adapter.activate();
    let (ok, out) = run_python("ping.py", &[&prx.to_string()], Duration::from_secs(30)).await?;
    ensure!(ok && out.trim() == "ok", "ZeroC client: {out}");

    let id = prx.data().identity.clone();
    ensure!(id.category.is_empty() && shape(&id.name) == shape(&ours));
    let found = adapter.find(&id).context("find")?;
    let servant: Arc<dyn ice_proto::adapter::Servant> = servant;
    ensure!(Arc::ptr_eq(&found, &servant));
    ensure!(adapter.find_by_proxy(&prx).is_some());
    ensure!(adapter.find_by_proxy(&facet).is_some());
    ensure!(adapter.find_facet(&id, "extra").is_none());
    let facet_id = facet.data().identity.clone();
    ensure!(adapter.find(&facet_id).is_none(), "only a facet was added");
    let all = adapter.find_all_facets(&facet_id);
    ensure!(all.len() == 1 && all.contains_key("extra"));
    let missing = Identity {
        name: "missing".into(),
        category: String::new(),
    };
    adapter.add_default_servant(tester_servant(), "");
    ensure!(
        adapter.find(&missing).is_none(),
        "default servants are not found"
    );
    ensure!(adapter.find_default_servant("").is_some());
    communicator.destroy().await;
    Ok(())
}
