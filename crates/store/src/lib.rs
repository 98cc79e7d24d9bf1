//! The platform's own database: one handle, [`Store`], on SQLite or PostgreSQL.
//!
//! Platform state (accounts, grants, cases, decisions, payments, indexes) lives here. By default
//! it is an embedded SQLite file in the data directory (`<data>/platform.sqlite`, created if
//! missing, in WAL mode with foreign keys on); a `postgres://` URL puts it in PostgreSQL
//! instead. The same code, the same migrations and the same tests run on both, through sqlx's
//! `Any` driver.
//!
//! Each domain crate owns its tables. It keeps its migrations in its own directory, numbered
//! from 1, and applies them with [`Store::migrate`] under its own component name; the store
//! keeps every component's history apart in one bookkeeping table, so components never clash
//! and no crate needs to know another's tables. The store's own tables are the installation's
//! record ([`Store::record_installation`]) and the `store_schema_versions` view
//! ([`Store::schema_versions`]).
//!
//! This crate is not a data-access layer for other crates' tables: it has no knowledge of them.
//! It does not open department islands (that is `exchange`), hold dataset snapshots (the data
//! center's Parquet files) or the transparency log (`ledger`).
//!
//! # Migrations
//!
//! A component keeps `migrations/NNNN_what.sql` files in its crate, embeds them with
//! `sqlx::migrate!("./migrations")`, and calls `store.migrate("its_name", &MIGRATOR)` when it
//! starts. History is recorded in `store_migrations (component, version, ...)`; the view
//! `store_schema_versions` shows each component's current version. Migrations go forward only:
//! never edit or delete one that has shipped (the store refuses a changed checksum or an
//! unknown applied version), add a new one instead. Each runs in its own transaction, so a file
//! must not contain `BEGIN` or `COMMIT`; one marked `-- no-transaction` runs outside it and
//! must be idempotent.
//!
//! # Portable SQL
//!
//! Migrations and queries must run on both backends: write parameters as `$1, $2, …` (SQLite
//! accepts them too); use only `BIGINT`, `DOUBLE PRECISION` and `TEXT` columns, the types the
//! `Any` driver reads on both (a flag is `BIGINT` 0 or 1, since it cannot read SQLite's
//! `BOOLEAN`; a time is `BIGINT` milliseconds since the Unix epoch, UTC); prefix every table
//! with the component name (`exchange_grants`); never name a schema; and never use the
//! compile-time `query!` macros. Test with `testing::for_each_backend` (feature `testing`).
//!
//! # Example
//!
//! ```no_run
//! use errandless_store::{NewInstallation, Store};
//! use std::path::Path;
//!
//! // In the domain crate: its migrations, embedded at compile time.
//! static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
//!
//! # async fn run() -> Result<(), errandless_store::StoreError> {
//! let store = Store::open(&Store::default_url(Path::new("errandless-data"))).await?;
//! store.migrate("exchange", &MIGRATOR).await?;
//! store
//!     .record_installation(&NewInstallation { province_code: "52".into(), seed: 7, people: 100_000 })
//!     .await?;
//! let row = sqlx::query("SELECT COUNT(*) AS n FROM exchange_grants").fetch_one(store.pool()).await?;
//! # let _ = row;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyPool, ConnectOptions};

pub mod cursor;
mod error;
mod installation;
mod location;
mod migrate;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::StoreError;
pub use installation::{Installation, NewInstallation};
pub use location::{redact, DEFAULT_FILE_NAME};
pub use migrate::SchemaVersion;

