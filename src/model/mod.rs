//! Pure domain types: task ids, tasks, statuses, leases, slots and audit events.
//!
//! Nothing here does I/O. Timestamps are milliseconds since the Unix epoch
//! ([`Millis`]) so the cores can be driven by a fake clock in tests; they are
//! rendered as RFC 3339 strings on the wire.
//!
//! | file | owns |
//! |---|---|
//! | `time.rs` | [`Millis`], [`now_ms`] |
//! | `rfc3339.rs` | [`rfc3339`]: how a `Millis` looks on the wire |
//! | `id.rs` | [`TaskId`] |
//! | `task.rs` | [`Task`], [`TaskStatus`], [`TaskSpec`], [`Executor`], [`Subtasks`] |
//! | `lease.rs` | [`Lease`] |
//! | `history.rs` | [`LeaseRecord`], [`LeaseOutcome`] (the lease history) |
//! | `slot.rs` | [`SlotInfo`] |
//! | `event.rs` | [`Event`], [`EventKind`] (the audit log) |
//! | `principal.rs` | [`Role`], [`Principal`], [`AccessToken`] |
//! | `operation.rs` | [`Operation`], [`OperationState`] (MCP task handles) |
//! | `gateway.rs` | [`GatewayName`], [`GatewayKind`] (gateway names handed out) |
//! | `request.rs` | [`RequestRecord`] and its key and answer (idempotency keys of retried requests) |
//! | `reservation.rs` | [`Reservation`], [`ReservationMode`] (path reservations) |
//! | `message.rs` | [`Message`], [`Recipient`], [`Receipt`], [`MessageView`] (messages between workers) |
//!
//! Every type is used as `crate::model::Name`; the files import one another
//! directly (`super::id::TaskId`), never through this face.

mod event;
mod gateway;
mod history;
mod id;
mod lease;
mod message;
mod operation;
mod principal;
mod request;
mod reservation;
pub mod rfc3339;
mod slot;
mod task;
mod time;

pub use event::{Event, EventKind};
pub use gateway::{GatewayKind, GatewayName};
pub use history::{LeaseOutcome, LeaseRecord};
pub use id::TaskId;
pub use lease::Lease;
pub use message::{Ack, Message, MessageTo, MessageView, Receipt, Recipient, TO_RULE};
pub use operation::{Operation, OperationState};
pub use principal::{AccessToken, Principal, Role};
pub use request::{
    check_request_id, RequestAnswer, RequestKey, RequestKind, RequestRecord, MAX_REQUEST_ID_LEN,
};
pub use reservation::{Reservation, ReservationMode};
pub use slot::SlotInfo;
pub use task::{Executor, Subtasks, Task, TaskSpec, TaskStatus};
pub use time::{now_ms, Millis};
