//! The real `baton` binary as a team would run it: tokens made with
//! `baton token create --data-dir` before the server starts, auth required
//! through a `BATON_*` variable, HTTPS with a CA the test generated (REST,
//! the event stream, `/mcp` over rmcp, the CLI and the stdio bridge), and
//! the refusal to listen beyond loopback without authentication.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{baton_command, spawn_baton};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Value};

/// `baton token create` into a data directory: the secret is the last line of stdout.
fn create_token(data: &Path, name: &str, role: &str) -> String {
    let out = baton_command()
        .args([
            "token",
            "create",
            "--name",
            name,
            "--role",
            role,
            "--data-dir",
        ])
        .arg(data)
        .output()
        .expect("run baton token create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let secret = stdout.lines().last().unwrap_or_default().trim().to_owned();
    assert!(
        secret.starts_with("baton_") && secret.len() == 70,
        "{stdout}"
    );
    secret
}

/// A CA, and a certificate for localhost / 127.0.0.1 it signed; PEM files in `dir`.
fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "baton test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");
    let key = KeyPair::generate().expect("server key");
    let params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("server params");
    let cert = params.signed_by(&key, &ca).expect("server cert");
    let (ca_pem, cert_pem, key_pem) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).expect("write");
    std::fs::write(&cert_pem, cert.pem()).expect("write");
    std::fs::write(&key_pem, key.serialize_pem()).expect("write");
    (ca_pem, cert_pem, key_pem)
}

