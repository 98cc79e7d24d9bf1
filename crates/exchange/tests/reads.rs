//! Per-subject reads end to end on both backends: allowed reads are signed and recorded, and
//! every kind of bad request is refused with its code and recorded too.

use ed25519_dalek::SigningKey;
use errandless_exchange::{
    migrate, Exchange, Grants, Islands, IslandsConfig, LegalBasis, LegalBasisKind, Members, Mode,
    NewMember, Purpose, ReadRequest, SignedResponse, Terms,
};
use errandless_ledger::{Entry, NoteSigner, Receipt, Sequencer, SubjectKey, ALG_ED25519};
use errandless_standards::{DivisionCode, Uscc};
use errandless_store::testing::for_each_backend;
use errandless_store::Store;
use errandless_synth::testing::{pick, province};

const LOG_NAME: &str = "ledger.example.gov/exchange-test";

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn log_key() -> NoteSigner {
    NoteSigner::from_seed(LOG_NAME, ALG_ED25519, [9; 32]).expect("a log key")
}

struct Fixture {
    exchange: Exchange,
    ledger_dir: tempfile::TempDir,
    /// A resident inside the resident grant's scope, and one outside it.
    inside: String,
    outside: String,
    resident_grant: String,
}

const MEMBERS: [(&str, u8); 4] = [
    ("civil_affairs", 1),
    ("public_security", 2),
    ("finance", 3),
    ("education", 4),
];

async fn fixture(store: Store) -> Fixture {
    migrate(&store).await.expect("migrations apply");
    let members = Members::new(store.clone());
    for (id, n) in MEMBERS {
        members
            .register(
                NewMember {
                    id: id.into(),
                    uscc: Uscc::compose(b'1', b'1', 520000, u32::from(n)).to_string(),
                    name_zh: format!("{id} 中文"),
                    name_en: id.into(),
                    key: key(n).verifying_key(),
                },
                0,
            )
            .await
            .expect("registers");
    }
    let inside = pick(
        "public_security",
        "SELECT id_number FROM resident ORDER BY id_number LIMIT 1",
    );
    let outside = pick(
        "public_security",
        &format!(
            "SELECT id_number FROM resident WHERE substr(id_number, 1, 6) <> '{}' LIMIT 1",
            &inside[..6]
        ),
    );
    let grants = Grants::new(store.clone());
    let county = format!("{}000000", &inside[..6]);
    let resident = approve(
        &grants,
        "public_security.resident",
        &["name", "sex", "birth_date"],
        0,
        i64::MAX,
        Some(&county),
    )
    .await;
    approve(&grants, "finance.one_card", &["bank"], 0, 5_000, None).await;
    let admission = approve(&grants, "education.admission", &["year"], 0, i64::MAX, None).await;
    grants
        .revoke(&admission.id, "education", "the programme ended", 1)
        .await
        .expect("revokes");

    let ledger_dir = tempfile::tempdir().expect("temp dir");
    let log = Sequencer::create(ledger_dir.path(), log_key()).expect("ledger created");
    let islands = Islands::open(&IslandsConfig::synthetic(province()), province())
        .await
        .expect("islands open");
    let mut exchange = Exchange::new(store, islands, log, SubjectKey::from_bytes([3; 32]));
    for (id, n) in MEMBERS {
        exchange.add_owner_key(id, key(n));
    }
    Fixture {
        exchange,
        ledger_dir,
        inside,
        outside,
        resident_grant: resident.id,
    }
}

async fn approve(
    grants: &Grants,
    dataset: &str,
    fields: &[&str],
    from: i64,
    until: i64,
    scope: Option<&str>,
) -> errandless_exchange::Grant {
    let terms = Terms {
        consumer: "civil_affairs".into(),
        dataset: dataset.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        purpose: Purpose::BenefitEligibility,
        legal_basis: LegalBasis {
            kind: LegalBasisKind::AdministrativeRegulation,
            reference: "社会救助暂行办法 第十一条".into(),
        },
        valid_from: from,
        valid_until: until,
        scope: scope.map(|s| DivisionCode::parse(s).expect("a division")),
        mode: Mode::PerSubject,
    };
    let owner = dataset.split('.').next().expect("a department");
    let request = grants.file(terms, 0).await.expect("files");
    grants
        .approve(&request.id, owner, 0)
        .await
        .expect("approves")
}

fn request(id: &str, dataset: &str, subject: &str, fields: &[&str]) -> ReadRequest {
    ReadRequest {
        request_id: id.into(),
        consumer: "civil_affairs".into(),
        dataset: dataset.into(),
        subject: subject.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        purpose: Purpose::BenefitEligibility.code().into(),
    }
}

/// The ledger entry at `index`, read back through an inclusion proof that verifies offline.
fn entry_at(f: &Fixture, index: u64) -> Entry {
    let vkey = log_key().verifier();
    let receipt = Receipt::prove(f.ledger_dir.path(), &vkey, index).expect("proves");
    let (_, bytes) = Receipt::parse(&receipt.to_text())
        .expect("parses")
        .verify(&vkey, None)
        .expect("verifies");
    Entry::from_bytes(&bytes).expect("an entry")
}