use location::Location;

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// A handle on the platform database: a connection pool, migrated to the store's own schema.
///
/// Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    url_redacted: String,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .field("url", &self.url_redacted)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the platform database at `url_or_path` and applies the store's own migrations.
    ///
    /// `url_or_path` is one of:
    /// - a file path (`errandless-data/platform.sqlite`) or a `sqlite:` URL
    ///   (`sqlite://errandless-data/platform.sqlite`): SQLite. The file and its directory are
    ///   created if missing; the file is put in WAL mode, with foreign keys on and a busy
    ///   timeout of 5 s. In-memory databases are refused, since one dies with its connections.
    /// - a `postgres://` or `postgresql://` URL, including socket forms such as
    ///   `postgres://user@%2Fvar%2Frun%2Fpostgresql/db` or `postgres:///db?host=/var/run/postgresql`.
    ///
    /// Any other scheme is [`StoreError::UnsupportedUrl`]. Errors name the location with its
    /// password hidden.
    pub async fn open(url_or_path: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let store = match Location::parse(url_or_path)? {
            Location::Sqlite(options) => open_sqlite(*options).await?,
            Location::Postgres(url) => {
                let url_redacted = redact(&url);
                let connect_error = |source| StoreError::Connect {
                    url_redacted: url_redacted.clone(),
                    source,
                };
                // One native attempt first: the pool would retry a refused connection until its
                // acquire timeout, where one attempt tells a wrong URL at once.
                let options = PgConnectOptions::from_str(&url).map_err(|source| {
                    StoreError::MalformedUrl {
                        url_redacted: url_redacted.clone(),
                        source,
                    }
                })?;
                let first = options.connect().await.map_err(connect_error)?;
                sqlx::Connection::close(first)
                    .await
                    .map_err(connect_error)?;
                let pool = AnyPoolOptions::new()
                    .max_connections(10)
                    .acquire_timeout(std::time::Duration::from_secs(10))
                    .connect(&url)
                    .await
                    .map_err(connect_error)?;
                Store {
                    pool,
                    backend: Backend::Postgres,
                    url_redacted,
                }
            }
        };
        store
            .migrate_component(migrate::STORE_COMPONENT, &migrate::STORE_MIGRATOR)
            .await?;
        Ok(store)
    }

    /// The `sqlite://` URL of the default store in `data_dir`: `<data_dir>/platform.sqlite`.
    pub fn default_url(data_dir: &Path) -> String {
        location::default_url(data_dir)
    }

    /// The database this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The location this store was opened with, password hidden.
    pub fn url_redacted(&self) -> &str {
        &self.url_redacted
    }

    /// The connection pool, for a component's own queries on its own tables.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn open_sqlite(options: sqlx::sqlite::SqliteConnectOptions) -> Result<Store, StoreError> {
    let file = options.get_filename().to_path_buf();
    let url_redacted = file.display().to_string();
    if file.is_dir() {
        return Err(StoreError::NotAFile { path: file });
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDirectory {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let connect_error = |source| StoreError::Connect {
        url_redacted: url_redacted.clone(),
        source,
    };
    // The first connection is native: it creates the file and switches it to WAL, options the
    // Any driver's URL cannot carry. Later connections find WAL set in the file, and sqlx turns
    // foreign keys on and sets the busy timeout for every SQLite connection by default.
    //
    // Two openers of a new file race to switch it to WAL, and SQLite answers the loser
    // "database is locked" at once rather than through the busy timeout. The loser tries
    // again, for as long as the busy timeout would have waited.
    let started = std::time::Instant::now();
    let first = loop {
        match options.connect().await {
            Err(sqlx::Error::Database(e))
                if is_busy(e.as_ref()) && started.elapsed() < location::SQLITE_BUSY_TIMEOUT =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            other => break other.map_err(connect_error)?,
        }
    };
    sqlx::Connection::close(first)
        .await
        .map_err(connect_error)?;
    let url = location::any_sqlite_url(&file).map_err(|e| connect_error(sqlx::Error::Io(e)))?;
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .map_err(connect_error)?;
    Ok(Store {
        pool,
        backend: Backend::Sqlite,
        url_redacted,
    })
}

/// Whether SQLite said the database is busy (SQLITE_BUSY, or one of its extended codes).
fn is_busy(e: &dyn sqlx::error::DatabaseError) -> bool {
    e.code()
        .and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| c & 0xff == 5)
}

/// `time` as milliseconds since the Unix epoch, the store's portable time column.
pub(crate) fn unix_ms(time: SystemTime) -> i64 {
    let ms = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    i64::try_from(ms).unwrap_or(i64::MAX)
}
