//! Enactment: the decisions a run of a policy makes, recorded in the platform store and the
//! ledger so that each can be explained to its subject and reproduced later.
//!
//! A run ([`Enactments::enact`]) records a decision for every subject it touches: everyone
//! eligible and every near miss ([`Decision::is_recorded`]). A decision is stored with the
//! enactment that made it (the policy version's hash and the snapshots read), the result of
//! each condition and exclusion, and the input values; [`Enactments::explanation`] rebuilds its
//! [`Explanation`] from the stored policy file, so the explanation is always that of the
//! version enacted.
//!
//! # Once, and not lost
//!
//! - A subject's decision is recorded again only when it differs from their latest one for the
//!   same policy period (compared by a digest over the policy version, the outcome, the
//!   amount, each condition's result and the values). Repeating a run records nothing new.
//! - Runs record one at a time: every writing transaction first updates `policy_lock`, and the
//!   comparison with the latest decisions happens inside that transaction, so two runs at
//!   once cannot record the same decision twice.
//! - The order is database first, then ledger, as an outbox (the payments crate works the same
//!   way): the decisions commit in one transaction, numbered without gaps (`seq`); their
//!   entries are then appended to the ledger in chunks, each planned in
//!   `policy_ledger_cursor` before the append. After a crash, a planned chunk found in the log
//!   byte for byte is marked logged, otherwise appended again. A crash can delay an entry,
//!   never lose or double it, since every run starts by logging what an earlier one left.
//!
//! Paying is the caller's: [`EnactReport::payable`] lists the payable eligible decisions with
//! a reference to each, and the payments crate's entitlements are unique per policy, period
//! and subject, so a repeated or interrupted run pays no one twice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use errandless_ledger::outbox::{self, Outbox, OutboxError, Planned};
use errandless_ledger::{Entry, Kind, Sequencer, SubjectKey};
use errandless_store::cursor;
use errandless_store::{Store, StoreError};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};

use crate::explanation::{Explanation, Source};
use crate::{Decision, Policy, PolicyError};

/// The policy crate's migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Creates or updates the policy tables (`policy_*`) in the platform store.
pub async fn migrate(store: &Store) -> Result<(), StoreError> {
    store.migrate("policy", &MIGRATOR).await.map(drop)
}

/// Decisions per insert statement (13 parameters each). Small: the SQLite driver looks each
/// parameter up by name, so a statement's binding cost grows with the square of its size.
const INSERT_CHUNK: usize = 64;
/// Ledger entries per append: one fsync round each.
const LEDGER_CHUNK: i64 = 20_000;

/// Why decisions could not be recorded or read.
#[derive(Debug, thiserror::Error)]
pub enum EnactError {
    #[error("the platform store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("the ledger: {0}")]
    Ledger(String),
    #[error("the stored decisions are inconsistent: {0}")]
    Corrupt(String),
    #[error("the stored policy version {hash} no longer checks: {errors:?}")]
    StoredPolicy {
        hash: String,
        errors: Vec<PolicyError>,
    },
}

fn ledger_err(e: impl std::fmt::Display) -> EnactError {
    EnactError::Ledger(e.to_string())
}

/// The SHA-256 of a policy file's bytes, hex: the version a decision names.
pub fn policy_hash(source: &str) -> String {
    hex(&Sha256::digest(source.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Which subjects a run evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    /// Everyone with a record in any dataset the policy reads.
    Batch,
    /// Only the subjects an incremental sync touched.
    Delta,
}

impl Run {
    fn as_str(self) -> &'static str {
        match self {
            Run::Batch => "batch",
            Run::Delta => "delta",
        }
    }
}

/// One run to record: the policy, the file it was read from, the period it decides for, and
/// the snapshots it read.
pub struct Enactment<'a> {
    pub policy: &'a Policy,
    /// The policy file's text, stored by its hash.
    pub source: &'a str,
    pub period: &'a str,
    pub sources: &'a [Source],
    pub run: Run,
    /// Subjects the run evaluated; the decisions handed over may be only the recorded ones.
    pub evaluated: u64,
}

