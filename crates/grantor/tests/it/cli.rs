//! The admin CLI: its commands and JSON keys are a contract, and its changes reach a running
//! server within a second.

use crate::both_backends;
use crate::support::{Backend, TestServer, cli, eventually};
use std::time::Duration;

both_backends!(
    the_cli_bootstraps_an_install_and_keeps_its_contract,
    cli_changes_reach_a_running_server_within_a_second
);

async fn the_cli_bootstraps_an_install_and_keeps_its_contract(backend: Backend) {
    let db = crate::support::db::TestDatabase::create(backend).await;
    let url = db.url.as_str();
    let (ok, org, _) = cli(url, &["org", "create", "--name", "acme"], None).await;
    assert!(ok);
    assert_eq!(org["name"], "acme");
    let org_id = org["id"].as_str().unwrap().to_string();

    let (ok, user, err) = cli(
        url,
        &[
            "user",
            "create",
            "--email",
            "Ann@Acme.example",
            "--password-stdin",
            "--name",
            "Ann",
        ],
        Some("correct horse battery\n"),
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(user["email"], "ann@acme.example");
    assert!(user["id"].is_string());
    assert!(
        user.get("password_hash").is_none(),
        "hashes are never printed"
    );

    let (ok, _, err) = cli(
        url,
        &[
            "member",
            "add",
            "--org",
            "acme",
            "--user",
            "ann@acme.example",
            "--role",
            "owner",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");

    let (ok, rs, err) = cli(
        url,
        &[
            "resource",
            "create",
            "--org",
            &org_id,
            "--identifier",
            "https://trading.example.com",
            "--name",
            "Trading",
            "--scope",
            "trades:read=Read trades",
            "--scope",
            "trades:write",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(rs["identifier"], "https://trading.example.com");
    assert_eq!(rs["scopes"][0]["name"], "trades:read");
    assert_eq!(rs["scopes"][0]["description"], "Read trades");
    assert!(rs["id"].is_string());

    let (ok, app, err) = cli(
        url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "server",
            "--name",
            "bot",
            "--scope",
            "trades:read",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(app["type"], "server");
    let client_id = app["client_id"].as_str().unwrap().to_string();
    let secret = app["client_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("gr_sec_"));

    let (ok, native, _) = cli(
        url,
        &[
            "app",
            "create",
            "--org",
            "acme",
            "--type",
            "native",
            "--name",
            "cli",
            "--redirect-uri",
            "http://127.0.0.1/callback",
            "--allow-grant",
            "password",
        ],
        None,
    )
    .await;
    assert!(ok);
    assert!(
        native.get("client_secret").is_none(),
        "native apps have no secret"
    );
    assert_eq!(
        native["legacy_grant_types"],
        serde_json::json!(["password"])
    );

    let (ok, grant, err) = cli(
        url,
        &[
            "app",
            "add-to-org",
            "--app",
            &client_id,
            "--org",
            "acme",
            "--scope",
            "trades:read",
        ],
        None,
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(grant["scopes"], serde_json::json!(["trades:read"]));

    let (ok, regenerated, _) = cli(
        url,
        &["app", "regenerate-secret", "--app", &client_id],
        None,
    )
    .await;
    assert!(ok);
    assert_eq!(regenerated["client_id"], client_id.as_str());
    assert_ne!(regenerated["client_secret"], secret.as_str());

    let (ok, list, _) = cli(url, &["app", "list", "--org", "acme"], None).await;
    assert!(ok);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("client_secret").is_none()),
        "secrets are shown only once"
    );
    let (ok, shown, _) = cli(url, &["app", "show", &client_id], None).await;
    assert!(ok);
    assert_eq!(shown["organizations"][0]["org_name"], "acme");

    // Errors: non-zero exit, a clear message on stderr, nothing on stdout.
    let failures: [&[&str]; 4] = [
        &[
            "app", "create", "--org", "nope", "--type", "server", "--name", "x",
        ],
        &[
            "app", "create", "--org", "acme", "--type", "robot", "--name", "x",
        ],
        &[
            "app",
            "add-to-org",
            "--app",
            &client_id,
            "--org",
            "acme",
            "--scope",
            "trades:write",
        ],
        &["org", "create", "--name", "acme"],
    ];
    for args in failures {
        let (ok, out, err) = cli(url, args, None).await;
        assert!(!ok, "{args:?} should fail");
        assert_eq!(out, serde_json::Value::Null);
        assert!(err.contains("error:"), "{args:?}: {err}");
    }
}

async fn cli_changes_reach_a_running_server_within_a_second(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let seed = srv.seed("acme").await;
    let (status, _) = srv.client_credentials(&seed, &[]).await;
    assert_eq!(status, 200, "warms the server's cache");
    let (ok, _, err) = cli(
        &srv.db.url,
        &["app", "regenerate-secret", "--app", seed.client_id()],
        None,
    )
    .await;
    assert!(ok, "{err}");
    eventually(
        "the old secret is refused (within 1 s)",
        Duration::from_secs(1),
        || async { srv.client_credentials(&seed, &[]).await.0 == 401 },
    )
    .await;
}
