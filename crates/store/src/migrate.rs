//! Per-component migrations in one shared database.
//!
//! Each domain crate owns its tables, so each keeps its own migrations and its own version
//! numbers, starting at 1. The store records them in one bookkeeping table, `store_migrations`,
//! keyed by `(component, version)`, so `exchange` version 1 and `payments` version 1 never
//! meet. sqlx's own `_sqlx_migrations` table is not used: it has one version sequence per
//! database.

use std::collections::BTreeMap;
use std::time::SystemTime;

use sqlx::migrate::{Migration, Migrator};
use sqlx::{Any, Row, Transaction};

use crate::{Backend, Store, StoreError};

/// The component name under which the store keeps its own tables.
pub(crate) const STORE_COMPONENT: &str = "store";

/// The store's own migrations.
pub(crate) static STORE_MIGRATOR: Migrator = sqlx::migrate!("./migrations");

const CREATE_BOOKKEEPING: &str = "CREATE TABLE IF NOT EXISTS store_migrations (
    component     TEXT   NOT NULL,
    version       BIGINT NOT NULL,
    description   TEXT   NOT NULL,
    checksum      TEXT   NOT NULL,
    applied_at_ms BIGINT NOT NULL,
    PRIMARY KEY (component, version)
)";

/// One component's current schema version, as the `store_schema_versions` view reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaVersion {
    /// The component, e.g. `store` or `exchange`.
    pub component: String,
    /// The highest applied migration version.
    pub version: i64,
    /// How many migrations are applied.
    pub migrations: i64,
}

/// An applied migration as recorded.
struct Applied {
    checksum: String,
}

pub(crate) fn check_component_name(component: &str) -> Result<(), StoreError> {
    let invalid = |reason| {
        Err(StoreError::InvalidComponent {
            component: component.to_owned(),
            reason,
        })
    };
    if component.is_empty() || component.len() > 63 {
        return invalid("it must be 1 to 63 characters long");
    }
    if !component.starts_with(|c: char| c.is_ascii_lowercase()) {
        return invalid("it must start with a lower-case ASCII letter");
    }
    if !component
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return invalid("it may hold only lower-case ASCII letters, digits and `_`");
    }
    Ok(())
}

impl Store {
    /// Applies `component`'s pending migrations and returns the versions it applied, in order.
    ///
    /// `component` names the crate that owns the migrations (`exchange`, `payments`, ...). Its
    /// versions are its own: two components may both have a version 1. Each migration runs in
    /// its own transaction together with the row that records it, under a lock that serialises
    /// concurrent migrators of the same database, so running this again, or from two processes
    /// at once, applies each migration exactly once.
    ///
    /// It refuses to go on, changing nothing, if the database records a migration of
    /// `component` that `migrator` lacks ([`StoreError::UnknownMigrationApplied`]) or whose SQL
    /// has since been edited ([`StoreError::MigrationChanged`]). Down migrations are ignored:
    /// migrations go forward only.
    ///
    /// The name `store` is the store's own and is refused, as are names that are not lower-case
    /// ASCII letters, digits and `_`.
    pub async fn migrate(
        &self,
        component: &str,
        migrator: &Migrator,
    ) -> Result<Vec<i64>, StoreError> {
        check_component_name(component)?;
        if component == STORE_COMPONENT {
            return Err(StoreError::InvalidComponent {
                component: component.to_owned(),
                reason: "the name `store` is reserved for the store's own tables",
            });
        }
        self.migrate_component(component, migrator).await
    }

    pub(crate) async fn migrate_component(
        &self,
        component: &str,
        migrator: &Migrator,
    ) -> Result<Vec<i64>, StoreError> {
        let ups: Vec<&Migration> = migrator
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .collect();

        // Check the recorded history against the program's before touching anything.
        let mut tx = self.lock().await?;
        sqlx::raw_sql(CREATE_BOOKKEEPING).execute(&mut *tx).await?;
        let applied = applied(&mut tx, component).await?;
        tx.commit().await?;
        for (&version, _) in applied.iter() {
            if !ups.iter().any(|m| m.version == version) {
                return Err(StoreError::UnknownMigrationApplied {
                    component: component.to_owned(),
                    version,
                });
            }
        }
        for m in &ups {
            if let Some(recorded) = applied.get(&m.version) {
                check_unchanged(component, m, recorded)?;
            }
        }

        let mut done = Vec::new();
        for m in ups
            .into_iter()
            .filter(|m| !applied.contains_key(&m.version))
        {
            if self.apply(component, m).await? {
                done.push(m.version);
            }
        }
        Ok(done)
    }

