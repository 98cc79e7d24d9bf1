//! The exchange walk of `errandless demo`, run on the province just generated: the ledger key,
//! the departments as members, data requests approved (and one rejected), signed per-subject
//! reads, the bulk sync of every granted dataset, and one citizen's data tracker with each
//! record's inclusion proof checked against the signed checkpoint.
//!
//! A rerun in the same data directory continues from what is there: the ledger is never
//! wiped (it is append-only), members that are registered keep their keys, and grants in
//! force are not requested again. Only the province is regenerated, so the sync makes new
//! snapshot versions when the province changed and none when it did not.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context as _};
use ed25519_dalek::SigningKey;
use errandless_exchange::{
    migrate, Exchange, FieldValue, GrantState, LegalBasis, LegalBasisKind, Millis, Mode, Purpose,
    ReadRequest, RequestStatus, Terms, DATACENTER_DIR,
};
use errandless_ledger::{NoteVerifier, Receipt, SignedCheckpoint, CHECKPOINT_FILE};
use errandless_standards::{CitizenId, Province, Standard, Uscc};
use errandless_store::Store;

use crate::config::Settings;
use crate::member_cmd;
use crate::sync_cmd::{self, DATA_CENTER_MEMBER};

/// A year, the validity of the demo's grants.
const YEAR_MILLIS: Millis = 365 * 24 * 3600 * 1000;

/// A bulk grant to the data center for a dataset the benefit policies read.
struct BulkSpec {
    dataset: &'static str,
    purpose: Purpose,
    law: &'static str,
}

/// The datasets the benefit policies will read, each under the law that makes reading it a
/// statutory duty. All hold sensitive-personal fields or sit beside them, and a bulk grant of
/// those needs a law (PIPL art. 28), so every basis here is a law.
const BULK: &[BulkSpec] = &[
    BulkSpec {
        dataset: "public_security.resident",
        purpose: Purpose::BenefitEligibility,
        law: "《中华人民共和国户口登记条例》",
    },
    BulkSpec {
        dataset: "public_security.household",
        purpose: Purpose::BenefitEligibility,
        law: "《中华人民共和国户口登记条例》",
    },
    BulkSpec {
        dataset: "rural_revitalisation.poor_household",
        purpose: Purpose::BenefitEligibility,
        law: "《中华人民共和国乡村振兴促进法》",
    },
    BulkSpec {
        dataset: "education.student",
        purpose: Purpose::BenefitEligibility,
        law: "《中华人民共和国教育法》第三十八条",
    },
    BulkSpec {
        dataset: "education.admission",
        purpose: Purpose::BenefitEligibility,
        law: "《中华人民共和国教育法》第三十八条",
    },
    BulkSpec {
        dataset: "finance.one_card",
        purpose: Purpose::Payment,
        law: "《中华人民共和国预算法》",
    },
    BulkSpec {
        dataset: "disabled_persons.certificate",
        purpose: Purpose::BenefitEligibility,
        law: "《中华人民共和国残疾人保障法》",
    },
    BulkSpec {
        dataset: "civil_affairs.death",
        purpose: Purpose::BenefitEligibility,
        law: "《中华人民共和国社会保险法》",
    },
    BulkSpec {
        dataset: "civil_affairs.dibao",
        purpose: Purpose::BenefitEligibility,
        law: "《中华人民共和国个人信息保护法》第三十四条；《社会救助暂行办法》",
    },
    BulkSpec {
        dataset: "taxation.income",
        purpose: Purpose::BenefitEligibility,
        law: "《中华人民共和国个人所得税法》",
    },
];

/// The per-subject grant of the walk, and the fields it allows.
const PER_SUBJECT_CONSUMER: &str = "civil_affairs";
const PER_SUBJECT_DATASET: &str = "public_security.resident";
const PER_SUBJECT_FIELDS: &[&str] = &["name", "sex", "birth_date", "division_code", "status"];

/// The ledger origin of a demo province.
pub(crate) fn ledger_origin(province: u8) -> String {
    format!("ledger.errandless.example/{province:02}")
}

