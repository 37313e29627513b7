//! The README's commands run against the real binary, so what a newcomer
//! copies never drifts from what the server accepts: the REST `curl` block,
//! the CLI block, the team block (tokens, auth required through `BATON_*`
//! variables, a token made on the running server, the `claude mcp add`
//! header), the Claude Code block (`baton hooks install` writes exactly the
//! settings the README shows), and every JSON snippet parses as a `.mcp.json`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md")
}

/// The fenced block of `lang` that follows `heading` (the first after it).
fn block_after(text: &str, heading: &str, lang: &str) -> String {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("README has no '{heading}'"));
    let fence = format!("```{lang}\n");
    let open = start
        + text[start..]
            .find(&fence)
            .unwrap_or_else(|| panic!("no {lang} block after '{heading}'"))
        + fence.len();
    let close = open + text[open..].find("\n```").expect("closing fence");
    text[open..close].to_owned()
}

/// `baton serve` on `data` (port 0), killed when dropped.
fn serve(data: &Path, env: &[(&str, &str)]) -> common::Child {
    let data = data.to_str().expect("utf-8 path");
    common::spawn_baton(&["serve", "--bind", "127.0.0.1:0", "--data-dir", data], env)
}

/// Run `script` with bash: `set -euo pipefail`, `baton` on the PATH, the
/// server's address in place of the README's, every `curl` failing on an
/// HTTP error (the SSE line is given two seconds).
fn run(script: &str, url: &str, env: &[(&str, &str)]) -> String {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_baton"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let prelude = r#"set -euo pipefail
curl() {
  if [[ " $* " == *" -sN "* ]]; then command curl --max-time 2 "$@" || [ $? -eq 28 ]
  else command curl --fail-with-body --max-time 10 "$@"; echo; fi
}
"#;
    let script = script.replace("http://127.0.0.1:8080", url);
    let path = std::env::var("PATH").unwrap_or_default();
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("{prelude}{script}"))
        .env("PATH", format!("{}:{path}", bin_dir.display()))
        .env("BATON_URL", url)
        .env_remove("BATON_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "README block failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_rest_and_cli_blocks_run_as_written() {
    let text = readme();
    let dir = tempfile::tempdir().expect("tempdir");
    let served = serve(&dir.path().join("rest"), &[]);
    let out = run(
        &block_after(&text, "## Using it over REST", "sh"),
        &served.url,
        &[],
    );
    assert!(
        out.contains("\"status\":\"done\""),
        "setup was completed: {out}"
    );
    assert!(
        out.contains("event: task_completed") || out.contains("task_completed"),
        "{out}"
    );
    drop(served);

    let served = serve(&dir.path().join("cli"), &[]);
    let out = run(&block_after(&text, "### CLI", "sh"), &served.url, &[]);
    assert!(out.contains("lease 1"), "{out}");
    assert!(
        out.contains("task_retried") || out.contains("tests failed"),
        "{out}"
    );
    assert!(
        out.contains("waits for 2 of 2 children"),
        "build waits for its subtasks: {out}"
    );
    assert!(out.contains("lease 3 expires"), "the heartbeat: {out}");
    assert!(out.contains("compiling"), "the context list: {out}");
    assert!(out.contains("deleted build"), "{out}");
    assert!(
        out.contains("(more: add --cursor build"),
        "the list's hint: {out}"
    );
    assert!(out.contains("API schema changed"), "the inbox: {out}");
    assert!(out.contains("acknowledged"), "the ack: {out}");
}

#[test]
fn the_backup_block_saves_a_running_board_and_restores_it() {
    let text = readme();
    let block = block_after(&text, "### Backup and restore", "sh");
    let dir = tempfile::tempdir().expect("tempdir");
    let served = serve(&dir.path().join("data"), &[]);
    run(
        "curl -s -X POST http://127.0.0.1:8080/api/v1/tasks -H 'Content-Type: application/json' \\
           -d '{\"id\":\"setup\",\"title\":\"Set up\"}'",
        &served.url,
        &[],
    );
    let file = dir.path().join("board.jsonl");
    let restored = dir.path().join("data-restored");
    let out = run(
        &block
            .replace("board.jsonl", &file.to_string_lossy())
            .replace("./data-restored", &restored.to_string_lossy()),
        &served.url,
        &[],
    );
    assert!(out.contains("written to"), "{out}");
    assert!(out.contains("restored 1 tasks"), "{out}");
}

#[test]
fn the_team_block_runs_with_auth_required() {
    let text = readme();
    let block = block_after(&text, "## Running it for a team", "sh");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // step 1 as written (offline, into the data directory)
    let first: String = block
        .lines()
        .filter(|l| l.starts_with("baton token create") && l.contains("--data-dir"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!first.is_empty(), "{block}");
    let out = run(
        &first.replace("./data", &data.to_string_lossy()),
        "http://127.0.0.1:8080",
        &[],
    );
    let admin = out.lines().last().unwrap_or_default().trim().to_owned();
    assert!(admin.starts_with("baton_"), "{out}");
    // step 2: the variables it shows (TLS has its own test; here plain HTTP on loopback)
    assert!(block.contains("BATON_AUTH__REQUIRED=true"), "{block}");
    let served = serve(&data, &[("BATON_AUTH__REQUIRED", "true")]);
    // step 3 as written, against this server, with the admin token in BATON_TOKEN
    let step3: String = block
        .lines()
        .filter(|l| l.starts_with("baton token ") && l.contains("--url"))
        .map(|l| {
            let cut = l.find("--url").unwrap_or(l.len());
            let rest = l[cut..]
                .split_whitespace()
                .skip(2)
                .collect::<Vec<_>>()
                .join(" ");
            format!("{} --url {} {rest}", &l[..cut], served.url)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let out = run(&step3, &served.url, &[("BATON_TOKEN", &admin)]);
    assert!(out.contains("ci-agent") && out.contains("revoked"), "{out}");
    // the header clients are told to send works; a request without it does not
    let header_line = text
        .lines()
        .find(|l| l.contains("--header \"Authorization: Bearer"))
        .expect("claude mcp add line");
    assert!(
        header_line.contains("Authorization: Bearer $BATON_TOKEN"),
        "{header_line}"
    );
    let out = run(
        &format!(
            "curl -s -XPOST {}/mcp -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H \"Authorization: Bearer $BATON_TOKEN\" -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{{}},\"clientInfo\":{{\"name\":\"readme\",\"version\":\"1\"}}}}}}'",
            served.url
        ),
        &served.url,
        &[("BATON_TOKEN", &admin)],
    );
    assert!(out.contains("\"serverInfo\""), "{out}");
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{}/api/v1/tasks", served.url),
        ])
        .output()
        .expect("curl");
    assert_eq!(String::from_utf8_lossy(&status.stdout), "401");
}

/// Poll `url` with curl until it answers 200 (bounded).
fn wait_for_200(url: &str) {
    common::block_until(
        &format!("{url} answers 200"),
        Duration::from_secs(60),
        || {
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", url])
                .output()
                .expect("curl");
            out.stdout == b"200"
        },
    );
}

/// "Running several nodes": the block's `export` line, its two `baton
/// serve` lines (on free ports, against a PostgreSQL database this test
/// starts) and its curl lines, as written.
#[test]
fn the_several_nodes_block_runs_two_nodes_on_one_database() {
    let Some(pg) = common::postgres::Postgres::start_or_skip() else {
        return;
    };
    let block = block_after(&readme(), "### Running several nodes", "sh");
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port")
    };
    let (p1, p2) = (free(), free());
    let ports = |line: &str| {
        line.replace("127.0.0.1:8080", &format!("127.0.0.1:{p1}"))
            .replace("127.0.0.1:8081", &format!("127.0.0.1:{p2}"))
    };
    let url = pg.database();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut nodes = Vec::new();
    let mut curls = String::new();
    let mut lines = block.lines().peekable();
    while let Some(line) = lines.next() {
        let mut line = line.to_owned();
        while line.ends_with('\\') {
            line.pop();
            line.push_str(lines.next().expect("continued line"));
        }
        if let Some(vars) = line.strip_prefix("export ") {
            for pair in vars.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("K=V");
                let v = if k == "BATON_STORAGE__URL" {
                    url.as_str()
                } else {
                    v
                };
                env.push((k.to_owned(), v.to_owned()));
            }
        } else if let Some(args) = line.strip_prefix("baton ") {
            let args = ports(args.trim_end_matches('&'));
            // on the block's own ports: no listening line to read
            let mut cmd = common::baton_command();
            cmd.args(args.split_whitespace())
                .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            nodes.push(common::Child {
                process: cmd.spawn().expect("spawn"),
                url: String::new(),
            });
        } else if line.starts_with("until curl") {
            // the block waits for the first node to lead: poll the same URL
            let url = ports(
                line.split_whitespace()
                    .nth(3)
                    .expect("url")
                    .trim_end_matches(';'),
            );
            wait_for_200(&url);
        } else if line.starts_with("curl") {
            curls.push_str(&ports(&line));
            curls.push('\n');
        }
    }
    assert_eq!(nodes.len(), 2, "two nodes in the block");
    // the follower knows the leader before its readyz is shown
    let follower = format!("http://127.0.0.1:{p2}/readyz");
    common::block_until("the second node follows", Duration::from_secs(30), || {
        let out = Command::new("curl")
            .args(["-s", &follower])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).contains(&format!("127.0.0.1:{p1}"))
    });
    let out = Command::new("sh")
        .args(["-c", &curls])
        .output()
        .expect("sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#""role":"follower""#), "{text}");
    assert!(text.contains(r#""id":"via-follower""#), "{text}");
    assert!(text.contains(r#""status":"ready""#), "{text}");
    drop(nodes);
}

#[test]
fn every_json_snippet_is_valid_and_mcp_json_ones_name_baton() {
    let text = readme();
    let mut n = 0;
    for chunk in text.split("```json\n").skip(1) {
        let body = &chunk[..chunk.find("\n```").expect("closing fence")];
        let v: serde_json::Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("README JSON does not parse ({e}):\n{body}"));
        if let Some(servers) = v.get("mcpServers") {
            assert!(servers.is_object(), "{body}");
        }
        n += 1;
    }
    assert!(n >= 4, "{n} JSON snippets");
}

/// "Storage engines": the block's `BATON_STORAGE__BACKEND=sled baton serve`
/// line serves the REST block end to end on sled, and the board is there
/// after a restart that names no engine (the directory records it).
#[test]
fn the_sled_line_serves_the_board_end_to_end() {
    if !cfg!(feature = "sled") {
        return;
    }
    let text = readme();
    let block = block_after(&text, "### Storage engines", "sh");
    let line = block
        .lines()
        .find(|l| l.contains("baton serve") && l.contains("=sled"))
        .expect("a `baton serve` line on sled");
    // the line's `VAR=value` words before `baton` become the environment
    let env: Vec<(String, String)> = line
        .split_whitespace()
        .take_while(|w| *w != "baton")
        .filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    assert_eq!(
        env,
        [("BATON_STORAGE__BACKEND".to_owned(), "sled".to_owned())]
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data-sled");
    let served = serve(&data, &env);
    let out = run(
        &block_after(&text, "## Using it over REST", "sh"),
        &served.url,
        &[],
    );
    assert!(out.contains("\"status\":\"done\""), "{out}");
    drop(served);
    assert!(data.join("baton.sled").is_dir(), "sled's files");
    assert!(!data.join("baton.redb").exists(), "no redb file");
    let recorded = std::fs::read_to_string(data.join("baton.engine")).expect("record");
    assert_eq!(recorded.trim(), "sled");
    // restarted without naming the engine: the directory's record decides
    let served = serve(&data, &[]);
    let out = run(
        "curl -s http://127.0.0.1:8080/api/v1/tasks/setup",
        &served.url,
        &[],
    );
    assert!(out.contains("\"status\":\"done\""), "{out}");
}

#[test]
fn the_claude_code_block_installs_exactly_the_settings_the_readme_shows() {
    let text = readme();
    let heading = "### Claude Code in three commands";
    let script = block_after(&text, heading, "sh");
    let shown: serde_json::Value =
        serde_json::from_str(&block_after(&text, heading, "json")).expect("the settings parse");
    let dir = tempfile::tempdir().expect("tempdir");
    let project = dir.path().join("your-project");
    std::fs::create_dir(&project).expect("project dir");
    // `claude` is the one command not run: a stand-in notes the worker it was given
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_baton"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let path = std::env::var("PATH").unwrap_or_default();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail\nclaude() {{ echo \"claude as $BATON_WORKER\"; }}\n{script}"
        ))
        .current_dir(dir.path())
        .env("PATH", format!("{}:{path}", bin_dir.display()))
        .env_remove("BATON_URL")
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("claude as alice"),
        "README block failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // what install wrote is what the README shows (the command hook names this binary by its
    // absolute path; the README says `baton`)
    let written = std::fs::read_to_string(project.join(".claude/settings.json")).expect("settings");
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_baton")).expect("exe");
    let written: serde_json::Value = serde_json::from_str(
        &written.replace(&format!("{} hooks run", exe.display()), "baton hooks run"),
    )
    .expect("settings JSON");
    assert_eq!(written, shown);
    let mcp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(project.join(".mcp.json")).expect(".mcp.json"))
            .expect("JSON");
    assert_eq!(
        mcp["mcpServers"]["baton"],
        serde_json::json!({"type": "http", "url": "http://127.0.0.1:8080/mcp",
            "headers": {"X-Baton-Worker": "${BATON_WORKER}"}})
    );
}
