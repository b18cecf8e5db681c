//! In-memory cache of configuration read on hot paths (clients, the resource index).
//! Whole-cache invalidation keeps it simple: configuration changes are rare next to reads.

use grantor_core::store::{Client, ResourceIndex};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// Past this many cached clients (unknown ids included) the map starts over, so a flood of
/// made-up client ids cannot grow memory without bound.
const MAX_CLIENTS: usize = 100_000;

#[derive(Default)]
pub struct Cache {
    /// Bumped on every local clear, so loads that raced with one are discarded.
    generation: AtomicI64,
    /// The database's configuration version last seen.
    db_version: AtomicI64,
    /// `None` remembers that a client id does not exist.
    clients: RwLock<HashMap<String, Option<Arc<Client>>>>,
    resources: RwLock<Option<Arc<ResourceIndex>>>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl Cache {
    pub fn client(&self, client_id: &str) -> Option<Option<Arc<Client>>> {
        read(&self.clients).get(client_id).cloned()
    }

    pub fn put_client(&self, client_id: &str, client: Option<Arc<Client>>, seen_generation: i64) {
        // A load that raced with an invalidation must not resurrect stale data.
        if self.generation.load(Ordering::SeqCst) != seen_generation {
            return;
        }
        let mut map = write(&self.clients);
        if map.len() >= MAX_CLIENTS {
            map.clear();
        }
        map.insert(client_id.to_string(), client);
    }

    pub fn resources(&self) -> Option<Arc<ResourceIndex>> {
        read(&self.resources).clone()
    }

    pub fn put_resources(&self, index: Arc<ResourceIndex>, seen_generation: i64) {
        if self.generation.load(Ordering::SeqCst) == seen_generation {
            *write(&self.resources) = Some(index);
        }
    }

    pub fn generation(&self) -> i64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn clear(&self) {
        // Bump the generation first so in-flight loads discard their results.
        self.generation.fetch_add(1, Ordering::SeqCst);
        write(&self.clients).clear();
        *write(&self.resources) = None;
    }

    /// Records the database's configuration version; clears the cache if it moved.
    pub fn observe_version(&self, db_version: i64) -> bool {
        let seen = self.db_version.swap(db_version, Ordering::SeqCst);
        if seen != db_version {
            self.clear();
            true
        } else {
            false
        }
    }
}
