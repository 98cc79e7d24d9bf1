//! [`Payments`]: entitlements in, batches out, status reports in, every change in the ledger.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use errandless_ledger::outbox::{self, Outbox, OutboxError, Planned};
use errandless_ledger::{Entry, Kind, Sequencer, SubjectKey};
use errandless_store::cursor;
use errandless_store::Store;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use tokio::sync::Mutex;

use crate::xml::{self, CreditTransfer, Pain001, Pain002, Party};
use crate::{iso_date, iso_date_time, Entitlement, Fen, PaymentStatus, PaymentsError};

/// How many times an entitlement is sent before a rejection for a passing reason stops being
/// retried and the citizen is asked instead.
pub const MAX_ATTEMPTS: i64 = 3;

/// Events appended to the ledger per batch (one fsync round each).
const LEDGER_CHUNK: i64 = 20_000;
/// Entitlements inserted per statement.
const INSERT_CHUNK: usize = 100;

/// Reason codes that say the account or the name is wrong: retrying cannot help, the citizen
/// must bind a working account (ISO 20022 ExternalStatusReason1Code).
const ACCOUNT_REASONS: &[&str] = &[
    "AC01", // incorrect account number
    "AC02", // invalid debtor account number
    "AC03", // invalid creditor account number
    "AC04", // closed account number
    "AC06", // blocked account
    "AC07", // closed creditor account number
    "AC13", // invalid debtor account type
    "AC14", // invalid creditor account type
    "AG01", // transaction forbidden on this account
    "BE01", // inconsistent with end customer (wrong name)
    "BE05", // unrecognised initiating party
    "MD07", // end customer deceased
    "RC01", // bank identifier incorrect
    "RR03", // missing creditor name or address
];

/// The paying side: the finance department's account, and who is recorded as acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    /// The member id recorded as actor in the ledger.
    pub member: String,
    /// The debtor's name on the files.
    pub name: String,
    /// The debtor account.
    pub account: String,
    /// The debtor's bank.
    pub bank: String,
}

impl Default for Payer {
    fn default() -> Payer {
        Payer {
            member: "finance".into(),
            name: "省财政厅 Provincial Department of Finance".into(),
            account: "520000000000000000001".into(),
            bank: "国家金库 State Treasury".into(),
        }
    }
}

impl Payer {
    /// Checks that the payer fits the payment files: names of 1 to 140 characters, an account
    /// of 1 to 34 ASCII letters and digits, a member id the ledger accepts.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let text = |field: &'static str, v: &str, max: usize| {
            let n = v.trim().chars().count();
            if n == 0 || n > max || v.chars().any(char::is_control) {
                Err((field, format!("must be 1 to {max} printable characters")))
            } else {
                Ok(())
            }
        };
        text("member", &self.member, 64)?;
        text("debtor_name", &self.name, 140)?;
        text("debtor_bank", &self.bank, 140)?;
        text("debtor_account", &self.account, 34)?;
        if !self.account.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err((
                "debtor_account",
                "may hold only ASCII letters and digits".into(),
            ));
        }
        Ok(())
    }
}

/// What [`Payments::entitle`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EntitleReport {
    /// New entitlements, now pending.
    pub created: u64,
    /// Entitlements that already existed for the same policy, period and subject.
    pub already_present: u64,
    /// Withdrawn entitlements made pending again: the citizen is eligible again in the period.
    pub reinstated: u64,
}

/// What [`Payments::withdraw`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withdrawal {
    /// Entitlements withdrawn before they went to the bank.
    pub withdrawn: u64,
    /// Entitlements already exported, accepted or paid: left as they are.
    pub too_late: u64,
    /// Subjects with no entitlement (or one withdrawn before) for the period.
    pub none: u64,
}

/// One pain.001 file written by [`Payments::export`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFile {
    pub msg_id: String,
    pub path: PathBuf,
    pub transfers: u64,
    pub control_sum: Fen,
    /// True when the batch was claimed by an earlier, interrupted run and written now.
    pub rewritten: bool,
}

/// What [`Payments::import`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportReport {
    pub batch: String,
    /// The report was imported before; nothing changed.
    pub already_imported: bool,
    pub paid: u64,
    pub accepted: u64,
    /// Rejected, and pending again for the next batch.
    pub retry: u64,
    /// Rejected, and waiting for the citizen to bind an account.
    pub needs_account: u64,
    /// Statuses that changed nothing (repeated, or still in progress).
    pub unchanged: u64,
}

/// Entitlements and their amount in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    pub status: PaymentStatus,
    pub count: u64,
    pub amount: Fen,
}

/// An entitlement whose citizen is to be told to bind a working account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub entitlement_id: i64,
    pub policy_id: String,
    pub period: String,
    pub subject_id: String,
    pub payee_name: String,
    pub amount: Fen,
    pub status: PaymentStatus,
    /// The bank's reason code of the last rejection.
    pub reason: Option<String>,
}

/// One attempt to pay an entitlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub end_to_end_id: String,
    pub attempt: i64,
    pub batch: String,
    pub status: PaymentStatus,
    pub reason: Option<String>,
    pub reason_text: Option<String>,
}

/// One recorded state change, with its ledger leaf once it is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub seq: i64,
    pub status: PaymentStatus,
    pub end_to_end_id: Option<String>,
    pub batch: Option<String>,
    pub reason: Option<String>,
    pub at_ms: i64,
    pub ledger_index: Option<u64>,
}

/// An entitlement from its decision to the last bank status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    pub entitlement_id: i64,
    pub entitlement: Entitlement,
    pub status: PaymentStatus,
    pub attempts: Vec<AttemptRecord>,
    pub events: Vec<EventRecord>,
}

/// The payments service over the platform store and the ledger. Cheap to clone; clones share
/// the ledger.
#[derive(Clone)]
pub struct Payments {
    store: Store,
    ledger: Arc<Mutex<Sequencer>>,
    key: SubjectKey,
    payer: Payer,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("store", &self.store)
            .field("payer", &self.payer)
            .finish_non_exhaustive()
    }
}

fn ledger_err(e: impl std::fmt::Display) -> PaymentsError {
    PaymentsError::Ledger(e.to_string())
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PaymentsError + '_ {
    move |source| PaymentsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn status_of(s: &str) -> Result<PaymentStatus, PaymentsError> {
    PaymentStatus::parse(s).ok_or_else(|| PaymentsError::Corrupt(format!("unknown status {s:?}")))
}

fn random_hex8() -> String {
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b).expect("the operating system provides randomness");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Begins a writing transaction that holds the payment tables' write lock.
async fn write_tx(store: &Store) -> Result<Transaction<'static, Any>, PaymentsError> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("UPDATE payments_lock SET n = n + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

async fn next_seq(tx: &mut Transaction<'static, Any>) -> Result<i64, PaymentsError> {
    let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM payments_events")
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get::<i64, _>("m")? + 1)
}

