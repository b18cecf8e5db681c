//! A typed client of the management API (`/api/v1`): one method per operation, so a call in a
//! test is one line, and the answer's status, content type and body to check.

use crate::support::{PASSWORD, TestServer};
use grantor_core::manage::NewApiToken;
use grantor_core::model::Caller;
use reqwest::Method;
use serde_json::Value;

/// Every management scope an owner may hold.
pub const OWNER_SCOPES: [&str; 5] = [
    "grantor:apps",
    "grantor:members",
    "grantor:resources",
    "grantor:audit",
    "grantor:api-tokens",
];

/// The platform admin [`TestServer::platform_admin`] creates.
pub const PLATFORM_ADMIN: &str = "root@ops.example";

/// An answer of the management API.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// The JSON body; `Null` when there is none.
    pub body: Value,
}

impl Reply {
    /// The body, once the status is `status`.
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        self.body
    }

    /// The fields a 422 problem names, sorted, once checked that each comes with a reason.
    pub fn refused_fields(&self) -> Vec<String> {
        assert_eq!(self.status, 422, "{}", self.body);
        assert_eq!(self.content_type, "application/problem+json");
        let errors = self.body["errors"].as_array().cloned().unwrap_or_default();
        assert!(
            errors
                .iter()
                .all(|e| !e["message"].as_str().unwrap_or_default().is_empty()),
            "{}",
            self.body
        );
        let mut fields: Vec<String> = errors
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_string())
            .collect();
        fields.sort();
        fields
    }

    /// How many items a list answer holds.
    pub fn count(&self) -> usize {
        self.body["items"].as_array().map_or(0, Vec::len)
    }
}

/// The management API of a [`TestServer`] as the holder of one bearer token (or of none).
pub struct Api<'a> {
    srv: &'a TestServer,
    token: Option<String>,
}

impl TestServer {
    /// The management API as the holder of `token`.
    pub fn api(&self, token: &str) -> Api<'_> {
        Api {
            srv: self,
            token: Some(token.to_string()),
        }
    }

    /// The management API without a token.
    pub fn api_anonymous(&self) -> Api<'_> {
        Api {
            srv: self,
            token: None,
        }
    }

    /// The management API as `email` in `org`, through an API token with `scopes` (those the
    /// user's role allows) exchanged for an access token.
    pub async fn api_as(&self, org: &str, email: &str, scopes: &[&str]) -> Api<'_> {
        let token = self.user_token(org, email, scopes).await;
        self.api(&token)
    }

    /// An access token for the management API acting as `email` in `org`: an API token with
    /// `scopes`, exchanged.
    pub async fn user_token(&self, org: &str, email: &str, scopes: &[&str]) -> String {
        let (_, secret) = self
            .state
            .manager
            .create_api_token(
                &Caller::operator(),
                org,
                email,
                NewApiToken {
                    name: "test".into(),
                    scopes: scopes.iter().map(|s| s.to_string()).collect(),
                    expires_in: None,
                },
            )
            .await
            .unwrap();
        let (status, body) = self.oauth().exchange_api_token(&secret, None).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Creates the platform admin [`PLATFORM_ADMIN`], who belongs to no organization yet.
    pub async fn platform_admin(&self) {
        self.state
            .manager
            .create_user(
                &Caller::operator(),
                PLATFORM_ADMIN,
                Some(PASSWORD),
                None,
                true,
            )
            .await
            .unwrap();
    }
}

