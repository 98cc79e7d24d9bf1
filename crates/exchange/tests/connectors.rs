//! Connectors to the synthetic islands: SQLite, CSV and PostgreSQL, and subjects found
//! through local identifiers.

use std::collections::BTreeMap;
use std::io::Write;

use errandless_exchange::{
    ConnectorConfig, ConnectorError, ConnectorKind, FieldValue, Islands, IslandsConfig,
};
use errandless_synth::testing::{pick, province};

fn fields(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn the_synthetic_islands_open_and_answer_with_only_the_fields_asked_for() {
    let config = IslandsConfig::synthetic(province());
    let islands = Islands::open(&config, province())
        .await
        .expect("islands open");
    assert_eq!(
        islands.published().count(),
        errandless_standards::Standard::builtin().datasets().count()
    );
    let id = pick("public_security", "SELECT id_number FROM resident LIMIT 1");
    let rows = islands
        .lookup("public_security.resident", &id, &fields(&["name", "sex"]))
        .await
        .expect("lookup");
    assert!(!rows.is_empty());
    for row in &rows {
        assert_eq!(row.keys().collect::<Vec<_>>(), ["name", "sex"]);
    }
    let none = islands
        .lookup(
            "public_security.resident",
            "52010219900307105X",
            &fields(&["name"]),
        )
        .await
        .expect("lookup");
    assert!(none.is_empty());
}

#[tokio::test]
async fn local_identifiers_resolve_to_the_subject() {
    let islands = Islands::open(&IslandsConfig::synthetic(province()), province())
        .await
        .expect("islands open");
    let (id, year) = {
        let id = pick(
            "education",
            "SELECT s.id_number FROM admission a JOIN student s ON s.student_no = a.student_no \
             WHERE s.id_number IS NOT NULL ORDER BY a.student_no LIMIT 1",
        );
        let year = pick(
            "education",
            &format!(
                "SELECT CAST(a.year AS TEXT) FROM admission a JOIN student s \
                 ON s.student_no = a.student_no WHERE s.id_number = '{id}' LIMIT 1"
            ),
        );
        (id, year)
    };
    let rows = islands
        .lookup("education.admission", &id, &fields(&["year", "level"]))
        .await
        .expect("lookup");
    assert!(
        rows.iter()
            .any(|r| r.get("year") == Some(&FieldValue::Integer(year.parse().expect("a year")))),
        "{rows:?}"
    );
}

/// finance.one_card written as CSV with the ID column renamed, read through a column mapping.
#[tokio::test]
async fn a_csv_island_with_its_own_column_names_reads_like_the_sqlite_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = rusqlite::Connection::open_with_flags(
        province().join("islands/finance.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("island opens");
    let mut stmt = conn
        .prepare("SELECT account, id_number, bank, opened_on, status FROM one_card")
        .expect("prepare");
    let mut csv = std::fs::File::create(dir.path().join("one_card.csv")).expect("create");
    writeln!(csv, "account,sfzh,bank,opened_on,status").expect("write");
    let mut rows = stmt.query([]).expect("query");
    while let Some(r) = rows.next().expect("row") {
        let cells: Vec<String> = (0..5)
            .map(|i| r.get::<_, String>(i).expect("text"))
            .collect();
        writeln!(csv, "{}", cells.join(",")).expect("write");
    }
    drop(csv);
    let config = IslandsConfig::parse(
        r#"
        [[connector]]
        dataset = "finance.one_card"
        kind = "csv"
        location = "one_card.csv"
        [connector.columns]
        id_number = "sfzh"
        "#,
    )
    .expect("parses");
    let from_csv = Islands::open(&config, dir.path()).await.expect("opens");
    let from_sqlite = Islands::open(&IslandsConfig::synthetic(province()), province())
        .await
        .expect("opens");
    let id = pick(
        "finance",
        "SELECT id_number FROM one_card ORDER BY account LIMIT 1",
    );
    let wanted = fields(&["account", "bank", "status"]);
    let a = from_csv
        .lookup("finance.one_card", &id, &wanted)
        .await
        .expect("csv");
    let b = from_sqlite
        .lookup("finance.one_card", &id, &wanted)
        .await
        .expect("sqlite");
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

/// finance.one_card loaded into a schema of its own on the test PostgreSQL server.
#[tokio::test]
async fn a_postgres_island_reads_like_the_sqlite_one() {
    let Ok(url) = std::env::var("ERRANDLESS_TEST_POSTGRES_URL") else {
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL island skipped: set ERRANDLESS_TEST_POSTGRES_URL to run it"
        );
        return;
    };
    let schema = format!("exchange_island_{}", std::process::id());
    let pool = sqlx::PgPool::connect(&url).await.expect("server reachable");
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; \
         CREATE TABLE {schema}.yikatong (zh TEXT NOT NULL, sfzh TEXT NOT NULL, bank TEXT NOT NULL, \
         opened_on TEXT NOT NULL, status TEXT NOT NULL)"
    ))
    .execute(&pool)
    .await
    .expect("schema created");
    let rows: Vec<[String; 5]> = {
        let conn = rusqlite::Connection::open_with_flags(
            province().join("islands/finance.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("island opens");
        let mut stmt = conn
            .prepare("SELECT account, id_number, bank, opened_on, status FROM one_card")
            .expect("prepare");
        let mapped = stmt
            .query_map([], |r| {
                Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?])
            })
            .expect("query");
        mapped.collect::<Result<Vec<_>, _>>().expect("rows")
    };
    let subjects: Vec<String> = rows.iter().take(20).map(|r| r[1].clone()).collect();
    let insert = format!("INSERT INTO {schema}.yikatong VALUES ($1, $2, $3, $4, $5)");
    for r in &rows {
        let mut q = sqlx::query(&insert);
        for v in r {
            q = q.bind(v);
        }
        q.execute(&pool).await.expect("insert");
    }
    let config = IslandsConfig {
        connector: vec![ConnectorConfig {
            dataset: "finance.one_card".into(),
            kind: ConnectorKind::Postgres,
            location: url.clone(),
            table: Some("yikatong".into()),
            schema: Some(schema.clone()),
            columns: BTreeMap::from([
                ("account".into(), "zh".into()),
                ("id_number".into(), "sfzh".into()),
            ]),
        }],
    };
    let outcome = async move {
        let from_pg = Islands::open(&config, province()).await.expect("opens");
        let from_sqlite = Islands::open(&IslandsConfig::synthetic(province()), province())
            .await
            .expect("opens");
        let wanted = fields(&["account", "bank", "opened_on", "status"]);
        for id in &subjects {
            let a = from_pg
                .lookup("finance.one_card", id, &wanted)
                .await
                .expect("pg");
            let b = from_sqlite
                .lookup("finance.one_card", id, &wanted)
                .await
                .expect("sqlite");
            assert!(!a.is_empty());
            let mut a = a;
            let mut b = b;
            a.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
            b.sort_by(|x, y| format!("{x:?}").cmp(&format!("{y:?}")));
            assert_eq!(a, b);
        }
    };
    let result = tokio::spawn(outcome).await;
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .expect("schema dropped");
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test]
async fn bad_configurations_are_refused_by_name() {
    let base = province();
    let one = |text: &str| IslandsConfig::parse(text).expect("parses");
    let err = Islands::open(
        &one("[[connector]]\ndataset = \"education.nothing\"\nkind = \"sqlite\"\nlocation = \"islands/education.sqlite\"\n"),
        base,
    )
    .await
    .expect_err("refused");
    assert!(matches!(err, ConnectorError::UnknownDataset(_)), "{err}");
    let err = Islands::open(
        &one("[[connector]]\ndataset = \"education.admission\"\nkind = \"sqlite\"\nlocation = \"islands/education.sqlite\"\n"),
        base,
    )
    .await
    .expect_err("refused");
    assert!(matches!(err, ConnectorError::MissingVia { .. }), "{err}");
    let err = Islands::open(
        &one("[[connector]]\ndataset = \"finance.one_card\"\nkind = \"sqlite\"\nlocation = \"islands/finance.sqlite\"\n[connector.columns]\nid_number = \"x; DROP TABLE one_card\"\n"),
        base,
    )
    .await
    .expect_err("refused");
    assert!(matches!(err, ConnectorError::BadIdentifier(_)), "{err}");
    let err = Islands::open(
        &one("[[connector]]\ndataset = \"finance.one_card\"\nkind = \"sqlite\"\nlocation = \"islands/finance.sqlite\"\n[connector.columns]\nshoe_size = \"x\"\n"),
        base,
    )
    .await
    .expect_err("refused");
    assert!(matches!(err, ConnectorError::UnknownField { .. }), "{err}");
    let err = Islands::open(
        &one("[[connector]]\ndataset = \"finance.one_card\"\nkind = \"sqlite\"\nlocation = \"islands/nowhere.sqlite\"\n"),
        base,
    )
    .await
    .expect_err("refused");
    assert!(matches!(err, ConnectorError::Island { .. }), "{err}");
    assert!(matches!(
        IslandsConfig::parse("[[connector]]\ndataset = 1\n"),
        Err(ConnectorError::MalformedConfig(_))
    ));
}