#[actix_web::test]
async fn https_end_to_end_with_tokens_made_before_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let admin = create_token(&data, "admin", "admin");
    let agent = create_token(&data, "agent-1", "agent");
    // listing offline shows names and roles, never secrets
    let out = baton_command()
        .args(["token", "list", "--json", "--data-dir"])
        .arg(&data)
        .output()
        .expect("list");
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        listed["tokens"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    assert!(!listed.to_string().contains("baton_"), "{listed}");

    let (ca, cert, key) = test_pki(dir.path());
    let data_s = data.to_string_lossy().into_owned();
    let served = spawn_baton(
        &["serve", "--bind", "127.0.0.1:0", "--data-dir", &data_s],
        &[
            ("BATON_AUTH__REQUIRED", "true"),
            ("BATON_SERVER__TLS_CERT", &cert.to_string_lossy()),
            ("BATON_SERVER__TLS_KEY", &key.to_string_lossy()),
        ],
    );
    assert!(
        served.url.starts_with("https://127.0.0.1:"),
        "{}",
        served.url
    );
    let base = served.url.clone();

    let ca_cert = reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("ca")).expect("pem");
    let http = reqwest::Client::builder()
        .add_root_certificate(ca_cert)
        .build()
        .expect("client");
    // REST: no token → 401 (the env var turned auth on); a token works
    let res = http
        .get(format!("{base}/api/v1/tasks"))
        .send()
        .await
        .expect("https");
    assert_eq!(res.status(), 401);
    let res = http
        .post(format!("{base}/api/v1/tasks"))
        .bearer_auth(&agent)
        .json(&json!({ "id": "over-tls", "title": "t" }))
        .send()
        .await
        .expect("https");
    assert_eq!(res.status(), 201);
    // without the CA the client refuses the certificate: TLS is real
    let plain = reqwest::Client::new();
    assert!(plain.get(format!("{base}/healthz")).send().await.is_err());
    // the event stream over TLS, opened with a ticket
    let t: Value = http
        .post(format!("{base}/api/v1/events/ticket"))
        .bearer_auth(&agent)
        .send()
        .await
        .expect("ticket")
        .json()
        .await
        .expect("json");
    let mut stream = http
        .get(format!(
            "{base}/api/v1/events?after=0&ticket={}",
            t["ticket"].as_str().expect("ticket")
        ))
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    let mut seen = String::new();
    while !seen.contains("over-tls") {
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.chunk())
            .await
            .expect("an event in time")
            .expect("chunk")
            .expect("open stream");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    // /mcp over TLS with rmcp's client
    let transport = StreamableHttpClientTransport::with_client(
        http.clone(),
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp"))
            .auth_header(agent.clone()),
    );
    let client = ().serve(transport).await.expect("MCP over https");
    let tools = client.list_all_tools().await.expect("tools");
    assert!(tools.iter().any(|t| t.name == "claim_next_task"));
    client.cancel().await.ok();

    // the CLI with --ca-cert and BATON_TOKEN
    let out = baton_command()
        .args(["task", "list", "--json", "--url", &base, "--ca-cert"])
        .arg(&ca)
        .env("BATON_TOKEN", &agent)
        .output()
        .expect("cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("over-tls"));
    // a token made on the running server by the admin, over the CLI
    let out = baton_command()
        .args([
            "token",
            "create",
            "--name",
            "late",
            "--role",
            "viewer",
            "--url",
            &base,
            "--ca-cert",
        ])
        .arg(&ca)
        .args(["--token", &admin])
        .output()
        .expect("cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let late = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    let res = http
        .get(format!("{base}/api/v1/slots"))
        .bearer_auth(&late)
        .send()
        .await
        .expect("https");
    assert_eq!(res.status(), 200);
    // an agent cannot
    let out = baton_command()
        .args([
            "token",
            "create",
            "--name",
            "nope",
            "--role",
            "admin",
            "--url",
            &base,
            "--ca-cert",
        ])
        .arg(&ca)
        .args(["--token", &agent])
        .output()
        .expect("cli");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("forbidden"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // an empty BATON_TOKEN is no token (not an empty bearer, which the
    // server would call a malformed Authorization header)
    let out = baton_command()
        .args(["task", "list", "--url", &base, "--ca-cert"])
        .arg(&ca)
        .env("BATON_TOKEN", "")
        .output()
        .expect("cli");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("unauthorized") && !said.contains("must be 'Bearer"),
        "{said}"
    );
    // the stdio bridge with a token and the CA
    let mut cmd = tokio::process::Command::from(baton_command());
    cmd.args(["mcp-stdio", "--url", &format!("{base}/mcp"), "--ca-cert"])
        .arg(&ca)
        .env("BATON_TOKEN", &agent);
    let client =
        ().serve(rmcp::transport::TokioChildProcess::new(cmd).expect("spawn bridge"))
            .await
            .expect("initialize through the bridge over https");
    let tools = client.list_all_tools().await.expect("tools");
    assert!(tools.iter().any(|t| t.name == "claim_next_task"));
    client.cancel().await.ok();
    // the offline token command refuses a data dir the server holds
    let out = baton_command()
        .args(["token", "list", "--data-dir"])
        .arg(&data)
        .output()
        .expect("list");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--url"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[actix_web::test]
async fn serving_beyond_loopback_without_auth_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data").to_string_lossy().into_owned();
    let out = baton_command()
        .args(["serve", "--bind", "0.0.0.0:0", "--data-dir", &data])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("without authentication")
            && err.contains("baton token create")
            && err.contains("--insecure-no-auth"),
        "{err}"
    );
    // with the override it starts (bound on every interface; the test talks only to loopback)
    let served = spawn_baton(
        &[
            "serve",
            "--bind",
            "0.0.0.0:0",
            "--data-dir",
            &data,
            "--insecure-no-auth",
        ],
        &[],
    );
    assert!(served.url.starts_with("http://0.0.0.0:"), "{}", served.url);
    drop(served);
    // with auth required (the environment variable form) it starts too
    let served = spawn_baton(
        &["serve", "--bind", "0.0.0.0:0", "--data-dir", &data],
        &[("BATON_AUTH__REQUIRED", "true")],
    );
    let port = served.url.rsplit(':').next().unwrap_or_default().to_owned();
    let res = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/tasks"))
        .await
        .expect("request");
    assert_eq!(res.status(), 401);
}