/// Runs the walk on the province in `settings.data`.
pub(crate) async fn walk(
    settings: &Settings,
    province: &Province,
    quiet: bool,
) -> anyhow::Result<()> {
    let data = &settings.data;
    let log_dir = data.join("ledger");

    heading("1. ledger");
    if crate::ledger_cmd::has_signing_key(&log_dir) {
        println!("ledger: {} (its key exists; kept)", log_dir.display());
    } else {
        let vkey = crate::ledger_cmd::create_log(&log_dir, &ledger_origin(province.code))
            .context("while creating the ledger")?;
        println!("ledger: {} created; verifier key {vkey}", log_dir.display());
    }
    let verifier = crate::ledger_cmd::load_verifier(&log_dir, None)?;

    let store = settings.open_store().await?;
    migrate(&store)
        .await
        .context("while preparing the exchange's tables")?;
    errandless_policy::enactment::migrate(&store)
        .await
        .context("while preparing the policy tables")?;
    let mut exchange = sync_cmd::open_exchange(data, &store, &settings.clock).await?;

    heading("2. members");
    let keys = register_members(&exchange, data, province).await?;
    for (id, key) in &keys {
        exchange.add_owner_key(id, key.clone());
    }
    let members = exchange
        .members()
        .list()
        .await
        .context("while listing the members")?;
    member_cmd::print_members(&members);

    heading("3. data requests and grants");
    request_grants(&exchange).await?;

    heading("4. per-subject reads");
    let citizen = pick_citizen(&exchange)?;
    println!("subject: {citizen} (a synthetic minimum-living-allowance recipient)");
    per_subject_reads(&exchange, &keys, &citizen).await?;

    heading("5. bulk sync to the data center");
    let datasets = exchange
        .bulk_datasets(DATA_CENTER_MEMBER, settings.clock.now_millis())
        .await
        .context("while listing bulk grants")?;
    let datacenter = data.join(DATACENTER_DIR);
    let reports =
        sync_cmd::sync_datasets(&exchange, DATA_CENTER_MEMBER, &datasets, &datacenter, quiet)
            .await?;
    println!(
        "{:<38} {:>9} {:>9}  {:<16}  version",
        "dataset", "rows", "changed", "sha-256"
    );
    for r in &reports {
        let hex = r.snapshot.to_hex();
        println!(
            "{:<38} {:>9} {:>9}  {:<16}  {}",
            r.dataset,
            r.rows,
            r.touched(),
            hex.get(..16).unwrap_or(&hex),
            if r.created { "new" } else { "unchanged" }
        );
    }
    println!("snapshots in {}", datacenter.display());

    heading("6. ledger");
    let checkpoint = read_checkpoint(&log_dir, &verifier)?;
    println!(
        "{} entries; checkpoint of {} at size {}, root {}",
        exchange.ledger_size(),
        checkpoint.checkpoint.origin,
        checkpoint.checkpoint.size,
        checkpoint.checkpoint.root.to_base64()
    );

    heading("7. the data tracker of one citizen");
    tracker(&exchange, &log_dir, &datacenter, &verifier, &citizen).await?;

    heading("8. the policy pack, simulated over the snapshots (nothing is paid)");
    simulate_pack(&store, &datacenter, &settings.clock).await?;
    // The ledger is the exchange's until it closes; enacting records under it next.
    drop(exchange);
    store.close().await;
    let payee = crate::demo_benefits::enact_and_pay(settings).await?;
    if let Some(payee) = payee {
        heading(
            "11. the payee's data tracker: the reads of their data and the decisions made from it",
        );
        let store = settings.open_store().await?;
        let exchange = sync_cmd::open_exchange(data, &store, &settings.clock).await?;
        tracker(&exchange, &log_dir, &datacenter, &verifier, &payee).await?;
        drop(exchange);
        store.close().await;
    }

    println!();
    println!(
        "next: ERRANDLESS_OPERATOR_TOKEN=change-me errandless --data {} serve",
        data.display()
    );
    println!(
        "the live case: errandless --data {} demo admit   (an admission, paid through the next sync's delta run)",
        data.display()
    );
    Ok(())
}

