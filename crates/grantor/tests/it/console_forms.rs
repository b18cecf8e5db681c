//! The console over plain HTTP, on both databases: what a browser cannot show better (each
//! refusal beside its field, double submission, direct posts by roles that may not,
//! single-use invitations, the only owner, the audit log's pages).

use crate::console::*;
use crate::support::http_session::{HttpSession, Page};
use crate::support::oauth::enc;
use crate::support::{self, Backend, PASSWORD, TestServer};
use grantor_core::model::{Caller, Role};
use grantor_core::store::{AppStore, MemberStore, ResourceServerStore, UserStore, Window};

/// Signs in over plain HTTP and returns the console page it lands on.
async fn sign_in(srv: &TestServer, email: &str, path: &str) -> (HttpSession, Page) {
    let mut b = srv.http_session();
    let page = b.get(&format!("/login?return_to={}", enc(path))).await;
    let page = b.sign_in(&page, email, PASSWORD).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (b, page)
}

/// The final step of *Create App*, as the browser sends it.
fn wizard_form<'a>(csrf: &'a str, once: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("once", once),
        ("step", "review"),
        ("app_type", "server"),
        ("name", name),
        ("scope", "trades:read"),
        ("go", "create"),
    ]
}

/// Whether a refused form shows a message under each of these ids, and no other.
fn refused_beside(page: &Page, ids: &[&str]) {
    assert_eq!(page.status, 422, "{}", page.body);
    for id in ids {
        assert!(
            page.body.contains(&format!("id=\"{id}\"")),
            "{id}: {}",
            page.body
        );
    }
    let shown = page.body.matches("role=\"alert\"").count();
    assert_eq!(shown, ids.len(), "one message per field: {}", page.body);
}

/// Opens a form's page and sends the form with that page's one-time key and `fields`.
async fn send_once(b: &mut HttpSession, path: &str, csrf: &str, fields: &[(&str, &str)]) -> Page {
    let once = b.get(path).await.field("once").unwrap();
    let mut form = vec![("csrf", csrf), ("once", once.as_str())];
    form.extend_from_slice(fields);
    b.post(path, &form).await
}

/// Every field `Manager` refuses is named beside its form field in the console, all at once.
async fn forms_show_each_refusal_beside_its_field(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let servers = console_path(&seed, "/resource-servers");
    let (mut b, page) = sign_in(&srv, &owner, &servers).await;
    let csrf = page.field("csrf").unwrap();
    let refused = b
        .post(
            &servers,
            &[
                ("csrf", &csrf),
                ("identifier", "not a uri"),
                ("name", ""),
                (
                    "scopes",
                    "ledger:read Read\ngrantor:apps Reserved\nledger:read Again",
                ),
            ],
        )
        .await;
    refused_beside(
        &refused,
        &["identifier-error", "rs-name-error", "scopes-error"],
    );
    assert!(refused.body.contains("grantor:apps") && refused.body.contains("listed twice"));
    let trading = srv
        .state
        .store
        .resource_servers(&seed.org.id)
        .await
        .unwrap();
    assert_eq!(trading.len(), 1, "nothing was made");
    let edited = b
        .post(
            &format!("{servers}/{}", trading[0].id),
            &[("csrf", &csrf), ("name", " "), ("scopes", "")],
        )
        .await;
    refused_beside(&edited, &["rs-name-error", "scopes-error"]);

    let members = console_path(&seed, "/members");
    let invited = send_once(
        &mut b,
        &members,
        &csrf,
        &[("email", "nobody"), ("role", "boss")],
    )
    .await;
    refused_beside(&invited, &["invite-error", "invite-role-error"]);

    let tokens = console_path(&seed, "/api-tokens");
    let token = send_once(
        &mut b,
        &tokens,
        &csrf,
        &[
            ("name", ""),
            ("scope", "grantor:orgs"),
            ("expiry_days", "7"),
        ],
    )
    .await;
    refused_beside(&token, &["token-name-error", "token-scopes-error"]);
}

