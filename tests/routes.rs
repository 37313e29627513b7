//! The route table's contracts (issue 23, items 6 and 7), generated over
//! `baton::api::routes::all()` so a new route is covered the day it is added:
//!
//! - every route is in the OpenAPI document, with a description on every
//!   response, and nothing else is (the document is checked by a maintained
//!   validator in `tests/python/test_openapi.py`);
//! - every refusal has a body: a wrong method is 405 with `Allow` listing the
//!   route's methods, an unknown path under baton's own prefixes is 404, a
//!   malformed query or path parameter is named in `error.field`; the
//!   agent-coordinate-mcp routes answer in that project's
//!   `{success: false, error}` shape.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use baton::api::routes;
use common::TestServer;
use reqwest::Method;
use serde_json::{json, Value};

/// Methods a client might try on any path.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// A route's path with its placeholders filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "t1")
        .replace("{key}", "k")
        .replace("{slot}", "0")
        .replace("{name}", "none")
}

/// Full path → the methods the table serves there.
fn paths() -> BTreeMap<String, BTreeSet<&'static str>> {
    let mut out: BTreeMap<String, BTreeSet<&'static str>> = BTreeMap::new();
    for (prefix, spec) in routes::all() {
        out.entry(format!("{prefix}{}", spec.path))
            .or_default()
            .insert(spec.method);
    }
    out
}

/// Whether `path` matches the route pattern `pattern` (`{x}` is one segment).
fn matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len()
        && p.iter()
            .zip(&q)
            .all(|(a, b)| a == b || (a.starts_with('{') && a.ends_with('}') && !b.is_empty()))
}

fn is_compat(path: &str) -> bool {
    path.starts_with("/api/") && !path.starts_with("/api/v1/")
}

async fn send(s: &TestServer, method: &str, path: &str) -> reqwest::Response {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = s
        .http
        .request(method.clone(), format!("http://{}{}", s.addr, path));
    if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
        req = req.json(&json!({}));
    }
    req.send().await.expect("request")
}

async fn body(res: reqwest::Response) -> Value {
    let text = res.text().await.unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_else(|_| json!({ "not_json": text }))
}

/// The documented refusal shape: `{"error": {code, message, field?}}`.
fn assert_error(v: &Value, code: &str, what: &str) {
    assert_eq!(v["error"]["code"], code, "{what}: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: a message: {v}"
    );
}

// ---- item 7: the failing inputs ------------------------------------------------

#[actix_web::test]
async fn put_on_the_task_list_answers_405_with_allow_and_a_json_error() {
    let s = TestServer::start(|_| {}).await;
    let res = send(&s, "PUT", "/api/v1/tasks").await;
    assert_eq!(res.status(), 405);
    let allow = res
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    methods.sort_unstable();
    assert_eq!(methods, ["GET", "POST"], "Allow: {allow}");
    let v = body(res).await;
    assert_error(&v, "method_not_allowed", "PUT /api/v1/tasks");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("GET") && m.contains("POST")),
        "the message names the allowed methods: {v}"
    );
    s.stop().await;
}

#[actix_web::test]
async fn an_unknown_route_under_api_v1_answers_404_with_a_json_error() {
    let s = TestServer::start(|_| {}).await;
    let res = send(&s, "GET", "/api/v1/nope").await;
    assert_eq!(res.status(), 404);
    assert_error(&body(res).await, "not_found", "GET /api/v1/nope");
    s.stop().await;
}

#[actix_web::test]
async fn a_negative_limit_names_the_limit_field() {
    let s = TestServer::start(|_| {}).await;
    let (st, v) = s.get("/tasks?limit=-1").await;
    assert_eq!(st, 400, "{v}");
    assert_error(&v, "invalid_query", "limit=-1");
    assert_eq!(v["error"]["field"], "limit", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("limit")),
        "the message names the field too: {v}"
    );
    s.stop().await;
}

#[actix_web::test]
async fn a_wrong_method_on_a_compat_route_keeps_agent_coordinate_mcps_shape() {
    let s = TestServer::start(|_| {}).await;
    let res = send(&s, "GET", "/api/claim-task").await;
    assert_eq!(res.status(), 405);
    assert_eq!(
        res.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    let v = body(res).await;
    assert_eq!(v["success"], false, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|m| m.contains("POST")),
        "{v}"
    );
    s.stop().await;
}

