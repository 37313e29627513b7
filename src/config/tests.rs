//! Unit tests of loading, layering and validating settings.

use super::*;

#[test]
fn unknown_keys_are_named() {
    let e = Settings::from_toml("[slots]\ncount = 3\ncoutn = 4\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("coutn"), "{e}");
    let e = Settings::from_toml("[nope]\nx = 1\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope"), "{e}");
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail closure type
fn env_overrides_and_foreign_baton_vars() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("BATON_SLOTS__COUNT", "64");
        jail.set_env("BATON_BIN", "/usr/bin/baton");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        assert_eq!(s.slots.count, 64);
        jail.set_env("BATON_SLOTS__COUTN", "1");
        let e = Settings::load(None).unwrap_err().to_string();
        assert!(e.contains("coutn"), "{e}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail closure type
fn every_auth_and_edge_key_works_as_an_environment_variable() {
    figment::Jail::expect_with(|jail| {
        jail.set_env("BATON_AUTH__REQUIRED", "true");
        jail.set_env("BATON_AUTH__RATE_LIMIT_PER_SEC", "5");
        jail.set_env("BATON_AUTH__RATE_LIMIT_BURST", "7");
        jail.set_env("BATON_AUTH__STREAM_TICKET_TTL_SECS", "30");
        jail.set_env("BATON_AUTH__JWT__JWKS_URL", "https://idp.test/jwks");
        jail.set_env("BATON_AUTH__JWT__ISSUER", "https://idp.test");
        jail.set_env("BATON_AUTH__JWT__AUDIENCE", "baton");
        jail.set_env("BATON_AUTH__JWT__ROLE_CLAIM", "roles");
        jail.set_env("BATON_AUTH__JWT__JWKS_REFRESH_SECS", "60");
        jail.set_env("BATON_AUTH__JWT__LEEWAY_SECS", "2");
        jail.set_env(
            "BATON_SERVER__ALLOWED_HOSTS",
            "[\"baton.example.com\", \"10.0.0.5:8443\"]",
        );
        jail.set_env(
            "BATON_SERVER__ALLOWED_ORIGINS",
            "[\"https://app.example.com\"]",
        );
        jail.set_env("BATON_SERVER__TLS_CERT", "/etc/baton/cert.pem");
        jail.set_env("BATON_SERVER__TLS_KEY", "/etc/baton/key.pem");
        jail.set_env("BATON_POOL__EXECUTABLE_TOOLS", "[\"echo\"]");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        assert!(s.auth.required);
        assert_eq!((s.auth.rate_limit_per_sec, s.auth.rate_limit_burst), (5, 7));
        assert_eq!(s.auth.stream_ticket_ttl_secs, 30);
        assert_eq!(s.auth.jwt.jwks_url, "https://idp.test/jwks");
        assert_eq!(s.auth.jwt.issuer, "https://idp.test");
        assert_eq!(s.auth.jwt.audience, "baton");
        assert_eq!(s.auth.jwt.role_claim, "roles");
        assert_eq!(
            (s.auth.jwt.jwks_refresh_secs, s.auth.jwt.leeway_secs),
            (60, 2)
        );
        assert_eq!(
            s.server.allowed_hosts,
            ["baton.example.com", "10.0.0.5:8443"]
        );
        assert_eq!(s.server.allowed_origins, ["https://app.example.com"]);
        assert!(s.server.tls());
        assert_eq!(s.server.tls_key, PathBuf::from("/etc/baton/key.pem"));
        assert_eq!(s.pool.executable_tools, ["echo"]);
        Ok(())
    });
}

#[test]
fn the_old_mcp_allow_lists_are_migrated_or_refused() {
    let s = Settings::from_toml(
        "[mcp]\nallowed_hosts = [\"a.test\"]\nallowed_origins = [\"https://b.test\"]\n",
    )
    .unwrap();
    assert_eq!(s.server.allowed_hosts, ["a.test"]);
    assert_eq!(s.server.allowed_origins, ["https://b.test"]);
    assert_eq!(s.mcp.allowed_hosts, None);
    let e = Settings::from_toml(
        "[server]\nallowed_hosts = [\"x.test\"]\n[mcp]\nallowed_hosts = [\"a.test\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("mcp.allowed_hosts"), "{e}");
    let e = Settings::from_toml("[server]\nallowed_origins = [\"null\"]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("allowed_origins"), "{e}");
    let e = Settings::from_toml("[server]\ntls_cert = \"c.pem\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("tls"), "{e}");
}

#[test]
fn ranges_are_checked() {
    let e = Settings::from_toml("[slots]\ncount = 0\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("slots.count"), "{e}");
    let e = Settings::from_toml("[slots]\nadopt_within_secs = 0\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("slots.adopt_within_secs"), "{e}");
}

#[test]
fn the_body_deadline_and_the_connection_cap_are_range_checked() {
    let e = Settings::from_toml("[server]\nbody_read_timeout_secs = 0\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.body_read_timeout_secs"), "{e}");
    let e = Settings::from_toml("[server]\nmax_connections = 20000000\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.max_connections"), "{e}");
    let s = Settings::from_toml("[server]\nbody_read_timeout_secs = 5\nmax_connections = 64\n")
        .unwrap();
    assert_eq!(
        (s.server.body_read_timeout_secs, s.server.max_connections),
        (5, 64)
    );
}

#[test]
fn shipped_default_toml_matches_builtin_defaults() {
    let shipped = include_str!("../../config/default.toml");
    assert_eq!(Settings::from_toml(shipped).unwrap(), Settings::default());
}

// ---- BATON_* variables: every key of every section ----------------------------

/// `config/default.toml`, the one list of keys the tests below are generated from.
const SHIPPED: &str = include_str!("../../config/default.toml");

/// The variable that sets the dotted `path`: `auth.jwt.issuer` →
/// `BATON_AUTH__JWT__ISSUER`.
fn var_of(path: &str) -> String {
    format!("BATON_{}", path.replace('.', "__").to_ascii_uppercase())
}

/// Every key of `config/default.toml` with its shipped default, as
/// (dotted path, value), and every table as a dotted path. The table
/// `[pool.servers]` (a map by server name) stands for one server,
/// `pool.servers.gen`, whose keys are every `[pool]` key but the file's.
fn shipped_keys() -> (Vec<(String, figment::value::Value)>, Vec<String>) {
    use figment::value::{Dict, Value};
    use figment::Provider;
    fn walk(prefix: &str, dict: &Dict, keys: &mut Vec<(String, Value)>, tables: &mut Vec<String>) {
        tables.push(prefix.to_owned());
        for (k, v) in dict {
            let path = format!("{prefix}.{k}");
            match v {
                Value::Dict(_, d) => walk(&path, d, keys, tables),
                _ => keys.push((path, v.clone())),
            }
        }
    }
    let data = Toml::string(SHIPPED).data().expect("default.toml parses");
    let root = &data[&figment::Profile::Default];
    let (mut keys, mut tables) = (Vec::new(), Vec::new());
    for (section, v) in root {
        let d = v.as_dict().expect("top-level entries are sections");
        walk(section, d, &mut keys, &mut tables);
    }
    let server: Vec<(String, Value)> = keys
        .iter()
        .filter_map(|(path, v)| {
            let key = path.strip_prefix("pool.")?;
            (!key.contains('.') && key != "mcp_servers")
                .then(|| (format!("pool.servers.gen.{key}"), v.clone()))
        })
        .collect();
    assert!(!server.is_empty(), "[pool] has per-server keys");
    keys.extend(server);
    tables.push("pool.servers.gen".into());
    (keys, tables)
}

/// A valid value of `path` other than its `default`, as the text of its
/// variable. Generated from the default's type; a string or list key whose
/// values are constrained has one here (any other string gets a free text,
/// and a constraint it breaks fails the test naming the key).
fn other_value(path: &str, default: &figment::value::Value) -> String {
    use figment::value::Value;
    let key = path.rsplit('.').next().unwrap_or(path);
    match default {
        Value::Bool(_, b) => (!b).to_string(),
        Value::Num(..) => {
            let n = default.to_i128().expect("numeric defaults are integers");
            (n + 1).to_string()
        }
        Value::Array(..) => match key {
            "allowed_hosts" => r#"["baton.test", "10.0.0.5:8443"]"#.into(),
            "allowed_origins" => r#"["https://app.test"]"#.into(),
            _ => r#"["echo", "read_file"]"#.into(),
        },
        Value::String(..) => match path {
            "server.bind" => "0.0.0.0:9000".into(),
            "server.tls_cert" => "/etc/baton/cert.pem".into(),
            "server.tls_key" => "/etc/baton/key.pem".into(),
            "server.advertise_url" => "https://10.0.0.5:8443".into(),
            "storage.backend" => "postgres".into(),
            "storage.url" => "postgres://baton:secret@db.test:5432/baton".into(),
            "log.format" => "json".into(),
            "mcp.profile" => "core".into(),
            "auth.jwt.jwks_url" => "https://idp.test/jwks".into(),
            // looks like a number, is a string: typed by its key, not its text
            "auth.jwt.audience" => "12345".into(),
            _ if key == "restart" => "never".into(),
            _ => format!("{key}-from-env"),
        },
        other => panic!("{path}: no generated value for {other:?}"),
    }
}

/// `path` in `settings` as JSON (`null` when absent).
fn read_back(settings: &Settings, path: &str) -> serde_json::Value {
    let json = serde_json::to_value(settings).expect("settings serialize");
    path.split('.')
        .try_fold(&json, |v, k| v.get(k))
        .cloned()
        .unwrap_or(serde_json::Value::Null)
}

/// The JSON a variable's text stands for, as the settings serialize it.
fn expected(text: &str, default: &figment::value::Value) -> serde_json::Value {
    match default {
        figment::value::Value::String(..) => serde_json::Value::String(text.into()),
        _ => serde_json::to_value(text.parse::<figment::value::Value>().unwrap()).unwrap(),
    }
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail closure type
fn retention_env_vars_are_not_ignored() {
    // BATON_RETENTION__* was read from no list of sections: 0 (keep forever)
    // left the 7-day default in force, and typos passed silently.
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("BATON_RETENTION__KEEP_TERMINAL_SECS", "0");
        jail.set_env("BATON_RETENTION__KEEP_EVENTS_SECS", "0");
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        assert_eq!(s.retention.keep_terminal_secs, 0);
        assert_eq!(s.retention.keep_events_secs, 0);

        jail.set_env("BATON_RETENTION__KEEP_TERMINAL_SECS", "forever");
        let e = Settings::load(None).unwrap_err().to_string();
        assert!(e.contains("BATON_RETENTION__KEEP_TERMINAL_SECS"), "{e}");

        jail.clear_env();
        jail.set_env("BATON_RETENTION__KEEP_TERMINL_SECS", "0");
        let e = Settings::load(None).unwrap_err().to_string();
        assert!(e.contains("keep_terminl_secs"), "{e}");

        jail.clear_env();
        jail.set_env("BATON_RETENTION_KEEP_TERMINAL_SECS", "0");
        let e = Settings::load(None).unwrap_err().to_string();
        assert!(e.contains("BATON_RETENTION__KEEP_TERMINAL_SECS"), "{e}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail closure type
fn every_shipped_key_is_read_from_its_env_var() {
    let (keys, _) = shipped_keys();
    assert!(
        keys.len() > 60,
        "only {} keys found in default.toml",
        keys.len()
    );
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        let mut set = Vec::new();
        for (path, default) in &keys {
            let text = other_value(path, default);
            jail.set_env(var_of(path), &text);
            set.push((path, expected(&text, default), default));
        }
        let s = Settings::load(None).map_err(|e| e.to_string())?;
        for (path, want, default) in set {
            let got = read_back(&s, path);
            assert_eq!(got, want, "{} did not set {path}", var_of(path));
            assert_ne!(
                got,
                serde_json::to_value(default).unwrap(),
                "{path}: the generated value is the default"
            );
        }
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail closure type
fn every_non_text_key_refuses_a_wrong_value_naming_its_env_var() {
    use figment::value::Value;
    let (keys, _) = shipped_keys();
    figment::Jail::expect_with(|jail| {
        for (path, default) in &keys {
            let bad = match (default, path.rsplit('.').next().unwrap_or_default()) {
                (Value::Num(..), _) => "many",
                (Value::Bool(..), _) => "maybe",
                (Value::Array(..), _) => "not-a-list",
                // text keys with a closed set of values or a syntax
                (Value::String(..), "bind" | "backend" | "format" | "profile" | "restart") => {
                    "not-one-of-them"
                }
                _ => continue, // free text: any value is one
            };
            jail.clear_env();
            jail.set_env(var_of(path), bad);
            match Settings::load(None) {
                Ok(_) => panic!("{}={bad} was accepted", var_of(path)),
                Err(e) => {
                    let e = e.to_string();
                    assert!(e.contains(&var_of(path)), "{}={bad}: {e}", var_of(path));
                }
            }
        }
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)] // figment's Jail closure type
fn every_section_refuses_an_unknown_key_from_env_and_toml() {
    let (_, tables) = shipped_keys();
    assert!(tables.iter().any(|t| t == "retention"), "{tables:?}");
    assert!(tables.iter().any(|t| t == "auth.jwt"), "{tables:?}");
    figment::Jail::expect_with(|jail| {
        for table in &tables {
            if ["pool.servers", "concurrency.limits", "pool.path_arguments"]
                .contains(&table.as_str())
            {
                continue; // a map by server, key or tool name: any name is one
            }
            let var = var_of(&format!("{table}.no_such_key"));
            jail.clear_env();
            jail.set_env(&var, "1");
            let e = Settings::load(None)
                .err()
                .unwrap_or_else(|| panic!("{var} was accepted"))
                .to_string();
            assert!(e.contains("no_such_key") && e.contains(&var), "{var}: {e}");

            let toml = format!("[{table}]\nno_such_key = 1\n");
            let e = Settings::from_toml(&toml)
                .err()
                .unwrap_or_else(|| panic!("{toml} was accepted"))
                .to_string();
            assert!(e.contains("no_such_key"), "{toml}: {e}");
        }
        Ok(())
    });
}

#[test]
fn default_toml_documents_every_key_with_a_comment() {
    // every key of the built-in defaults is in the shipped file …
    let (keys, _) = shipped_keys();
    let shipped: std::collections::BTreeSet<&str> = keys.iter().map(|(p, _)| p.as_str()).collect();
    let mut builtin = Vec::new();
    fn leaves(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v.as_object() {
            Some(o) if !o.is_empty() => {
                for (k, v) in o {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&path, v, out);
                }
            }
            Some(_) => {} // an empty map: [pool.servers]
            None => out.push(prefix.to_owned()),
        }
    }
    leaves(
        "",
        &serde_json::to_value(Settings::default()).unwrap(),
        &mut builtin,
    );
    let missing: Vec<&String> = builtin
        .iter()
        .filter(|k| !shipped.contains(k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "keys missing from config/default.toml: {missing:?}"
    );

    // … under a comment: a key is documented by the comment right above it,
    // or, in a run of keys under one comment, by that comment naming it
    let mut undocumented = Vec::new();
    let (mut comment, mut previous_was_comment, mut in_run) = (String::new(), false, false);
    for line in SHIPPED.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix('#') {
            if !previous_was_comment {
                comment.clear();
            }
            comment.push_str(text);
            comment.push(' ');
            (previous_was_comment, in_run) = (true, true);
        } else if let Some((key, _)) = line.split_once('=').filter(|_| !line.starts_with('[')) {
            let key = key.trim();
            let named = comment
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| w == key);
            if !(previous_was_comment || in_run && named) {
                undocumented.push(key.to_owned());
            }
            previous_was_comment = false;
        } else {
            (previous_was_comment, in_run) = (false, false);
        }
    }
    assert!(
        undocumented.is_empty(),
        "config/default.toml: keys without a comment above them or naming them: {undocumented:?}"
    );
}
