//! What every small component on generated State Replicator glue has in
//! common: a struct holding one replica-group member, its constructor, the
//! way a standby member joins its replicator over Ice, and the accessor.
//!
//! The glue is a generated module per component (its `Member`, `Client`
//! and `MemberListener` are distinct types with no trait in common), so
//! this is a macro over the glue module rather than a generic.

/// Defines `pub struct $component { member: $glue::Member }` with `new`,
/// `join` and `member`; `$glue` is the component's generated glue module,
/// in scope where the macro is used.
macro_rules! member_component {
    ($(#[$doc:meta])* $component:ident, $glue:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $component {
            member: $glue::Member,
        }

        impl $component {
            /// The component over `member`.
            #[must_use]
            pub fn new(member: $glue::Member) -> Self {
                Self { member }
            }

            /// A standby member listening to the replicator at
            /// `replicator`: its listener servant is added to `adapter` as
            /// `listener`, then the member registers it and catches up.
            ///
            /// # Errors
            /// The replicator's error when it cannot be reached.
            pub async fn join(
                replicator: ::ice_proto::proxy::ObjectPrx,
                adapter: &::ice_proto::adapter::ObjectAdapter,
                listener: ::ice_proto::encoding::Identity,
            ) -> Result<Self, $crate::member::ReplicatorError> {
                let servant = $glue::MemberListener::default();
                let slot = ::std::sync::Arc::clone(&servant.slot);
                let prx = adapter.add(servant.into_dispatcher(), listener);
                let member = $glue::Member::new_standby(
                    $glue::Client::new(replicator, &prx),
                );
                if let Ok(mut s) = slot.lock() {
                    *s = Some(member.clone());
                }
                member.join().await?;
                Ok(Self::new(member))
            }

            /// The member.
            #[must_use]
            pub fn member(&self) -> &$glue::Member {
                &self.member
            }
        }
    };
}