/// Records one state change of entitlement `id` as event `seq`, in the transaction that
/// makes it.
async fn insert_event(
    tx: &mut Transaction<'static, Any>,
    seq: i64,
    id: i64,
    status: PaymentStatus,
    reason: Option<&str>,
    actor: &str,
    now: i64,
) -> Result<(), PaymentsError> {
    sqlx::query(
        "INSERT INTO payments_events (seq, entitlement_id, status, reason, actor, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(seq)
    .bind(id)
    .bind(status.as_str())
    .bind(reason)
    .bind(actor)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Makes the withdrawn entitlements among `items` pending again, with the new decision, payee
/// and amount, numbering their events from `seq`. Returns how many.
async fn reinstate(
    tx: &mut Transaction<'static, Any>,
    items: &[Entitlement],
    mut seq: i64,
    actor: &str,
    now: i64,
) -> Result<u64, PaymentsError> {
    let mut periods: Vec<(&str, &str)> = items
        .iter()
        .map(|e| (e.policy_id.as_str(), e.period.as_str()))
        .collect();
    periods.sort_unstable();
    periods.dedup();
    let mut withdrawn: HashMap<(String, String, String), i64> = HashMap::new();
    for (policy, period) in periods {
        let rows = sqlx::query(
            "SELECT id, subject_id FROM payments_entitlements \
             WHERE policy_id = $1 AND period = $2 AND status = 'withdrawn'",
        )
        .bind(policy)
        .bind(period)
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            withdrawn.insert(
                (
                    policy.to_owned(),
                    period.to_owned(),
                    r.try_get("subject_id")?,
                ),
                r.try_get("id")?,
            );
        }
    }
    if withdrawn.is_empty() {
        return Ok(0);
    }
    let mut n = 0;
    for e in items {
        let key = (
            e.policy_id.clone(),
            e.period.clone(),
            e.subject_id.trim().to_uppercase(),
        );
        let Some(id) = withdrawn.remove(&key) else {
            continue;
        };
        sqlx::query(
            "UPDATE payments_entitlements SET status = 'pending', payee_name = $1, account = $2, \
             bank = $3, amount_fen = $4, decision_ref = $5, reason = NULL, updated_ms = $6 WHERE id = $7",
        )
        .bind(&e.payee_name)
        .bind(&e.account)
        .bind(&e.bank)
        .bind(e.amount_fen)
        .bind(&e.decision_ref)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        insert_event(
            tx,
            seq,
            id,
            PaymentStatus::Pending,
            Some("eligible_again"),
            actor,
            now,
        )
        .await?;
        seq += 1;
        n += 1;
    }
    Ok(n)
}

/// How a transaction status moves an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Paid,
    Rejected,
    InProgress,
}

fn outcome(status: &str) -> Option<Outcome> {
    Some(match status {
        "ACSC" | "ACCC" => Outcome::Paid,
        "ACCP" | "ACSP" | "ACTC" | "ACWC" | "ACFC" | "ACWP" => Outcome::Accepted,
        "RJCT" => Outcome::Rejected,
        "PDNG" | "RCVD" => Outcome::InProgress,
        _ => return None,
    })
}

