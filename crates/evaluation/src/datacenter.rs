//! A policy evaluated over the data center: the newest snapshot a member holds of each dataset
//! the policy reads, found through the exchange's snapshot records, then bound to the plan.
//!
//! Every way a snapshot can be unusable is named before DataFusion reads anything: none synced,
//! one whose grant lacks a field the policy reads, or a file missing from the data center.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use errandless_exchange::{Snapshot, SyncError};
use errandless_policy::{Policy, Source};
use errandless_standards::Standard;
use errandless_store::Store;

use crate::{
    compile_for, compile_over, decide_without_rows, register_snapshots, run_recorded, run_split,
    session, Decision, Keep,
};
use crate::{EvaluationError, Plan};

/// Why a policy could not be evaluated over the data center.
#[derive(Debug, thiserror::Error)]
pub enum DatacenterError {
    #[error("{policy} reads {dataset}, but {consumer} holds no snapshot of it: run `errandless sync` under a bulk grant")]
    NoSnapshot {
        policy: String,
        dataset: String,
        consumer: String,
    },
    #[error("{policy} reads {dataset}.{field}, but snapshot {snapshot} (version {version}) does not hold that field: its grant does not cover it")]
    FieldNotGranted {
        policy: String,
        dataset: String,
        field: String,
        snapshot: String,
        version: i64,
    },
    #[error("snapshot {snapshot} of {dataset} is missing from {}", .datacenter.display())]
    MissingFile {
        snapshot: String,
        dataset: String,
        datacenter: PathBuf,
    },
    #[error("while listing the snapshots of {dataset}: {source}")]
    Snapshots {
        dataset: String,
        #[source]
        source: SyncError,
    },
    #[error("while evaluating {policy}: {source}")]
    Evaluation {
        policy: String,
        #[source]
        source: EvaluationError,
    },
}

/// A policy evaluated over the data center.
pub struct Evaluated {
    /// The newest snapshot of each dataset the policy reads, in the plan's order.
    pub snapshots: Vec<Snapshot>,
    /// Their files, by dataset.
    pub paths: BTreeMap<String, PathBuf>,
    /// Subjects evaluated.
    pub evaluated: u64,
    /// Every subject's decision, or only the recorded ones (the eligible and the near
    /// misses), as asked.
    pub decisions: Vec<Decision>,
    /// The evaluation alone, after the snapshots were found.
    pub took: Duration,
}

/// The newest snapshot `consumer` holds of each dataset `plan` reads, in the plan's order, and
/// their files by dataset.
pub async fn latest_snapshots(
    store: &Store,
    datacenter: &Path,
    consumer: &str,
    policy: &Policy,
    plan: &Plan,
) -> Result<(Vec<Snapshot>, BTreeMap<String, PathBuf>), DatacenterError> {
    let mut snapshots = Vec::new();
    let mut files = BTreeMap::new();
    for t in &plan.tables {
        let latest = errandless_exchange::snapshots(store, consumer, &t.dataset)
            .await
            .map_err(|source| DatacenterError::Snapshots {
                dataset: t.dataset.clone(),
                source,
            })?
            .pop()
            .ok_or_else(|| DatacenterError::NoSnapshot {
                policy: policy.id.clone(),
                dataset: t.dataset.clone(),
                consumer: consumer.to_owned(),
            })?;
        if let Some((missing, _)) = t.fields.iter().find(|(f, _)| !latest.fields.contains(f)) {
            return Err(DatacenterError::FieldNotGranted {
                policy: policy.id.clone(),
                dataset: t.dataset.clone(),
                field: missing.clone(),
                snapshot: latest.id.to_string(),
                version: latest.version,
            });
        }
        let path = datacenter.join(latest.id.file_name());
        if !path.is_file() {
            return Err(DatacenterError::MissingFile {
                snapshot: latest.id.to_string(),
                dataset: t.dataset.clone(),
                datacenter: datacenter.to_owned(),
            });
        }
        files.insert(t.dataset.clone(), path);
        snapshots.push(latest);
    }
    Ok((snapshots, files))
}

/// Evaluates `policy` over the newest snapshot `consumer` holds of each dataset it reads, for
/// everyone or only `subjects` (a delta run), handing back the decisions `keep` asks for.
pub async fn evaluate_latest(
    store: &Store,
    datacenter: &Path,
    consumer: &str,
    policy: &Policy,
    subjects: Option<&[String]>,
    keep: Keep<'_>,
) -> Result<Evaluated, DatacenterError> {
    crate::resolved(policy).map_err(|source| DatacenterError::Evaluation {
        policy: policy.id.clone(),
        source,
    })?;
    let plan = compile_for(policy, subjects);
    let (snapshots, files) = latest_snapshots(store, datacenter, consumer, policy, &plan).await?;
    let started = Instant::now();
    let failed = |source| DatacenterError::Evaluation {
        policy: policy.id.clone(),
        source,
    };
    let mut decided = match subjects {
        // The whole province: one session per range of subjects, on every core.
        None => run_split(policy, &files, keep).await.map_err(failed)?,
        // A delta run: a few subjects, one session.
        Some(_) => {
            let plan = compile_over(policy, subjects, &files).map_err(failed)?;
            let ctx = session();
            register_snapshots(&ctx, &plan, &files)
                .await
                .map_err(failed)?;
            run_recorded(&ctx, &plan, keep).await.map_err(failed)?
        }
    };
    if let Keep::RecordedAnd(was_eligible) = keep {
        // Those whose rows have left every dataset the policy reads are decided with none.
        let seen: HashSet<&str> = decided
            .decisions
            .iter()
            .map(|d| d.subject.as_str())
            .collect();
        let mut gone: Vec<String> = was_eligible
            .iter()
            .filter(|s| !seen.contains(s.as_str()))
            .cloned()
            .collect();
        if !gone.is_empty() {
            gone.sort_unstable();
            let absent = decide_without_rows(policy, &gone).await.map_err(failed)?;
            decided.evaluated += absent.len() as u64;
            decided.decisions.extend(absent);
            decided.decisions.sort_by(|a, b| a.subject.cmp(&b.subject));
        }
    }
    Ok(Evaluated {
        snapshots,
        paths: files,
        evaluated: decided.evaluated,
        decisions: decided.decisions,
        took: started.elapsed(),
    })
}

/// The snapshots read, as a decision's explanation names them: with their department's and
/// dataset's names from the standard.
pub fn sources_of(snapshots: &[Snapshot]) -> Vec<Source> {
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
