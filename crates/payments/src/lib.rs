//! Benefit payments: from entitlements to ISO 20022 payment files and back.
//!
//! A policy decision entitles a person to an amount for a policy period ([`Entitlement`]).
//! This crate turns entitlements into payment batches written as ISO 20022 pain.001.001.09
//! files for the paying bank, reads the bank's pain.002.001.12 status reports, and reconciles
//! them per EndToEndId: accepted transfers are paid, rejected ones go back for a retry in a
//! later batch or wait for the citizen to bind a working account ([`Payments::needing_account`]),
//! always with the bank's reason kept. [`bank`] is a demo bank that answers a pain.001 with a
//! realistic pain.002, and [`govstack`] has the request and response shapes of the GovStack
//! G2P bulk-payment API that the server will speak.
//!
//! It is not a policy engine (entitlements come from the policy crate's decisions), not a bank
//! connection (files go in and out of directories) and not an HTTP API (the server crate will
//! serve [`govstack`]'s shapes). Money is integer fen ([`Fen`]) everywhere; it never passes
//! through floating point.
//!
//! # States
//!
//! ```text
//! pending ──export──▶ exported ──pain.002──▶ accepted ──▶ paid
//!    ▲                    │                      │
//!    └──── retry ◀── rejected(reason) ◀──────────┘
//!                         └──▶ needs_account ──▶ notified ──(new account)──▶ pending
//!
//! pending | needs_account | notified ──(a later decision: no longer eligible)──▶ withdrawn
//! withdrawn ──(eligible again in the same period)──▶ pending
//! ```
//!
//! A withdrawal ([`Payments::withdraw`]) reaches only what has not gone to the bank; an
//! entitlement already exported, accepted or paid stays as it is and is counted, since the
//! money has left (recovering it is an administrative procedure, not a payment state).
//!
//! Each pass through a batch is an attempt with its own EndToEndId (`E<batch tag>-<entitlement>-<attempt>`);
//! attempts are kept, so the history of an entitlement reads from the decision to the last
//! bank status ([`Payments::trace`]).
//!
//! # No payment is made twice
//!
//! - The database refuses a second entitlement for the same (policy, period, subject): a
//!   `UNIQUE` constraint and `INSERT … ON CONFLICT DO NOTHING`, so repeated or concurrent runs
//!   create each entitlement once.
//! - Every writing transaction first updates the one row of `payments_lock`, so writers run one
//!   at a time on SQLite and on PostgreSQL. An export claims pending entitlements in one such
//!   transaction: it creates the batch (state `claimed`, with its MsgId and creation time), an
//!   attempt per entitlement and moves them to `exported`. A second export, concurrent or
//!   later, finds them no longer pending.
//! - The file is written afterwards from what the transaction stored: to a temporary file,
//!   fsynced, renamed to `<MsgId>.xml`, the directory fsynced, and only then is the batch
//!   `written`. A run killed in between leaves a `claimed` batch, and the next export writes
//!   that same file again (same MsgId, same EndToEndIds, same bytes) before claiming anything
//!   new. Exports run one at a time (an export holds the ledger for its whole run, and the
//!   ledger's directory lock keeps a second process out), so a batch still `claimed` when an
//!   export starts was left by a run that died. No payment is in two batches unless the bank
//!   rejected the first attempt.
//! - A status report is applied in one transaction, or not at all, and is remembered by its
//!   MsgId so importing it again changes nothing.
//!
//! # The ledger, and the order of writes
//!
//! Every state change is recorded as a ledger entry of kind `payment` (actor: the paying
//! member, subject: the keyed hash of the ID number, purpose: the policy, body: period, amount,
//! decision, status, EndToEndId, batch and reason). The order is **database first, then
//! ledger, as an outbox**: the state change and its event row (`payments_events`, numbered
//! `seq`) commit in one transaction, and [`Payments`] then appends the events to the ledger in
//! batches (one fsync round per 20,000 events) before any operation returns. Appending first
//! would record changes that a crash or a refused transaction then never made; with the
//! outbox a crash can only delay an entry, never lose it, because every operation begins by
//! appending what an earlier run committed but did not log.
//!
//! Exactly once: before each append, the range of `seq` and the ledger index it will start at
//! are written to `payments_ledger_cursor`. After a crash, if the log already holds the planned
//! entries at the planned indexes (compared byte for byte, as the entries are rebuilt from the
//! rows deterministically), they are marked logged; otherwise they are appended again. The
//! ledger's sequencer only publishes whole batches, so a plan is all in or all out. Each
//! event's ledger leaf is therefore known (`payments_ledger_chunks`), and a batch file leaves
//! the platform only after its `exported` entries are in the ledger.

mod amount;
pub mod bank;
mod engine;
pub mod govstack;
mod time;
pub mod xml;

pub use amount::{AmountError, Fen, MAX_PAYMENT_FEN};
pub use engine::{
    batch, batch_tally, batch_transfers, batches, entitlements_of, returned, status_counts,
    AttemptRecord, BatchFile, BatchSummary, BatchTally, BatchTransfer, EntitleReport, EventRecord,
    ImportReport, Notice, Payer, Payments, Received, StatusCount, Trace, Withdrawal, MAX_ATTEMPTS,
};
pub use time::{iso_date, iso_date_time};

use errandless_store::{Store, StoreError};
use std::path::PathBuf;

