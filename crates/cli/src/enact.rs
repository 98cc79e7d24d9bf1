//! Enactment from the command line: the server crate's [`Decider`] over the data directory's
//! store and ledger. Shared by `policy enact`, the delta run that follows `sync`, and the demo.

use anyhow::{bail, Context as _};
use errandless_exchange::DATACENTER_DIR;
use errandless_policy::Policy;
use errandless_server::Decider;
pub(crate) use errandless_server::Enacted;
use errandless_standards::Standard;
use std::sync::Arc;

use errandless_ledger::Sequencer;

use crate::config::Settings;

/// Opens the platform store (migrating the tables enacting needs) and the ledger of
/// `settings.data`, as a decider for `consumer`: the member whose snapshots are read and who
/// decides.
pub(crate) async fn open(settings: &Settings, consumer: &str) -> anyhow::Result<Decider> {
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
    let payer = crate::pay_cmd::checked_payer(settings)?;
    Decider::new(
        store,
        ledger,
        key,
        payer,
        settings.data.join(DATACENTER_DIR),
        consumer,
        &jurisdiction(settings),
    )
    .await
    .map(|d| d.with_clock(settings.clock))
    .context("while opening the decisions and payments")
}

/// The 12-digit division code of the province the data directory holds.
pub(crate) fn jurisdiction(settings: &Settings) -> String {
    format!("{:02}0000000000", settings.province)
}

/// The period to enact: `given`, checked, or the one today (by `clock`) falls in.
pub(crate) fn period_of(
    policy: &Policy,
    given: Option<&str>,
    clock: &errandless_standards::Clock,
) -> anyhow::Result<String> {
    match given {
        Some(p) => {
            if let Err(e) = policy.check_period(p) {
                bail!(e);
            }
            Ok(p.to_owned())
        }
        None => policy.period_on(clock.today()).map_err(anyhow::Error::msg),
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
    let decider = open(settings, consumer).await?;
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
