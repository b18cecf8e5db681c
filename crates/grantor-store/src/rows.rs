//! Row decoding: column to domain type, with the conversions both backends share
//! (flags as 0/1, lists as JSON or space-separated text).

use crate::pool::backend_error;
use grantor_core::StoreError;
use grantor_core::model::{App, AppKeys, Membership, Organization, Role, User};
use grantor_core::scope::ScopeSet;
use grantor_core::store::Window;
use sqlx::Row;
use sqlx::any::AnyRow;

pub(crate) fn get<T>(row: &AnyRow, column: &str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(backend_error)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("stored {what} {value:?} is not valid"))
}

pub(crate) fn json_list(row: &AnyRow, column: &str) -> Result<Vec<String>, StoreError> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text).map_err(|_| corrupt(column, &text))
}

pub(crate) fn scopes(row: &AnyRow, column: &str) -> Result<ScopeSet, StoreError> {
    let text: String = get(row, column)?;
    ScopeSet::parse(&text).map_err(|_| corrupt(column, &text))
}

pub(crate) fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    Ok(get::<i64>(row, column)? != 0)
}

pub(crate) fn organization(row: &AnyRow) -> Result<Organization, StoreError> {
    Ok(Organization {
        id: get(row, "id")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
        require_second_factor: flag(row, "require_second_factor")?,
    })
}

pub(crate) const USER_COLUMNS: &str =
    "id, email, name, password_hash, platform_admin, created_at, disabled_at, email_verified_at";

pub(crate) fn user(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: get(row, "id")?,
        email: get(row, "email")?,
        name: get(row, "name")?,
        password_hash: get(row, "password_hash")?,
        platform_admin: flag(row, "platform_admin")?,
        created_at: get(row, "created_at")?,
        disabled_at: get(row, "disabled_at")?,
        email_verified_at: get(row, "email_verified_at")?,
    })
}

pub(crate) fn membership(row: &AnyRow) -> Result<Membership, StoreError> {
    Ok(Membership {
        org_id: get(row, "org_id")?,
        org_name: get(row, "org_name")?,
        user_id: get(row, "user_id")?,
        email: get(row, "email")?,
        role: role(&get::<String>(row, "role")?)?,
    })
}

/// A stored audit action or outcome, by name.
pub(crate) fn named<T>(
    row: &AnyRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let text: String = get(row, column)?;
    parse(&text).ok_or_else(|| corrupt(column, &text))
}

/// A stored role name.
pub(crate) fn role(name: &str) -> Result<Role, StoreError> {
    name.parse().map_err(|_| corrupt("role", name))
}

pub(crate) const APP_COLUMNS: &str = "client_id, org_id, name, app_type, secret_hash, previous_secret_hash, \
     previous_secret_expires_at, redirect_uris, post_logout_redirect_uris, scopes, allow_password, \
     allow_implicit, access_token_ttl, created_at, allow_device_code, jwks, jwks_uri, require_par";

pub(crate) fn app(row: &AnyRow) -> Result<App, StoreError> {
    let app_type: String = get(row, "app_type")?;
    Ok(App {
        client_id: get(row, "client_id")?,
        org_id: get(row, "org_id")?,
        name: get(row, "name")?,
        app_type: app_type
            .parse()
            .map_err(|_| corrupt("app type", &app_type))?,
        secret_hash: get(row, "secret_hash")?,
        previous_secret_hash: get(row, "previous_secret_hash")?,
        previous_secret_expires_at: get(row, "previous_secret_expires_at")?,
        redirect_uris: json_list(row, "redirect_uris")?,
        post_logout_redirect_uris: json_list(row, "post_logout_redirect_uris")?,
        scopes: scopes(row, "scopes")?,
        allow_password: flag(row, "allow_password")?,
        allow_implicit: flag(row, "allow_implicit")?,
        allow_device_code: flag(row, "allow_device_code")?,
        access_token_ttl: get(row, "access_token_ttl")?,
        created_at: get(row, "created_at")?,
        keys: app_keys(get(row, "jwks")?, get(row, "jwks_uri")?),
        require_par: flag(row, "require_par")?,
    })
}

/// An app's keys from its two columns (at most one is set).
fn app_keys(jwks: Option<String>, jwks_uri: Option<String>) -> Option<AppKeys> {
    match (jwks, jwks_uri) {
        (Some(doc), _) => Some(AppKeys::Jwks(doc)),
        (None, Some(uri)) => Some(AppKeys::Uri(uri)),
        (None, None) => None,
    }
}

/// The `jwks` and `jwks_uri` columns of an app's keys.
pub(crate) fn key_columns(keys: Option<&AppKeys>) -> (Option<&str>, Option<&str>) {
    match keys {
        Some(AppKeys::Jwks(doc)) => (Some(doc), None),
        Some(AppKeys::Uri(uri)) => (None, Some(uri)),
        None => (None, None),
    }
}

pub(crate) fn to_json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// A window's bounds as SQL binds.
pub(crate) fn limit(window: Window) -> i64 {
    i64::try_from(window.limit).unwrap_or(i64::MAX)
}

pub(crate) fn offset(window: Window) -> i64 {
    i64::try_from(window.offset).unwrap_or(i64::MAX)
}
