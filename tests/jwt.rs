//! JWT bearer tokens from an identity provider: the test serves its own
//! JWKS on 127.0.0.1 and signs tokens with a P-256 key it generated.
//! Valid, expired, wrong audience, wrong issuer, unknown key id, role claim
//! missing, a viewer's role, and algorithm confusion (HS256 / none).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::{web, App, HttpResponse};
use base64::Engine as _;
use common::{read, TestServer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "baton";

struct Idp {
    key: EncodingKey,
    jwks_url: String,
    fetches: Arc<AtomicUsize>,
    _handle: actix_web::dev::ServerHandle,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A P-256 key pair and a JWKS endpoint publishing its public half as `k1`.
fn idp() -> Idp {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key pair");
    let raw = pair.public_key_raw(); // 0x04 || X || Y
    assert_eq!(raw.len(), 65);
    let jwks = json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
        "x": b64(&raw[1..33]), "y": b64(&raw[33..]),
    }]});
    let fetches = Arc::new(AtomicUsize::new(0));
    let f = fetches.clone();
    let (addr, handle) = common::serve(move || {
        let jwks = jwks.clone();
        let f = f.clone();
        App::new().route(
            "/jwks",
            web::get().to(move || {
                f.fetch_add(1, Ordering::SeqCst);
                let body = jwks.clone();
                async move { HttpResponse::Ok().json(body) }
            }),
        )
    });
    Idp {
        key: EncodingKey::from_ec_der(&pair.serialize_der()),
        jwks_url: format!("http://{addr}/jwks"),
        fetches,
        _handle: handle,
    }
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

impl Idp {
    fn sign(&self, kid: &str, claims: Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(kid.into());
        jsonwebtoken::encode(&h, &claims, &self.key).expect("sign")
    }
}

fn claims(sub: &str, role: Option<&str>) -> Value {
    let mut c =
        json!({ "sub": sub, "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600, "iat": now() });
    if let Some(r) = role {
        c["baton_role"] = r.into();
    }
    c
}

async fn add(s: &TestServer, token: &str, id: &str) -> (u16, Value) {
    let res = s
        .http
        .post(format!("{}/tasks", s.base))
        .bearer_auth(token)
        .json(&json!({ "id": id, "title": id }))
        .send()
        .await
        .expect("request");
    read(res).await
}

#[actix_web::test]
async fn jwts_from_the_identity_provider_are_validated() {
    let idp = idp();
    let jwks_url = idp.jwks_url.clone();
    let s = TestServer::start(|st| {
        st.auth.required = true;
        st.auth.jwt.jwks_url = jwks_url;
        st.auth.jwt.issuer = ISSUER.into();
        st.auth.jwt.audience = AUDIENCE.into();
        st.auth.jwt.leeway_secs = 5;
    })
    .await;

    // valid: the sub is the actor in the audit log
    let ok = idp.sign("k1", claims("carol@example.com", Some("agent")));
    let (st, v) = add(&s, &ok, "by-jwt").await;
    assert_eq!(st, 201, "{v}");
    let (_, ev) = read(
        s.http
            .get(format!("{}/tasks/by-jwt/events", s.base))
            .bearer_auth(&ok)
            .send()
            .await
            .expect("events"),
    )
    .await;
    assert_eq!(ev["events"][0]["actor"], "carol@example.com", "{ev}");
    let fetched = idp.fetches.load(Ordering::SeqCst);
    assert_eq!(fetched, 1, "keys are fetched once and cached");

    // an array role claim: the highest baton role counts
    let multi = idp.sign("k1", {
        let mut c = claims("dan", None);
        c["baton_role"] = json!(["viewer", "admin", "other"]);
        c
    });
    let (st, v) = read(
        s.http
            .post(format!("{}/tasks/by-jwt/cancel", s.base))
            .bearer_auth(&multi)
            .send()
            .await
            .expect("cancel"),
    )
    .await;
    assert_eq!(st, 200, "{v}");

    let expired = idp.sign("k1", {
        let mut c = claims("carol", Some("agent"));
        c["exp"] = json!(now() - 3600);
        c
    });
    let wrong_aud = idp.sign("k1", {
        let mut c = claims("carol", Some("agent"));
        c["aud"] = json!("someone-else");
        c
    });
    let wrong_iss = idp.sign("k1", {
        let mut c = claims("carol", Some("agent"));
        c["iss"] = json!("https://evil.test");
        c
    });
    let unknown_kid = idp.sign("k2", claims("carol", Some("agent")));
    let no_sub = idp.sign("k1", {
        let mut c = claims("x", Some("agent"));
        c.as_object_mut().expect("object").remove("sub");
        c
    });
    // algorithm confusion: HS256 with the public key bytes as the secret, and alg none
    let hs = jsonwebtoken::encode(
        &{
            let mut h = Header::new(Algorithm::HS256);
            h.kid = Some("k1".into());
            h
        },
        &claims("mallory", Some("admin")),
        &EncodingKey::from_secret(b"anything").expect("hmac key"),
    )
    .expect("hs256");
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"k1","typ":"JWT"}"#),
        b64(claims("mallory", Some("admin")).to_string().as_bytes())
    );
    for (what, token) in [
        ("expired", &expired),
        ("wrong audience", &wrong_aud),
        ("wrong issuer", &wrong_iss),
        ("unknown key id", &unknown_kid),
        ("no sub", &no_sub),
        ("HS256", &hs),
        ("alg none", &none),
    ] {
        let res = s
            .http
            .post(format!("{}/tasks", s.base))
            .bearer_auth(token)
            .json(&json!({"title": "x"}))
            .send()
            .await
            .expect("request");
        assert!(res.headers().contains_key("www-authenticate"), "{what}");
        let (st, v) = read(res).await;
        assert_eq!(
            (st, v["error"]["code"].as_str()),
            (401, Some("unauthorized")),
            "{what}: {v}"
        );
    }
    // unknown key ids refetch the JWKS at most once per 10 s, never once per request
    for _ in 0..5 {
        let (st, _) = add(&s, &unknown_kid, "never").await;
        assert_eq!(st, 401);
    }
    let after = idp.fetches.load(Ordering::SeqCst);
    assert!(
        after <= fetched + 1,
        "{after} fetches: a flood of unknown key ids must not flood the provider"
    );

    // a valid token without a baton role: authenticated, but no permission
    let no_role = idp.sign("k1", claims("erin", None));
    let (st, v) = add(&s, &no_role, "no-role").await;
    assert_eq!(
        (st, v["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("baton_role"),
        "{v}"
    );
    // a viewer reads but cannot add
    let viewer = idp.sign("k1", claims("frank", Some("viewer")));
    let (st, _) = add(&s, &viewer, "by-viewer").await;
    assert_eq!(st, 403);
    let (st, _) = read(
        s.http
            .get(format!("{}/tasks", s.base))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(st, 200);
    s.stop().await;
}

#[actix_web::test]
async fn an_unreachable_jwks_is_401_not_500() {
    let idp = idp();
    let s = TestServer::start(|st| {
        st.auth.required = true;
        st.auth.jwt.jwks_url = "http://127.0.0.1:9/jwks".into();
        st.auth.jwt.issuer = ISSUER.into();
        st.auth.jwt.audience = AUDIENCE.into();
    })
    .await;
    let token = idp.sign("k1", claims("carol", Some("agent")));
    let (st, v) = add(&s, &token, "x").await;
    assert_eq!(st, 401, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("keys"),
        "{v}"
    );
    s.stop().await;
}
