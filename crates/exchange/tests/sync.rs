//! Bulk sync to the data center end to end on both backends: the snapshot holds exactly the
//! granted fields of the island's rows, is named by its hash, versions only on change with
//! only the changed subjects recorded, and every refusal is recorded.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use errandless_exchange::{
    migrate, Exchange, Islands, IslandsConfig, LegalBasis, LegalBasisKind, Members, Mode,
    NewMember, Purpose, SnapshotId, SyncError, SyncProgress, Terms,
};
use errandless_ledger::{verify_log, Entry, NoteSigner, Sequencer, SubjectKey, ALG_ED25519};
use errandless_standards::Uscc;
use errandless_store::testing::for_each_backend;
use errandless_store::Store;
use errandless_synth::testing::province;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

const LOG_NAME: &str = "ledger.example.gov/sync-test";
const CONSUMER: &str = "data_bureau";
const RESIDENT: &str = "public_security.resident";

fn log_key() -> NoteSigner {
    NoteSigner::from_seed(LOG_NAME, ALG_ED25519, [9; 32]).expect("a log key")
}

struct Fixture {
    exchange: Exchange,
    store: Store,
    _tmp: tempfile::TempDir,
    data: PathBuf,
    ledger: PathBuf,
}

impl Fixture {
    fn datacenter(&self) -> PathBuf {
        self.data.join("datacenter")
    }

    fn island(&self, department: &str) -> rusqlite::Connection {
        rusqlite::Connection::open(
            self.data
                .join("islands")
                .join(format!("{department}.sqlite")),
        )
        .expect("island opens read-write")
    }

    async fn sync(&self, dataset: &str) -> Result<errandless_exchange::SyncReport, SyncError> {
        self.exchange
            .sync(
                CONSUMER,
                dataset,
                &self.datacenter(),
                &SyncProgress::default(),
            )
            .await
    }
}

/// A private copy of the shared province's islands, so a test may change them.
async fn fixture(store: Store) -> Fixture {
    migrate(&store).await.expect("migrations apply");
    let members = Members::new(store.clone());
    for (n, id) in ["data_bureau", "public_security", "finance", "education"]
        .iter()
        .enumerate()
    {
        let n = n as u8 + 1;
        members
            .register(
                NewMember {
                    id: (*id).into(),
                    uscc: Uscc::compose(b'1', b'1', 520000, u32::from(n)).to_string(),
                    name_zh: format!("{id} 中文"),
                    name_en: (*id).into(),
                    key: SigningKey::from_bytes(&[n; 32]).verifying_key(),
                },
                0,
            )
            .await
            .expect("registers");
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("islands")).expect("islands dir");
    for entry in std::fs::read_dir(province().join("islands")).expect("islands") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), data.join("islands").join(entry.file_name()))
            .expect("island copied");
    }
    let ledger = tmp.path().join("ledger");
    let log = Sequencer::create(&ledger, log_key()).expect("ledger created");
    let islands = Islands::open(&IslandsConfig::synthetic(&data), &data)
        .await
        .expect("islands open");
    let exchange = Exchange::new(store.clone(), islands, log, SubjectKey::from_bytes([3; 32]));
    Fixture {
        exchange,
        store,
        _tmp: tmp,
        data,
        ledger,
    }
}

async fn bulk_grant(
    f: &Fixture,
    dataset: &str,
    fields: &[&str],
    kind: LegalBasisKind,
) -> Result<errandless_exchange::Grant, errandless_exchange::GrantError> {
    let terms = Terms {
        consumer: CONSUMER.into(),
        dataset: dataset.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        purpose: Purpose::BenefitEligibility,
        legal_basis: LegalBasis {
            kind,
            reference: "社会救助暂行办法 第十一条".into(),
        },
        valid_from: 0,
        valid_until: i64::MAX,
        scope: None,
        mode: Mode::Bulk,
    };
    let owner = dataset.split('.').next().expect("a department");
    let request = f.exchange.file_request(terms, 0).await?;
    f.exchange.approve(&request.id, owner, 0).await
}