/// What a run recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnactReport {
    pub enactment: i64,
    pub evaluated: u64,
    /// Decisions recorded by this run (new or changed).
    pub recorded: u64,
    /// Decisions the run made again exactly as before.
    pub unchanged: u64,
    pub eligible: u64,
    /// Eligible, but with no account: they are asked to bind one.
    pub without_account: u64,
    pub near_misses: u64,
    /// Per payable eligible decision: its position in the run's decisions and its reference
    /// (`decision-<seq>`), for the entitlement.
    pub payable: Vec<(usize, String)>,
    /// Per subject whose latest decision for the period was eligible and who is now not: the
    /// position of the new decision in the run's decisions and its reference, for withdrawing
    /// what has not been paid.
    pub no_longer_eligible: Vec<(usize, String)>,
}

/// A recorded decision, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub seq: i64,
    pub enactment: i64,
    pub policy_id: String,
    pub period: String,
    pub subject: String,
    pub eligible: bool,
    pub payable: bool,
    pub amount_fen: i64,
    pub near_miss: Option<String>,
    pub decided_ms: i64,
    /// The ledger leaf of its entry, once logged.
    pub leaf: Option<u64>,
}

/// A policy version's most recent enactment: what a delta run re-runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InForce {
    pub policy_id: String,
    pub policy_hash: String,
    pub source: String,
    pub period: String,
}

/// The decisions of every enactment, in the platform store and the ledger.
pub struct Enactments {
    store: Store,
    ledger: Arc<tokio::sync::Mutex<Sequencer>>,
    key: SubjectKey,
    /// The member that decides: the ledger entries' actor.
    actor: String,
}

/// The stored shape of a decision's condition and exclusion results.
fn held_text(d: &Decision) -> String {
    let bit = |(_, h): &(String, bool)| if *h { '1' } else { '0' };
    let mut s: String = d.conditions.iter().map(bit).collect();
    s.push('|');
    s.extend(d.exclusions.iter().map(bit));
    s
}

fn digest_of(policy_hash: &str, d: &Decision, held: &str, vals: &str) -> String {
    let canonical = json!([
        policy_hash,
        d.eligible,
        d.eligible && d.payable,
        d.amount,
        d.near_miss(),
        held,
        vals
    ]);
    hex(&Sha256::digest(canonical.to_string().as_bytes()))
}

/// A subject's latest decision for a policy period.
struct Latest {
    seq: i64,
    digest: String,
    eligible: bool,
}

