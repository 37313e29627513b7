//! Bounded tool results: every tool result stays under `[mcp]
//! max_result_bytes` (64 KiB by default; Claude Code caps a tool result at
//! 25,000 tokens), and says how to get the rest.
//!
//! - **Listing tools page** (`limit`, default [`PAGE_SIZE`]; `cursor`): a
//!   page also ends early when the next item would take the result over the
//!   budget, and `next_cursor` continues from there.
//! - **A field too large for the budget** — a task's `description`,
//!   `payload`, `output` or `error`, a context value — is replaced by a note
//!   (a string) giving its size and where to read it whole (the REST route or
//!   the `task://` resource). Notes are strings, which the fields' schemas
//!   accept.
//! - **Whatever is still over** (a downstream tool's result through the
//!   gateway) becomes a tool error naming the size and the budget, in
//!   [`super::tools`] (`BatonMcp::dispatch_tool`), the one place every result
//!   passes.
//!
//! A result's size is its JSON: the `structuredContent` plus the text copy of
//! it, which repeats the JSON with quotes and backslashes escaped
//! ([`cost`]).

use serde::Serialize;

use super::dto::{
    AvailableOut, ClaimOut, ContextOut, ContextValue, ResetOut, ResultOut, ServerOut, ServersOut,
    SlotOut, TaskOut, TasksOut, WorkersOut,
};
use crate::board::{Claim, TaskPage};
use crate::model::Task;

/// Items per page of a listing tool when the call gives no `limit`.
pub(crate) const PAGE_SIZE: usize = 50;

/// Bytes kept for the rest of a result: the envelope (`content`, `type`,
/// `isError`, `resultType`), cursors and notes.
pub(crate) const OVERHEAD: usize = 1024;

