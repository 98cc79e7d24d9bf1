//! A test fixture that runs one test body on every backend (feature `testing`).
//!
//! The body always runs on SQLite, in a fresh temporary directory. It runs on PostgreSQL too
//! when [`POSTGRES_URL_VAR`] (`ERRANDLESS_TEST_POSTGRES_URL`) names a server, for example
//! `postgres://postgres:postgres@localhost/postgres`; each run gets a schema of its own, created
//! before and dropped after (even when the body panics), so tests may run in parallel and leave
//! nothing behind. When the variable is unset the PostgreSQL run is skipped with a line on
//! standard error; when it is set but the server cannot be reached, the test fails.
//!
//! In a domain crate's `Cargo.toml`:
//!
//! ```toml
//! [dev-dependencies]
//! errandless-store = { workspace = true, features = ["testing"] }
//! tokio = { workspace = true }
//! ```
//!
//! and in its tests:
//!
//! ```no_run
//! use errandless_store::testing::for_each_backend;
//!
//! static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
//!
//! #[tokio::test]
//! async fn grants_start_empty() {
//!     for_each_backend(|store| async move {
//!         store.migrate("exchange", &MIGRATOR).await.unwrap();
//!         // ... the same assertions on SQLite and PostgreSQL
//!     })
//!     .await;
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::io::Write;
use std::panic::{resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use sqlx::{Connection, PgConnection};
use url::Url;

use crate::{redact, Backend, Store, StoreError};

/// The environment variable that names the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "ERRANDLESS_TEST_POSTGRES_URL";

/// A database made for one test run, which the fixture removes afterwards.
///
/// It can be opened more than once, for tests that need two handles on the same database (a
/// reopen, two concurrent migrators).
#[derive(Clone)]
pub struct TestDatabase {
    /// Where it is. It may carry the server's password, so it is never printed.
    location: String,
    backend: Backend,
}

impl fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDatabase")
            .field("backend", &self.backend)
            .field("location", &redact(&self.location))
            .finish()
    }
}

impl TestDatabase {
    /// Which backend it is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where it is, for a test that hands it to a child process (`ERRANDLESS_STORE_URL`). It
    /// may carry the server's password: never print it.
    pub fn url(&self) -> &str {
        &self.location
    }

    /// Opens a new [`Store`] (with its own pool) on this database.
    pub async fn open(&self) -> Result<Store, StoreError> {
        Store::open(&self.location).await
    }
}

/// Runs `body` with a fresh, migrated [`Store`] on SQLite, then on PostgreSQL if configured.
pub async fn for_each_backend<F, Fut>(body: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let body = &body;
    for_each_database(move |db| async move {
        let store = db
            .open()
            .await
            .unwrap_or_else(|e| panic!("cannot open the {} test store: {}", db.backend, chain(&e)));
        body(store.clone()).await;
        store.close().await;
    })
    .await;
}

/// Runs `body` with a fresh [`TestDatabase`] on SQLite, then on PostgreSQL if configured.
pub async fn for_each_database<F, Fut>(body: F)
where
    F: Fn(TestDatabase) -> Fut,
    Fut: Future<Output = ()>,
{
    on_sqlite(&body).await;
    on_postgres(&body).await;
}

/// Runs `body` with a fresh SQLite database in a temporary directory.
pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(TestDatabase) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("a temporary directory for the SQLite test store");
    let db = TestDatabase {
        location: Store::default_url(dir.path()),
        backend: Backend::Sqlite,
    };
    body(db).await;
    drop(dir);
}

/// Runs `body` with a fresh schema on the PostgreSQL server named by [`POSTGRES_URL_VAR`]; if
/// the variable is unset, says so on standard error and returns.
pub async fn on_postgres<F, Fut>(body: F)
where
    F: FnOnce(TestDatabase) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(server) = std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|s| !s.trim().is_empty())
    else {
        let test = std::thread::current().name().unwrap_or("test").to_owned();
        // Written to the stream itself, not through `eprintln!`, so the test harness does not
        // swallow it.
        let _ = writeln!(
            std::io::stderr(),
            "{test}: PostgreSQL skipped: set {POSTGRES_URL_VAR} to run against PostgreSQL"
        );
        return;
    };
    let schema = unique_schema_name();
    let mut admin = PgConnection::connect(&server).await.unwrap_or_else(|e| {
        panic!(
            "{POSTGRES_URL_VAR} is set but the server cannot be reached at {}: {e}",
            redact(&server)
        )
    });
    sqlx::raw_sql(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create the test schema {schema}: {e}"));
    let db = TestDatabase {
        location: with_search_path(&server, &schema),
        backend: Backend::Postgres,
    };
    let outcome = AssertUnwindSafe(body(db)).catch_unwind().await;
    // A panicking body may leave a connection holding locks until the server notices it closed;
    // wait a while for them, never forever.
    let dropped = sqlx::raw_sql(&format!(
        "SET lock_timeout = '30s'; DROP SCHEMA \"{schema}\" CASCADE"
    ))
    .execute(&mut admin)
    .await;
    let _ = admin.close().await;
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
    if let Err(e) = dropped {
        panic!("cannot drop the test schema {schema}: {e}");
    }
}

/// A schema name no other run, in this process or another, will pick.
fn unique_schema_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "errandless_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `server` with `schema` as the only schema on the search path of every connection.
fn with_search_path(server: &str, schema: &str) -> String {
    let mut url = Url::parse(server).unwrap_or_else(|e| {
        panic!(
            "{POSTGRES_URL_VAR} is not a valid URL ({}): {e}",
            redact(server)
        )
    });
    url.query_pairs_mut()
        .append_pair("options[search_path]", schema);
    url.to_string()
}

/// An error with its causes, for a panic message.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
