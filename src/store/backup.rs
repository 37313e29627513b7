//! Backups: a consistent snapshot of a board as JSON Lines, and its restore
//! into an empty store.
//!
//! The format is logical, not a copy of the engine's pages or keys: every
//! line is one record of the board (a task, an audit event, a slot hold, a
//! context value, an MCP task handle, an access token, a gateway name handed
//! out, a remembered request, a message, a worker's receipt of a message or
//! a counter), so a
//! backup can be read with `jq`, and any store that can hold a board can
//! restore it. Derived data is left out and rebuilt on restore: the per-task
//! audit index, the lease index, heartbeat records (a task is written with
//! its latest lease expiry) and the task count.
//!
//! ```text
//! {"format":"baton-backup","version":5,"created_at":"2026-12-02T03:40:00Z","baton":"0.1.0","last_event_id":42,"events_pruned_through":0}
//! {"meta":{"name":"lease_ceiling","value":2049}}
//! {"token":{"name":"alice",...}}
//! {"slot":{"slot":1,"worker":"w1",...}}
//! {"request":{"key":{"kind":"claim_slot","owner":null,"worker":"w1","request_id":"r-17"},...}}
//! {"message":{"id":3,"at":"2026-12-02T03:39:00Z","from":"w1","to":{"task":"build"},"subject":"rebase",...}}
//! {"receipt":{"message":3,"worker":"w2","read_at":1796182740000,"acked_at":null}}
//! {"operation":{...}}
//! {"gateway_name":{"kind":"tool","name":"fs__read","server":"fs","target":"read"}}
//! {"reservation":{"id":"res-…","worker":"alice","patterns":["src/api/**"],...}}
//! {"task":{"id":"build","title":"Build",...}}
//! {"context":{"task":"build","key":"notes","value":{...}}}
//! {"event":{"id":1,"kind":"task_added",...}}
//! {"end":{"records":7}}
//! ```
//!
//! The first line is the [`BackupHeader`], the last the `end` line with the
//! number of records between them: a file cut short (a dropped download, a
//! full disk) has no `end` line or the wrong count, and its restore is
//! refused with [`BackupError::Truncated`] before anything is committed.
//!
//! The online side is `GET /api/v1/admin/backup` (admin role), which streams
//! [`Store::export`](super::Store::export) (this room's `export`) from one
//! read snapshot while the board keeps serving; the offline side is
//! [`Store::restore`](super::Store::restore) (this room's `import`;
//! `baton restore`), which refuses a store that already holds a board.
//!
//! Versions: **1** had no `gateway_name` lines; **2** adds them; **3** adds
//! `request` lines; **4** adds `reservation` lines; **5** (this baton) adds
//! `message` and `receipt` lines. An older backup still restores (its board
//! simply has no gateway names yet: they are handed out again as the servers
//! list their tools; no remembered requests: a retry of a claim from before
//! the backup is a new claim; no reservations; and no messages).
//!
//! Every line is serialized through one function, `backup_line`, whose
//! failure fails the backup with a typed error: a backup never carries an
//! empty or `null` line in place of a record.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::batch::WriteBatch;
use super::engine::{Engine, KvRead, TxError};
use super::error::StoreError;
use super::keys::{
    decode, encode, key, last_event_in, read_meta, scan_prefix_in, task_event_key, SlotRecord,
    CONTEXT, EVENT, EVENTS_PRUNED_META, GATEWAY_NAME, MESSAGE, META, OPERATION, RECEIPT, REQUEST,
    RESERVATION, SLOT, TASK, TASK_COUNT_META, TOKEN,
};
use super::leases::{lease_index_entry, with_renewal, LEASE_INDEX_META, LEASE_INDEX_VERSION};
use crate::model::{
    AccessToken, Event, EventKind, GatewayName, Message, Operation, Receipt, RequestRecord,
    Reservation, Task, TaskId,
};

/// `format` of every backup's header line.
pub const BACKUP_FORMAT: &str = "baton-backup";

/// The version of the format this baton writes and reads. A reader refuses a
/// newer version instead of guessing at it, and reads every older one.
///
/// | version | adds |
/// |---|---|
/// | 1 | the first format |
/// | 2 | `gateway_name` lines: gateway names handed out |
/// | 3 | `request` lines: remembered answers of requests with an idempotency key |
/// | 4 | `reservation` lines: path reservations |
/// | 5 | `message` and `receipt` lines: messages between workers, and who read and acknowledged them |
pub const BACKUP_VERSION: u32 = 5;

