//! Public services (政务服务): what a citizen can apply for, forms filled from shared data,
//! cases handled within their time limits, and the citizen's rating afterwards.
//!
//! - [`Catalogue`]: the services, one TOML file each under `catalogue/` (compiled in, or
//!   loaded from a directory), checked against the unified data standard: department,
//!   [`Category`], bilingual titles, the form's [`FormField`]s (some mapped to a data element),
//!   the [`Evidence`] needed and who can supply it, the [`Assurance`] level, the statutory time
//!   limit in working days. [`Catalogue::search`] finds services in either language.
//! - [`prefill()`]: zero documents. The fields mapped to data elements are read through the
//!   exchange ([`errandless_exchange::Exchange::read`], purpose `application_prefill`), one
//!   signed read per dataset, so each is granted, signed by the owner and in the ledger. A read
//!   refused leaves its fields for the citizen to type, with the reason kept.
//! - [`Cases`]: the applications ([`Cases::submit`] checks the form field by field,
//!   [`FieldError`]) and the cases they open, moved only along legal [`CaseState`]
//!   transitions, each one timestamped, attributed, and recorded in the ledger. Staff queues
//!   are scoped by department and division ([`Scope`]) and ordered by due date; [`calendar`]
//!   counts working days (public holidays are not modelled yet).
//! - [`Ratings`] and [`FollowUps`]: the good/bad review (好差评) of a finished case; a bad rating
//!   opens a follow-up the department must answer within 15 working days.
//! - [`govstack`]: the GovStack Registration building block's shapes for services and
//!   application files, mapped from ours.
//!
//! It is not an HTTP API (the server crate serves these) and not an identity provider: the
//! caller says who the applicant is (their citizen ID number, from a login of the level the
//! service needs) and which staff member acts, with which role and scope.
//!
//! # The ledger, and the order of writes
//!
//! Every transition, rating and answer is an event row (`services_events`, numbered `seq`)
//! committed with the change it records, and then appended to the ledger through the outbox
//! protocol of [`errandless_ledger::outbox`], exactly as the payments and the decisions are:
//! each append is planned in `services_ledger_cursor` first and settled against the log after
//! a crash, so an entry is delayed by a crash, never lost or doubled. Entries name the
//! applicant only as a keyed hash ([`errandless_ledger::SubjectKey`]) and carry no form values
//! and no free text (notes, comments and answers stay in the store; the entry says one was
//! given). Their kinds are `case`, `rating` and `follow_up`. [`Cases::ledger_leaves_of`]
//! lists a citizen's entries for the data tracker.
//!
//! Writers run one at a time (every writing transaction first updates `services_lock`), and a
//! transition updates a case only if it is still in the state it was read in, so of two
//! concurrent transitions of one case exactly one wins; the other is refused and changes
//! nothing.
//!
//! # Example
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use errandless_ledger::{NoteSigner, Sequencer, SubjectKey, ALG_ED25519};
//! use errandless_services::{Applicant, CaseState, Cases, Catalogue, Scope, Staff};
//! use errandless_store::Store;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::open("errandless-data/platform.sqlite").await?;
//! errandless_services::migrate(&store).await?;
//! let signer = NoteSigner::generate("ledger.example.gov/p", ALG_ED25519)?;
//! let log = Sequencer::open(std::path::Path::new("errandless-data/ledger"), signer)?;
//! let key = SubjectKey::generate(); // the installation's subject key, as the exchange's
//! let cases = Cases::new(store, Arc::new(tokio::sync::Mutex::new(log)), key);
//!
//! let service = Catalogue::builtin().service("income-tax-certificate").expect("in the catalogue");
//! let applicant = Applicant {
//!     subject: "52010219900307105X".into(),
//!     division: "520102001003".into(),
//! };
//! let values = BTreeMap::from([
//!     ("name".to_owned(), "王小明".to_owned()),
//!     ("tax_year".to_owned(), "2025".to_owned()),
//!     ("purpose".to_owned(), "loan".to_owned()),
//! ]);
//! let case = cases.submit(service, &applicant, &values, errandless_services::now_millis()).await?;
//! let officer = Staff::new("officer-7", "department_officer", Scope::new("taxation", "520102")?)?;
//! let now = errandless_services::now_millis();
//! cases.transition(case.id, CaseState::Accepted, &officer.into(), None, now).await?;
//! # Ok(()) }
//! ```

pub mod calendar;
mod case;
mod catalogue;
mod form;
pub mod govstack;
mod prefill;
mod rating;
mod record;

