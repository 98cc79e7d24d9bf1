//! A property: whatever sequence of grants, revocations and reads happens, no read returns a
//! field that a grant valid at that moment does not cover, and a read that such a grant does
//! cover is never refused.

use ed25519_dalek::SigningKey;
use errandless_exchange::{
    migrate, Exchange, Grants, Islands, IslandsConfig, LegalBasis, LegalBasisKind, Members, Mode,
    NewMember, Purpose, ReadRequest, Terms,
};
use errandless_ledger::{NoteSigner, Sequencer, SubjectKey, ALG_ED25519};
use errandless_standards::Uscc;
use errandless_store::Store;
use errandless_synth::testing::{pick, province};
use proptest::prelude::*;

const FIELDS: [&str; 5] = ["name", "sex", "birth_date", "address", "status"];
const DATASET: &str = "public_security.resident";

#[derive(Clone, Debug)]
enum Op {
    Grant { mask: u8, start: i64, len: i64 },
    Revoke { pick: usize },
    Read { mask: u8 },
    Wait { ms: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..32, -30i64..30, 1i64..120).prop_map(|(mask, start, len)| Op::Grant {
            mask,
            start,
            len
        }),
        any::<usize>().prop_map(|pick| Op::Revoke { pick }),
        (1u8..32).prop_map(|mask| Op::Read { mask }),
        (1u8..32).prop_map(|mask| Op::Read { mask }),
        (0i64..60).prop_map(|ms| Op::Wait { ms }),
    ]
}

fn fields(mask: u8) -> Vec<String> {
    FIELDS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, f)| (*f).to_owned())
        .collect()
}

/// The test's own record of a grant.
struct Granted {
    id: String,
    fields: Vec<String>,
    from: i64,
    until: i64,
    revoked_at: Option<i64>,
}

impl Granted {
    fn allows(&self, wanted: &[String], now: i64) -> bool {
        self.from <= now
            && now < self.until
            && self.revoked_at.is_none_or(|r| now < r)
            && wanted.iter().all(|f| self.fields.contains(f))
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&Store::default_url(dir.path()))
        .await
        .expect("store");
    migrate(&store).await.expect("migrations");
    let members = Members::new(store.clone());
    for (id, n) in [("civil_affairs", 1u8), ("public_security", 2)] {
        members
            .register(
                NewMember {
                    id: id.into(),
                    uscc: Uscc::compose(b'1', b'1', 520000, u32::from(n)).to_string(),
                    name_zh: id.into(),
                    name_en: id.into(),
                    key: SigningKey::from_bytes(&[n; 32]).verifying_key(),
                },
                0,
            )
            .await
            .expect("registers");
    }
    let config = IslandsConfig {
        connector: IslandsConfig::synthetic(province())
            .connector
            .into_iter()
            .filter(|c| c.dataset == DATASET)
            .collect(),
    };
    let islands = Islands::open(&config, province()).await.expect("island");
    let log_key = NoteSigner::from_seed("ledger.example.gov/property", ALG_ED25519, [9; 32])
        .expect("log key");
    let log = Sequencer::create(&dir.path().join("ledger"), log_key).expect("ledger");
    let mut exchange = Exchange::new(store.clone(), islands, log, SubjectKey::from_bytes([1; 32]));
    exchange.add_owner_key("public_security", SigningKey::from_bytes(&[2; 32]));
    let grants = Grants::new(store.clone());
    let subject = pick("public_security", "SELECT id_number FROM resident LIMIT 1");

    let mut now = 1_000i64;
    let mut model: Vec<Granted> = Vec::new();
    for (n, op) in ops.into_iter().enumerate() {
        match op {
            Op::Wait { ms } => now += ms,
            Op::Grant { mask, start, len } => {
                let from = (now + start).max(0);
                let terms = Terms {
                    consumer: "civil_affairs".into(),
                    dataset: DATASET.into(),
                    fields: fields(mask),
                    purpose: Purpose::BenefitEligibility,
                    legal_basis: LegalBasis {
                        kind: LegalBasisKind::LocalRegulation,
                        reference: "Provincial Social Assistance Regulation, art. 9".into(),
                    },
                    valid_from: from,
                    valid_until: from + len,
                    scope: None,
                    mode: Mode::PerSubject,
                };
                let request = grants.file(terms, now).await.expect("files");
                let g = grants
                    .approve(&request.id, "public_security", now)
                    .await
                    .expect("approves");
                model.push(Granted {
                    id: g.id,
                    fields: fields(mask),
                    from,
                    until: from + len,
                    revoked_at: None,
                });
            }
            Op::Revoke { pick } => {
                if model.is_empty() {
                    continue;
                }
                let i = pick % model.len();
                if model[i].revoked_at.is_none() {
                    grants
                        .revoke(&model[i].id, "public_security", "property test", now)
                        .await
                        .expect("revokes");
                    model[i].revoked_at = Some(now);
                }
            }
            Op::Read { mask } => {
                let wanted = fields(mask);
                let request = ReadRequest {
                    request_id: format!("r-{n}"),
                    consumer: "civil_affairs".into(),
                    dataset: DATASET.into(),
                    subject: subject.clone(),
                    fields: wanted.clone(),
                    purpose: Purpose::BenefitEligibility.code().into(),
                }
                .sign(&SigningKey::from_bytes(&[1; 32]));
                let covered = model.iter().any(|g| g.allows(&wanted, now));
                match exchange.read_at(&request, now).await {
                    Ok(answer) => {
                        let g = model
                            .iter()
                            .find(|g| g.id == answer.response.grant)
                            .expect("the answer names a known grant");
                        prop_assert!(
                            g.allows(&wanted, now),
                            "read under a grant that does not allow it"
                        );
                        for row in &answer.response.rows {
                            let keys: Vec<&String> = row.keys().collect();
                            prop_assert!(keys.iter().all(|k| g.fields.contains(k)));
                            prop_assert_eq!(keys.len(), wanted.len());
                        }
                        prop_assert!(covered);
                    }
                    Err(e) => {
                        prop_assert!(!covered, "refused ({}) though a grant covers it", e.code());
                        prop_assert!(
                            [
                                "no_grant",
                                "grant_expired",
                                "grant_revoked",
                                "grant_not_yet_valid",
                                "field_not_granted"
                            ]
                            .contains(&e.code()),
                            "unexpected refusal {}",
                            e
                        );
                    }
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn no_read_returns_a_field_no_valid_grant_covers(ops in proptest::collection::vec(op(), 1..24)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(run(ops))?;
    }
}
