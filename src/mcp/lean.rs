//! Lean definitions of baton's own tools: what every agent pays for in
//! `tools/list` before its first call (issue 28). Applied once, when the
//! tool router is built, after the policy of [`super::schema`]; gateway
//! tools keep their downstream server's definitions.
//!
//! Each step and what it saved on `tools/list` (compact JSON, bytes, each
//! measured after the ones above it, on the 23 tools of the `full` profile
//! and the 8 of `core`): full 48,348 → 32,251, core 22,321 → 14,427
//! (BENCHMARKS.md, "What a client's model reads"). After the merge with
//! the path reservations (issue 25: 28 tools in `full`), with every step
//! applied to them too: full 43,671, core 16,828.
//!
//! | step | full | core | changes what a validator accepts? |
//! |---|---|---|---|
//! | no `$schema` ([`drop_dialect`]) | −2,622 | −912 | no: MCP (2025-11-25) makes JSON Schema 2020-12 the default dialect, and these schemas mean the same in draft-07 (which the TypeScript SDK's ajv uses) |
//! | `oneOf` of `const`s → one `enum` ([`enum_of_consts`]) | −2,115 | −987 | no |
//! | `$defs` that are a bare type inlined ([`inline_trivial_defs`]) | −698 | −357 | no |
//! | no numeric bounds in output schemas ([`drop_output_bounds`]) | −2,425 | −1,258 | only numbers a Rust integer cannot hold, which baton never sends (input schemas keep theirs) |
//! | no `additionalProperties: true` ([`drop_open_objects`]) | −448 | −224 | no: it is the default |
//! | no annotation hints that say the default ([`drop_default_hints`]) | −526 | −218 | no: `readOnlyHint: false`, `idempotentHint: false`, `openWorldHint: true` are the spec's defaults |
//! | a task's `lease` and `executor` as `object\|null` (`#[schemars(with)]` on [`crate::model::Task`]) | −7,263 | −3,938 | yes, one level down: they are checked to be objects or null, not field by field. A claim's own `lease` (where an agent reads its `lease_id`) stays typed in full; every top-level field of every result keeps its type and stays required |
//!
//! Considered and not done: sharing one Task schema between tools with
//! `$id`/`$ref`. Every tool's `outputSchema` is its own document; the
//! TypeScript SDK compiles them in one ajv, which refuses a second schema
//! with the same `$id` (a re-listed tool after `list_changed`), and the
//! Python SDK validates each result against its schema alone, where a
//! reference to another tool's schema does not resolve. Dropping output
//! schemas altogether would give up the validation the TypeScript SDK does
//! on every result.

use std::collections::BTreeSet;
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool};
use serde_json::Value;

/// Keywords whose values are data (instances), not subschemas.
const DATA_KEYWORDS: [&str; 4] = ["default", "const", "enum", "examples"];

/// Make `tool` (one of baton's own) lean: every step of the module docs.
pub(crate) fn lean(tool: &mut Tool) {
    drop_default_hints(tool);
    let input = Arc::make_mut(&mut tool.input_schema);
    for step in [drop_dialect, enum_of_consts, drop_open_objects] {
        step(input);
    }
    inline_trivial_defs(input);
    if let Some(out) = tool.output_schema.as_mut() {
        let out = Arc::make_mut(out);
        for step in [
            drop_dialect,
            enum_of_consts,
            drop_open_objects,
            drop_output_bounds,
        ] {
            step(out);
        }
        inline_trivial_defs(out);
        drop_unused_defs(out);
    }
}

/// Call `f` on `schema` and on every subschema below it (not inside data
/// keywords).
fn each_schema(schema: &mut JsonObject, f: &mut impl FnMut(&mut JsonObject)) {
    f(schema);
    for (key, value) in schema.iter_mut() {
        if DATA_KEYWORDS.contains(&key.as_str()) {
            continue;
        }
        match key.as_str() {
            "properties" | "$defs" | "definitions" | "patternProperties" | "dependentSchemas" => {
                if let Value::Object(map) = value {
                    for sub in map.values_mut() {
                        if let Value::Object(sub) = sub {
                            each_schema(sub, f);
                        }
                    }
                }
            }
            _ => match value {
                Value::Object(sub) => each_schema(sub, f),
                Value::Array(items) => {
                    for item in items {
                        if let Value::Object(sub) = item {
                            each_schema(sub, f);
                        }
                    }
                }
                _ => {}
            },
        }
    }
}

/// No `$schema`: 2020-12 is MCP's default dialect.
fn drop_dialect(root: &mut JsonObject) {
    root.remove("$schema");
}

/// `oneOf: [{const: a, type: t}, {const: b, type: t}, …]` → `type: t,
/// enum: [a, b, …]` (what schemars writes for a unit enum with documented
/// variants): the same instances.
fn enum_of_consts(root: &mut JsonObject) {
    each_schema(root, &mut |s| {
        let Some(Value::Array(alts)) = s.get("oneOf") else {
            return;
        };
        let mut values = Vec::new();
        let mut types = BTreeSet::new();
        for alt in alts {
            let Value::Object(alt) = alt else { return };
            let Some(value) = alt.get("const") else {
                return;
            };
            if alt.keys().any(|k| k != "const" && k != "type") {
                return;
            }
            if let Some(t) = alt.get("type") {
                types.insert(t.to_string());
            }
            values.push(value.clone());
        }
        let (Some(Value::Object(first)), 1) = (alts.first(), types.len()) else {
            return;
        };
        let ty = first.get("type").cloned();
        s.remove("oneOf");
        if let Some(ty) = ty {
            s.insert("type".into(), ty);
        }
        s.insert("enum".into(), Value::Array(values));
    });
}

