//! This node's cache of the configuration read on hot paths: apps (with the organizations
//! that added them), resource servers by identifier, and each organization's resource
//! servers by scope. Every part is keyed and bounded: past its size the least recently used
//! entry goes. A change evicts only the entries it names (see `changes.rs`), so its cost does
//! not grow with the installation, and concurrent misses of one key share one load.

use crate::changes::Change;
use grantor_core::StoreError;
use grantor_core::model::ResourceServer;
use grantor_core::store::{Client, OrgResources, StoreResult};
use lru::LruCache;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::OnceCell;

/// Apps a node keeps; past this, the least recently used goes.
const MAX_CLIENTS: NonZeroUsize = NonZeroUsize::MIN.saturating_add(99_999);
/// Well-formed app IDs remembered as naming no app. Anyone can make them up, so they are kept
/// apart from real apps, and few: a flood of them evicts no real app.
pub const MAX_UNKNOWN_CLIENTS: usize = 4096;
/// Resource servers kept by identifier, and identifiers remembered as unknown.
const MAX_RESOURCE_SERVERS: NonZeroUsize = NonZeroUsize::MIN.saturating_add(99_999);
const MAX_UNKNOWN_RESOURCES: NonZeroUsize = NonZeroUsize::MIN.saturating_add(4095);
/// Organizations whose resource servers are kept indexed by scope.
const MAX_ORG_RESOURCES: NonZeroUsize = NonZeroUsize::MIN.saturating_add(49_999);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn capacity(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN)
}

/// Entries found, and keys known to name nothing, each in its own LRU.
struct Lookup<V> {
    found: LruCache<String, Arc<V>>,
    missing: LruCache<String, ()>,
}

impl<V> Lookup<V> {
    fn new(found: NonZeroUsize, missing: NonZeroUsize) -> Self {
        Self {
            found: LruCache::new(found),
            missing: LruCache::new(missing),
        }
    }

    /// `Some(None)`: known to name nothing.
    fn get(&mut self, key: &str) -> Option<Option<Arc<V>>> {
        if let Some(found) = self.found.get(key) {
            return Some(Some(found.clone()));
        }
        self.missing.get(key).map(|()| None)
    }

    /// Returns the entry this one pushed out of a full cache, if any.
    fn put(&mut self, key: &str, value: Option<Arc<V>>) -> Option<(String, Arc<V>)> {
        match value {
            Some(value) => {
                self.missing.pop(key);
                self.found
                    .push(key.to_string(), value)
                    .filter(|(evicted, _)| evicted != key)
            }
            None => {
                self.found.pop(key);
                self.missing.put(key.to_string(), ());
                None
            }
        }
    }

    fn remove(&mut self, key: &str) -> Option<Arc<V>> {
        self.missing.pop(key);
        self.found.pop(key)
    }

    fn clear(&mut self) {
        self.found.clear();
        self.missing.clear();
    }
}

/// Cached apps, and which organizations each cached entry names.
struct Clients {
    lookup: Lookup<Client>,
    /// Organization id to the cached apps whose entry carries its name (their own
    /// organization, or one that added them): renaming it evicts those and no others.
    by_org: HashMap<String, HashSet<String>>,
}

fn orgs_named_by(client: &Client) -> impl Iterator<Item = &str> {
    std::iter::once(client.app.org_id.as_str())
        .chain(client.org_grants.iter().map(|g| g.org_id.as_str()))
}

impl Clients {
    fn forget_orgs(&mut self, client_id: &str, client: &Client) {
        for org_id in orgs_named_by(client) {
            if let Some(apps) = self.by_org.get_mut(org_id) {
                apps.remove(client_id);
                if apps.is_empty() {
                    self.by_org.remove(org_id);
                }
            }
        }
    }

    fn put(&mut self, client_id: &str, client: Option<Arc<Client>>) {
        if let Some(old) = self.lookup.remove(client_id) {
            self.forget_orgs(client_id, &old);
        }
        if let Some(client) = &client {
            for org_id in orgs_named_by(client) {
                self.by_org
                    .entry(org_id.to_string())
                    .or_default()
                    .insert(client_id.to_string());
            }
        }
        if let Some((evicted_id, evicted)) = self.lookup.put(client_id, client) {
            self.forget_orgs(&evicted_id, &evicted);
        }
    }