impl Payments {
    /// Payments over a migrated `store` ([`crate::migrate`]), recording in `ledger` with
    /// subjects hashed under `key`, paying from `payer`'s account.
    pub fn new(
        store: Store,
        ledger: Arc<Mutex<Sequencer>>,
        key: SubjectKey,
        payer: Payer,
    ) -> Payments {
        Payments {
            store,
            ledger,
            key,
            payer,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn payer(&self) -> &Payer {
        &self.payer
    }

    /// Records entitlements, each at most once per (policy, period, subject): one already
    /// present is left as it is and counted. All are checked first; if any is invalid, none is
    /// recorded.
    pub async fn entitle(
        &self,
        items: &[Entitlement],
        now: i64,
    ) -> Result<EntitleReport, PaymentsError> {
        for (index, e) in items.iter().enumerate() {
            e.validate()
                .map_err(|(field, rule)| PaymentsError::InvalidEntitlement {
                    index,
                    field,
                    rule,
                })?;
        }
        self.flush_ledger().await?;
        let mut tx = write_tx(&self.store).await?;
        let base: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM payments_entitlements")
            .fetch_one(&mut *tx)
            .await?
            .try_get("m")?;
        let mut created = 0u64;
        let mut next_id = base;
        for chunk in items.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO payments_entitlements (id, policy_id, period, subject_id, payee_name, \
                 account, bank, amount_fen, decision_ref, status, attempts, created_ms, updated_ms) VALUES ",
            );
            for i in 0..chunk.len() {
                let p = i * 11;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 'pending', 0, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8,
                    p + 9,
                    p + 10,
                    p + 11
                ));
            }
            sql.push_str(" ON CONFLICT (policy_id, period, subject_id) DO NOTHING RETURNING id");
            let mut q = sqlx::query(&sql);
            for e in chunk {
                next_id += 1;
                q = q
                    .bind(next_id)
                    .bind(&e.policy_id)
                    .bind(&e.period)
                    .bind(e.subject_id.trim().to_uppercase())
                    .bind(&e.payee_name)
                    .bind(&e.account)
                    .bind(&e.bank)
                    .bind(e.amount_fen)
                    .bind(&e.decision_ref)
                    .bind(now)
                    .bind(now);
            }
            created += q.fetch_all(&mut *tx).await?.len() as u64;
        }
        let seq = next_seq(&mut tx).await?;
        sqlx::query(
            "INSERT INTO payments_events (seq, entitlement_id, status, actor, at_ms) \
             SELECT $1 + ROW_NUMBER() OVER (ORDER BY id) - 1, id, 'pending', $2, $3 \
             FROM payments_entitlements WHERE id > $4",
        )
        .bind(seq)
        .bind(&self.payer.member)
        .bind(now)
        .bind(base)
        .execute(&mut *tx)
        .await?;
        let reinstated = reinstate(
            &mut tx,
            items,
            seq + created as i64,
            &self.payer.member,
            now,
        )
        .await?;
        tx.commit().await?;
        self.flush_ledger().await?;
        Ok(EntitleReport {
            created,
            already_present: items.len() as u64 - created - reinstated,
            reinstated,
        })
    }

    /// A later decision (`decision_ref`, for each subject) found these subjects no longer
    /// eligible for `policy_id` in `period`: their entitlements that have not gone to the bank
    /// (`pending`, `needs_account`, `notified`) become `withdrawn`, with the decision as the
    /// reason, each change in the ledger. The rest are counted and left as they are.
    pub async fn withdraw(
        &self,
        policy_id: &str,
        period: &str,
        decisions: &[(String, String)],
        now: i64,
    ) -> Result<Withdrawal, PaymentsError> {
        let mut out = Withdrawal::default();
        if decisions.is_empty() {
            return Ok(out);
        }
        self.flush_ledger().await?;
        let mut tx = write_tx(&self.store).await?;
        let mut seq = next_seq(&mut tx).await?;
        for (subject, decision_ref) in decisions {
            let row = sqlx::query(
                "SELECT id, status FROM payments_entitlements \
                 WHERE policy_id = $1 AND period = $2 AND subject_id = $3",
            )
            .bind(policy_id)
            .bind(period)
            .bind(subject.trim().to_uppercase())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                out.none += 1;
                continue;
            };
            let id: i64 = row.try_get("id")?;
            let status: String = row.try_get("status")?;
            match PaymentStatus::parse(&status) {
                Some(
                    PaymentStatus::Pending | PaymentStatus::NeedsAccount | PaymentStatus::Notified,
                ) => {}
                Some(PaymentStatus::Withdrawn) => {
                    out.none += 1;
                    continue;
                }
                _ => {
                    out.too_late += 1;
                    continue;
                }
            }
            let reason = format!("no_longer_eligible:{decision_ref}");
            sqlx::query(
                "UPDATE payments_entitlements SET status = 'withdrawn', reason = $1, updated_ms = $2 \
                 WHERE id = $3",
            )
            .bind(&reason)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let withdrawn = PaymentStatus::Withdrawn;
            insert_event(
                &mut tx,
                seq,
                id,
                withdrawn,
                Some(&reason),
                &self.payer.member,
                now,
            )
            .await?;
            seq += 1;
            out.withdrawn += 1;
        }
        tx.commit().await?;
        self.flush_ledger().await?;
        Ok(out)
    }

    /// Writes every pending entitlement into pain.001 files in `out_dir`, at most `max_batch`
    /// transfers a file; first rewrites any batch an interrupted run claimed but did not
    /// write. `on_file` is called after each file is durable.
    pub async fn export(
        &self,
        out_dir: &Path,
        max_batch: u64,
        now: i64,
        on_file: &mut (dyn FnMut(&BatchFile) + Send),
    ) -> Result<Vec<BatchFile>, PaymentsError> {
        std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
        // The whole export holds the ledger: exports in this process run one at a time, and the
        // ledger's directory lock keeps other processes out, so a batch still `claimed` now was
        // left by a run that died, and is ours to write.
        let mut log = self.ledger.lock().await;
        self.flush_locked(&mut log).await?;
        let mut files = Vec::new();
        let claimed: Vec<String> =
            sqlx::query("SELECT msg_id FROM payments_batches WHERE state = 'claimed' ORDER BY seq")
                .fetch_all(self.store.pool())
                .await?
                .iter()
                .map(|r| r.try_get("msg_id"))
                .collect::<Result<_, _>>()?;
        for msg_id in claimed {
            let file = self.write_batch(&msg_id, out_dir, true).await?;
            on_file(&file);
            files.push(file);
        }
        while let Some(msg_id) = self.claim(max_batch.max(1), now).await? {
            self.flush_locked(&mut log).await?;
            let file = self.write_batch(&msg_id, out_dir, false).await?;
            on_file(&file);
            files.push(file);
        }
        Ok(files)
    }

    /// Claims up to `max` pending entitlements into a new batch, in one transaction.
    async fn claim(&self, max: u64, now: i64) -> Result<Option<String>, PaymentsError> {
        let mut tx = write_tx(&self.store).await?;
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM payments_batches")
            .fetch_one(&mut *tx)
            .await?
            .try_get("s")?;
        let tag = random_hex8();
        let msg_id = format!("ERRANDLESS-{seq:06}-{tag}");
        let claimed = sqlx::query(
            "INSERT INTO payments_attempts (end_to_end_id, entitlement_id, attempt, batch_id, status, updated_ms, \
             payee_name, account, bank, amount_fen) \
             SELECT 'E' || $1 || '-' || e.id || '-' || (e.attempts + 1), e.id, e.attempts + 1, $2, 'exported', $3, \
             e.payee_name, e.account, e.bank, e.amount_fen \
             FROM payments_entitlements e WHERE e.status = 'pending' ORDER BY e.id LIMIT $4",
        )
        .bind(&tag)
        .bind(&msg_id)
        .bind(now)
        .bind(i64::try_from(max).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let sums = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(e.amount_fen), 0) AS BIGINT) AS s \
             FROM payments_attempts a JOIN payments_entitlements e ON e.id = a.entitlement_id \
             WHERE a.batch_id = $1",
        )
        .bind(&msg_id)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO payments_batches (msg_id, seq, state, created_ms, nb_of_txs, ctrl_sum_fen, \
             debtor_name, debtor_account, debtor_bank, initiating_name) \
             VALUES ($1, $2, 'claimed', $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&msg_id)
        .bind(seq)
        .bind(now)
        .bind(sums.try_get::<i64, _>("n")?)
        .bind(sums.try_get::<i64, _>("s")?)
        .bind(&self.payer.name)
        .bind(&self.payer.account)
        .bind(&self.payer.bank)
        .bind(&self.payer.name)
        .execute(&mut *tx)
        .await?;
        let moved = sqlx::query(
            "UPDATE payments_entitlements SET status = 'exported', attempts = attempts + 1, \
             batch_id = $1, reason = NULL, updated_ms = $2, \
             end_to_end_id = (SELECT a.end_to_end_id FROM payments_attempts a \
                              WHERE a.batch_id = $1 AND a.entitlement_id = payments_entitlements.id) \
             WHERE status = 'pending' AND id IN (SELECT entitlement_id FROM payments_attempts WHERE batch_id = $1)",
        )
        .bind(&msg_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != claimed {
            return Err(PaymentsError::Corrupt(format!(
                "batch {msg_id}: {claimed} attempts but {moved} entitlements moved"
            )));
        }
        let first = next_seq(&mut tx).await?;
        sqlx::query(
            "INSERT INTO payments_events (seq, entitlement_id, status, end_to_end_id, batch_id, actor, at_ms) \
             SELECT $1 + ROW_NUMBER() OVER (ORDER BY a.entitlement_id) - 1, a.entitlement_id, 'exported', \
             a.end_to_end_id, a.batch_id, $2, $3 FROM payments_attempts a WHERE a.batch_id = $4",
        )
        .bind(first)
        .bind(&self.payer.member)
        .bind(now)
        .bind(&msg_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(msg_id))
    }

    /// Writes a claimed batch's file from what the claim stored, durably, and marks it written.
    async fn write_batch(
        &self,
        msg_id: &str,
        out_dir: &Path,
        rewritten: bool,
    ) -> Result<BatchFile, PaymentsError> {
        let b = sqlx::query(
            "SELECT created_ms, nb_of_txs, ctrl_sum_fen, debtor_name, debtor_account, debtor_bank, \
             initiating_name FROM payments_batches WHERE msg_id = $1",
        )
        .bind(msg_id)
        .fetch_one(self.store.pool())
        .await?;
        let created: i64 = b.try_get("created_ms")?;
        let rows = sqlx::query(
            "SELECT a.end_to_end_id, e.amount_fen, e.payee_name, e.account, e.bank, e.policy_id, e.period \
             FROM payments_attempts a JOIN payments_entitlements e ON e.id = a.entitlement_id \
             WHERE a.batch_id = $1 ORDER BY a.entitlement_id",
        )
        .bind(msg_id)
        .fetch_all(self.store.pool())
        .await?;
        let mut transfers = Vec::with_capacity(rows.len());
        for r in &rows {
            let policy: String = r.try_get("policy_id")?;
            let period: String = r.try_get("period")?;
            transfers.push(CreditTransfer {
                end_to_end_id: r.try_get("end_to_end_id")?,
                amount: Fen(r.try_get("amount_fen")?),
                creditor: Party {
                    name: r.try_get("payee_name")?,
                    account: r.try_get("account")?,
                    bank: r.try_get("bank")?,
                },
                remittance: format!("{policy} {period}"),
            });
        }
        let msg = Pain001 {
            msg_id: msg_id.to_owned(),
            created: iso_date_time(created),
            initiating_party: b.try_get("initiating_name")?,
            payment_info_id: format!("{msg_id}-1"),
            execution_date: iso_date(created),
            debtor: Party {
                name: b.try_get("debtor_name")?,
                account: b.try_get("debtor_account")?,
                bank: b.try_get("debtor_bank")?,
            },
            transfers,
        };
        let count: i64 = b.try_get("nb_of_txs")?;
        let sum: i64 = b.try_get("ctrl_sum_fen")?;
        if count != msg.transfers.len() as i64 || sum != msg.control_sum().0 {
            return Err(PaymentsError::Corrupt(format!(
                "batch {msg_id} claimed {count} transfers of {} fen but holds {} of {}",
                sum,
                msg.transfers.len(),
                msg.control_sum().0
            )));
        }
        let name = format!("{msg_id}.xml");
        let path = out_dir.join(&name);
        let temp = out_dir.join(format!(".{name}.tmp"));
        let file = File::create(&temp).map_err(io_err(&temp))?;
        let mut w = BufWriter::new(file);
        xml::write_pain001(&mut w, &msg).map_err(io_err(&temp))?;
        let file = w.into_inner().map_err(|e| io_err(&temp)(e.into_error()))?;
        file.sync_all().map_err(io_err(&temp))?;
        drop(file);
        std::fs::rename(&temp, &path).map_err(io_err(&path))?;
        File::open(out_dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(out_dir))?;
        sqlx::query(
            "UPDATE payments_batches SET state = 'written', file_name = $1 WHERE msg_id = $2",
        )
        .bind(&name)
        .bind(msg_id)
        .execute(self.store.pool())
        .await?;
        Ok(BatchFile {
            msg_id: msg_id.to_owned(),
            path,
            transfers: msg.transfers.len() as u64,
            control_sum: msg.control_sum(),
            rewritten,
        })
    }

    /// Applies a pain.002 status report, all of it or (on any error) none of it.
    pub async fn import(&self, report: &Pain002, now: i64) -> Result<ImportReport, PaymentsError> {
        self.flush_ledger().await?;
        let batch = &report.original_msg_id;
        let state: Option<String> =
            sqlx::query("SELECT state FROM payments_batches WHERE msg_id = $1")
                .bind(batch)
                .fetch_optional(self.store.pool())
                .await?
                .map(|r| r.try_get("state"))
                .transpose()?;
        match state.as_deref() {
            None => return Err(PaymentsError::UnknownBatch(batch.clone())),
            Some("written") => {}
            Some(_) => return Err(PaymentsError::BatchNotWritten(batch.clone())),
        }
        let mut out = ImportReport {
            batch: batch.clone(),
            ..ImportReport::default()
        };
        let mut tx = write_tx(&self.store).await?;
        let seen = sqlx::query("SELECT msg_id FROM payments_reports WHERE msg_id = $1")
            .bind(&report.msg_id)
            .fetch_optional(&mut *tx)
            .await?;
        if seen.is_some() {
            tx.rollback().await?;
            out.already_imported = true;
            return Ok(out);
        }
        struct Current {
            entitlement: i64,
            attempt: i64,
            status: String,
        }
        let mut attempts: HashMap<String, Current> = HashMap::new();
        for r in sqlx::query(
            "SELECT a.end_to_end_id, a.entitlement_id, a.attempt, a.status FROM payments_attempts a \
             WHERE a.batch_id = $1",
        )
        .bind(batch)
        .fetch_all(&mut *tx)
        .await?
        {
            attempts.insert(
                r.try_get("end_to_end_id")?,
                Current {
                    entitlement: r.try_get("entitlement_id")?,
                    attempt: r.try_get("attempt")?,
                    status: r.try_get("status")?,
                },
            );
        }
        // A report with only a group status speaks for every transaction of the batch.
        let whole_group: Vec<xml::TxStatus>;
        let statuses: &[xml::TxStatus] =
            match (&report.group_status, report.transactions.is_empty()) {
                (Some(status), true) => {
                    let mut ids: Vec<&String> = attempts.keys().collect();
                    ids.sort();
                    whole_group = ids
                        .into_iter()
                        .map(|id| xml::TxStatus {
                            original_end_to_end_id: id.clone(),
                            status: status.clone(),
                            reason: report.group_reason.clone(),
                        })
                        .collect();
                    &whole_group
                }
                _ => &report.transactions,
            };
        let mut seen_ids = HashSet::new();
        let mut seq = next_seq(&mut tx).await?;
        for t in statuses {
            let id = &t.original_end_to_end_id;
            if !seen_ids.insert(id.as_str()) {
                return Err(PaymentsError::DuplicateEndToEndId(id.clone()));
            }
            let current = attempts
                .get(id)
                .ok_or_else(|| PaymentsError::UnknownEndToEndId {
                    batch: batch.clone(),
                    end_to_end_id: id.clone(),
                })?;
            let o = outcome(&t.status).ok_or_else(|| PaymentsError::UnknownStatus {
                end_to_end_id: id.clone(),
                status: t.status.clone(),
            })?;
            let conflict = || PaymentsError::Conflict {
                end_to_end_id: id.clone(),
                current: current.status.clone(),
                reported: t.status.clone(),
            };
            let new = match (current.status.as_str(), o) {
                (_, Outcome::InProgress) => None,
                ("exported", Outcome::Accepted) => Some(PaymentStatus::Accepted),
                ("accepted" | "paid", Outcome::Accepted) => None,
                ("exported" | "accepted", Outcome::Paid) => Some(PaymentStatus::Paid),
                ("paid", Outcome::Paid) => None,
                ("exported" | "accepted", Outcome::Rejected) => Some(PaymentStatus::Rejected),
                ("rejected", Outcome::Rejected) => None,
                _ => return Err(conflict()),
            };
            let Some(new) = new else {
                out.unchanged += 1;
                continue;
            };
            let code = t.reason.as_ref().map(|r| r.code.clone());
            let text = t.reason.as_ref().and_then(|r| r.additional.clone());
            sqlx::query(
                "UPDATE payments_attempts SET status = $1, reason = $2, reason_text = $3, updated_ms = $4 \
                 WHERE end_to_end_id = $5",
            )
            .bind(new.as_str())
            .bind(&code)
            .bind(&text)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let mut record = |status: PaymentStatus, reason: Option<String>| {
                let s = seq;
                seq += 1;
                (s, status, reason)
            };
            let mut events = vec![record(new, code.clone())];
            let entitlement_status = if new == PaymentStatus::Rejected {
                let permanent = code
                    .as_deref()
                    .is_some_and(|c| ACCOUNT_REASONS.contains(&c));
                let next = if permanent || current.attempt >= MAX_ATTEMPTS {
                    out.needs_account += 1;
                    PaymentStatus::NeedsAccount
                } else {
                    out.retry += 1;
                    PaymentStatus::Pending
                };
                events.push(record(next, code.clone()));
                next
            } else {
                if new == PaymentStatus::Paid {
                    out.paid += 1;
                } else {
                    out.accepted += 1;
                }
                new
            };
            let changed = sqlx::query(
                "UPDATE payments_entitlements SET status = $1, reason = $2, updated_ms = $3 \
                 WHERE id = $4 AND end_to_end_id = $5",
            )
            .bind(entitlement_status.as_str())
            .bind(code.as_deref().or(if new == PaymentStatus::Rejected {
                Some("NARR")
            } else {
                None
            }))
            .bind(now)
            .bind(current.entitlement)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed != 1 {
                return Err(PaymentsError::Corrupt(format!(
                    "EndToEndId {id} is not the current attempt of entitlement {}",
                    current.entitlement
                )));
            }
            for (s, status, reason) in events {
                sqlx::query(
                    "INSERT INTO payments_events (seq, entitlement_id, status, end_to_end_id, batch_id, \
                     reason, actor, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(s)
                .bind(current.entitlement)
                .bind(status.as_str())
                .bind(id)
                .bind(batch)
                .bind(reason)
                .bind(&self.payer.member)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        let changed = out.paid + out.accepted + out.retry + out.needs_account;
        sqlx::query(
            "INSERT INTO payments_reports (msg_id, batch_id, imported_ms, changed) VALUES ($1, $2, $3, $4)",
        )
        .bind(&report.msg_id)
        .bind(batch)
        .bind(now)
        .bind(i64::try_from(changed).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.flush_ledger().await?;
        Ok(out)
    }

    /// Entitlements whose citizen must bind a working account (`needs_account`), oldest
    /// first, for the notice path.
    pub async fn needing_account(&self) -> Result<Vec<Notice>, PaymentsError> {
        let rows = sqlx::query(
            "SELECT id, policy_id, period, subject_id, payee_name, amount_fen, status, reason \
             FROM payments_entitlements WHERE status = 'needs_account' ORDER BY id",
        )
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(notice_of).collect()
    }

    /// Records that the citizens of these entitlements were told to bind an account.
    pub async fn mark_notified(&self, ids: &[i64], now: i64) -> Result<u64, PaymentsError> {
        self.transition(ids, &["needs_account"], PaymentStatus::Notified, None, now)
            .await
    }

    /// A citizen bound a new account: the entitlement is pending again, to be paid there.
    pub async fn rebind_account(
        &self,
        id: i64,
        payee_name: &str,
        account: &str,
        bank: &str,
        now: i64,
    ) -> Result<(), PaymentsError> {
        let row = sqlx::query(
            "SELECT policy_id, period, subject_id, amount_fen, decision_ref, status \
             FROM payments_entitlements WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(PaymentsError::NoSuchEntitlement(id))?;
        let candidate = Entitlement {
            policy_id: row.try_get("policy_id")?,
            period: row.try_get("period")?,
            subject_id: row.try_get("subject_id")?,
            payee_name: payee_name.to_owned(),
            account: account.to_owned(),
            bank: bank.to_owned(),
            amount_fen: row.try_get("amount_fen")?,
            decision_ref: row.try_get("decision_ref")?,
        };
        candidate
            .validate()
            .map_err(|(field, rule)| PaymentsError::InvalidEntitlement {
                index: 0,
                field,
                rule,
            })?;
        self.flush_ledger().await?;
        let mut tx = write_tx(&self.store).await?;
        let changed = sqlx::query(
            "UPDATE payments_entitlements SET payee_name = $1, account = $2, bank = $3, \
             status = 'pending', updated_ms = $4 WHERE id = $5 AND status IN ('needs_account', 'notified')",
        )
        .bind(payee_name)
        .bind(account)
        .bind(bank)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(PaymentsError::NotWaitingForAccount {
                id,
                status: row.try_get("status")?,
            });
        }
        let seq = next_seq(&mut tx).await?;
        let rebound = Some("account_rebound");
        insert_event(
            &mut tx,
            seq,
            id,
            PaymentStatus::Pending,
            rebound,
            &self.payer.member,
            now,
        )
        .await?;
        tx.commit().await?;
        self.flush_ledger().await?;
        Ok(())
    }

    async fn transition(
        &self,
        ids: &[i64],
        from: &[&str],
        to: PaymentStatus,
        reason: Option<&str>,
        now: i64,
    ) -> Result<u64, PaymentsError> {
        self.flush_ledger().await?;
        let mut tx = write_tx(&self.store).await?;
        let mut seq = next_seq(&mut tx).await?;
        let mut n = 0;
        for &id in ids {
            let status: Option<String> =
                sqlx::query("SELECT status FROM payments_entitlements WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|r| r.try_get("status"))
                    .transpose()?;
            let status = status.ok_or(PaymentsError::NoSuchEntitlement(id))?;
            if !from.contains(&status.as_str()) {
                continue;
            }
            sqlx::query(
                "UPDATE payments_entitlements SET status = $1, updated_ms = $2 WHERE id = $3",
            )
            .bind(to.as_str())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            insert_event(&mut tx, seq, id, to, reason, &self.payer.member, now).await?;
            seq += 1;
            n += 1;
        }
        tx.commit().await?;
        self.flush_ledger().await?;
        Ok(n)
    }

    /// Entitlements and amounts by state.
    pub async fn status(&self) -> Result<Vec<StatusCount>, PaymentsError> {
        status_counts(&self.store).await
    }

    /// The history of the entitlement for (policy, period, subject), or None.
    pub async fn trace(
        &self,
        policy_id: &str,
        period: &str,
        subject_id: &str,
    ) -> Result<Option<Trace>, PaymentsError> {
        let Some(r) = sqlx::query(
            "SELECT * FROM payments_entitlements WHERE policy_id = $1 AND period = $2 AND subject_id = $3",
        )
        .bind(policy_id)
        .bind(period)
        .bind(subject_id.trim().to_uppercase())
        .fetch_optional(self.store.pool())
        .await?
        else {
            return Ok(None);
        };
        let id: i64 = r.try_get("id")?;
        let attempts = sqlx::query(
            "SELECT * FROM payments_attempts WHERE entitlement_id = $1 ORDER BY attempt",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await?
        .iter()
        .map(|a| {
            Ok(AttemptRecord {
                end_to_end_id: a.try_get("end_to_end_id")?,
                attempt: a.try_get("attempt")?,
                batch: a.try_get("batch_id")?,
                status: status_of(&a.try_get::<String, _>("status")?)?,
                reason: a.try_get("reason")?,
                reason_text: a.try_get("reason_text")?,
            })
        })
        .collect::<Result<Vec<_>, PaymentsError>>()?;
        let events = sqlx::query(
            "SELECT ev.seq, ev.status, ev.end_to_end_id, ev.batch_id, ev.reason, ev.at_ms, \
             c.first_seq, c.first_index FROM payments_events ev \
             LEFT JOIN payments_ledger_chunks c ON ev.seq BETWEEN c.first_seq AND c.last_seq \
             WHERE ev.entitlement_id = $1 ORDER BY ev.seq",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await?
        .iter()
        .map(|e| {
            let seq: i64 = e.try_get("seq")?;
            let first_seq: Option<i64> = e.try_get("first_seq")?;
            let first_index: Option<i64> = e.try_get("first_index")?;
            Ok(EventRecord {
                seq,
                status: status_of(&e.try_get::<String, _>("status")?)?,
                end_to_end_id: e.try_get("end_to_end_id")?,
                batch: e.try_get("batch_id")?,
                reason: e.try_get("reason")?,
                at_ms: e.try_get("at_ms")?,
                ledger_index: first_seq
                    .zip(first_index)
                    .and_then(|(s, i)| u64::try_from(i + (seq - s)).ok()),
            })
        })
        .collect::<Result<Vec<_>, PaymentsError>>()?;
        Ok(Some(Trace {
            entitlement_id: id,
            entitlement: Entitlement {
                policy_id: r.try_get("policy_id")?,
                period: r.try_get("period")?,
                subject_id: r.try_get("subject_id")?,
                payee_name: r.try_get("payee_name")?,
                account: r.try_get("account")?,
                bank: r.try_get("bank")?,
                amount_fen: r.try_get("amount_fen")?,
                decision_ref: r.try_get("decision_ref")?,
            },
            status: status_of(&r.try_get::<String, _>("status")?)?,
            attempts,
            events,
        }))
    }

    /// Batches written to files, and batches claimed but not written yet (left by an
    /// interrupted export; the next export writes them).
    pub async fn batch_counts(&self) -> Result<(u64, u64), PaymentsError> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM payments_batches GROUP BY state")
            .fetch_all(self.store.pool())
            .await?;
        let (mut written, mut claimed) = (0, 0);
        for r in &rows {
            let n = u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0);
            match r.try_get::<String, _>("state")?.as_str() {
                "written" => written += n,
                _ => claimed += n,
            }
        }
        Ok((written, claimed))
    }

    /// Events committed and events in the ledger.
    pub async fn ledger_backlog(&self) -> Result<(i64, i64), PaymentsError> {
        let events: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM payments_events")
            .fetch_one(self.store.pool())
            .await?
            .try_get("m")?;
        let logged: i64 =
            sqlx::query("SELECT logged_through FROM payments_ledger_cursor WHERE id = 1")
                .fetch_one(self.store.pool())
                .await?
                .try_get("logged_through")?;
        Ok((events, logged))
    }

    /// Appends every committed event not yet in the ledger, first settling an append that an
    /// interrupted run planned (see the crate documentation). Returns how many it appended.
    pub async fn flush_ledger(&self) -> Result<u64, PaymentsError> {
        let mut log = self.ledger.lock().await;
        self.flush_locked(&mut log).await
    }

    async fn flush_locked(&self, log: &mut Sequencer) -> Result<u64, PaymentsError> {
        outbox::flush(log, &EventOutbox(self), LEDGER_CHUNK).await
    }

    /// Clears the planned chunk in one transaction: when `appended` names the chunk that is now
    /// in the log (its first and last event and first leaf), it is recorded and the cursor moves
    /// past it; otherwise the cursor stays where it was.
    async fn settle_plan(&self, appended: Option<(i64, i64, i64)>) -> Result<(), PaymentsError> {
        let mut tx = self.store.pool().begin().await?;
        if let Some((first, last, index)) = appended {
            sqlx::query(
                "INSERT INTO payments_ledger_chunks (first_seq, last_seq, first_index) VALUES ($1, $2, $3)",
            )
            .bind(first)
            .bind(last)
            .bind(index)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE payments_ledger_cursor SET logged_through = $1 WHERE id = 1")
                .bind(last)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE payments_ledger_cursor SET plan_first_seq = NULL, plan_last_seq = NULL, \
             plan_first_index = NULL WHERE id = 1",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn event_rows(&self, after: i64, through: i64) -> Result<Vec<AnyRow>, PaymentsError> {
        Ok(sqlx::query(
            "SELECT ev.seq, ev.entitlement_id, ev.status, ev.end_to_end_id, ev.batch_id, ev.reason, \
             ev.actor, ev.at_ms, e.policy_id, e.period, e.subject_id, e.amount_fen, e.decision_ref \
             FROM payments_events ev JOIN payments_entitlements e ON e.id = ev.entitlement_id \
             WHERE ev.seq > $1 AND ev.seq <= $2 ORDER BY ev.seq",
        )
        .bind(after)
        .bind(through)
        .fetch_all(self.store.pool())
        .await?)
    }

    /// The ledger entry of one event row, rebuilt the same way every time.
    fn entry_bytes(&self, r: &AnyRow) -> Result<Vec<u8>, PaymentsError> {
        let actor: String = r.try_get("actor")?;
        let mut entry = Entry::new(Kind::new(Kind::PAYMENT).map_err(ledger_err)?, &actor)
            .map_err(ledger_err)?;
        let policy: String = r.try_get("policy_id")?;
        let subject: String = r.try_get("subject_id")?;
        entry.purpose = Some(policy.clone());
        entry.subject = Some(self.key.tag(&subject));
        entry.time = Some(u64::try_from(r.try_get::<i64, _>("at_ms")? / 1000).unwrap_or(0));
        let mut body = json!({
            "seq": r.try_get::<i64, _>("seq")?,
            "entitlement": r.try_get::<i64, _>("entitlement_id")?,
            "policy": policy,
            "period": r.try_get::<String, _>("period")?,
            "amount_fen": r.try_get::<i64, _>("amount_fen")?,
            "decision": r.try_get::<String, _>("decision_ref")?,
            "status": r.try_get::<String, _>("status")?,
        });
        for (column, key) in [
            ("end_to_end_id", "end_to_end_id"),
            ("batch_id", "batch"),
            ("reason", "reason"),
        ] {
            if let Some(v) = r.try_get::<Option<String>, _>(column)? {
                body[key] = json!(v);
            }
        }
        entry.body = body;
        entry.to_bytes().map_err(ledger_err)
    }
}

/// The payment events as the ledger's outbox: `payments_events` numbered by `seq`, the cursor
/// in `payments_ledger_cursor`, each appended chunk kept in `payments_ledger_chunks`.
struct EventOutbox<'a>(&'a Payments);

impl From<OutboxError> for PaymentsError {
    fn from(e: OutboxError) -> PaymentsError {
        match e {
            OutboxError::Ledger(e) => PaymentsError::Ledger(e),
            OutboxError::Gap(after) => PaymentsError::Corrupt(format!(
                "events after {after} are not numbered without gaps"
            )),
        }
    }
}

impl Outbox for EventOutbox<'_> {
    type Error = PaymentsError;

    async fn cursor(&self) -> Result<(i64, Option<Planned>), PaymentsError> {
        let (logged, plan) = cursor::read(self.0.store(), "payments_ledger_cursor").await?;
        Ok((
            logged,
            plan.map(|(first, last, index)| Planned { first, last, index }),
        ))
    }

    async fn plan(&self, plan: Planned) -> Result<(), PaymentsError> {
        cursor::plan(
            self.0.store(),
            "payments_ledger_cursor",
            (plan.first, plan.last, plan.index),
        )
        .await?;
        Ok(())
    }

    async fn settle(&self, appended: Option<Planned>) -> Result<(), PaymentsError> {
        self.0
            .settle_plan(appended.map(|p| (p.first, p.last, p.index)))
            .await
    }

    async fn entries(
        &self,
        after: i64,
        through: i64,
    ) -> Result<Vec<(i64, Vec<u8>)>, PaymentsError> {
        let rows = self.0.event_rows(after, through).await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("seq")?, self.0.entry_bytes(r)?)))
            .collect()
    }
}