/// The latest decision of each subject for `policy_id` in `period`: of `subjects` when they
/// are few (looked up through the index), otherwise of everyone decided in the period.
async fn latest_decisions(
    conn: &mut sqlx::AnyConnection,
    policy_id: &str,
    period: &str,
    subjects: Option<&[&str]>,
) -> Result<HashMap<String, Latest>, EnactError> {
    let rows = match subjects {
        Some(list) if list.len() <= 500 => {
            let mut rows = Vec::new();
            for chunk in list.chunks(100) {
                let placeholders: Vec<String> =
                    (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
                let sql = format!(
                    "SELECT subject_id, seq, digest, eligible FROM policy_decisions \
                     WHERE policy_id = $1 AND period = $2 AND subject_id IN ({}) ORDER BY seq",
                    placeholders.join(", ")
                );
                let mut q = sqlx::query(&sql).bind(policy_id).bind(period);
                for subject in chunk {
                    q = q.bind(*subject);
                }
                rows.extend(q.fetch_all(&mut *conn).await?);
            }
            rows
        }
        _ => {
            sqlx::query(
                "SELECT subject_id, seq, digest, eligible FROM policy_decisions \
                 WHERE policy_id = $1 AND period = $2 ORDER BY seq",
            )
            .bind(policy_id)
            .bind(period)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let mut latest = HashMap::new();
    for row in rows {
        latest.insert(
            row.try_get("subject_id")?,
            Latest {
                seq: row.try_get("seq")?,
                digest: row.try_get("digest")?,
                eligible: row.try_get::<i64, _>("eligible")? != 0,
            },
        );
    }
    Ok(latest)
}

async fn write_tx(store: &Store) -> Result<Transaction<'static, Any>, EnactError> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("UPDATE policy_lock SET n = n + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

impl Enactments {
    pub fn new(
        store: Store,
        ledger: Arc<tokio::sync::Mutex<Sequencer>>,
        key: SubjectKey,
        actor: &str,
    ) -> Enactments {
        Enactments {
            store,
            ledger,
            key,
            actor: actor.to_owned(),
        }
    }

    /// Records the decisions of one run (see the module documentation). `decisions` are the
    /// evaluator's, with values filled for the subjects to record.
    pub async fn enact(
        &self,
        e: &Enactment<'_>,
        decisions: &[Decision],
        now_ms: i64,
    ) -> Result<EnactReport, EnactError> {
        self.flush_ledger().await?;
        let hash = policy_hash(e.source);
        let mut report = EnactReport {
            evaluated: e.evaluated.max(decisions.len() as u64),
            ..EnactReport::default()
        };
        // What each subject's decision is now: the recorded ones, and any other the caller
        // handed over, which is recorded only if the subject's latest decision was eligible.
        let mut now: Vec<(usize, String, String, String)> = Vec::new();
        for (i, d) in decisions.iter().enumerate() {
            if d.is_recorded() {
                if d.eligible {
                    report.eligible += 1;
                    if !d.payable && e.policy.payment.is_some() {
                        report.without_account += 1;
                    }
                } else {
                    report.near_misses += 1;
                }
            }
            let held = held_text(d);
            let vals = serde_json::to_string(&d.values).unwrap_or_else(|_| "[]".into());
            let digest = digest_of(&hash, d, &held, &vals);
            now.push((i, held, vals, digest));
        }

        let mut tx = write_tx(&self.store).await?;
        sqlx::query(
            "INSERT INTO policy_versions (hash, policy_id, source, recorded_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&hash)
        .bind(&e.policy.id)
        .bind(e.source)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let enactment: i64 =
            sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM policy_enactments")
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
        report.enactment = enactment;

        // The latest decision of each subject this run touches, for this policy period.
        let touched: Vec<&str> = now
            .iter()
            .map(|(i, ..)| decisions[*i].subject.as_str())
            .collect();
        let latest = latest_decisions(&mut tx, &e.policy.id, e.period, Some(&touched)).await?;

        let mut seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM policy_decisions")
            .fetch_one(&mut *tx)
            .await?
            .try_get("m")?;
        let mut fresh: Vec<(usize, &str, &str, &str, i64)> = Vec::new();
        for (i, held, vals, digest) in &now {
            let d = &decisions[*i];
            let was_eligible = latest.get(&d.subject).is_some_and(|l| l.eligible);
            if !d.is_recorded() && !was_eligible {
                continue;
            }
            let decided = match latest.get(&d.subject) {
                Some(old) if &old.digest == digest => {
                    report.unchanged += 1;
                    old.seq
                }
                _ => {
                    seq += 1;
                    fresh.push((*i, held, vals, digest, seq));
                    seq
                }
            };
            if d.eligible && d.payable && e.policy.payment.is_some() {
                report.payable.push((*i, format!("decision-{decided}")));
            }
            if was_eligible && !d.eligible {
                report
                    .no_longer_eligible
                    .push((*i, format!("decision-{decided}")));
            }
        }
        report.recorded = fresh.len() as u64;
        for chunk in fresh.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO policy_decisions (seq, enactment_id, policy_id, period, subject_id, \
                 eligible, payable, amount_fen, near_miss, held, vals, digest, decided_ms) VALUES ",
            );
            for k in 0..chunk.len() {
                let p = k * 13;
                if k > 0 {
                    sql.push(',');
                }
                let params: Vec<String> = (1..=13).map(|j| format!("${}", p + j)).collect();
                sql.push('(');
                sql.push_str(&params.join(", "));
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for (i, held, vals, digest, seq) in chunk {
                let d = &decisions[*i];
                q = q
                    .bind(*seq)
                    .bind(enactment)
                    .bind(&e.policy.id)
                    .bind(e.period)
                    .bind(&d.subject)
                    .bind(flag(d.eligible))
                    .bind(flag(d.eligible && d.payable))
                    .bind(d.amount)
                    .bind(d.near_miss())
                    .bind(*held)
                    .bind(*vals)
                    .bind(*digest)
                    .bind(now_ms);
            }
            q.execute(&mut *tx).await?;
        }
        let sources = serde_json::to_string(e.sources).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "INSERT INTO policy_enactments (id, policy_id, policy_hash, period, run, sources, \
             evaluated, recorded, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(enactment)
        .bind(&e.policy.id)
        .bind(&hash)
        .bind(e.period)
        .bind(e.run.as_str())
        .bind(sources)
        .bind(report.evaluated as i64)
        .bind(report.recorded as i64)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.flush_ledger().await?;
        Ok(report)
    }

    /// The subjects (of `subjects` only, when given: a delta run) whose latest decision for
    /// `policy_id` in `period` is eligible: a run hands back their decisions whatever they are
    /// now, so that it sees who stopped qualifying.
    pub async fn eligible_subjects(
        &self,
        policy_id: &str,
        period: &str,
        subjects: Option<&[String]>,
    ) -> Result<HashSet<String>, EnactError> {
        let subjects: Option<Vec<&str>> =
            subjects.map(|list| list.iter().map(String::as_str).collect());
        let mut conn = self.store.pool().acquire().await?;
        let latest = latest_decisions(&mut conn, policy_id, period, subjects.as_deref()).await?;
        Ok(latest
            .into_iter()
            .filter_map(|(subject, l)| l.eligible.then_some(subject))
            .collect())
    }

    /// The latest enactment of each policy, with its stored file: what a sync's delta run
    /// evaluates again.
    pub async fn in_force(&self) -> Result<Vec<InForce>, EnactError> {
        in_force(&self.store).await
    }

    /// Every decision recorded about `subject`, oldest first.
    pub async fn decisions_of(&self, subject: &str) -> Result<Vec<Recorded>, EnactError> {
        decisions_of(&self.store, subject).await
    }

    /// Appends every recorded decision not yet in the ledger, first settling an append that an
    /// interrupted run planned. Returns how many it appended.
    pub async fn flush_ledger(&self) -> Result<u64, EnactError> {
        let mut log = self.ledger.lock().await;
        outbox::flush(&mut log, &DecisionOutbox(self), LEDGER_CHUNK).await
    }

    async fn entry_rows(&self, after: i64, through: i64) -> Result<Vec<AnyRow>, EnactError> {
        Ok(sqlx::query(
            "SELECT d.seq, d.enactment_id, d.policy_id, d.period, d.subject_id, d.eligible, \
             d.payable, d.amount_fen, d.near_miss, d.digest, d.decided_ms, e.policy_hash \
             FROM policy_decisions d JOIN policy_enactments e ON e.id = d.enactment_id \
             WHERE d.seq > $1 AND d.seq <= $2 ORDER BY d.seq",
        )
        .bind(after)
        .bind(through)
        .fetch_all(self.store.pool())
        .await?)
    }

    /// The ledger entry of one decision row, rebuilt the same way every time.
    fn entry_bytes(&self, r: &AnyRow) -> Result<Vec<u8>, EnactError> {
        let mut entry = Entry::new(Kind::new(Kind::DECISION).map_err(ledger_err)?, &self.actor)
            .map_err(ledger_err)?;
        let policy: String = r.try_get("policy_id")?;
        let subject: String = r.try_get("subject_id")?;
        entry.purpose = Some(policy.clone());
        entry.subject = Some(self.key.tag(&subject));
        entry.time = Some(u64::try_from(r.try_get::<i64, _>("decided_ms")? / 1000).unwrap_or(0));
        let eligible = r.try_get::<i64, _>("eligible")? != 0;
        let payable = r.try_get::<i64, _>("payable")? != 0;
        let near_miss: Option<String> = r.try_get("near_miss")?;
        entry.body = json!({
            "seq": r.try_get::<i64, _>("seq")?,
            "enactment": r.try_get::<i64, _>("enactment_id")?,
            "policy": policy,
            "policy_hash": r.try_get::<String, _>("policy_hash")?,
            "period": r.try_get::<String, _>("period")?,
            "outcome": outcome(eligible, payable, near_miss.is_some()),
            "amount_fen": r.try_get::<i64, _>("amount_fen")?,
            "near_miss": near_miss,
            "digest": r.try_get::<String, _>("digest")?,
        });
        entry.to_bytes().map_err(ledger_err)
    }
}

/// A decision's outcome in one word.
pub fn outcome(eligible: bool, payable: bool, near_miss: bool) -> &'static str {
    match (eligible, payable, near_miss) {
        (true, true, _) => "eligible",
        (true, false, _) => "eligible_without_account",
        (false, _, true) => "near_miss",
        (false, _, false) => "not_eligible",
    }
}

const DECISION_COLUMNS: &str = "d.seq, d.enactment_id, d.policy_id, d.period, d.subject_id, \
    d.eligible, d.payable, d.amount_fen, d.near_miss, d.decided_ms, d.leaf";

fn recorded_of(r: &AnyRow) -> Result<Recorded, EnactError> {
    Ok(Recorded {
        seq: r.try_get("seq")?,
        enactment: r.try_get("enactment_id")?,
        policy_id: r.try_get("policy_id")?,
        period: r.try_get("period")?,
        subject: r.try_get("subject_id")?,
        eligible: r.try_get::<i64, _>("eligible")? != 0,
        payable: r.try_get::<i64, _>("payable")? != 0,
        amount_fen: r.try_get("amount_fen")?,
        near_miss: r.try_get("near_miss")?,
        decided_ms: r.try_get("decided_ms")?,
        leaf: r
            .try_get::<Option<i64>, _>("leaf")?
            .and_then(|l| u64::try_from(l).ok()),
    })
}

/// Every decision recorded about `subject`, oldest first: what the data tracker lists beside
/// the reads of their data.
pub async fn decisions_of(store: &Store, subject: &str) -> Result<Vec<Recorded>, EnactError> {
    let rows = sqlx::query(&format!(
        "SELECT {DECISION_COLUMNS} FROM policy_decisions d WHERE d.subject_id = $1 ORDER BY d.seq"
    ))
    .bind(subject)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(recorded_of).collect()
}

/// The explanation of the latest decision about `subject` under `policy_id` for `period`
/// (any period when `None`), rebuilt from the policy version and snapshots it was made
/// with; `None` when no decision was recorded.
pub async fn explanation(
    store: &Store,
    policy_id: &str,
    period: Option<&str>,
    subject: &str,
) -> Result<Option<(Recorded, Explanation)>, EnactError> {
    let row = sqlx::query(&format!(
        "SELECT {DECISION_COLUMNS}, d.held, d.vals, e.policy_hash, e.sources, v.source \
         FROM policy_decisions d JOIN policy_enactments e ON e.id = d.enactment_id \
         JOIN policy_versions v ON v.hash = e.policy_hash \
         WHERE d.policy_id = $1 AND d.subject_id = $2 AND ($3 = '' OR d.period = $3) \
         ORDER BY d.seq DESC LIMIT 1"
    ))
    .bind(policy_id)
    .bind(subject)
    .bind(period.unwrap_or(""))
    .fetch_optional(store.pool())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let recorded = recorded_of(&row)?;
    let hash: String = row.try_get("policy_hash")?;
    let source: String = row.try_get("source")?;
    let policy = Policy::parse(
        &format!("{policy_id}@{hash}"),
        &source,
        errandless_standards::Standard::builtin(),
    )
    .map_err(|errors| EnactError::StoredPolicy {
        hash: hash.clone(),
        errors,
    })?;
    let sources: Vec<Source> = serde_json::from_str(&row.try_get::<String, _>("sources")?)
        .map_err(|e| EnactError::Corrupt(format!("sources of decision {}: {e}", recorded.seq)))?;
    let values: Vec<Option<String>> = serde_json::from_str(&row.try_get::<String, _>("vals")?)
        .map_err(|e| EnactError::Corrupt(format!("values of decision {}: {e}", recorded.seq)))?;
    let held: String = row.try_get("held")?;
    let (conditions, exclusions) = held.split_once('|').unwrap_or((held.as_str(), ""));
    let bits = |text: &str, ids: Vec<String>| -> Vec<(String, bool)> {
        ids.into_iter()
            .zip(text.chars())
            .map(|(id, c)| (id, c == '1'))
            .collect()
    };
    let conditions = bits(
        conditions,
        policy.conditions.iter().map(|c| c.id.clone()).collect(),
    );
    let decision = Decision {
        subject: recorded.subject.clone(),
        eligible_if_met: conditions
            .iter()
            .map(|(id, _)| recorded.near_miss.as_deref() == Some(id.as_str()))
            .collect(),
        conditions,
        exclusions: bits(
            exclusions,
            policy.exclusions.iter().map(|x| x.id.clone()).collect(),
        ),
        eligible: recorded.eligible,
        payable: recorded.payable || !recorded.eligible,
        amount: recorded.amount_fen,
        values,
    };
    let explanation = Explanation::of(&policy, &hash, &recorded.period, &sources, &decision);
    Ok(Some((recorded, explanation)))
}

/// The subjects whose latest decision under `policy_id` for `period` is eligible without an
/// account: each is to be asked to bind one (the next run after a sync then pays them).
pub async fn without_account(
    store: &Store,
    policy_id: &str,
    period: &str,
) -> Result<Vec<Recorded>, EnactError> {
    let rows = sqlx::query(&format!(
        "SELECT {DECISION_COLUMNS} FROM policy_decisions d \
         WHERE d.policy_id = $1 AND d.period = $2 AND d.seq = ( \
             SELECT MAX(l.seq) FROM policy_decisions l \
             WHERE l.policy_id = d.policy_id AND l.period = d.period AND l.subject_id = d.subject_id) \
           AND d.eligible = 1 AND d.payable = 0 \
         ORDER BY d.subject_id"
    ))
    .bind(policy_id)
    .bind(period)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(recorded_of).collect()
}

/// The period of the latest enactment of `policy_id`, if it was ever enacted.
pub async fn latest_period(store: &Store, policy_id: &str) -> Result<Option<String>, EnactError> {
    let row = sqlx::query(
        "SELECT period FROM policy_enactments WHERE policy_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(policy_id)
    .fetch_optional(store.pool())
    .await?;
    row.map(|r| r.try_get("period"))
        .transpose()
        .map_err(Into::into)
}

/// The decisions as the ledger's outbox: `policy_decisions` numbered by `seq`, the cursor in
/// `policy_ledger_cursor`, each decision's leaf stored beside it once appended.
struct DecisionOutbox<'a>(&'a Enactments);

impl From<OutboxError> for EnactError {
    fn from(e: OutboxError) -> EnactError {
        match e {
            OutboxError::Ledger(e) => EnactError::Ledger(e),
            OutboxError::Gap(after) => EnactError::Corrupt(format!(
                "decisions after {after} are not numbered without gaps"
            )),
        }
    }
}

impl Outbox for DecisionOutbox<'_> {
    type Error = EnactError;

    async fn cursor(&self) -> Result<(i64, Option<Planned>), EnactError> {
        let (logged, plan) = cursor::read(&self.0.store, "policy_ledger_cursor").await?;
        Ok((
            logged,
            plan.map(|(first, last, index)| Planned { first, last, index }),
        ))
    }

    async fn plan(&self, plan: Planned) -> Result<(), EnactError> {
        cursor::plan(
            &self.0.store,
            "policy_ledger_cursor",
            (plan.first, plan.last, plan.index),
        )
        .await?;
        Ok(())
    }

    async fn settle(&self, appended: Option<Planned>) -> Result<(), EnactError> {
        let mut tx = self.0.store.pool().begin().await?;
        if let Some(p) = appended {
            sqlx::query(
                "UPDATE policy_decisions SET leaf = seq - $1 + $2 WHERE seq >= $1 AND seq <= $3",
            )
            .bind(p.first)
            .bind(p.index)
            .bind(p.last)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE policy_ledger_cursor SET logged_through = $1 WHERE id = 1")
                .bind(p.last)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE policy_ledger_cursor SET plan_first_seq = NULL, plan_last_seq = NULL, \
             plan_first_index = NULL WHERE id = 1",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn entries(&self, after: i64, through: i64) -> Result<Vec<(i64, Vec<u8>)>, EnactError> {
        let rows = self.0.entry_rows(after, through).await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("seq")?, self.0.entry_bytes(r)?)))
            .collect()
    }
}

