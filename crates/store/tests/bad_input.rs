//! Bad locations get typed errors, never a panic, and never show a password.

use std::error::Error;

use errandless_store::testing::POSTGRES_URL_VAR;
use errandless_store::{redact, Backend, Store, StoreError};
use proptest::prelude::*;

/// The error's message and every cause's, plus its `Debug` form.
fn everything_said(err: &StoreError) -> String {
    let mut text = format!("{err:?}\n{err}");
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!("\n{cause}"));
        source = cause.source();
    }
    text
}

async fn open_err(location: &str) -> StoreError {
    match Store::open(location).await {
        Ok(store) => panic!("{location:?} opened as {:?}", store.backend()),
        Err(err) => err,
    }
}

#[tokio::test]
async fn an_empty_location_is_refused() {
    for location in ["", "   ", "\n"] {
        assert!(matches!(
            open_err(location).await,
            StoreError::EmptyLocation
        ));
    }
}

#[tokio::test]
async fn an_unknown_scheme_is_refused_without_its_password() {
    for location in [
        "mysql://root:hunter2hunter2@db/x",
        "redis://:hunter2hunter2@cache",
        "http://x",
    ] {
        let err = open_err(location).await;
        assert!(
            matches!(err, StoreError::UnsupportedUrl { .. }),
            "{location}: {err}"
        );
        assert!(
            !everything_said(&err).contains("hunter2"),
            "{}",
            everything_said(&err)
        );
    }
}

#[tokio::test]
async fn an_in_memory_sqlite_database_is_refused() {
    for location in [
        "sqlite::memory:",
        "sqlite://:memory:",
        "sqlite:x.db?mode=memory",
    ] {
        let err = open_err(location).await;
        assert!(
            matches!(err, StoreError::UnsupportedUrl { .. }),
            "{location}: {err}"
        );
    }
}

#[tokio::test]
async fn malformed_urls_are_refused_without_their_password() {
    for location in [
        "postgres://ann:hunter2hunter2@localhost:99999/db",
        "postgres://ann:hunter2hunter2@[::1/db",
        "postgres://ann:hunter2hunter2@localhost/db?sslmode=sometimes",
        "postgresql://ann@localhost/db?password=hunter2hunter2&port=nope",
        "sqlite:platform.sqlite?mode=sideways",
    ] {
        let err = open_err(location).await;
        assert!(
            matches!(err, StoreError::MalformedUrl { .. }),
            "{location}: {err}"
        );
        assert!(
            !everything_said(&err).contains("hunter2"),
            "{}",
            everything_said(&err)
        );
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_connect_error_without_the_password() {
    // Port 1 on loopback refuses at once.
    let err = open_err("postgres://ann:hunter2hunter2@127.0.0.1:1/db").await;
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    let said = everything_said(&err);
    assert!(
        said.contains("ann:***@127.0.0.1:1"),
        "names the server: {said}"
    );
    assert!(!said.contains("hunter2"), "{said}");
}

#[tokio::test]
async fn a_wrong_password_is_not_repeated() {
    let Some(server) = std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|s| !s.trim().is_empty())
    else {
        eprintln!("PostgreSQL skipped: set {POSTGRES_URL_VAR} to run against PostgreSQL");
        return;
    };
    let mut url = url::Url::parse(&server).expect("the test server URL parses");
    if url.set_password(Some("wrong-hunter2hunter2")).is_err() {
        // A socket URL without a host (`postgres:///db?host=/run/...`) takes it as a parameter.
        url.query_pairs_mut()
            .append_pair("password", "wrong-hunter2hunter2");
    }
    // Peer or trust authentication over a socket ignores the password, so also name a database
    // that does not exist: the open fails either way and creates nothing on the server.
    url.set_path("/errandless_no_such_database");
    let err = open_err(url.as_str()).await;
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    assert!(
        !everything_said(&err).contains("hunter2"),
        "{}",
        everything_said(&err)
    );
}

#[tokio::test]
async fn a_directory_is_not_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = open_err(dir.path().to_str().unwrap()).await;
    assert!(matches!(err, StoreError::NotAFile { .. }), "{err}");
}