pub use case::{
    Actor, Applicant, Attribution, Case, CaseRecord, CaseState, Cases, Queued, Scope, Staff,
    Transition, MAX_NOTE,
};
pub use catalogue::{
    builtin_file_names, Assurance, Catalogue, CatalogueError, Category, Choice, ElementRef,
    Evidence, FieldKind, FormField, Lang, PrefillRead, Service, Text, DEFAULT_MAX_LENGTH,
};
pub use form::{validate, FieldError, FieldErrorCode, Values, MAX_SUBMITTED_FIELDS};
pub use prefill::{
    prefill, Consumer, DatasetRead, Prefill, PrefillError, PrefilledField, Refusal, Source,
};
pub use rating::{
    Answer, FollowUp, FollowUps, Rated, Rating, RatingLevel, Ratings, FOLLOW_UP_DAYS, MAX_ANSWER,
    MAX_COMMENT,
};

use std::time::{SystemTime, UNIX_EPOCH};

use errandless_store::{Store, StoreError};

/// A time as the platform store keeps it: milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The services crate's migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Creates or updates the services tables (`services_*`) in the platform store.
pub async fn migrate(store: &Store) -> Result<(), StoreError> {
    store.migrate("services", &MIGRATOR).await.map(drop)
}

/// The current time in [`Millis`].
pub fn now_millis() -> Millis {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// Why a case, a rating or a follow-up could not be recorded or read. Except for
/// [`CaseError::Ledger`], an operation that returns an error changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaseError {
    /// The submitted form has errors, each tied to its field.
    #[error("the application has {} field error(s)", .0.len())]
    InvalidApplication(Vec<FieldError>),
    #[error("the applicant is invalid: {0}")]
    InvalidApplicant(String),
    #[error("the staff member is invalid: {0}")]
    InvalidStaff(String),
    #[error("the scope is invalid: {0}")]
    InvalidScope(String),
    #[error("the {what} is invalid: {rule}")]
    InvalidText { what: &'static str, rule: String },
    #[error("no case {0}")]
    UnknownCase(i64),
    #[error("case {case} is not visible to this {viewer}")]
    NotVisible { case: i64, viewer: &'static str },
    #[error("case {case} cannot go from {from} to {to}")]
    IllegalTransition {
        case: i64,
        from: CaseState,
        to: CaseState,
    },
    #[error("only staff may move case {case} from {from} to {to}")]
    StaffOnly {
        case: i64,
        from: CaseState,
        to: CaseState,
    },
    #[error("case {case} changed while this step was being made; it is now {now}")]
    Conflict { case: i64, now: CaseState },
    #[error("case {case} is of service {case_service}, not {given}")]
    WrongService {
        case: i64,
        case_service: String,
        given: String,
    },
    #[error("case {case} is {state}; only a delivered or rejected case can be rated")]
    NotRateable { case: i64, state: CaseState },
    #[error("case {0} has already been rated")]
    AlreadyRated(i64),
    #[error("no follow-up {0}")]
    UnknownFollowUp(i64),
    #[error("follow-up {0} has already been answered")]
    AlreadyAnswered(i64),
    /// The change is committed; its ledger entry waits for the next operation or
    /// [`Cases::flush_ledger`].
    #[error("the ledger: {0}")]
    Ledger(String),
    #[error("the services tables are inconsistent: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
}

impl CaseError {
    /// The stable code of the error, for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            CaseError::InvalidApplication(_) => "invalid_application",
            CaseError::InvalidApplicant(_) => "invalid_applicant",
            CaseError::InvalidStaff(_) => "invalid_staff",
            CaseError::InvalidScope(_) => "invalid_scope",
            CaseError::InvalidText { .. } => "invalid_text",
            CaseError::UnknownCase(_) => "unknown_case",
            CaseError::NotVisible { .. } => "not_visible",
            CaseError::IllegalTransition { .. } => "illegal_transition",
            CaseError::StaffOnly { .. } => "staff_only",
            CaseError::Conflict { .. } => "conflict",
            CaseError::WrongService { .. } => "wrong_service",
            CaseError::NotRateable { .. } => "not_rateable",
            CaseError::AlreadyRated(_) => "already_rated",
            CaseError::UnknownFollowUp(_) => "unknown_follow_up",
            CaseError::AlreadyAnswered(_) => "already_answered",
            CaseError::Ledger(_) => "ledger_unavailable",
            CaseError::Corrupt(_) | CaseError::Store(_) | CaseError::Query(_) => "internal",
        }
    }
}
