//! Fixtures shared by the services tests: a migrated store with its cases over a fresh ledger,
//! synthetic applicants and staff, times in China Standard Time, and ledger entries read back
//! through verified inclusion proofs.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use errandless_ledger::{Entry, NoteSigner, Receipt, Sequencer, SubjectKey, ALG_ED25519};
use errandless_services::{
    Applicant, Case, Cases, Catalogue, Millis, Scope, Service, Staff, Values,
};
use errandless_standards::{CitizenId, Date};
use errandless_store::Store;
use sqlx::Row as _;

pub const LOG_NAME: &str = "ledger.example.gov/services-test";
pub const SUBJECT_KEY: [u8; 32] = [3; 32];

pub fn log_key() -> NoteSigner {
    NoteSigner::from_seed(LOG_NAME, ALG_ED25519, [9; 32]).expect("a log key")
}

pub struct Fixture {
    pub cases: Cases,
    pub store: Store,
    pub ledger_dir: tempfile::TempDir,
}

impl Fixture {
    /// `applicant`'s application for an income-tax certificate with [`tax_form`], submitted
    /// at `at`.
    pub async fn submit_tax(&self, applicant: &Applicant, at: Millis) -> Case {
        self.cases
            .submit(
                service("income-tax-certificate"),
                applicant,
                &tax_form(),
                at,
            )
            .await
            .expect("a valid application submits")
    }

    /// The ledger entry at `index`, read back through an inclusion proof that verifies.
    pub fn entry_at(&self, index: u64) -> Entry {
        entry_at(self.ledger_dir.path(), index)
    }

    /// The number of entries in the ledger, from its signed checkpoint.
    pub fn ledger_size(&self) -> u64 {
        let text = std::fs::read_to_string(self.ledger_dir.path().join("checkpoint"))
            .expect("a checkpoint");
        text.lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .expect("the checkpoint's size")
    }
}

pub fn entry_at(dir: &Path, index: u64) -> Entry {
    let vkey = log_key().verifier();
    let receipt = Receipt::prove(dir, &vkey, index).expect("proves");
    let (_, bytes) = Receipt::parse(&receipt.to_text())
        .expect("parses")
        .verify(&vkey, None)
        .expect("verifies");
    Entry::from_bytes(&bytes).expect("an entry")
}

pub async fn fixture(store: Store) -> Fixture {
    errandless_services::migrate(&store)
        .await
        .expect("migrations apply");
    let ledger_dir = tempfile::tempdir().expect("a temporary directory");
    let log = Sequencer::create(ledger_dir.path(), log_key()).expect("a ledger");
    let cases = Cases::new(
        store.clone(),
        Arc::new(tokio::sync::Mutex::new(log)),
        SubjectKey::from_bytes(SUBJECT_KEY),
    );
    Fixture {
        cases,
        store,
        ledger_dir,
    }
}

/// `hours` after midnight of `date` in China Standard Time.
pub fn at(date: &str, hours: i64) -> Millis {
    let d: Date = date.parse().expect("a date");
    d.days_since_epoch() * 86_400_000 - 8 * 3_600_000 + hours * 3_600_000
}

/// A valid synthetic citizen ID number registered in county `county` (six digits).
pub fn citizen(county: u32, sequence: u16) -> String {
    CitizenId::compose(county, Date::new(1985, 6, 15).expect("a date"), sequence)
        .as_str()
        .to_owned()
}

pub fn applicant(county: u32, sequence: u16, village: &str) -> Applicant {
    Applicant {
        subject: citizen(county, sequence),
        division: format!("{county}{village}"),
    }
}

pub fn service(id: &str) -> &'static Service {
    Catalogue::builtin().service(id).expect("in the catalogue")
}

pub fn staff(id: &str, department: &str, prefix: &str) -> Staff {
    Staff::new(
        id,
        "department_officer",
        Scope::new(department, prefix).expect("a scope"),
    )
    .expect("a staff member")
}

pub fn values(pairs: &[(&str, &str)]) -> Values {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<BTreeMap<_, _>>()
}

/// A valid form of `income-tax-certificate`.
pub fn tax_form() -> Values {
    values(&[
        ("name", "王小明"),
        ("tax_year", "2025"),
        ("purpose", "loan"),
    ])
}

/// Everything the services tables hold, as text, to show that a refused step changed nothing.
pub async fn tables(store: &Store) -> String {
    let mut out = String::new();
    for (sql, columns) in [
        (
            "SELECT id, state, form, updated_ms, due_ms FROM services_cases ORDER BY id",
            &["id", "state", "form", "updated_ms", "due_ms"][..],
        ),
        (
            "SELECT seq, case_id, kind, to_state, note, leaf FROM services_events ORDER BY seq",
            &["seq", "case_id", "kind", "to_state", "note", "leaf"][..],
        ),
        (
            "SELECT case_id, level, comment FROM services_ratings ORDER BY case_id",
            &["case_id", "level", "comment"][..],
        ),
        (
            "SELECT id, case_id, answer, answered_ms FROM services_follow_ups ORDER BY id",
            &["id", "case_id", "answer", "answered_ms"][..],
        ),
        (
            "SELECT logged_through, plan_first_seq FROM services_ledger_cursor",
            &["logged_through", "plan_first_seq"][..],
        ),
    ] {
        for row in sqlx::query(sql)
            .fetch_all(store.pool())
            .await
            .expect("reads")
        {
            for c in columns {
                let text = match row.try_get::<Option<i64>, _>(*c) {
                    Ok(v) => format!("{v:?}"),
                    Err(_) => format!("{:?}", row.try_get::<Option<String>, _>(*c).expect("text")),
                };
                out.push_str(&text);
                out.push('|');
            }
            out.push('\n');
        }
        out.push_str("--\n");
    }
    out
}
