//! Prefill against a real synthetic province through a real exchange, on both backends: the
//! values are the islands' values, each read is signed by its owner and recorded in the ledger
//! with purpose `application_prefill`, and a field without a grant is left for the citizen
//! with the refusal's reason.

mod common;

use std::collections::BTreeSet;

use ed25519_dalek::SigningKey;
use errandless_exchange::{
    migrate, Exchange, Islands, IslandsConfig, LegalBasis, LegalBasisKind, Mode, NewMember,
    Purpose, ReadRequest, Terms,
};
use errandless_ledger::{Sequencer, SubjectKey};
use errandless_services::{
    prefill, Catalogue, Consumer, Prefill, PrefillError, PrefillRead, Service,
};
use errandless_standards::Uscc;
use errandless_store::testing::for_each_backend;
use errandless_store::Store;
use errandless_synth::testing::{pick, province};

/// The member that runs the portal and reads for it.
const PORTAL: &str = "data_bureau";

/// Every member: the portal, and the owner of every dataset the catalogue maps.
fn members() -> Vec<(String, u8)> {
    let mut ids: BTreeSet<String> = Catalogue::builtin()
        .prefill_reads()
        .iter()
        .map(|r| {
            r.dataset
                .split('.')
                .next()
                .expect("a department")
                .to_owned()
        })
        .collect();
    ids.insert(PORTAL.to_owned());
    ids.into_iter().zip(1u8..).collect()
}

fn key_of(member: &str) -> SigningKey {
    let n = members()
        .into_iter()
        .find(|(id, _)| id == member)
        .map(|(_, n)| n)
        .expect("a member");
    SigningKey::from_bytes(&[n; 32])
}

struct Fixture {
    exchange: Exchange,
    store: Store,
    ledger_dir: tempfile::TempDir,
}

impl Fixture {
    /// `service`'s form filled for `subject`, read as the portal's member.
    async fn prefill_as_portal(
        &self,
        service: &Service,
        subject: &str,
    ) -> Result<Prefill, PrefillError> {
        let key = key_of(PORTAL);
        prefill(
            &self.exchange,
            Consumer {
                member: PORTAL,
                key: &key,
            },
            service,
            subject,
        )
        .await
    }
}

async fn fixture(store: Store, grants: &[PrefillRead]) -> Fixture {
    migrate(&store).await.expect("migrations apply");
    let ledger_dir = tempfile::tempdir().expect("a temporary directory");
    let log = Sequencer::create(ledger_dir.path(), common::log_key()).expect("a ledger");
    let islands = Islands::open(&IslandsConfig::synthetic(province()), province())
        .await
        .expect("islands open");
    let mut exchange = Exchange::new(
        store.clone(),
        islands,
        log,
        SubjectKey::from_bytes(common::SUBJECT_KEY),
    );
    for (id, n) in members() {
        exchange
            .members()
            .register(
                NewMember {
                    id: id.clone(),
                    uscc: Uscc::compose(b'1', b'1', 520000, u32::from(n)).to_string(),
                    name_zh: format!("{id} 中文"),
                    name_en: id.clone(),
                    key: key_of(&id).verifying_key(),
                },
                0,
            )
            .await
            .expect("registers");
        exchange.add_owner_key(&id, key_of(&id));
    }
    for read in grants {
        let owner = read.dataset.split('.').next().expect("a department");
        let request = exchange
            .file_request(
                Terms {
                    consumer: PORTAL.into(),
                    dataset: read.dataset.clone(),
                    fields: read.fields.clone(),
                    purpose: Purpose::ApplicationPrefill,
                    legal_basis: LegalBasis {
                        kind: LegalBasisKind::AdministrativeRegulation,
                        reference: "国务院关于加快推进全国一体化在线政务服务平台建设的指导意见"
                            .into(),
                    },
                    valid_from: 0,
                    valid_until: i64::MAX,
                    scope: None,
                    mode: Mode::PerSubject,
                },
                0,
            )
            .await
            .expect("files");
        exchange
            .approve(&request.id, owner, 0)
            .await
            .expect("approves");
    }
    Fixture {
        exchange,
        store,
        ledger_dir,
    }
}

