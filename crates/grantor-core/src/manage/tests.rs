//! Helpers shared by the parts' unit tests, and the tests of `Manager` as a whole: every change
//! refused below its role and audited at it.

use super::*;
use crate::model::{ResourceServer, ScopeDefinition};

/// The fields an `InvalidFields` refusal names, in order.
pub(super) fn fields<T: std::fmt::Debug>(checked: Result<T, ServiceError>) -> Vec<String> {
    match checked {
        Err(ServiceError::InvalidFields(errors)) => {
            assert!(errors.iter().all(|e| !e.message.is_empty()), "{errors:?}");
            errors.into_iter().map(|e| e.field).collect()
        }
        other => panic!("expected invalid fields, got {other:?}"),
    }
}

pub(super) fn scope(name: &str, description: &str) -> ScopeDefinition {
    ScopeDefinition {
        name: name.into(),
        description: description.into(),
    }
}

pub(super) fn resource_server(
    identifier: &str,
    name: &str,
    scopes: Vec<ScopeDefinition>,
) -> ResourceServer {
    ResourceServer {
        id: "rs_1".into(),
        org_id: "org_1".into(),
        identifier: identifier.into(),
        name: name.into(),
        scopes,
        created_at: 0,
    }
}

/// A change each front end can ask `Manager` for, run against a fresh world.
#[derive(Debug, Clone, Copy)]
enum Call {
    CreateApp,
    UpdateApp,
    DeleteApp,
    RegenerateSecret,
    AddApp,
    RemoveAddedApp,
    CreateResourceServer,
    UpdateResourceServer,
    DeleteResourceServer,
    AddMember,
    SetMemberRole,
    RemoveMember,
    InviteMember,
    WithdrawInvitation,
    ReadAudit,
}

/// What a call acts on, made by the operator beforehand.
struct Stage {
    app: String,
    rs: String,
    invitation: String,
}

async fn stage(w: &crate::testing::World) -> Stage {
    use crate::model::AppType;
    use crate::testing::{new_app, ok};
    let op = Caller::operator();
    let org = w.org.name.as_str();
    let rs = ok(w
        .manager
        .create_resource_server(
            &op,
            org,
            "https://api.acme.test",
            "API",
            vec![scope("read", "Read")],
        )
        .await)
    .id;
    let new = new_app(AppType::Server, "Reports", &["read"]);
    let app = ok(w.manager.create_app(&op, org, new).await).app.client_id;
    let invited = w
        .manager
        .invite_member(&op, org, "new@acme.test", Role::Member);
    let invitation = ok(invited.await).0.id;
    Stage {
        app,
        rs,
        invitation,
    }
}