/// Every row of a Parquet file as text cells, with the column names.
fn read_parquet(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    let file = std::fs::File::open(path).expect("snapshot opens");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file")
        .build()
        .expect("reader");
    let mut names = Vec::new();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch reads");
        names = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        for i in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(i) {
                            return "NULL".to_owned();
                        }
                        match c.data_type() {
                            arrow_schema::DataType::Utf8 => {
                                c.as_string::<i32>().value(i).to_owned()
                            }
                            arrow_schema::DataType::Int64 => c
                                .as_primitive::<arrow_array::types::Int64Type>()
                                .value(i)
                                .to_string(),
                            other => panic!("unexpected column type {other}"),
                        }
                    })
                    .collect(),
            );
        }
    }
    (names, rows)
}

fn island_rows(f: &Fixture) -> Vec<Vec<String>> {
    let conn = f.island("public_security");
    let mut stmt = conn
        .prepare("SELECT id_number, name, sex, birth_date FROM resident ORDER BY id_number")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            Ok((0..4)
                .map(|i| {
                    r.get::<_, Option<String>>(i)
                        .map(|v| v.unwrap_or("NULL".into()))
                })
                .collect::<Result<Vec<_>, _>>())
        })
        .expect("query");
    rows.map(|r| r.expect("row").expect("cells")).collect()
}

fn ledger_entries(f: &Fixture, from: u64) -> Vec<Entry> {
    let mut out = Vec::new();
    verify_log(&f.ledger, &log_key().verifier(), None, |i, bytes| {
        if i >= from {
            out.push(Entry::from_bytes(bytes).expect("canonical entry"));
        }
    })
    .expect("the ledger verifies");
    out
}

#[tokio::test]
async fn a_snapshot_holds_exactly_the_granted_fields_and_is_named_by_its_hash() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        bulk_grant(
            &f,
            RESIDENT,
            &["name", "sex", "birth_date"],
            LegalBasisKind::Law,
        )
        .await
        .expect("granted");
        let before = f.exchange.ledger_size();
        let report = f.sync(RESIDENT).await.expect("synced");
        assert!(report.created);
        assert_eq!(report.parent, None);

        let path = f.datacenter().join(report.snapshot.file_name());
        let bytes = std::fs::read(&path).expect("snapshot file");
        let digest: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(SnapshotId(digest), report.snapshot, "named by its SHA-256");

        let (names, rows) = read_parquet(&path);
        assert_eq!(
            names,
            [
                "subject",
                "name",
                "sex",
                "birth_date",
                "row_hash",
                "subject_row"
            ]
        );
        // Each subject's rows are numbered from 1, in file order.
        let mut expected = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let nth = if i > 0 && rows[i - 1][0] == r[0] {
                expected.last().copied().unwrap_or(0) + 1
            } else {
                1
            };
            expected.push(nth);
        }
        let numbered: Vec<i64> = rows
            .iter()
            .map(|r| r[5].parse().expect("a number"))
            .collect();
        assert_eq!(numbered, expected);
        let island = island_rows(&f);
        let without_hash: Vec<Vec<String>> = rows.iter().map(|r| r[..4].to_vec()).collect();
        assert_eq!(
            without_hash, island,
            "the island's rows, granted fields only"
        );
        assert_eq!(report.rows, island.len() as u64);

        let mut subjects: Vec<&String> = island.iter().map(|r| &r[0]).collect();
        subjects.dedup();
        assert_eq!(report.added, subjects.len() as u64);
        let entries = ledger_entries(&f, before);
        assert_eq!(entries.len() as u64, report.added + 1);
        assert_eq!(report.ledger_entries, report.added + 1);
        assert!(entries[..entries.len() - 1]
            .iter()
            .all(|e| e.kind.as_str() == "access"
                && e.actor == CONSUMER
                && e.subject.is_some()
                && e.body["dataset"] == RESIDENT
                && e.body["operation"] == "exchange.sync"));
        let last = entries.last().expect("snapshot entry");
        assert_eq!(last.kind.as_str(), "snapshot");
        assert_eq!(last.body["snapshot"], report.snapshot.to_hex());
        assert_eq!(last.body["rows"], report.rows);

        let accesses = f
            .exchange
            .accesses_of(subjects[0], &f.datacenter())
            .await
            .expect("index");
        assert_eq!(accesses.len(), 1, "the subject's bulk read is indexed");
        let snapshots = f
            .exchange
            .snapshots(CONSUMER, RESIDENT)
            .await
            .expect("snapshots");
        assert_eq!(snapshots.len(), 1);
        assert_eq!(snapshots[0].id, report.snapshot);
        assert_eq!(snapshots[0].fields, ["name", "sex", "birth_date"]);
        drop(f.store);
    })
    .await;
}

