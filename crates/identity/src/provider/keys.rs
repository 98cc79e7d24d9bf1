//! The provider's signing keys: one active key per algorithm, and the keys retired by a
//! rotation, which stay in the JWKS until every token they signed has expired.

use std::sync::{Arc, RwLock};

use errandless_store::Store;
use sqlx::Row as _;

use super::jose::{Alg, SigningKey, VerifyingKey};
use crate::error::IdentityError;
use crate::token::{random_id, Millis};

/// How long a retired key stays published: longer than any ID token lives, so that a token
/// signed just before a rotation still verifies.
pub const PUBLISH_RETIRED_MS: Millis = 24 * 3_600_000;

#[derive(Default)]
struct KeySet {
    /// The newest key of each algorithm.
    active: Vec<Arc<SigningKey>>,
    /// Every published key, active and retired.
    published: Vec<VerifyingKey>,
}

/// The signing keys, cached in memory and kept in `identity_signing_keys`.
#[derive(Clone)]
pub struct Keys {
    store: Store,
    set: Arc<RwLock<Arc<KeySet>>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

fn crypto(e: impl std::fmt::Display) -> IdentityError {
    IdentityError::Crypto(e.to_string())
}

impl Keys {
    /// Loads the keys, making a key for each algorithm that has none.
    pub async fn open(store: Store, now: Millis) -> Result<Keys, IdentityError> {
        let keys = Keys {
            store,
            set: Arc::default(),
        };
        keys.reload(now).await?;
        let missing: Vec<Alg> = Alg::ALL
            .into_iter()
            .filter(|alg| !keys.current().active.iter().any(|k| k.alg == *alg))
            .collect();
        if !missing.is_empty() {
            for alg in missing {
                keys.insert(alg, now).await?;
            }
            keys.reload(now).await?;
        }
        Ok(keys)
    }

    fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.set.read().expect("the key cache is never poisoned"))
    }

    async fn insert(&self, alg: Alg, now: Millis) -> Result<(), IdentityError> {
        let kid = format!("{}-{}", alg.name().to_ascii_lowercase(), &random_id()[..12]);
        let key = tokio::task::spawn_blocking(move || SigningKey::generate(alg, kid))
            .await
            .map_err(crypto)?
            .map_err(crypto)?;
        sqlx::query(
            "INSERT INTO identity_signing_keys (kid, alg, private_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(alg.name())
        .bind(key.to_stored().map_err(crypto)?)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Reads the keys again from the store (after another process rotated them).
    pub async fn reload(&self, now: Millis) -> Result<(), IdentityError> {
        let rows = sqlx::query(
            "SELECT kid, alg, private_key, retired_at FROM identity_signing_keys \
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid",
        )
        .bind(now - PUBLISH_RETIRED_MS)
        .fetch_all(self.store.pool())
        .await?;
        let mut set = KeySet::default();
        for r in rows {
            let kid: String = r.try_get("kid")?;
            let alg: String = r.try_get("alg")?;
            let stored: String = r.try_get("private_key")?;
            let retired: Option<i64> = r.try_get("retired_at")?;
            let alg = Alg::parse(&alg).ok_or_else(|| crypto(format!("unknown algorithm {alg}")))?;
            let key = SigningKey::from_stored(kid, alg, &stored).map_err(crypto)?;
            set.published.push(key.verifying_key());
            if retired.is_none() && !set.active.iter().any(|k| k.alg == alg) {
                set.active.push(Arc::new(key));
            }
        }
        *self.set.write().expect("the key cache is never poisoned") = Arc::new(set);
        Ok(())
    }

    /// Makes a new key for each algorithm and retires the old ones, which stay published for
    /// [`PUBLISH_RETIRED_MS`].
    pub async fn rotate(&self, now: Millis) -> Result<(), IdentityError> {
        sqlx::query("UPDATE identity_signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
            .bind(now)
            .execute(self.store.pool())
            .await?;
        for alg in Alg::ALL {
            self.insert(alg, now).await?;
        }
        self.reload(now).await
    }

    /// The active key of `alg`.
    pub fn signing(&self, alg: Alg) -> Result<Arc<SigningKey>, IdentityError> {
        self.current()
            .active
            .iter()
            .find(|k| k.alg == alg)
            .cloned()
            .ok_or_else(|| crypto(format!("no active {} key", alg.name())))
    }

    /// Every published public key.
    pub fn published(&self) -> Vec<VerifyingKey> {
        self.current().published.clone()
    }

    /// The JWK Set document (RFC 7517 §5).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.published().iter().map(VerifyingKey::jwk).collect::<Vec<_>>() })
    }
}
