//! `/console`: an organization's apps, resource servers, members, API tokens and audit log,
//! for its owners, developers and members. Server-rendered, usable without JavaScript.
//!
//! Handlers stay thin: they open the console (session, organization, role, CSRF), call
//! `Manager`, and render. `Manager` checks the policy and audits every change, so what a page
//! leaves out for a role is a courtesy; the server refuses it anyway.
//!
//! Here, the routes. What every page shares is in `frame.rs` (the page frame and the
//! extractors that open it), `forms.rs` (form refusals, one-time forms) and `view.rs`; what
//! the app pages and the *Create App* wizard share, in `app_parts.rs`.

mod added;
mod api_tokens;
mod app_parts;
mod apps;
mod audit;
pub(super) mod forms;
mod frame;
mod members;
mod registration;
mod resource_servers;
pub(super) mod view;
mod wizard;

use crate::AppState;
use axum::Router;
use axum::routing::{get, post};
use frame::{home, org_home};

pub fn router() -> Router<AppState> {
    let org = |rest: &str| format!("/console/orgs/{{org}}{rest}");
    Router::new()
        .route("/console", get(home))
        .route(&org(""), get(org_home))
        .route(&org("/apps"), get(apps::list))
        .route(&org("/apps/new"), get(wizard::start).post(wizard::step))
        .route(&org("/apps/{app}"), get(apps::show).post(apps::update))
        .route(
            &org("/apps/{app}/delete"),
            get(apps::confirm_delete).post(apps::delete),
        )
        .route(
            &org("/apps/{app}/secret"),
            get(apps::confirm_regenerate).post(apps::regenerate),
        )
        .route(&org("/added-apps"), get(added::list).post(added::add))
        .route(&org("/added-apps/new"), get(added::choose))
        .route(&org("/added-apps/{app}/remove"), post(added::remove))
        .route(
            &org("/resource-servers"),
            get(resource_servers::list).post(resource_servers::create),
        )
        .route(
            &org("/resource-servers/{id}"),
            get(resource_servers::show).post(resource_servers::update),
        )
        .route(
            &org("/api-tokens"),
            get(api_tokens::list).post(api_tokens::create),
        )
        .route(&org("/api-tokens/{id}/revoke"), post(api_tokens::revoke))
        .route(&org("/audit"), get(audit::list))
        .route(
            &org("/registration"),
            get(registration::show).post(registration::change),
        )
        .route(&org("/members"), get(members::list).post(members::invite))
        .route(&org("/members/{user}/role"), post(members::set_role))
        .route(
            &org("/members/second-factor"),
            post(members::require_second_factor),
        )
        .route(&org("/members/{user}/remove"), post(members::remove))
        .route(&org("/invitations/{id}/withdraw"), post(members::withdraw))
}