/// The first line of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// The format tag, always [`BACKUP_FORMAT`]; restore refuses another.
    pub format: String,
    /// [`BACKUP_VERSION`] of the writer.
    pub version: u32,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created_at: String,
    /// Version of the baton that wrote it (`CARGO_PKG_VERSION`).
    pub baton: String,
    /// The newest event id handed out when the snapshot was taken (event
    /// ids continue after it once restored; never reused).
    pub last_event_id: u64,
    /// The highest event id retention had deleted (0: none); an SSE client
    /// resuming from before it is told to resync, also after a restore.
    pub events_pruned_through: u64,
}

impl BackupHeader {
    /// A header for a snapshot taken now.
    pub fn new(last_event_id: u64, events_pruned_through: u64) -> Self {
        Self {
            format: BACKUP_FORMAT.into(),
            version: BACKUP_VERSION,
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            baton: env!("CARGO_PKG_VERSION").into(),
            last_event_id,
            events_pruned_through,
        }
    }
}

/// One line of a backup after the header (externally tagged:
/// `{"task": {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BackupRecord {
    /// A counter (`m/` space): `lease_ceiling` above all, so fencing tokens
    /// handed out after a restore stay above every token handed out before.
    Meta {
        /// Counter name.
        name: String,
        /// Its value.
        value: u64,
    },
    /// An access token (only its secret's SHA-256, as stored).
    Token(AccessToken),
    /// An explicit slot hold.
    Slot(SlotRecord),
    /// A remembered request (since format version 3): the first answer to a claim
    /// sent with a `request_id`, kept while its lease or hold lasts.
    Request(RequestRecord),
    /// A message (since format version 5).
    Message(Box<Message>),
    /// A worker's receipt of a message (since format version 5).
    Receipt(Receipt),
    /// An MCP task handle.
    Operation(Operation),
    /// A gateway name handed out (since version 2).
    GatewayName(GatewayName),
    /// A path reservation (since version 4).
    Reservation(Reservation),
    /// A task, with its latest lease expiry.
    Task(Box<Task>),
    /// One context value of a task.
    Context {
        /// The task.
        task: TaskId,
        /// Context key.
        key: String,
        /// Its value.
        value: serde_json::Value,
    },
    /// An audit event, with the id it had.
    Event(Event),
    /// The last line: how many records came between the header and it.
    End {
        /// Records written (header and this line not counted).
        records: u64,
    },
}

/// What a restore loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RestoreSummary {
    /// How many task records were loaded.
    pub tasks: u64,
    /// How many audit events were loaded.
    pub events: u64,
    /// Every other record (counters, tokens, slots, handles, gateway names,
    /// context values).
    pub other: u64,
}

/// Why a backup could not be written or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the backup file (or writing it) failed.
    #[error("backup I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The target store already holds a board; restoring would mix two.
    #[error("the store already holds a board ({0}); restore only into an empty data directory")]
    NotEmpty(String),
    /// A line is not what the format allows.
    #[error("line {line}: {reason}")]
    Format {
        /// 1-based line number.
        line: u64,
        /// What was wrong.
        reason: String,
    },
    /// The file ends before its `end` line, or the count does not match.
    #[error("the backup is incomplete: {0}")]
    Truncated(String),
}

/// Read a backup: its header, then every record in order through `visit`.
/// Checks the header (format, version), each line's shape and the `end`
/// line's count; a record after `end` is refused. `visit` sees every record
/// before the check of the `end` line, so a caller must not make anything
/// visible until this returns `Ok` (the restore commits last).
pub fn read_backup(
    input: impl BufRead,
    mut visit: impl FnMut(BackupRecord) -> Result<(), BackupError>,
) -> Result<BackupHeader, BackupError> {
    let mut lines = input.lines();
    let first = lines
        .next()
        .ok_or_else(|| BackupError::Truncated("the file is empty".into()))??;
    let header: BackupHeader = serde_json::from_str(&first).map_err(|e| BackupError::Format {
        line: 1,
        reason: format!("not a baton backup header: {e}"),
    })?;
    if header.format != BACKUP_FORMAT {
        return Err(BackupError::Format {
            line: 1,
            reason: format!("format is {:?}, not {BACKUP_FORMAT:?}", header.format),
        });
    }
    if header.version > BACKUP_VERSION {
        return Err(BackupError::Format {
            line: 1,
            reason: format!(
                "version {} is newer than this baton reads ({BACKUP_VERSION}); restore with a newer baton",
                header.version
            ),
        });
    }
    let mut records = 0u64;
    let mut ended = None;
    for (i, line) in lines.enumerate() {
        let line_no = i as u64 + 2;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        if ended.is_some() {
            return Err(BackupError::Format {
                line: line_no,
                reason: "a record after the end line".into(),
            });
        }
        let rec: BackupRecord = serde_json::from_str(&line).map_err(|e| BackupError::Format {
            line: line_no,
            reason: e.to_string(),
        })?;
        match rec {
            BackupRecord::End { records: n } => ended = Some(n),
            rec => {
                records += 1;
                visit(rec)?;
            }
        }
    }
    match ended {
        None => Err(BackupError::Truncated(format!(
            "no end line after {records} records"
        ))),
        Some(n) if n != records => Err(BackupError::Truncated(format!(
            "the end line counts {n} records, the file holds {records}"
        ))),
        Some(_) => Ok(header),
    }
}

