//! The MCP conformance suite's fixtures: the `test_*` tools, `test://`
//! resources and `test_*` prompts that `@modelcontextprotocol/conformance
//! server --suite all` calls. Compiled only with the `conformance-fixtures`
//! cargo feature (off by default): a test-only build of `baton serve` that
//! shows the MCP edge handles every content type, logging, progress,
//! sampling, elicitation and subscriptions the suite checks. Nothing here
//! touches the board.

// sampling and logging are deprecated by SEP-2577 but still what 2025-era clients speak
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ContentBlock, CreateMessageRequestParams,
    ElicitRequestParams, GetPromptResult, JsonObject, LoggingLevel,
    LoggingMessageNotificationParam, ProgressNotificationParam, Prompt, PromptArgument,
    PromptMessage, ReadResourceResult, Resource, ResourceContents, ResourceTemplate, Role, Tool,
};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::{json, Value};

/// A 1×1 red PNG.
const PNG: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// Eight samples of 8-bit mono silence at 8 kHz.
const WAV: &str = "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQgAAACAgICAgICAgA==";

fn schema(v: Value) -> Arc<JsonObject> {
    match v {
        Value::Object(m) => Arc::new(m),
        _ => Arc::new(JsonObject::new()),
    }
}

fn no_args() -> Arc<JsonObject> {
    schema(json!({ "type": "object", "properties": {} }))
}

fn string_arg(name: &str, description: &str) -> Arc<JsonObject> {
    schema(json!({
        "type": "object",
        "properties": { name: { "type": "string", "description": description } },
        "required": [name],
    }))
}

/// The fixture tools.
pub(crate) fn tools() -> Vec<Tool> {
    vec![
        Tool::new("test_simple_text", "Returns simple text", no_args()),
        Tool::new("test_image_content", "Returns a PNG image", no_args()),
        Tool::new("test_audio_content", "Returns a WAV clip", no_args()),
        Tool::new(
            "test_embedded_resource",
            "Returns an embedded resource",
            no_args(),
        ),
        Tool::new(
            "test_multiple_content_types",
            "Returns text, an image and a resource",
            no_args(),
        ),
        Tool::new(
            "test_tool_with_logging",
            "Sends three log notifications while it runs",
            no_args(),
        ),
        Tool::new(
            "test_error_handling",
            "Always returns a tool error",
            no_args(),
        ),
        Tool::new(
            "test_tool_with_progress",
            "Reports progress 0, 50, 100",
            no_args(),
        ),
        Tool::new(
            "test_sampling",
            "Asks the client's LLM to answer a prompt",
            string_arg("prompt", "The prompt to send to the LLM"),
        ),
        Tool::new(
            "test_elicitation",
            "Asks the user for a username and email",
            string_arg("message", "The message to show the user"),
        ),
        Tool::new(
            "test_elicitation_sep1034_defaults",
            "Elicitation with defaults for every primitive type",
            no_args(),
        ),
        Tool::new(
            "test_elicitation_sep1330_enums",
            "Elicitation with every enum schema variant",
            no_args(),
        ),
        Tool::new(
            "json_schema_2020_12_tool",
            "Tool with JSON Schema 2020-12 features",
            schema(json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {
                    "address": {
                        "type": "object",
                        "properties": {
                            "street": { "type": "string" },
                            "city": { "type": "string" }
                        }
                    }
                },
                "properties": {
                    "name": { "type": "string" },
                    "address": { "$ref": "#/$defs/address" }
                },
                "additionalProperties": false
            })),
        ),
    ]
}