/// One entitlement of a citizen as the citizen sees it: what, for when, how much, and where
/// the payment stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub policy_id: String,
    pub period: String,
    pub amount: Fen,
    pub status: PaymentStatus,
    /// The bank's reason code of the last rejection.
    pub reason: Option<String>,
    pub updated_ms: i64,
}

/// Every entitlement of `subject_id`, newest first. Read-only: the portal shows it without
/// holding the ledger.
pub async fn entitlements_of(
    store: &Store,
    subject_id: &str,
) -> Result<Vec<Received>, PaymentsError> {
    sqlx::query(
        "SELECT policy_id, period, amount_fen, status, reason, updated_ms \
         FROM payments_entitlements WHERE subject_id = $1 ORDER BY updated_ms DESC, id DESC",
    )
    .bind(subject_id.trim().to_uppercase())
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(Received {
            policy_id: r.try_get("policy_id")?,
            period: r.try_get("period")?,
            amount: Fen(r.try_get("amount_fen")?),
            status: status_of(&r.try_get::<String, _>("status")?)?,
            reason: r.try_get("reason")?,
            updated_ms: r.try_get("updated_ms")?,
        })
    })
    .collect()
}

/// Entitlements and their amount in each state. Read-only, as the console shows it.
pub async fn status_counts(store: &Store) -> Result<Vec<StatusCount>, PaymentsError> {
    let rows = sqlx::query(
        "SELECT status, COUNT(*) AS n, CAST(SUM(amount_fen) AS BIGINT) AS s \
         FROM payments_entitlements GROUP BY status ORDER BY status",
    )
    .fetch_all(store.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        out.push(StatusCount {
            status: status_of(&r.try_get::<String, _>("status")?)?,
            count: u64::try_from(r.try_get::<i64, _>("n")?).unwrap_or(0),
            amount: Fen(r.try_get("s")?),
        });
    }
    out.sort_by_key(|c| c.status);
    Ok(out)
}

