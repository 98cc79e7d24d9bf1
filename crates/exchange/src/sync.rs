//! Bulk sync to the data center: a grant-limited snapshot of a whole dataset as Parquet.
//!
//! A consumer that holds a grant in force with mode [`Mode::Bulk`] on a dataset receives the
//! dataset's granted fields as one Parquet file under the data center directory, named by the
//! SHA-256 of its bytes (`<hex>.parquet`, a [`SnapshotId`]).
//!
//! # The file
//!
//! Columns, in order: `subject`, then the granted fields in the grant's order, then `row_hash`
//! and `subject_row`.
//! - `subject` is the ID number (or, for organisation datasets, the social credit code) as the
//!   island keeps it. The data center sits inside the platform and the policy engine joins
//!   datasets on it, so it holds the number itself; only the ledger uses keyed tags.
//! - Each field is typed by its element in the standard: strings as `Utf8`, integers and money
//!   (fen) as `Int64`, reals as `Float64`, flags as `Boolean`. Dates stay ISO 8601 `Utf8` text,
//!   as the islands keep them, so that a malformed date reaches the policy engine as it is
//!   instead of turning into a missing one (DataFusion casts `CAST(d AS DATE)` where needed).
//!   A value that does not fit its element's type (an island fault) is written as null.
//! - `row_hash` is the first eight bytes of SHA-256 over the row's field names and values,
//!   which the next sync compares to find what changed.
//! - `subject_row` is the row's position among its subject's rows, from 1, in the order the
//!   island handed them over. Most subjects have one row; where a dataset holds several (a
//!   person registered twice, two admissions), the policy engine reads row 1, so that it
//!   takes one row per subject by a filter instead of an aggregation, and every policy reads
//!   the same row of the same snapshot.
//!
//! Rows are sorted by `subject` (byte order), written in record batches of 65,536 rows and row
//! groups of 262,144, compressed with Snappy. The island is read as a stream ([`crate::Scan`])
//! and the file is hashed while it is written, so memory holds a batch, not the dataset.
//!
//! # Versions and deltas
//!
//! Each version holds the full current state of the dataset (a policy reads one file) and
//! names its parent. The sync walks the island in subject order beside the parent file, and a
//! subject is *touched* when its multiset of row hashes differs: added, changed or removed
//! ([`Change`]). The touched subjects are written to `<snapshot hex>.delta.parquet` (columns
//! `subject`, `change`), which the policy engine's delta run reads; its SHA-256 is recorded
//! with the snapshot. A sync that touches no subject creates no version.
//!
//! # The ledger
//!
//! Each touched subject gets one `access` entry (the same canonical [`Entry`] encoding as a
//! per-subject read, with operation `exchange.sync`), appended through the sequencer's batched
//! append ([`LEDGER_BATCH`] entries under one fsync), in the delta file's order. The data
//! tracker finds them through the delta file: `exchange_snapshot_leaves` keeps where each batch
//! landed in the ledger, so no index row is written per subject
//! ([`Exchange::bulk_accesses_of`]). Then one [`SNAPSHOT_KIND`] entry names the file's hash, parent,
//! dataset, fields, rows and the range of access entries, so later decisions can name the
//! exact data they used. The file is moved into place only once every access entry is
//! durable. A refused sync leaves one `refusal` entry.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use errandless_ledger::{Entry, Kind, SubjectKey, SubjectTag};
use errandless_standards::{
    CitizenId, DivisionCode, ElementType, Sensitivity, Standard, SubjectLink,
};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use crate::catalog::field_sensitivity;
use crate::connector::{ConnectorError, FieldValue};
use crate::exchange::Exchange;
use crate::grant::{Grant, GrantError, GrantState, Mode};
use crate::purpose::LegalBasisKind;
use crate::Millis;

/// The data center's directory under the data directory.
pub const DATACENTER_DIR: &str = "datacenter";
/// The kind of the ledger entry that records a snapshot.
pub const SNAPSHOT_KIND: &str = "snapshot";
/// Access entries appended under one fsync.
pub const LEDGER_BATCH: usize = 65_536;
/// Rows per Arrow record batch.
const BATCH_ROWS: usize = 65_536;
/// Island rows per chunk handed from the reader thread, and chunks read ahead.
const READ_CHUNK: usize = 4_096;
const READ_AHEAD: usize = 8;
/// Rows per Parquet row group: bounds what the writer buffers before it flushes.
const ROW_GROUP_ROWS: usize = 262_144;
/// Rows per row group of a delta file: the data tracker reads one row group's subjects to
/// find a citizen in it.
const DELTA_ROW_GROUP_ROWS: usize = 65_536;
/// Rows per data page of a snapshot.
const PAGE_ROWS: usize = 8_192;
/// Most bytes of a column chunk's dictionary page; beyond it the column is written plain.
const DICTIONARY_BYTES: usize = 64 * 1024;

/// A snapshot's identity: the SHA-256 of its Parquet file's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotId(pub [u8; 32]);

impl SnapshotId {
    pub fn to_hex(&self) -> String {
        crate::read::hex(&self.0)
    }

    /// Parses 64 lowercase hexadecimal digits.
    pub fn from_hex(text: &str) -> Option<SnapshotId> {
        let tag = SubjectTag::from_hex(text).ok()?;
        Some(SnapshotId(tag.0))
    }

    /// The snapshot's file name, `<hex>.parquet`.
    pub fn file_name(&self) -> String {
        format!("{}.parquet", self.to_hex())
    }

    /// The file that lists the subjects this snapshot touched, `<hex>.delta.parquet`.
    pub fn delta_file_name(&self) -> String {
        format!("{}.delta.parquet", self.to_hex())
    }
}

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SnapshotId({})", self.to_hex())
    }
}

/// How a subject's rows differ from the parent snapshot's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    Added,
    Changed,
    Removed,
}

impl Change {
    pub fn code(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Changed => "changed",
            Change::Removed => "removed",
        }
    }
}

/// One recorded snapshot version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub id: SnapshotId,
    pub dataset: String,
    pub consumer: String,
    /// 1 for the first version of this dataset for this consumer.
    pub version: i64,
    pub parent: Option<SnapshotId>,
    pub grant: String,
    pub fields: Vec<String>,
    pub created_at: Millis,
    pub rows: u64,
    /// Subjects added, changed or removed since the parent.
    pub changed: u64,
    /// The SHA-256 of the delta file.
    pub delta: SnapshotId,
    /// The ledger leaves of the per-subject access entries: `first_access..access_end`.
    pub first_access: u64,
    pub access_end: u64,
    /// The ledger leaf of the snapshot entry.
    pub ledger_index: u64,
}

/// What one sync did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    pub dataset: String,
    pub consumer: String,
    /// Rows in the current version.
    pub rows: u64,
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    /// Island rows left out: no subject, or a subject outside the grant's division scope.
    pub left_out: u64,
    /// The current version: new if `created`, else the parent that is still current.
    pub snapshot: SnapshotId,
    pub parent: Option<SnapshotId>,
    /// Whether this sync created a version (false when nothing changed).
    pub created: bool,
    /// Ledger entries appended: one per touched subject, plus the snapshot entry.
    pub ledger_entries: u64,
}

impl SyncReport {
    /// Subjects added, changed or removed.
    pub fn touched(&self) -> u64 {
        self.added + self.changed + self.removed
    }
}

/// Counters a progress display can follow while a sync runs.
#[derive(Debug, Default)]
pub struct SyncProgress {
    total: AtomicU64,
    done: AtomicU64,
}

