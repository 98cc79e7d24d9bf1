//! Server-side sessions. The browser holds a random 256-bit id in a cookie; the database holds
//! only its SHA-256. A login always makes a new id (so an id planted before login is worth
//! nothing: no session fixation), and a citizen can end every session at once.

use errandless_store::Store;
use sqlx::Row as _;

use crate::error::IdentityError;
use crate::level::Level;
use crate::token::{hash_secret, random_token, Millis};

/// A session ends after this long without use.
pub const IDLE_MS: Millis = 30 * 60_000;
/// And after this long whatever happens.
pub const ABSOLUTE_MS: Millis = 12 * 3_600_000;

/// A live session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub account_id: String,
    /// The level its login reached.
    pub level: Level,
    /// How the login was made (RFC 8176 values: `pwd`, `otp`).
    pub amr: Vec<String>,
    /// When the login was made.
    pub auth_time: Millis,
    pub expires_at: Millis,
}

/// The sessions of every account.
#[derive(Clone, Debug)]
pub struct Sessions {
    store: Store,
}

impl Sessions {
    pub fn new(store: Store) -> Sessions {
        Sessions { store }
    }

    /// Starts a session after a login and returns the cookie value. The session the browser
    /// had before, if any, is ended: the id always changes at login.
    pub async fn start(
        &self,
        account_id: &str,
        level: Level,
        amr: &[String],
        previous: Option<&str>,
        now: Millis,
    ) -> Result<(String, Session), IdentityError> {
        if let Some(previous) = previous {
            self.end(previous).await?;
        }
        let id = random_token();
        let session = Session {
            account_id: account_id.to_owned(),
            level,
            amr: amr.to_vec(),
            auth_time: now,
            expires_at: now + ABSOLUTE_MS,
        };
        sqlx::query(
            "INSERT INTO identity_sessions (id_hash, account_id, level, amr, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(hash_secret(&id))
        .bind(account_id)
        .bind(level.code())
        .bind(amr.join(" "))
        .bind(now)
        .bind(session.expires_at)
        .execute(self.store.pool())
        .await?;
        Ok((id, session))
    }

    /// The live session with this cookie value; it counts as a use.
    pub async fn find(&self, id: &str, now: Millis) -> Result<Session, IdentityError> {
        let hash = hash_secret(id);
        let row = sqlx::query(
            "SELECT account_id, level, amr, created_at, last_seen_at, expires_at \
             FROM identity_sessions WHERE id_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(IdentityError::UnknownSession)?;
        let last_seen: i64 = row.try_get("last_seen_at")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        if now >= expires_at || now - last_seen > IDLE_MS {
            self.end(id).await?;
            return Err(IdentityError::UnknownSession);
        }
        if now - last_seen > 60_000 {
            sqlx::query("UPDATE identity_sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(&hash)
                .execute(self.store.pool())
                .await?;
        }
        let level: String = row.try_get("level")?;
        let amr: String = row.try_get("amr")?;
        Ok(Session {
            account_id: row.try_get("account_id")?,
            level: level
                .parse()
                .map_err(|e: crate::level::UnknownLevel| IdentityError::Database(e.to_string()))?,
            amr: amr.split_whitespace().map(str::to_owned).collect(),
            auth_time: row.try_get("created_at")?,
            expires_at,
        })
    }

    /// Ends one session (logout). Ending one that does not exist is not an error.
    pub async fn end(&self, id: &str) -> Result<(), IdentityError> {
        sqlx::query("DELETE FROM identity_sessions WHERE id_hash = $1")
            .bind(hash_secret(id))
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of an account ("log out everywhere"); returns how many ended.
    pub async fn end_all(&self, account_id: &str) -> Result<u64, IdentityError> {
        let done = sqlx::query("DELETE FROM identity_sessions WHERE account_id = $1")
            .bind(account_id)
            .execute(self.store.pool())
            .await?;
        Ok(done.rows_affected())
    }
}