#[tokio::test]
async fn only_changed_subjects_move_and_no_change_makes_no_version() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        bulk_grant(&f, RESIDENT, &["name", "birth_date"], LegalBasisKind::Law)
            .await
            .expect("granted");
        let first = f.sync(RESIDENT).await.expect("first sync");

        let size = f.exchange.ledger_size();
        let again = f.sync(RESIDENT).await.expect("second sync");
        assert!(!again.created, "nothing changed, so no new version");
        assert_eq!(again.snapshot, first.snapshot);
        assert_eq!(again.touched(), 0);
        assert_eq!(f.exchange.ledger_size(), size, "and nothing recorded");

        let (renamed, removed): (String, String) = {
            let conn = f.island("public_security");
            let pick =
                |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).expect("a subject") };
            let renamed =
                pick("SELECT id_number FROM resident ORDER BY id_number LIMIT 1 OFFSET 5");
            let removed = pick("SELECT id_number FROM resident ORDER BY id_number DESC LIMIT 1");
            conn.execute(
                "UPDATE resident SET name = '改名' WHERE id_number = ?1",
                [&renamed],
            )
            .expect("update");
            conn.execute("DELETE FROM resident WHERE id_number = ?1", [&removed])
                .expect("delete");
            // A field outside the grant changes: not a change to this consumer.
            conn.execute(
                "UPDATE resident SET address = 'elsewhere' WHERE id_number IN \
                 (SELECT id_number FROM resident ORDER BY id_number LIMIT 3 OFFSET 10)",
                [],
            )
            .expect("update");
            (renamed, removed)
        };
        let third = f.sync(RESIDENT).await.expect("third sync");
        assert!(third.created);
        assert_eq!(third.parent, Some(first.snapshot));
        assert_eq!((third.added, third.changed, third.removed), (0, 1, 1));
        let entries = ledger_entries(&f, size);
        assert_eq!(entries.len(), 3, "two touched subjects and the snapshot");
        let key = SubjectKey::from_bytes([3; 32]);
        assert_eq!(entries[0].subject, Some(key.tag(&renamed)));
        assert_eq!(entries[0].body["change"], "changed");
        assert_eq!(entries[1].subject, Some(key.tag(&removed)));
        assert_eq!(entries[1].body["change"], "removed");
        assert_eq!(entries[2].body["parent"], first.snapshot.to_hex());

        let (_, delta) = read_parquet(&f.datacenter().join(third.snapshot.delta_file_name()));
        assert_eq!(
            delta,
            [
                vec![renamed.clone(), "changed".to_owned()],
                vec![removed.clone(), "removed".to_owned()]
            ]
        );
        let (_, rows) = read_parquet(&f.datacenter().join(third.snapshot.file_name()));
        assert_eq!(rows.len() as u64, first.rows - 1, "the full current state");
        assert!(rows.iter().any(|r| r[0] == renamed && r[1] == "改名"));

        let snapshots = f
            .exchange
            .snapshots(CONSUMER, RESIDENT)
            .await
            .expect("snapshots");
        assert_eq!(snapshots.len(), 2);
        assert_eq!(snapshots[1].parent, Some(first.snapshot));
        assert_eq!(snapshots[1].changed, 2);

        // The data tracker finds each subject's bulk reads through the delta files: the
        // renamed subject was read by both versions, an untouched one by the first only.
        let all = ledger_entries(&f, 0);
        for (subject, versions) in [(&renamed, 2), (&removed, 2)] {
            let leaves = f
                .exchange
                .accesses_of(subject, &f.datacenter())
                .await
                .expect("tracker");
            assert_eq!(leaves.len(), versions, "{subject}: {leaves:?}");
            for leaf in leaves {
                assert_eq!(all[leaf as usize].subject, Some(key.tag(subject)));
                assert_eq!(all[leaf as usize].body["operation"], "exchange.sync");
            }
        }
        let untouched = {
            let conn = f.island("public_security");
            conn.query_row(
                "SELECT id_number FROM resident ORDER BY id_number LIMIT 1 OFFSET 7",
                [],
                |r| r.get::<_, String>(0),
            )
            .expect("a subject")
        };
        let leaves = f
            .exchange
            .accesses_of(&untouched, &f.datacenter())
            .await
            .expect("tracker");
        assert_eq!(leaves.len(), 1);
        assert_eq!(all[leaves[0] as usize].subject, Some(key.tag(&untouched)));
        assert_eq!(all[leaves[0] as usize].body["change"], "added");
    })
    .await;
}

