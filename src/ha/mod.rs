//! Several `baton serve` nodes on one PostgreSQL database: the follower's
//! proxy ([`proxy`]). The leadership row, its epoch and the write fence
//! live with the PostgreSQL engine that checks them,
//! [`crate::store::leader`]; its public names are re-exported here so
//! `crate::ha::Candidate` and the rest keep their paths.

pub mod proxy;

pub use crate::store::leader::{lease_of, poll_interval, Candidate, HaError, Leadership, Observer};
