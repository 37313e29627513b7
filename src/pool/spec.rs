//! The server file: the `.mcp.json` format MCP clients already use.
//!
//! ```json
//! { "mcpServers": {
//!     "fs":     { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "${HOME}"],
//!                 "env": { "LOG": "${LOG_LEVEL:-info}" } },
//!     "remote": { "type": "http", "url": "https://mcp.example.com/mcp",
//!                 "headers": { "Authorization": "Bearer ${TOKEN}" } } } }
//! ```
//!
//! - `servers` is accepted as an alias of `mcpServers` (VS Code's spelling).
//! - stdio entries: `command`, `args`, `env`, optional `cwd`; `type` absent or `"stdio"`.
//! - streamable HTTP entries: `type` `"http"` or `"streamable-http"`, `url`, `headers`
//!   (`url` without `type` is taken as HTTP too).
//! - `"disabled": true` (Cline's key) disables an entry, like `enabled = false`.
//! - `${VAR}` and `${VAR:-default}` are expanded in `command`, `args`, `env`
//!   values, `url` and header values ([`crate::core::expand`]).
//! - Other keys are ignored with a warning naming them.
//!
//! Each entry is checked on its own: a bad entry becomes a [`ServerIssue`]
//! naming it, and the others run.
//!
//! Server names are `[A-Za-z0-9_-]{1,32}` without `__` inside and without a
//! `_` at either end ([`unambiguous_server_name`]): a server's tools are
//! offered as `<server>__<tool>`, and such a name would let two (server,
//! tool) pairs spell the same gateway name (`x__y` + `echo` and `x` +
//! `y__echo` are both `x__y__echo`; `x_` + `y` and `x` + `_y` are both
//! `x___y`). The refusal names a rename.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::error::{PoolConfigError, ServerIssue, SpecError};
use crate::config::pool::{PoolSettings, ServerOptions};
use crate::core::expand::expand;

/// Longest server name: leaves room for the tool part of `<server>__<tool>` (64 characters).
pub const MAX_SERVER_NAME_LEN: usize = 32;

/// Headers the streamable HTTP transport sets itself.
const RESERVED_HEADERS: &[&str] = &["accept", "content-type", "mcp-session-id", "last-event-id"];

/// How to reach a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A child process speaking MCP on stdin/stdout.
    Stdio {
        /// Program (looked up in `PATH` when not a path).
        command: String,
        /// Arguments.
        args: Vec<String>,
        /// Extra environment (the child inherits baton's environment too).
        env: BTreeMap<String, String>,
        /// Working directory (baton's when absent).
        cwd: Option<PathBuf>,
    },
    /// Streamable HTTP at `url` (`type: "http"` in the server file).
    Http {
        /// Endpoint URL.
        url: String,
        /// Headers sent with every request.
        headers: BTreeMap<String, String>,
    },
}

/// Transport kind, for status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// A child process spoken to over stdin/stdout.
    Stdio,
    /// Streamable HTTP at a URL.
    Http,
}

impl Transport {
    /// Which kind of transport this is (`stdio` or `http`), for the status views.
    pub fn kind(&self) -> TransportKind {
        match self {
            Transport::Stdio { .. } => TransportKind::Stdio,
            Transport::Http { .. } => TransportKind::Http,
        }
    }
}

/// One valid server entry with its resolved options.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    /// Name (`[A-Za-z0-9_-]{1,32}`, no `__` inside, no `_` at either end).
    pub name: String,
    /// How to reach it.
    pub transport: Transport,
    /// `[pool]` defaults with `[pool.servers.<name>]` applied (and `"disabled"` from the file).
    pub options: ServerOptions,
}

/// The outcome of reading a server file: what can run, and what cannot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerSet {
    /// Valid entries, in name order.
    pub servers: Vec<ServerSpec>,
    /// Invalid entries, by name; log them and run the rest.
    pub issues: Vec<ServerIssue>,
}

