//! Members: the departments that publish and read data through the exchange, each known by its
//! social credit code (GB 32100) and an Ed25519 key, as X-Road members are known by their
//! member code and the certificates of their security servers.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use errandless_standards::{Standard, Uscc, UsccError};
use errandless_store::Store;
use sqlx::Row;

use crate::Millis;

/// A registered member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The department's identifier in the unified standard, e.g. `education`.
    pub id: String,
    pub uscc: Uscc,
    pub name_zh: String,
    pub name_en: String,
    /// The key that signs now.
    pub key: VerifyingKey,
    pub registered_at: Millis,
    /// Keys used before, oldest first.
    pub retired_keys: Vec<RetiredKey>,
}

/// A key a member no longer signs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetiredKey {
    pub key: VerifyingKey,
    pub added_at: Millis,
    pub retired_at: Millis,
}

/// What a department gives to register.
#[derive(Clone, Debug)]
pub struct NewMember {
    pub id: String,
    /// The social credit code as written; it is checked (GB 32100 §4).
    pub uscc: String,
    pub name_zh: String,
    pub name_en: String,
    pub key: VerifyingKey,
}

/// A member could not be registered, found or changed.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("{0:?} is not a department of the unified data standard")]
    UnknownDepartment(String),
    #[error("social credit code {uscc:?} is invalid: {source}")]
    InvalidUscc {
        uscc: String,
        #[source]
        source: UsccError,
    },
    #[error("the {field} name must not be empty")]
    EmptyName { field: &'static str },
    #[error("member {0:?} is already registered")]
    AlreadyRegistered(String),
    #[error("social credit code {0} already belongs to another member")]
    UsccTaken(String),
    #[error("no member {0:?} is registered")]
    NotRegistered(String),
    #[error("the new key of {0:?} is its current key or one it used before")]
    KeyReused(String),
    #[error("stored member {id:?} is corrupt: {what}")]
    Corrupt { id: String, what: String },
    #[error("the platform database failed")]
    Database(#[from] sqlx::Error),
}

/// The member register, kept in the platform store.
#[derive(Clone, Debug)]
pub struct Members {
    store: Store,
}

impl Members {
    /// The register in `store`, whose exchange migrations must have run ([`crate::migrate`]).
    pub fn new(store: Store) -> Members {
        Members { store }
    }

    /// Registers a department. Nothing is stored unless every check passes.
    pub async fn register(&self, new: NewMember, now: Millis) -> Result<Member, MemberError> {
        if Standard::builtin().department(&new.id).is_none() {
            return Err(MemberError::UnknownDepartment(new.id));
        }
        let uscc = Uscc::parse(new.uscc.trim()).map_err(|source| MemberError::InvalidUscc {
            uscc: new.uscc.clone(),
            source,
        })?;
        for (field, name) in [("Chinese", &new.name_zh), ("English", &new.name_en)] {
            if name.trim().is_empty() {
                return Err(MemberError::EmptyName { field });
            }
        }
        if self.get(&new.id).await?.is_some() {
            return Err(MemberError::AlreadyRegistered(new.id));
        }
        let taken = sqlx::query("SELECT id FROM exchange_members WHERE uscc = $1")
            .bind(uscc.as_str())
            .fetch_optional(self.store.pool())
            .await?;
        if taken.is_some() {
            return Err(MemberError::UsccTaken(uscc.to_string()));
        }
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(
            "INSERT INTO exchange_members (id, uscc, name_zh, name_en, registered_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&new.id)
        .bind(uscc.as_str())
        .bind(new.name_zh.trim())
        .bind(new.name_en.trim())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, || MemberError::AlreadyRegistered(new.id.clone())))?;
        sqlx::query(
            "INSERT INTO exchange_member_keys (member_id, public_key, added_at) VALUES ($1, $2, $3)",
        )
        .bind(&new.id)
        .bind(key_text(&new.key))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        crate::cache::changed();
        self.get(&new.id)
            .await?
            .ok_or(MemberError::NotRegistered(new.id))
    }

    /// Every member, by identifier.
    pub async fn list(&self) -> Result<Vec<Member>, MemberError> {
        let ids = sqlx::query("SELECT id FROM exchange_members ORDER BY id")
            .fetch_all(self.store.pool())
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for row in ids {
            let id: String = row.try_get("id")?;
            if let Some(m) = self.get(&id).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// One member, or `None` if `id` is not registered.
    pub async fn get(&self, id: &str) -> Result<Option<Member>, MemberError> {
        let Some(row) = sqlx::query(
            "SELECT id, uscc, name_zh, name_en, registered_at FROM exchange_members WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?
        else {
            return Ok(None);
        };
        let corrupt = |what: String| MemberError::Corrupt {
            id: id.to_owned(),
            what,
        };
        let uscc: String = row.try_get("uscc")?;
        let uscc = Uscc::parse(&uscc).map_err(|e| corrupt(e.to_string()))?;
        let keys = sqlx::query(
            "SELECT public_key, added_at, retired_at FROM exchange_member_keys \
             WHERE member_id = $1 ORDER BY added_at, public_key",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await?;
        let mut current = None;
        let mut retired_keys = Vec::new();
        for k in keys {
            let text: String = k.try_get("public_key")?;
            let key = parse_key(&text).ok_or_else(|| corrupt(format!("key {text:?}")))?;
            let added_at: i64 = k.try_get("added_at")?;
            match k.try_get::<Option<i64>, _>("retired_at")? {
                Some(retired_at) => retired_keys.push(RetiredKey {
                    key,
                    added_at,
                    retired_at,
                }),
                None if current.is_none() => current = Some(key),
                None => return Err(corrupt("two current keys".into())),
            }
        }
        Ok(Some(Member {
            id: row.try_get("id")?,
            uscc,
            name_zh: row.try_get("name_zh")?,
            name_en: row.try_get("name_en")?,
            key: current.ok_or_else(|| corrupt("no current key".into()))?,
            registered_at: row.try_get("registered_at")?,
            retired_keys,
        }))
    }

    /// Makes `key` the member's signing key; the old one is retired at `now` and kept.
    pub async fn rotate_key(
        &self,
        id: &str,
        key: VerifyingKey,
        now: Millis,
    ) -> Result<Member, MemberError> {
        let member = self
            .get(id)
            .await?
            .ok_or_else(|| MemberError::NotRegistered(id.to_owned()))?;
        if member.key == key || member.retired_keys.iter().any(|r| r.key == key) {
            return Err(MemberError::KeyReused(id.to_owned()));
        }
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(
            "UPDATE exchange_member_keys SET retired_at = $1 \
             WHERE member_id = $2 AND retired_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO exchange_member_keys (member_id, public_key, added_at) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(key_text(&key))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        crate::cache::changed();
        self.get(id)
            .await?
            .ok_or_else(|| MemberError::NotRegistered(id.to_owned()))
    }
}

/// A public key as stored and shown: standard base64 of its 32 bytes (RFC 8032 §5.1.5).
pub fn key_text(key: &VerifyingKey) -> String {
    BASE64.encode(key.as_bytes())
}

/// The inverse of [`key_text`]; `None` for anything that is not a valid Ed25519 public key.
pub fn parse_key(text: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = BASE64.decode(text.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

fn unique_violation(e: sqlx::Error, to: impl FnOnce() -> MemberError) -> MemberError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => to(),
        _ => MemberError::Database(e),
    }
}