    fn remove(&mut self, client_id: &str) {
        if let Some(old) = self.lookup.remove(client_id) {
            self.forget_orgs(client_id, &old);
        }
    }

    fn remove_naming(&mut self, org_id: &str) -> Vec<String> {
        let apps: Vec<String> = self
            .by_org
            .get(org_id)
            .map(|apps| apps.iter().cloned().collect())
            .unwrap_or_default();
        for client_id in &apps {
            self.remove(client_id);
        }
        apps
    }
}

/// Loads in progress, by key: however many requests miss one key at once, one query runs and
/// they all get its answer.
struct Flights<V>(Mutex<HashMap<String, Arc<OnceCell<StoreResult<V>>>>>);

impl<V> Default for Flights<V> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<V: Clone> Flights<V> {
    async fn run<Fut>(&self, key: &str, load: impl FnOnce() -> Fut) -> StoreResult<V>
    where
        Fut: Future<Output = StoreResult<V>>,
    {
        let flight = lock(&self.0).entry(key.to_string()).or_default().clone();
        // If the request running the load is dropped, a waiting one takes it over.
        let result = flight.get_or_init(load).await.clone();
        let mut flights = lock(&self.0);
        if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
            flights.remove(key);
        }
        result
    }

    /// Requests arriving after a change must not join a load that began before it.
    fn forget(&self, key: &str) {
        lock(&self.0).remove(key);
    }

    fn forget_all(&self) {
        lock(&self.0).clear();
    }
}

pub struct Cache {
    /// Bumped on every eviction, so a load that raced with one is not cached.
    generation: AtomicU64,
    /// The last configuration version whose changes this node has applied.
    seen_version: AtomicI64,
    /// Versions this node committed itself after `seen_version`, already applied.
    own_versions: Mutex<BTreeSet<i64>>,
    /// Whether this node changed signing keys since the last poll.
    own_key_change: AtomicBool,
    clients: Mutex<Clients>,
    resource_servers: Mutex<Lookup<ResourceServer>>,
    org_resources: Mutex<LruCache<String, Arc<OrgResources>>>,
    client_loads: Flights<Option<Arc<Client>>>,
    resource_server_loads: Flights<Option<Arc<ResourceServer>>>,
    org_resource_loads: Flights<Arc<OrgResources>>,
}

impl Default for Cache {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            seen_version: AtomicI64::new(0),
            own_versions: Mutex::default(),
            own_key_change: AtomicBool::new(false),
            clients: Mutex::new(Clients {
                lookup: Lookup::new(MAX_CLIENTS, capacity(MAX_UNKNOWN_CLIENTS)),
                by_org: HashMap::new(),
            }),
            resource_servers: Mutex::new(Lookup::new(MAX_RESOURCE_SERVERS, MAX_UNKNOWN_RESOURCES)),
            org_resources: Mutex::new(LruCache::new(MAX_ORG_RESOURCES)),
            client_loads: Flights::default(),
            resource_server_loads: Flights::default(),
            org_resource_loads: Flights::default(),
        }
    }
}

impl Cache {
    /// Runs `load` once for however many callers miss together, and caches its answer
    /// unless an eviction happened meanwhile (the answer may then be stale).
    async fn load<V: Clone, Fut>(
        &self,
        flights: &Flights<V>,
        key: &str,
        load: impl FnOnce() -> Fut,
        put: impl FnOnce(&V),
    ) -> StoreResult<V>
    where
        Fut: Future<Output = StoreResult<V>>,
    {
        flights
            .run(key, || async {
                let generation = self.generation.load(Ordering::SeqCst);
                let value = load().await?;
                if self.generation.load(Ordering::SeqCst) == generation {
                    put(&value);
                }
                Ok::<V, StoreError>(value)
            })
            .await
    }

    pub async fn client<Fut>(
        &self,
        client_id: &str,
        load: impl FnOnce() -> Fut,
    ) -> StoreResult<Option<Arc<Client>>>
    where
        Fut: Future<Output = StoreResult<Option<Arc<Client>>>>,
    {
        if let Some(hit) = lock(&self.clients).lookup.get(client_id) {
            return Ok(hit);
        }
        self.load(&self.client_loads, client_id, load, |client| {
            lock(&self.clients).put(client_id, client.clone());
        })
        .await
    }