fn grant(dataset: &str, fields: &[&str]) -> PrefillRead {
    PrefillRead {
        dataset: dataset.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
    }
}

/// The distinct values of `column` in the island rows of `table` whose `key` is `subject`.
fn island_values(
    department: &str,
    table: &str,
    column: &str,
    key: &str,
    subject: &str,
) -> BTreeSet<String> {
    let path = province()
        .join("islands")
        .join(format!("{department}.sqlite"));
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the island opens");
    let mut stmt = conn
        .prepare(&format!("SELECT {column} FROM {table} WHERE {key} = ?1"))
        .expect("prepares");
    let rows = stmt
        .query_map([subject], |r| r.get::<_, rusqlite::types::Value>(0))
        .expect("queries");
    rows.filter_map(|v| match v.expect("a value") {
        rusqlite::types::Value::Text(t) if !t.trim().is_empty() => Some(t),
        rusqlite::types::Value::Integer(n) => Some(n.to_string()),
        rusqlite::types::Value::Real(x) => Some(x.to_string()),
        _ => None,
    })
    .collect()
}

#[tokio::test]
async fn prefill_reads_the_islands_through_the_exchange_and_leaves_ungranted_fields_to_the_citizen()
{
    for_each_backend(|store| async move {
        let f = fixture(
            store,
            &[
                grant("public_security.resident", &["name", "address"]),
                grant("traffic_police.driving_licence", &["class", "valid_until"]),
            ],
        )
        .await;
        let subject = pick(
            "traffic_police",
            "SELECT id_number FROM driving_licence ORDER BY id_number LIMIT 1",
        );
        let service = Catalogue::builtin()
            .service("driving-licence-renewal")
            .expect("in the catalogue");
        let before = f.exchange.ledger_size();
        let found = f
            .prefill_as_portal(service, &subject)
            .await
            .expect("prefills");
        assert_eq!(f.exchange.ledger_size(), before + 3, "one read per dataset");
        assert_eq!(found.reads.len(), 3);

        // The values are the islands' values.
        let expected = [
            ("name", ("public_security", "resident", "name", "id_number")),
            (
                "delivery_address",
                ("public_security", "resident", "address", "id_number"),
            ),
            (
                "licence_class",
                ("traffic_police", "driving_licence", "class", "id_number"),
            ),
            (
                "valid_until",
                (
                    "traffic_police",
                    "driving_licence",
                    "valid_until",
                    "id_number",
                ),
            ),
        ];
        for (field, (department, table, column, key)) in expected {
            let got = found
                .fields
                .iter()
                .find(|p| p.field == field)
                .unwrap_or_else(|| panic!("{field} is prefilled"));
            let island = island_values(department, table, column, key, &subject);
            let mut answered: BTreeSet<String> = got.other_values.iter().cloned().collect();
            answered.extend(got.value.clone());
            assert_eq!(answered, island, "{field}");
            if field == "name" {
                assert!(got.value.is_some(), "every resident has a name");
            }
            // Each read is signed by its owner, in the ledger as an access for prefill.
            let source = got.source.as_ref().expect("granted");
            assert_eq!(source.owner, department);
            let entry = common::entry_at(f.ledger_dir.path(), source.ledger_index);
            assert_eq!(entry.kind.as_str(), "access");
            assert_eq!(entry.actor, PORTAL);
            assert_eq!(entry.purpose.as_deref(), Some("application_prefill"));
            assert_eq!(entry.subject, Some(f.exchange.subject_tag(&subject)));
            assert_eq!(entry.body["dataset"], source.dataset.as_str());
            assert_eq!(entry.body["request_id"], source.request_id.as_str());
        }
        for read in &found.reads {
            let Ok(signed) = &read.outcome else { continue };
            let request = ReadRequest {
                request_id: signed.response.request_id.clone(),
                consumer: PORTAL.into(),
                dataset: read.dataset.clone(),
                subject: subject.clone(),
                fields: read.fields.clone(),
                purpose: "application_prefill".into(),
            };
            assert!(signed.verify(&key_of(&signed.response.owner).verifying_key(), &request));
        }

        // No grant for the vehicle register: the phone is the citizen's to type.
        let phone = found
            .fields
            .iter()
            .find(|p| p.field == "phone")
            .expect("listed");
        assert_eq!(phone.value, None);
        let refusal = phone.source.as_ref().expect_err("refused");
        assert_eq!(refusal.code, "no_grant");
        assert_eq!(refusal.dataset, "traffic_police.vehicle");
        assert!(
            refusal.reason.contains("traffic_police.vehicle"),
            "{}",
            refusal.reason
        );
        let refused: Vec<_> = (before..before + 3)
            .map(|i| common::entry_at(f.ledger_dir.path(), i))
            .filter(|e| e.kind.as_str() == "refusal")
            .collect();
        assert_eq!(refused.len(), 1, "the refusal is in the ledger too");
        assert_eq!(refused[0].body["outcome"], "no_grant");
        assert_eq!(refused[0].body["dataset"], "traffic_police.vehicle");
        assert_eq!(refused[0].purpose.as_deref(), Some("application_prefill"));

        // Zero documents: the prefilled form, with the phone typed, is a valid application.
        let mut form = found.values();
        assert!(!form.contains_key("phone"));
        assert!(form.contains_key("name") && form.contains_key("licence_class"));
        form.insert("phone".into(), "13912345678".into());
        form.entry("delivery_address".into())
            .or_insert_with(|| "贵阳市南明区花果园大街1号".into());
        let cases = common::fixture(f.store.clone()).await;
        let division = format!("{}000000", &subject[..6]);
        let case = cases
            .cases
            .submit(
                service,
                &errandless_services::Applicant {
                    subject: subject.clone(),
                    division,
                },
                &form,
                common::at("2026-03-02", 9),
            )
            .await
            .expect("the prefilled form is valid");
        assert_eq!(case.values["name"], form["name"]);
    })
    .await;
}

