//! The data exchange (数据共享交换平台).
//!
//! Departments keep their data in their own databases (data islands). Through this crate they
//! publish datasets described by the unified data standard, and read each other's data only
//! under grants that name a purpose, a legal basis, a period, a division scope and the fields
//! allowed. The model is X-Road: members known by code and key, signed requests, responses
//! signed by the owner that bind the request's hash.
//!
//! - [`Members`]: departments with their social credit code, names and Ed25519 keys.
//! - [`Islands`]: connectors to the islands (SQLite, PostgreSQL, CSV) configured in TOML
//!   ([`IslandsConfig`]), which find a subject's rows, through local identifiers if need be.
//! - [`Catalog`]: the published datasets, their elements, sensitivity and owners.
//! - [`Grants`]: data requests filed by consumers, approved into [`Grant`]s or rejected by the
//!   owner, and revoked at once; each names a [`Purpose`], a [`LegalBasis`], a period, a
//!   division scope and a [`Mode`].
//! - [`Exchange`]: per-subject reads. A [`SignedReadRequest`] is checked (consumer, signature,
//!   replay, dataset, purpose, subject, grant, fields, scope), answered with a
//!   [`SignedResponse`] signed by the owner that binds the request's hash, and recorded in the
//!   ledger, allowed or refused; every refusal is a [`ReadError`] with a stable `code()`.
//! - [`Exchange::sync`]: bulk sync under a grant of mode [`Mode::Bulk`]. The island is streamed
//!   in subject order ([`Scan`]) into a Parquet [`Snapshot`] of the granted fields under the data
//!   center directory, named by the SHA-256 of its bytes ([`SnapshotId`]). Each version holds
//!   the whole dataset and names its parent; the subjects whose rows changed (by a per-row
//!   hash kept in the file) are listed in a delta file, each gets an access entry through the
//!   ledger's batched append, and one `snapshot` entry names the file's hash. A sync that
//!   changes nothing makes no version. The `sync` module's documentation has the details.
//!
//! - [`Recorder`]: the thread that owns the ledger and appends whatever entries are waiting as
//!   one batch with one fsync; a read is answered only once its entry is durable.
//!
//! This crate is not an HTTP server (the `server` crate wraps [`Exchange::read`]). It keeps
//! no copy of island data except the data center's snapshots, which only a bulk grant puts
//! there; it opens SQLite islands read-only and reads only the fields granted or asked for.
//!
//! ```no_run
//! use errandless_exchange::{
//!     migrate, Exchange, Islands, IslandsConfig, LegalBasis, LegalBasisKind, Mode, NewMember,
//!     Purpose, ReadRequest, Terms,
//! };
//! use errandless_ledger::{NoteSigner, Sequencer, SubjectKey, ALG_ED25519};
//! use errandless_standards::Uscc;
//! use errandless_store::Store;
//! use std::path::Path;
//!
//! # async fn run(civil_affairs: ed25519_dalek::SigningKey, public_security: ed25519_dalek::SigningKey) -> Result<(), Box<dyn std::error::Error>> {
//! let data = Path::new("errandless-data");
//! let store = Store::open(&Store::default_url(data)).await?;
//! migrate(&store).await?;
//! let islands = Islands::open(&IslandsConfig::synthetic(data), data).await?;
//! let log = Sequencer::open(&data.join("ledger"), NoteSigner::generate("ledger.example.gov/p", ALG_ED25519)?)?;
//! let mut exchange = Exchange::new(store, islands, log, SubjectKey::generate());
//! exchange.add_owner_key("public_security", public_security.clone());
//!
//! for (id, code, zh, en, key) in [
//!     ("civil_affairs", 1, "民政厅", "Department of Civil Affairs", &civil_affairs),
//!     ("public_security", 2, "公安厅", "Department of Public Security", &public_security),
//! ] {
//!     let member = NewMember { id: id.into(), uscc: Uscc::compose(b'1', b'1', 520000, code).to_string(), name_zh: zh.into(), name_en: en.into(), key: key.verifying_key() };
//!     exchange.members().register(member, errandless_exchange::now_millis()).await?;
//! }
//! let request = exchange
//!     .file_request(
//!         Terms {
//!             consumer: "civil_affairs".into(),
//!             dataset: "public_security.resident".into(),
//!             fields: vec!["name".into(), "birth_date".into()],
//!             purpose: Purpose::BenefitEligibility,
//!             legal_basis: LegalBasis { kind: LegalBasisKind::AdministrativeRegulation, reference: "社会救助暂行办法 第十一条".into() },
//!             valid_from: 0,
//!             valid_until: i64::MAX,
//!             scope: None,
//!             mode: Mode::PerSubject,
//!         },
//!         errandless_exchange::now_millis(),
//!     )
//!     .await?;
//! exchange.approve(&request.id, "public_security", errandless_exchange::now_millis()).await?;
//!
//! let read = ReadRequest {
//!     request_id: "0001".into(),
//!     consumer: "civil_affairs".into(),
//!     dataset: "public_security.resident".into(),
//!     subject: "52010219900307105X".into(),
//!     fields: vec!["name".into()],
//!     purpose: "benefit_eligibility".into(),
//! };
//! let answer = exchange.read(&read.clone().sign(&civil_affairs)).await?;
//! assert!(answer.verify(&public_security.verifying_key(), &read));
//! # Ok(()) }
//! ```

use errandless_store::{Store, StoreError};

mod cache;
mod catalog;
mod connector;
mod exchange;
mod grant;
mod journal;
mod member;
mod purpose;
mod read;
mod recorder;
mod sync;

pub use catalog::{
    field_sensitivity, Catalog, DatasetDescription, DatasetSummary, FieldDescription,
};
pub use connector::{
    Connector, ConnectorConfig, ConnectorError, ConnectorKind, FieldValue, Islands, IslandsConfig,
    Row, Scan,
};
pub use exchange::Exchange;
pub use grant::{
    DataRequest, Grant, GrantError, GrantState, Grants, Mode, RequestStatus, Revocation, Terms,
};
pub use member::{key_text, parse_key, Member, MemberError, Members, NewMember, RetiredKey};
pub use purpose::{LegalBasis, LegalBasisKind, Purpose, UnknownPurpose};
pub use read::{
    ReadError, ReadRequest, ReadResponse, SignedReadRequest, SignedResponse, MAX_FIELDS,
};
pub use recorder::{Placement, Recorder, RecorderError};
pub use sync::{
    snapshots, touched_subjects, Change, Snapshot, SnapshotId, SyncError, SyncProgress, SyncReport,
    DATACENTER_DIR, LEDGER_BATCH, SNAPSHOT_KIND, SUBJECT_ROW,
};

/// A time as the platform store keeps it: milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The exchange's migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Creates or updates the exchange's tables (`exchange_*`) in the platform store.
pub async fn migrate(store: &Store) -> Result<(), StoreError> {
    store.migrate("exchange", &MIGRATOR).await.map(drop)
}

/// The system clock's time in [`Millis`]; code that depends on the date is handed an
/// [`errandless_standards::Clock`] instead ([`Exchange::with_clock`]).
pub fn now_millis() -> Millis {
    errandless_standards::Clock::system().now_millis()
}

/// A fresh identifier: `prefix-` and 32 random hexadecimal digits.
pub(crate) fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system provides randomness");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}