#[tokio::test]
async fn a_dataset_keyed_by_a_local_identifier_is_synced_by_id_number() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        bulk_grant(
            &f,
            "education.admission",
            &["year", "level"],
            LegalBasisKind::Law,
        )
        .await
        .expect("granted");
        let report = f.sync("education.admission").await.expect("synced");
        let (names, rows) = read_parquet(&f.datacenter().join(report.snapshot.file_name()));
        assert_eq!(
            names,
            ["subject", "year", "level", "row_hash", "subject_row"]
        );
        assert!(!rows.is_empty());
        assert!(rows
            .iter()
            .all(|r| errandless_standards::CitizenId::parse(&r[0]).is_ok()));
    })
    .await;
}

#[tokio::test]
async fn refusals_are_recorded_and_move_nothing() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let mut size = f.exchange.ledger_size();
        let refused = |e: SyncError, code: &str, size: &mut u64| {
            assert_eq!(e.code(), code, "{e}");
            let entries = ledger_entries(&f, *size);
            assert_eq!(entries.len(), 1, "one refusal entry for {code}");
            assert_eq!(entries[0].kind.as_str(), "refusal");
            assert_eq!(entries[0].body["outcome"], code);
            *size += 1;
        };

        let e = f.sync(RESIDENT).await.expect_err("no grant");
        assert!(matches!(e, SyncError::NoGrant { .. }));
        refused(e, "no_grant", &mut size);

        let e = f.sync("public_security.nothing").await.expect_err("unknown");
        refused(e, "unknown_dataset", &mut size);

        // A per-subject grant does not allow a bulk sync.
        let per_subject = Terms {
            consumer: CONSUMER.into(),
            dataset: RESIDENT.into(),
            fields: vec!["name".into()],
            purpose: Purpose::BenefitEligibility,
            legal_basis: LegalBasis {
                kind: LegalBasisKind::Law,
                reference: "法".into(),
            },
            valid_from: 0,
            valid_until: i64::MAX,
            scope: None,
            mode: Mode::PerSubject,
        };
        let request = f.exchange.file_request(per_subject, 0).await.expect("filed");
        f.exchange
            .approve(&request.id, "public_security", 0)
            .await
            .expect("approved");
        size = f.exchange.ledger_size();
        let e = f.sync(RESIDENT).await.expect_err("per subject only");
        refused(e, "no_grant", &mut size);

        let grant = bulk_grant(&f, RESIDENT, &["name"], LegalBasisKind::Law)
            .await
            .expect("granted");
        f.exchange
            .revoke(&grant.id, "public_security", "no longer needed", 1)
            .await
            .expect("revoked");
        size = f.exchange.ledger_size();
        let e = f.sync(RESIDENT).await.expect_err("revoked");
        refused(e, "grant_revoked", &mut size);

        // Filing refuses a sensitive-personal field in bulk without a law...
        let e = bulk_grant(
            &f,
            "finance.one_card",
            &["account", "bank"],
            LegalBasisKind::AdministrativeRegulation,
        )
        .await
        .expect_err("needs a law");
        assert!(matches!(
            e,
            errandless_exchange::GrantError::SensitiveBulkNeedsLaw { .. }
        ));
        // ...and a grant that reached the store anyway does not sync either.
        sqlx::query(
            "INSERT INTO exchange_data_requests (id, owner, consumer, dataset, fields, purpose, \
             legal_basis_kind, legal_basis_ref, valid_from, valid_until, mode, filed_at, status) \
             VALUES ('req-x', 'finance', $1, 'finance.one_card', '[\"account\",\"bank\"]', \
             'benefit_eligibility', 'administrative_regulation', 'x', 0, $2, 'bulk', 0, 'approved')",
        )
        .bind(CONSUMER)
        .bind(i64::MAX)
        .execute(f.store.pool())
        .await
        .expect("request stored");
        sqlx::query(
            "INSERT INTO exchange_grants (id, request_id, owner, consumer, dataset, fields, \
             purpose, legal_basis_kind, legal_basis_ref, valid_from, valid_until, mode, granted_at) \
             VALUES ('grant-x', 'req-x', 'finance', $1, 'finance.one_card', \
             '[\"account\",\"bank\"]', 'benefit_eligibility', 'administrative_regulation', 'x', \
             0, $2, 'bulk', 0)",
        )
        .bind(CONSUMER)
        .bind(i64::MAX)
        .execute(f.store.pool())
        .await
        .expect("grant stored");
        size = f.exchange.ledger_size();
        let e = f.sync("finance.one_card").await.expect_err("sensitive");
        refused(e, "sensitive_needs_law", &mut size);

        assert!(
            std::fs::read_dir(f.datacenter()).map_or(true, |d| d.count() == 0),
            "nothing reached the data center"
        );
    })
    .await;
}

