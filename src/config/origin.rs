//! Parsing `Host` values, origins and allow-list entries: `host[:port]`,
//! `[v6][:port]` and `scheme://host[:port]`, normalized so that two
//! spellings of one origin compare equal. Pure functions over strings: the
//! settings use them to refuse a malformed `[server] allowed_origins` entry
//! at load, and the guard (`crate::auth::edge`) to match each request.

/// A `Host` or origin authority, normalized: lowercase host without
/// brackets, optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// Host name or IP literal (IPv6 without brackets), lowercase.
    pub host: String,
    /// Port, if one was given.
    pub port: Option<u16>,
}

/// Parse `host[:port]` or `[v6][:port]`. `None` for anything malformed
/// (empty, bad port, characters a host cannot contain).
pub fn parse_authority(s: &str) -> Option<Authority> {
    let s = s.trim();
    if s.is_empty() || s.len() > 300 {
        return None;
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (h, port)
    } else {
        match s.rsplit_once(':') {
            // more than one colon without brackets: a bare IPv6 literal (no port)
            Some((h, _)) if h.contains(':') => (s, None),
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '%'))
    {
        return None;
    }
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    Some(Authority {
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// A browser origin `scheme://host[:port]` with the scheme's default port
/// filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// Host and port (always set: defaults filled in).
    pub authority: Authority,
}

/// The port a browser means when an origin of `scheme` names none: 80 for
/// `http`, 443 for `https`; `None` for any other scheme.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Parse an `Origin` value (or an allow-list entry). `None` for `null`,
/// other schemes, paths, or anything malformed.
pub fn parse_origin(s: &str) -> Option<Origin> {
    let (scheme, rest) = s.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default = default_port(&scheme)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let mut authority = parse_authority(rest)?;
    authority.port = Some(authority.port.unwrap_or(default));
    Some(Origin { scheme, authority })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_parse_hosts_ports_and_ipv6() {
        assert_eq!(
            parse_authority("LocalHost:8080"),
            Some(Authority {
                host: "localhost".into(),
                port: Some(8080)
            })
        );
        assert_eq!(
            parse_authority("[::1]:9").map(|a| a.host),
            Some("::1".into())
        );
        assert_eq!(parse_authority("::1").map(|a| a.port), Some(None));
        for bad in ["", ":80", "a:b", "a:99999", "a b", "[::1", "x/y", "a:"] {
            assert_eq!(parse_authority(bad), None, "{bad}");
        }
    }
}