    pub async fn resource_server<Fut>(
        &self,
        identifier: &str,
        load: impl FnOnce() -> Fut,
    ) -> StoreResult<Option<Arc<ResourceServer>>>
    where
        Fut: Future<Output = StoreResult<Option<Arc<ResourceServer>>>>,
    {
        if let Some(hit) = lock(&self.resource_servers).get(identifier) {
            return Ok(hit);
        }
        self.load(&self.resource_server_loads, identifier, load, |rs| {
            lock(&self.resource_servers).put(identifier, rs.clone());
        })
        .await
    }

    pub async fn org_resources<Fut>(
        &self,
        org_id: &str,
        load: impl FnOnce() -> Fut,
    ) -> StoreResult<Arc<OrgResources>>
    where
        Fut: Future<Output = StoreResult<Arc<OrgResources>>>,
    {
        if let Some(hit) = lock(&self.org_resources).get(org_id) {
            return Ok(hit.clone());
        }
        self.load(&self.org_resource_loads, org_id, load, |index| {
            lock(&self.org_resources).put(org_id.to_string(), index.clone());
        })
        .await
    }

    /// How many apps and unknown app IDs are cached, for metrics.
    pub fn client_counts(&self) -> (usize, usize) {
        let clients = lock(&self.clients);
        (clients.lookup.found.len(), clients.lookup.missing.len())
    }

    /// Evicts what `change` names. Returns whether it touched signing keys, which the
    /// caller reloads.
    pub fn evict(&self, change: &Change) -> bool {
        // First, so loads already running do not cache what they read before the change.
        self.generation.fetch_add(1, Ordering::SeqCst);
        match change {
            Change::App(client_id) => {
                lock(&self.clients).remove(client_id);
                self.client_loads.forget(client_id);
            }
            Change::Organization(org_id) => {
                for client_id in lock(&self.clients).remove_naming(org_id) {
                    self.client_loads.forget(&client_id);
                }
            }
            Change::ResourceServer { org_id, identifier } => {
                lock(&self.org_resources).pop(org_id.as_str());
                self.org_resource_loads.forget(org_id);
                lock(&self.resource_servers).remove(identifier);
                self.resource_server_loads.forget(identifier);
            }
            Change::Key(_) => return true,
            // Read from the database on each use: nothing cached to evict.
            Change::User(_)
            | Change::Membership { .. }
            | Change::ApiToken(_)
            | Change::Invitation(_) => {}
        }
        false
    }

