//! `/`: the way in. A signed-in person goes to the console, anyone else to the sign-in page,
//! which returns them to the console.

use super::{see_other, session};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session::current(&state, &headers).await {
        Some(_) => see_other("/console"),
        None => see_other("/login?return_to=%2Fconsole"),
    }
}