impl Api<'_> {
    /// The bearer token this caller sends.
    pub fn token(&self) -> &str {
        self.token.as_deref().unwrap_or_default()
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.srv.http.request(method, self.srv.url(path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Reply {
            status,
            content_type,
            body: resp.json().await.unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// POSTs with an `Idempotency-Key`; returns status, whether it was a replay, and body.
    pub async fn post_once(&self, path: &str, key: &str, body: &Value) -> (u16, bool, Value) {
        let resp = self
            .srv
            .http
            .post(self.srv.url(path))
            .bearer_auth(self.token())
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let replayed = resp.headers().contains_key("idempotent-replayed");
        (status, replayed, resp.json().await.unwrap_or(Value::Null))
    }

    /// Every item of the list at `path`, page by page (`limit` each), checking each page.
    pub async fn all(&self, path: &str, limit: usize) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let join = if path.contains('?') { '&' } else { '?' };
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{join}limit={limit}&cursor={c}"),
                None => format!("{path}{join}limit={limit}"),
            };
            let page = self.get(&url).await.expect(200);
            let got = page["items"].as_array().unwrap().clone();
            assert!(got.len() <= limit, "{url}: {page}");
            items.extend(got);
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return items,
            }
        }
    }

    // Organizations and users.

    pub async fn orgs(&self) -> Reply {
        self.get("/api/v1/orgs").await
    }

    pub async fn create_org(&self, body: Value) -> Reply {
        self.post("/api/v1/orgs", body).await
    }

    pub async fn org(&self, org: &str) -> Reply {
        self.get(&format!("/api/v1/orgs/{org}")).await
    }

    pub async fn create_user(&self, body: Value) -> Reply {
        self.post("/api/v1/users", body).await
    }

    // Members.

    pub async fn members(&self, org: &str) -> Reply {
        self.get(&format!("/api/v1/orgs/{org}/members")).await
    }

    pub async fn add_member(&self, org: &str, body: Value) -> Reply {
        self.post(&format!("/api/v1/orgs/{org}/members"), body)
            .await
    }

    pub async fn update_member(&self, org: &str, user: &str, body: Value) -> Reply {
        self.patch(&format!("/api/v1/orgs/{org}/members/{user}"), body)
            .await
    }

    pub async fn remove_member(&self, org: &str, user: &str) -> Reply {
        self.delete(&format!("/api/v1/orgs/{org}/members/{user}"))
            .await
    }

    // Apps and their secrets.

    pub async fn apps(&self, org: &str) -> Reply {
        self.get(&format!("/api/v1/orgs/{org}/apps")).await
    }

    pub async fn create_app(&self, org: &str, body: Value) -> Reply {
        self.post(&format!("/api/v1/orgs/{org}/apps"), body).await
    }

    pub async fn app(&self, org: &str, client_id: &str) -> Reply {
        self.get(&format!("/api/v1/orgs/{org}/apps/{client_id}"))
            .await
    }

    pub async fn update_app(&self, org: &str, client_id: &str, body: Value) -> Reply {
        self.patch(&format!("/api/v1/orgs/{org}/apps/{client_id}"), body)
            .await
    }

    /// Regenerates an app's secret; `body` may keep the old one for a while.
    pub async fn regenerate_secret(
        &self,
        org: &str,
        client_id: &str,
        body: Option<Value>,
    ) -> Reply {
        let path = format!("/api/v1/orgs/{org}/apps/{client_id}/secret");
        self.call(Method::POST, &path, body).await
    }

    // Apps added to an organization.

    /// The apps added to `org`; `query` pages (`limit=1&cursor=...`).
    pub async fn added_apps(&self, org: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/orgs/{org}/added-apps?{query}"))
            .await
    }

    pub async fn add_app(&self, org: &str, body: Value) -> Reply {
        self.post(&format!("/api/v1/orgs/{org}/added-apps"), body)
            .await
    }

    // Resource servers.

    pub async fn resource_servers(&self, org: &str) -> Reply {
        self.get(&format!("/api/v1/orgs/{org}/resource-servers"))
            .await
    }

    pub async fn create_resource_server(&self, org: &str, body: Value) -> Reply {
        self.post(&format!("/api/v1/orgs/{org}/resource-servers"), body)
            .await
    }

    // The audit log.

    /// The audit log of `org`; `query` filters and pages (`action=app.create&limit=2`).
    pub async fn audit_events(&self, org: &str, query: &str) -> Reply {
        self.get(&format!("/api/v1/orgs/{org}/audit-events?{query}"))
            .await
    }

    // The caller's own API tokens.

    pub async fn api_tokens(&self) -> Reply {
        self.get("/api/v1/me/api-tokens").await
    }

    pub async fn create_api_token(&self, body: Value) -> Reply {
        self.post("/api/v1/me/api-tokens", body).await
    }

    pub async fn revoke_api_token(&self, id: &str) -> Reply {
        self.delete(&format!("/api/v1/me/api-tokens/{id}")).await
    }
}