// ---- item 7: the kind, over the route table ------------------------------------

/// Every path in the table × every method it does not serve: 405, `Allow`
/// equal to the table's methods for that path, and a JSON body in the
/// route's shape.
#[actix_web::test]
async fn every_route_answers_a_wrong_method_with_405_allow_and_a_json_body() {
    let s = TestServer::start(|_| {}).await;
    let mut checked = 0;
    for (path, allowed) in paths() {
        let url_path = concrete(&path);
        for method in METHODS.iter().filter(|m| !allowed.contains(*m)) {
            let what = format!("{method} {url_path}");
            let res = send(&s, method, &url_path).await;
            assert_eq!(res.status(), 405, "{what}");
            let allow: BTreeSet<String> = res
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .split(',')
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect();
            let want: BTreeSet<String> = allowed.iter().map(|m| (*m).to_owned()).collect();
            assert_eq!(allow, want, "{what}: Allow");
            let v = body(res).await;
            if is_compat(&path) {
                assert_eq!(v["success"], false, "{what}: {v}");
                assert!(v["error"].is_string(), "{what}: {v}");
            } else {
                assert_error(&v, "method_not_allowed", &what);
            }
            checked += 1;
        }
    }
    assert!(checked >= 150, "only {checked} cases: the table shrank?");
    s.stop().await;
}

/// Under each prefix baton owns (and below every route in it), an unknown
/// path is a JSON 404, whatever the method.
#[actix_web::test]
async fn an_unknown_path_under_each_prefix_gets_a_json_404() {
    let s = TestServer::start(|_| {}).await;
    assert_eq!(routes::OWNED_PREFIXES, ["/api/v1", "/mcp"]);
    let mut unknown: Vec<String> = Vec::new();
    for prefix in routes::OWNED_PREFIXES {
        unknown.push(format!("{prefix}/nope"));
        unknown.push(format!("{prefix}/nope/deeper"));
    }
    for (prefix, spec) in routes::all() {
        if routes::OWNED_PREFIXES.contains(&prefix) {
            unknown.push(format!("{prefix}{}/nope", concrete(spec.path)));
        }
    }
    // `/api/v1/tasks/nope` is `GET /tasks/{id}`: only paths no route matches
    let table = paths();
    unknown.retain(|path| !table.keys().any(|pattern| matches(pattern, path)));
    unknown.sort();
    unknown.dedup();
    assert!(unknown.len() > 20, "{unknown:?}");
    for path in &unknown {
        for method in ["GET", "POST", "DELETE"] {
            let what = format!("{method} {path}");
            let res = send(&s, method, path).await;
            assert_eq!(res.status(), 404, "{what}");
            assert_error(&body(res).await, "not_found", &what);
        }
    }
    s.stop().await;
}

/// With MCP off, `/mcp` is not a route: a JSON 404 for every method, like
/// any unknown path under a prefix baton owns.
#[actix_web::test]
async fn with_mcp_off_the_mcp_path_is_a_json_404() {
    let s = TestServer::start(|s| s.mcp.enabled = false).await;
    for method in ["GET", "POST", "DELETE", "PUT"] {
        let res = send(&s, method, "/mcp").await;
        assert_eq!(res.status(), 404, "{method} /mcp");
        assert_error(&body(res).await, "not_found", method);
    }
    s.stop().await;
}

/// A malformed value for a typed parameter, read from the OpenAPI document.
fn malformed(schema: &Value) -> Option<&'static str> {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"integer") {
        Some(if schema["minimum"].as_f64() == Some(0.0) {
            "-1"
        } else {
            "1.5x"
        })
    } else if types.contains(&"number") {
        Some("one")
    } else if types.contains(&"boolean") {
        Some("maybe")
    } else {
        None
    }
}

