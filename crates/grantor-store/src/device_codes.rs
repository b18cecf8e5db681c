//! Device authorizations (RFC 8628): stored by the hashes of both codes; the answer recorded
//! and the code exchanged each by one atomic `UPDATE ... WHERE` on the state it requires.

use crate::pool::{Store, backend_error, conflict};
use crate::rows::{self, get, json_list, to_json};
use grantor_core::model::SignInMethod;
use grantor_core::scope::ScopeSet;
use grantor_core::store::{
    DeviceApproval, DeviceCodeRecord, DeviceCodeStore, DeviceDecision, SingleUse, StoreResult,
};
use sqlx::any::AnyRow;

const COLUMNS: &str = "device_code_hash, user_code_hash, client_id, scopes, resources, \
     poll_interval, created_at, expires_at, last_polled_at, decided_at, denied, user_id, org_id, \
     granted_scopes, auth_time, sign_in_method, grant_id, consumed_at";

fn decision(row: &AnyRow) -> StoreResult<Option<DeviceDecision>> {
    if get::<Option<i64>>(row, "decided_at")?.is_none() {
        return Ok(None);
    }
    if rows::flag(row, "denied")? {
        return Ok(Some(DeviceDecision::Denied));
    }
    let granted: Option<String> = get(row, "granted_scopes")?;
    let missing = || grantor_core::StoreError::Backend("a device approval lacks a field".into());
    Ok(Some(DeviceDecision::Approved(DeviceApproval {
        user_id: get::<Option<String>>(row, "user_id")?.ok_or_else(missing)?,
        org_id: get::<Option<String>>(row, "org_id")?.ok_or_else(missing)?,
        scopes: ScopeSet::parse(&granted.unwrap_or_default()).map_err(|_| missing())?,
        auth_time: get::<Option<i64>>(row, "auth_time")?.ok_or_else(missing)?,
        method: SignInMethod::parse(
            &get::<Option<String>>(row, "sign_in_method")?.unwrap_or_default(),
        ),
        grant_id: get::<Option<String>>(row, "grant_id")?.ok_or_else(missing)?,
    })))
}

fn device_code(row: &AnyRow) -> StoreResult<DeviceCodeRecord> {
    Ok(DeviceCodeRecord {
        device_code_hash: get(row, "device_code_hash")?,
        user_code_hash: get(row, "user_code_hash")?,
        client_id: get(row, "client_id")?,
        scopes: rows::scopes(row, "scopes")?,
        resources: json_list(row, "resources")?,
        interval: get(row, "poll_interval")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        last_polled_at: get(row, "last_polled_at")?,
        decision: decision(row)?,
        consumed: get::<Option<i64>>(row, "consumed_at")?.is_some(),
    })
}

impl DeviceCodeStore for Store {
    async fn insert_device_code(
        &self,
        c: &DeviceCodeRecord,
        max_pending: i64,
        now: i64,
    ) -> StoreResult<bool> {
        // The count and the insert are one statement; concurrent requests may overshoot the
        // bound by a few, which is all it is for.
        let inserted = sqlx::query(
            "INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, scopes, \
             resources, poll_interval, created_at, expires_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE (SELECT COUNT(*) FROM device_codes \
             WHERE client_id = $3 AND expires_at > $9 AND consumed_at IS NULL) < $10",
        )
        .bind(&c.device_code_hash)
        .bind(&c.user_code_hash)
        .bind(&c.client_id)
        .bind(c.scopes.to_string())
        .bind(to_json(&c.resources))
        .bind(c.interval)
        .bind(c.created_at)
        .bind(c.expires_at)
        .bind(now)
        .bind(max_pending)
        .execute(&self.pool)
        .await
        .map_err(conflict("a device authorization with this user code"))?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn device_code(&self, device_code_hash: &str) -> StoreResult<Option<DeviceCodeRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_codes WHERE device_code_hash = $1"
        ))
        .bind(device_code_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(device_code).transpose()
    }

    async fn pending_device_code(
        &self,
        user_code_hash: &str,
        now: i64,
    ) -> StoreResult<Option<DeviceCodeRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM device_codes \
             WHERE user_code_hash = $1 AND decided_at IS NULL AND expires_at > $2"
        ))
        .bind(user_code_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        row.as_ref().map(device_code).transpose()
    }

    async fn record_device_poll(
        &self,
        device_code_hash: &str,
        now: i64,
        interval: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE device_codes SET last_polled_at = $2, poll_interval = $3 \
             WHERE device_code_hash = $1",
        )
        .bind(device_code_hash)
        .bind(now)
        .bind(interval)
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(())
    }

    async fn decide_device_code(
        &self,
        user_code_hash: &str,
        decision: &DeviceDecision,
        now: i64,
    ) -> StoreResult<bool> {
        let approval = match decision {
            DeviceDecision::Approved(a) => Some(a),
            DeviceDecision::Denied => None,
        };
        let decided = sqlx::query(
            "UPDATE device_codes SET decided_at = $2, denied = $3, user_id = $4, org_id = $5, \
             granted_scopes = $6, auth_time = $7, grant_id = $8, sign_in_method = $9 \
             WHERE user_code_hash = $1 AND decided_at IS NULL AND expires_at > $2",
        )
        .bind(user_code_hash)
        .bind(now)
        .bind(i64::from(approval.is_none()))
        .bind(approval.map(|a| a.user_id.clone()))
        .bind(approval.map(|a| a.org_id.clone()))
        .bind(approval.map(|a| a.scopes.to_string()))
        .bind(approval.map(|a| a.auth_time))
        .bind(approval.map(|a| a.grant_id.clone()))
        .bind(approval.map(|a| a.method.as_str()))
        .execute(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(decided.rows_affected() == 1)
    }

    async fn consume_device_code(
        &self,
        device_code_hash: &str,
        now: i64,
    ) -> StoreResult<SingleUse<DeviceCodeRecord>> {
        let fresh = sqlx::query(&format!(
            "UPDATE device_codes SET consumed_at = $2 \
             WHERE device_code_hash = $1 AND consumed_at IS NULL AND grant_id IS NOT NULL \
             RETURNING {COLUMNS}"
        ))
        .bind(device_code_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        if let Some(row) = fresh {
            return Ok(SingleUse::Fresh(device_code(&row)?));
        }
        let used: Option<Option<String>> = sqlx::query_scalar(
            "SELECT grant_id FROM device_codes \
             WHERE device_code_hash = $1 AND consumed_at IS NOT NULL",
        )
        .bind(device_code_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend_error)?;
        Ok(match used.flatten() {
            Some(grant_id) => SingleUse::Reused { grant_id },
            None => SingleUse::Unknown,
        })
    }
}