#[tokio::test]
async fn an_unwritable_sqlite_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where a directory should be: unwritable even for root.
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"").unwrap();
    let inside = file.join("platform.sqlite");
    let err = open_err(inside.to_str().unwrap()).await;
    assert!(matches!(err, StoreError::CreateDirectory { .. }), "{err}");
    assert!(err.to_string().contains("not-a-directory"), "{err}");

    let url = Store::default_url(&file);
    let err = open_err(&url).await;
    assert!(matches!(err, StoreError::CreateDirectory { .. }), "{err}");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_a_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("platform.sqlite");
    std::fs::write(
        &file,
        b"this is not a SQLite database, just some text long enough",
    )
    .unwrap();
    let err = open_err(file.to_str().unwrap()).await;
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"this is not a SQLite database, just some text long enough",
        "left as it was"
    );
}

#[tokio::test]
async fn every_spelling_of_a_sqlite_location_opens_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data dir?#%").join("nested");
    let file = data.join("platform.sqlite");
    let spellings = [
        Store::default_url(&data),
        file.to_str().unwrap().to_owned(),
        format!("  {}  ", file.to_str().unwrap()),
    ];
    for (i, location) in spellings.iter().enumerate() {
        let store = Store::open(location)
            .await
            .unwrap_or_else(|e| panic!("{location}: {e}"));
        assert_eq!(store.backend(), Backend::Sqlite);
        let seen = store.installation().await.unwrap().map(|i| i.seed);
        assert_eq!(seen, if i == 0 { None } else { Some(0) }, "{location}");
        if i == 0 {
            let new = errandless_store::NewInstallation {
                province_code: "52".to_owned(),
                seed: 0,
                people: 1,
            };
            store.record_installation(&new).await.unwrap();
        }
        store.close().await;
    }
    assert!(file.is_file());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn redaction_never_shows_the_password(
        user in "[a-z]{1,8}",
        password in "[A-Za-z0-9!$&'()*+,;=~._-]{10,24}",
        host in "[a-z]{1,10}(\\.[a-z]{2,5})?",
        port in proptest::option::of(0u32..100_000),
        scheme in prop_oneof!["postgres", "postgresql", "mysql", "sqlite", "x-db"],
        in_query in any::<bool>(),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let location = if in_query {
            format!("{scheme}://{user}@{host}{port}/db?sslmode=disable&password={password}")
        } else {
            format!("{scheme}://{user}:{password}@{host}{port}/db")
        };
        let shown = redact(&location);
        prop_assert!(!shown.contains(&password), "{location} -> {shown}");
    }

    #[test]
    fn arbitrary_urls_give_errors_not_panics(
        scheme in prop_oneof!["postgres", "postgresql", "mysql", "ftp", "sqlite"],
        rest in "[ -?A-~]{0,40}",
        password in "[A-Za-z0-9]{12,20}",
    ) {
        // Only URLs that cannot reach a server or create a file: an unknown scheme, a
        // malformed port, or a sqlite URL with a parameter sqlx refuses. No `@` in `rest`, so
        // the password stays in the user-info part.
        let location = match scheme.as_str() {
            // SQLite URLs carry no password; this one must just fail cleanly.
            "sqlite" => format!("sqlite:{}?mode=bogus", rest.replace(['?', '#'], "")),
            "postgres" | "postgresql" => format!("{scheme}://u:{password}@h:99999{rest}"),
            _ => format!("{scheme}://u:{password}@{rest}"),
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let result = runtime.block_on(Store::open(&location));
        match result {
            Ok(_) => prop_assert!(false, "{location} opened"),
            Err(err) => {
                prop_assert!(!everything_said(&err).contains(&password), "{}", everything_said(&err));
            }
        }
    }
}