/// The latest enactment of each policy, with its stored file: what a sync's delta run
/// evaluates again and what pages name policies by.
pub async fn in_force(store: &Store) -> Result<Vec<InForce>, EnactError> {
    let rows = sqlx::query(
        "SELECT e.policy_id, e.policy_hash, e.period, v.source FROM policy_enactments e \
         JOIN policy_versions v ON v.hash = e.policy_hash \
         WHERE e.id IN (SELECT MAX(id) FROM policy_enactments GROUP BY policy_id) \
         ORDER BY e.policy_id",
    )
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(InForce {
                policy_id: r.try_get("policy_id")?,
                policy_hash: r.try_get("policy_hash")?,
                period: r.try_get("period")?,
                source: r.try_get("source")?,
            })
        })
        .collect()
}

/// The titles (zh-CN, en) of every policy in force, from the version last enacted: what a
/// page listing a citizen's decisions names them by.
pub async fn titles(
    store: &Store,
) -> Result<std::collections::HashMap<String, crate::policy::Title>, EnactError> {
    #[derive(serde::Deserialize)]
    struct Head {
        title: crate::policy::Title,
    }
    // The source was checked when it was enacted; only its title is read here.
    Ok(in_force(store)
        .await?
        .into_iter()
        .filter_map(|p| {
            let head = toml::from_str::<Head>(&p.source).ok()?;
            Some((p.policy_id, head.title))
        })
        .collect())
}