    /// Drops everything: when this node cannot tell what changed.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        {
            let mut clients = lock(&self.clients);
            clients.lookup.clear();
            clients.by_org.clear();
        }
        lock(&self.resource_servers).clear();
        lock(&self.org_resources).clear();
        self.client_loads.forget_all();
        self.resource_server_loads.forget_all();
        self.org_resource_loads.forget_all();
    }

    pub fn seen_version(&self) -> i64 {
        self.seen_version.load(Ordering::SeqCst)
    }

    /// Records a change this node committed and applied; `keys` says it touched signing
    /// keys, which the next poll reports.
    pub fn note_own_version(&self, version: i64, keys: bool) {
        lock(&self.own_versions).insert(version);
        if keys {
            self.own_key_change.store(true, Ordering::SeqCst);
        }
    }

    pub fn take_own_key_change(&self) -> bool {
        self.own_key_change.swap(false, Ordering::SeqCst)
    }

    /// This node's own versions up to `current`, forgotten as they are handed over.
    pub fn take_own_versions(&self, current: i64) -> BTreeSet<i64> {
        let mut own = lock(&self.own_versions);
        let later = own.split_off(&(current + 1));
        std::mem::replace(&mut *own, later)
    }

    pub fn set_seen_version(&self, version: i64) {
        self.seen_version.store(version, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grantor_core::model::{App, AppType, OrgAccessGrant};
    use std::sync::atomic::AtomicUsize;

    fn client(client_id: &str, org_id: &str, added_by: &[&str]) -> Arc<Client> {
        Arc::new(Client {
            app: App {
                client_id: client_id.into(),
                org_id: org_id.into(),
                name: client_id.into(),
                app_type: AppType::Server,
                secret_hash: None,
                previous_secret_hash: None,
                previous_secret_expires_at: 0,
                redirect_uris: vec![],
                post_logout_redirect_uris: vec![],
                scopes: Default::default(),
                allow_password: false,
                allow_implicit: false,
                allow_device_code: false,
                keys: None,
                require_par: false,
                access_token_ttl: 0,
                created_at: 0,
            },
            org_name: org_id.into(),
            org_grants: added_by
                .iter()
                .map(|org| OrgAccessGrant {
                    org_id: (*org).into(),
                    org_name: (*org).into(),
                    client_id: client_id.into(),
                    scopes: Default::default(),
                    created_at: 0,
                })
                .collect(),
        })
    }

    async fn cache_client(cache: &Cache, c: Arc<Client>) {
        let id = c.app.client_id.clone();
        let loaded = cache.client(&id, || async { Ok(Some(c)) }).await;
        assert!(matches!(loaded, Ok(Some(_))));
    }

    fn cached(cache: &Cache, client_id: &str) -> bool {
        lock(&cache.clients).lookup.found.peek(client_id).is_some()
    }

    #[tokio::test]
    async fn a_change_evicts_only_the_entries_it_names() {
        let cache = Cache::default();
        cache_client(&cache, client("app_a", "org_a", &[])).await;
        cache_client(&cache, client("app_b", "org_b", &["org_a"])).await;
        cache_client(&cache, client("app_c", "org_c", &[])).await;

        assert!(!cache.evict(&Change::App("app_c".into())));
        assert!(cached(&cache, "app_a") && cached(&cache, "app_b"));
        assert!(!cached(&cache, "app_c"));

        // A rename of org_a reaches its own app and the app it added, no other.
        cache_client(&cache, client("app_c", "org_c", &[])).await;
        cache.evict(&Change::Organization("org_a".into()));
        assert!(!cached(&cache, "app_a") && !cached(&cache, "app_b"));
        assert!(cached(&cache, "app_c"));
        assert!(!lock(&cache.clients).by_org.contains_key("org_a"));

        assert!(cache.evict(&Change::Key("kid".into())));
    }

    #[tokio::test]
    async fn concurrent_misses_of_one_key_run_one_load() {
        let cache = Arc::new(Cache::default());
        let loads = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut waiting = Vec::new();
        for _ in 0..32 {
            let (cache, loads, gate) = (cache.clone(), loads.clone(), gate.clone());
            waiting.push(tokio::spawn(async move {
                cache
                    .org_resources("org_a", || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        gate.notified().await;
                        Ok(Arc::new(OrgResources::default()))
                    })
                    .await
            }));
        }
        // Let every task reach the flight before the one load finishes.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for task in waiting {
            assert!(matches!(task.await, Ok(Ok(_))));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        // And the answer is now cached: no second load.
        let again = cache
            .org_resources("org_a", || async { Err(StoreError::Backend("no".into())) })
            .await;
        assert!(again.is_ok());
    }

    #[tokio::test]
    async fn a_load_that_raced_with_a_change_is_not_cached() {
        let cache = Cache::default();
        let loaded = cache
            .client("app_a", || async {
                cache.evict(&Change::App("app_a".into()));
                Ok(Some(client("app_a", "org_a", &[])))
            })
            .await;
        assert!(matches!(loaded, Ok(Some(_))));
        assert!(!cached(&cache, "app_a"));
    }

    #[test]
    fn a_full_cache_evicts_the_least_recently_used_entry() {
        let mut clients = Clients {
            lookup: Lookup::new(capacity(2), capacity(2)),
            by_org: HashMap::new(),
        };
        clients.put("app_a", Some(client("app_a", "org_a", &[])));
        clients.put("app_b", Some(client("app_b", "org_b", &[])));
        assert!(clients.lookup.get("app_a").is_some()); // app_a is now the most recent
        clients.put("app_c", Some(client("app_c", "org_c", &[])));
        assert!(clients.lookup.get("app_a").is_some());
        assert!(clients.lookup.get("app_b").is_none());
        assert!(clients.lookup.get("app_c").is_some());
        // What the evicted entry named is forgotten with it.
        assert!(!clients.by_org.contains_key("org_b"));

        // Unknown IDs have their own room: a flood of them evicts no real app.
        for i in 0..10 {
            clients.put(&format!("app_unknown{i}"), None);
        }
        assert!(clients.lookup.get("app_a").is_some());
        assert!(clients.lookup.get("app_c").is_some());
        assert_eq!(clients.lookup.missing.len(), 2);
    }
}