#[tokio::test]
async fn an_allowed_read_is_signed_by_the_owner_binds_the_request_and_is_recorded() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let req = request(
            "r-1",
            "public_security.resident",
            &f.inside,
            &["name", "sex"],
        );
        let signed = req.clone().sign(&key(1));
        let response: SignedResponse = f.exchange.read_at(&signed, 100).await.expect("allowed");
        assert!(response.verify(&key(2).verifying_key(), &req));
        assert!(
            !response.verify(&key(3).verifying_key(), &req),
            "only the owner's key verifies"
        );
        let mut other = req.clone();
        other.request_id = "r-2".into();
        assert!(
            !response.verify(&key(2).verifying_key(), &other),
            "the request hash is bound"
        );
        assert_eq!(response.response.grant, f.resident_grant);
        assert!(!response.response.rows.is_empty());
        for row in &response.response.rows {
            assert_eq!(row.keys().collect::<Vec<_>>(), ["name", "sex"]);
        }
        let entry = entry_at(&f, response.response.ledger_index);
        assert_eq!(entry.kind.as_str(), "access");
        assert_eq!(entry.actor, "civil_affairs");
        assert_eq!(entry.purpose.as_deref(), Some("benefit_eligibility"));
        assert_eq!(
            entry.subject,
            Some(SubjectKey::from_bytes([3; 32]).tag(&f.inside))
        );
        assert_eq!(entry.body["outcome"], "allowed");
        assert_eq!(entry.body["dataset"], "public_security.resident");
        assert_eq!(entry.body["fields"], serde_json::json!(["name", "sex"]));
        let text = String::from_utf8(entry.to_bytes().expect("encodes")).expect("utf-8");
        assert!(
            !text.contains(&f.inside),
            "the ledger never holds the ID number"
        );
        assert_eq!(
            f.exchange
                .accesses_of(&f.inside, f.ledger_dir.path())
                .await
                .expect("index"),
            vec![response.response.ledger_index]
        );
    })
    .await;
}

#[tokio::test]
async fn every_bad_request_is_refused_with_its_code_and_recorded() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let ok = |id: &str| request(id, "public_security.resident", &f.inside, &["name"]);
        let replayed = ok("r-replay").sign(&key(1));
        f.exchange
            .read_at(&replayed, 10)
            .await
            .expect("first use is allowed");
        let mut stranger = ok("r-stranger");
        stranger.consumer = "veterans_affairs".into();
        let mut bad_purpose = ok("r-purpose");
        bad_purpose.purpose = "curiosity".into();
        let mut empty = ok("r-empty");
        empty.fields.clear();
        let cases = [
            (stranger.sign(&key(7)), 10, "unknown_consumer"),
            (ok("r-forged").sign(&key(3)), 10, "bad_signature"),
            (replayed, 11, "replayed_request"),
            (
                request("r-exp", "finance.one_card", &f.inside, &["bank"]).sign(&key(1)),
                5_000,
                "grant_expired",
            ),
            (
                request("r-rev", "education.admission", &f.inside, &["year"]).sign(&key(1)),
                10,
                "grant_revoked",
            ),
            (
                request(
                    "r-field",
                    "public_security.resident",
                    &f.inside,
                    &["name", "address"],
                )
                .sign(&key(1)),
                10,
                "field_not_granted",
            ),
            (
                request("r-scope", "public_security.resident", &f.outside, &["name"]).sign(&key(1)),
                10,
                "subject_outside_scope",
            ),
            (
                request(
                    "r-id",
                    "public_security.resident",
                    "52010219900307105Y",
                    &["name"],
                )
                .sign(&key(1)),
                10,
                "malformed_subject",
            ),
            (
                request("r-ds", "public_security.nothing", &f.inside, &["name"]).sign(&key(1)),
                10,
                "unknown_dataset",
            ),
            (
                request("r-none", "health.birth", &f.inside, &["sex"]).sign(&key(1)),
                10,
                "no_grant",
            ),
            (bad_purpose.sign(&key(1)), 10, "unknown_purpose"),
            (empty.sign(&key(1)), 10, "malformed_request"),
        ];
        for (signed, now, code) in cases {
            let before = f.exchange.ledger_size();
            let err = f.exchange.read_at(&signed, now).await.expect_err(code);
            assert_eq!(err.code(), code, "{err}");
            if code == "no_grant" {
                // The message names who asked for what, even when they hold no grant at all.
                let message = err.to_string();
                assert!(message.contains("health.birth"), "{message}");
                assert!(
                    message.contains(signed.request.consumer.as_str()),
                    "{message}"
                );
            }
            assert_eq!(f.exchange.ledger_size(), before + 1, "{code} is recorded");
            let entry = entry_at(&f, before);
            assert_eq!(entry.kind.as_str(), "refusal");
            assert_eq!(entry.body["outcome"], code);
        }
    })
    .await;
}

#[tokio::test]
async fn grant_decisions_through_the_exchange_are_recorded() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let terms = Terms {
            consumer: "civil_affairs".into(),
            dataset: "finance.one_card".into(),
            fields: vec!["account".into()],
            purpose: Purpose::Payment,
            legal_basis: LegalBasis {
                kind: LegalBasisKind::NormativeDocument,
                reference: "Provincial Notice 2026-12, art. 5".into(),
            },
            valid_from: 0,
            valid_until: 1_000_000,
            scope: None,
            mode: Mode::PerSubject,
        };
        let before = f.exchange.ledger_size();
        let request = f.exchange.file_request(terms, 10).await.expect("files");
        let grant = f
            .exchange
            .approve(&request.id, "finance", 20)
            .await
            .expect("approves");
        f.exchange
            .revoke(&grant.id, "finance", "account data no longer needed", 30)
            .await
            .expect("revokes");
        assert_eq!(f.exchange.ledger_size(), before + 3);
        let events: Vec<String> = (before..before + 3)
            .map(|i| {
                let e = entry_at(&f, i);
                assert_eq!(e.kind.as_str(), "grant");
                e.body["event"].as_str().unwrap_or_default().to_owned()
            })
            .collect();
        assert_eq!(events, ["filed", "approved", "revoked"]);
        assert_eq!(entry_at(&f, before + 1).actor, "finance");
    })
    .await;
}