/// finance.one_card loaded into a schema of its own on the test PostgreSQL server syncs to
/// the very same snapshot, byte for byte, as the SQLite island it came from.
#[tokio::test]
async fn a_postgres_island_syncs_to_the_same_snapshot_as_the_sqlite_one() {
    use std::io::Write as _;
    let Ok(url) = std::env::var("ERRANDLESS_TEST_POSTGRES_URL") else {
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL island sync skipped: set ERRANDLESS_TEST_POSTGRES_URL to run it"
        );
        return;
    };
    let schema = format!("exchange_sync_island_{}", std::process::id());
    let pool = sqlx::PgPool::connect(&url).await.expect("server reachable");
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; \
         CREATE TABLE {schema}.one_card (account TEXT NOT NULL, id_number TEXT NOT NULL, \
         bank TEXT NOT NULL, opened_on TEXT NOT NULL, status TEXT NOT NULL)"
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
    // In reverse, so the scan's ORDER BY, not the insertion order, gives the file its order.
    let insert = format!("INSERT INTO {schema}.one_card VALUES ($1, $2, $3, $4, $5)");
    for r in rows.iter().rev() {
        let mut q = sqlx::query(&insert);
        for v in r {
            q = q.bind(v);
        }
        q.execute(&pool).await.expect("insert");
    }
    // A failing run leaves its schema behind (named by the process id) for inspection.
    let (island_url, island_schema) = (url.clone(), schema.clone());
    {
        let mut ids = Vec::new();
        for postgres in [false, true] {
            let tmp = tempfile::tempdir().expect("temp dir");
            let store = Store::open(&Store::default_url(tmp.path()))
                .await
                .expect("store");
            let mut f = fixture(store).await;
            if postgres {
                let config = errandless_exchange::IslandsConfig {
                    connector: vec![errandless_exchange::ConnectorConfig {
                        dataset: "finance.one_card".into(),
                        kind: errandless_exchange::ConnectorKind::Postgres,
                        location: island_url.clone(),
                        table: None,
                        schema: Some(island_schema.clone()),
                        columns: Default::default(),
                    }],
                };
                let islands = Islands::open(&config, &f.data).await.expect("opens");
                let log =
                    Sequencer::create(&f.ledger.with_extension("pg"), log_key()).expect("ledger");
                f.exchange = Exchange::new(
                    f.store.clone(),
                    islands,
                    log,
                    SubjectKey::from_bytes([3; 32]),
                );
                f.ledger = f.ledger.with_extension("pg");
            }
            bulk_grant(
                &f,
                "finance.one_card",
                &["bank", "opened_on", "status"],
                LegalBasisKind::Law,
            )
            .await
            .expect("granted");
            let report = f.sync("finance.one_card").await.expect("synced");
            assert_eq!(report.rows, rows.len() as u64);
            ids.push(report.snapshot);
        }
        assert_eq!(ids[0], ids[1], "the same rows make the same file");
    }
    sqlx::raw_sql(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&pool)
        .await
        .expect("schema dropped");
}

