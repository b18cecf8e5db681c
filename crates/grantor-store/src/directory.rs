use crate::changes::Change;
use crate::pool::{Store, backend_error, conflict};
use crate::rows::{self, APP_COLUMNS, USER_COLUMNS, get, to_json};
use grantor_core::model::{
    App, AuditEvent, Membership, OrgAccessGrant, Organization, ResourceServer, Role,
    ScopeDefinition, User,
};
use grantor_core::store::{
    Client, Directory, MembershipChange, OrgResources, Registry, StoreResult, Window,
};
use std::collections::HashMap;
use std::sync::Arc;

const MEMBERSHIP_QUERY: &str = "SELECT m.org_id, o.name AS org_name, m.user_id, u.email, m.role \
     FROM memberships m JOIN organizations o ON o.id = m.org_id JOIN users u ON u.id = m.user_id";

const GRANT_QUERY: &str = "SELECT g.org_id, o.name AS org_name, g.client_id, g.scopes, g.created_at \
     FROM org_access_grants g JOIN organizations o ON o.id = g.org_id";

/// Inserts a user inside `tx`: by the CLI and API, and when an invitation makes one.
pub(crate) async fn insert_user(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    user: &User,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&user.id)
    .bind(&user.email)
    .bind(&user.name)
    .bind(&user.password_hash)
    .bind(i64::from(user.platform_admin))
    .bind(user.created_at)
    .bind(user.disabled_at)
    .execute(&mut **tx)
    .await
    .map_err(conflict("a user with this email"))?;
    Ok(())
}

fn limit(window: Window) -> i64 {
    i64::try_from(window.limit).unwrap_or(i64::MAX)
}

fn offset(window: Window) -> i64 {
    i64::try_from(window.offset).unwrap_or(i64::MAX)
}

fn org_grant(row: &sqlx::any::AnyRow) -> StoreResult<OrgAccessGrant> {
    Ok(OrgAccessGrant {
        org_id: get(row, "org_id")?,
        org_name: get(row, "org_name")?,
        client_id: get(row, "client_id")?,
        scopes: rows::scopes(row, "scopes")?,
        created_at: get(row, "created_at")?,
    })
}

impl Store {
    /// The one membership where `condition` (with `binds` as `$1`, `$2`...) holds.
    async fn one_membership(
        &self,
        condition: &str,
        binds: &[&str],
    ) -> StoreResult<Option<Membership>> {
        let sql = format!("{MEMBERSHIP_QUERY} WHERE {condition}");
        let mut query = sqlx::query(&sql);
        for value in binds {
            query = query.bind(*value);
        }
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(rows::membership).transpose()
    }

    /// The resource servers `filter` (a condition on `r`, with `$1`) selects, with their
    /// scopes: two queries, joined in memory by id.
    async fn resource_servers_where(
        &self,
        filter: &str,
        value: &str,
    ) -> StoreResult<Vec<ResourceServer>> {
        let servers = sqlx::query(&format!(
            "SELECT r.id, r.org_id, r.identifier, r.name, r.created_at FROM resource_servers r \
             WHERE {filter} ORDER BY r.identifier"
        ))
        .bind(value)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let scope_rows = sqlx::query(&format!(
            "SELECT s.resource_id, s.name, s.description FROM resource_scopes s \
             JOIN resource_servers r ON r.id = s.resource_id WHERE {filter} ORDER BY s.name"
        ))
        .bind(value)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let mut scopes: HashMap<String, Vec<ScopeDefinition>> = HashMap::new();
        for s in &scope_rows {
            scopes
                .entry(get(s, "resource_id")?)
                .or_default()
                .push(ScopeDefinition {
                    name: get(s, "name")?,
                    description: get(s, "description")?,
                });
        }
        servers
            .iter()
            .map(|row| {
                let id: String = get(row, "id")?;
                Ok(ResourceServer {
                    scopes: scopes.remove(&id).unwrap_or_default(),
                    id,
                    org_id: get(row, "org_id")?,
                    identifier: get(row, "identifier")?,
                    name: get(row, "name")?,
                    created_at: get(row, "created_at")?,
                })
            })
            .collect()
    }

    async fn load_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        let Some(app) = Directory::app(self, client_id).await? else {
            return Ok(None);
        };
        let org_name: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
            .bind(&app.org_id)
            .fetch_one(&self.pool)
            .await
            .map_err(backend_error)?;
        let org_grants = self.org_grants(client_id).await?;
        Ok(Some(Client {
            app,
            org_name,
            org_grants,
        }))
    }
}

