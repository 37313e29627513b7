//! Request fuzzing (issue 12, must-show 6) on the stable toolchain: proptest
//! strategies generate requests — raw bytes, truncated JSON, structured
//! mutations of valid bodies, arbitrary JSON with the API's field names,
//! random query strings, path parameters and headers — for **every route in
//! the route table** (`baton::api::routes::all()`, so a new route is fuzzed
//! without touching this file) and for MCP JSON-RPC over `/mcp` (every tool
//! of `tools/list` with mutated arguments, other methods, batches, garbage).
//! They are sent to a real server on 127.0.0.1:0 over a real sled dir.
//!
//! Asserted: no response is ≥ 500 and no request hangs; afterwards the
//! server still answers `/healthz` and `/readyz`. `FUZZ_REQUESTS` (default
//! 20,000; `make fuzz` sends 1,000,000 in release) bounds the count,
//! `FUZZ_SECS` (default 600) the time; `FUZZ_SEED` replays a run.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baton::api::routes::{self, RouteSpec};
use common::TestServer;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{json, Map, Value};

/// Field names of baton's bodies, REST and compat, and MCP arguments.
const FIELDS: &[&str] = &[
    "id",
    "title",
    "description",
    "dependencies",
    "tasks",
    "worker",
    "lease_id",
    "output",
    "error",
    "retry",
    "tags",
    "tag",
    "priority",
    "payload",
    "max_attempts",
    "timeout_secs",
    "slot",
    "reason",
    "value",
    "name",
    "role",
    "executor",
    "server",
    "tool",
    "arguments",
    "taskId",
    "workerId",
    "status",
    "limit",
    "cursor",
    "after",
    "key",
    "ttl_secs",
    "text",
    "since",
    "until",
    "handle",
    "uri",
    "protocolVersion",
    "capabilities",
    "clientInfo",
];

const QUERY_KEYS: &[&str] = &[
    "status", "tag", "worker", "cursor", "limit", "after", "since", "until", "ticket", "x",
];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just("a".to_owned()),
        Just("seed-ready".to_owned()),
        Just("seed-done".to_owned()),
        Just("w".to_owned()),
        Just("done".to_owned()),
        Just("failed".to_owned()),
        Just("2026-01-01T00:00:00Z".to_owned()),
        Just("-1".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("../../etc/passwd".to_owned()),
        Just("%00%ff".to_owned()),
        Just("\u{0}\u{202e}\u{fffd}".to_owned()),
        "[a-z0-9_-]{1,12}",
        ".{0,40}",
        Just("x".repeat(5000)),
    ]
    .boxed()
}

