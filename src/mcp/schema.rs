//! The one JSON Schema policy every tool definition a client sees goes
//! through — baton's own tools (once, when the router is built), the
//! gateway's downstream tools and the conformance fixtures (on every
//! `tools/list`):
//!
//! - **Only formats JSON Schema defines.** schemars writes `format: "uint32"`,
//!   `"uint64"`, `"int32"`… for Rust integers; validators do not know them
//!   (the TypeScript SDK's ajv printed `unknown format "uint32" ignored` for
//!   every such field on every `tools/list`). Those formats are removed and
//!   the range they meant is written as `minimum`/`maximum` instead (except
//!   the 64-bit bounds, which a JSON number cannot carry exactly:
//!   `uint64` keeps only `minimum: 0`).
//! - **Optional arguments are just optional**: an argument that is not
//!   `required` is written as its type, not as "its type or null"
//!   (`["string", "null"]`, `anyOf: [{$ref}, {type: null}]`) — leaving it out
//!   means the same, and the union is noise in the model's context.
//! - **Annotations that cost context and validate nothing are dropped**:
//!   `default: null` on optional arguments (absent means the same), and in
//!   output schemas every `description`/`default` below the root — clients
//!   validate results with them; models never read them (they read the name,
//!   the description and the input schema). The documented shapes are in the
//!   rustdoc of [`crate::model`] and the `data://tasks/schema` resource.
//!
//! Values inside `default`, `const`, `enum` and `examples` are data, not
//! schemas, and are left alone.
//!
//! Baton's own tools (not the gateway's, which keep their downstream
//! server's schema) also get [`close_arguments`]: `additionalProperties:
//! false` on the input schema, which `super::arguments` enforces.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool};
use serde_json::Value;

/// The `format` values JSON Schema 2020-12 defines (its format-annotation
/// vocabulary); every other one is removed.
const STANDARD_FORMATS: [&str; 19] = [
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Keywords whose values are data (instances), not subschemas.
const DATA_KEYWORDS: [&str; 4] = ["default", "const", "enum", "examples"];

/// Apply the policy to a tool's input and output schemas.
pub(crate) fn apply(tool: &mut Tool) {
    normalize(Arc::make_mut(&mut tool.input_schema), Side::Input);
    if let Some(out) = tool.output_schema.as_mut() {
        normalize(Arc::make_mut(out), Side::Output);
    }
}

/// Say in `tool`'s input schema that it takes no argument it does not
/// declare (`additionalProperties: false` at the root; serde's
/// `deny_unknown_fields` writes the same, this makes sure of it for every
/// baton tool). Not for gateway tools: their downstream server decides.
pub(crate) fn close_arguments(tool: &mut Tool) {
    Arc::make_mut(&mut tool.input_schema).insert("additionalProperties".into(), Value::Bool(false));
}

/// Which schema of a tool is being normalized.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Input,
    Output,
}

fn normalize(root: &mut JsonObject, side: Side) {
    walk(root, side, true);
}

fn walk(schema: &mut JsonObject, side: Side, is_root: bool) {
    if let Some(Value::String(format)) = schema.get("format") {
        if !STANDARD_FORMATS.contains(&format.as_str()) {
            let (min, max) = integer_range(format);
            if let Some(min) = min {
                schema.entry("minimum").or_insert(min.into());
            }
            if let Some(max) = max {
                schema.entry("maximum").or_insert(max.into());
            }
            schema.remove("format");
        }
    }
    if schema.get("default") == Some(&Value::Null) {
        schema.remove("default");
    }
    if side == Side::Output && !is_root {
        schema.remove("description");
        schema.remove("default");
    }
    if side == Side::Input {
        drop_null_from_optional(schema);
    }
    for (key, value) in schema.iter_mut() {
        if DATA_KEYWORDS.contains(&key.as_str()) {
            continue;
        }
        match key.as_str() {
            // name → subschema maps
            "properties" | "$defs" | "definitions" | "patternProperties" | "dependentSchemas" => {
                if let Value::Object(map) = value {
                    for sub in map.values_mut() {
                        if let Value::Object(sub) = sub {
                            walk(sub, side, false);
                        }
                    }
                }
            }
            _ => match value {
                Value::Object(sub) => walk(sub, side, false),
                Value::Array(items) => {
                    for item in items {
                        if let Value::Object(sub) = item {
                            walk(sub, side, false);
                        }
                    }
                }
                _ => {}
            },
        }
    }
}

