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
}

#[test]
fn shipped_default_toml_matches_builtin_defaults() {
    let shipped = include_str!("../../config/default.toml");
    assert_eq!(Settings::from_toml(shipped).unwrap(), Settings::default());
}
