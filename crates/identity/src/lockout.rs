//! Lockout after failed logins, built so that an attacker cannot use it to keep a citizen out.
//!
//! Failures are counted per account and per *source*: each device that has logged in to the
//! account before (it holds a device cookie, as in OWASP's "Slow Down Online Guessing Attacks
//! with Device Cookies") counts alone, and every other source counts together as `untrusted`.
//! Guessing from an unknown browser therefore locks out only unknown browsers; the citizen's
//! own devices log in as before. Every lock is temporary: after [`THRESHOLD`] failures each
//! further one doubles the wait from [`BASE_LOCK_MS`] up to [`MAX_LOCK_MS`], and a quiet
//! [`FORGET_AFTER_MS`] clears the count.

use errandless_store::Store;
use sqlx::Row as _;

use crate::error::IdentityError;
use crate::token::Millis;

/// Failures allowed from one source before it waits.
pub const THRESHOLD: i64 = 5;
/// The first wait.
pub const BASE_LOCK_MS: Millis = 60_000;
/// The longest wait.
pub const MAX_LOCK_MS: Millis = 15 * 60_000;
/// A count left alone this long starts again from zero.
pub const FORGET_AFTER_MS: Millis = 24 * 3_600_000;

/// Where a login attempt comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A device that proved, by its cookie, an earlier login to this account.
    Device(String),
    /// Anything else.
    Untrusted,
    /// A named kind of check that is not a login (the real-name check).
    Check(&'static str),
}

impl Source {
    fn key(&self) -> String {
        match self {
            Source::Device(id) => format!("device:{id}"),
            Source::Untrusted => "untrusted".into(),
            Source::Check(name) => format!("check:{name}"),
        }
    }
}

/// The failure counts.
#[derive(Clone, Debug)]
pub struct Lockout {
    store: Store,
}

/// The wait after `failures` failures, if any.
pub fn wait_after(failures: i64) -> Millis {
    if failures < THRESHOLD {
        return 0;
    }
    let doublings = u32::try_from(failures - THRESHOLD)
        .unwrap_or(u32::MAX)
        .min(16);
    BASE_LOCK_MS.saturating_mul(1 << doublings).min(MAX_LOCK_MS)
}

impl Lockout {
    pub fn new(store: Store) -> Lockout {
        Lockout { store }
    }

    /// Refuses an attempt while `source` is locked out of `account`.
    pub async fn check(
        &self,
        account: &str,
        source: &Source,
        now: Millis,
    ) -> Result<(), IdentityError> {
        let row = sqlx::query(
            "SELECT locked_until FROM identity_login_failures WHERE account_id = $1 AND source = $2",
        )
        .bind(account)
        .bind(source.key())
        .fetch_optional(self.store.pool())
        .await?;
        if let Some(row) = row {
            let until: i64 = row.try_get("locked_until")?;
            if until > now {
                return Err(IdentityError::LockedOut { until });
            }
        }
        Ok(())
    }

    /// Counts a failure, and returns how many there are now.
    pub async fn fail(
        &self,
        account: &str,
        source: &Source,
        now: Millis,
    ) -> Result<i64, IdentityError> {
        let mut tx = self.store.pool().begin().await?;
        let row = sqlx::query(
            "SELECT failures, last_failure_at FROM identity_login_failures \
             WHERE account_id = $1 AND source = $2",
        )
        .bind(account)
        .bind(source.key())
        .fetch_optional(&mut *tx)
        .await?;
        let failures = match row {
            Some(r) => {
                let n: i64 = r.try_get("failures")?;
                let last: i64 = r.try_get("last_failure_at")?;
                if now - last > FORGET_AFTER_MS {
                    1
                } else {
                    n + 1
                }
            }
            None => 1,
        };
        let until = now + wait_after(failures);
        sqlx::query(
            "INSERT INTO identity_login_failures (account_id, source, failures, last_failure_at, locked_until) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, source) DO UPDATE \
             SET failures = excluded.failures, last_failure_at = excluded.last_failure_at, \
                 locked_until = excluded.locked_until",
        )
        .bind(account)
        .bind(source.key())
        .bind(failures)
        .bind(now)
        .bind(until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(failures)
    }

    /// Clears the count of `source` after a success.
    pub async fn succeed(&self, account: &str, source: &Source) -> Result<(), IdentityError> {
        sqlx::query("DELETE FROM identity_login_failures WHERE account_id = $1 AND source = $2")
            .bind(account)
            .bind(source.key())
            .execute(self.store.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_and_stop_at_the_cap() {
        assert_eq!(wait_after(THRESHOLD - 1), 0);
        assert_eq!(wait_after(THRESHOLD), BASE_LOCK_MS);
        assert_eq!(wait_after(THRESHOLD + 1), 2 * BASE_LOCK_MS);
        assert_eq!(wait_after(THRESHOLD + 100), MAX_LOCK_MS);
        assert_eq!(wait_after(i64::MAX), MAX_LOCK_MS);
    }
}
