//! In-memory cache of configuration read on hot paths (clients, the resource index).
//! Whole-cache invalidation keeps it simple: configuration changes are rare next to reads.

use grantor_core::store::{Client, ResourceIndex};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// Past this many cached apps the map starts over (there are rarely this many apps).
const MAX_CLIENTS: usize = 100_000;
/// Past this many remembered unknown app IDs the set starts over: anyone can make them up,
/// so they are kept apart from real apps and few, and a flood of them evicts no real app.
pub const MAX_UNKNOWN_CLIENTS: usize = 4096;

#[derive(Default)]
pub struct Cache {
    /// Bumped on every local clear, so loads that raced with one are discarded.
    generation: AtomicI64,
    /// The database's configuration version last seen.
    db_version: AtomicI64,
    clients: RwLock<HashMap<String, Arc<Client>>>,
    /// Well-formed app IDs that name no app.
    unknown_clients: RwLock<HashSet<String>>,
    resources: RwLock<Option<Arc<ResourceIndex>>>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

impl Cache {
    /// `Some(None)`: known not to exist.
    pub fn client(&self, client_id: &str) -> Option<Option<Arc<Client>>> {
        if let Some(client) = read(&self.clients).get(client_id) {
            return Some(Some(client.clone()));
        }
        read(&self.unknown_clients)
            .contains(client_id)
            .then_some(None)
    }

    pub fn put_client(&self, client_id: &str, client: Option<Arc<Client>>, seen_generation: i64) {
        // A load that raced with an invalidation must not resurrect stale data.
        if self.generation.load(Ordering::SeqCst) != seen_generation {
            return;
        }
        match client {
            Some(client) => {
                let mut map = write(&self.clients);
                if map.len() >= MAX_CLIENTS {
                    map.clear();
                }
                map.insert(client_id.to_string(), client);
            }
            None => {
                let mut set = write(&self.unknown_clients);
                if set.len() >= MAX_UNKNOWN_CLIENTS {
                    set.clear();
                }
                set.insert(client_id.to_string());
            }
        }
    }

    /// How many apps and unknown app IDs are cached, for metrics.
    pub fn client_counts(&self) -> (usize, usize) {
        (read(&self.clients).len(), read(&self.unknown_clients).len())
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
        write(&self.unknown_clients).clear();
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