/// The payments crate's migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Creates or updates the payment tables (`payments_*`) in the platform store.
pub async fn migrate(store: &Store) -> Result<(), StoreError> {
    store.migrate("payments", &MIGRATOR).await.map(drop)
}

/// What a decision entitles one person to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entitlement {
    /// The policy, e.g. `freshman-subsidy`.
    pub policy_id: String,
    /// The policy period this pays for, e.g. `2026` or `2026-09`.
    pub period: String,
    /// The subject's GB 11643 citizen ID number.
    pub subject_id: String,
    /// The account holder's name, as the bank knows it.
    pub payee_name: String,
    /// The finance "one card" (一卡通) account number.
    pub account: String,
    /// The bank that keeps the account.
    pub bank: String,
    /// The amount in fen.
    pub amount_fen: i64,
    /// The decision it comes from (a reference or hash), for the trace.
    pub decision_ref: String,
}

impl Entitlement {
    /// Checks every field; the error names the field and the rule.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        fn text(field: &'static str, v: &str, max: usize) -> Result<(), (&'static str, String)> {
            if v.trim().is_empty() || v.trim() != v {
                return Err((
                    field,
                    "must not be empty or start or end with spaces".into(),
                ));
            }
            if v.chars().count() > max {
                return Err((field, format!("must be at most {max} characters")));
            }
            if v.chars().any(char::is_control) {
                return Err((field, "must not contain control characters".into()));
            }
            Ok(())
        }
        let key = |field: &'static str, v: &str, max: usize| {
            text(field, v, max)?;
            if v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                Ok(())
            } else {
                Err((
                    field,
                    "may hold only ASCII letters, digits, '.', '_' and '-'".into(),
                ))
            }
        };
        key("policy_id", &self.policy_id, 64)?;
        key("period", &self.period, 32)?;
        errandless_standards::CitizenId::parse(&self.subject_id)
            .map_err(|e| ("subject_id", e.to_string()))?;
        text("payee_name", &self.payee_name, 140)?;
        text("account", &self.account, 34)?;
        if !self.account.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(("account", "may hold only ASCII letters and digits".into()));
        }
        text("bank", &self.bank, 140)?;
        text("decision_ref", &self.decision_ref, 128)?;
        if self.amount_fen <= 0 || self.amount_fen > MAX_PAYMENT_FEN {
            return Err((
                "amount_fen",
                format!("must be between 1 and {MAX_PAYMENT_FEN} fen"),
            ));
        }
        Ok(())
    }
}

/// Where an entitlement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PaymentStatus {
    /// Waiting for the next batch.
    Pending,
    /// In a batch sent to the bank.
    Exported,
    /// The bank accepted the transfer but has not reported it settled.
    Accepted,
    /// The bank settled the transfer.
    Paid,
    /// The bank rejected an attempt (attempts only; the entitlement moves on at once).
    Rejected,
    /// The account does not work: the citizen is to be told to bind one.
    NeedsAccount,
    /// The citizen has been told.
    Notified,
    /// A later decision found the citizen no longer eligible before the payment left.
    Withdrawn,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 8] = [
        PaymentStatus::Pending,
        PaymentStatus::Exported,
        PaymentStatus::Accepted,
        PaymentStatus::Paid,
        PaymentStatus::Rejected,
        PaymentStatus::NeedsAccount,
        PaymentStatus::Notified,
        PaymentStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Exported => "exported",
            PaymentStatus::Accepted => "accepted",
            PaymentStatus::Paid => "paid",
            PaymentStatus::Rejected => "rejected",
            PaymentStatus::NeedsAccount => "needs_account",
            PaymentStatus::Notified => "notified",
            PaymentStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<PaymentStatus> {
        PaymentStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Something went wrong; when an operation returns this, it changed nothing (a state change
/// already committed is only waiting for its ledger entry, which the next operation appends).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaymentsError {
    #[error("entitlement {index}: {field} {rule}")]
    InvalidEntitlement {
        index: usize,
        field: &'static str,
        rule: String,
    },
    #[error("the status report is not a valid pain.002.001.12 message: {0}")]
    Xml(#[from] xml::XmlError),
    #[error("the status report is for batch {0}, which this platform never sent")]
    UnknownBatch(String),
    #[error("batch {0} has not been written to a file yet; run `pay export` first")]
    BatchNotWritten(String),
    #[error("EndToEndId {end_to_end_id} is not in batch {batch}")]
    UnknownEndToEndId {
        batch: String,
        end_to_end_id: String,
    },
    #[error("EndToEndId {0} appears twice in the status report")]
    DuplicateEndToEndId(String),
    #[error("EndToEndId {end_to_end_id}: unknown transaction status {status:?}")]
    UnknownStatus {
        end_to_end_id: String,
        status: String,
    },
    #[error("EndToEndId {end_to_end_id} is already {current}; the report says {reported}")]
    Conflict {
        end_to_end_id: String,
        current: String,
        reported: String,
    },
    #[error("entitlement {id} is {status}, not waiting for an account")]
    NotWaitingForAccount { id: i64, status: String },
    #[error("no entitlement {0}")]
    NoSuchEntitlement(i64),
    #[error("the ledger: {0}")]
    Ledger(String),
    #[error("{path}: {source}", path = path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the payment tables are inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
}

/// The current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    i64::try_from(ms).unwrap_or(i64::MAX)
}