fn arg(args: &Option<JsonObject>, name: &str) -> String {
    args.as_ref()
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn service_error(e: impl std::fmt::Display) -> McpError {
    McpError::internal_error(format!("the client did not answer: {e}"), None)
}

async fn elicit(peer: &Peer<RoleServer>, params: Value) -> Result<CallToolResult, McpError> {
    let params: ElicitRequestParams = serde_json::from_value(params)
        .map_err(|e| McpError::internal_error(format!("fixture schema: {e}"), None))?;
    let r = peer
        .create_elicitation(params)
        .await
        .map_err(service_error)?;
    let text = format!(
        "Elicitation completed: action={}, content={}",
        serde_json::to_value(r.action).unwrap_or_default(),
        r.content.unwrap_or_default()
    );
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
}

/// Run a fixture tool; `None` when `request` names none of them.
pub(crate) async fn call(
    request: &CallToolRequestParams,
    context: &RequestContext<RoleServer>,
) -> Option<Result<CallToolResult, McpError>> {
    let peer = &context.peer;
    let args = &request.arguments;
    let text = |t: &str| Some(Ok(CallToolResult::success(vec![ContentBlock::text(t)])));
    match request.name.as_ref() {
        "test_simple_text" => text("This is a simple text response for testing."),
        "test_image_content" => Some(Ok(CallToolResult::success(vec![ContentBlock::image(
            PNG,
            "image/png",
        )]))),
        "test_audio_content" => Some(Ok(CallToolResult::success(vec![ContentBlock::audio(
            WAV,
            "audio/wav",
        )]))),
        "test_embedded_resource" => Some(Ok(CallToolResult::success(vec![
            ContentBlock::resource(
                ResourceContents::text(
                    "This is an embedded resource content.",
                    "test://embedded-resource",
                )
                .with_mime_type("text/plain"),
            ),
        ]))),
        "test_multiple_content_types" => Some(Ok(CallToolResult::success(vec![
            ContentBlock::text("Multiple content types test:"),
            ContentBlock::image(PNG, "image/png"),
            ContentBlock::resource(
                ResourceContents::text(
                    r#"{"test":"data","value":123}"#,
                    "test://mixed-content-resource",
                )
                .with_mime_type("application/json"),
            ),
        ]))),
        "test_tool_with_logging" => {
            for (i, msg) in [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed",
            ]
            .into_iter()
            .enumerate()
            {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let param = LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(msg));
                let _ = peer.notify_logging_message(param).await;
            }
            text("Tool with logging executed successfully")
        }
        "test_error_handling" => Some(Ok(CallToolResult::error(vec![ContentBlock::text(
            "This tool intentionally returns an error for testing",
        )]))),
        "test_tool_with_progress" => {
            let token = request
                .meta
                .as_ref()
                .and_then(|m| m.get_progress_token())
                .or_else(|| context.meta.get_progress_token());
            for (i, step) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if let Some(tok) = &token {
                    let p = ProgressNotificationParam::new(tok.clone(), step).with_total(100.0);
                    let _ = peer.notify_progress(p).await;
                }
            }
            text("Tool with progress executed successfully")
        }
        "test_sampling" => Some(sample(peer, &arg(args, "prompt")).await),
        "test_elicitation" => Some(
            elicit(
                peer,
                json!({
                    "mode": "form",
                    "message": arg(args, "message"),
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "username": { "type": "string", "description": "User's response" },
                            "email": { "type": "string", "description": "User's email address" }
                        },
                        "required": ["username", "email"]
                    }
                }),
            )
            .await,
        ),
        "test_elicitation_sep1034_defaults" => Some(
            elicit(
                peer,
                json!({
                    "mode": "form",
                    "message": "Please review and update the form fields with defaults",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "name": { "type": "string", "description": "User name", "default": "John Doe" },
                            "age": { "type": "integer", "description": "User age", "default": 30 },
                            "score": { "type": "number", "description": "User score", "default": 95.5 },
                            "status": {
                                "type": "string",
                                "description": "User status",
                                "enum": ["active", "inactive", "pending"],
                                "default": "active"
                            },
                            "verified": { "type": "boolean", "description": "Verification status", "default": true }
                        }
                    }
                }),
            )
            .await,
        ),
        "test_elicitation_sep1330_enums" => Some(
            elicit(
                peer,
                json!({
                    "mode": "form",
                    "message": "Please select options from the enum fields",
                    "requestedSchema": {
                        "type": "object",
                        "properties": {
                            "untitledSingle": {
                                "type": "string",
                                "enum": ["option1", "option2", "option3"]
                            },
                            "titledSingle": {
                                "type": "string",
                                "oneOf": [
                                    { "const": "value1", "title": "First Option" },
                                    { "const": "value2", "title": "Second Option" },
                                    { "const": "value3", "title": "Third Option" }
                                ]
                            },
                            "legacyEnum": {
                                "type": "string",
                                "enum": ["opt1", "opt2", "opt3"],
                                "enumNames": ["Option One", "Option Two", "Option Three"]
                            },
                            "untitledMulti": {
                                "type": "array",
                                "items": { "type": "string", "enum": ["option1", "option2", "option3"] }
                            },
                            "titledMulti": {
                                "type": "array",
                                "items": {
                                    "anyOf": [
                                        { "const": "value1", "title": "First Choice" },
                                        { "const": "value2", "title": "Second Choice" },
                                        { "const": "value3", "title": "Third Choice" }
                                    ]
                                }
                            }
                        }
                    }
                }),
            )
            .await,
        ),
        "json_schema_2020_12_tool" => text("JSON Schema 2020-12 tool called"),
        _ => None,
    }
}

