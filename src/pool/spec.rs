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
    /// Streamable HTTP.
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
    /// Child process.
    Stdio,
    /// Streamable HTTP.
    Http,
}

impl Transport {
    /// Its kind.
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
    /// Name (`[A-Za-z0-9_-]{1,32}`).
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

impl ServerSet {
    /// No servers.
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
            let parsed = entry
                .clone()
                .and_then(|e| parse_entry(name, e, settings, &lookup));
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
) -> Result<ServerSpec, SpecError> {
    valid_server_name(name).map_err(SpecError::InvalidName)?;
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
}