/// Up to `limit` decisions of `policy_id`: eligible ones (payable first), or near misses when
/// `near_miss` is set, oldest first. What a demonstration picks its citizens from.
pub async fn examples(
    store: &Store,
    policy_id: &str,
    near_miss: bool,
    limit: i64,
) -> Result<Vec<Recorded>, EnactError> {
    let filter = if near_miss {
        "d.near_miss IS NOT NULL"
    } else {
        "d.eligible = 1"
    };
    let rows = sqlx::query(&format!(
        "SELECT {DECISION_COLUMNS} FROM policy_decisions d \
         WHERE d.policy_id = $1 AND {filter} ORDER BY d.payable DESC, d.seq LIMIT $2"
    ))
    .bind(policy_id)
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(recorded_of).collect()
}

/// One run of a policy, as its history lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    pub id: i64,
    pub policy_id: String,
    pub policy_hash: String,
    pub period: String,
    /// `batch` or `delta`.
    pub run: String,
    pub evaluated: i64,
    pub recorded: i64,
    pub at_ms: i64,
}

/// The latest `limit` runs of every policy, newest first.
pub async fn runs(store: &Store, limit: i64) -> Result<Vec<RunRecord>, EnactError> {
    let rows = sqlx::query(
        "SELECT id, policy_id, policy_hash, period, run, evaluated, recorded, at_ms \
         FROM policy_enactments ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RunRecord {
                id: r.try_get("id")?,
                policy_id: r.try_get("policy_id")?,
                policy_hash: r.try_get("policy_hash")?,
                period: r.try_get("period")?,
                run: r.try_get("run")?,
                evaluated: r.try_get("evaluated")?,
                recorded: r.try_get("recorded")?,
                at_ms: r.try_get("at_ms")?,
            })
        })
        .collect()
}
