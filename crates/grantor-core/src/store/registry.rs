//! Cached reads for the protocol's hot paths.

use super::StoreResult;
use crate::model::{App, OrgAccessGrant, ResourceServer};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// An app together with the organizations it may act in: what the token endpoint needs to
/// know about a client, served from cache on the hot path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub app: App,
    pub org_name: String,
    pub org_grants: Vec<OrgAccessGrant>,
}

/// One organization's resource servers, indexed by scope. Scope names are unique within a
/// resource server only: `orders:read` of one organization's API is not another's, and one
/// organization may have two APIs with a scope of that name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgResources {
    servers: Vec<ResourceServer>,
    by_scope: HashMap<String, Vec<usize>>,
}

impl OrgResources {
    pub fn new(servers: Vec<ResourceServer>) -> Self {
        let mut by_scope: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, rs) in servers.iter().enumerate() {
            for s in &rs.scopes {
                by_scope.entry(s.name.clone()).or_default().push(i);
            }
        }
        Self { servers, by_scope }
    }

    /// The organization's resource servers that declare `scope`.
    pub fn servers_of(&self, scope: &str) -> Vec<&ResourceServer> {
        self.by_scope
            .get(scope)
            .map(|found| found.iter().filter_map(|i| self.servers.get(*i)).collect())
            .unwrap_or_default()
    }
}

/// Cached reads for the protocol's hot paths, each by one key so that no token costs a read
/// of every organization's configuration; a change evicts the entries it names, on every
/// node within a second.
pub trait Registry: Send + Sync {
    fn client(
        &self,
        client_id: &str,
    ) -> impl Future<Output = StoreResult<Option<Arc<Client>>>> + Send;
    /// The resource server with this identifier, of whichever organization.
    fn resource_server(
        &self,
        identifier: &str,
    ) -> impl Future<Output = StoreResult<Option<Arc<ResourceServer>>>> + Send;
    /// Organization `org_id`'s resource servers.
    fn org_resources(
        &self,
        org_id: &str,
    ) -> impl Future<Output = StoreResult<Arc<OrgResources>>> + Send;
}
