//! MCP end to end: the official Model Context Protocol client SDK (`@modelcontextprotocol/sdk`,
//! run with node; tests/it/mcp/) connects to an MCP server protected by `grantor-resource`,
//! with no setup beyond an owner opening registration. The SDK reads the server's
//! protected-resource metadata from its 401, finds Grantor, registers dynamically, runs the
//! authorization code flow with PKCE and `resource`, and calls a tool with the token.
//!
//! The SDK is installed with `npm ci` from the pinned lock file into a directory outside the
//! repository (once per test run). The test is skipped, saying why, only when node or npm
//! is missing, and not under CI.

use crate::both_backends;
use crate::support::resource_server::listen;
use crate::support::{Backend, PASSWORD, TestServer};
use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use grantor_core::model::{Caller as Operator, Role, ScopeDefinition};
use grantor_resource::{Caller, Config, RequireToken, Validator};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};
use tokio::sync::OnceCell;

both_backends!(the_mcp_sdk_registers_authorizes_and_calls_a_tool);

/// The test's own files: the script, its package.json and lock file.
fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/mcp")
}

static CLIENT: OnceCell<Option<PathBuf>> = OnceCell::const_new();

/// The directory holding client.mjs with the SDK installed beside it (`npm ci` from the lock
/// file, once, into the temporary directory, keyed by the lock file's contents), or `None`
/// when node or npm is missing.
async fn mcp_client() -> Option<PathBuf> {
    CLIENT
        .get_or_init(|| async {
            let found = |tool: &str| {
                std::process::Command::new(tool)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            };
            if !(found("node") && found("npm")) {
                return None;
            }
            let lock = std::fs::read(sources().join("package-lock.json")).unwrap();
            let key = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                lock.hash(&mut h);
                h.finish()
            };
            let dir = std::env::temp_dir().join(format!("grantor-mcp-client-{key:016x}"));
            std::fs::create_dir_all(&dir).unwrap();
            for file in ["package.json", "package-lock.json", "client.mjs"] {
                std::fs::copy(sources().join(file), dir.join(file)).unwrap();
            }
            if !dir.join("node_modules/@modelcontextprotocol/sdk").exists() {
                let out = Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                    .current_dir(&dir)
                    .output()
                    .await
                    .unwrap();
                assert!(
                    out.status.success(),
                    "npm ci failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Some(dir)
        })
        .await
        .clone()
}

/// A small MCP server (streamable HTTP, JSON answers): `initialize`,
/// `notifications/initialized`, `tools/list`, and `tools/call` of `whoami`, which tells who
/// the token says is calling. Every call needs a valid token; a refusal names the metadata.
async fn mcp(caller: Caller, Json(request): Json<Value>) -> Response {
    let Some(id) = request.get("id").cloned() else {
        // A notification (`notifications/initialized`): accepted, no answer.
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match request["method"].as_str().unwrap_or_default() {
        "initialize" => json!({
            "protocolVersion": request["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "trading-mcp", "version": "1.0.0"},
        }),
        "tools/list" => json!({"tools": [{
            "name": "whoami",
            "description": "Who the access token says is calling",
            "inputSchema": {"type": "object", "properties": {}},
        }]}),
        "tools/call" if request["params"]["name"] == "whoami" => json!({"content": [{
            "type": "text",
            "text": format!(
                "user={} org={} client={} scopes={}",
                caller.subject,
                caller.org_id,
                caller.client_id,
                caller.scopes.join(",")
            ),
        }]}),
        _ => {
            return Json(json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": "method not found"}}))
            .into_response();
        }
    };
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

/// The next line of the script's output starting with `prefix`, the rest of it.
async fn line_with(lines: &mut Lines<BufReader<ChildStdout>>, prefix: &str) -> String {
    let wait = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.to_string();
            }
        }
        panic!("the MCP client ended before printing {prefix:?} (its errors are above)");
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .unwrap_or_else(|_| panic!("no {prefix:?} from the MCP client within 60 s"))
}

async fn the_mcp_sdk_registers_authorizes_and_calls_a_tool(backend: Backend) {
    let Some(client_dir) = mcp_client().await else {
        assert!(
            !crate::support::ci(),
            "node and npm are needed for the MCP test under CI"
        );
        eprintln!("node or npm is missing: the MCP end-to-end test is not run");
        return;
    };
    let srv = TestServer::spawn(backend).await;
    let operator = Operator::operator();
    let m = &srv.state.manager;
    let org = m.create_organization(&operator, "acme").await.unwrap();
    // The MCP server's identifier is its own URL, as the SDK sends it as `resource`.
    let (listener, base) = listen().await;
    let identifier = format!("{base}/mcp");
    m.create_resource_server(
        &operator,
        &org.id,
        &identifier,
        "Trading MCP",
        vec![ScopeDefinition {
            name: "trades:read".into(),
            description: "Read trades".into(),
        }],
    )
    .await
    .unwrap();
    srv.member(&org.id, "ann@acme.example", Role::Member).await;
    srv.member(&org.id, "owner@acme.example", Role::Owner).await;
    let validator =
        Validator::new(Config::new(&srv.issuer, &identifier).with_scopes(&["trades:read"]));
    let metadata = validator.metadata_router();
    let app = Router::new()
        .route("/mcp", post(mcp))
        .layer(RequireToken::new(validator))
        .merge(metadata);
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The one manual step: the owner opens registration.
    srv.api_as("acme", "owner@acme.example", &["grantor:apps"])
        .await
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/registration",
            Some(json!({"scopes": ["trades:read"]})),
        )
        .await
        .expect(200);

    let mut child = Command::new("node")
        .arg(client_dir.join("client.mjs"))
        .arg(&identifier)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let client_id = line_with(&mut lines, "REGISTERED ").await;
    let authorize = line_with(&mut lines, "AUTHORIZE ").await;
    assert!(
        authorize.starts_with(&srv.url("/oauth2/authorize?")),
        "{authorize}"
    );
    let url = url::Url::parse(&authorize).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("resource").as_deref(), Some(identifier.as_str()));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("client_id").as_deref(), Some(client_id.as_str()));

    // The user signs in and approves, as in a browser; the redirect goes back to the SDK.
    let location = srv
        .http_session()
        .authorize(&authorize, "ann@acme.example", PASSWORD, &["trades:read"])
        .await;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{location}\n").as_bytes())
        .await
        .unwrap();
    stdin.flush().await.unwrap();

    let result = line_with(&mut lines, "RESULT ").await;
    let ann = grantor_core::store::UserStore::user_by_email(&srv.state.store, "ann@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        result,
        format!(
            "user={} org={} client={client_id} scopes=trades:read",
            ann.id, org.id
        )
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    // The registration became an app of the organization.
    let (bound, _) = m.app(&operator, Some("acme"), &client_id).await.unwrap();
    assert_eq!(bound.app_type.as_str(), "native");
}