fn arb_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(1)),
        Just(json!(0)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((field(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

fn field() -> BoxedStrategy<String> {
    prop_oneof![
        4 => proptest::sample::select(FIELDS).prop_map(str::to_owned),
        1 => "[a-zA-Z_]{1,10}",
    ]
    .boxed()
}

/// A valid-looking body for a route, to mutate.
fn template(spec: &RouteSpec) -> Value {
    match spec.path {
        "/tasks" => json!({"tasks": [{"id": "f1", "title": "t", "dependencies": ["seed-ready"],
                          "tags": ["x"], "priority": 1, "payload": {"k": 1}, "max_attempts": 2}]}),
        "/tasks/claim-next" => json!({"worker": "w", "tags": ["x"]}),
        p if p.ends_with("/claim") => json!({"worker": "w", "slot": 0}),
        p if p.ends_with("/fail") => json!({"lease_id": 1, "error": "e", "retry": true}),
        p if p.ends_with("/cancel") => json!({"reason": "r"}),
        p if p.contains("/context/") => json!({"lease_id": 1, "value": {"a": 1}}),
        p if p.contains("{id}") => json!({"lease_id": 1, "output": "o"}),
        "/slots/claim" | "/slots/{slot}/release" => json!({"worker": "w"}),
        "/tokens" => json!({"name": "n", "role": "viewer"}),
        "/claim-task" | "/update-task" => {
            json!({"taskId": "seed-ready", "workerId": "w", "status": "done"})
        }
        "/add-task" => json!({"title": "t", "description": "d", "dependencies": []}),
        "/claim-worker-slot" | "/release-worker-slot" => json!({"workerId": "w"}),
        "/reset-failed-task" => json!({"taskId": "seed-done"}),
        _ => json!({}),
    }
}

/// Mutate a JSON value: replace, drop or add a field somewhere, or swap
/// the whole value.
fn mutate(base: Value) -> BoxedStrategy<Value> {
    (0usize..5, field(), arb_json(), any::<prop::sample::Index>())
        .prop_map(move |(op, name, v, at)| {
            let mut out = base.clone();
            let target = pick_object(&mut out, at);
            match (op, target) {
                (0, Some(o)) => {
                    o.insert(name, v);
                }
                (1, Some(o)) => {
                    let keys: Vec<String> = o.keys().cloned().collect();
                    if !keys.is_empty() {
                        o.remove(&keys[at.index(keys.len())]);
                    }
                }
                (2, Some(o)) => {
                    let keys: Vec<String> = o.keys().cloned().collect();
                    if !keys.is_empty() {
                        o.insert(keys[at.index(keys.len())].clone(), v);
                    }
                }
                (3, _) => out = v,
                _ => {}
            }
            out
        })
        .boxed()
}

/// Some object inside `v` (depth first), if any.
fn pick_object(v: &mut Value, at: prop::sample::Index) -> Option<&mut Map<String, Value>> {
    fn count(v: &Value) -> usize {
        match v {
            Value::Object(o) => 1 + o.values().map(count).sum::<usize>(),
            Value::Array(a) => a.iter().map(count).sum(),
            _ => 0,
        }
    }
    fn nth<'a>(v: &'a mut Value, n: &mut usize) -> Option<&'a mut Map<String, Value>> {
        match v {
            Value::Object(o) => {
                if *n == 0 {
                    return Some(o);
                }
                *n -= 1;
                o.values_mut().find_map(|c| nth(c, n))
            }
            Value::Array(a) => a.iter_mut().find_map(|c| nth(c, n)),
            _ => None,
        }
    }
    let total = count(v);
    if total == 0 {
        return None;
    }
    let mut n = at.index(total);
    nth(v, &mut n)
}

/// A request body: raw bytes, truncated JSON, a mutated template, or
/// arbitrary JSON.
fn body(base: Value) -> BoxedStrategy<Vec<u8>> {
    let text = base.to_string();
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => (0..=text.len()).prop_map(move |n| text.as_bytes()[..n].to_vec()),
        4 => mutate(base).prop_map(|v| v.to_string().into_bytes()),
        2 => arb_json().prop_map(|v| v.to_string().into_bytes()),
        1 => Just(Vec::new()),
    ]
    .boxed()
}

fn query() -> BoxedStrategy<Option<String>> {
    let pair = (
        prop_oneof![4 => proptest::sample::select(QUERY_KEYS).prop_map(str::to_owned), 1 => ".{0,8}"],
        text(),
    )
        .prop_map(|(k, v)| format!("{k}={v}"));
    prop_oneof![
        2 => Just(None),
        3 => proptest::collection::vec(pair, 1..4).prop_map(|p| Some(p.join("&"))),
        1 => ".{0,30}".prop_map(Some),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct Rest {
    method: String,
    path: String,
    query: Option<String>,
    content_type: Option<String>,
    origin: Option<String>,
    body: Vec<u8>,
}

fn rest(spec: &'static RouteSpec, prefix: &'static str) -> BoxedStrategy<Rest> {
    let params = proptest::collection::vec(text(), 3);
    let method = prop_oneof![
        9 => Just(spec.method.to_owned()),
        1 => proptest::sample::select(&["GET", "POST", "PUT", "DELETE", "PATCH"][..]).prop_map(str::to_owned),
    ];
    let content_type = prop_oneof![
        8 => Just(Some("application/json".to_owned())),
        1 => Just(None),
        1 => proptest::sample::select(&["text/plain", "application/json; charset=latin1", "multipart/form-data", "x/y"][..])
            .prop_map(|s| Some(s.to_owned())),
    ];
    let origin = prop_oneof![
        9 => Just(None),
        1 => proptest::sample::select(&["http://evil.test", "null", "http://127.0.0.1"][..]).prop_map(|s| Some(s.to_owned())),
    ];
    (
        method,
        params,
        query(),
        content_type,
        origin,
        body(template(spec)),
    )
        .prop_map(move |(method, params, query, content_type, origin, body)| {
            let mut path = spec.path.to_owned();
            for (i, name) in ["{id}", "{key}", "{name}"].iter().enumerate() {
                path = path.replace(name, &urlencoding(&params[i]));
            }
            path = path.replace(
                "{slot}",
                if params[0].len() % 2 == 0 {
                    "0"
                } else {
                    &params[0]
                },
            );
            Rest {
                method,
                path: format!("{prefix}{path}"),
                query,
                content_type,
                origin,
                body,
            }
        })
        .boxed()
}

fn urlencoding(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An MCP message body for an established session.
fn mcp(tools: Arc<Vec<(String, Value)>>) -> BoxedStrategy<Vec<u8>> {
    let call = (any::<prop::sample::Index>(), any::<u64>()).prop_flat_map(move |(i, id)| {
        let (name, args) = tools[i.index(tools.len())].clone();
        mutate(args).prop_map(move |a| {
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                   "params": {"name": name, "arguments": a}})
        })
    });
    let other = (
        proptest::sample::select(
            &[
                "tools/list",
                "resources/list",
                "resources/read",
                "resources/templates/list",
                "prompts/list",
                "prompts/get",
                "ping",
                "completion/complete",
                "logging/setLevel",
                "resources/subscribe",
                "tasks/get",
                "tasks/list",
                "nope",
            ][..],
        ),
        arb_json(),
        any::<i64>(),
    )
        .prop_map(
            |(m, params, id)| json!({"jsonrpc": "2.0", "id": id, "method": m, "params": params}),
        );
    prop_oneof![
        5 => call.prop_map(|v| v.to_string().into_bytes()),
        2 => other.clone().prop_map(|v| v.to_string().into_bytes()),
        1 => proptest::collection::vec(other, 0..4).prop_map(|v| Value::Array(v).to_string().into_bytes()),
        1 => arb_json().prop_map(|v| v.to_string().into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..120),
    ]
    .boxed()
}

struct Failure(String);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Open an MCP session; returns its id and every tool with a valid-looking
/// argument object built from its input schema.
async fn mcp_session(http: &reqwest::Client, url: &str) -> (String, Vec<(String, Value)>) {
    let res = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "fuzz", "version": "1"}}}))
        .send()
        .await
        .expect("initialize");
    assert_eq!(res.status(), 200);
    let sid = res.headers()["mcp-session-id"]
        .to_str()
        .expect("session id")
        .to_owned();
    let _ = res.text().await;
    let post = |body: Value| {
        http.post(url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&body)
            .send()
    };
    let _ = post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    let text = post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await
        .expect("tools/list")
        .text()
        .await
        .expect("tools");
    let list: Value = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .chain(std::iter::once(text.as_str()))
        .find_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .expect("tools/list JSON");
    let tools = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| {
            let name = t["name"].as_str()?.to_owned();
            // waits block for their timeout by design; the rest answer at once
            if name.contains("wait") {
                return None;
            }
            let mut args = Map::new();
            if let Some(props) = t["inputSchema"]["properties"].as_object() {
                for (k, schema) in props {
                    let v = match schema["type"].as_str() {
                        Some("integer") | Some("number") => json!(1),
                        Some("boolean") => json!(true),
                        Some("array") => json!([]),
                        Some("object") => json!({}),
                        _ => json!("seed-ready"),
                    };
                    args.insert(k.clone(), v);
                }
            }
            Some((name, Value::Object(args)))
        })
        .collect();
    (sid, tools)
}

