//! Enactment from the command line: a policy evaluated over the data center, its decisions
//! recorded (policy crate) and its payable decisions entitled (payments crate), under one
//! ledger. Shared by `policy enact`, the delta run that follows `sync`, and the demo.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use errandless_exchange::{Snapshot, DATACENTER_DIR};
use errandless_ledger::Sequencer;
use errandless_payments::{EntitleReport, Entitlement, Payments};
use errandless_policy::{EnactReport, Enactment, Enactments, Policy, Run, Source};
use errandless_standards::Standard;
use errandless_store::Store;

use crate::config::Settings;
use crate::policy_cmd::evaluate_policy;

/// What one enactment did.
pub(crate) struct Enacted {
    pub report: EnactReport,
    pub entitled: EntitleReport,
    /// The subjects of the payable decisions, in the run's order.
    pub payable_subjects: Vec<String>,
    pub total: Duration,
}

/// The store, decisions and payments of one data directory, sharing its ledger.
pub(crate) struct Decider {
    pub store: Store,
    pub enactments: Enactments,
    pub payments: Payments,
    datacenter: PathBuf,
    consumer: String,
}

impl Decider {
    /// Opens the platform store (migrating the tables enacting needs) and the ledger of
    /// `settings.data`; `consumer` is the member whose snapshots are read and who decides.
    pub async fn open(settings: &Settings, consumer: &str) -> anyhow::Result<Decider> {
        let store = settings.open_store().await?;
        errandless_exchange::migrate(&store)
            .await
            .context("while migrating the exchange's tables")?;
        errandless_policy::enactment::migrate(&store)
            .await
            .context("while migrating the policy tables")?;
        errandless_payments::migrate(&store)
            .await
            .context("while migrating the payment tables")?;
        let log_dir = settings.data.join("ledger");
        let signer = crate::ledger_cmd::load_signer(&log_dir)?;
        let key = crate::ledger_cmd::load_subject_key(&log_dir)?;
        let ledger = Sequencer::open(&log_dir, signer)
            .with_context(|| format!("while opening the ledger {}", log_dir.display()))?;
        let ledger = Arc::new(tokio::sync::Mutex::new(ledger));
        let enactments = Enactments::new(store.clone(), ledger.clone(), key.clone(), consumer);
        let payments = crate::pay_cmd::payments_on(settings, store.clone(), ledger, key)?;
        // What an interrupted run committed goes into the ledger before this one does more.
        enactments
            .flush_ledger()
            .await
            .context("while appending earlier decisions to the ledger")?;
        payments
            .flush_ledger()
            .await
            .context("while appending earlier payment changes to the ledger")?;
        Ok(Decider {
            store,
            enactments,
            payments,
            datacenter: settings.data.join(DATACENTER_DIR),
            consumer: consumer.to_owned(),
        })
    }

    /// Evaluates `policy` (read from `source`) for `period` over everyone, or over `subjects`
    /// only (a delta run), records its decisions and entitles the payable ones.
    pub async fn enact(
        &self,
        policy: &Policy,
        source: &str,
        period: &str,
        subjects: Option<&[String]>,
    ) -> anyhow::Result<Enacted> {
        let started = Instant::now();
        let payee = payee_inputs(policy)?;
        let evaluated = evaluate_policy(
            &self.store,
            &self.datacenter,
            &self.consumer,
            policy,
            subjects,
            false,
        )
        .await?;
        let sources = sources_of(&evaluated.snapshots);
        let enactment = Enactment {
            policy,
            source,
            period,
            sources: &sources,
            run: if subjects.is_some() {
                Run::Delta
            } else {
                Run::Batch
            },
            evaluated: evaluated.evaluated,
        };
        let now = errandless_payments::now_ms();
        let report = self
            .enactments
            .enact(&enactment, &evaluated.decisions, now)
            .await
            .with_context(|| format!("while recording the decisions of {}", policy.id))?;
        let mut items = Vec::with_capacity(report.payable.len());
        if let Some((account, name, bank)) = payee {
            for (i, reference) in &report.payable {
                let d = &evaluated.decisions[*i];
                let value = |k: usize| d.values.get(k).cloned().flatten().unwrap_or_default();
                items.push(Entitlement {
                    policy_id: policy.id.clone(),
                    period: period.to_owned(),
                    subject_id: d.subject.clone(),
                    payee_name: value(name),
                    account: value(account),
                    bank: value(bank),
                    amount_fen: d.amount,
                    decision_ref: reference.clone(),
                });
            }
        }
        // A decision whose payee details the bank would refuse is kept, not paid: it is named
        // here rather than failing everyone else's payment.
        let (valid, invalid): (Vec<Entitlement>, Vec<Entitlement>) =
            items.into_iter().partition(|e| e.validate().is_ok());
        for e in &invalid {
            if let Err((field, rule)) = e.validate() {
                tracing::warn!(policy = %e.policy_id, decision = %e.decision_ref, field, rule, "not entitled: the payee details are invalid");
            }
        }
        let entitled =
            self.payments.entitle(&valid, now).await.with_context(|| {
                format!("while entitling the payable decisions of {}", policy.id)
            })?;
        let payable_subjects = report
            .payable
            .iter()
            .map(|(i, _)| evaluated.decisions[*i].subject.clone())
            .collect();
        Ok(Enacted {
            report,
            entitled,
            payable_subjects,
            total: started.elapsed(),
        })
    }
}

