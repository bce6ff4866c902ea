//! Tests of the object adapter.