    /// Applies one migration unless another migrator got there first; true if this call did.
    async fn apply(&self, component: &str, m: &Migration) -> Result<bool, StoreError> {
        let failed = |source| StoreError::Migrate {
            component: component.to_owned(),
            version: m.version,
            description: m.description.to_string(),
            source,
        };
        let mut tx = self.lock().await?;
        if let Some(recorded) = applied(&mut tx, component).await?.get(&m.version) {
            check_unchanged(component, m, recorded)?;
            return Ok(false);
        }
        if m.no_tx {
            // A `-- no-transaction` migration (e.g. CREATE INDEX CONCURRENTLY) cannot run inside
            // the lock's transaction. It is recorded afterwards, so it must be idempotent: a
            // crash in between leaves it unrecorded and it runs again next time.
            tx.rollback().await?;
            sqlx::raw_sql(&m.sql)
                .execute(&self.pool)
                .await
                .map_err(failed)?;
            tx = self.lock().await?;
            if applied(&mut tx, component).await?.contains_key(&m.version) {
                return Ok(false);
            }
        } else {
            sqlx::raw_sql(&m.sql)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        sqlx::query(
            "INSERT INTO store_migrations (component, version, description, checksum, applied_at_ms)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(component)
        .bind(m.version)
        .bind(m.description.as_ref())
        .bind(hex(&m.checksum))
        .bind(crate::unix_ms(SystemTime::now()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A transaction that holds the migration lock of this database until it ends.
    async fn lock(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            // IMMEDIATE takes SQLite's write lock at once, so two migrators queue on the busy
            // timeout instead of one failing when it upgrades a read to a write.
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                // Keyed by schema, so isolated schemas in one database do not wait on each
                // other. `SELECT 1 FROM` because the Any driver cannot decode `void`.
                sqlx::query(
                    "SELECT 1 FROM pg_advisory_xact_lock(\
                     hashtext('errandless-store-migrate:' || coalesce(current_schema(), '')))",
                )
                .execute(&mut *tx)
                .await?;
                Ok(tx)
            }
        }
    }

    /// Every component's schema version, ordered by component name.
    pub async fn schema_versions(&self) -> Result<Vec<SchemaVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT component, version, migrations FROM store_schema_versions ORDER BY component",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(SchemaVersion {
                    component: row.try_get("component")?,
                    version: row.try_get("version")?,
                    migrations: row.try_get("migrations")?,
                })
            })
            .collect()
    }
}

async fn applied(
    tx: &mut Transaction<'static, Any>,
    component: &str,
) -> Result<BTreeMap<i64, Applied>, sqlx::Error> {
    let rows = sqlx::query("SELECT version, checksum FROM store_migrations WHERE component = $1")
        .bind(component)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("version")?,
                Applied {
                    checksum: row.try_get("checksum")?,
                },
            ))
        })
        .collect()
}

fn check_unchanged(component: &str, m: &Migration, recorded: &Applied) -> Result<(), StoreError> {
    if recorded.checksum == hex(&m.checksum) {
        Ok(())
    } else {
        Err(StoreError::MigrationChanged {
            component: component.to_owned(),
            version: m.version,
            description: m.description.to_string(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            write!(s, "{b:02x}").expect("writing to a String cannot fail");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_names() {
        for good in ["exchange", "payments", "a", "ledger_index2"] {
            assert!(check_component_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Exchange",
            "2fa",
            "pay-ments",
            "pay ments",
            "é",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(
                    check_component_name(bad),
                    Err(StoreError::InvalidComponent { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn hex_is_lower_case_and_padded() {
        assert_eq!(hex(&[0x00, 0x0f, 0xab]), "000fab");
    }
}