/// A final wizard form sent twice makes one app; the second answer points to it.
async fn a_double_submitted_wizard_makes_one_app(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let (mut b, _) = sign_in(&srv, &owner, &console_path(&seed, "/apps/new")).await;
    let start = b.get(&console_path(&seed, "/apps/new")).await;
    let csrf = start.field("csrf").unwrap();
    let once = start.field("once").unwrap();
    let form = wizard_form(&csrf, &once, "Twice");
    let first = b.post(&console_path(&seed, "/apps/new"), &form).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert!(first.body.contains("gr_sec_"));
    let second = b.post(&console_path(&seed, "/apps/new"), &form).await;
    assert_eq!(second.status, 303);
    let location = second.location.unwrap();
    assert!(location.ends_with("?done=again"), "{location}");
    let apps = srv
        .state
        .store
        .apps(&seed.org.id, Window::first(100))
        .await
        .unwrap();
    assert_eq!(apps.iter().filter(|a| a.name == "Twice").count(), 1);
    let shown = b.get(&location).await;
    assert!(shown.body.contains("already sent") && !shown.body.contains("gr_sec_"));
}

/// A refused final form can be corrected and sent again with the same one-time key.
async fn a_refused_wizard_can_be_corrected(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let (mut b, _) = sign_in(&srv, &owner, &console_path(&seed, "/apps/new")).await;
    let start = b.get(&console_path(&seed, "/apps/new")).await;
    let csrf = start.field("csrf").unwrap();
    let once = start.field("once").unwrap();
    let long = "x".repeat(101);
    let refused = b
        .post(
            &console_path(&seed, "/apps/new"),
            &wizard_form(&csrf, &once, &long),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"name-error\""),
        "beside the field"
    );
    let fixed = b
        .post(
            &console_path(&seed, "/apps/new"),
            &wizard_form(&csrf, &once, "Fixed"),
        )
        .await;
    assert_eq!(fixed.status, 201, "{}", fixed.body);
}

