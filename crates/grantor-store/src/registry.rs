//! The hot path's reads, through the cache.

use crate::pool::{Store, backend_error};
use grantor_core::model::ResourceServer;
use grantor_core::store::{AddedAppStore, AppStore, Client, OrgResources, Registry, StoreResult};
use std::sync::Arc;

impl Store {
    async fn load_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        let Some(app) = AppStore::app(self, client_id).await? else {
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