/// Whether `name` is a valid server name.
pub fn valid_server_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty".into());
    }
    if name.len() > MAX_SERVER_NAME_LEN {
        return Err(format!("longer than {MAX_SERVER_NAME_LEN} characters"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        Some(c) => Err(format!(
            "{c:?} is not allowed (use letters, digits, _ and -)"
        )),
        None => Ok(()),
    }
}

/// Whether `name` (already a valid server name) can make two gateway names
/// equal: `__` inside, or a `_` at either end. `taken` says which names the
/// server file already uses, so the rename suggested is free.
///
/// Errors: [`SpecError::AmbiguousName`] with why and a rename.
pub fn unambiguous_server_name(name: &str, taken: impl Fn(&str) -> bool) -> Result<(), SpecError> {
    let why = if let Some(i) = name.find("__").filter(|i| *i > 0) {
        let (server, rest) = (&name[..i], &name[i + 2..]);
        format!(
            "'__' inside a server name makes two gateway names equal: server '{name}' with tool \
             'echo' and server '{server}' with tool '{rest}__echo' are both '{name}__echo'"
        )
    } else if name.contains("__") {
        "'__' inside a server name makes two gateway names equal (it separates a server from its tools)".to_owned()
    } else if let Some(server) = name.strip_suffix('_') {
        format!(
            "a '_' at the end of a server name makes two gateway names equal: server '{name}' \
             with tool 'echo' and server '{server}' with tool '_echo' are both '{name}__echo'"
        )
    } else if name.starts_with('_') {
        "a '_' at either end of a server name runs into the '__' between a server and its tools; \
         server names must not start or end with '_'"
            .to_owned()
    } else {
        return Ok(());
    };
    Err(SpecError::AmbiguousName {
        why,
        rename: rename_suggestion(name, taken),
    })
}

/// `name` without the `_`s at its ends and with every run of `_`s longer
/// than one replaced by `-` (`server` when nothing is left), made free with
/// `-2`, `-3`, ... when `taken` says the file uses it already.
fn rename_suggestion(name: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run = 0usize;
    for c in name.trim_matches('_').chars().chain(std::iter::once('\0')) {
        if c == '_' {
            run += 1;
            continue;
        }
        match run {
            0 => {}
            1 => out.push('_'),
            _ => out.push('-'),
        }
        run = 0;
        if c != '\0' {
            out.push(c);
        }
    }
    let base = if out.is_empty() { "server" } else { &out };
    let mut candidate = base.to_owned();
    let mut n = 2u32;
    while taken(&candidate) {
        let suffix = format!("-{n}");
        let keep = base.len().min(MAX_SERVER_NAME_LEN - suffix.len());
        candidate = format!("{}{suffix}", base[..keep].trim_end_matches('_'));
        n += 1;
    }
    candidate
}

impl ServerSet {
    /// Every server name the server file holds: the valid entries (disabled
    /// ones too) and the invalid ones, but not a `[pool.servers.<name>]`
    /// without an entry. A server's gateway names are kept while its name is
    /// here (see [`crate::core::names`]).
    pub fn configured_names(&self) -> std::collections::BTreeSet<String> {
        self.servers
            .iter()
            .map(|s| s.name.clone())
            .chain(
                self.issues
                    .iter()
                    .filter(|i| !matches!(i.error, SpecError::UnknownOverride(_)))
                    .map(|i| i.name.clone()),
            )
            .collect()
    }

    /// A server file with no servers (the pool starts none).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Read the server file: `file` if given, else `settings.mcp_servers`; no
    /// file at all is an empty set. Variables come from the process environment.
    pub fn load(settings: &PoolSettings, file: Option<&Path>) -> Result<Self, PoolConfigError> {
        let path = match file {
            Some(f) => f.to_path_buf(),
            None if settings.mcp_servers.as_os_str().is_empty() => {
                return Self::from_value(Path::new("<none>"), None, settings, env_var)
            }
            None => settings.mcp_servers.clone(),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| PoolConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Self::from_json(&path, &text, settings, env_var)
    }

    /// Parse server file text; `lookup` reads variables for `${VAR}`.
    pub fn from_json(
        path: &Path,
        text: &str,
        settings: &PoolSettings,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, PoolConfigError> {
        let value: Value = serde_json::from_str(text).map_err(|source| PoolConfigError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_value(path, Some(&value), settings, lookup)
    }

    fn from_value(
        path: &Path,
        value: Option<&Value>,
        settings: &PoolSettings,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, PoolConfigError> {
        settings
            .validate()
            .map_err(|(key, message)| PoolConfigError::Invalid { key, message })?;
        let mut entries: BTreeMap<String, Result<&Value, SpecError>> = BTreeMap::new();
        if let Some(value) = value {
            let sections: Vec<&Map<String, Value>> = ["mcpServers", "servers"]
                .iter()
                .filter_map(|k| value.get(k).and_then(Value::as_object))
                .collect();
            if sections.is_empty() {
                return Err(PoolConfigError::NoServers {
                    path: path.to_path_buf(),
                });
            }
            for section in sections {
                for (name, entry) in section {
                    if entries.contains_key(name) {
                        entries.insert(name.clone(), Err(SpecError::Duplicate));
                    } else {
                        entries.insert(name.clone(), Ok(entry));
                    }
                }
            }
        }
        let mut set = ServerSet::default();
        for (name, entry) in &entries {
            let taken = |n: &str| entries.contains_key(n);
            let parsed = entry
                .clone()
                .and_then(|e| parse_entry(name, e, settings, &lookup, taken));
            match parsed {
                Ok(spec) => set.servers.push(spec),
                Err(error) => set.issues.push(ServerIssue {
                    name: name.clone(),
                    error,
                }),
            }
        }
        for name in settings.servers.keys() {
            if !entries.contains_key(name) {
                set.issues.push(ServerIssue {
                    name: name.clone(),
                    error: SpecError::UnknownOverride(name.clone()),
                });
            }
        }
        Ok(set)
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn parse_entry(
    name: &str,
    entry: &Value,
    settings: &PoolSettings,
    lookup: &impl Fn(&str) -> Option<String>,
    taken: impl Fn(&str) -> bool,
) -> Result<ServerSpec, SpecError> {
    valid_server_name(name).map_err(SpecError::InvalidName)?;
    unambiguous_server_name(name, taken)?;
    let obj = entry.as_object().ok_or(SpecError::NotAnObject)?;
    const KNOWN: &[&str] = &[
        "type", "command", "args", "env", "cwd", "url", "headers", "disabled",
    ];
    for key in obj.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        tracing::warn!(server = %name, key = %key, "ignoring unknown key in MCP server entry");
    }
    let ex = |field: &str, s: &str| {
        expand(s, lookup).map_err(|source| SpecError::Expand {
            field: field.to_owned(),
            source,
        })
    };
    let kind = opt_str(obj, "type")?;
    let transport = match (kind, obj.contains_key("command"), obj.contains_key("url")) {
        (Some("stdio"), _, _) | (None, true, _) => {
            let command = opt_str(obj, "command")?.ok_or(SpecError::NoTransport)?;
            let command = ex("command", command)?;
            if command.is_empty() {
                return Err(SpecError::NoTransport);
            }
            let args = str_list(obj, "args")?
                .iter()
                .enumerate()
                .map(|(i, a)| ex(&format!("args[{i}]"), a))
                .collect::<Result<Vec<_>, _>>()?;
            let env = str_map(obj, "env")?
                .into_iter()
                .map(|(k, v)| ex(&format!("env.{k}"), v).map(|v| (k.to_owned(), v)))
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            let cwd = opt_str(obj, "cwd")?
                .map(|c| ex("cwd", c).map(PathBuf::from))
                .transpose()?;
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            }
        }
        (Some("http" | "streamable-http"), _, _) | (None, false, true) => {
            let url = opt_str(obj, "url")?.ok_or(SpecError::NoTransport)?;
            let url = ex("url", url)?;
            check_url(&url)?;
            let headers = str_map(obj, "headers")?
                .into_iter()
                .map(|(k, v)| {
                    let v = ex(&format!("headers.{k}"), v)?;
                    check_header(k, &v)?;
                    Ok((k.to_owned(), v))
                })
                .collect::<Result<BTreeMap<_, _>, SpecError>>()?;
            Transport::Http { url, headers }
        }
        (Some(other), _, _) => return Err(SpecError::UnsupportedType(other.to_owned())),
        (None, false, false) => return Err(SpecError::NoTransport),
    };
    let mut options = settings.options_for(name);
    if let Some(disabled) = obj.get("disabled") {
        let disabled = disabled.as_bool().ok_or(SpecError::WrongType {
            field: "disabled".into(),
            expected: "true or false",
        })?;
        options.enabled = options.enabled && !disabled;
    }
    options
        .validate()
        .map_err(|(key, message)| SpecError::InvalidOption {
            server: name.to_owned(),
            key,
            message,
        })?;
    Ok(ServerSpec {
        name: name.to_owned(),
        transport,
        options,
    })
}

fn opt_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, SpecError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SpecError::WrongType {
            field: field.to_owned(),
            expected: "a string",
        }),
    }
}

fn str_list<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Vec<&'a str>, SpecError> {
    let wrong = || SpecError::WrongType {
        field: field.to_owned(),
        expected: "an array of strings",
    };
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|v| v.as_str().ok_or_else(wrong)).collect(),
        Some(_) => Err(wrong()),
    }
}

