//! The first checks every request to baton passes, before anyone is
//! authenticated: the `Host` allow-list (DNS rebinding), the `Origin`
//! allow-list (a web page of another site), and `Content-Type:
//! application/json` on bodies. Pure functions over header values, so they
//! are unit- and property-tested without a server.
//!
//! Why these three stop a web page: a browser attaches an `Origin` to every
//! cross-origin request that can change state (any `POST`, `PUT`, `DELETE`,
//! also `no-cors` ones and form posts), so an `Origin` that is neither
//! baton's own nor allow-listed is refused even for bodiless `POST`s
//! (cancel, restart). A page that rebinds its own name to 127.0.0.1 sends
//! its own name as `Host`, which the host allow-list refuses. Requiring
//! `application/json` on bodies rules out the "simple" content types a page
//! may send without a CORS preflight.

use crate::config::origin::default_port;
pub use crate::config::origin::{parse_authority, parse_origin, Authority, Origin};
use crate::error_code::ErrorCode;

/// Whether `host` (the request's `Host`) matches an allow-list entry:
/// `"*"`, `host` (any port) or `host:port`.
pub fn host_allowed(host: &Authority, allowed: &[String]) -> bool {
    allowed.iter().any(|entry| {
        if entry == "*" {
            return true;
        }
        match parse_authority(entry) {
            Some(a) => a.host == host.host && a.port.is_none_or(|p| Some(p) == host.port),
            None => false,
        }
    })
}

/// Decide about a request's `Host` and `Origin`. `scheme` is the request's
/// own (`http`/`https`); `host` its `Host` header (or URI authority);
/// `origin` its `Origin` header, if any. Errors carry the code and a
/// message saying what to configure.
pub fn check_host_and_origin(
    scheme: &str,
    host: Option<&str>,
    origin: Option<&[u8]>,
    allowed_hosts: &[String],
    allowed_origins: &[String],
) -> Result<(), (ErrorCode, String)> {
    let host_value = host.unwrap_or_default();
    let authority = parse_authority(host_value).ok_or_else(|| {
        (
            ErrorCode::ForbiddenHost,
            "the request has no valid Host header".to_owned(),
        )
    })?;
    if !host_allowed(&authority, allowed_hosts) {
        return Err((
            ErrorCode::ForbiddenHost,
            format!(
                "Host '{}' is not allowed (possible DNS rebinding); add it to [server] allowed_hosts",
                clip(host_value)
            ),
        ));
    }
    let Some(raw) = origin else {
        return Ok(());
    };
    let text = std::str::from_utf8(raw).unwrap_or_default();
    let refuse = || {
        (
            ErrorCode::ForbiddenOrigin,
            format!(
                "requests from the web origin '{}' are not allowed; add it to [server] allowed_origins",
                clip(text)
            ),
        )
    };
    let Some(origin) = parse_origin(text) else {
        return Err(refuse()); // `null`, opaque or malformed
    };
    if allowed_origins.iter().any(|o| o == "*") {
        return Ok(());
    }
    // baton's own origin: a page it served itself (the dashboard)
    let mut own = authority;
    own.port = Some(own.port.or(default_port(scheme)).unwrap_or(0));
    if origin.scheme == scheme && origin.authority == own {
        return Ok(());
    }
    if allowed_origins
        .iter()
        .filter_map(|o| parse_origin(o))
        .any(|o| o == origin)
    {
        return Ok(());
    }
    Err(refuse())
}

