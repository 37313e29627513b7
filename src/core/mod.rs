//! Pure, synchronous cores of the actors: no actix, no I/O, time passed in.
//! Each is unit- and property-tested on its own.

pub mod breaker;
pub mod expand;
pub mod graph;
pub mod json;
pub mod latency;
pub mod mailbox;
pub mod names;
pub mod requests;
pub mod reservations;
pub mod slots;
pub mod table;
pub mod text;
pub mod validate;
pub mod worker;