/// Counts the bytes serde_json writes, and the characters a JSON string
/// holding them would escape.
#[derive(Default)]
struct Counter {
    bytes: usize,
    escapes: usize,
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len();
        self.escapes += buf.iter().filter(|b| matches!(b, b'"' | b'\\')).count();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bytes `v` adds to a tool result: its JSON in `structuredContent` plus the
/// escaped copy in the text content.
pub(crate) fn cost<T: Serialize + ?Sized>(v: &T) -> usize {
    let mut c = Counter::default();
    // writing to a counter cannot fail; a value that cannot serialize costs nothing
    let _ = serde_json::to_writer(&mut c, v);
    2 * c.bytes + c.escapes
}

/// Bytes of `v` serialized as it is (a whole result, already holding its
/// text copy).
pub(crate) fn size<T: Serialize + ?Sized>(v: &T) -> usize {
    let mut c = Counter::default();
    let _ = serde_json::to_writer(&mut c, v);
    c.bytes
}

/// A tool's result type, made to fit the budget: `max` bytes for the whole
/// result.
pub(crate) trait Fit {
    /// Shrink `self` (elide fields, end a page early) to fit `max` bytes.
    fn fit(&mut self, max: usize);
}

/// The note that replaces a field of task `id` too large for the budget.
fn note(field: &str, id: &str, bytes: usize) -> String {
    format!(
        "[{field} not shown: {bytes} bytes, over this result's size budget; read it whole with \
         GET /api/v1/tasks/{id} or resources/read task://{id}]"
    )
}

impl Fit for Task {
    /// Elide the largest free-form fields until the task fits in `max`.
    fn fit(&mut self, max: usize) {
        let max = max.saturating_sub(OVERHEAD);
        while cost(self) > max {
            let id = self.id.to_string();
            let sizes = [
                ("description", cost(&self.description)),
                ("payload", cost(&self.payload)),
                ("output", cost(&self.output)),
                ("error", cost(&self.error)),
            ];
            let Some((field, bytes)) = sizes
                .into_iter()
                .filter(|(_, c)| *c > 512)
                .max_by_key(|(_, c)| *c)
            else {
                return; // nothing large left to elide
            };
            let n = note(field, &id, bytes / 2);
            match field {
                "description" => self.description = n,
                "payload" => self.payload = Some(Box::new(n.into())),
                "output" => self.output = Some(Box::new(n.into())),
                _ => self.error = Some(n),
            }
        }
    }
}

/// Elide each task to fit alone, then keep the longest prefix that fits;
/// returns whether tasks were dropped. At least one task is kept, so a
/// cursor taken from the last one always moves on.
fn fit_tasks(tasks: &mut Vec<Task>, max: usize) -> bool {
    for t in tasks.iter_mut() {
        t.fit(max);
    }
    keep_prefix(tasks, max)
}

/// Keep the longest prefix of `items` (at least one) within `max`; returns
/// whether items were dropped.
fn keep_prefix<T: Serialize>(items: &mut Vec<T>, max: usize) -> bool {
    let mut total = OVERHEAD;
    for (i, item) in items.iter().enumerate() {
        total += cost(item) + 2;
        if total > max {
            let keep = i.max(1);
            let dropped = keep < items.len();
            items.truncate(keep);
            return dropped;
        }
    }
    false
}

impl Fit for TaskPage {
    fn fit(&mut self, max: usize) {
        if fit_tasks(&mut self.tasks, max) {
            self.next_cursor = self.tasks.last().map(|t| t.id.to_string());
        }
    }
}

impl Fit for AvailableOut {
    fn fit(&mut self, max: usize) {
        if fit_tasks(&mut self.tasks, max) {
            self.next_cursor = self.tasks.last().map(AvailableOut::cursor_of);
        }
    }
}

impl Fit for TasksOut {
    fn fit(&mut self, max: usize) {
        let before = self.tasks.len();
        if fit_tasks(&mut self.tasks, max) {
            self.more = Some(format!(
                "{} more tasks not shown (result size budget): read them with get_task or list_tasks",
                before - self.tasks.len()
            ));
        }
    }
}

impl Fit for ResetOut {
    fn fit(&mut self, max: usize) {
        let before = self.reset.len();
        if fit_tasks(&mut self.reset, max) {
            self.more = Some(format!(
                "{} more reset tasks not shown (result size budget): list_tasks status=ready lists them",
                before - self.reset.len()
            ));
        }
    }
}

impl Fit for TaskOut {
    fn fit(&mut self, max: usize) {
        self.task.fit(max);
        let before = self.dependents.len();
        let room = max.saturating_sub(cost(&self.task));
        if keep_prefix(&mut self.dependents, room) {
            self.more = Some(format!(
                "{} more dependents not shown (result size budget): GET /api/v1/tasks/{} lists them all",
                before - self.dependents.len(),
                self.task.id
            ));
        }
    }
}

impl Fit for Claim {
    fn fit(&mut self, max: usize) {
        self.task.fit(max);
    }
}

impl Fit for ClaimOut {
    fn fit(&mut self, max: usize) {
        if let Some(c) = self.claim.as_mut() {
            c.fit(max);
        }
    }
}

impl Fit for ResultOut {
    fn fit(&mut self, max: usize) {
        let max = max.saturating_sub(OVERHEAD);
        if cost(self) <= max {
            return;
        }
        let id = self.task_id.clone();
        if cost(&self.output) >= cost(&self.error) {
            self.output = Some(note("output", &id, cost(&self.output) / 2).into());
        }
        if cost(self) > max {
            self.error = self.error.take().map(|e| note("error", &id, e.len()));
        }
    }
}

/// A context value too large for the budget becomes a note saying where to
/// read it.
fn fit_value(value: &mut Option<serde_json::Value>, task_id: &str, key: &str, max: usize) {
    let bytes = cost(&*value);
    if bytes > max {
        *value = Some(
            format!(
                "[value not shown: {} bytes, over this result's size budget; read it whole with \
                 GET /api/v1/tasks/{task_id}/context/{key} or resources/read task://{task_id}/context]",
                bytes / 2
            )
            .into(),
        );
    }
}

impl Fit for ContextValue {
    fn fit(&mut self, max: usize) {
        let max = max.saturating_sub(OVERHEAD);
        let (task_id, key) = (self.task_id.clone(), self.key.clone());
        fit_value(&mut self.value, &task_id, &key, max);
    }
}

impl Fit for ContextOut {
    fn fit(&mut self, max: usize) {
        let share = max.saturating_sub(OVERHEAD);
        let task_id = self.task_id.clone();
        for (key, value) in self.context.iter_mut() {
            let mut v = Some(std::mem::take(value));
            fit_value(&mut v, &task_id, key, share);
            *value = v.unwrap_or_default();
        }
        let mut total = OVERHEAD;
        let mut cut = None;
        for (key, value) in &self.context {
            total += cost(key) + cost(value) + 4;
            if total > max {
                cut = Some(key.clone());
                break;
            }
        }
        if let Some(first_dropped) = cut {
            let keys: Vec<String> = self.context.keys().cloned().collect();
            let keep: Vec<String> = keys
                .iter()
                .take_while(|k| **k != first_dropped)
                .cloned()
                .collect();
            let keep = if keep.is_empty() {
                keys.into_iter().take(1).collect()
            } else {
                keep
            };
            self.context.retain(|k, _| keep.contains(k));
            self.next_cursor = keep.last().cloned();
        }
    }
}

impl Fit for WorkersOut {
    fn fit(&mut self, max: usize) {
        if keep_prefix(&mut self.slots, max) {
            self.next_cursor = self.slots.last().map(|s| s.slot.to_string());
        }
    }
}

impl Fit for ServersOut {
    fn fit(&mut self, max: usize) {
        if keep_prefix(&mut self.servers, max) {
            self.next_cursor = self
                .servers
                .last()
                .and_then(|s| s.get("name"))
                .and_then(|n| n.as_str())
                .map(str::to_owned);
        }
    }
}

impl Fit for ServerOut {
    fn fit(&mut self, max: usize) {
        let room = max.saturating_sub(cost(&self.server));
        let before = self.tools.len();
        if keep_prefix(&mut self.tools, room) {
            self.more = Some(format!(
                "{} more tools not shown (result size budget): tools/list lists them all",
                before - self.tools.len()
            ));
        }
    }
}

impl Fit for SlotOut {
    fn fit(&mut self, _max: usize) {}
}

impl Fit for super::reservations::ReservationOut {
    fn fit(&mut self, _max: usize) {}
}

impl Fit for super::reservations::ReservationsOut {
    fn fit(&mut self, max: usize) {
        let before = self.reservations.len();
        if keep_prefix(&mut self.reservations, max) {
            self.more = Some(format!(
                "{} more reservations not shown (result size budget): list one worker's or task's",
                before - self.reservations.len()
            ));
        }
    }
}

impl Fit for super::reservations::PathsOut {
    fn fit(&mut self, max: usize) {
        let before = self.paths.len();
        if keep_prefix(&mut self.paths, max) {
            self.more = Some(format!(
                "{} more paths not shown (result size budget): check fewer at once",
                before - self.paths.len()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_counts_the_json_and_its_escaped_copy() {
        let v = serde_json::json!({"a": "b\"c"});
        let json = serde_json::to_string(&v).unwrap_or_default();
        let copy = serde_json::to_string(&json).unwrap_or_default();
        // the copy's own surrounding quotes are the envelope's
        assert_eq!(cost(&v), json.len() + copy.len() - 2);
    }

    proptest::proptest! {
        // each case serializes the task a few times per elided field: 64
        // cases keep this under a few seconds on a loaded 2-core machine
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Issue 23.11, budgeted results: whatever Unicode a task's free-form
        /// fields hold (CJK, emoji, combining marks, control characters), the
        /// task fits the budget in bytes, and each field is either whole or
        /// replaced by a note — never cut inside a character.
        #[test]
        fn a_task_of_any_unicode_fits_the_byte_budget(
            description in crate::core::text::tests::unicode_text(800),
            output in crate::core::text::tests::unicode_text(800),
            error in crate::core::text::tests::unicode_text(800),
            max in 8192usize..65_536,
        ) {
            use crate::config::TaskSettings;
            use crate::model::TaskSpec;
            let spec = TaskSpec {
                title: Some("t".into()),
                description: Some(description.clone()),
                ..TaskSpec::default()
            };
            let mut t = crate::core::validate::validate_spec(spec, &TaskSettings::default(), "")
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e:?}")))?;
            t.output = Some(Box::new(output.clone().into()));
            t.error = Some(error.clone());
            t.fit(max);
            proptest::prop_assert!(cost(&t) <= max - OVERHEAD, "{} > {}", cost(&t), max - OVERHEAD);
            let is_note = |s: &str, field: &str| s.starts_with(&format!("[{field} not shown: "));
            proptest::prop_assert!(t.description == description || is_note(&t.description, "description"));
            let out = t.output.as_ref().and_then(|o| o.as_str()).unwrap_or_default();
            proptest::prop_assert!(out == output || is_note(out, "output"));
            let err = t.error.as_deref().unwrap_or_default();
            proptest::prop_assert!(err == error || is_note(err, "error"));
        }
    }
}
