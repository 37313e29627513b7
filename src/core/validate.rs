//! Turning client input ([`TaskSpec`]) into task records, with every bound
//! from `[tasks]` checked and the offending field named.

use std::collections::HashSet;

use crate::config::TaskSettings;
use crate::core::table::TaskError;
use crate::model::{Task, TaskId, TaskSpec, TaskStatus};

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
    let description = spec.description.unwrap_or_default();
    if description.len() > limits.max_description_len {
        return Err(too_large(
            f("description"),
            format!("must be at most {} bytes", limits.max_description_len),
        ));
    }
    let title = match spec.title {
        Some(t) => t,
        None => description
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(limits.max_title_len)
            .collect(),
    };
    if title.trim().is_empty() {
        return Err(invalid(f("title"), "a title or a description is required"));
    }
    if title.len() > limits.max_title_len {
        return Err(too_large(
            f("title"),
            format!("must be at most {} bytes", limits.max_title_len),
        ));
    }
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
        if tag.is_empty() || tag.len() > limits.max_tag_len || tag.chars().any(char::is_control) {
            return Err(invalid(
                f(&format!("tags[{i}]")),
                format!("must be 1 to {} printable characters", limits.max_tag_len),
            ));
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
        let ok = |s: &str| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control);
        if !ok(&e.server) {
            return Err(invalid(
                f("executor.server"),
                "must be 1 to 128 printable characters",
            ));
        }
        if !ok(&e.tool) {
            return Err(invalid(
                f("executor.tool"),
                "must be 1 to 128 printable characters",
            ));
        }
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

/// Truncate an error message to `max` bytes on a char boundary.
pub fn clip(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
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
    }
}
