//! SessionServiceY: the design's variant with keys external to the items.
//! A small component keeping sessions (caller, callee, answered) as
//! replicated state, built only on the glue slice2rs generates from
//! `SessionServiceYStateReplicationIf.ice` ([`glue`]): each item travels
//! as a `SessionServiceYStateEntry`, the key beside the instance.

use std::collections::BTreeMap;

use crate::member::MemberError;

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

impl From<&sy::SessionServiceYSessionStateItem> for Session {
    fn from(s: &sy::SessionServiceYSessionStateItem) -> Self {
        Session {
            caller: s.caller.clone(),
            callee: s.callee.clone(),
            answered: s.answered,
        }
    }
}

member_component!(
    /// The SessionServiceY component over a replica-group member.
    Sessions,
    glue
);

impl Sessions {
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
            i.downcast::<sy::SessionServiceYSessionStateItem>()
                .map(|s| s.read().clone())
        })
    }

    /// Every session by id.
    #[must_use]
    pub fn sessions(&self) -> BTreeMap<String, Session> {
        self.member
            .snapshot()
            .iter()
            .filter_map(|i| {
                let s = i.downcast::<sy::SessionServiceYSessionStateItem>()?;
                let s = s.read();
                Some((i.0.key.clone(), Session::from(&*s)))
            })
            .collect()
    }
}