/// What developers and members are not shown, they cannot do by posting the form either.
async fn roles_see_and_reach_only_what_they_may(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, _) = acme(&srv).await;
    let (dev, mem) = ("dev@acme.example", "mem@acme.example");
    srv.member(&seed.org.id, dev, Role::Developer).await;
    srv.member(&seed.org.id, mem, Role::Member).await;
    let bot = console_path(&seed, &format!("/apps/{}", seed.client_id()));

    let (mut d, apps) = sign_in(&srv, dev, &console_path(&seed, "/apps")).await;
    assert!(apps.body.contains("Create App"));
    assert!(!apps.body.contains("Audit log"));
    let app = d.get(&bot).await;
    assert!(app.body.contains("Delete app") && app.body.contains("Save changes"));
    assert!(!app.body.contains("Regenerate secret"));
    let members = d.get(&console_path(&seed, "/members")).await;
    assert_eq!(members.status, 200);
    assert!(!members.body.contains("Invite someone") && !members.body.contains("Remove"));
    let added = d.get(&console_path(&seed, "/added-apps")).await;
    assert!(!added.body.contains("Find app") && !added.body.contains(">Remove<"));
    let csrf = app.field("csrf").unwrap();
    let regenerated = d
        .post(
            &format!("{bot}/secret"),
            &[
                ("csrf", &csrf),
                ("once", "once_direct1"),
                ("grace_seconds", "0"),
            ],
        )
        .await;
    assert_eq!(regenerated.status, 403, "{}", regenerated.body);
    assert!(regenerated.body.contains("regenerate app secrets"));
    let invited = d
        .post(
            &console_path(&seed, "/members"),
            &[
                ("csrf", &csrf),
                ("once", "once_direct2"),
                ("email", "x@acme.example"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(invited.status, 403, "{}", invited.body);
    let added = d
        .post(
            &console_path(&seed, "/added-apps"),
            &[
                ("csrf", &csrf),
                ("client_id", seed.client_id()),
                ("scope", "trades:read"),
            ],
        )
        .await;
    assert_eq!(added.status, 403, "{}", added.body);
    assert_eq!(d.get(&console_path(&seed, "/audit")).await.status, 403);

    let (mut m, apps) = sign_in(&srv, mem, &console_path(&seed, "/apps")).await;
    assert!(!apps.body.contains("Create App"));
    let app = m.get(&bot).await;
    assert!(!app.body.contains("Save changes") && !app.body.contains("Delete app"));
    let tokens = m.get(&console_path(&seed, "/api-tokens")).await;
    assert!(tokens.body.contains("Create token"));
    assert!(
        !tokens.body.contains("grantor:members"),
        "scopes within the role"
    );
    let csrf = tokens.field("csrf").unwrap();
    let created = m
        .post(
            &console_path(&seed, "/apps/new"),
            &wizard_form(&csrf, "once_direct3", "Sneaky"),
        )
        .await;
    assert_eq!(created.status, 403, "{}", created.body);
    let deleted = m.post(&format!("{bot}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(deleted.status, 403);
    let token = m
        .post(
            &console_path(&seed, "/api-tokens"),
            &[
                ("csrf", &csrf),
                ("once", "once_direct4"),
                ("name", "too much"),
                ("scope", "grantor:members"),
                ("expiry_days", "7"),
            ],
        )
        .await;
    assert_eq!(
        token.status, 422,
        "beyond the role: refused beside the form"
    );
    // Nothing changed: the old secret works, no app was made.
    let (status, _) = srv.client_credentials(&seed, &[]).await;
    assert_eq!(status, 200);
    let apps = srv
        .state
        .store
        .apps(&seed.org.id, Window::first(100))
        .await
        .unwrap();
    assert!(!apps.iter().any(|a| a.name == "Sneaky"));
    // A form without this session's CSRF token changes nothing either.
    let forged = m
        .post(&format!("{bot}/delete"), &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("Form expired"));
}

/// An invitation link is single use, needs no session, and an existing user accepts it by
/// signing in as the invited account.
async fn invitations_are_single_use(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let (mut o, members) = sign_in(&srv, &owner, &console_path(&seed, "/members")).await;
    let invite = |email: &'static str, role: &'static str, page: &Page| {
        let csrf = page.field("csrf").unwrap();
        let once = page.field("once").unwrap();
        (csrf, once, email, role)
    };
    let (csrf, once, email, role) = invite("neo@acme.example", "member", &members);
    let page = o
        .post(
            &console_path(&seed, "/members"),
            &[
                ("csrf", &csrf),
                ("once", &once),
                ("email", email),
                ("role", role),
            ],
        )
        .await;
    assert_eq!(page.status, 201, "{}", page.body);
    let start = page.body.find("/invitations/gr_inv_").unwrap();
    let end = start + page.body[start..].find('<').unwrap();
    let path = page.body[start..end].to_string();

    let mut neo = srv.http_session();
    let join = neo.get(&path).await;
    assert_eq!(join.status, 200, "{}", join.body);
    let csrf = join.field("csrf").unwrap();
    let short = neo
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("name", "Neo"),
                ("password", "short"),
                ("password_again", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 8 characters"));
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Neo"),
        ("password", "a long new password"),
        ("password_again", "a long new password"),
    ];
    let joined = neo.post(&path, &form).await;
    assert_eq!(joined.status, 303);
    assert!(joined.location.unwrap().starts_with("/login?return_to="));
    let again = neo.post(&path, &form).await;
    assert_eq!(again.status, 410);
    assert_eq!(neo.get(&path).await.status, 410);
    let user = srv
        .state
        .store
        .user_by_email("neo@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.name, "Neo");

    // An existing user of another organization joins by signing in.
    let globex = srv.seed("globex").await;
    let gus = "gus@globex.example";
    srv.member(&globex.org.id, gus, Role::Owner).await;
    let members = o.get(&console_path(&seed, "/members")).await;
    let (csrf, once, email, role) = invite(gus, "developer", &members);
    let page = o
        .post(
            &console_path(&seed, "/members"),
            &[
                ("csrf", &csrf),
                ("once", &once),
                ("email", email),
                ("role", role),
            ],
        )
        .await;
    let start = page.body.find("/invitations/gr_inv_").unwrap();
    let end = start + page.body[start..].find('<').unwrap();
    let path = page.body[start..end].to_string();
    let (mut g, _) = sign_in(&srv, gus, &path).await;
    let join = g.get(&path).await;
    assert!(join.body.contains("Join acme</button>"), "{}", join.body);
    let csrf = join.field("csrf").unwrap();
    let joined = g.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(joined.status, 303);
    let memberships = srv
        .state
        .store
        .memberships_of_user(
            &srv.state
                .store
                .user_by_email(gus)
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    assert_eq!(memberships.len(), 2);
    assert!(
        memberships
            .iter()
            .any(|m| m.org_id == seed.org.id && m.role == Role::Developer)
    );
}

/// An organization keeps an owner: the only one can neither step down nor be removed.
async fn the_only_owner_stays(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let (mut o, members) = sign_in(&srv, &owner, &console_path(&seed, "/members")).await;
    let csrf = members.field("csrf").unwrap();
    let me = UserStore::user_by_email(&srv.state.store, &owner)
        .await
        .unwrap()
        .unwrap()
        .id;
    let demoted = o
        .post(
            &console_path(&seed, &format!("/members/{me}/role")),
            &[("csrf", &csrf), ("role", "member")],
        )
        .await;
    assert_eq!(demoted.status, 422);
    assert!(demoted.body.contains("only owner"), "{}", demoted.body);
    let removed = o
        .post(
            &console_path(&seed, &format!("/members/{me}/remove")),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status, 422);
    srv.member(&seed.org.id, "otto@acme.example", Role::Owner)
        .await;
    let demoted = o
        .post(
            &console_path(&seed, &format!("/members/{me}/role")),
            &[("csrf", &csrf), ("role", "developer")],
        )
        .await;
    assert_eq!(
        demoted.status, 303,
        "with another owner, stepping down works"
    );
}

/// The audit log pages back in time and filters by actor (an email works), action and
/// object; a member cannot read it.
async fn the_audit_log_is_filtered_and_paged(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let op = Caller::operator();
    for i in 0..30 {
        srv.state
            .manager
            .create_api_token(
                &op,
                &seed.org.id,
                &owner,
                grantor_core::manage::NewApiToken {
                    name: format!("token {i}"),
                    scopes: vec!["trades:read".into()],
                    expires_in: None,
                },
            )
            .await
            .unwrap();
    }
    let audit = console_path(&seed, "/audit");
    let (mut o, first) = sign_in(&srv, &owner, &audit).await;
    assert_eq!(
        first.body.matches("<tr>").count(),
        26,
        "a header and 25 events"
    );
    let start = first.body.find("/audit?").expect("a link to older events");
    let end = start + first.body[start..].find('"').unwrap();
    let older = first.body[start..end]
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let second = o
        .get(&format!("/console/orgs/{}{older}", seed.org.id))
        .await;
    assert_eq!(second.status, 200);
    assert!(second.body.contains("Newest events") && !second.body.contains("Older events"));
    let tokens = |page: &Page| page.body.matches("api_token.create").count();
    assert_eq!(tokens(&first) + tokens(&second), 30, "each event once");
    let filtered = o
        .get(&format!(
            "{audit}?action=app.create&target={}",
            seed.client_id()
        ))
        .await;
    assert_eq!(
        filtered.body.matches("<tr>").count(),
        2,
        "header and one event"
    );
    let by_owner = o.get(&format!("{audit}?actor={owner}")).await;
    assert!(
        by_owner.body.contains("No event matches."),
        "the owner did nothing yet"
    );
    let by_cli = o.get(&format!("{audit}?actor=cli&action=member.put")).await;
    assert!(by_cli.body.contains(&owner));
    srv.member(&seed.org.id, "mem@acme.example", Role::Member)
        .await;
    let (mut m, _) = sign_in(&srv, "mem@acme.example", &console_path(&seed, "/apps")).await;
    assert_eq!(m.get(&audit).await.status, 403);
}

/// Deleting an app takes its confirmation page; removing an added app stops its tokens there.
async fn deleting_an_app_and_removing_access(backend: Backend) {
    let srv = TestServer::spawn(backend).await;
    let (seed, owner) = acme(&srv).await;
    let doomed = srv
        .state
        .manager
        .create_app(
            &Caller::operator(),
            &seed.org.id,
            support::server_app("doomed", &["trades:read"]),
        )
        .await
        .unwrap();
    let doomed_path = console_path(&seed, &format!("/apps/{}", doomed.app.client_id));
    let (mut o, _) = sign_in(&srv, &owner, &doomed_path).await;
    let confirm = o.get(&format!("{doomed_path}/delete")).await;
    assert!(confirm.body.contains("Delete doomed?"), "{}", confirm.body);
    let csrf = confirm.field("csrf").unwrap();
    let deleted = o
        .post(&format!("{doomed_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(deleted.status, 303);
    let listed = o.follow(deleted).await;
    assert!(listed.body.contains("The app was deleted.") && !listed.body.contains("doomed"));
    assert_eq!(o.get(&doomed_path).await.status, 404);

    let (status, _) = srv.client_credentials(&seed, &[]).await;
    assert_eq!(status, 200);
    let removed = o
        .post(
            &console_path(&seed, &format!("/added-apps/{}/remove", seed.client_id())),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status, 303);
    let (status, body) = srv.client_credentials(&seed, &[]).await;
    assert_ne!(status, 200, "no longer added: {body}");
}

crate::both_backends!(
    a_double_submitted_wizard_makes_one_app,
    a_refused_wizard_can_be_corrected,
    roles_see_and_reach_only_what_they_may,
    invitations_are_single_use,
    the_only_owner_stays,
    the_audit_log_is_filtered_and_paged,
    deleting_an_app_and_removing_access,
    forms_show_each_refusal_beside_its_field,
);
