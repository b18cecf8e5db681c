//! The change log (migration 0012): each configuration change bumps the version counter and
//! names what it touched, in its own transaction. The writing node evicts those entries at
//! once; the others read the log on their poll, within a second, and evict the same.

use crate::pool::{Store, backend_error};
use crate::rows::get;
use grantor_core::StoreError;
use sqlx::{Any, Transaction};

/// What a configuration change touched, as the log names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An app: its settings, its secret, or the organizations that added it (by app ID).
    App(String),
    /// An organization's own record: its name.
    Organization(String),
    /// A resource server (its organization's scope index and its identifier).
    ResourceServer {
        org_id: String,
        identifier: String,
    },
    User(String),
    Membership {
        org_id: String,
        user_id: String,
    },
    ApiToken(String),
    Invitation(String),
    /// A signing key (by kid).
    Key(String),
}

/// Entries read per poll; a node further behind than this drops its whole cache instead.
const BATCH: i64 = 10_000;

impl Change {
    fn entry(&self) -> (&'static str, String) {
        match self {
            Self::App(id) => ("app", id.clone()),
            Self::Organization(id) => ("organization", id.clone()),
            // Identifiers are absolute URIs, which hold no space.
            Self::ResourceServer { org_id, identifier } => {
                ("resource_server", format!("{org_id} {identifier}"))
            }
            Self::User(id) => ("user", id.clone()),
            Self::Membership { org_id, user_id } => ("membership", format!("{org_id} {user_id}")),
            Self::ApiToken(id) => ("api_token", id.clone()),
            Self::Invitation(id) => ("invitation", id.clone()),
            Self::Key(kid) => ("key", kid.clone()),
        }
    }

    /// `None` for an entry this version does not know (written by a newer one).
    fn from_entry(kind: &str, id: String) -> Option<Self> {
        let pair = |id: &str| {
            id.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        };
        Some(match kind {
            "app" => Self::App(id),
            "organization" => Self::Organization(id),
            "resource_server" => {
                let (org_id, identifier) = pair(&id)?;
                Self::ResourceServer { org_id, identifier }
            }
            "user" => Self::User(id),
            "membership" => {
                let (org_id, user_id) = pair(&id)?;
                Self::Membership { org_id, user_id }
            }
            "api_token" => Self::ApiToken(id),
            "invitation" => Self::Invitation(id),
            "key" => Self::Key(id),
            _ => return None,
        })
    }
}

impl Store {
    /// Bumps the configuration version and logs `changes` under it, inside the change's
    /// transaction. The counter row stays locked until the commit, so versions commit in
    /// order and a reader that sees version n sees every change up to n.
    /// Returns the version the change is logged under.
    pub(crate) async fn log_changes(
        tx: &mut Transaction<'static, Any>,
        changes: &[Change],
        at: i64,
    ) -> Result<i64, StoreError> {
        let version: i64 = sqlx::query_scalar(
            "UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version",
        )
        .fetch_one(&mut **tx)
        .await
        .map_err(backend_error)?;
        for change in changes {
            let (kind, id) = change.entry();
            sqlx::query(
                "INSERT INTO config_changes (version, kind, id, at) VALUES ($1, $2, $3, $4)",
            )
            .bind(version)
            .bind(kind)
            .bind(id)
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(backend_error)?;
        }
        Ok(version)
    }

    /// Evicts what `changes` name from this node's cache; returns whether signing keys
    /// changed.
    pub(crate) fn apply_changes(&self, changes: &[Change]) -> bool {
        let mut keys = false;
        for change in changes {
            keys |= self.cache.evict(change);
        }
        keys
    }

    /// Reads the changes made since this node last looked, by any node or the CLI, and
    /// evicts what they name; when it cannot tell (its first look, a gap in the log, an
    /// entry it does not know) it drops the whole cache. Returns whether signing keys may
    /// have changed.
    pub(crate) async fn read_change_log(&self) -> Result<bool, StoreError> {
        let current: i64 = sqlx::query_scalar("SELECT version FROM config_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(backend_error)?;
        // Keys this node changed itself count too: the caller reloads them here.
        let own_keys = self.cache.take_own_key_change();
        let seen = self.cache.seen_version();
        if current == seen {
            return Ok(own_keys);
        }
        let entries = if seen == 0 || current < seen {
            None
        } else {
            self.changes_between(seen, current).await?
        };
        // This node's own changes were applied when they committed: evicting them again
        // would only throw away what was loaded since.
        let own = self.cache.take_own_versions(current);
        let keys = match entries {
            Some(changes) => {
                let theirs: Vec<Change> = changes
                    .into_iter()
                    .filter(|(version, _)| !own.contains(version))
                    .map(|(_, change)| change)
                    .collect();
                self.apply_changes(&theirs)
            }
            None => {
                self.cache.clear();
                true
            }
        };
        self.cache.set_seen_version(current);
        Ok(keys || own_keys)
    }

    /// The changes after version `seen` up to `current`, each with its version, or `None`
    /// unless every version in between is there and known.
    async fn changes_between(
        &self,
        seen: i64,
        current: i64,
    ) -> Result<Option<Vec<(i64, Change)>>, StoreError> {
        if current - seen > BATCH {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT version, kind, id FROM config_changes WHERE version > $1 AND version <= $2 \
             ORDER BY version",
        )
        .bind(seen)
        .bind(current)
        .fetch_all(&self.pool)
        .await
        .map_err(backend_error)?;
        let mut expected = seen + 1;
        let mut changes = Vec::with_capacity(rows.len());
        for row in &rows {
            let version: i64 = get(row, "version")?;
            if version == expected {
                expected += 1;
            } else if version != expected - 1 {
                return Ok(None);
            }
            let kind: String = get(row, "kind")?;
            let Some(change) = Change::from_entry(&kind, get(row, "id")?) else {
                return Ok(None);
            };
            changes.push((version, change));
        }
        Ok((expected == current + 1).then_some(changes))
    }
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn every_change_reads_back_as_written() {
        let changes = [
            Change::App("app_1".into()),
            Change::Organization("org_1".into()),
            Change::ResourceServer {
                org_id: "org_1".into(),
                identifier: "https://api.example.com/v1".into(),
            },
            Change::User("usr_1".into()),
            Change::Membership {
                org_id: "org_1".into(),
                user_id: "usr_1".into(),
            },
            Change::ApiToken("tok_1".into()),
            Change::Invitation("inv_1".into()),
            Change::Key("kid".into()),
        ];
        for change in changes {
            let (kind, id) = change.entry();
            assert_eq!(Change::from_entry(kind, id), Some(change));
        }
        assert_eq!(Change::from_entry("webhook", "x".into()), None);
        assert_eq!(Change::from_entry("membership", "no-space".into()), None);
    }
}
