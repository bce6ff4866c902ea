//! State replication after the Asterisk SCF design: a generic State
//! Replicator, the listener side, and the `Replica` lifecycle.
