//! State replication after the Asterisk SCF design: a generic State
//! Replicator, the listener side, and the `Replica` lifecycle.
//!
//! - [`state`]: the generic replicator core (store and ordered fan-out),
//!   independent of Ice;

pub mod state;

pub use state::{Config, Keyed, Listener, PushError, StateReplicator};
