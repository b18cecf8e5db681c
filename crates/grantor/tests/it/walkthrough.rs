//! The README's walkthrough, as processes: `grantor demo`, the Trading API, and the Trading
//! command-line client, reached three ways: a server app, a web app, a native app.

use crate::support::http_session::HttpSession;
use crate::support::oauth::{OAuth, authorize_url, code_in};
use crate::support::oauth_http::OAuthHttp;
use crate::support::process::{self, Process};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

/// What `grantor demo` prints, picked out of its text.
struct Demo {
    issuer: String,
    password: String,
    server: (String, String),
    web: (String, String),
    native: String,
}

fn after<'a>(text: &'a str, marker: &str) -> &'a str {
    text.split(marker)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("demo output lacks {marker:?}:\n{text}"))
}

fn parse_demo(text: &str) -> Demo {
    let web_line = text.lines().find(|l| l.starts_with("Web app:")).unwrap();
    let native_line = text.lines().find(|l| l.starts_with("Native app:")).unwrap();
    Demo {
        issuer: after(text, "Grantor demo is running at ").to_string(),
        password: after(text, "/ password ").to_string(),
        server: (
            after(text, "(added to the org):  app ID ").to_string(),
            after(text, "app secret ").to_string(),
        ),
        web: (
            after(web_line, "app ID ").to_string(),
            after(web_line, "secret ").to_string(),
        ),
        native: after(native_line, "app ID ").to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trading_api_is_reached_by_a_server_app_a_web_app_and_a_native_app() {
    let mut command = process::grantor();
    command
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped());
    let mut grantor = Process::spawn(command);
    let mut text = String::new();
    for line in BufReader::new(grantor.stdout())
        .lines()
        .map_while(Result::ok)
    {
        text.push_str(&line);
        text.push('\n');
        if line.contains("Stop with Ctrl-C") {
            break;
        }
    }
    let demo = parse_demo(&text);
    let mut command = process::trading();
    command.args(["--issuer", &demo.issuer, "serve", "--listen", "127.0.0.1:0"]);
    let trading = Process::spawn(command);
    let api = trading.word_after("listening on ");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // The API's metadata (RFC 9728) names the demo's Grantor and its scopes.
    let metadata: Value = http
        .get(format!("{api}/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["authorization_servers"], json!([demo.issuer]));
    assert_eq!(
        metadata["scopes_supported"],
        json!(["trades:read", "trades:write"])
    );

    // 1. The server app, with client credentials.
    let bot = BasicClient::new(ClientId::new(demo.server.0.clone()))
        .set_client_secret(ClientSecret::new(demo.server.1.clone()))
        .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", demo.issuer)).unwrap());
    let token = bot
        .exchange_client_credentials()
        .request_async(&OAuthHttp(&http))
        .await
        .unwrap();
    let placed = http
        .post(format!("{api}/orders"))
        .bearer_auth(token.access_token().secret())
        .json(&json!({"symbol": "ACME", "side": "buy", "quantity": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 201);
    let read_only = bot
        .exchange_client_credentials()
        .add_scope(Scope::new("trades:read".into()))
        .request_async(&OAuthHttp(&http))
        .await
        .unwrap();
    let refused = http
        .post(format!("{api}/orders"))
        .bearer_auth(read_only.access_token().secret())
        .json(&json!({"symbol": "ACME", "side": "sell", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(
        refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("scope=\"trades:write\"")
    );

    // 2. The web app: the owner signs in and approves in a browser; the app swaps the code.
    let mut session = HttpSession::new(&demo.issuer);
    let callback = "http://127.0.0.1:9000/callback";
    let url = authorize_url(&demo.web.0, callback, "scope=openid+trades:read&state=w");
    let location = session
        .authorize(&url, "owner@demo.example", &demo.password, &["trades:read"])
        .await;
    let code = code_in(&location);
    let web_basic = Some((demo.web.0.as_str(), demo.web.1.as_str()));
    let (status, tokens) = OAuth::at(&http, &demo.issuer)
        .exchange_code(web_basic, &code, callback)
        .await;
    assert_eq!(status, 200, "{tokens}");
    let orders: Value = http
        .get(format!("{api}/orders"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["caller"]["kind"], "user");
    assert_eq!(
        orders["orders"][0]["symbol"], "ACME",
        "the owner sees the order the bot placed in their organization"
    );

    // 3. The native app: the command-line client listens on a loopback port; the browser
    //    signs in and is sent back to it.
    let mut command = process::trading();
    command
        .args([
            "--issuer",
            &demo.issuer,
            "login",
            "--client-id",
            &demo.native,
            "--api",
            &api,
        ])
        .stdout(Stdio::piped());
    let mut cli = Process::spawn(command);
    let sign_in_url = loop {
        let line = cli
            .stderr
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        if line.starts_with("http") {
            break line;
        }
    };
    assert!(sign_in_url.contains("code_challenge_method=S256"));
    let loopback = session
        .authorize(
            &sign_in_url,
            "owner@demo.example",
            &demo.password,
            &["trades:read", "trades:write"],
        )
        .await;
    assert!(
        loopback.starts_with("http://127.0.0.1:"),
        "back to the client's loopback port: {loopback}"
    );
    let answer = http.get(&loopback).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let mut printed = String::new();
    cli.stdout().read_to_string(&mut printed).unwrap();
    assert!(cli.child.wait().unwrap().success());
    let orders: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(orders["caller"]["kind"], "user");
    assert_eq!(orders["caller"]["app"], demo.native.as_str());
    assert_eq!(orders["orders"].as_array().unwrap().len(), 1);

    // 4. The same client with the device grant: it shows a code and polls; the owner,
    //    signed in on another device, types it at /device and approves.
    let mut command = process::trading();
    command
        .args([
            "--issuer",
            &demo.issuer,
            "login",
            "--device",
            "--client-id",
            &demo.native,
            "--api",
            &api,
        ])
        .stdout(Stdio::piped());
    let mut cli = Process::spawn(command);
    let device_url = loop {
        let line = cli
            .stderr
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        if line.starts_with("http") {
            break line;
        }
    };
    assert!(device_url.contains("/device?user_code="), "{device_url}");
    let page = session.get(&device_url).await;
    let csrf = page.field("csrf").expect("the device page, signed in");
    let code = page.field("user_code").expect("the code filled in");
    let approval = session
        .post("/device", &[("csrf", &csrf), ("user_code", &code)])
        .await;
    let done = session
        .decide(&approval, true, &["trades:read", "trades:write"], None)
        .await;
    assert!(done.body.contains("Device connected"), "{}", done.body);
    let mut printed = String::new();
    cli.stdout().read_to_string(&mut printed).unwrap();
    assert!(cli.child.wait().unwrap().success());
    let orders: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(orders["caller"]["app"], demo.native.as_str());
    drop(grantor);
}