/// A payment file as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSummary {
    pub msg_id: String,
    pub state: String,
    pub created_ms: i64,
    pub transfers: i64,
    pub amount: Fen,
    pub file_name: Option<String>,
    /// The account the file pays from, and its bank.
    pub debtor_account: String,
    pub debtor_bank: String,
}

const BATCH_COLUMNS: &str =
    "msg_id, state, created_ms, nb_of_txs, ctrl_sum_fen, file_name, debtor_account, debtor_bank";

fn batch_summary_of(r: &AnyRow) -> Result<BatchSummary, PaymentsError> {
    Ok(BatchSummary {
        msg_id: r.try_get("msg_id")?,
        state: r.try_get("state")?,
        created_ms: r.try_get("created_ms")?,
        transfers: r.try_get("nb_of_txs")?,
        amount: Fen(r.try_get("ctrl_sum_fen")?),
        file_name: r.try_get("file_name")?,
        debtor_account: r.try_get("debtor_account")?,
        debtor_bank: r.try_get("debtor_bank")?,
    })
}

/// The latest `limit` payment files, newest first.
pub async fn batches(store: &Store, limit: i64) -> Result<Vec<BatchSummary>, PaymentsError> {
    sqlx::query(&format!(
        "SELECT {BATCH_COLUMNS} FROM payments_batches ORDER BY seq DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(batch_summary_of)
    .collect()
}

/// The payment file whose MsgId is `msg_id`, if there is one.
pub async fn batch(store: &Store, msg_id: &str) -> Result<Option<BatchSummary>, PaymentsError> {
    sqlx::query(&format!(
        "SELECT {BATCH_COLUMNS} FROM payments_batches WHERE msg_id = $1"
    ))
    .bind(msg_id)
    .fetch_optional(store.pool())
    .await?
    .as_ref()
    .map(batch_summary_of)
    .transpose()
}

/// One transfer of a payment file: what was sent, and how the bank last answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchTransfer {
    pub end_to_end_id: String,
    pub batch: String,
    pub payee_name: String,
    pub account: String,
    pub bank: String,
    pub amount: Fen,
    /// `exported`, `accepted`, `paid` or `rejected`.
    pub status: PaymentStatus,
    /// The bank's reason code of a rejection, and its text.
    pub reason: Option<String>,
    pub reason_text: Option<String>,
    /// When the file was made, and when the bank's answer last changed the transfer.
    pub exported_ms: i64,
    pub updated_ms: i64,
}

/// The transfers of payment file `batch` (in the order of the file), only those in one of
/// `statuses` unless it is empty: `limit` of them from `offset`.
pub async fn batch_transfers(
    store: &Store,
    batch: &str,
    statuses: &[PaymentStatus],
    offset: i64,
    limit: i64,
) -> Result<Vec<BatchTransfer>, PaymentsError> {
    let wanted = if statuses.is_empty() {
        String::new()
    } else {
        let places: Vec<String> = (0..statuses.len()).map(|i| format!("${}", i + 4)).collect();
        format!(" AND a.status IN ({})", places.join(", "))
    };
    let sql = format!(
        "SELECT a.end_to_end_id, a.batch_id, COALESCE(a.payee_name, e.payee_name) AS payee_name, \
         COALESCE(a.account, e.account) AS account, COALESCE(a.bank, e.bank) AS bank, \
         COALESCE(a.amount_fen, e.amount_fen) AS amount_fen, a.status, a.reason, a.reason_text, \
         b.created_ms, a.updated_ms \
         FROM payments_attempts a JOIN payments_entitlements e ON e.id = a.entitlement_id \
         JOIN payments_batches b ON b.msg_id = a.batch_id \
         WHERE a.batch_id = $1{wanted} ORDER BY a.entitlement_id LIMIT $2 OFFSET $3"
    );
    let mut query = sqlx::query(&sql).bind(batch).bind(limit).bind(offset);
    for status in statuses {
        query = query.bind(status.as_str());
    }
    query
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(BatchTransfer {
                end_to_end_id: r.try_get("end_to_end_id")?,
                batch: r.try_get("batch_id")?,
                payee_name: r.try_get("payee_name")?,
                account: r.try_get("account")?,
                bank: r.try_get("bank")?,
                amount: Fen(r.try_get("amount_fen")?),
                status: status_of(&r.try_get::<String, _>("status")?)?,
                reason: r.try_get("reason")?,
                reason_text: r.try_get("reason_text")?,
                exported_ms: r.try_get("created_ms")?,
                updated_ms: r.try_get("updated_ms")?,
            })
        })
        .collect()
}

