//! SessionServiceY: the design's variant with keys external to the items.
//! A small component keeping sessions (caller, callee, answered) as
//! replicated state, built only on the glue slice2rs generates from
//! `SessionServiceYStateReplicationIf.ice` ([`glue`]): each item travels
//! as a `SessionServiceYStateEntry`, the key beside the instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use ice_proto::adapter::ObjectAdapter;
use ice_proto::encoding::Identity;
use ice_proto::proxy::ObjectPrx;

use crate::member::{MemberError, ReplicatorError};

pub use crate::generated::asterisk_scf::session_service_y::v1 as sy;

/// The glue slice2rs generated for `SessionServiceYStateReplicator`.
pub use crate::generated::replication::session_service_y_state_replicator as glue;

/// One session as the component sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Session {
    /// Who called.
    pub caller: String,
    /// Who was called.
    pub callee: String,
    /// Whether the callee answered.
    pub answered: bool,
}

/// The SessionServiceY component over a replica-group member.
#[derive(Debug, Clone)]
pub struct Sessions {
    member: glue::Member,
}

impl Sessions {
    /// The component over `member`.
    #[must_use]
    pub fn new(member: glue::Member) -> Self {
        Self { member }
    }

    /// A standby member listening to the replicator at `replicator`: its
    /// listener servant is added to `adapter` as `listener`, then the
    /// member registers it and catches up.
    ///
    /// # Errors
    /// The replicator's error when it cannot be reached.
    pub async fn join(
        replicator: ObjectPrx,
        adapter: &ObjectAdapter,
        listener: Identity,
    ) -> Result<Self, ReplicatorError> {
        let servant = glue::MemberListener::default();
        let slot = Arc::clone(&servant.slot);
        let prx = adapter.add(servant.into_dispatcher(), listener);
        let member = glue::Member::new_standby(glue::Client::new(replicator, &prx));
        if let Ok(mut s) = slot.lock() {
            *s = Some(member.clone());
        }
        member.join().await?;
        Ok(Self::new(member))
    }

    /// The member.
    #[must_use]
    pub fn member(&self) -> &glue::Member {
        &self.member
    }

    /// Starts (or replaces) a session.
    ///
    /// # Errors
    /// [`MemberError::NotActive`] on standby, or the replicator's error.
    pub async fn start(&self, id: &str, caller: &str, callee: &str) -> Result<(), MemberError> {
        let item = sy::SessionServiceYSessionStateItem {
            base: sy::SessionServiceYStateItem {},
            caller: caller.to_owned(),
            callee: callee.to_owned(),
            answered: false,
        };
        self.member
            .set(vec![glue::Item::new(id.to_owned(), item)])
            .await
    }

    /// Marks a session answered; false when there is no such session.
    ///
    /// # Errors
    /// As [`Sessions::start`].
    pub async fn answer(&self, id: &str) -> Result<bool, MemberError> {
        let Some(mut s) = self.item(id) else {
            return Ok(false);
        };
        s.answered = true;
        self.member
            .set(vec![glue::Item::new(id.to_owned(), s)])
            .await?;
        Ok(true)
    }

    /// Ends a session.
    ///
    /// # Errors
    /// As [`Sessions::start`].
    pub async fn end(&self, id: &str) -> Result<(), MemberError> {
        self.member.remove(vec![id.to_owned()]).await
    }

    fn item(&self, id: &str) -> Option<sy::SessionServiceYSessionStateItem> {
        self.member.get(&id.to_owned()).and_then(|i| {
            i.downcast_ref::<sy::SessionServiceYSessionStateItem>()
                .cloned()
        })
    }

    /// Every session by id.
    #[must_use]
    pub fn sessions(&self) -> BTreeMap<String, Session> {
        self.member
            .snapshot()
            .iter()
            .filter_map(|i| {
                let s = i.downcast_ref::<sy::SessionServiceYSessionStateItem>()?;
                Some((
                    i.0.key.clone(),
                    Session {
                        caller: s.caller.clone(),
                        callee: s.callee.clone(),
                        answered: s.answered,
                    },
                ))
            })
            .collect()
    }
}