/// Evaluates each policy of the pack over the data center, for the period the demo enacts,
/// and prints one line each.
async fn simulate_pack(
    store: &Store,
    datacenter: &Path,
    clock: &errandless_standards::Clock,
) -> anyhow::Result<()> {
    println!(
        "{:<34} {:>7} {:>9} {:>9} {:>10} {:>11} {:>20} {:>7}",
        "policy",
        "period",
        "evaluated",
        "eligible",
        "no account",
        "near misses",
        "cost over the year",
        "seconds"
    );
    for (file, text) in errandless_policy::PACK {
        let policy = crate::demo_benefits::pack_policy(file, text)?;
        let period = crate::demo_benefits::demo_period(&policy, clock)?;
        let policy = policy.for_period(&period).map_err(anyhow::Error::msg)?;
        let evaluated = errandless_evaluation::evaluate_latest(
            store,
            datacenter,
            DATA_CENTER_MEMBER,
            &policy,
            None,
            errandless_evaluation::Keep::Recorded,
        )
        .await?;
        let s = errandless_evaluation::simulate(&policy, evaluated.evaluated, &evaluated.decisions);
        println!(
            "{:<34} {:>7} {:>9} {:>9} {:>10} {:>11} {:>20} {:>7.2}",
            policy.id,
            period,
            s.evaluated,
            s.eligible,
            s.without_account,
            s.near_miss_count(),
            if s.payments == 0 {
                "screen".to_owned()
            } else {
                crate::policy_cmd::yuan(s.total())
            },
            evaluated.took.as_secs_f64()
        );
    }
    Ok(())
}

pub(crate) fn heading(title: &str) {
    println!();
    println!("== {title}");
}

/// A realistic synthetic unified social credit code of a provincial department: authority 1
/// (organisation establishment), type 1 (state organ), the province's division code and an
/// organisation code body of the department's rank.
fn department_uscc(province: u8, rank: usize) -> Uscc {
    let rank = u32::try_from(rank).unwrap_or(0);
    Uscc::compose(
        b'1',
        b'1',
        u32::from(province) * 10_000,
        u32::from(province) * 1_000_000 + 1_000 + rank * 17,
    )
}

/// Registers every department of the standard (the 17 island departments and the data bureau)
/// as `member add` does, or reuses its key when it is registered with the key in
/// `<data>/members/`. A registered member whose key file is missing or stale gets a new key,
/// as `member rotate-key` gives it. Returns each member's private key.
async fn register_members(
    exchange: &Exchange,
    data: &Path,
    province: &Province,
) -> anyhow::Result<BTreeMap<String, SigningKey>> {
    let members = exchange.members();
    let mut keys = BTreeMap::new();
    for (rank, dept) in Standard::builtin().departments().iter().enumerate() {
        let path = member_cmd::default_key_file(data, &dept.id);
        let registered = members
            .get(&dept.id)
            .await
            .with_context(|| format!("while looking up member {}", dept.id))?;
        let key = match registered {
            Some(member) => {
                let current = path
                    .is_file()
                    .then(|| member_cmd::read_key_file(&path).ok())
                    .flatten()
                    .filter(|k| k.verifying_key() == member.key);
                match current {
                    Some(key) => key,
                    None => {
                        let (_, _, key) =
                            member_cmd::rotate_key(members, data, &dept.id, None).await?;
                        key
                    }
                }
            }
            None => {
                if path.exists() {
                    // A key file of no member: a store removed by hand. Keep it aside.
                    let aside = path
                        .with_extension(format!("key.orphan-{}", exchange.clock().now_millis()));
                    std::fs::rename(&path, &aside).with_context(|| {
                        format!("while moving the unregistered key {}", path.display())
                    })?;
                }
                let (_, key) = member_cmd::register(
                    members,
                    dept.id.clone(),
                    department_uscc(province.code, rank).to_string(),
                    format!("{}{}", province.zh, dept.zh),
                    format!("{} {}", province.en, dept.en),
                    &path,
                )
                .await?;
                key
            }
        };
        keys.insert(dept.id.clone(), key);
    }
    Ok(keys)
}

/// A grant the walk holds: whether it was made now or was already in force.
struct Row {
    dataset: String,
    consumer: String,
    purpose: Purpose,
    mode: Mode,
    basis: String,
    status: String,
}

