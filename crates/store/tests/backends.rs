//! The store's behaviour, run on SQLite always and on PostgreSQL when configured.

use std::collections::BTreeSet;

use errandless_store::testing::{for_each_backend, for_each_database};
use errandless_store::{Backend, Installation, NewInstallation, SchemaVersion, Store, StoreError};
use sqlx::migrate::Migrator;
use sqlx::Row;

static ALPHA: Migrator = sqlx::migrate!("tests/migrations/alpha");
static ALPHA_V1: Migrator = sqlx::migrate!("tests/migrations/alpha_v1");
static ALPHA_EDITED: Migrator = sqlx::migrate!("tests/migrations/alpha_edited");
static BETA: Migrator = sqlx::migrate!("tests/migrations/beta");
static BROKEN: Migrator = sqlx::migrate!("tests/migrations/broken");

fn version(component: &str, version: i64, migrations: i64) -> SchemaVersion {
    SchemaVersion {
        component: component.to_owned(),
        version,
        migrations,
    }
}

fn guizhou(seed: u64, people: u64) -> NewInstallation {
    NewInstallation {
        province_code: "52".to_owned(),
        seed,
        people,
    }
}

async fn table_exists(store: &Store, table: &str) -> bool {
    // `SELECT * ... WHERE 1 = 0` fails exactly when the table is missing, on both backends.
    sqlx::query(&format!("SELECT * FROM {table} WHERE 1 = 0"))
        .fetch_all(store.pool())
        .await
        .is_ok()
}