/// Whether a `Content-Type` value is JSON (`application/json`, any
/// parameters, any case).
pub fn is_json(content_type: Option<&[u8]>) -> bool {
    let Some(ct) = content_type.and_then(|v| std::str::from_utf8(v).ok()) else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// A header value quoted in a refusal: control characters dropped, at most
/// 100 bytes (cut on a char boundary, `…` marking the cut).
fn clip(s: &str) -> String {
    let printable: String = s.chars().filter(|c| !c.is_control()).collect();
    crate::core::text::clip(printable, 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn hosts_match_any_port_or_exact_port_or_star() {
        let h = |s| parse_authority(s).unwrap();
        let allowed = list(&["localhost", "127.0.0.1:8080"]);
        assert!(host_allowed(&h("localhost:1"), &allowed));
        assert!(host_allowed(&h("127.0.0.1:8080"), &allowed));
        assert!(!host_allowed(&h("127.0.0.1:8081"), &allowed));
        assert!(!host_allowed(&h("evil.test"), &allowed));
        assert!(host_allowed(&h("evil.test"), &list(&["*"])));
    }

    #[test]
    fn own_origin_passes_foreign_and_null_do_not() {
        let hosts = list(&["127.0.0.1:8080", "localhost:8080"]);
        let ok = |o: &str| {
            check_host_and_origin(
                "http",
                Some("127.0.0.1:8080"),
                Some(o.as_bytes()),
                &hosts,
                &[],
            )
        };
        assert!(ok("http://127.0.0.1:8080").is_ok());
        assert_eq!(
            ok("http://evil.test").unwrap_err().0,
            ErrorCode::ForbiddenOrigin
        );
        assert_eq!(ok("null").unwrap_err().0, ErrorCode::ForbiddenOrigin);
        // another local port is another origin
        assert!(ok("http://127.0.0.1:3000").is_err());
        // https page of the same host is another origin too
        assert!(ok("https://127.0.0.1:8080").is_err());
        // no Origin: not a browser request
        assert!(check_host_and_origin("http", Some("127.0.0.1:8080"), None, &hosts, &[]).is_ok());
        // a rebound name is refused by Host
        let e = check_host_and_origin(
            "http",
            Some("evil.test:8080"),
            Some(b"http://evil.test:8080"),
            &hosts,
            &[],
        )
        .unwrap_err();
        assert_eq!(e.0, ErrorCode::ForbiddenHost);
        assert_eq!(
            check_host_and_origin("http", None, None, &hosts, &[])
                .unwrap_err()
                .0,
            ErrorCode::ForbiddenHost
        );
    }

    #[test]
    fn allow_listed_origins_and_default_ports() {
        let hosts = list(&["baton.example"]);
        let origins = list(&["https://app.example", "http://localhost:5173"]);
        let check = |o: &str| {
            check_host_and_origin(
                "https",
                Some("baton.example"),
                Some(o.as_bytes()),
                &hosts,
                &origins,
            )
        };
        assert!(check("https://app.example:443").is_ok());
        assert!(check("https://app.example").is_ok());
        assert!(check("http://localhost:5173").is_ok());
        assert!(check("http://localhost:5174").is_err());
        // own origin with the default https port
        assert!(check("https://baton.example").is_ok());
        assert!(check("https://baton.example:443").is_ok());
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(Some(b"application/json")));
        assert!(is_json(Some(b"Application/JSON; charset=utf-8")));
        for bad in [
            &b"text/plain"[..],
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=x",
            b"application/jsonx",
            b"\xff",
        ] {
            assert!(!is_json(Some(bad)));
        }
        assert!(!is_json(None));
    }

    proptest! {
        /// A header quoted in a refusal is at most 100 bytes of what was
        /// sent (control characters dropped), cut on a char boundary.
        #[test]
        fn a_quoted_header_fits_its_byte_limit(s in crate::core::text::tests::unicode_text(120)) {
            let q = clip(&s);
            prop_assert!(q.len() <= 100);
            let printable: String = s.chars().filter(|c| !c.is_control()).collect();
            prop_assert!(printable.starts_with(q.strip_suffix('…').filter(|_| printable.len() > 100).unwrap_or(&q)));
        }

        /// Whatever bytes arrive as Host and Origin, the check answers
        /// (never panics), and only an Origin equal to baton's own or
        /// allow-listed one passes.
        #[test]
        fn arbitrary_headers_never_panic_and_foreign_origins_fail(
            host in proptest::collection::vec(any::<u8>(), 0..40),
            origin in proptest::collection::vec(any::<u8>(), 0..60),
        ) {
            let hosts = list(&["*"]);
            let host = String::from_utf8_lossy(&host).into_owned();
            let r = check_host_and_origin("http", Some(&host), Some(&origin), &hosts, &[]);
            if r.is_ok() {
                let o = parse_origin(std::str::from_utf8(&origin).unwrap()).unwrap();
                let h = parse_authority(&host).unwrap();
                prop_assert_eq!(o.authority.host, h.host);
            }
        }
    }
}
