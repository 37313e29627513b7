//! `BATON_*` environment variables as the top layer of the settings.
//!
//! Every key of every section is a variable: the section, then each level,
//! joined by `__` (two underscores): `[retention] keep_terminal_secs` is
//! `BATON_RETENTION__KEEP_TERMINAL_SECS`, `[auth.jwt] issuer` is
//! `BATON_AUTH__JWT__ISSUER`, a key of one downstream server is
//! `BATON_POOL__SERVERS__<NAME>__<KEY>` (names are lowercased). Which names
//! are sections is read from the settings themselves, never from a list kept by
//! hand (`Settings::load` hands over the built-in settings, serialized), so
//! a new section is a variable prefix the moment it exists.
//!
//! Values are read as the key's type asks: a key whose default is a string
//! (paths, addresses, URLs, enums like `log.format`) takes the text as it is
//! (`BATON_AUTH__JWT__AUDIENCE=12345` is the string `"12345"`; a value in
//! double quotes is unquoted, with escapes); any other key is parsed as
//! figment parses environment values: `true`, `0`, `[a, b]`, `{k=v}`.
//! A wrong type, an out-of-range value or an unknown key is refused later
//! by the same checks as a TOML file, with the variable's name in the
//! message.
//!
//! Other `BATON_*` variables (the CLI's `BATON_URL`, `BATON_TOKEN`,
//! `BATON_WORKER`, a script's `BATON_BIN`) are not settings and are left
//! alone, except one that is plainly a setting misspelt with a single
//! underscore after its section (`BATON_RETENTION_KEEP_TERMINAL_SECS`): it
//! is refused with the right spelling rather than ignored.

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

/// A `BATON_*` variable that cannot be read as a setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var} {message}")]
pub struct EnvError {
    /// The variable's name.
    pub var: String,
    /// What is wrong and the spelling that works.
    pub message: String,
}

/// The prefix of every setting's variable.
pub const PREFIX: &str = "BATON_";

/// What separates levels in a variable's name.
pub const SEPARATOR: &str = "__";

/// One `BATON_*` variable that sets one key, as a figment provider: its
/// errors name the variable (`… for key "default.retention.batch" in
/// BATON_RETENTION__BATCH environment variable`).
#[derive(Debug, Clone)]
pub struct EnvVar {
    /// The variable's name as set.
    name: String,
    /// The dotted key it sets, lowercase (`retention.keep_terminal_secs`).
    path: String,
    /// Its value, typed as the key's default asks.
    value: Value,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable").source(self.name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = figment::util::nest(&self.path, self.value.clone())
            .into_dict()
            .ok_or_else(|| figment::Error::from(format!("{}: names no key", self.name)))?;
        Ok(Profile::Default.collect(dict))
    }
}

/// The settings among `vars` (name, value pairs; the process's environment
/// in `Settings::load`), in the order given. `shape` is every section and
/// key with its default, as figment sees them (the built-in settings
/// serialized): it says which names are sections and which keys are text.
///
/// Errors: [`EnvError`] for a variable that names an empty level
/// (`BATON_SLOTS__`) or is a setting spelt with one underscore after its
/// section.
pub fn settings_in(
    vars: impl IntoIterator<Item = (String, String)>,
    shape: &Dict,
) -> Result<Vec<EnvVar>, EnvError> {
    let mut out = Vec::new();
    for (name, raw) in vars {
        let name = name.trim().to_owned();
        let Some(rest) = strip_prefix_ignore_case(&name, PREFIX) else {
            continue;
        };
        let rest = rest.to_ascii_lowercase();
        let levels: Vec<&str> = rest.split(SEPARATOR).collect();
        if levels.len() < 2 || !shape.contains_key(levels[0]) {
            if let Some(spelling) = misspelt(shape, &rest) {
                return Err(EnvError {
                    var: name,
                    message: format!(
                        "is not read: levels are separated by two underscores, as in {spelling}"
                    ),
                });
            }
            continue; // not a setting: BATON_URL, BATON_TOKEN, …
        }
        if levels.iter().any(|l| l.is_empty()) {
            return Err(EnvError {
                var: name,
                message: "names an empty level (two underscores between non-empty names, as in BATON_SLOTS__COUNT)".into(),
            });
        }
        let path = levels.join(".");
        let value = match key_default(shape, &levels) {
            Some(Value::String(..)) if !is_quoted(&raw) => Value::from(raw),
            _ => raw.parse::<Value>().unwrap_or_else(|_| Value::from(raw)),
        };
        out.push(EnvVar { name, path, value });
    }
    Ok(out)
}

/// The default of the key at `levels`, if it has one. A key of one server
/// (`pool.servers.<name>.<key>`) has the type of the same key in `[pool]`,
/// whose defaults it overrides.
fn key_default<'a>(shape: &'a Dict, levels: &[&str]) -> Option<&'a Value> {
    let levels: Vec<&str> = match levels {
        ["pool", "servers", _server, key @ ..] if !key.is_empty() => {
            std::iter::once("pool").chain(key.iter().copied()).collect()
        }
        _ => levels.to_vec(),
    };
    let (first, rest) = levels.split_first()?;
    let mut value = shape.get(*first)?;
    for level in rest {
        value = value.as_dict()?.get(*level)?;
    }
    Some(value)
}

/// `BATON_<SECTION>_<KEY>` (one underscore) where `<KEY>` is a key of that
/// section: the spelling that would set it.
fn misspelt(shape: &Dict, rest: &str) -> Option<String> {
    shape.iter().find_map(|(section, keys)| {
        let after = rest.strip_prefix(section.as_str())?.strip_prefix('_')?;
        let first = after.split(SEPARATOR).next()?;
        keys.as_dict()?
            .contains_key(first)
            .then(|| format!("{PREFIX}{}{SEPARATOR}{}", section, after).to_ascii_uppercase())
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn is_quoted(raw: &str) -> bool {
    raw.len() >= 2 && raw.starts_with('"') && raw.ends_with('"')
}
