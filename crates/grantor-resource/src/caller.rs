use crate::error::TokenError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// Who is calling: a user (through an app) or an app acting for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    User,
    App,
}

/// The authenticated caller of a request, put there by [`crate::RequireToken`].
///
/// ```
/// use grantor_resource::Caller;
///
/// async fn place_order(caller: Caller) -> String {
///     format!("{} places an order in {}", caller.subject, caller.org_id)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub kind: CallerKind,
    /// The user id, or for an app acting for itself its client id.
    pub subject: String,
    /// The app the token was issued to.
    pub client_id: String,
    /// The organization the token acts in.
    pub org_id: String,
    pub scopes: Vec<String>,
    /// Unix time the token expires.
    pub expires_at: i64,
    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`): the request came
    /// with a proof by that key.
    pub jkt: Option<String>,
}

impl Caller {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = TokenError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Absent only when the route is not behind RequireToken: answer as for a missing token.
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(TokenError::Missing)
    }
}