impl SyncProgress {
    /// Island rows to read (known once the scan starts).
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Island rows read so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

/// A bulk sync was refused or failed. Refusals are recorded in the ledger.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0:?} is not a registered member")]
    UnknownConsumer(String),
    #[error("dataset {0:?} is not published on the exchange")]
    UnknownDataset(String),
    #[error("{consumer} holds no bulk-sync grant on {dataset}")]
    NoGrant { consumer: String, dataset: String },
    #[error("the bulk-sync grant {0} was revoked")]
    GrantRevoked(String),
    #[error("the bulk-sync grant {0} has expired")]
    GrantExpired(String),
    #[error("the bulk-sync grant {0} is not valid yet")]
    GrantNotYetValid(String),
    #[error("grant {grant} names sensitive-personal field {field:?}, which goes out in bulk only under a law (PIPL art. 28)")]
    SensitiveNeedsLaw { grant: String, field: String },
    #[error("the island of {dataset} does not hand rows over in subject order")]
    Unordered { dataset: String },
    #[error("snapshot {id} is missing or unreadable: {reason}")]
    BadParent { id: String, reason: String },
    #[error(transparent)]
    Island(#[from] ConnectorError),
    #[error("writing Parquet failed: {0}")]
    Parquet(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("stored snapshot record is corrupt: {0}")]
    Corrupt(String),
    #[error("the ledger could not record the sync: {0}")]
    Ledger(String),
    #[error(transparent)]
    Grant(#[from] GrantError),
    #[error(transparent)]
    Member(#[from] crate::member::MemberError),
    #[error("the platform database failed")]
    Database(#[from] sqlx::Error),
    #[error("the sync's worker thread stopped")]
    Worker,
}

impl SyncError {
    /// A stable code for the refusal, as it is written in the ledger.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::UnknownConsumer(_) => "unknown_consumer",
            SyncError::UnknownDataset(_) => "unknown_dataset",
            SyncError::NoGrant { .. } => "no_grant",
            SyncError::GrantRevoked(_) => "grant_revoked",
            SyncError::GrantExpired(_) => "grant_expired",
            SyncError::GrantNotYetValid(_) => "grant_not_yet_valid",
            SyncError::SensitiveNeedsLaw { .. } => "sensitive_needs_law",
            SyncError::Unordered { .. } => "island_unordered",
            SyncError::BadParent { .. } => "bad_parent",
            SyncError::Island(_) => "island_unavailable",
            SyncError::Parquet(_) | SyncError::Io { .. } | SyncError::Worker => "write_failed",
            SyncError::Corrupt(_)
            | SyncError::Grant(_)
            | SyncError::Member(_)
            | SyncError::Database(_) => "internal_error",
            SyncError::Ledger(_) => "ledger_unavailable",
        }
    }

    /// Whether this is a refusal by the rules (as opposed to a failure to carry out).
    fn is_refusal(&self) -> bool {
        matches!(
            self,
            SyncError::UnknownConsumer(_)
                | SyncError::UnknownDataset(_)
                | SyncError::NoGrant { .. }
                | SyncError::GrantRevoked(_)
                | SyncError::GrantExpired(_)
                | SyncError::GrantNotYetValid(_)
                | SyncError::SensitiveNeedsLaw { .. }
        )
    }
}

impl From<parquet::errors::ParquetError> for SyncError {
    fn from(e: parquet::errors::ParquetError) -> Self {
        SyncError::Parquet(e.to_string())
    }
}

impl From<arrow_schema::ArrowError> for SyncError {
    fn from(e: arrow_schema::ArrowError) -> Self {
        SyncError::Parquet(e.to_string())
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> SyncError + '_ {
    move |source| SyncError::Io {
        path: path.to_owned(),
        source,
    }
}

const SNAPSHOT_COLUMNS: &str = "dataset, consumer, version, id, parent, grant_id, fields, \
    created_at, row_count, changed, delta, first_access, access_end, ledger_index";

impl Exchange {
    /// Syncs `dataset` for `consumer` into the data center directory `datacenter` now.
    pub async fn sync(
        &self,
        consumer: &str,
        dataset: &str,
        datacenter: &Path,
        progress: &SyncProgress,
    ) -> Result<SyncReport, SyncError> {
        self.sync_at(
            consumer,
            dataset,
            datacenter,
            progress,
            self.clock().now_millis(),
        )
        .await
    }

    /// Syncs `dataset` for `consumer` as at `now` (see the module documentation). A refusal
    /// is appended to the ledger before it is returned.
    pub async fn sync_at(
        &self,
        consumer: &str,
        dataset: &str,
        datacenter: &Path,
        progress: &SyncProgress,
        now: Millis,
    ) -> Result<SyncReport, SyncError> {
        let grant = match self.bulk_grant(consumer, dataset, now).await {
            Ok(g) => g,
            Err(e) if e.is_refusal() => {
                self.record_sync_refusal(consumer, dataset, &e, now).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.sync_under(&grant, datacenter, progress, now).await
    }

    /// The datasets on which `consumer` holds a bulk-sync grant in force at `now`.
    pub async fn bulk_datasets(
        &self,
        consumer: &str,
        now: Millis,
    ) -> Result<Vec<String>, SyncError> {
        let rows = sqlx::query(
            "SELECT DISTINCT dataset FROM exchange_grants WHERE consumer = $1 AND mode = $2 \
             ORDER BY dataset",
        )
        .bind(consumer)
        .bind(Mode::Bulk.code())
        .fetch_all(self.store().pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let dataset: String = r.try_get("dataset")?;
            let grants = self.grants().grants_of(consumer, &dataset).await?;
            if grants
                .iter()
                .any(|g| g.terms.mode == Mode::Bulk && g.state_at(now) == GrantState::Valid)
            {
                out.push(dataset);
            }
        }
        Ok(out)
    }

    /// Every snapshot version of `dataset` held by `consumer`, oldest first.
    pub async fn snapshots(
        &self,
        consumer: &str,
        dataset: &str,
    ) -> Result<Vec<Snapshot>, SyncError> {
        snapshots(self.store(), consumer, dataset).await
    }

    /// The ledger leaves of the bulk syncs that touched `subject`, oldest first. Each snapshot
    /// version's delta file (in `datacenter`) lists the subjects it touched, sorted, in the
    /// order of their access entries; the subject's row there, mapped through the ledger runs
    /// recorded with the version, is its leaf. So a sync of ten million subjects writes no
    /// index row per subject, and a lookup reads one row group of each delta file.
    pub async fn bulk_accesses_of(
        &self,
        subject: &str,
        datacenter: &Path,
    ) -> Result<Vec<u64>, SyncError> {
        let rows = sqlx::query(
            "SELECT s.dataset, s.consumer, s.version, s.id, l.position, l.leaf, l.len \
             FROM exchange_snapshots s JOIN exchange_snapshot_leaves l \
             ON l.dataset = s.dataset AND l.consumer = s.consumer AND l.version = s.version \
             ORDER BY s.dataset, s.consumer, s.version, l.position",
        )
        .fetch_all(self.store().pool())
        .await?;
        // Per snapshot version: its delta file and ledger runs.
        let mut versions: Vec<(VersionKey, PathBuf, Vec<LedgerRun>)> = Vec::new();
        for r in &rows {
            let key = (
                r.try_get::<String, _>("dataset")?,
                r.try_get::<String, _>("consumer")?,
                r.try_get::<i64, _>("version")?,
            );
            let count = |name: &str| -> Result<u64, SyncError> {
                let n: i64 = r.try_get(name)?;
                u64::try_from(n).map_err(|_| SyncError::Corrupt(format!("{name} {n}")))
            };
            let run = (count("position")?, count("leaf")?, count("len")?);
            match versions.last_mut() {
                Some((k, _, runs)) if *k == key => runs.push(run),
                _ => {
                    let id: String = r.try_get("id")?;
                    let id = SnapshotId::from_hex(&id)
                        .ok_or_else(|| SyncError::Corrupt(format!("snapshot id {id:?}")))?;
                    versions.push((key, datacenter.join(id.delta_file_name()), vec![run]));
                }
            }
        }
        let subject = subject.to_owned();
        let found = tokio::task::spawn_blocking(move || {
            let mut leaves = Vec::new();
            for (_, path, runs) in &versions {
                let Some(position) = delta_position(path, &subject)? else {
                    continue;
                };
                let run = runs
                    .iter()
                    .find(|(p, _, len)| (*p..p + len).contains(&position))
                    .ok_or_else(|| {
                        SyncError::Corrupt(format!(
                            "row {position} of {} is in no recorded ledger run",
                            path.display()
                        ))
                    })?;
                leaves.push(run.1 + (position - run.0));
            }
            Ok::<_, SyncError>(leaves)
        })
        .await
        .map_err(|_| SyncError::Worker)??;
        let mut leaves = found;
        leaves.sort_unstable();
        Ok(leaves)
    }

    /// The grant to sync under: the newest bulk grant in force, or the most telling refusal.
    async fn bulk_grant(
        &self,
        consumer: &str,
        dataset: &str,
        now: Millis,
    ) -> Result<Grant, SyncError> {
        if self.members().get(consumer).await?.is_none() {
            return Err(SyncError::UnknownConsumer(consumer.to_owned()));
        }
        if self.islands().connector(dataset).is_none() {
            return Err(SyncError::UnknownDataset(dataset.to_owned()));
        }
        let grants: Vec<Grant> = self
            .grants()
            .grants_of(consumer, dataset)
            .await?
            .into_iter()
            .filter(|g| g.terms.mode == Mode::Bulk)
            .collect();
        let with = |s: GrantState| grants.iter().rev().find(|g| g.state_at(now) == s);
        let Some(grant) = with(GrantState::Valid) else {
            return Err(if let Some(g) = with(GrantState::Revoked) {
                SyncError::GrantRevoked(g.id.clone())
            } else if let Some(g) = with(GrantState::Expired) {
                SyncError::GrantExpired(g.id.clone())
            } else if let Some(g) = with(GrantState::NotYetValid) {
                SyncError::GrantNotYetValid(g.id.clone())
            } else {
                SyncError::NoGrant {
                    consumer: consumer.to_owned(),
                    dataset: dataset.to_owned(),
                }
            });
        };
        // Filing already refuses this; a grant stored by other means must not slip through.
        let standard_dataset = Standard::builtin()
            .dataset(dataset)
            .ok_or_else(|| SyncError::UnknownDataset(dataset.to_owned()))?;
        if grant.terms.legal_basis.kind != LegalBasisKind::Law {
            if let Some(f) = grant.terms.fields.iter().find(|f| {
                field_sensitivity(standard_dataset, f) == Some(Sensitivity::SensitivePersonal)
            }) {
                return Err(SyncError::SensitiveNeedsLaw {
                    grant: grant.id.clone(),
                    field: f.clone(),
                });
            }
        }
        Ok(grant.clone())
    }

    async fn sync_under(
        &self,
        grant: &Grant,
        datacenter: &Path,
        progress: &SyncProgress,
        now: Millis,
    ) -> Result<SyncReport, SyncError> {
        let t = &grant.terms;
        std::fs::create_dir_all(datacenter).map_err(io_error(datacenter))?;
        let previous = self.snapshots(&t.consumer, &t.dataset).await?.pop();
        let parent = previous.as_ref().map(|s| s.id);
        let dataset = Standard::builtin()
            .dataset(&t.dataset)
            .ok_or_else(|| SyncError::UnknownDataset(t.dataset.clone()))?;
        let organisation = matches!(dataset.subject, SubjectLink::Organisation { .. });
        let fields: Vec<(String, ElementType)> = t
            .fields
            .iter()
            .map(|f| {
                let ty = dataset
                    .field(f)
                    .and_then(|d| Standard::builtin().element(&d.element))
                    .map_or(ElementType::String, |e| e.ty);
                (f.clone(), ty)
            })
            .collect();
        let scan = self.islands().scan(&t.dataset, &t.fields)?;
        let templates = Templates::new(grant, now)?;
        let job = Job {
            fields,
            parent: parent.map(|p| datacenter.join(p.file_name())),
            dir: datacenter.to_owned(),
            templates,
            key: self.subject_key().clone(),
            scope: t.scope,
            organisation,
            dataset: t.dataset.clone(),
            progress: Arc::new(ProgressCell::default()),
        };
        let shared = Arc::clone(&job.progress);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<LedgerBatch>(2);
        let worker = std::thread::Builder::new()
            .name("sync-produce".into())
            .spawn(move || produce(job, scan, &tx))
            .map_err(|_| SyncError::Worker)?;

        let mut first_access: Option<u64> = None;
        let mut access_end = self.ledger_size();
        let mut appended = 0u64;
        // Per ledger batch: (delta position, first leaf, entries).
        let mut runs: Vec<(u64, u64, u64)> = Vec::new();
        let mut failure = None;
        loop {
            let batch = tokio::select! {
                b = rx.recv() => b,
                () = tokio::time::sleep(std::time::Duration::from_millis(100)) => {
                    mirror(&shared, progress);
                    continue;
                }
            };
            let Some(batch) = batch else { break };
            mirror(&shared, progress);
            if failure.is_some() {
                continue;
            }
            let count = batch.entries.len() as u64;
            match self.append_entries(batch.entries).await {
                Ok(range) => {
                    first_access.get_or_insert(range.start);
                    access_end = range.end;
                    runs.push((appended, range.start, count));
                    appended += count;
                }
                Err(e) => failure = Some(SyncError::Ledger(e.to_string())),
            }
        }
        let produced = worker.join().map_err(|_| SyncError::Worker)?;
        mirror(&shared, progress);
        let produced = match (produced, failure) {
            (Ok(p), None) => p,
            (Ok(p), Some(e)) => {
                let _ = std::fs::remove_file(&p.temp);
                let _ = std::fs::remove_file(&p.delta_temp);
                return Err(e);
            }
            (Err(e), _) => return Err(e),
        };
        let touched = produced.added + produced.changed + produced.removed;
        let mut report = SyncReport {
            dataset: t.dataset.clone(),
            consumer: t.consumer.clone(),
            rows: produced.rows,
            added: produced.added,
            changed: produced.changed,
            removed: produced.removed,
            left_out: produced.left_out,
            snapshot: produced.id,
            parent,
            created: false,
            ledger_entries: appended,
        };
        if touched == 0 && previous.is_some() {
            let _ = std::fs::remove_file(&produced.temp);
            let _ = std::fs::remove_file(&produced.delta_temp);
            report.snapshot = parent.unwrap_or(produced.id);
            return Ok(report);
        }
        // Every access entry is durable: the snapshot may now appear.
        let target = datacenter.join(produced.id.file_name());
        std::fs::rename(&produced.temp, &target).map_err(io_error(&target))?;
        let delta_target = datacenter.join(produced.id.delta_file_name());
        std::fs::rename(&produced.delta_temp, &delta_target).map_err(io_error(&delta_target))?;
        File::open(datacenter)
            .and_then(|d| d.sync_all())
            .map_err(io_error(datacenter))?;
        let first_access = first_access.unwrap_or(access_end);
        let version = previous.as_ref().map_or(1, |s| s.version + 1);
        let leaf = self
            .record_snapshot(
                grant,
                &produced,
                parent,
                (first_access, access_end),
                version,
                now,
            )
            .await?;
        let mut tx = self.store().pool().begin().await?;
        sqlx::query(&format!(
            "INSERT INTO exchange_snapshots ({SNAPSHOT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&t.dataset)
        .bind(&t.consumer)
        .bind(version)
        .bind(produced.id.to_hex())
        .bind(parent.map(|p| p.to_hex()))
        .bind(&grant.id)
        .bind(serde_json::to_string(&t.fields).unwrap_or_default())
        .bind(now)
        .bind(to_i64(produced.rows))
        .bind(to_i64(touched))
        .bind(produced.delta.to_hex())
        .bind(to_i64(first_access))
        .bind(to_i64(access_end))
        .bind(to_i64(leaf))
        .execute(&mut *tx)
        .await?;
        for (position, first, len) in runs {
            sqlx::query(
                "INSERT INTO exchange_snapshot_leaves (dataset, consumer, version, position, leaf, len) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&t.dataset)
            .bind(&t.consumer)
            .bind(version)
            .bind(to_i64(position))
            .bind(to_i64(first))
            .bind(to_i64(len))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        report.created = true;
        report.ledger_entries += 1;
        Ok(report)
    }

    /// The snapshot entry: the file's hash, parent, dataset, fields, rows and accesses.
    async fn record_snapshot(
        &self,
        grant: &Grant,
        produced: &Produced,
        parent: Option<SnapshotId>,
        accesses: (u64, u64),
        version: i64,
        now: Millis,
    ) -> Result<u64, SyncError> {
        let t = &grant.terms;
        let ledger_error = |e: &dyn fmt::Display| SyncError::Ledger(e.to_string());
        let mut entry = Entry::new(
            Kind::new(SNAPSHOT_KIND).map_err(|e| ledger_error(&e))?,
            &t.consumer,
        )
        .map_err(|e| ledger_error(&e))?;
        entry.purpose = Some(t.purpose.code().to_owned());
        entry.time = Some(u64::try_from(now / 1000).unwrap_or_default());
        entry.body = json!({
            "operation": "exchange.sync",
            "snapshot": produced.id.to_hex(),
            "parent": parent.map(|p| p.to_hex()),
            "version": version,
            "dataset": t.dataset,
            "fields": t.fields,
            "grant": grant.id,
            "owner": grant.owner,
            "rows": produced.rows,
            "added": produced.added,
            "changed": produced.changed,
            "removed": produced.removed,
            "delta": produced.delta.to_hex(),
            "accesses": [accesses.0, accesses.1],
        });
        let bytes = entry.to_bytes().map_err(|e| ledger_error(&e))?;
        let range = self
            .append_entries(vec![bytes])
            .await
            .map_err(|e| ledger_error(&e))?;
        Ok(range.start)
    }

    /// A refused sync's `refusal` entry, like a refused read's.
    async fn record_sync_refusal(
        &self,
        consumer: &str,
        dataset: &str,
        error: &SyncError,
        now: Millis,
    ) -> Result<(), SyncError> {
        let ledger_error = |e: &dyn fmt::Display| SyncError::Ledger(e.to_string());
        let actor = if consumer.trim().is_empty() {
            "unknown"
        } else {
            consumer
        };
        let mut entry = Entry::new(
            Kind::new(Kind::REFUSAL).map_err(|e| ledger_error(&e))?,
            actor,
        )
        .map_err(|e| ledger_error(&e))?;
        entry.time = Some(u64::try_from(now / 1000).unwrap_or_default());
        let mut body = json!({
            "operation": "exchange.sync",
            "outcome": error.code(),
            "dataset": dataset,
        });
        match error {
            SyncError::GrantRevoked(g)
            | SyncError::GrantExpired(g)
            | SyncError::GrantNotYetValid(g)
            | SyncError::SensitiveNeedsLaw { grant: g, .. } => body["grant"] = json!(g),
            _ => {}
        }
        if let SyncError::SensitiveNeedsLaw { field, .. } = error {
            body["fields"] = json!([field]);
        }
        entry.body = body;
        let bytes = entry.to_bytes().map_err(|e| ledger_error(&e))?;
        self.append_entries(vec![bytes])
            .await
            .map_err(|e| ledger_error(&e))?;
        Ok(())
    }
}

/// Every snapshot version of `dataset` held by `consumer`, oldest first, read from the
/// platform store alone: what a reader of the data center needs, without opening the islands
/// or the ledger.
pub async fn snapshots(
    store: &errandless_store::Store,
    consumer: &str,
    dataset: &str,
) -> Result<Vec<Snapshot>, SyncError> {
    let rows = sqlx::query(&format!(
        "SELECT {SNAPSHOT_COLUMNS} FROM exchange_snapshots \
         WHERE consumer = $1 AND dataset = $2 ORDER BY version"
    ))
    .bind(consumer)
    .bind(dataset)
    .fetch_all(store.pool())
    .await?;
    rows.iter().map(snapshot_of).collect()
}

fn mirror(from: &ProgressCell, to: &SyncProgress) {
    to.total
        .store(from.total.load(Ordering::Relaxed), Ordering::Relaxed);
    to.done
        .store(from.done.load(Ordering::Relaxed), Ordering::Relaxed);
}

#[derive(Debug, Default)]
struct ProgressCell {
    total: AtomicU64,
    done: AtomicU64,
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn snapshot_of(row: &sqlx::any::AnyRow) -> Result<Snapshot, SyncError> {
    let id_of = |text: &str| {
        SnapshotId::from_hex(text)
            .ok_or_else(|| SyncError::Corrupt(format!("snapshot id {text:?}")))
    };
    let id: String = row.try_get("id")?;
    let parent: Option<String> = row.try_get("parent")?;
    let delta: String = row.try_get("delta")?;
    let fields: String = row.try_get("fields")?;
    let count = |name: &str| -> Result<u64, SyncError> {
        let n: i64 = row.try_get(name)?;
        u64::try_from(n).map_err(|_| SyncError::Corrupt(format!("{name} {n}")))
    };
    Ok(Snapshot {
        id: id_of(&id)?,
        dataset: row.try_get("dataset")?,
        consumer: row.try_get("consumer")?,
        version: row.try_get("version")?,
        parent: parent.as_deref().map(id_of).transpose()?,
        grant: row.try_get("grant_id")?,
        fields: serde_json::from_str(&fields).map_err(|e| SyncError::Corrupt(e.to_string()))?,
        created_at: row.try_get("created_at")?,
        rows: count("row_count")?,
        changed: count("changed")?,
        delta: id_of(&delta)?,
        first_access: count("first_access")?,
        access_end: count("access_end")?,
        ledger_index: count("ledger_index")?,
    })
}

/// The canonical bytes of a touched subject's access entry, one template per [`Change`], with
/// the subject tag written into its place: the same bytes as [`Entry::to_bytes`] gives, made
/// without re-encoding the entry ten million times.
struct Templates {
    /// Per change: the encoded entry and the offset of the tag's 64 hex digits.
    by_change: [(Vec<u8>, usize); 3],
}

impl Templates {
    fn new(grant: &Grant, now: Millis) -> Result<Templates, SyncError> {
        let make = |change: Change| -> Result<(Vec<u8>, usize), SyncError> {
            let entry = access_entry(grant, now, change, SubjectTag([0; 32]))?;
            let bytes = entry
                .to_bytes()
                .map_err(|e| SyncError::Ledger(e.to_string()))?;
            let marker = b"\"subject\":\"";
            let at = bytes
                .windows(marker.len())
                .position(|w| w == marker)
                .map(|p| p + marker.len())
                .ok_or_else(|| SyncError::Ledger("the entry encodes no subject".into()))?;
            Ok((bytes, at))
        };
        Ok(Templates {
            by_change: [
                make(Change::Added)?,
                make(Change::Changed)?,
                make(Change::Removed)?,
            ],
        })
    }

    fn entry(&self, change: Change, tag_hex: &[u8; 64]) -> Vec<u8> {
        let (bytes, at) = &self.by_change[change as usize];
        let mut out = bytes.clone();
        out[*at..*at + 64].copy_from_slice(tag_hex);
        out
    }
}

/// A touched subject's access entry, as [`Templates`] encodes it.
fn access_entry(
    grant: &Grant,
    now: Millis,
    change: Change,
    subject: SubjectTag,
) -> Result<Entry, SyncError> {
    let t = &grant.terms;
    let mut entry = Entry::new(
        Kind::new(Kind::ACCESS).map_err(|e| SyncError::Ledger(e.to_string()))?,
        &t.consumer,
    )
    .map_err(|e| SyncError::Ledger(e.to_string()))?;
    entry.purpose = Some(t.purpose.code().to_owned());
    entry.subject = Some(subject);
    entry.time = Some(u64::try_from(now / 1000).unwrap_or_default());
    entry.body = json!({
        "operation": "exchange.sync",
        "outcome": "allowed",
        "dataset": t.dataset,
        "fields": t.fields,
        "grant": grant.id,
        "change": change.code(),
    });
    Ok(entry)
}

/// What the worker thread needs, all owned.
struct Job {
    fields: Vec<(String, ElementType)>,
    parent: Option<PathBuf>,
    dir: PathBuf,
    templates: Templates,
    key: SubjectKey,
    scope: Option<DivisionCode>,
    organisation: bool,
    dataset: String,
    progress: Arc<ProgressCell>,
}

/// Access entries for the ledger, in the delta file's order.
struct LedgerBatch {
    entries: Vec<Vec<u8>>,
}

/// What the worker thread made.
struct Produced {
    temp: PathBuf,
    delta_temp: PathBuf,
    id: SnapshotId,
    delta: SnapshotId,
    rows: u64,
    added: u64,
    changed: u64,
    removed: u64,
    left_out: u64,
}

/// A writer that hashes every byte it passes on.
struct Hashing<W: Write> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

type ParquetOut = ArrowWriter<Hashing<BufWriter<File>>>;

fn writer_properties(row_group_rows: usize) -> WriterProperties {
    // Subjects and row hashes are (nearly) all distinct: a dictionary would only cost a hash
    // lookup per value and then be abandoned for plain encoding.
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(row_group_rows))
        // Pages of 8,192 rows, indexed: a single-subject evaluation decompresses one small
        // page per column instead of a megabyte.
        .set_data_page_row_count_limit(PAGE_ROWS)
        // A page cannot be read without its column chunk's dictionary: a small one keeps a
        // single-subject read small in a province of millions, where a column of names would
        // otherwise carry a dictionary of up to a megabyte per row group. Columns of few
        // values (sex, division codes) still fit in it.
        .set_dictionary_page_size_limit(DICTIONARY_BYTES)
        .set_column_dictionary_enabled(ColumnPath::from("subject"), false)
        .set_column_dictionary_enabled(ColumnPath::from("row_hash"), false)
        .build()
}

fn open_parquet(
    path: &Path,
    schema: &SchemaRef,
    row_group_rows: usize,
) -> Result<ParquetOut, SyncError> {
    let file = File::create(path).map_err(io_error(path))?;
    let out = Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
    };
    Ok(ArrowWriter::try_new(
        out,
        Arc::clone(schema),
        Some(writer_properties(row_group_rows)),
    )?)
}

/// Finishes the file, fsyncs it and returns its SHA-256.
fn close_parquet(writer: ParquetOut, path: &Path) -> Result<SnapshotId, SyncError> {
    let out = writer.into_inner()?;
    let digest: [u8; 32] = out.hasher.finalize().into();
    let file = out
        .inner
        .into_inner()
        .map_err(|e| io_error(path)(e.into_error()))?;
    file.sync_all().map_err(io_error(path))?;
    Ok(SnapshotId(digest))
}

/// The Arrow type of an element type (see the module documentation).
fn arrow_type(ty: ElementType) -> DataType {
    match ty {
        ElementType::String | ElementType::Date => DataType::Utf8,
        ElementType::Integer | ElementType::Money => DataType::Int64,
        ElementType::Real => DataType::Float64,
        ElementType::Boolean => DataType::Boolean,
    }
}

fn snapshot_schema(dataset: &str, fields: &[(String, ElementType)]) -> SchemaRef {
    let mut columns = vec![Field::new("subject", DataType::Utf8, false)];
    columns.extend(
        fields
            .iter()
            .map(|(name, ty)| Field::new(name, arrow_type(*ty), true)),
    );
    columns.push(Field::new("row_hash", DataType::Int64, false));
    columns.push(Field::new(SUBJECT_ROW, DataType::Int64, false));
    let metadata = HashMap::from([("errandless.dataset".to_owned(), dataset.to_owned())]);
    Arc::new(Schema::new_with_metadata(columns, metadata))
}

fn delta_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subject", DataType::Utf8, false),
        Field::new("change", DataType::Utf8, false),
    ]))
}

enum Column {
    Text(StringBuilder),
    Integer(Int64Builder),
    Real(Float64Builder),
    Flag(BooleanBuilder),
}

impl Column {
    fn new(ty: ElementType) -> Column {
        match arrow_type(ty) {
            DataType::Int64 => Column::Integer(Int64Builder::with_capacity(BATCH_ROWS)),
            DataType::Float64 => Column::Real(Float64Builder::with_capacity(BATCH_ROWS)),
            DataType::Boolean => Column::Flag(BooleanBuilder::with_capacity(BATCH_ROWS)),
            _ => Column::Text(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16)),
        }
    }

    fn push(&mut self, v: &FieldValue) {
        match self {
            Column::Text(b) => match v {
                FieldValue::Null => b.append_null(),
                FieldValue::Text(t) => b.append_value(t),
                FieldValue::Integer(n) => b.append_value(n.to_string()),
                FieldValue::Real(r) => b.append_value(r.to_string()),
            },
            Column::Integer(b) => b.append_option(match v {
                FieldValue::Integer(n) => Some(*n),
                FieldValue::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e15 => Some(*r as i64),
                FieldValue::Text(t) => t.trim().parse().ok(),
                _ => None,
            }),
            Column::Real(b) => b.append_option(match v {
                FieldValue::Real(r) => Some(*r),
                FieldValue::Integer(n) => Some(*n as f64),
                FieldValue::Text(t) => t.trim().parse().ok(),
                FieldValue::Null => None,
            }),
            Column::Flag(b) => b.append_option(match v {
                FieldValue::Integer(n) => Some(*n != 0),
                FieldValue::Real(r) => Some(*r != 0.0),
                FieldValue::Text(t) => match t.trim() {
                    "1" | "true" | "TRUE" | "t" | "是" => Some(true),
                    "0" | "false" | "FALSE" | "f" | "否" => Some(false),
                    _ => None,
                },
                FieldValue::Null => None,
            }),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Text(b) => Arc::new(b.finish()),
            Column::Integer(b) => Arc::new(b.finish()),
            Column::Real(b) => Arc::new(b.finish()),
            Column::Flag(b) => Arc::new(b.finish()),
        }
    }
}

/// The column of a snapshot that numbers each subject's rows from 1 (see the module
/// documentation).
pub const SUBJECT_ROW: &str = "subject_row";

/// The rows of the batch being built.
struct Builders {
    schema: SchemaRef,
    subject: StringBuilder,
    columns: Vec<Column>,
    row_hash: Int64Builder,
    subject_row: Int64Builder,
    len: usize,
}

impl Builders {
    fn new(schema: SchemaRef, fields: &[(String, ElementType)]) -> Builders {
        Builders {
            schema,
            subject: StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 18),
            columns: fields.iter().map(|(_, ty)| Column::new(*ty)).collect(),
            row_hash: Int64Builder::with_capacity(BATCH_ROWS),
            subject_row: Int64Builder::with_capacity(BATCH_ROWS),
            len: 0,
        }
    }

    /// Adds a row: the `nth` (from 1) of `subject`'s rows.
    fn push(&mut self, subject: &str, values: &[FieldValue], hash: i64, nth: usize) {
        self.subject.append_value(subject);
        for (c, v) in self.columns.iter_mut().zip(values) {
            c.push(v);
        }
        self.row_hash.append_value(hash);
        self.subject_row.append_value(nth as i64);
        self.len += 1;
    }

    fn finish(&mut self) -> Result<RecordBatch, SyncError> {
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(self.subject.finish())];
        arrays.extend(self.columns.iter_mut().map(Column::finish));
        arrays.push(Arc::new(self.row_hash.finish()));
        arrays.push(Arc::new(self.subject_row.finish()));
        self.len = 0;
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), arrays)?)
    }
}