/// Every route that takes query or path parameters (as its OpenAPI operation
/// declares them): a malformed typed value, a repeated query parameter and an
/// unknown one are each refused with 400 naming the parameter in `field`.
#[actix_web::test]
async fn every_malformed_query_or_path_parameter_is_refused_naming_it() {
    let s = TestServer::start(|_| {}).await;
    let doc = baton::api::openapi::with_roles();
    let mut with_query = 0;
    let mut checked = 0;
    for (prefix, spec) in routes::all() {
        let full = format!("{prefix}{}", spec.path);
        let method = spec.method.to_ascii_lowercase();
        let params = doc["paths"][&full][&method]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let query: Vec<&Value> = params.iter().filter(|p| p["in"] == "query").collect();
        let mut cases: Vec<(String, String)> = Vec::new(); // (url path, field)
        for p in &params {
            let name = p["name"].as_str().expect("a parameter has a name");
            let Some(bad) = malformed(&p["schema"]) else {
                continue;
            };
            match p["in"].as_str() {
                Some("path") => cases.push((
                    concrete(&full.replace(&format!("{{{name}}}"), bad)),
                    name.to_owned(),
                )),
                Some("query") => {
                    cases.push((format!("{}?{name}={bad}", concrete(&full)), name.to_owned()))
                }
                _ => {}
            }
        }
        if let Some(first) = query.first() {
            with_query += 1;
            let name = first["name"].as_str().unwrap_or_default();
            cases.push((
                format!("{}?{name}=1&{name}=2", concrete(&full)),
                name.to_owned(),
            ));
            cases.push((
                format!("{}?no_such_parameter=1", concrete(&full)),
                "no_such_parameter".to_owned(),
            ));
        }
        for (url_path, field) in cases {
            let what = format!("{} {url_path}", spec.method);
            let res = send(&s, spec.method, &url_path).await;
            assert_eq!(res.status(), 400, "{what}");
            let v = body(res).await;
            assert_eq!(v["error"]["field"], field.as_str(), "{what}: {v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(&field)),
                "{what}: the message names it: {v}"
            );
            checked += 1;
        }
    }
    assert!(with_query >= 3, "{with_query} routes take query parameters");
    assert!(checked >= 10, "only {checked} cases");
    s.stop().await;
}

// ---- item 6: the OpenAPI document ------------------------------------------------

#[actix_web::test]
async fn the_openapi_document_lists_the_event_stream_metrics_and_the_compat_routes() {
    let s = TestServer::start(|_| {}).await;
    let (st, doc) = s.get("/openapi.json").await;
    assert_eq!(st, 200);
    for (path, method) in [
        ("/api/v1/events", "get"),
        ("/api/v1/events/ticket", "post"),
        ("/api/claim-task", "post"),
        ("/api/all-tasks", "get"),
        ("/metrics", "get"),
        ("/mcp", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is missing"
        );
    }
    s.stop().await;
}

/// The document has exactly the table's routes, each with a description on
/// every response, its path parameters declared, its role and a unique
/// `operationId`.
#[test]
fn every_route_is_in_the_openapi_document_with_a_description_on_every_response() {
    let doc = baton::api::openapi::with_roles();
    let mut table: BTreeSet<(String, String)> = BTreeSet::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for (prefix, spec) in routes::all() {
        let full = format!("{prefix}{}", spec.path);
        let method = spec.method.to_ascii_lowercase();
        let what = format!("{} {full}", spec.method);
        let op = &doc["paths"][&full][&method];
        assert!(op.is_object(), "{what} is not in the document");
        let responses = op["responses"].as_object().expect("responses");
        assert!(!responses.is_empty(), "{what}: no responses");
        for (status, r) in responses {
            assert!(
                r["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty()),
                "{what}: response {status} has no description"
            );
        }
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        let in_path: BTreeSet<&str> = full
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(declared, in_path, "{what}: path parameters");
        let role = spec.access.role().map_or("public", |r| r.as_str());
        assert_eq!(op["x-baton-role"], role, "{what}");
        let id = op["operationId"].as_str().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "{what}: an operationId");
        assert!(
            ids.insert(id.clone()),
            "{what}: operationId {id} is not unique"
        );
        table.insert((full, method));
    }
    let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.insert((path.clone(), method.clone()));
        }
    }
    assert_eq!(
        documented, table,
        "the document has exactly the route table's operations"
    );
    assert!(table.len() >= 57, "{} routes", table.len());
}
