//! `${VAR}` and `${VAR:-default}` expansion for server configuration values,
//! pure: variables are read through a lookup function.
//!
//! - `${NAME}` is the variable's value; an unset variable is an error.
//! - `${NAME:-default}` is the value, or `default` when it is unset or empty.
//! - A `$` not followed by `{` is kept as is. Names are `[A-Za-z_][A-Za-z0-9_]*`.

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `${NAME}` without a default, and `NAME` is not set.
    #[error("environment variable {0} is not set (use ${{{0}:-default}} for a default)")]
    Unset(String),
    /// `${` without its closing `}`; holds the whole value.
    #[error("unterminated ${{ in {0:?}")]
    Unterminated(String),
    /// Not a variable name.
    #[error("invalid variable name {0:?}")]
    InvalidName(String),
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expand every `${…}` in `input`.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let body_start = &rest[start + 2..];
        let Some(end) = body_start.find('}') else {
            return Err(ExpandError::Unterminated(input.to_owned()));
        };
        let body = &body_start[..end];
        let (name, default) = match body.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (body, None),
        };
        if !valid_name(name) {
            return Err(ExpandError::InvalidName(name.to_owned()));
        }
        match (lookup(name), default) {
            (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => return Err(ExpandError::Unset(name.to_owned())),
        }
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/a".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn variables_defaults_and_errors() {
        assert_eq!(expand("${HOME}/x", env).unwrap(), "/home/a/x");
        assert_eq!(expand("a${NOPE:-b}c", env).unwrap(), "abc");
        assert_eq!(expand("${EMPTY:-d}", env).unwrap(), "d");
        assert_eq!(expand("${NOPE:-}", env).unwrap(), "");
        assert_eq!(expand("$HOME $ {x} $", env).unwrap(), "$HOME $ {x} $");
        assert_eq!(
            expand("${NOPE}", env),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert!(matches!(
            expand("${HOME", env),
            Err(ExpandError::Unterminated(_))
        ));
        assert!(matches!(
            expand("${1X}", env),
            Err(ExpandError::InvalidName(_))
        ));
        assert!(expand("${NOPE}", env)
            .unwrap_err()
            .to_string()
            .contains("NOPE"));
    }

    proptest! {
        /// Text without `${` is returned unchanged.
        #[test]
        fn plain_text_is_unchanged(s in "[^{]*") {
            prop_assert_eq!(expand(&s, env).unwrap(), s);
        }
    }
}
