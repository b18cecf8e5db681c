//! What the micro-benchmarks share.

use serde_json::json;

/// A typical client_credentials access token's claims, shaped like the server's, valid for
/// an hour from now.
pub fn claims() -> serde_json::Value {
    let now = grantor_core::Clock::now(&grantor_core::SystemClock);
    json!({
        "iss": "http://127.0.0.1:8080",
        "sub": "app_af48eb024d0a2adf1e1dc610477cb351",
        "aud": "https://api.example.com",
        "exp": now + 3600,
        "iat": now,
        "jti": "at_040c707094857511f48b26894885e7cc",
        "client_id": "app_af48eb024d0a2adf1e1dc610477cb351",
        "scope": "read write",
        "org_id": "org_595a01de0ce67476a04fad7b9d806186",
    })
}