/// For each property of `schema` that is not `required`: `type: [T, "null"]`
/// becomes `type: T`, and `anyOf: [S, {type: null}]` becomes `S`.
fn drop_null_from_optional(schema: &mut JsonObject) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let Some(Value::Object(props)) = schema.get_mut("properties") else {
        return;
    };
    for (name, prop) in props.iter_mut() {
        if required.contains(name) {
            continue;
        }
        let Value::Object(prop) = prop else { continue };
        if let Some(Value::Array(types)) = prop.get("type") {
            let rest: Vec<Value> = types
                .iter()
                .filter(|t| t.as_str() != Some("null"))
                .cloned()
                .collect();
            if rest.len() == 1 && types.len() == 2 {
                prop.insert("type".into(), rest[0].clone());
            }
        }
        let single = match prop.get("anyOf") {
            Some(Value::Array(alts)) if alts.len() == 2 => {
                let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
                match (is_null(&alts[0]), is_null(&alts[1])) {
                    (false, true) => Some(alts[0].clone()),
                    (true, false) => Some(alts[1].clone()),
                    _ => None,
                }
            }
            _ => None,
        };
        if let Some(Value::Object(only)) = single {
            prop.remove("anyOf");
            for (k, v) in only {
                prop.entry(k).or_insert(v);
            }
        }
    }
}

/// The range a Rust integer format stands for (schemars' names), as
/// (minimum, maximum); 64-bit bounds are not representable exactly in JSON.
fn integer_range(format: &str) -> (Option<i64>, Option<i64>) {
    match format {
        "int8" => (Some(i8::MIN.into()), Some(i8::MAX.into())),
        "uint8" => (Some(0), Some(u8::MAX.into())),
        "int16" => (Some(i16::MIN.into()), Some(i16::MAX.into())),
        "uint16" => (Some(0), Some(u16::MAX.into())),
        "int32" => (Some(i32::MIN.into()), Some(i32::MAX.into())),
        "uint32" => (Some(0), Some(u32::MAX.into())),
        "uint64" | "uint128" | "uint" => (Some(0), None),
        _ => (None, None),
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

    /// Every `format` left anywhere in a schema (not in data keywords).
    fn formats(v: &Value, out: &mut Vec<String>) {
        if let Value::Object(m) = v {
            for (k, x) in m {
                if k == "format" {
                    if let Value::String(f) = x {
                        out.push(f.clone());
                    }
                } else if !DATA_KEYWORDS.contains(&k.as_str()) {
                    formats(x, out);
                }
            }
        } else if let Value::Array(a) = v {
            for x in a {
                formats(x, out);
            }
        }
    }

    #[test]
    fn custom_integer_formats_become_ranges() {
        let mut s = obj(json!({"type": "object", "properties": {
            "max_attempts": {"type": ["integer", "null"], "format": "uint32", "minimum": 0, "default": null},
            "lease_id": {"type": "integer", "format": "uint64", "minimum": 0},
            "priority": {"type": "integer", "format": "int32"},
            "when": {"type": "string", "format": "date-time"},
            "format": {"type": "string", "default": {"format": "uint64"}}
        }, "$defs": {"Lease": {"type": "object", "properties": {"slot": {"type": "integer", "format": "uint32"}}}}}));
        normalize(&mut s, Side::Input);
        let v = Value::Object(s);
        assert_eq!(
            v["properties"]["max_attempts"],
            json!({"type": "integer", "minimum": 0, "maximum": 4294967295u32})
        );
        assert_eq!(
            v["properties"]["lease_id"],
            json!({"type": "integer", "minimum": 0})
        );
        assert_eq!(
            v["properties"]["priority"],
            json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX})
        );
        assert_eq!(v["properties"]["when"]["format"], "date-time");
        // a property named "format" is a schema; a default value is data
        assert_eq!(
            v["properties"]["format"]["default"],
            json!({"format": "uint64"})
        );
        assert_eq!(
            v["$defs"]["Lease"]["properties"]["slot"],
            json!({"type": "integer", "minimum": 0, "maximum": 4294967295u32})
        );
        let mut left = Vec::new();
        formats(&v, &mut left);
        assert_eq!(left, vec!["date-time".to_owned()]);
    }

    #[test]
    fn optional_arguments_are_not_nullable_but_required_ones_keep_their_type() {
        let mut s = obj(
            json!({"type": "object", "required": ["must"], "properties": {
                "must": {"type": ["string", "null"]},
                "may": {"type": ["string", "null"], "description": "x"},
                "exec": {"description": "e", "anyOf": [{"$ref": "#/$defs/E"}, {"type": "null"}]}
            }}),
        );
        normalize(&mut s, Side::Input);
        let v = Value::Object(s);
        assert_eq!(v["properties"]["must"], json!({"type": ["string", "null"]}));
        assert_eq!(
            v["properties"]["may"],
            json!({"type": "string", "description": "x"})
        );
        assert_eq!(
            v["properties"]["exec"],
            json!({"description": "e", "$ref": "#/$defs/E"})
        );
    }

    #[test]
    fn output_schemas_keep_structure_but_not_annotations() {
        let mut s = obj(json!({"description": "A task.", "type": "object",
            "required": ["id"],
            "properties": {"id": {"description": "Unique id.", "type": "string"},
                           "tags": {"description": "Labels.", "type": "array", "items": {"type": "string"}, "default": []}}}));
        normalize(&mut s, Side::Output);
        assert_eq!(
            Value::Object(s),
            json!({"description": "A task.", "type": "object", "required": ["id"],
                   "properties": {"id": {"type": "string"},
                                  "tags": {"type": "array", "items": {"type": "string"}}}})
        );
    }
}