#[actix_web::test]
async fn generated_requests_to_every_route_never_get_a_5xx_or_hang() {
    let total = env_usize("FUZZ_REQUESTS", 20_000);
    let budget = Duration::from_secs(env_usize("FUZZ_SECS", 600) as u64);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("fuzz: {total} requests, FUZZ_SEED={seed}");
    let s = TestServer::start(|st| {
        st.auth.rate_limit_per_sec = 0;
        st.tasks.max_batch = 50;
    })
    .await;
    let (st, v) = s
        .post(
            "/tasks",
            json!({"tasks": [{"id": "seed-ready", "title": "r"}, {"id": "seed-done", "title": "d"}]}),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    let origin = format!("http://{}", s.addr);
    let mcp_url = format!("{origin}/mcp");
    let (sid, tools) = mcp_session(&s.http, &mcp_url).await;
    assert!(tools.len() > 10, "tools: {}", tools.len());
    let tools = Arc::new(tools);
    let routes: Vec<(&'static str, &'static RouteSpec)> = routes::all()
        .filter(|(_, r)| !r.path.starts_with("/mcp"))
        .collect();

    let sent = Arc::new(AtomicUsize::new(0));
    // answers by status class (1xx..5xx), to show how deep the inputs get
    let classes: Arc<[AtomicUsize; 6]> = Arc::new(Default::default());
    let failures = Arc::new(Mutex::new(Vec::<Failure>::new()));
    let started = Instant::now();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    let workers = 8;
    let mut handles = Vec::new();
    for w in 0..workers {
        let (http, origin, mcp_url, sid) =
            (http.clone(), origin.clone(), mcp_url.clone(), sid.clone());
        let (tools, routes, sent, failures, classes) = (
            tools.clone(),
            routes.clone(),
            sent.clone(),
            failures.clone(),
            classes.clone(),
        );
        handles.push(actix_rt::spawn(async move {
            let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &{
                let mut k = [0u8; 32];
                k[..8].copy_from_slice(&seed.to_le_bytes());
                k[8] = w as u8;
                k
            });
            let mut runner = TestRunner::new_with_rng(Config::default(), rng);
            let route_strats: Vec<BoxedStrategy<Rest>> =
                routes.iter().map(|(p, r)| rest(r, p)).collect();
            let mcp_strat = mcp(tools);
            loop {
                let n = sent.fetch_add(1, Ordering::Relaxed);
                if n >= total || started.elapsed() > budget {
                    break;
                }
                let pick = n % (route_strats.len() + route_strats.len() / 3 + 1);
                let (what, res) = if pick < route_strats.len() {
                    let r = route_strats[pick]
                        .new_tree(&mut runner)
                        .expect("generate")
                        .current();
                    let mut url = reqwest::Url::parse(&format!("{origin}{}", r.path))
                        .unwrap_or_else(|_| reqwest::Url::parse(&origin).expect("origin"));
                    url.set_query(r.query.as_deref());
                    let method = reqwest::Method::from_bytes(r.method.as_bytes())
                        .unwrap_or(reqwest::Method::GET);
                    let mut req = http.request(method, url).body(r.body.clone());
                    if let Some(ct) = &r.content_type {
                        req = req.header("content-type", ct);
                    }
                    if let Some(o) = &r.origin {
                        req = req.header("origin", o);
                    }
                    let shown = format!(
                        "{} {}?{} ct={:?} origin={:?} body={}",
                        r.method,
                        r.path,
                        r.query.unwrap_or_default(),
                        r.content_type,
                        r.origin,
                        String::from_utf8_lossy(&r.body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    );
                    (shown, req.send().await)
                } else {
                    let b = mcp_strat.new_tree(&mut runner).expect("generate").current();
                    let shown = format!(
                        "POST /mcp {}",
                        String::from_utf8_lossy(&b)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    );
                    let req = http
                        .post(&mcp_url)
                        .header("accept", "application/json, text/event-stream")
                        .header("content-type", "application/json")
                        .header("mcp-session-id", &sid)
                        .header("mcp-protocol-version", "2025-06-18")
                        .body(b);
                    (shown, req.send().await)
                };
                let failure = match res {
                    Err(e) => Some(format!("no answer ({e}): {what}")),
                    Ok(res) => {
                        let status = res.status().as_u16();
                        classes[usize::from(status / 100).min(5)].fetch_add(1, Ordering::Relaxed);
                        let stream = res
                            .headers()
                            .get("content-type")
                            .is_some_and(|c| c.as_bytes().starts_with(b"text/event-stream"));
                        if status >= 500 {
                            let text = res.text().await.unwrap_or_default();
                            Some(format!("{status} for {what}\n  -> {text}"))
                        } else if stream && what.contains("/events") {
                            None // the event stream never ends: the status is the answer
                        } else {
                            match tokio::time::timeout(Duration::from_secs(30), res.bytes()).await {
                                Err(_) => Some(format!("body hung: {what}")),
                                Ok(_) => None,
                            }
                        }
                    }
                };
                if let Some(f) = failure {
                    failures.lock().expect("failures").push(Failure(f));
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("fuzz worker");
    }
    let done = sent.load(Ordering::Relaxed).min(total);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz: {done} requests in {secs:.1} s ({:.0}/s)",
        done as f64 / secs
    );
    let by_class: Vec<String> = (2..6)
        .map(|c| format!("{c}xx: {}", classes[c].load(Ordering::Relaxed)))
        .collect();
    println!("fuzz: answers {}", by_class.join(", "));
    // the generator must reach past the parsers, not only be refused by them
    assert!(
        classes[2].load(Ordering::Relaxed) * 20 >= done,
        "under 5% of the requests succeeded: the inputs are too shallow"
    );
    let failures: Vec<String> = failures
        .lock()
        .expect("failures")
        .iter()
        .map(|f| f.0.clone())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {done} requests failed (FUZZ_SEED={seed}); first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    for probe in ["/healthz", "/readyz"] {
        let st = s
            .http
            .get(format!("{origin}{probe}"))
            .send()
            .await
            .expect("probe")
            .status();
        assert_eq!(st, 200, "{probe} after fuzzing");
    }
    s.stop().await;
}