async fn run(
    w: &crate::testing::World,
    s: &Stage,
    who: &Caller,
    call: Call,
) -> Result<(), ServiceError> {
    use crate::model::AppType;
    let (m, org) = (&w.manager, w.org.name.as_str());
    let app = Some(org);
    let member = w.member.email.as_str();
    match call {
        Call::CreateApp => {
            let new = crate::testing::new_app(AppType::Web, "Shop", &["profile"]);
            m.create_app(who, org, new).await.map(drop)
        }
        Call::UpdateApp => {
            let changes = AppChanges {
                name: Some("Renamed".into()),
                ..Default::default()
            };
            m.update_app(who, app, &s.app, changes).await.map(drop)
        }
        Call::DeleteApp => m.delete_app(who, app, &s.app).await,
        Call::RegenerateSecret => m.regenerate_secret(who, app, &s.app, 0).await.map(drop),
        Call::AddApp => {
            let scopes = vec!["read".to_string()];
            m.add_app_to_organization(who, &s.app, org, scopes)
                .await
                .map(drop)
        }
        Call::RemoveAddedApp => m.remove_app_from_organization(who, &s.app, org).await,
        Call::CreateResourceServer => m
            .create_resource_server(who, org, "https://b.acme.test", "B", vec![scope("b", "B")])
            .await
            .map(drop),
        Call::UpdateResourceServer => {
            let changes = ResourceServerChanges {
                name: Some("Renamed".into()),
                scopes: None,
            };
            m.update_resource_server(who, org, &s.rs, changes)
                .await
                .map(drop)
        }
        Call::DeleteResourceServer => m.delete_resource_server(who, org, &s.rs).await,
        Call::AddMember => m
            .add_member(who, org, member, Role::Developer)
            .await
            .map(drop),
        Call::SetMemberRole => m
            .set_member_role(who, org, member, Role::Developer)
            .await
            .map(drop),
        Call::RemoveMember => m.remove_member(who, org, member).await,
        Call::InviteMember => m
            .invite_member(who, org, "x@acme.test", Role::Member)
            .await
            .map(drop),
        Call::WithdrawInvitation => m.withdraw_invitation(who, org, &s.invitation).await,
        Call::ReadAudit => m
            .audit_events(
                who,
                org,
                &crate::store::AuditQuery {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .map(drop),
    }
}

/// Every change `Manager` makes, tried by the role just below the one it needs (refused,
/// and the refusal recorded for the owners) and by that role (done, and recorded).
#[tokio::test]
async fn each_change_is_refused_below_its_role_and_audited_at_it() {
    use crate::testing::World;
    use Call::*;
    // (call, the role it needs, the policy action a refusal records, the event a success
    // records: None for a read).
    let table: [(Call, Role, &str, Option<&str>); 15] = [
        (CreateApp, Role::Developer, "app.manage", Some("app.create")),
        (UpdateApp, Role::Developer, "app.manage", Some("app.update")),
        (DeleteApp, Role::Developer, "app.manage", Some("app.delete")),
        (
            RegenerateSecret,
            Role::Owner,
            "app.regenerate_secret",
            Some("app.regenerate_secret"),
        ),
        (
            AddApp,
            Role::Owner,
            "app.add_to_organization",
            Some("app.add_to_organization"),
        ),
        (
            RemoveAddedApp,
            Role::Owner,
            "app.add_to_organization",
            Some("app.remove_from_organization"),
        ),
        (
            CreateResourceServer,
            Role::Developer,
            "resource_server.manage",
            Some("resource_server.create"),
        ),
        (
            UpdateResourceServer,
            Role::Developer,
            "resource_server.manage",
            Some("resource_server.update"),
        ),
        (
            DeleteResourceServer,
            Role::Developer,
            "resource_server.manage",
            Some("resource_server.delete"),
        ),
        (AddMember, Role::Owner, "member.manage", Some("member.put")),
        (
            SetMemberRole,
            Role::Owner,
            "member.manage",
            Some("member.put"),
        ),
        (
            RemoveMember,
            Role::Owner,
            "member.manage",
            Some("member.remove"),
        ),
        (
            InviteMember,
            Role::Owner,
            "member.manage",
            Some("member.invite"),
        ),
        (
            WithdrawInvitation,
            Role::Owner,
            "member.manage",
            Some("member.withdraw_invitation"),
        ),
        (ReadAudit, Role::Owner, "audit.view", None),
    ];
    for (call, needed, action, recorded) in table {
        let w = World::new().await;
        let s = stage(&w).await;
        // AddApp and RemoveAddedApp need the app added first / not yet added.
        if let RemoveAddedApp = call {
            run(&w, &s, &Caller::operator(), AddApp).await.unwrap();
        }
        let (below, at) = match needed {
            Role::Owner => (&w.developer, &w.owner),
            _ => (&w.member, &w.developer),
        };
        let before = w.store.audit_trail().len();
        let refused = run(&w, &s, &World::signed_in(below), call).await;
        assert!(
            matches!(refused, Err(ServiceError::Forbidden(_))),
            "{call:?}: {refused:?}"
        );
        let trail = w.store.audit_trail();
        assert_eq!(trail.len(), before + 1, "{call:?}: one refusal recorded");
        let event = &trail[before];
        assert_eq!(
            (
                event.action.as_str(),
                event.outcome.as_str(),
                event.actor.as_str()
            ),
            (action, "refused", format!("user:{}", below.id).as_str()),
            "{call:?}"
        );
        assert_eq!(event.org_id.as_deref(), Some(w.org.id.as_str()), "{call:?}");

        run(&w, &s, &World::signed_in(at), call)
            .await
            .unwrap_or_else(|e| panic!("{call:?}: {e:?}"));
        let trail = w.store.audit_trail();
        match recorded {
            Some(recorded) => {
                let event = trail.last().unwrap();
                assert_eq!(trail.len(), before + 2, "{call:?}: one change recorded");
                assert_eq!(
                    (
                        event.action.as_str(),
                        event.outcome.as_str(),
                        event.actor.as_str()
                    ),
                    (recorded, "success", format!("user:{}", at.id).as_str()),
                    "{call:?}"
                );
            }
            None => assert_eq!(trail.len(), before + 1, "{call:?}: a read records nothing"),
        }
    }
}

/// A rehearsal (the API checking a retried request) passes every check and writes nothing.
#[tokio::test]
async fn a_rehearsal_writes_nothing() {
    let w = crate::testing::World::new().await;
    let s = stage(&w).await;
    let mut owner = crate::testing::World::signed_in(&w.owner);
    owner.rehearsal = true;
    let before = w.store.audit_trail().len();
    for call in [
        Call::CreateApp,
        Call::DeleteApp,
        Call::AddMember,
        Call::InviteMember,
    ] {
        let result = run(&w, &s, &owner, call).await;
        assert!(
            matches!(result, Err(ServiceError::Rehearsed)),
            "{call:?}: {result:?}"
        );
    }
    assert_eq!(w.store.audit_trail().len(), before);
    assert!(w.store.client(&s.app).await.unwrap().is_some());
}
