//! State replication after the Asterisk SCF design: a generic State
//! Replicator, the listener side, and the `Replica` lifecycle.
//!
//! - [`state`]: the generic replicator core (store and ordered fan-out),
//!   independent of Ice;
//! - [`member`]: a replica-group member's store and its standby/active
//!   lifecycle;
//! - [`channel_x`]: the example component ChannelServiceX over Ice (the
//!   generated Slice mapping glued to the core);
//! - [`cli`]: what the programs share (Ice-style arguments, logging).

pub mod channel_x;
pub mod cli;
pub mod member;
pub mod state;

pub use member::{Member, MemberError, ReplicatorClient, ReplicatorError, Role};
pub use state::{Config, Keyed, Listener, PushError, StateReplicator};