/// For a paying policy, the positions among its inputs of the payee's account, name
/// (element `person_name`) and bank (element `bank_name`).
fn payee_inputs(policy: &Policy) -> anyhow::Result<Option<(usize, usize, usize)>> {
    let Some(payment) = &policy.payment else {
        return Ok(None);
    };
    let position = |what: &str, found: Option<usize>, example: &str| {
        found.with_context(|| {
            format!(
                "{} pays, but reads no {what} input for the payee: add one such as {example} to [inputs]",
                policy.id
            )
        })
    };
    let account = position(
        "account",
        policy.inputs.iter().position(|i| i.name == payment.pay_to),
        "account = \"finance.one_card.account\"",
    )?;
    let name = position(
        "person_name",
        policy
            .inputs
            .iter()
            .position(|i| i.element == "person_name"),
        "payee_name = \"public_security.resident.name\"",
    )?;
    let bank = position(
        "bank_name",
        policy.inputs.iter().position(|i| i.element == "bank_name"),
        "bank = \"finance.one_card.bank\"",
    )?;
    Ok(Some((account, name, bank)))
}

/// The snapshots read, as a decision's explanation names them.
pub(crate) fn sources_of(snapshots: &[Snapshot]) -> Vec<Source> {
    let standard = Standard::builtin();
    snapshots
        .iter()
        .map(|s| {
            let dataset = standard.dataset(&s.dataset);
            let department = dataset.and_then(|d| standard.department(&d.department));
            Source {
                dataset: s.dataset.clone(),
                department_zh: department.map(|d| d.zh.clone()).unwrap_or_default(),
                department_en: department.map(|d| d.en.clone()).unwrap_or_default(),
                dataset_zh: dataset.map(|d| d.zh.clone()).unwrap_or_default(),
                dataset_en: dataset.map(|d| d.en.clone()).unwrap_or_default(),
                snapshot: s.id.to_hex(),
                version: s.version,
            }
        })
        .collect()
}

/// The period to enact: `given`, checked, or the one today falls in.
pub(crate) fn period_of(policy: &Policy, given: Option<&str>) -> anyhow::Result<String> {
    match given {
        Some(p) => {
            if let Err(e) = policy.check_period(p) {
                bail!(e);
            }
            Ok(p.to_owned())
        }
        None => policy
            .period_on(errandless_standards::Date::today())
            .map_err(anyhow::Error::msg),
    }
}

/// Touched subjects above which a delta run gives way to a batch run: a filter of that many
/// literals costs more than reading everyone.
const DELTA_LIMIT: usize = 50_000;

/// The delta run that follows a sync: every policy in force (its latest enactment) that reads
/// a dataset the sync gave a new version is evaluated again over the subjects those versions
/// touched, for the same period, and its payable decisions are entitled. Returns what each
/// run did, with the policy id and period.
pub(crate) async fn delta_runs(
    settings: &Settings,
    consumer: &str,
    reports: &[errandless_exchange::SyncReport],
) -> anyhow::Result<Vec<(String, String, Enacted)>> {
    let changed: Vec<&errandless_exchange::SyncReport> =
        reports.iter().filter(|r| r.created).collect();
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let decider = Decider::open(settings, consumer).await?;
    let in_force = decider
        .enactments
        .in_force()
        .await
        .context("while listing the policies in force")?;
    let mut out = Vec::new();
    for force in in_force {
        let policy = Policy::parse(
            &format!("{} (as enacted)", force.policy_id),
            &force.source,
            Standard::builtin(),
        )
        .map_err(|errors| {
            anyhow::anyhow!(
                "the enacted version of {} no longer checks: {}",
                force.policy_id,
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })?;
        let mut subjects = std::collections::BTreeSet::new();
        for r in &changed {
            if policy.inputs.iter().any(|i| i.dataset == r.dataset) {
                let touched =
                    errandless_exchange::touched_subjects(&decider.datacenter, &r.snapshot)
                        .with_context(|| format!("while reading what {} touched", r.dataset))?;
                subjects.extend(touched);
            }
        }
        if subjects.is_empty() {
            continue;
        }
        let subjects: Vec<String> = subjects.into_iter().collect();
        let only = (subjects.len() <= DELTA_LIMIT).then_some(subjects.as_slice());
        let done = decider
            .enact(&policy, &force.source, &force.period, only)
            .await?;
        out.push((force.policy_id, force.period, done));
    }
    decider.store.close().await;
    Ok(out)
}