/// Write a consistent snapshot of the board (one read transaction) as
/// the lines of a backup (see the module docs): the header, every
/// record, the `end` line. Each line is handed to `line` without its
/// newline; `line` returns `false` to stop early (the reader went away;
/// then 0 is returned). Returns the number of records (header and end
/// line not counted).
/// Blocking: reads the whole board; call it off the async workers.
///
/// Errors: the snapshot's read and decode errors, and
/// [`StoreError::Corrupt`] for a record that does not serialize (see
/// [`backup_line`]); the lines handed out so far then end without the
/// `end` line, which a restore refuses.
pub(super) fn export(
    snapshot: &dyn KvRead,
    mut line: impl FnMut(String) -> bool,
) -> Result<u64, StoreError> {
    let header = BackupHeader::new(
        last_event_in(snapshot)?.max(read_meta(snapshot, EVENTS_PRUNED_META)?),
        read_meta(snapshot, EVENTS_PRUNED_META)?,
    );
    if !line(backup_line(b"the backup header", &header)?) {
        return Ok(0);
    }
    let mut records = 0u64;
    let mut emit = |k: &[u8], r: &BackupRecord| -> Result<bool, StoreError> {
        records += 1;
        Ok(line(backup_line(k, r)?))
    };
    for kv in scan_prefix_in(snapshot, META)? {
        let (k, _) = kv?;
        let name = String::from_utf8_lossy(&k[META.len()..]).into_owned();
        // derived on restore
        if [TASK_COUNT_META, LEASE_INDEX_META, EVENTS_PRUNED_META].contains(&name.as_str()) {
            continue;
        }
        let value = read_meta(snapshot, &name)?;
        if !emit(&k, &BackupRecord::Meta { name, value })? {
            return Ok(0);
        }
    }
    macro_rules! each {
        ($prefix:expr, |$k:ident, $v:ident| $make:expr) => {
            for kv in scan_prefix_in(snapshot, $prefix)? {
                let ($k, $v) = kv?;
                let rec = $make;
                if !emit(&$k, &rec)? {
                    return Ok(0);
                }
            }
        };
    }
    each!(TOKEN, |k, v| BackupRecord::Token(decode(&k, &v)?));
    each!(SLOT, |k, v| BackupRecord::Slot(decode(&k, &v)?));
    each!(REQUEST, |k, v| BackupRecord::Request(decode(&k, &v)?));
    each!(OPERATION, |k, v| BackupRecord::Operation(decode(&k, &v)?));
    each!(MESSAGE, |k, v| BackupRecord::Message(Box::new(decode(
        &k, &v
    )?)));
    each!(RECEIPT, |k, v| BackupRecord::Receipt(decode(&k, &v)?));
    each!(GATEWAY_NAME, |k, v| BackupRecord::GatewayName(decode(
        &k, &v
    )?));
    each!(RESERVATION, |k, v| BackupRecord::Reservation(decode(
        &k, &v
    )?));
    each!(TASK, |k, v| BackupRecord::Task(Box::new(with_renewal(
        snapshot,
        decode(&k, &v)?
    )?)));
    each!(CONTEXT, |k, v| {
        let rest = &k[CONTEXT.len()..];
        let split = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| StoreError::Corrupt {
                key: String::from_utf8_lossy(&k).into_owned(),
                reason: "context key without a separator".into(),
            })?;
        BackupRecord::Context {
            task: TaskId::from_trusted(String::from_utf8_lossy(&rest[..split]).into_owned()),
            key: String::from_utf8_lossy(&rest[split + 1..]).into_owned(),
            value: decode(&k, &v)?,
        }
    });
    each!(EVENT, |k, v| BackupRecord::Event(decode(&k, &v)?));
    let end = BackupRecord::End { records };
    line(backup_line(b"the backup end line", &end)?);
    Ok(records)
}