/// The first eight bytes of SHA-256 over the row's field names and typed values.
fn row_hash(fields: &[(String, ElementType)], values: &[FieldValue]) -> i64 {
    let mut h = Sha256::new();
    for ((name, _), v) in fields.iter().zip(values) {
        h.update((name.len() as u32).to_be_bytes());
        h.update(name.as_bytes());
        match v {
            FieldValue::Null => h.update([0u8]),
            FieldValue::Integer(n) => {
                h.update([1u8]);
                h.update(n.to_be_bytes());
            }
            FieldValue::Real(r) => {
                h.update([2u8]);
                h.update(r.to_bits().to_be_bytes());
            }
            FieldValue::Text(t) => {
                h.update([3u8]);
                h.update((t.len() as u32).to_be_bytes());
                h.update(t.as_bytes());
            }
        }
    }
    let d = h.finalize();
    i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The parent snapshot read back in subject order, one subject's sorted row hashes at a time.
struct ParentGroups {
    reader: Option<parquet::arrow::arrow_reader::ParquetRecordBatchReader>,
    subjects: Option<StringArray>,
    hashes: Option<Int64Array>,
    at: usize,
    /// The next group, read ahead.
    peeked: Option<(String, Vec<i64>)>,
    /// The row read past the end of the last group.
    pending_row: Option<(String, i64)>,
    id: String,
}

impl ParentGroups {
    fn open(path: Option<&Path>) -> Result<ParentGroups, SyncError> {
        let mut groups = ParentGroups {
            reader: None,
            subjects: None,
            hashes: None,
            at: 0,
            peeked: None,
            pending_row: None,
            id: path.map_or_else(String::new, |p| p.display().to_string()),
        };
        let Some(path) = path else { return Ok(groups) };
        let bad = |reason: String| SyncError::BadParent {
            id: path.display().to_string(),
            reason,
        };
        let file = File::open(path).map_err(|e| bad(e.to_string()))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(e.to_string()))?;
        let schema = builder.schema();
        let position = |name: &str| {
            schema
                .index_of(name)
                .map_err(|_| bad(format!("no column {name:?}")))
        };
        let (s, h) = (position("subject")?, position("row_hash")?);
        let mask = ProjectionMask::roots(builder.parquet_schema(), [s, h]);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        groups.reader = Some(reader);
        groups.peeked = groups.read_group()?;
        Ok(groups)
    }

    fn bad(&self, reason: impl fmt::Display) -> SyncError {
        SyncError::BadParent {
            id: self.id.clone(),
            reason: reason.to_string(),
        }
    }

    /// The next (subject, hash) pair of the file.
    fn next_row(&mut self) -> Result<Option<(String, i64)>, SyncError> {
        loop {
            if let (Some(s), Some(h)) = (&self.subjects, &self.hashes) {
                if self.at < s.len() {
                    let row = (s.value(self.at).to_owned(), h.value(self.at));
                    self.at += 1;
                    return Ok(Some(row));
                }
            }
            let Some(reader) = self.reader.as_mut() else {
                return Ok(None);
            };
            let Some(batch) = reader.next() else {
                self.reader = None;
                return Ok(None);
            };
            let batch = batch.map_err(|e| self.bad(e))?;
            let subjects = batch
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .ok_or_else(|| self.bad("subject is not text"))?;
            let hashes = batch
                .column(1)
                .as_any()
                .downcast_ref::<Int64Array>()
                .cloned()
                .ok_or_else(|| self.bad("row_hash is not Int64"))?;
            self.subjects = Some(subjects);
            self.hashes = Some(hashes);
            self.at = 0;
        }
    }

    /// Reads one whole group; `self.pending` holds the row that started the next one.
    fn read_group(&mut self) -> Result<Option<(String, Vec<i64>)>, SyncError> {
        let first = match self.pending_row.take() {
            Some(r) => r,
            None => match self.next_row()? {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        let (subject, hash) = first;
        let mut hashes = vec![hash];
        while let Some((s, h)) = self.next_row()? {
            if s == subject {
                hashes.push(h);
            } else {
                self.pending_row = Some((s, h));
                break;
            }
        }
        hashes.sort_unstable();
        Ok(Some((subject, hashes)))
    }

    fn peek(&self) -> Option<&str> {
        self.peeked.as_ref().map(|(s, _)| s.as_str())
    }

    fn take(&mut self) -> Result<Option<(String, Vec<i64>)>, SyncError> {
        let next = self.read_group()?;
        Ok(std::mem::replace(&mut self.peeked, next))
    }
}

/// The subjects' state while the island streams past the parent.
struct Delta<'a> {
    job: &'a Job,
    parent: ParentGroups,
    out: ParquetOut,
    subjects: StringBuilder,
    changes: StringBuilder,
    len: usize,
    schema: SchemaRef,
    batch: LedgerBatch,
    tx: &'a tokio::sync::mpsc::Sender<LedgerBatch>,
    counts: [u64; 3],
}

impl Delta<'_> {
    /// Settles one subject of the island, and every parent subject before it.
    fn subject(&mut self, subject: &str, hashes: &mut Vec<i64>) -> Result<(), SyncError> {
        hashes.sort_unstable();
        while let Some(p) = self.parent.peek() {
            if p >= subject {
                break;
            }
            if let Some((gone, _)) = self.parent.take()? {
                self.touch(&gone, Change::Removed)?;
            }
        }
        let change = if self.parent.peek() == Some(subject) {
            let same = self
                .parent
                .take()?
                .is_some_and(|(_, before)| &before == hashes);
            (!same).then_some(Change::Changed)
        } else {
            Some(Change::Added)
        };
        if let Some(c) = change {
            self.touch(subject, c)?;
        }
        Ok(())
    }

    /// The parent's subjects after the island's last.
    fn rest(&mut self) -> Result<(), SyncError> {
        while let Some((gone, _)) = self.parent.take()? {
            self.touch(&gone, Change::Removed)?;
        }
        Ok(())
    }

    fn touch(&mut self, subject: &str, change: Change) -> Result<(), SyncError> {
        self.counts[change as usize] += 1;
        let tag = self.job.key.tag(subject);
        let mut tag_hex = [0u8; 64];
        for (i, b) in tag.0.iter().enumerate() {
            tag_hex[2 * i] = HEX[usize::from(b >> 4)];
            tag_hex[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        self.batch
            .entries
            .push(self.job.templates.entry(change, &tag_hex));
        if self.batch.entries.len() >= LEDGER_BATCH {
            self.send()?;
        }
        self.subjects.append_value(subject);
        self.changes.append_value(change.code());
        self.len += 1;
        if self.len >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), SyncError> {
        if self.batch.entries.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(
            &mut self.batch,
            LedgerBatch {
                entries: Vec::with_capacity(LEDGER_BATCH),
            },
        );
        self.tx.blocking_send(batch).map_err(|_| SyncError::Worker)
    }

    fn flush(&mut self) -> Result<(), SyncError> {
        if self.len == 0 {
            return Ok(());
        }
        let batch = RecordBatch::try_new(
            Arc::clone(&self.schema),
            vec![
                Arc::new(self.subjects.finish()),
                Arc::new(self.changes.finish()),
            ],
        )?;
        self.len = 0;
        Ok(self.out.write(&batch)?)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether a subject is in the grant's division scope: the county of an ID number's address
/// code, or of a social credit code's registration authority (see [`crate::Grants`]).
fn in_scope(
    scope: DivisionCode,
    subject: &str,
    organisation: bool,
    cache: &mut HashMap<String, bool>,
) -> bool {
    let six = if organisation {
        subject.get(2..8)
    } else {
        CitizenId::parse(subject)
            .ok()
            .map(|_| subject.trim().get(..6).unwrap_or_default())
    };
    let Some(six) = six else { return false };
    if let Some(&inside) = cache.get(six) {
        return inside;
    }
    let inside = DivisionCode::parse(&format!("{six}000000")).is_ok_and(|d| scope.contains(d));
    cache.insert(six.to_owned(), inside);
    inside
}

/// A snapshot version: dataset, consumer, version.
type VersionKey = (String, String, i64);
/// Delta rows `position..position + len` recorded at leaves `leaf..leaf + len`:
/// `(position, leaf, len)`.
type LedgerRun = (u64, u64, u64);

/// The subjects a snapshot version touched (added, changed or removed since its parent), read
/// from its delta file in `datacenter`, sorted: the population of the policy engine's delta
/// run.
pub fn touched_subjects(
    datacenter: &Path,
    snapshot: &SnapshotId,
) -> Result<Vec<String>, SyncError> {
    let path = datacenter.join(snapshot.delta_file_name());
    let bad = |reason: String| SyncError::BadParent {
        id: path.display().to_string(),
        reason,
    };
    let file = File::open(&path).map_err(|e| bad(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(e.to_string()))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [0]);
    let batches = builder
        .with_projection(mask)
        .with_batch_size(DELTA_ROW_GROUP_ROWS)
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    for batch in batches {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        let subjects = delta_subjects(&batch).ok_or_else(|| bad("subject is not text".into()))?;
        out.extend(subjects.iter().flatten().map(str::to_owned));
    }
    Ok(out)
}

/// The subject column of a batch read from a delta file (projected to that column).
fn delta_subjects(batch: &RecordBatch) -> Option<&StringArray> {
    batch.column(0).as_any().downcast_ref::<StringArray>()
}

/// The row of `subject` in a delta file, which is sorted by subject: only the row groups whose
/// statistics admit the subject are read.
fn delta_position(path: &Path, subject: &str) -> Result<Option<u64>, SyncError> {
    let bad = |reason: String| SyncError::BadParent {
        id: path.display().to_string(),
        reason,
    };
    let file = File::open(path).map_err(|e| bad(e.to_string()))?;
    let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default())
        .map_err(|e| bad(e.to_string()))?;
    let key = subject.as_bytes();
    let mut offset = 0u64;
    for (i, group) in metadata.metadata().row_groups().iter().enumerate() {
        let rows = u64::try_from(group.num_rows()).unwrap_or_default();
        let admits = group
            .columns()
            .first()
            .and_then(|c| c.statistics())
            .and_then(|s| Some((s.min_bytes_opt()?, s.max_bytes_opt()?)))
            .is_none_or(|(min, max)| min <= key && key <= max);
        if admits {
            let reader = file.try_clone().map_err(|e| bad(e.to_string()))?;
            let mask = ProjectionMask::roots(metadata.parquet_schema(), [0]);
            let batches =
                ParquetRecordBatchReaderBuilder::new_with_metadata(reader, metadata.clone())
                    .with_row_groups(vec![i])
                    .with_projection(mask)
                    .with_batch_size(DELTA_ROW_GROUP_ROWS)
                    .build()
                    .map_err(|e| bad(e.to_string()))?;
            let mut before = 0u64;
            for batch in batches {
                let batch = batch.map_err(|e| bad(e.to_string()))?;
                let subjects =
                    delta_subjects(&batch).ok_or_else(|| bad("subject is not text".into()))?;
                let len = subjects.len();
                let (mut lo, mut hi) = (0usize, len);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if subjects.value(mid).as_bytes() < key {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                if lo < len && subjects.value(lo) == subject {
                    return Ok(Some(offset + before + lo as u64));
                }
                before += len as u64;
            }
        }
        offset += rows;
    }
    Ok(None)
}

/// The worker thread: streams the island into the snapshot file, compares it with the parent,
/// writes the delta file and hands access entries to the ledger in batches.
fn produce(
    job: Job,
    scan: crate::Scan,
    tx: &tokio::sync::mpsc::Sender<LedgerBatch>,
) -> Result<Produced, SyncError> {
    let nonce = crate::random_id("sync");
    let temp = job.dir.join(format!(".{nonce}.parquet.tmp"));
    let delta_temp = job.dir.join(format!(".{nonce}.delta.parquet.tmp"));
    let result = produce_into(&job, scan, tx, &temp, &delta_temp);
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
        let _ = std::fs::remove_file(&delta_temp);
    }
    result
}

fn produce_into(
    job: &Job,
    scan: crate::Scan,
    tx: &tokio::sync::mpsc::Sender<LedgerBatch>,
    temp: &Path,
    delta_temp: &Path,
) -> Result<Produced, SyncError> {
    let schema = snapshot_schema(&job.dataset, &job.fields);
    let mut out = open_parquet(temp, &schema, ROW_GROUP_ROWS)?;
    let delta_schema = delta_schema();
    let mut delta = Delta {
        job,
        parent: ParentGroups::open(job.parent.as_deref())?,
        out: open_parquet(delta_temp, &delta_schema, DELTA_ROW_GROUP_ROWS)?,
        subjects: StringBuilder::new(),
        changes: StringBuilder::new(),
        len: 0,
        schema: delta_schema,
        batch: LedgerBatch {
            entries: Vec::with_capacity(LEDGER_BATCH),
        },
        tx,
        counts: [0; 3],
    };
    let mut builders = Builders::new(Arc::clone(&schema), &job.fields);
    let mut current = String::new();
    let mut hashes: Vec<i64> = Vec::new();
    let mut rows = 0u64;
    let mut left_out = 0u64;
    let mut scope_cache = HashMap::new();
    let progress = &job.progress;
    // The island is read on a thread of its own, a chunk of rows at a time, so that decoding
    // its rows overlaps with hashing and encoding them here.
    let (chunks, received) = std::sync::mpsc::sync_channel::<Vec<Vec<FieldValue>>>(READ_AHEAD);
    let counter = Arc::clone(&job.progress);
    let reader = std::thread::Builder::new()
        .name("sync-island".into())
        .spawn(move || -> Result<(), SyncError> {
            let mut chunk = Vec::with_capacity(READ_CHUNK);
            scan.for_each(
                |n| counter.total.store(n, Ordering::Relaxed),
                |row| -> Result<(), SyncError> {
                    chunk.push(row);
                    if chunk.len() == READ_CHUNK {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(READ_CHUNK));
                        chunks.send(full).map_err(|_| SyncError::Worker)?;
                    }
                    Ok(())
                },
            )?;
            if !chunk.is_empty() {
                chunks.send(chunk).map_err(|_| SyncError::Worker)?;
            }
            Ok(())
        })
        .map_err(|_| SyncError::Worker)?;
    let mut row = |row: &[FieldValue]| -> Result<(), SyncError> {
        progress.done.fetch_add(1, Ordering::Relaxed);
        let subject = match row.first() {
            Some(FieldValue::Text(t)) if !t.is_empty() => t.as_str(),
            _ => {
                left_out += 1;
                return Ok(());
            }
        };
        if let Some(scope) = job.scope {
            if !in_scope(scope, subject, job.organisation, &mut scope_cache) {
                left_out += 1;
                return Ok(());
            }
        }
        let values = &row[1..];
        let hash = row_hash(&job.fields, values);
        if subject != current {
            if !hashes.is_empty() {
                if subject < current.as_str() {
                    return Err(SyncError::Unordered {
                        dataset: job.dataset.clone(),
                    });
                }
                delta.subject(&current, &mut hashes)?;
                hashes.clear();
            }
            current.clear();
            current.push_str(subject);
        }
        hashes.push(hash);
        builders.push(subject, values, hash, hashes.len());
        rows += 1;
        if builders.len >= BATCH_ROWS {
            out.write(&builders.finish()?)?;
        }
        Ok(())
    };
    let processed = received
        .iter()
        .try_for_each(|chunk| chunk.iter().try_for_each(|r| row(r)));
    // A failure here drops the receiver, which stops the reader; a failure of the reader ends
    // the chunks early and must not pass for the end of the island.
    drop(received);
    let read = reader.join().map_err(|_| SyncError::Worker)?;
    processed?;
    read?;
    if !hashes.is_empty() {
        delta.subject(&current, &mut hashes)?;
    }
    delta.rest()?;
    delta.send()?;
    delta.flush()?;
    if builders.len > 0 {
        out.write(&builders.finish()?)?;
    }
    let id = close_parquet(out, temp)?;
    let [added, changed, removed] = delta.counts;
    let delta_id = close_parquet(delta.out, delta_temp)?;
    Ok(Produced {
        temp: temp.to_owned(),
        delta_temp: delta_temp.to_owned(),
        id,
        delta: delta_id,
        rows,
        added,
        changed,
        removed,
        left_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::Terms;
    use crate::purpose::{LegalBasis, Purpose};

    #[test]
    fn a_column_of_many_values_carries_a_small_dictionary_and_a_few_values_a_full_one() {
        // 262,144 rows: names nearly all distinct, and a sex code of two values.
        let rows = ROW_GROUP_ROWS;
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("sex", DataType::Utf8, false),
        ]));
        let names = StringArray::from_iter_values((0..rows).map(|i| format!("姓名{i:07}")));
        let sexes = StringArray::from_iter_values((0..rows).map(|i| ["1", "2"][i % 2]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(names) as ArrayRef, Arc::new(sexes) as ArrayRef],
        )
        .expect("a batch");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("s.parquet");
        let file = File::create(&path).expect("created");
        let mut writer =
            ArrowWriter::try_new(file, schema, Some(writer_properties(rows))).expect("a writer");
        writer.write(&batch).expect("written");
        writer.close().expect("closed");
        let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&File::open(&path).expect("opened"))
            .expect("metadata");
        let group = metadata.row_group(0);
        let dictionary = |c: usize| {
            let chunk = group.column(c);
            chunk
                .dictionary_page_offset()
                .map(|start| chunk.data_page_offset() - start)
        };
        let names_dictionary = dictionary(0).expect("a dictionary page, abandoned when full");
        assert!(
            names_dictionary <= DICTIONARY_BYTES as i64 + 1024,
            "the names' dictionary takes {names_dictionary} bytes"
        );
        assert!(
            dictionary(1).is_some_and(|d| d < 1024),
            "sex stays dictionary-encoded"
        );
    }

    #[test]
    fn templated_entries_are_the_canonical_encoding() {
        let grant = Grant {
            id: "grant-1".into(),
            request: "req-1".into(),
            owner: "public_security".into(),
            terms: Terms {
                consumer: "data_bureau".into(),
                dataset: "public_security.resident".into(),
                fields: vec!["name".into(), "birth_date".into()],
                purpose: Purpose::BenefitEligibility,
                legal_basis: LegalBasis {
                    kind: LegalBasisKind::Law,
                    reference: "法".into(),
                },
                valid_from: 0,
                valid_until: i64::MAX,
                scope: None,
                mode: Mode::Bulk,
            },
            granted_at: 0,
            revoked: None,
        };
        let templates = Templates::new(&grant, 1_700_000_000_000).expect("templates");
        let key = SubjectKey::from_bytes([5; 32]);
        for change in [Change::Added, Change::Changed, Change::Removed] {
            let tag = key.tag("52010219900307105X");
            let hex: [u8; 64] = tag.to_hex().into_bytes().try_into().expect("64 digits");
            let expected = access_entry(&grant, 1_700_000_000_000, change, tag)
                .and_then(|e| e.to_bytes().map_err(|e| SyncError::Ledger(e.to_string())))
                .expect("encodes");
            assert_eq!(templates.entry(change, &hex), expected);
            assert_eq!(
                Entry::from_bytes(&expected).expect("canonical").body["change"],
                change.code()
            );
        }
    }

    #[test]
    fn a_subject_is_found_at_its_row_of_a_delta_file_across_row_groups() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("d.delta.parquet");
        let schema = delta_schema();
        let mut out = open_parquet(&path, &schema, 700).expect("open");
        let subjects: Vec<String> = (0..5_000).map(|i| format!("S{:07}", i * 2)).collect();
        for chunk in subjects.chunks(1_500) {
            let changes = vec!["added"; chunk.len()];
            let batch = RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(StringArray::from(chunk.to_vec())),
                    Arc::new(StringArray::from(changes)),
                ],
            )
            .expect("batch");
            out.write(&batch).expect("write");
        }
        close_parquet(out, &path).expect("close");
        for (i, s) in subjects.iter().enumerate() {
            assert_eq!(delta_position(&path, s).expect("reads"), Some(i as u64));
        }
        for absent in ["S0000001", "S0009999", "A", "T", ""] {
            assert_eq!(delta_position(&path, absent).expect("reads"), None);
        }
        assert!(delta_position(&dir.path().join("missing"), "S0000000").is_err());
    }

    #[test]
    fn snapshot_ids_round_trip_through_hex() {
        let id = SnapshotId([0xab; 32]);
        assert_eq!(SnapshotId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(SnapshotId::from_hex("xyz"), None);
        assert_eq!(id.file_name(), format!("{}.parquet", "ab".repeat(32)));
    }
}