/// How many transfers of a payment file are in one state, and their sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchTally {
    pub status: PaymentStatus,
    pub transfers: i64,
    pub amount: Fen,
}

/// The transfers of payment file `batch` counted and summed by state.
pub async fn batch_tally(store: &Store, batch: &str) -> Result<Vec<BatchTally>, PaymentsError> {
    sqlx::query(
        "SELECT a.status, COUNT(*) AS n, \
         CAST(COALESCE(SUM(COALESCE(a.amount_fen, e.amount_fen)), 0) AS BIGINT) AS s \
         FROM payments_attempts a JOIN payments_entitlements e ON e.id = a.entitlement_id \
         WHERE a.batch_id = $1 GROUP BY a.status ORDER BY a.status",
    )
    .bind(batch)
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(BatchTally {
            status: status_of(&r.try_get::<String, _>("status")?)?,
            transfers: r.try_get("n")?,
            amount: Fen(r.try_get("s")?),
        })
    })
    .collect()
}

/// The latest `limit` entitlements the bank returned or that wait for an account, newest
/// first, with the bank's reason.
pub async fn returned(store: &Store, limit: i64) -> Result<Vec<Notice>, PaymentsError> {
    sqlx::query(
        "SELECT id, policy_id, period, subject_id, payee_name, amount_fen, status, reason \
         FROM payments_entitlements \
         WHERE status IN ('needs_account', 'notified') OR reason IS NOT NULL \
         ORDER BY updated_ms DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(store.pool())
    .await?
    .iter()
    .map(notice_of)
    .collect()
}

fn notice_of(r: &sqlx::any::AnyRow) -> Result<Notice, PaymentsError> {
    Ok(Notice {
        entitlement_id: r.try_get("id")?,
        policy_id: r.try_get("policy_id")?,
        period: r.try_get("period")?,
        subject_id: r.try_get("subject_id")?,
        payee_name: r.try_get("payee_name")?,
        amount: Fen(r.try_get("amount_fen")?),
        status: status_of(&r.try_get::<String, _>("status")?)?,
        reason: r.try_get("reason")?,
    })
}
