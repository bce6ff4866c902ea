//! A member's link to its State Replicator over Ice: the
//! [`ReplicatorLink`] of an Ice proxy, for [`crate::Member::supervise`].
//!
//! A session is the Ice connection the replicator proxy uses. It ends when
//! that connection closes (the replicator process died, restarted, or the
//! network dropped it) or when a periodic `ice_ping` over the proxy fails
//! (a replicator that hangs, or a connection that can no longer carry
//! calls). The pings also keep the connection from being closed as idle by
//! Ice's ACM, which would otherwise look like a loss every minute.
//! Re-resolving an indirect proxy through the locator is the proxy's own
//! business: `connect` only asks it for a connection.

use std::time::Duration;

use ice_proto::connection::Connection;
use ice_proto::proxy::ObjectPrx;

use crate::member::{ReplicatorError, ReplicatorLink};

/// How often a session pings the replicator.
pub const PING_INTERVAL: Duration = Duration::from_secs(1);

/// One connection to the replicator, with the proxy that pings through it.
#[derive(Debug, Clone)]
pub struct IceSession {
    connection: Connection,
    proxy: ObjectPrx,
}

impl ReplicatorLink for ObjectPrx {
    type Session = IceSession;

    async fn connect(&self) -> Result<IceSession, ReplicatorError> {
        let error = |e: ice_proto::RuntimeError| ReplicatorError {
            operation: "ice_ping",
            reason: e.to_string(),
        };
        self.ice_ping().await.map_err(error)?;
        let connection = self.ice_get_connection().await.map_err(error)?;
        Ok(IceSession {
            connection,
            proxy: self.clone(),
        })
    }

    async fn lost(session: IceSession) -> String {
        let pings = async {
            loop {
                tokio::time::sleep(PING_INTERVAL).await;
                if let Err(e) = session.proxy.ice_ping().await {
                    return format!("ping failed: {e}");
                }
            }
        };
        tokio::select! {
            reason = session.connection.wait_closed() => format!("connection closed: {reason}"),
            reason = pings => reason,
        }
    }
}