#[tokio::test]
async fn the_catalogues_grants_let_every_mapped_field_of_every_service_be_read() {
    for_each_backend(|store| async move {
        let catalogue = Catalogue::builtin();
        let f = fixture(store, &catalogue.prefill_reads()).await;
        let subject = pick(
            "public_security",
            "SELECT id_number FROM resident ORDER BY id_number LIMIT 1 OFFSET 7",
        );
        let before = f.exchange.ledger_size();
        let mut reads = 0;
        let mut filled = 0;
        for service in catalogue.services() {
            let found = f
                .prefill_as_portal(service, &subject)
                .await
                .expect("prefills");
            reads += found.reads.len() as u64;
            let mapped = service
                .fields
                .iter()
                .filter(|f| f.element.is_some())
                .count();
            assert_eq!(found.fields.len(), mapped, "{}", service.id);
            for field in &found.fields {
                let source = field.source.as_ref().unwrap_or_else(|r| {
                    panic!("{}: {} refused: {}", service.id, field.field, r.reason)
                });
                assert_eq!(source.dataset, field.element.dataset);
                filled += usize::from(field.value.is_some());
            }
        }
        assert_eq!(f.exchange.ledger_size(), before + reads);
        assert!(
            filled >= catalogue.services().len(),
            "at least the names: {filled}"
        );

        // A subject that is no ID number is refused before any read.
        let err = f
            .prefill_as_portal(&catalogue.services()[0], "52010219900307105Y")
            .await
            .expect_err("not an ID number");
        assert!(err.to_string().contains("citizen ID number"), "{err}");
        assert_eq!(f.exchange.ledger_size(), before + reads);
    })
    .await;
}
