//! Turning client input ([`TaskSpec`]) into task records, with every bound
//! from `[tasks]` checked and the offending field named.
//!
//! Text limits count UTF-8 bytes and their messages say so; what is derived
//! here (a title from the description) is cut to fit on a `char` boundary
//! ([`crate::core::text`]), so an add is never refused over a field the
//! client did not send.

use std::collections::HashSet;

use crate::config::TaskSettings;
use crate::core::reservations::{check_patterns, ReservationError};
use crate::core::table::TaskError;
use crate::core::text::truncate_to_bytes;
use crate::model::{Task, TaskId, TaskSpec, TaskStatus};

pub use crate::core::text::clip;

fn invalid(field: String, message: impl Into<String>) -> TaskError {
    TaskError::Invalid {
        field,
        message: message.into(),
    }
}

fn too_large(field: String, message: impl Into<String>) -> TaskError {
    TaskError::TooLarge {
        field,
        message: message.into(),
    }
}

/// Size of a JSON value once serialized.
pub fn json_size(v: &serde_json::Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

/// Longest `executor.server` and `executor.tool`, in bytes.
const MAX_EXECUTOR_NAME_LEN: usize = 128;

/// The title of a task sent without one: the description's first non-blank
/// line, trimmed, cut to `max` bytes on a `char` boundary (empty when the
/// description is blank).
pub fn derived_title(description: &str, max: usize) -> &str {
    let line = description
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    truncate_to_bytes(line, max).trim_end()
}

/// A short text field (a tag, an executor's server or tool): 1 to `max`
/// bytes of UTF-8 without control characters; the message says which rule
/// `s` breaks.
fn check_text(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > max {
        return Err(format!(
            "must be at most {max} bytes (UTF-8); this one is {} bytes",
            s.len()
        ));
    }
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Validate one spec; `prefix` is prepended to field names (`tasks[3].`).
/// The returned task is `blocked` until the resolver decides.
pub fn validate_spec(
    spec: TaskSpec,
    limits: &TaskSettings,
    prefix: &str,
) -> Result<Task, TaskError> {
    let f = |name: &str| format!("{prefix}{name}");
    let id = match &spec.id {
        Some(s) => TaskId::parse(s, limits.max_id_len).map_err(|m| invalid(f("id"), m))?,
        None => TaskId::generate(),
    };
    let sent_description = spec.description.is_some();
    let description = spec.description.unwrap_or_default();
    if description.len() > limits.max_description_len {
        return Err(too_large(
            f("description"),
            format!(
                "must be at most {} bytes (UTF-8); this one is {} bytes",
                limits.max_description_len,
                description.len()
            ),
        ));
    }
    let title = match spec.title {
        Some(t) => {
            if t.trim().is_empty() {
                return Err(invalid(f("title"), "must not be blank"));
            }
            if t.len() > limits.max_title_len {
                return Err(too_large(
                    f("title"),
                    format!(
                        "must be at most {} bytes (UTF-8); this one is {} bytes",
                        limits.max_title_len,
                        t.len()
                    ),
                ));
            }
            t
        }
        None => {
            let title = derived_title(&description, limits.max_title_len);
            if title.is_empty() {
                return Err(if sent_description {
                    invalid(
                        f("description"),
                        "is blank and no title was sent: send a title or a non-blank description",
                    )
                } else {
                    invalid(f("title"), "a title or a description is required")
                });
            }
            title.to_owned()
        }
    };
    if let Some(p) = &spec.payload {
        if json_size(p) > limits.max_payload_bytes {
            return Err(too_large(
                f("payload"),
                format!(
                    "must be at most {} bytes when serialized",
                    limits.max_payload_bytes
                ),
            ));
        }
    }
    if spec.tags.len() > limits.max_tags {
        return Err(too_large(
            f("tags"),
            format!("at most {} tags", limits.max_tags),
        ));
    }
    let mut tags = Vec::with_capacity(spec.tags.len());
    for (i, tag) in spec.tags.into_iter().enumerate() {
        if let Err(m) = check_text(&tag, limits.max_tag_len) {
            return Err(invalid(f(&format!("tags[{i}]")), m));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    if spec.dependencies.len() > limits.max_dependencies {
        return Err(too_large(
            f("dependencies"),
            format!("at most {} dependencies", limits.max_dependencies),
        ));
    }
    let mut seen = HashSet::new();
    let mut dependencies = Vec::with_capacity(spec.dependencies.len());
    for (i, d) in spec.dependencies.iter().enumerate() {
        let dep = TaskId::parse(d, limits.max_id_len)
            .map_err(|m| invalid(f(&format!("dependencies[{i}]")), m))?;
        if seen.insert(dep.clone()) {
            dependencies.push(dep);
        }
    }
    let max_attempts = spec.max_attempts.unwrap_or(limits.default_max_attempts);
    if max_attempts == 0 || max_attempts > limits.max_attempts_limit {
        return Err(invalid(
            f("max_attempts"),
            format!("must be between 1 and {}", limits.max_attempts_limit),
        ));
    }
    if let Some(t) = spec.timeout_secs {
        if t == 0 || t > limits.max_timeout_secs {
            return Err(invalid(
                f("timeout_secs"),
                format!("must be between 1 and {}", limits.max_timeout_secs),
            ));
        }
    }
    if let Some(e) = &spec.executor {
        check_text(&e.server, MAX_EXECUTOR_NAME_LEN)
            .map_err(|m| invalid(f("executor.server"), m))?;
        check_text(&e.tool, MAX_EXECUTOR_NAME_LEN).map_err(|m| invalid(f("executor.tool"), m))?;
        if let Some(a) = &e.arguments {
            if json_size(&serde_json::Value::Object(a.clone())) > limits.max_payload_bytes {
                return Err(too_large(
                    f("executor.arguments"),
                    format!(
                        "must be at most {} bytes when serialized",
                        limits.max_payload_bytes
                    ),
                ));
            }
        }
    }
    let paths = if spec.paths.is_empty() {
        Vec::new()
    } else {
        check_patterns(&f("paths"), &spec.paths, limits.max_paths)
            .map_err(|e| match e {
                ReservationError::Invalid { field, message } => invalid(field, message),
                other => invalid(f("paths"), other.to_string()),
            })?
            .0
    };
    let concurrency_key = match spec.concurrency_key {
        Some(k) => {
            check_text(&k, MAX_EXECUTOR_NAME_LEN).map_err(|m| invalid(f("concurrency_key"), m))?;
            Some(k)
        }
        None => None,
    };
    Ok(Task {
        id,
        title,
        description,
        payload: spec.payload.map(Box::new),
        tags,
        priority: spec.priority.unwrap_or(0),
        dependencies,
        max_attempts,
        timeout_secs: spec.timeout_secs,
        status: TaskStatus::Blocked,
        output: None,
        error: None,
        attempts: 0,
        lease: None,
        worker: None,
        started_at: None,
        finished_at: None,
        created_at: 0,
        updated_at: 0,
        seq: 0,
        executor: spec.executor.map(Box::new),
        paths,
        paths_mode: spec.paths_mode.unwrap_or_default(),
        concurrency_key,
    })
}

/// Validate a batch (non-empty, bounded); field names carry the index.
pub fn validate_batch(specs: Vec<TaskSpec>, limits: &TaskSettings) -> Result<Vec<Task>, TaskError> {
    if specs.is_empty() {
        return Err(invalid("tasks".into(), "must contain at least one task"));
    }
    if specs.len() > limits.max_batch {
        return Err(too_large(
            "tasks".into(),
            format!("at most {} tasks per batch", limits.max_batch),
        ));
    }
    let single = specs.len() == 1;
    specs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let prefix = if single {
                String::new()
            } else {
                format!("tasks[{i}].")
            };
            validate_spec(s, limits, &prefix)
        })
        .collect()
}

/// Check a completion output or context value against its bound.
pub fn check_value_size(field: &str, v: &serde_json::Value, max: usize) -> Result<(), TaskError> {
    if json_size(v) > max {
        return Err(too_large(
            field.into(),
            format!("must be at most {max} bytes when serialized"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_with_batch_index() {
        let limits = TaskSettings::default();
        let specs = vec![
            TaskSpec {
                title: Some("ok".into()),
                ..Default::default()
            },
            TaskSpec {
                title: Some("bad".into()),
                dependencies: vec!["no spaces".into()],
                ..Default::default()
            },
        ];
        let e = validate_batch(specs, &limits).unwrap_err();
        assert!(
            matches!(e, TaskError::Invalid { ref field, .. } if field == "tasks[1].dependencies[0]"),
            "{e:?}"
        );
    }

    #[test]
    fn payload_bound_is_413_shaped() {
        let limits = TaskSettings {
            max_payload_bytes: 10,
            ..TaskSettings::default()
        };
        let spec = TaskSpec {
            title: Some("t".into()),
            payload: Some(serde_json::json!("0123456789abc")),
            ..Default::default()
        };
        assert!(matches!(
            validate_spec(spec, &limits, ""),
            Err(TaskError::TooLarge { .. })
        ));
    }

    #[test]
    fn title_defaults_to_description_first_line() {
        let spec = TaskSpec {
            description: Some("Build it\nthen more".into()),
            ..Default::default()
        };
        assert_eq!(
            validate_spec(spec, &TaskSettings::default(), "")
                .unwrap()
                .title,
            "Build it"
        );
        let empty = TaskSpec::default();
        assert!(validate_spec(empty, &TaskSettings::default(), "").is_err());
        // a description whose first line is blank still gives a title
        let spec = TaskSpec {
            description: Some("\n  \n  Build it  \nthen".into()),
            ..Default::default()
        };
        assert_eq!(
            validate_spec(spec, &TaskSettings::default(), "")
                .unwrap()
                .title,
            "Build it"
        );
    }

    /// Issue 23.11: `{"description": "任务" × 300}` (1,800 bytes, no title)
    /// was refused with 413 on `title`: the title was cut to 512
    /// *characters*, then checked against 512 *bytes*.
    #[test]
    fn a_long_cjk_description_without_a_title_gets_a_title_cut_to_the_byte_limit() {
        let limits = TaskSettings::default();
        let description = "任务".repeat(300);
        let spec = TaskSpec {
            description: Some(description.clone()),
            ..Default::default()
        };
        let task = validate_spec(spec, &limits, "").expect("accepted");
        assert_eq!(task.title.len(), 510, "170 whole characters of 3 bytes");
        assert!(description.starts_with(&task.title));
    }

    /// Issue 23.11: a tag of 17 emoji (68 bytes) was refused as "must be 1
    /// to 64 printable characters" though it has 17: the limit is in bytes,
    /// and the message says so.
    #[test]
    fn a_tag_over_the_byte_limit_is_refused_in_bytes() {
        let spec = TaskSpec {
            title: Some("t".into()),
            tags: vec!["🚀".repeat(17)],
            ..Default::default()
        };
        match validate_spec(spec, &TaskSettings::default(), "") {
            Err(TaskError::Invalid { field, message }) => {
                assert_eq!(field, "tags[0]");
                assert!(
                    message.contains("64 bytes") && message.contains("68 bytes"),
                    "{message}"
                );
                assert!(!message.contains("characters"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    proptest::proptest! {
        /// Issue 23.11, the kind: whatever Unicode a description holds (CJK,
        /// emoji, combining marks, blank lines), a task sent without a title
        /// is never refused over the title; its title is at most
        /// `max_title_len` bytes and a prefix of the description's first
        /// non-blank line. The compat route and MCP `add_task` add through
        /// this same function.
        #[test]
        fn a_derived_title_fits_and_is_a_prefix(
            description in crate::core::text::tests::unicode_text(400),
            // at least 4: one char of any script fits (a smaller limit cannot
            // hold a title of a description that starts with a 4-byte char)
            max_title_len in 4usize..64,
        ) {
            let limits = TaskSettings { max_title_len, ..TaskSettings::default() };
            let line = description.lines().map(str::trim).find(|l| !l.is_empty());
            let spec = TaskSpec { description: Some(description.clone()), ..Default::default() };
            match validate_spec(spec, &limits, "") {
                Ok(task) => {
                    proptest::prop_assert!(task.title.len() <= max_title_len);
                    proptest::prop_assert!(!task.title.is_empty());
                    proptest::prop_assert!(line.is_some_and(|l| l.starts_with(&task.title)));
                }
                Err(TaskError::Invalid { field, .. }) => {
                    // only a blank description, and then it is named
                    proptest::prop_assert_eq!(field, "description");
                    proptest::prop_assert!(
                        derived_title(&description, max_title_len).is_empty()
                    );
                }
                Err(e) => proptest::prop_assert!(false, "{e:?}"),
            }
        }
    }
}
