//! BridgeServiceZ: the design's variant with removal expressed as an item
//! subtype. A small component keeping bridges (member channels, mixing
//! rate) as replicated state, built only on the glue slice2rs generates
//! from `BridgeServiceZStateReplicationIf.ice` ([`glue`]): there is no
//! remove operation; destroying a bridge sets a
//! `BridgeServiceZStateItemRemoval` with its key, in the same stream as
//! the other changes.

use std::collections::BTreeMap;

use crate::member::MemberError;

pub use crate::generated::asterisk_scf::bridge_service_z::v1 as bz;

/// The glue slice2rs generated for `BridgeServiceZStateReplicator`.
pub use crate::generated::replication::bridge_service_z_state_replicator as glue;

/// One bridge as the component sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bridge {
    /// The channels it joins, in the order they joined.
    pub members: Vec<String>,
    /// Its mixing rate in Hz.
    pub mixing_rate: i32,
}

impl From<&bz::BridgeServiceZBridgeStateItem> for Bridge {
    fn from(b: &bz::BridgeServiceZBridgeStateItem) -> Self {
        Bridge {
            members: b.members.clone(),
            mixing_rate: b.mixing_rate,
        }
    }
}

member_component!(
    /// The BridgeServiceZ component over a replica-group member.
    Bridges,
    glue
);

impl Bridges {
    fn item(id: &str, bridge: &Bridge) -> glue::Item {
        glue::Item::new(bz::BridgeServiceZBridgeStateItem {
            base: bz::BridgeServiceZStateItem { key: id.to_owned() },
            members: bridge.members.clone(),
            mixing_rate: bridge.mixing_rate,
        })
    }

    /// Creates (or replaces) a bridge with no members.
    ///
    /// # Errors
    /// [`MemberError::NotActive`] on standby, or the replicator's error.
    pub async fn create(&self, id: &str, mixing_rate: i32) -> Result<(), MemberError> {
        let bridge = Bridge {
            members: Vec::new(),
            mixing_rate,
        };
        self.member.set(vec![Self::item(id, &bridge)]).await
    }

    /// Adds a channel to a bridge; false when there is no such bridge.
    ///
    /// # Errors
    /// As [`Bridges::create`].
    pub async fn join_channel(&self, id: &str, channel: &str) -> Result<bool, MemberError> {
        let Some(mut b) = self.bridges().remove(id) else {
            return Ok(false);
        };
        b.members.push(channel.to_owned());
        self.member.set(vec![Self::item(id, &b)]).await?;
        Ok(true)
    }

    /// Destroys bridges and creates others in one change (the removals
    /// travel as removal items in the same `setStateItems` call).
    ///
    /// # Errors
    /// As [`Bridges::create`].
    pub async fn replace(
        &self,
        destroy: &[&str],
        create: &[(&str, i32)],
    ) -> Result<(), MemberError> {
        let items = destroy
            .iter()
            .map(|id| glue::Item::removal((*id).to_owned()))
            .chain(create.iter().map(|(id, rate)| {
                Self::item(
                    id,
                    &Bridge {
                        members: Vec::new(),
                        mixing_rate: *rate,
                    },
                )
            }))
            .collect();
        self.member.set(items).await
    }

    /// Destroys a bridge.
    ///
    /// # Errors
    /// As [`Bridges::create`].
    pub async fn destroy(&self, id: &str) -> Result<(), MemberError> {
        self.member.remove(vec![id.to_owned()]).await
    }

    /// Every bridge by id.
    #[must_use]
    pub fn bridges(&self) -> BTreeMap<String, Bridge> {
        self.member
            .snapshot()
            .iter()
            .filter_map(|i| {
                let b = i.downcast::<bz::BridgeServiceZBridgeStateItem>()?;
                let b = b.read();
                Some((b.base.key.clone(), Bridge::from(&*b)))
            })
            .collect()
    }
}
