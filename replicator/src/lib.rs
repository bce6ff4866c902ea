//! State replication after the Asterisk SCF design: a generic State
//! Replicator, the listener side, and the `Replica` lifecycle.
//!
//! - [`state`]: the generic replicator core (store and ordered fan-out),
//!   independent of Ice;
//! - [`codec`]: how Ice items are stored (their encoded bytes);
//! - [`durable`]: a replicator's items kept in an embedded database, and
//!   the sync policies under which a change is acknowledged;
//! - [`member`]: a replica-group member's store and its standby/active
//!   lifecycle, and how it behaves when its replicator is lost;
//! - [`group`]: redundant replicators, a standby replicator following
//!   the active one and taking over on `activate()`;
//! - [`link`]: a member's link to its replicator over Ice, watched so that
//!   a restarted replicator is restored;
//! - [`paged`]: catch-up in bounded pages beside `getAll...`, for states
//!   larger than `Ice.MessageSizeMax`;
//! - [`replica`]: the `Replica` servant over any member;
//! - [`generated`]: the Slice mapping and the State Replicator glue slice2rs
//!   generates from each component's file;
//! - [`channel_x`]: the example component ChannelServiceX over Ice (the
//!   generated glue plus its service);
//! - [`session_y`], [`bridge_z`]: the design's two variants (keys external
//!   to the items; removal as an item subtype), small components on the
//!   generated glue;
//! - [`cli`]: what the programs share (Ice-style arguments, logging).

#[macro_use]
mod component;

pub mod bridge_z;
pub mod channel_x;
pub mod cli;
pub mod codec;
pub mod durable;
pub mod group;
pub mod link;
pub mod member;
pub mod paged;
pub mod replica;
pub mod session_y;
pub mod state;

/// The generated mapping of the project's Slice files (`ReplicaIf.ice`
/// and the components' files), with the State Replicator glue slice2rs
/// generated for each component (`generated::replication`).
#[allow(missing_docs, clippy::all)]
pub mod generated {
    include!(concat!(env!("OUT_DIR"), "/scf.rs"));
}

pub use member::{Member, MemberError, ReplicatorClient, ReplicatorError, ReplicatorLink, Role};
pub use state::{
    Commit, Config, Encoded, Form, Keyed, Listener, Push, PushError, PushKind, StateReplicator,
};