#[tokio::test]
async fn a_scoped_bulk_grant_syncs_only_its_county() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let first: String = f
            .island("public_security")
            .query_row(
                "SELECT id_number FROM resident ORDER BY id_number LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("a resident");
        let county = &first[..6];
        let terms = Terms {
            consumer: CONSUMER.into(),
            dataset: RESIDENT.into(),
            fields: vec!["name".into()],
            purpose: Purpose::BenefitEligibility,
            legal_basis: LegalBasis {
                kind: LegalBasisKind::Law,
                reference: "法".into(),
            },
            valid_from: 0,
            valid_until: i64::MAX,
            scope: Some(
                errandless_standards::DivisionCode::parse(&format!("{county}000000"))
                    .expect("a county"),
            ),
            mode: Mode::Bulk,
        };
        let request = f.exchange.file_request(terms, 0).await.expect("filed");
        f.exchange
            .approve(&request.id, "public_security", 0)
            .await
            .expect("approved");
        let report = f.sync(RESIDENT).await.expect("synced");
        let (_, rows) = read_parquet(&f.datacenter().join(report.snapshot.file_name()));
        assert!(!rows.is_empty());
        assert!(rows.iter().all(|r| r[0].starts_with(county)));
        let inside: i64 = f
            .island("public_security")
            .query_row(
                "SELECT COUNT(*) FROM resident WHERE substr(id_number, 1, 6) = ?1",
                [county],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(rows.len() as i64, inside);
        assert_eq!(report.left_out + report.rows, island_rows(&f).len() as u64);
    })
    .await;
}

#[tokio::test]
async fn an_island_that_breaks_subject_order_fails_the_sync_and_records_nothing() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        bulk_grant(&f, RESIDENT, &["name"], LegalBasisKind::Law)
            .await
            .expect("granted");
        {
            // A case-insensitive subject column sorts "abc" before "ABD"; byte order, which
            // the snapshot and the delta rely on, puts "ABD" first.
            let conn = f.island("public_security");
            conn.execute_batch(
                "ALTER TABLE resident RENAME TO resident_before; \
                 CREATE TABLE resident (id_number TEXT COLLATE NOCASE NOT NULL, name TEXT, \
                    sex TEXT, birth_date TEXT, household_no TEXT, relation TEXT, \
                    division_code TEXT, address TEXT, status TEXT); \
                 INSERT INTO resident SELECT id_number, name, sex, birth_date, household_no, \
                    relation, division_code, address, status FROM resident_before; \
                 INSERT INTO resident (id_number, name) VALUES ('abc', 'x'), ('ABD', 'y');",
            )
            .expect("island rewritten");
        }
        let size = f.exchange.ledger_size();
        let error = f.sync(RESIDENT).await.expect_err("out of order");
        assert!(matches!(error, SyncError::Unordered { .. }), "{error}");
        assert_eq!(f.exchange.ledger_size(), size, "nothing recorded");
        assert!(f
            .exchange
            .snapshots(CONSUMER, RESIDENT)
            .await
            .expect("snapshots")
            .is_empty());
        let left: Vec<_> = std::fs::read_dir(f.datacenter())
            .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "no file left behind: {left:?}");
    })
    .await;
}