async fn sample(peer: &Peer<RoleServer>, prompt: &str) -> Result<CallToolResult, McpError> {
    let params: CreateMessageRequestParams = serde_json::from_value(json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
        "maxTokens": 100
    }))
    .map_err(|e| McpError::internal_error(format!("fixture request: {e}"), None))?;
    let r = peer.create_message(params).await.map_err(service_error)?;
    let answer = serde_json::to_value(&r.message.content)
        .ok()
        .and_then(|c| {
            c.get("text")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    c.as_array()?
                        .first()?
                        .get("text")?
                        .as_str()
                        .map(str::to_owned)
                })
        })
        .unwrap_or_default();
    Ok(CallToolResult::success(vec![ContentBlock::text(format!(
        "LLM response: {answer}"
    ))]))
}

/// The fixture resources.
pub(crate) fn resources() -> Vec<Resource> {
    vec![
        Resource::new("test://static-text", "static-text")
            .with_description("A static text resource")
            .with_mime_type("text/plain"),
        Resource::new("test://static-binary", "static-binary")
            .with_description("A static PNG")
            .with_mime_type("image/png"),
        Resource::new("test://watched-resource", "watched-resource")
            .with_description("A resource to subscribe to")
            .with_mime_type("text/plain"),
    ]
}

/// The fixture resource templates.
pub(crate) fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new("test://template/{id}/data", "template-data")
            .with_description("Data for one id")
            .with_mime_type("application/json"),
    ]
}

/// Whether `uri` is a fixture resource that can be subscribed to.
pub(crate) fn is_fixture_uri(uri: &str) -> bool {
    uri.starts_with("test://")
}

/// Read a fixture resource; `None` when `uri` is none of them.
pub(crate) fn read(uri: &str) -> Option<ReadResourceResult> {
    let contents = match uri {
        "test://static-text" => {
            ResourceContents::text("This is the content of the static text resource.", uri)
                .with_mime_type("text/plain")
        }
        "test://static-binary" => ResourceContents::blob(PNG, uri).with_mime_type("image/png"),
        "test://watched-resource" => {
            ResourceContents::text("Watched resource content.", uri).with_mime_type("text/plain")
        }
        _ => {
            let id = uri
                .strip_prefix("test://template/")?
                .strip_suffix("/data")?;
            let body =
                json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") });
            ResourceContents::text(body.to_string(), uri).with_mime_type("application/json")
        }
    };
    Some(ReadResourceResult::new(vec![contents]))
}

/// The fixture prompts.
pub(crate) fn prompts() -> Vec<Prompt> {
    let arg = |name: &str, description: &str| {
        PromptArgument::new(name)
            .with_description(description)
            .with_required(true)
    };
    vec![
        Prompt::new::<_, &str>("test_simple_prompt", Some("A simple prompt"), None),
        Prompt::new(
            "test_prompt_with_arguments",
            Some("A prompt with two arguments"),
            Some(vec![
                arg("arg1", "First test argument"),
                arg("arg2", "Second test argument"),
            ]),
        ),
        Prompt::new(
            "test_prompt_with_embedded_resource",
            Some("A prompt embedding a resource"),
            Some(vec![arg("resourceUri", "URI of the resource to embed")]),
        ),
        Prompt::new::<_, &str>(
            "test_prompt_with_image",
            Some("A prompt with an image"),
            None,
        ),
    ]
}

/// Get a fixture prompt; `None` when `name` is none of them.
pub(crate) fn prompt(name: &str, args: &Option<JsonObject>) -> Option<GetPromptResult> {
    let messages = match name {
        "test_simple_prompt" => vec![PromptMessage::new_text(
            Role::User,
            "This is a simple prompt for testing.",
        )],
        "test_prompt_with_arguments" => vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Prompt with arguments: arg1='{}', arg2='{}'",
                arg(args, "arg1"),
                arg(args, "arg2")
            ),
        )],
        "test_prompt_with_embedded_resource" => vec![
            PromptMessage::new(
                Role::User,
                ContentBlock::resource(
                    ResourceContents::text(
                        "Embedded resource content for testing.",
                        arg(args, "resourceUri"),
                    )
                    .with_mime_type("text/plain"),
                ),
            ),
            PromptMessage::new_text(Role::User, "Please process the embedded resource above."),
        ],
        "test_prompt_with_image" => vec![
            PromptMessage::new(Role::User, ContentBlock::image(PNG, "image/png")),
            PromptMessage::new_text(Role::User, "Please analyze the image above."),
        ],
        _ => return None,
    };
    Some(GetPromptResult::new(messages))
}