fn resource_change(rs: &ResourceServer) -> Change {
    Change::ResourceServer {
        org_id: rs.org_id.clone(),
        identifier: rs.identifier.clone(),
    }
}

/// Writes a resource server's scopes inside its change's transaction.
async fn insert_scopes(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rs: &ResourceServer,
) -> StoreResult<()> {
    for s in &rs.scopes {
        sqlx::query(
            "INSERT INTO resource_scopes (resource_id, name, description) VALUES ($1, $2, $3)",
        )
        .bind(&rs.id)
        .bind(&s.name)
        .bind(&s.description)
        .execute(&mut **tx)
        .await
        .map_err(conflict("a scope with this name"))?;
    }
    Ok(())
}

impl Store {
    /// Starts a change to an organization's memberships, holding the organization's row: on
    /// PostgreSQL a row lock, on SQLite the database's write lock. Two changes to the same
    /// organization's members then run one after the other, and each sees the other's result
    /// before it decides whether an owner is left.
    /// Returns the transaction and whether `user_id` is an owner before the change.
    async fn begin_membership_change(
        &self,
        org_id: &str,
        user_id: &str,
    ) -> StoreResult<(sqlx::Transaction<'static, sqlx::Any>, bool)> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
            .bind(org_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
        Ok((tx, role.as_deref() == Some(Role::Owner.as_str())))
    }

    /// Commits a membership change unless it took the organization's last owner away (the
    /// transaction then rolls back when dropped).
    async fn commit_membership_change(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        org_id: &str,
        user_id: &str,
        was_owner: bool,
        audit: &AuditEvent,
    ) -> StoreResult<MembershipChange> {
        // Only a change to an owner can leave none (an organization may start without one).
        if was_owner {
            let owners: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM memberships WHERE org_id = $1 AND role = $2",
            )
            .bind(org_id)
            .bind(Role::Owner.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(backend_error)?;
            if owners == 0 {
                return Ok(MembershipChange::WouldLeaveNoOwner);
            }
        }
        let change = Change::Membership {
            org_id: org_id.to_string(),
            user_id: user_id.to_string(),
        };
        self.commit_change(tx, audit, &[change]).await?;
        Ok(MembershipChange::Changed)
    }
}

impl Registry for Store {
    async fn client(&self, client_id: &str) -> StoreResult<Option<Arc<Client>>> {
        // Whatever is not shaped like an app ID names no app: no lookup, nothing cached.
        if !grantor_core::model::is_app_id(client_id) {
            return Ok(None);
        }
        self.cache
            .client(client_id, || async {
                Ok(self.load_client(client_id).await?.map(Arc::new))
            })
            .await
    }

    async fn resource_server(&self, identifier: &str) -> StoreResult<Option<Arc<ResourceServer>>> {
        self.cache
            .resource_server(identifier, || async {
                let found = self
                    .resource_servers_where("r.identifier = $1", identifier)
                    .await?;
                Ok(found.into_iter().next().map(Arc::new))
            })
            .await
    }

    async fn org_resources(&self, org_id: &str) -> StoreResult<Arc<OrgResources>> {
        self.cache
            .org_resources(org_id, || async {
                let servers = self.resource_servers_where("r.org_id = $1", org_id).await?;
                Ok(Arc::new(OrgResources::new(servers)))
            })
            .await
    }
}

impl Directory for Store {
    async fn create_organization(&self, org: &Organization, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&org.id)
            .bind(&org.name)
            .bind(org.created_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict("an organization with this name"))?;
        self.commit_change(tx, audit, &[Change::Organization(org.id.clone())])
            .await
    }