fn str_map<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
) -> Result<Vec<(&'a str, &'a str)>, SpecError> {
    let wrong = || SpecError::WrongType {
        field: field.to_owned(),
        expected: "an object of strings",
    };
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)).ok_or_else(wrong))
            .collect(),
        Some(_) => Err(wrong()),
    }
}

fn check_url(url: &str) -> Result<(), SpecError> {
    let invalid = |reason: String| SpecError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    match parsed.scheme() {
        "http" | "https" if parsed.host().is_some() => Ok(()),
        "http" | "https" => Err(invalid("no host".into())),
        other => Err(invalid(format!("scheme {other:?} is not http or https"))),
    }
}

fn check_header(name: &str, value: &str) -> Result<(), SpecError> {
    let invalid = |reason: &str| SpecError::InvalidHeader {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| invalid("not a valid header name"))?;
    if RESERVED_HEADERS.contains(&parsed.as_str()) {
        return Err(invalid("set by the transport itself"));
    }
    reqwest::header::HeaderValue::from_str(value)
        .map_err(|_| invalid("not a valid header value"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::pool::ServerOverrides;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "HOME" => Some("/home/a".into()),
            _ => None,
        }
    }

    fn parse(json: &str, settings: &PoolSettings) -> ServerSet {
        ServerSet::from_json(Path::new("test.json"), json, settings, env).unwrap()
    }

    #[test]
    fn stdio_and_http_entries_with_expansion() {
        let set = parse(
            r#"{"mcpServers": {
                "fs": {"command": "npx", "args": ["-y", "${HOME}/x", "${NOPE:-d}"], "env": {"A": "${TOKEN}"}},
                "remote": {"type": "streamable-http", "url": "https://h.example/mcp",
                           "headers": {"Authorization": "Bearer ${TOKEN}"}},
                "plain": {"url": "http://127.0.0.1:1/mcp"}
            }}"#,
            &PoolSettings::default(),
        );
        assert!(set.issues.is_empty(), "{:?}", set.issues);
        let names: Vec<_> = set.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["fs", "plain", "remote"]);
        match &set.servers[0].transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                assert_eq!(command, "npx");
                assert_eq!(args, &["-y", "/home/a/x", "d"]);
                assert_eq!(env.get("A").map(String::as_str), Some("s3cret"));
                assert!(cwd.is_none());
            }
            t => panic!("{t:?}"),
        }
        match &set.servers[2].transport {
            Transport::Http { url, headers } => {
                assert_eq!(url, "https://h.example/mcp");
                assert_eq!(headers["Authorization"], "Bearer s3cret");
            }
            t => panic!("{t:?}"),
        }
        assert_eq!(set.servers[1].transport.kind(), TransportKind::Http);
    }

    #[test]
    fn invalid_entries_are_named_and_the_rest_kept() {
        let mut settings = PoolSettings::default();
        settings.servers.insert(
            "slow".into(),
            ServerOverrides {
                failure_threshold: Some(0),
                ..Default::default()
            },
        );
        settings
            .servers
            .insert("ghost".into(), ServerOverrides::default());
        let set = parse(
            r#"{"mcpServers": {
                "ok": {"command": "true"},
                "bad name": {"command": "true"},
                "unset": {"command": "x", "env": {"K": "${NOPE}"}},
                "sse": {"type": "sse", "url": "http://h/sse"},
                "nothing": {},
                "args": {"command": "x", "args": "not-a-list"},
                "slow": {"command": "x"},
                "hdr": {"type": "http", "url": "http://h/mcp", "headers": {"Accept": "x"}},
                "ftp": {"type": "http", "url": "ftp://h/mcp"},
                "off": {"command": "x", "disabled": true}
              },
              "servers": {"ok": {"command": "true"}, "vs": {"command": "true"}}}"#,
            &settings,
        );
        let ok: Vec<_> = set.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(ok, ["off", "vs"]);
        assert!(!set.servers[0].options.enabled);
        let issue = |n: &str| {
            set.issues
                .iter()
                .find(|i| i.name == n)
                .unwrap_or_else(|| panic!("no issue for {n}: {:?}", set.issues))
                .to_string()
        };
        assert!(issue("bad name").contains("invalid server name"));
        assert!(issue("unset").contains("NOPE"));
        assert!(issue("sse").contains("unsupported type"));
        assert!(issue("nothing").contains("needs"));
        assert!(issue("args").contains("array of strings"));
        assert!(issue("slow").contains("pool.servers.slow.failure_threshold"));
        assert!(issue("hdr").contains("Accept"));
        assert!(issue("ftp").contains("scheme"));
        assert!(issue("ok").contains("twice"));
        assert!(issue("ghost").contains("not in the server file"));
        assert!(issue("ok").starts_with("MCP server 'ok': "));
    }

    #[test]
    fn whole_file_errors() {
        let s = PoolSettings::default();
        assert!(matches!(
            ServerSet::from_json(Path::new("f"), "{", &s, env),
            Err(PoolConfigError::Json { .. })
        ));
        assert!(matches!(
            ServerSet::from_json(Path::new("f"), r#"{"other": {}}"#, &s, env),
            Err(PoolConfigError::NoServers { .. })
        ));
        let e = ServerSet::load(&s, Some(Path::new("/nonexistent/mcp.json"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/mcp.json"), "{e}");
        assert_eq!(ServerSet::load(&s, None).unwrap(), ServerSet::empty());
    }

    #[test]
    fn server_names() {
        assert!(valid_server_name("github-2_x").is_ok());
        assert!(valid_server_name("").is_err());
        assert!(valid_server_name("a.b").is_err());
        assert!(valid_server_name(&"a".repeat(33)).is_err());
    }

    /// Issue 23, item 2: a server name that can make two gateway names
    /// equal is refused at load with why and a free rename; the other
    /// entries run, and a refused entry still counts as configured (its
    /// kept names stay until it leaves the file).
    #[test]
    fn server_names_that_can_make_two_gateway_names_equal_are_refused_with_a_rename() {
        let free = |_: &str| false;
        assert!(unambiguous_server_name("github-2_x", free).is_ok());
        let refused = |name: &str| match unambiguous_server_name(name, free) {
            Err(SpecError::AmbiguousName { why, rename }) => (why, rename),
            other => panic!("{name}: {other:?}"),
        };
        let (why, rename) = refused("x__y");
        assert_eq!(rename, "x-y");
        assert!(
            why.contains("'x' with tool 'y__echo'") && why.contains("'x__y__echo'"),
            "{why}"
        );
        let (why, rename) = refused("x_");
        assert_eq!(rename, "x");
        assert!(why.contains("'x___echo'"), "{why}");
        assert_eq!(refused("_y").1, "y");
        assert_eq!(refused("__").1, "server");
        assert_eq!(refused("a___b__c_").1, "a-b-c");
        assert_eq!(
            unambiguous_server_name("x__y", |n| n == "x-y" || n == "x-y-2"),
            Err(SpecError::AmbiguousName {
                why: refused("x__y").0,
                rename: "x-y-3".into()
            })
        );
        let long = format!("{}_", "a".repeat(31));
        let (_, rename) = match unambiguous_server_name(&long, |n| n == "a".repeat(31)) {
            Err(SpecError::AmbiguousName { why, rename }) => (why, rename),
            other => panic!("{other:?}"),
        };
        assert_eq!(rename, format!("{}-2", "a".repeat(30)));

        let text = r#"{"mcpServers": {"x": {"command": "a"}, "x__y": {"command": "b"}, "x-y": {"command": "c"}}}"#;
        let set =
            ServerSet::from_json(Path::new("f"), text, &PoolSettings::default(), env).unwrap();
        let names: Vec<&str> = set.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["x", "x-y"]);
        let issue = set.issues[0].to_string();
        assert!(issue.starts_with("MCP server 'x__y': "), "{issue}");
        assert!(issue.contains("rename the server to 'x-y-2'"), "{issue}");
        assert_eq!(
            set.configured_names().into_iter().collect::<Vec<_>>(),
            ["x", "x-y", "x__y"]
        );
    }
}