#[tokio::test]
async fn a_new_store_holds_only_its_own_schema() {
    for_each_backend(|store| async move {
        assert_eq!(
            store.schema_versions().await.unwrap(),
            vec![version("store", 1, 1)]
        );
        assert_eq!(store.installation().await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn the_installation_record_round_trips_and_keeps_its_creation_time() {
    for_each_backend(|store| async move {
        let first = store
            .record_installation(&guizhou(u64::MAX, 100_000))
            .await
            .unwrap();
        assert_eq!(first.province_code, "52");
        assert_eq!(first.seed, u64::MAX, "a seed past i64::MAX survives");
        assert_eq!(first.people, 100_000);
        assert_eq!(first.created_at, first.updated_at);
        assert_eq!(store.installation().await.unwrap(), Some(first.clone()));

        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let new = NewInstallation {
            province_code: "11".to_owned(),
            seed: 0,
            people: i64::MAX as u64,
        };
        let second = store.record_installation(&new).await.unwrap();
        assert_eq!(
            (second.province_code.as_str(), second.seed, second.people),
            ("11", 0, i64::MAX as u64)
        );
        assert_eq!(second.created_at, first.created_at);
        assert!(second.updated_at > first.updated_at);
        let rows = sqlx::query("SELECT COUNT(*) AS n FROM store_installation")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(rows.get::<i64, _>("n"), 1, "one row, always");
    })
    .await;
}

#[tokio::test]
async fn a_bad_installation_record_is_refused_and_changes_nothing() {
    for_each_backend(|store| async move {
        let kept = store.record_installation(&guizhou(7, 1_000)).await.unwrap();
        for code in ["", "5", "520", "5a", " 52", "５２", "00", "99", "+5"] {
            let bad = NewInstallation {
                province_code: code.to_owned(),
                seed: 1,
                people: 1,
            };
            let err = store.record_installation(&bad).await.unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidProvinceCode { .. }),
                "{code:?}: {err}"
            );
        }
        let err = store
            .record_installation(&guizhou(1, u64::MAX))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::OutOfRange {
                    field: "people",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(store.installation().await.unwrap(), Some(kept));
    })
    .await;
}

#[tokio::test]
async fn two_components_with_the_same_versions_coexist_and_reruns_do_nothing() {
    for_each_backend(|store| async move {
        assert_eq!(store.migrate("alpha", &ALPHA).await.unwrap(), vec![1, 2]);
        assert_eq!(store.migrate("beta", &BETA).await.unwrap(), vec![1]);
        assert_eq!(
            store.migrate("alpha", &ALPHA).await.unwrap(),
            Vec::<i64>::new()
        );
        assert_eq!(
            store.migrate("beta", &BETA).await.unwrap(),
            Vec::<i64>::new()
        );
        assert_eq!(
            store.schema_versions().await.unwrap(),
            vec![
                version("alpha", 2, 2),
                version("beta", 1, 1),
                version("store", 1, 1)
            ]
        );

        sqlx::query("INSERT INTO alpha_things (id, name) VALUES ($1, $2)")
            .bind(1_i64)
            .bind("一号")
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO alpha_parts (id, thing_id, weight) VALUES ($1, $2, $3)")
            .bind(10_i64)
            .bind(1_i64)
            .bind(2.5_f64)
            .execute(store.pool())
            .await
            .unwrap();
        sqlx::query("INSERT INTO beta_things (id, label) VALUES ($1, $2)")
            .bind(1_i64)
            .bind("b")
            .execute(store.pool())
            .await
            .unwrap();
        let row = sqlx::query(
            "SELECT t.name, p.weight, b.enabled FROM alpha_things t
             JOIN alpha_parts p ON p.thing_id = t.id JOIN beta_things b ON b.id = t.id",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(row.get::<String, _>("name"), "一号");
        assert_eq!(row.get::<f64, _>("weight"), 2.5);
        assert_eq!(row.get::<i64, _>("enabled"), 1);

        // Foreign keys are enforced on both backends.
        let orphan =
            sqlx::query("INSERT INTO alpha_parts (id, thing_id, weight) VALUES (11, 99, 1)")
                .execute(store.pool())
                .await;
        assert!(orphan.is_err(), "a part of a missing thing is refused");
    })
    .await;
}

#[tokio::test]
async fn a_later_release_applies_only_its_new_migrations() {
    for_each_backend(|store| async move {
        assert_eq!(store.migrate("alpha", &ALPHA_V1).await.unwrap(), vec![1]);
        assert!(!table_exists(&store, "alpha_parts").await);
        assert_eq!(store.migrate("alpha", &ALPHA).await.unwrap(), vec![2]);
        assert!(table_exists(&store, "alpha_parts").await);
    })
    .await;
}

#[tokio::test]
async fn an_edited_migration_is_refused() {
    for_each_backend(|store| async move {
        store.migrate("alpha", &ALPHA_V1).await.unwrap();
        let err = store.migrate("alpha", &ALPHA_EDITED).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::MigrationChanged { component, version: 1, .. } if component == "alpha"),
            "{err}"
        );
        assert!(!table_exists(&store, "alpha_parts").await, "nothing after the edit ran");
    })
    .await;
}

#[tokio::test]
async fn an_older_program_refuses_a_newer_database() {
    for_each_backend(|store| async move {
        store.migrate("alpha", &ALPHA).await.unwrap();
        let err = store.migrate("alpha", &ALPHA_V1).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::UnknownMigrationApplied { version: 2, .. }),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_failing_migration_rolls_back_whole_and_is_not_recorded() {
    for_each_backend(|store| async move {
        for _ in 0..2 {
            let err = store.migrate("broken", &BROKEN).await.unwrap_err();
            assert!(
                matches!(&err, StoreError::Migrate { version: 2, .. }),
                "{err}"
            );
            assert!(
                std::error::Error::source(&err).is_some(),
                "the database's reason is kept"
            );
        }
        assert!(table_exists(&store, "broken_first").await);
        assert!(
            !table_exists(&store, "broken_second").await,
            "DDL rolled back"
        );
        let versions = store.schema_versions().await.unwrap();
        assert!(versions.contains(&version("broken", 1, 1)), "{versions:?}");
    })
    .await;
}

#[tokio::test]
async fn component_names_are_checked() {
    for_each_backend(|store| async move {
        for name in ["store", "", "Alpha", "al-pha", "1alpha"] {
            let err = store.migrate(name, &ALPHA).await.unwrap_err();
            assert!(
                matches!(err, StoreError::InvalidComponent { .. }),
                "{name:?}: {err}"
            );
        }
        assert!(!table_exists(&store, "alpha_things").await);
    })
    .await;
}

#[tokio::test]
async fn concurrent_opens_and_migrators_apply_each_migration_once() {
    for_each_database(|db| async move {
        let (a, b) = tokio::join!(db.open(), db.open());
        let (a, b) = (a.unwrap(), b.unwrap());
        let (ra, rb) = tokio::join!(a.migrate("alpha", &ALPHA), b.migrate("alpha", &ALPHA));
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let mut all = ra.clone();
        all.extend(&rb);
        all.sort_unstable();
        assert_eq!(
            all,
            vec![1, 2],
            "each applied once in all: {ra:?} and {rb:?}"
        );
        assert_eq!(
            a.schema_versions().await.unwrap(),
            vec![version("alpha", 2, 2), version("store", 1, 1)]
        );
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_reopened_store_finds_what_was_written() {
    for_each_database(|db| async move {
        let store = db.open().await.unwrap();
        assert_eq!(store.backend(), db.backend());
        store.migrate("beta", &BETA).await.unwrap();
        let written: Installation = store.record_installation(&guizhou(42, 10)).await.unwrap();
        store.close().await;

        let again = db.open().await.unwrap();
        assert_eq!(again.installation().await.unwrap(), Some(written));
        assert_eq!(
            again.migrate("beta", &BETA).await.unwrap(),
            Vec::<i64>::new()
        );
        if again.backend() == Backend::Sqlite {
            let mode: String = sqlx::query("PRAGMA journal_mode")
                .fetch_one(again.pool())
                .await
                .unwrap()
                .get(0);
            assert_eq!(mode, "wal");
            let fk: i64 = sqlx::query("PRAGMA foreign_keys")
                .fetch_one(again.pool())
                .await
                .unwrap()
                .get(0);
            assert_eq!(fk, 1);
        }
        again.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_fixture_gives_every_run_a_database_of_its_own() {
    // Two runs in a row must not see each other's tables.
    for _ in 0..2 {
        for_each_backend(|store| async move {
            assert!(!table_exists(&store, "beta_things").await);
            store.migrate("beta", &BETA).await.unwrap();
        })
        .await;
    }
    let seen = std::sync::Mutex::new(BTreeSet::new());
    for_each_backend(|store| {
        seen.lock().unwrap().insert(store.backend());
        async {}
    })
    .await;
    let mut expected = BTreeSet::from([Backend::Sqlite]);
    if std::env::var_os(errandless_store::testing::POSTGRES_URL_VAR).is_some() {
        expected.insert(Backend::Postgres);
    }
    assert_eq!(seen.into_inner().unwrap(), expected);
}

#[tokio::test]
async fn a_panicking_test_still_leaves_no_schema_behind() {
    use errandless_store::testing::{on_postgres, POSTGRES_URL_VAR};
    use futures_util::FutureExt;
    use sqlx::Connection;

    let schema = std::sync::Mutex::new(None::<String>);
    let seen = &schema;
    let outcome = std::panic::AssertUnwindSafe(on_postgres(|db| async move {
        let store = db.open().await.unwrap();
        let row = sqlx::query("SELECT current_schema() AS s")
            .fetch_one(store.pool())
            .await
            .unwrap();
        *seen.lock().unwrap() = Some(row.get("s"));
        panic!("the body fails");
    }))
    .catch_unwind()
    .await;
    let Some(schema) = schema.into_inner().unwrap() else {
        return; // PostgreSQL not configured: nothing ran.
    };
    assert!(outcome.is_err(), "the body's panic reaches the test");
    assert!(schema.starts_with("errandless_test_"), "{schema}");
    let server = std::env::var(POSTGRES_URL_VAR).unwrap();
    let mut admin = sqlx::PgConnection::connect(&server).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1")
        .bind(&schema)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "schema {schema} was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_openers_of_a_new_sqlite_file_all_open_it() {
    // Each opener races the others to switch the new file to WAL; the losers wait and open.
    for _ in 0..20 {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = Store::default_url(dir.path());
        let opens = (0..8).map(|_| Store::open(&url));
        for opened in futures_util::future::join_all(opens).await {
            let store = opened.expect("the store opens");
            assert_eq!(store.backend(), Backend::Sqlite);
            store.close().await;
        }
    }
}
