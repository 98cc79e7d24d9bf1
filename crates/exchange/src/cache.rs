//! What every read looks up, kept in memory: members by id and grants by consumer and dataset.
//!
//! Every write of a member or a grant in this process ([`changed`]) empties every cache at
//! once, so a revocation or a key rotation takes effect on the next read. Writes made by another
//! process (another `errandless` command on the same store) reach a running exchange when its
//! entries expire, after [`TTL`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an entry may serve before it is read again from the store.
pub const TTL: Duration = Duration::from_secs(1);

/// Bumped by every write of a member or a grant in this process.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Invalidates every cache of this process: call after a member or grant write commits.
pub(crate) fn changed() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// A map of values loaded from the store, each valid for [`TTL`] and until the next
/// [`changed`].
pub(crate) struct Cache<K, V> {
    entries: Mutex<HashMap<K, (u64, Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Cache<K, V> {
    pub fn new() -> Self {
        Cache {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value of `key`, if it is still valid, and the generation to store a freshly
    /// loaded value under (read before the load, so a write during the load is not missed).
    pub fn get(&self, key: &K) -> (Option<V>, u64) {
        let now = generation();
        let Ok(entries) = self.entries.lock() else {
            return (None, now);
        };
        let hit = entries
            .get(key)
            .filter(|(g, at, _)| *g == now && at.elapsed() < TTL)
            .map(|(_, _, v)| v.clone());
        (hit, now)
    }

    /// Keeps `value`, loaded after generation `at` was read.
    pub fn put(&self, key: K, value: V, at: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 100_000 {
                entries.clear();
            }
            entries.insert(key, (at, Instant::now(), value));
        }
    }
}