/// `value` as one line of a backup (JSON, without its newline). `what`
/// names the record for the error: its key, or the header or end line.
///
/// Errors: [`StoreError::Corrupt`] when `value` does not serialize. baton's
/// own records always do (no map with non-string keys, no fallible
/// `Serialize`), but a failure must fail the backup, never leave an empty
/// line in it, so every line of [`export`] goes through here.
fn backup_line(what: &[u8], value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        key: String::from_utf8_lossy(what).into_owned(),
        reason: format!("cannot be written as a backup line: {e}"),
    })
}

/// Load a backup into the store `db`, which must be empty: no task, event,
/// slot, context, handle, reservation, token or gateway name ([`BackupError::NotEmpty`] otherwise).
/// The whole file is checked and written in one write transaction,
/// committed only after the `end` line checked out, so a refused or failed
/// restore leaves the store as empty as it was. The derived data (per-task
/// audit index, lease index, task count) is rebuilt. Call it while no
/// commit runs (the store was just opened for it).
pub(super) fn import(db: &dyn Engine, input: impl BufRead) -> Result<RestoreSummary, BackupError> {
    {
        let snapshot = db.snapshot()?;
        for (prefix, what) in [
            (TASK, "tasks"),
            (EVENT, "events"),
            (SLOT, "slot holds"),
            (CONTEXT, "context values"),
            (OPERATION, "task handles"),
            (RESERVATION, "reservations"),
            (TOKEN, "access tokens"),
            (GATEWAY_NAME, "gateway names"),
            (REQUEST, "remembered requests"),
            (MESSAGE, "messages"),
            (RECEIPT, "message receipts"),
        ] {
            if scan_prefix_in(&snapshot, prefix)?.next().is_some() {
                return Err(BackupError::NotEmpty(format!("it has {what}")));
            }
        }
    }
    let mut summary = RestoreSummary::default();
    let mut failure: Option<BackupError> = None;
    let mut restored: Option<BackupHeader> = None;
    let mut input = Some(input);
    let outcome = db.transact(
        &mut |t| {
            let Some(input) = input.take() else {
                return Ok(());
            };
            let mut put = |k: Vec<u8>, v: Vec<u8>| -> Result<(), BackupError> {
                t.insert(&k, &v)?;
                Ok(())
            };
            let read = read_backup(input, |rec| {
                let mut batch = WriteBatch::new();
                match rec {
                    BackupRecord::Meta { name, value } => batch.put_meta(&name, value),
                    BackupRecord::Token(tok) => batch.put_token(&tok),
                    BackupRecord::Slot(s) => batch.put_slot(&s),
                    BackupRecord::Request(r) => batch.put_request(&r),
                    BackupRecord::Operation(op) => batch.put_operation(&op),
                    BackupRecord::Message(m) => batch.put_message(&m),
                    BackupRecord::Receipt(r) => batch.put_receipt(&r),
                    BackupRecord::GatewayName(n) => batch.put_gateway_name(&n),
                    BackupRecord::Reservation(r) => batch.put_reservation(&r),
                    BackupRecord::Task(task) => {
                        summary.tasks += 1;
                        put(key(TASK, task.id.as_str().as_bytes()), encode(&task))?;
                        return Ok(());
                    }
                    BackupRecord::Context {
                        task,
                        key: k,
                        value,
                    } => batch.put_context(&task, &k, &value),
                    BackupRecord::Event(ev) => {
                        summary.events += 1;
                        if let Some(id) = &ev.task_id {
                            if ev.kind != EventKind::TaskDeleted {
                                put(task_event_key(id, ev.id), Vec::new())?;
                            }
                        }
                        if let Some((k, v)) = lease_index_entry(&ev) {
                            put(k, v)?;
                        }
                        put(key(EVENT, &ev.id.to_be_bytes()), encode(&ev))?;
                        return Ok(());
                    }
                    BackupRecord::End { .. } => return Ok(()),
                }
                summary.other += 1;
                for (k, v) in batch.ops {
                    if let Some(v) = v {
                        put(k, v)?;
                    }
                }
                Ok(())
            });
            let header = match read {
                Ok(header) => header,
                Err(e) => {
                    failure = Some(e);
                    // aborts the transaction; the caller reports `failure`
                    return Err(StoreError::Closed);
                }
            };
            for (name, value) in [
                (TASK_COUNT_META, summary.tasks),
                (LEASE_INDEX_META, LEASE_INDEX_VERSION),
                (EVENTS_PRUNED_META, header.events_pruned_through),
            ] {
                t.insert(&key(META, name.as_bytes()), &value.to_be_bytes())?;
            }
            restored = Some(header);
            Ok(())
        },
        &mut || Ok(()),
    );
    if let Some(e) = failure {
        return Err(e);
    }
    outcome.map_err(TxError::into_store)?;
    let header = restored.ok_or(StoreError::Closed)?;
    tracing::info!(
        tasks = summary.tasks,
        events = summary.events,
        other = summary.other,
        created_at = %header.created_at,
        "backup restored"
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(lines: &[String]) -> std::io::Cursor<Vec<u8>> {
        std::io::Cursor::new(lines.join("\n").into_bytes())
    }

    fn header() -> String {
        serde_json::to_string(&BackupHeader::new(3, 0)).unwrap()
    }

    fn meta(v: u64) -> String {
        serde_json::to_string(&BackupRecord::Meta {
            name: "lease_ceiling".into(),
            value: v,
        })
        .unwrap()
    }

    fn end(n: u64) -> String {
        serde_json::to_string(&BackupRecord::End { records: n }).unwrap()
    }

    /// A record that does not serialize (here a map with non-string keys,
    /// which JSON cannot hold) fails the backup with a typed error naming
    /// it; no empty or `null` line is handed out in its place.
    #[test]
    fn a_record_that_does_not_serialize_fails_the_backup_line() {
        let mut map = std::collections::BTreeMap::new();
        map.insert((1, 2), "x");
        let err = backup_line(b"t/x", &map).unwrap_err();
        assert!(
            matches!(err, StoreError::Corrupt { ref key, .. } if key == "t/x"),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .contains("cannot be written as a backup line"));
        assert_eq!(backup_line(b"m/x", &meta_record(7)).unwrap(), meta(7));
    }

    fn meta_record(v: u64) -> BackupRecord {
        BackupRecord::Meta {
            name: "lease_ceiling".into(),
            value: v,
        }
    }

    #[test]
    fn a_complete_file_is_read_in_order() {
        let mut seen = Vec::new();
        let h = read_backup(file(&[header(), meta(1), meta(2), end(2)]), |r| {
            seen.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(h.last_event_id, 3);
        assert_eq!(seen.len(), 2);
    }

    /// A version-1 backup (written before reservations existed) still restores.
    #[test]
    fn an_older_version_still_reads() {
        let mut old = BackupHeader::new(0, 0);
        old.version = 1;
        let h = read_backup(
            file(&[serde_json::to_string(&old).unwrap(), meta(1), end(1)]),
            |_| Ok(()),
        )
        .unwrap();
        assert_eq!(h.version, 1);
    }

    #[test]
    fn a_file_cut_short_or_miscounted_is_refused() {
        let visit = |_| Ok(());
        for lines in [
            vec![],
            vec![header(), meta(1)],
            vec![header(), meta(1), end(2)],
            vec![header(), meta(1), end(1), meta(2)],
        ] {
            let err = read_backup(file(&lines), visit).unwrap_err();
            assert!(
                matches!(err, BackupError::Truncated(_) | BackupError::Format { .. }),
                "{lines:?}: {err}"
            );
        }
    }

    #[test]
    fn a_foreign_or_newer_file_is_refused_with_its_line() {
        let mut newer = BackupHeader::new(0, 0);
        newer.version = BACKUP_VERSION + 1;
        for (lines, want) in [
            (vec![r#"{"hello":1}"#.to_string(), end(0)], "header"),
            (
                vec![serde_json::to_string(&newer).unwrap(), end(0)],
                "newer",
            ),
            (
                vec![header(), r#"{"task":{"id":1}}"#.into(), end(1)],
                "line 2",
            ),
            (vec![header(), r#"{"bogus":{}}"#.into(), end(1)], "line 2"),
        ] {
            let err = read_backup(file(&lines), |_| Ok(()))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err} should mention {want}");
        }
    }
}