/// No `additionalProperties: true`: an object schema allows other
/// properties unless it says otherwise.
fn drop_open_objects(root: &mut JsonObject) {
    each_schema(root, &mut |s| {
        if s.get("additionalProperties") == Some(&Value::Bool(true)) {
            s.remove("additionalProperties");
        }
    });
}

/// No `minimum`/`maximum` in a result: the only bounds schemars writes are
/// the range of the Rust integer type, which every value baton sends is in.
fn drop_output_bounds(root: &mut JsonObject) {
    each_schema(root, &mut |s| {
        s.remove("minimum");
        s.remove("maximum");
    });
}

/// A `$defs` entry that is only `{type: <string>}` replaces each bare
/// `{$ref}` to it, and goes.
fn inline_trivial_defs(root: &mut JsonObject) {
    let Some(Value::Object(defs)) = root.get("$defs") else {
        return;
    };
    let trivial: Vec<(String, Value)> = defs
        .iter()
        .filter(|(_, d)| {
            d.as_object()
                .is_some_and(|d| d.len() == 1 && d.get("type").is_some_and(Value::is_string))
        })
        .map(|(name, d)| (format!("#/$defs/{name}"), d.clone()))
        .collect();
    if trivial.is_empty() {
        return;
    }
    each_schema(root, &mut |s| {
        let Some(Value::String(r)) = s.get("$ref") else {
            return;
        };
        let Some((_, def)) = trivial.iter().find(|(t, _)| t == r) else {
            return;
        };
        if s.len() == 1 {
            if let Value::Object(def) = def.clone() {
                *s = def;
            }
        }
    });
    drop_unused_defs(root);
}

/// Remove `$defs` entries no `$ref` names any more (and an empty `$defs`).
fn drop_unused_defs(root: &mut JsonObject) {
    loop {
        let Some(Value::Object(defs)) = root.get("$defs") else {
            return;
        };
        let text = Value::Object(root.clone()).to_string();
        let unused: Vec<String> = defs
            .keys()
            .filter(|name| !text.contains(&format!("\"#/$defs/{name}\"")))
            .cloned()
            .collect();
        if unused.is_empty() {
            if defs.is_empty() {
                root.remove("$defs");
            }
            return;
        }
        if let Some(Value::Object(defs)) = root.get_mut("$defs") {
            for name in unused {
                defs.remove(&name);
            }
        }
    }
}

/// Drop the annotation hints that say what the spec assumes when they are
/// absent: `readOnlyHint: false`, `idempotentHint: false`,
/// `openWorldHint: true` (`destructiveHint` defaults to true, so a `false`
/// one stays).
fn drop_default_hints(tool: &mut Tool) {
    let Some(a) = tool.annotations.as_mut() else {
        return;
    };
    if a.read_only_hint == Some(false) {
        a.read_only_hint = None;
    }
    if a.idempotent_hint == Some(false) {
        a.idempotent_hint = None;
    }
    if a.open_world_hint == Some(true) {
        a.open_world_hint = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        }
    }

    #[test]
    fn lossless_steps_keep_what_a_schema_accepts() {
        let mut s = obj(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$defs": {"Id": {"type": "string"},
                      "Status": {"oneOf": [{"const": "a", "type": "string"}, {"const": "b", "type": "string"}]}},
            "type": "object",
            "properties": {
                "id": {"$ref": "#/$defs/Id"},
                "ids": {"type": "array", "items": {"$ref": "#/$defs/Id"}},
                "status": {"$ref": "#/$defs/Status"},
                "args": {"type": ["object", "null"], "additionalProperties": true},
                "mixed": {"oneOf": [{"const": 1, "type": "integer"}, {"const": "x", "type": "string"}]},
                "default": {"type": "string", "default": {"oneOf": [{"const": "data"}]}}
            }
        }));
        for step in [drop_dialect, enum_of_consts, drop_open_objects] {
            step(&mut s);
        }
        inline_trivial_defs(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({
                "$defs": {"Status": {"type": "string", "enum": ["a", "b"]}},
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "ids": {"type": "array", "items": {"type": "string"}},
                    "status": {"$ref": "#/$defs/Status"},
                    "args": {"type": ["object", "null"]},
                    // two types: not one enum of one type
                    "mixed": {"oneOf": [{"const": 1, "type": "integer"}, {"const": "x", "type": "string"}]},
                    "default": {"type": "string", "default": {"oneOf": [{"const": "data"}]}}
                }
            })
        );
    }

    #[test]
    fn output_bounds_go_and_unused_defs_with_them() {
        let mut s = obj(json!({
            "$defs": {"Gone": {"type": "object"}, "Kept": {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}},
            "type": "object",
            "properties": {"k": {"$ref": "#/$defs/Kept"}, "m": {"type": "integer", "minimum": -5, "maximum": 5}}
        }));
        drop_output_bounds(&mut s);
        drop_unused_defs(&mut s);
        assert_eq!(
            Value::Object(s),
            json!({
                "$defs": {"Kept": {"type": "object", "properties": {"n": {"type": "integer"}}}},
                "type": "object",
                "properties": {"k": {"$ref": "#/$defs/Kept"}, "m": {"type": "integer"}}
            })
        );
    }

    #[test]
    fn default_hints_go_and_the_others_stay() {
        let mut t = Tool::new("t", "d", Arc::new(JsonObject::new()));
        t.annotations = Some(
            rmcp::model::ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(false)
                .open_world(true),
        );
        drop_default_hints(&mut t);
        let a = serde_json::to_value(t.annotations).unwrap_or_default();
        assert_eq!(a, json!({"destructiveHint": false}));
    }
}