/// Files and approves the walk's grants unless one is in force, and files one request that
/// its owner rejects. Prints the grants table.
async fn request_grants(exchange: &Exchange) -> anyhow::Result<()> {
    let standard = Standard::builtin();
    let now = exchange.clock().now_millis();
    let mut rows = Vec::new();
    let mut wanted: Vec<Terms> = Vec::new();
    for spec in BULK {
        let Some(dataset) = standard.dataset(spec.dataset) else {
            continue;
        };
        wanted.push(Terms {
            consumer: DATA_CENTER_MEMBER.into(),
            dataset: dataset.id.clone(),
            fields: dataset.fields.iter().map(|f| f.name.clone()).collect(),
            purpose: spec.purpose,
            legal_basis: LegalBasis {
                kind: LegalBasisKind::Law,
                reference: spec.law.into(),
            },
            valid_from: now,
            valid_until: now + YEAR_MILLIS,
            scope: None,
            mode: Mode::Bulk,
        });
    }
    wanted.push(Terms {
        consumer: PER_SUBJECT_CONSUMER.into(),
        dataset: PER_SUBJECT_DATASET.into(),
        fields: PER_SUBJECT_FIELDS.iter().map(|&f| f.into()).collect(),
        purpose: Purpose::BenefitEligibility,
        legal_basis: LegalBasis {
            kind: LegalBasisKind::AdministrativeRegulation,
            reference: "《社会救助暂行办法》第十一条".into(),
        },
        valid_from: now,
        valid_until: now + YEAR_MILLIS,
        scope: None,
        mode: Mode::PerSubject,
    });
    // The identity provider (`serve`, whose `--identity-member` is the data bureau) checks a
    // citizen's real name against household registration: a per-subject read of name and
    // status, for identity verification.
    wanted.push(Terms {
        consumer: DATA_CENTER_MEMBER.into(),
        dataset: errandless_identity::RESIDENT_DATASET.into(),
        fields: vec!["name".into(), "status".into()],
        purpose: Purpose::IdentityVerification,
        legal_basis: LegalBasis {
            kind: LegalBasisKind::Law,
            reference: "《中华人民共和国居民身份证法》第十三条".into(),
        },
        valid_from: now,
        valid_until: now + YEAR_MILLIS,
        scope: None,
        mode: Mode::PerSubject,
    });
    // The portal fills application forms from the departments' data: a per-subject read of
    // each field a service's form maps, for application prefill, read as the data bureau.
    for read in errandless_services::Catalogue::builtin().prefill_reads() {
        wanted.push(Terms {
            consumer: DATA_CENTER_MEMBER.into(),
            dataset: read.dataset.clone(),
            fields: read.fields.clone(),
            purpose: Purpose::ApplicationPrefill,
            legal_basis: LegalBasis {
                kind: LegalBasisKind::AdministrativeRegulation,
                reference: "《国务院关于加快推进全国一体化在线政务服务平台建设的指导意见》（国发〔2018〕27号）".into(),
            },
            valid_from: now,
            valid_until: now + YEAR_MILLIS,
            scope: None,
            mode: Mode::PerSubject,
        });
    }
    for terms in wanted {
        let held = exchange
            .grants()
            .grants_of(&terms.consumer, &terms.dataset)
            .await
            .with_context(|| format!("while looking up grants on {}", terms.dataset))?;
        let in_force = held.iter().any(|g| {
            g.terms.mode == terms.mode
                && g.terms.purpose == terms.purpose
                && g.state_at(now) == GrantState::Valid
        });
        let status = if in_force {
            "in force".to_owned()
        } else {
            let request = exchange
                .file_request(terms.clone(), now)
                .await
                .with_context(|| format!("while requesting {}", terms.dataset))?;
            exchange
                .approve(&request.id, &request.owner, now)
                .await
                .with_context(|| format!("while approving the request for {}", terms.dataset))?;
            "approved".to_owned()
        };
        rows.push(Row {
            basis: terms.legal_basis.reference.clone(),
            dataset: terms.dataset,
            consumer: terms.consumer,
            purpose: terms.purpose,
            mode: terms.mode,
            status,
        });
    }

    // A request the owner turns down: tax returns asked for statistics, in bulk, by a
    // department whose duty does not need them.
    let refused = Terms {
        consumer: "market_regulation".into(),
        dataset: "taxation.income".into(),
        fields: vec!["id_number".into(), "income".into()],
        purpose: Purpose::Statistics,
        legal_basis: LegalBasis {
            kind: LegalBasisKind::Law,
            reference: "《中华人民共和国统计法》".into(),
        },
        valid_from: now,
        valid_until: now + YEAR_MILLIS,
        scope: None,
        mode: Mode::Bulk,
    };
    if standard.dataset(&refused.dataset).is_some() {
        let request = exchange
            .file_request(refused.clone(), now)
            .await
            .context("while filing the request to be rejected")?;
        let reason = "个人收入统计由统计部门依法汇总取得，不需要逐人明细 / income statistics come \
                      aggregated from the statistics bureau; person-level returns are not needed";
        let decided = exchange
            .reject(&request.id, &request.owner, reason, now)
            .await
            .context("while rejecting the request")?;
        let status = match decided.status {
            RequestStatus::Rejected { reason, .. } => format!("rejected: {reason}"),
            other => bail!("the rejected request stands as {other:?}"),
        };
        rows.push(Row {
            dataset: refused.dataset,
            consumer: refused.consumer,
            purpose: refused.purpose,
            mode: refused.mode,
            basis: refused.legal_basis.reference,
            status,
        });
    }

    // A request left for an education officer to decide in the console: human resources
    // asks for student status, to register graduates for employment services.
    let pending = Terms {
        consumer: "human_resources".into(),
        dataset: "education.student".into(),
        fields: vec!["id_number".into()],
        purpose: Purpose::ApplicationPrefill,
        legal_basis: LegalBasis {
            kind: LegalBasisKind::AdministrativeRegulation,
            reference: "《中华人民共和国就业促进法》第二十条".into(),
        },
        valid_from: now,
        valid_until: now + YEAR_MILLIS,
        scope: None,
        mode: Mode::PerSubject,
    };
    if let Some(dataset) = standard.dataset(&pending.dataset) {
        let already = exchange
            .grants()
            .pending_for("education")
            .await
            .context("while listing the pending requests")?
            .iter()
            .any(|r| r.terms.consumer == pending.consumer && r.terms.dataset == pending.dataset);
        if !already {
            let mut pending = pending;
            pending.fields = dataset
                .fields
                .iter()
                .take(3)
                .map(|f| f.name.clone())
                .collect();
            exchange
                .file_request(pending.clone(), now)
                .await
                .context("while filing the request left pending")?;
            rows.push(Row {
                dataset: pending.dataset,
                consumer: pending.consumer,
                purpose: pending.purpose,
                mode: pending.mode,
                basis: pending.legal_basis.reference,
                status: "pending".to_owned(),
            });
        }
    }

    println!(
        "{:<36} {:<18} {:<20} {:<11} {:<10}  legal basis",
        "dataset", "consumer", "purpose", "mode", "status"
    );
    for r in rows {
        let (status, note) = match r.status.split_once(": ") {
            Some((s, n)) => (s.to_owned(), format!("  ({n})")),
            None => (r.status, String::new()),
        };
        println!(
            "{:<36} {:<18} {:<20} {:<11} {:<10}  {}{note}",
            r.dataset,
            r.consumer,
            r.purpose.code(),
            r.mode.code(),
            status,
            r.basis
        );
    }
    Ok(())
}

