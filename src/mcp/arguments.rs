//! Unknown arguments of baton's own tools, refused before a tool runs.
//!
//! serde ignores a field a type does not have, so `complete_task {task_id,
//! lease_id, result: {...}}` (an agent that guessed the name) completed the
//! task with no output and lost the answer. Every baton tool's `inputSchema`
//! says `additionalProperties: false` ([`super::schema::close_arguments`]);
//! [`check`] holds each call to it — at the top level and in nested objects
//! whose schema is closed too (a task inside `add_tasks`) — and a refusal is
//! a tool error naming the argument and the nearest valid name ("unknown
//! argument `result`; did you mean `output`?"). Gateway tools are not
//! checked here: they keep their downstream server's schema, which decides.

use rmcp::model::JsonObject;
use serde_json::{Map, Value};

use crate::core::text::nearest;
use crate::error::Error;

/// Refuse the first argument of `args` (at any depth the schema closes) that
/// `tool`'s input schema `schema` does not declare.
pub(super) fn check(
    tool: &str,
    schema: &JsonObject,
    args: Option<&JsonObject>,
) -> Result<(), Error> {
    let Some(args) = args else { return Ok(()) };
    match unknown(schema, schema, args, "") {
        None => Ok(()),
        Some(u) => Err(u.into_error(tool)),
    }
}

/// An argument the schema does not declare.
struct Unknown {
    /// Path of the object holding it (`tasks[0]`; empty: the arguments).
    at: String,
    /// The argument's name.
    name: String,
    /// The names the object may have, in schema order.
    known: Vec<String>,
}

impl Unknown {
    fn into_error(self, tool: &str) -> Error {
        let field = if self.at.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.at, self.name)
        };
        let what = if self.at.is_empty() {
            format!("unknown argument `{}` of {tool}", self.name)
        } else {
            format!("unknown field `{}` in `{}`", self.name, self.at)
        };
        let hint = match nearest(&self.name, self.known.iter().map(String::as_str)) {
            Some(n) => format!("; did you mean `{n}`?"),
            None => String::new(),
        };
        let takes = if self.known.is_empty() {
            "nothing".to_owned()
        } else {
            self.known.join(", ")
        };
        let whose = if self.at.is_empty() {
            format!("{tool} takes")
        } else {
            format!("`{}` takes", self.at)
        };
        Error::invalid(&field, format!("{what}{hint} ({whose}: {takes})"))
    }
}

/// The schema `s` stands for: itself, or the `$defs` entry its `$ref` names.
fn resolve<'a>(root: &'a JsonObject, s: &'a Map<String, Value>) -> &'a Map<String, Value> {
    let target = s
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| {
            r.strip_prefix("#/$defs/")
                .or_else(|| r.strip_prefix("#/definitions/"))
        })
        .and_then(|name| {
            root.get("$defs")
                .or_else(|| root.get("definitions"))
                .and_then(|d| d.get(name))
        })
        .and_then(Value::as_object);
    target.unwrap_or(s)
}

/// The first undeclared key in `obj` or below it, under schema `s`.
fn unknown(
    root: &JsonObject,
    s: &Map<String, Value>,
    obj: &Map<String, Value>,
    at: &str,
) -> Option<Unknown> {
    let s = resolve(root, s);
    let props = s.get("properties").and_then(Value::as_object);
    let closed = s.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, value) in obj {
        match props.and_then(|p| p.get(name)).and_then(Value::as_object) {
            Some(sub) => {
                let path = if at.is_empty() {
                    name.clone()
                } else {
                    format!("{at}.{name}")
                };
                if let Some(u) = below(root, sub, value, &path) {
                    return Some(u);
                }
            }
            None if closed => {
                return Some(Unknown {
                    at: at.to_owned(),
                    name: name.clone(),
                    known: props
                        .map(|p| p.keys().cloned().collect())
                        .unwrap_or_default(),
                })
            }
            None => {}
        }
    }
    None
}

/// The first undeclared key inside `value` (an object, or the objects of an
/// array) under schema `s`.
fn below(root: &JsonObject, s: &Map<String, Value>, value: &Value, at: &str) -> Option<Unknown> {
    let s = resolve(root, s);
    match value {
        Value::Object(obj) => unknown(root, s, obj, at),
        Value::Array(items) => {
            let item = s.get("items").and_then(Value::as_object)?;
            items
                .iter()
                .enumerate()
                .find_map(|(i, v)| below(root, item, v, &format!("{at}[{i}]")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> JsonObject {
        match json!({
            "type": "object", "additionalProperties": false,
            "properties": {"task_id": {"type": "string"}, "lease_id": {"type": "integer"},
                           "output": {}, "tasks": {"type": "array", "items": {"$ref": "#/$defs/Spec"}},
                           "free": {"type": "object"}},
            "$defs": {"Spec": {"type": "object", "additionalProperties": false,
                               "properties": {"id": {}, "title": {}}}}
        }) {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        }
    }

    fn refusal(args: Value) -> Option<(String, String)> {
        let Value::Object(args) = args else {
            return None;
        };
        match check("complete_task", &schema(), Some(&args)) {
            Err(Error::Task(crate::core::table::TaskError::Invalid { field, message })) => {
                Some((field, message))
            }
            _ => None,
        }
    }

    #[test]
    fn an_unknown_argument_is_named_with_the_nearest_valid_one() {
        let (field, message) =
            refusal(json!({"task_id": "t", "lease_id": 1, "result": {"answer": 42}}))
                .expect("refused");
        assert_eq!(field, "result");
        assert!(
            message
                .starts_with("unknown argument `result` of complete_task; did you mean `output`?"),
            "{message}"
        );
    }

    #[test]
    fn nested_objects_are_checked_where_their_schema_is_closed() {
        let (field, message) =
            refusal(json!({"tasks": [{"id": "a"}, {"id": "b", "titel": "x"}]})).expect("refused");
        assert_eq!(field, "tasks[1].titel");
        assert!(message.contains("did you mean `title`?"), "{message}");
        // an open object (free-form JSON) takes anything
        assert!(refusal(json!({"free": {"anything": 1}, "output": {"x": 1}})).is_none());
    }
}