    async fn organization(&self, id_or_name: &str) -> StoreResult<Option<Organization>> {
        let row = sqlx::query(
            "SELECT id, name, created_at FROM organizations WHERE id = $1 OR name = $1",
        )
        .bind(id_or_name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(rows::organization).transpose()
    }

    async fn organizations(&self, window: Window) -> StoreResult<Vec<Organization>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at FROM organizations ORDER BY name LIMIT $1 OFFSET $2",
        )
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::organization).collect()
    }

    async fn organizations_of_user(
        &self,
        user_id: &str,
        window: Window,
    ) -> StoreResult<Vec<Organization>> {
        let rows = sqlx::query(
            "SELECT o.id, o.name, o.created_at FROM organizations o \
             JOIN memberships m ON m.org_id = o.id JOIN users u ON u.id = m.user_id \
             WHERE m.user_id = $1 AND u.disabled_at IS NULL ORDER BY o.name LIMIT $2 OFFSET $3",
        )
        .bind(user_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::organization).collect()
    }

    async fn create_user(&self, user: &User, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_user(&mut tx, user).await?;
        self.commit_change(tx, audit, &[Change::User(user.id.clone())])
            .await
    }

    async fn set_user_disabled(
        &self,
        user_id: &str,
        disabled_at: Option<i64>,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(disabled_at)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::User(user_id.to_string())])
            .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn user(&self, id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend_error)?;
        row.as_ref().map(rows::user).transpose()
    }

    async fn put_membership(
        &self,
        org_id: &str,
        user_id: &str,
        role: Role,
        audit: &AuditEvent,
    ) -> StoreResult<MembershipChange> {
        let (mut tx, was_owner) = self.begin_membership_change(org_id, user_id).await?;
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(audit.at)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_membership_change(tx, org_id, user_id, was_owner, audit)
            .await
    }

    async fn delete_membership(
        &self,
        org_id: &str,
        user_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<MembershipChange> {
        let (mut tx, was_owner) = self.begin_membership_change(org_id, user_id).await?;
        let deleted = sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?
            .rows_affected();
        if deleted == 0 {
            return Ok(MembershipChange::NoSuchMember);
        }
        self.commit_membership_change(tx, org_id, user_id, was_owner, audit)
            .await
    }

    async fn memberships_of_user(&self, user_id: &str) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(&format!(
            // A disabled user acts nowhere: sign-in, refresh, the password grant and every
            // policy check read a user's memberships here.
            "{MEMBERSHIP_QUERY} WHERE m.user_id = $1 AND u.disabled_at IS NULL ORDER BY o.name"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::membership).collect()
    }

    async fn membership(&self, org_id: &str, user_id: &str) -> StoreResult<Option<Membership>> {
        self.one_membership(
            "m.org_id = $1 AND m.user_id = $2 AND u.disabled_at IS NULL",
            &[org_id, user_id],
        )
        .await
    }

    async fn member(&self, org_id: &str, user: &str) -> StoreResult<Option<Membership>> {
        let email = user.trim().to_lowercase();
        self.one_membership(
            "m.org_id = $1 AND (m.user_id = $2 OR u.email = $3)",
            &[org_id, user, &email],
        )
        .await
    }

    async fn members_of_org(&self, org_id: &str, window: Window) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(&format!(
            "{MEMBERSHIP_QUERY} WHERE m.org_id = $1 ORDER BY u.email LIMIT $2 OFFSET $3"
        ))
        .bind(org_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::membership).collect()
    }

    async fn create_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("INSERT INTO resource_servers (id, org_id, identifier, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&rs.id)
            .bind(&rs.org_id)
            .bind(&rs.identifier)
            .bind(&rs.name)
            .bind(rs.created_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict("a resource server with this identifier"))?;
        insert_scopes(&mut tx, rs).await?;
        self.commit_change(tx, audit, &[resource_change(rs)]).await
    }

    async fn update_resource_server(
        &self,
        rs: &ResourceServer,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE resource_servers SET name = $2 WHERE id = $1")
            .bind(&rs.id)
            .bind(&rs.name)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        sqlx::query("DELETE FROM resource_scopes WHERE resource_id = $1")
            .bind(&rs.id)
            .execute(&mut *tx)
            .await
            .map_err(backend_error)?;
        insert_scopes(&mut tx, rs).await?;
        self.commit_change(tx, audit, &[resource_change(rs)]).await
    }

    async fn delete_resource_server(&self, id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // Its scopes go with it (ON DELETE CASCADE).
        let deleted =
            sqlx::query("DELETE FROM resource_servers WHERE id = $1 RETURNING org_id, identifier")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend_error)?;
        let Some(row) = deleted else {
            return Ok(());
        };
        let change = Change::ResourceServer {
            org_id: get(&row, "org_id")?,
            identifier: get(&row, "identifier")?,
        };
        self.commit_change(tx, audit, &[change]).await
    }

    async fn resource_servers(&self, org_id: &str) -> StoreResult<Vec<ResourceServer>> {
        self.resource_servers_where("r.org_id = $1", org_id).await
    }

    async fn scope_declared(&self, scope: &str) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM resource_scopes WHERE name = $1 LIMIT 1")
                .bind(scope)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend_error)?;
        Ok(found.is_some())
    }

    async fn create_app(&self, app: &App, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO apps ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&app.client_id)
        .bind(&app.org_id)
        .bind(&app.name)
        .bind(app.app_type.as_str())
        .bind(&app.secret_hash)
        .bind(&app.previous_secret_hash)
        .bind(app.previous_secret_expires_at)
        .bind(to_json(&app.redirect_uris))
        .bind(to_json(&app.post_logout_redirect_uris))
        .bind(app.scopes.to_string())
        .bind(i64::from(app.allow_password))
        .bind(i64::from(app.allow_implicit))
        .bind(app.access_token_ttl)
        .bind(app.created_at)
        .execute(&mut *tx)
        .await
        .map_err(conflict("an app with this id"))?;
        self.commit_change(tx, audit, &[Change::App(app.client_id.clone())])
            .await
    }

    async fn delete_app(&self, client_id: &str, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        // Codes and refresh tokens name the app without a foreign key; grants, consents and
        // organization access go with the app (ON DELETE CASCADE).
        for sql in [
            "DELETE FROM authorization_codes WHERE client_id = $1",
            "DELETE FROM refresh_tokens WHERE client_id = $1",
            "DELETE FROM apps WHERE client_id = $1",
        ] {
            sqlx::query(sql)
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?;
        }
        self.commit_change(tx, audit, &[Change::App(client_id.to_string())])
            .await
    }

    async fn update_app(&self, app: &App, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE apps SET name = $2, redirect_uris = $3, post_logout_redirect_uris = $4, \
             scopes = $5, access_token_ttl = $6 WHERE client_id = $1",
        )
        .bind(&app.client_id)
        .bind(&app.name)
        .bind(to_json(&app.redirect_uris))
        .bind(to_json(&app.post_logout_redirect_uris))
        .bind(app.scopes.to_string())
        .bind(app.access_token_ttl)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::App(app.client_id.clone())])
            .await
    }

    async fn app(&self, client_id: &str) -> StoreResult<Option<App>> {
        let row = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM apps WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(rows::app).transpose()
    }

    async fn apps(&self, org_id: &str, window: Window) -> StoreResult<Vec<App>> {
        let rows = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM apps WHERE org_id = $1 ORDER BY name, client_id \
             LIMIT $2 OFFSET $3"
        ))
        .bind(org_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(rows::app).collect()
    }

    async fn set_app_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        previous_hash: Option<&str>,
        previous_expires_at: i64,
        audit: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE apps SET secret_hash = $2, previous_secret_hash = $3, previous_secret_expires_at = $4 WHERE client_id = $1",
        )
        .bind(client_id)
        .bind(secret_hash)
        .bind(previous_hash)
        .bind(previous_expires_at)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::App(client_id.to_string())])
            .await
    }

    async fn put_org_grant(&self, grant: &OrgAccessGrant, audit: &AuditEvent) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO org_access_grants (org_id, client_id, scopes, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, client_id) DO UPDATE SET scopes = excluded.scopes",
        )
        .bind(&grant.org_id)
        .bind(&grant.client_id)
        .bind(grant.scopes.to_string())
        .bind(grant.created_at)
        .execute(&mut *tx)
        .await
        .map_err(backend_error)?;
        self.commit_change(tx, audit, &[Change::App(grant.client_id.clone())])
            .await
    }

    async fn delete_org_grant(
        &self,
        org_id: &str,
        client_id: &str,
        audit: &AuditEvent,
    ) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let deleted =
            sqlx::query("DELETE FROM org_access_grants WHERE org_id = $1 AND client_id = $2")
                .bind(org_id)
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(backend_error)?
                .rows_affected();
        self.commit_if_changed(tx, deleted, audit, &[Change::App(client_id.to_string())])
            .await
    }

    async fn org_grants(&self, client_id: &str) -> StoreResult<Vec<OrgAccessGrant>> {
        let rows = sqlx::query(&format!(
            "{GRANT_QUERY} WHERE g.client_id = $1 ORDER BY o.name"
        ))
        .bind(client_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(org_grant).collect()
    }

    async fn org_grants_of_apps(
        &self,
        org_id: &str,
        window: Window,
    ) -> StoreResult<Vec<OrgAccessGrant>> {
        let rows = sqlx::query(&format!(
            "{GRANT_QUERY} WHERE g.client_id IN (SELECT client_id FROM apps WHERE org_id = $1 \
             ORDER BY name, client_id LIMIT $2 OFFSET $3) ORDER BY o.name"
        ))
        .bind(org_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(org_grant).collect()
    }

    async fn org_grants_of_org(
        &self,
        org_id: &str,
        window: Window,
    ) -> StoreResult<Vec<OrgAccessGrant>> {
        let rows = sqlx::query(&format!(
            "{GRANT_QUERY} WHERE g.org_id = $1 ORDER BY g.created_at, g.client_id \
             LIMIT $2 OFFSET $3"
        ))
        .bind(org_id)
        .bind(limit(window))
        .bind(offset(window))
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        rows.iter().map(org_grant).collect()
    }
}