/// A citizen whose data the walk reads: the first minimum-living-allowance recipient in
/// subject order, else the first registered resident.
fn pick_citizen(exchange: &Exchange) -> anyhow::Result<CitizenId> {
    for dataset in ["civil_affairs.dibao", PER_SUBJECT_DATASET] {
        let scan = exchange
            .islands()
            .scan(dataset, &[])
            .with_context(|| format!("while opening {dataset}"))?;
        let mut first = None;
        scan.for_each::<anyhow::Error>(
            |_| {},
            |row| {
                if first.is_none() {
                    if let Some(FieldValue::Text(s)) = row.first() {
                        first = CitizenId::parse(s).ok();
                    }
                }
                Ok(())
            },
        )
        .with_context(|| format!("while reading {dataset}"))?;
        if let Some(id) = first {
            return Ok(id);
        }
    }
    bail!("the province has no resident to show")
}

pub(crate) fn request_id() -> anyhow::Result<String> {
    let mut bytes = [0u8; 12];
    getrandom::getrandom(&mut bytes).context("while drawing a request id")?;
    Ok(format!(
        "demo-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// Signed per-subject reads of one citizen: one allowed, one refused for a field outside the
/// grant, one refused for want of a grant. Each is recorded in the ledger.
async fn per_subject_reads(
    exchange: &Exchange,
    keys: &BTreeMap<String, SigningKey>,
    citizen: &CitizenId,
) -> anyhow::Result<()> {
    let reads: [(&str, &[&str], Purpose); 3] = [
        (
            PER_SUBJECT_CONSUMER,
            &["name", "birth_date", "status"],
            Purpose::BenefitEligibility,
        ),
        (
            PER_SUBJECT_CONSUMER,
            &["name", "address"],
            Purpose::BenefitEligibility,
        ),
        ("education", &["name"], Purpose::ApplicationPrefill),
    ];
    println!(
        "{:<16} {:<26} {:<26} {:<20} {:>7}  outcome",
        "consumer", "dataset", "fields", "purpose", "ledger"
    );
    for (consumer, fields, purpose) in reads {
        let key = keys
            .get(consumer)
            .with_context(|| format!("no key for {consumer}"))?;
        let request = ReadRequest {
            request_id: request_id()?,
            consumer: consumer.into(),
            dataset: PER_SUBJECT_DATASET.into(),
            subject: citizen.as_str().into(),
            fields: fields.iter().map(|&f| f.into()).collect(),
            purpose: purpose.code().into(),
        };
        let (index, outcome) = match exchange.read(&request.clone().sign(key)).await {
            Ok(answer) => {
                let owner = keys
                    .get(&answer.response.owner)
                    .map(SigningKey::verifying_key);
                let signed = owner.is_some_and(|k| answer.verify(&k, &request));
                (
                    answer.response.ledger_index.to_string(),
                    format!(
                        "allowed: {} row(s), owner's signature {}",
                        answer.response.rows.len(),
                        if signed { "verified" } else { "INVALID" }
                    ),
                )
            }
            Err(e) => ("-".to_owned(), format!("refused: {}", e.code())),
        };
        println!(
            "{:<16} {:<26} {:<26} {:<20} {:>7}  {outcome}",
            consumer,
            PER_SUBJECT_DATASET,
            fields.join(","),
            purpose.code(),
            index
        );
    }
    Ok(())
}

fn read_checkpoint(log_dir: &Path, verifier: &NoteVerifier) -> anyhow::Result<SignedCheckpoint> {
    let path = log_dir.join(CHECKPOINT_FILE);
    let bytes =
        std::fs::read(&path).with_context(|| format!("while reading {}", path.display()))?;
    SignedCheckpoint::verify(&bytes, verifier)
        .with_context(|| format!("while verifying {}", path.display()))
}

/// The citizen's data tracker as the server answers it, with each receipt checked offline
/// against its signed checkpoint with the ledger's public key.
async fn tracker(
    exchange: &Exchange,
    log_dir: &Path,
    datacenter: &Path,
    verifier: &NoteVerifier,
    citizen: &CitizenId,
) -> anyhow::Result<()> {
    let usages =
        errandless_server::data_usage_of(exchange, log_dir, datacenter, verifier, citizen, None)
            .await
            .context("while listing the citizen's data usage")?;
    println!("who read {citizen}'s data ({} records):", usages.len());
    println!(
        "{:>7}  {:<20} {:<18} {:<36} {:<20} {:<18}  proof",
        "ledger", "when (UTC)", "reader", "dataset", "purpose", "outcome"
    );
    let mut failed = 0;
    for u in &usages {
        let proof = Receipt::parse(u.receipt.as_bytes()).and_then(|r| r.verify(verifier, None));
        let proof = match proof {
            Ok((cp, _)) => format!("verified in tree of size {}", cp.checkpoint.size),
            Err(e) => {
                failed += 1;
                format!("FAILED: {e}")
            }
        };
        println!(
            "{:>7}  {:<20} {:<18} {:<36} {:<20} {:<18}  {proof}",
            u.id,
            u.search_date_time,
            u.reader_id,
            u.refrences.first().map_or("-", |r| r.reference_id.as_str()),
            u.purpose.as_deref().unwrap_or("-"),
            if u.outcome.is_empty() {
                "synced"
            } else {
                u.outcome.as_str()
            },
        );
    }
    if failed > 0 {
        bail!("{failed} of the citizen's records did not verify against the checkpoint");
    }
    Ok(())
}
