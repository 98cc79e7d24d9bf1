//! Applications and the cases they open: states, legal transitions, attribution, time limits,
//! staff queues and who may see what.

use std::fmt;
use std::sync::Arc;

use errandless_ledger::{Sequencer, SubjectKey};
use errandless_standards::{CitizenId, DivisionCode, Standard};
use errandless_store::Store;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row as _;
use tokio::sync::Mutex;

use crate::calendar::{self, Deadline};
use crate::form::{validate, Values};
use crate::record::{self, Shared};
use crate::{CaseError, Millis, Service};

/// Where a case stands.
///
/// ```text
/// submitted ──▶ accepted ──▶ in_review ──▶ approved ──▶ delivered
///     │                       │   ▲   │
///     │                       ▼   │   └──▶ rejected
///     └──▶ rejected      more_info_needed
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// The citizen applied (申请).
    Submitted,
    /// The department took the case on (受理).
    Accepted,
    /// Under review (审查).
    InReview,
    /// Waiting for the citizen to supply more information (补正).
    MoreInfoNeeded,
    /// Approved (办结·准予).
    Approved,
    /// Refused, with reasons (不予受理 / 不予许可).
    Rejected,
    /// The result (licence, certificate, payment) reached the citizen (送达).
    Delivered,
}

impl CaseState {
    pub const ALL: [CaseState; 7] = [
        CaseState::Submitted,
        CaseState::Accepted,
        CaseState::InReview,
        CaseState::MoreInfoNeeded,
        CaseState::Approved,
        CaseState::Rejected,
        CaseState::Delivered,
    ];

    /// The stable code, as stored and in the ledger.
    pub fn code(self) -> &'static str {
        match self {
            CaseState::Submitted => "submitted",
            CaseState::Accepted => "accepted",
            CaseState::InReview => "in_review",
            CaseState::MoreInfoNeeded => "more_info_needed",
            CaseState::Approved => "approved",
            CaseState::Rejected => "rejected",
            CaseState::Delivered => "delivered",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            CaseState::Submitted => "已提交",
            CaseState::Accepted => "已受理",
            CaseState::InReview => "审查中",
            CaseState::MoreInfoNeeded => "待补正",
            CaseState::Approved => "已办结（准予）",
            CaseState::Rejected => "不予办理",
            CaseState::Delivered => "已送达",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            CaseState::Submitted => "Submitted",
            CaseState::Accepted => "Accepted",
            CaseState::InReview => "In review",
            CaseState::MoreInfoNeeded => "More information needed",
            CaseState::Approved => "Approved",
            CaseState::Rejected => "Rejected",
            CaseState::Delivered => "Delivered",
        }
    }

    pub fn parse(code: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The states a case in this state may move to.
    pub fn next(self) -> &'static [CaseState] {
        use CaseState::*;
        match self {
            Submitted => &[Accepted, Rejected],
            Accepted => &[InReview],
            InReview => &[MoreInfoNeeded, Approved, Rejected],
            MoreInfoNeeded => &[InReview],
            Approved => &[Delivered],
            Rejected | Delivered => &[],
        }
    }

    pub fn can_become(self, to: CaseState) -> bool {
        self.next().contains(&to)
    }

    /// Whether nothing more happens to the case.
    pub fn is_final(self) -> bool {
        self.next().is_empty()
    }

    /// Whether the department has decided, so the time limit no longer runs.
    pub fn is_decided(self) -> bool {
        matches!(
            self,
            CaseState::Approved | CaseState::Rejected | CaseState::Delivered
        )
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What staff see: one department's cases of applicants in divisions under a prefix.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    department: String,
    division_prefix: String,
}

impl Scope {
    /// `department` is a department of the unified standard; `division_prefix` is 0 to 12
    /// digits of a division code (`52` a province, `520102` a county, empty for everywhere).
    pub fn new(department: &str, division_prefix: &str) -> Result<Scope, CaseError> {
        if Standard::builtin().department(department).is_none() {
            return Err(CaseError::InvalidScope(format!(
                "{department:?} is not a department of the unified data standard"
            )));
        }
        if division_prefix.len() > 12 || !division_prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CaseError::InvalidScope(format!(
                "{division_prefix:?} is not a division-code prefix (up to 12 digits)"
            )));
        }
        Ok(Scope {
            department: department.to_owned(),
            division_prefix: division_prefix.to_owned(),
        })
    }

    pub fn department(&self) -> &str {
        &self.department
    }

    pub fn division_prefix(&self) -> &str {
        &self.division_prefix
    }

    /// Whether a case of `department` for an applicant in `division` is in this scope.
    pub fn covers(&self, department: &str, division: &str) -> bool {
        self.department == department && division.starts_with(&self.division_prefix)
    }

    /// The `LIKE` pattern of the divisions in scope (the prefix holds digits only).
    fn division_pattern(&self) -> String {
        format!("{}%", self.division_prefix)
    }
}

/// A staff member acting on cases: their account id, the role they act in, and their scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staff {
    pub id: String,
    pub role: String,
    pub scope: Scope,
}

impl Staff {
    /// `id` is 1 to 128 printable ASCII characters; `role` is a role code such as
    /// `department_officer` (lower-case letters and `_`, at most 64).
    pub fn new(id: &str, role: &str, scope: Scope) -> Result<Staff, CaseError> {
        let staff = Staff {
            id: id.to_owned(),
            role: role.to_owned(),
            scope,
        };
        staff.check()?;
        Ok(staff)
    }

    pub(crate) fn check(&self) -> Result<(), CaseError> {
        let id_ok =
            (1..=128).contains(&self.id.len()) && self.id.bytes().all(|b| b.is_ascii_graphic());
        if !id_ok || self.id == record::APPLICANT_ACTOR {
            return Err(CaseError::InvalidStaff(format!(
                "staff id {:?} must be 1 to 128 printable ASCII characters",
                self.id.chars().take(32).collect::<String>()
            )));
        }
        let role_ok = (1..=64).contains(&self.role.len())
            && self
                .role
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
        if !role_ok {
            return Err(CaseError::InvalidStaff(format!(
                "role {:?} must be 1 to 64 lower-case letters and '_'",
                self.role.chars().take(32).collect::<String>()
            )));
        }
        Ok(())
    }
}

/// Who acts on, or looks at, a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The citizen, by their citizen ID number.
    Applicant(String),
    Staff(Staff),
}

impl From<Staff> for Actor {
    fn from(staff: Staff) -> Actor {
        Actor::Staff(staff)
    }
}

impl Actor {
    fn viewer(&self) -> &'static str {
        match self {
            Actor::Applicant(_) => "applicant",
            Actor::Staff(_) => "staff member",
        }
    }
}

/// Who made a step, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attribution {
    Applicant,
    Staff { id: String, role: String },
}

/// The applicant of a new case.
#[derive(Clone, PartialEq, Eq)]
pub struct Applicant {
    /// The citizen ID number (GB 11643).
    pub subject: String,
    /// The 12-digit code of the division they apply from (their registered residence), by
    /// which the case reaches the staff of that division.
    pub division: String,
}

impl fmt::Debug for Applicant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applicant")
            .field("subject", &mask(&self.subject))
            .field("division", &self.division)
            .finish()
    }
}

/// An ID number with its middle hidden, for `Debug` output.
fn mask(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (&chars[..4], &chars[chars.len() - 4..]);
    format!(
        "{}{}{}",
        head.iter().collect::<String>(),
        "*".repeat(chars.len() - 8),
        tail.iter().collect::<String>()
    )
}

/// The canonical form of a citizen ID number, or why it is not one.
pub(crate) fn canonical_subject(subject: &str) -> Result<String, CaseError> {
    CitizenId::parse_lenient(subject)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| CaseError::InvalidApplicant(format!("citizen ID number: {e}")))
}

/// One case.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: i64,
    pub service: String,
    pub service_version: u32,
    /// The department that handles it.
    pub department: String,
    /// The applicant's citizen ID number.
    pub applicant: String,
    /// The applicant's 12-digit division code.
    pub division: String,
    pub state: CaseState,
    /// The form's values, as checked and stored.
    pub values: Values,
    pub time_limit_days: u32,
    pub submitted_at: Millis,
    /// The last working day of the time limit (China Standard Time), `YYYY-MM-DD`.
    pub due_date: String,
    /// The instant the time limit ends: overdue from then on while undecided.
    pub due_at: Millis,
    pub updated_at: Millis,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Case")
            .field("id", &self.id)
            .field("service", &self.service)
            .field("department", &self.department)
            .field("applicant", &mask(&self.applicant))
            .field("division", &self.division)
            .field("state", &self.state)
            .field("fields", &self.values.keys().collect::<Vec<_>>())
            .field("due_date", &self.due_date)
            .finish_non_exhaustive()
    }
}

impl Case {
    /// Whether the time limit has run out at `now` with the case still undecided.
    pub fn is_overdue(&self, now: Millis) -> bool {
        !self.state.is_decided() && now >= self.due_at
    }

    /// Whether `actor` may see this case: the applicant their own, staff the cases in their
    /// scope. Otherwise [`CaseError::NotVisible`].
    pub fn check_visible(&self, actor: &Actor) -> Result<(), CaseError> {
        let visible = match actor {
            Actor::Applicant(subject) => {
                canonical_subject(subject).is_ok_and(|s| s == self.applicant)
            }
            Actor::Staff(staff) => staff.scope.covers(&self.department, &self.division),
        };
        if visible {
            Ok(())
        } else {
            Err(CaseError::NotVisible {
                case: self.id,
                viewer: actor.viewer(),
            })
        }
    }
}

/// One step of a case's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub seq: i64,
    /// `None` for the submission, which opens the case.
    pub from: Option<CaseState>,
    pub to: CaseState,
    pub by: Attribution,
    pub note: Option<String>,
    pub at: Millis,
    /// The ledger entry's index, once appended.
    pub ledger_index: Option<u64>,
}

/// A case and its history, oldest step first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub case: Case,
    pub history: Vec<Transition>,
}

/// A case in a staff queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Queued {
    pub case: Case,
    pub overdue: bool,
}

/// The cases of the platform store, with their history in the ledger. Cheap to clone.
#[derive(Clone)]
pub struct Cases {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Cases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cases")
            .field("store", &self.shared.store)
            .finish_non_exhaustive()
    }
}

/// The longest note on a transition, in characters.
pub const MAX_NOTE: usize = 1000;

/// Checks free text: at most `max` characters, no control characters but line breaks.
pub(crate) fn check_text(what: &'static str, text: &str, max: usize) -> Result<String, CaseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(CaseError::InvalidText {
            what,
            rule: "must not be blank".into(),
        });
    }
    if text.chars().count() > max {
        return Err(CaseError::InvalidText {
            what,
            rule: format!("must be at most {max} characters"),
        });
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(CaseError::InvalidText {
            what,
            rule: "must not contain control characters".into(),
        });
    }
    Ok(text.replace("\r\n", "\n"))
}

pub(crate) fn case_of(r: &AnyRow) -> Result<Case, CaseError> {
    let state: String = r.try_get("state")?;
    let form: String = r.try_get("form")?;
    let id: i64 = r.try_get("id")?;
    Ok(Case {
        id,
        service: r.try_get("service_id")?,
        service_version: u32::try_from(r.try_get::<i64, _>("service_version")?)
            .map_err(|_| CaseError::Corrupt(format!("case {id}: service version")))?,
        department: r.try_get("department")?,
        applicant: r.try_get("applicant")?,
        division: r.try_get("division")?,
        state: CaseState::parse(&state)
            .ok_or_else(|| CaseError::Corrupt(format!("case {id}: unknown state {state:?}")))?,
        values: serde_json::from_str(&form)
            .map_err(|e| CaseError::Corrupt(format!("case {id}: form: {e}")))?,
        time_limit_days: u32::try_from(r.try_get::<i64, _>("time_limit_days")?)
            .map_err(|_| CaseError::Corrupt(format!("case {id}: time limit")))?,
        submitted_at: r.try_get("submitted_ms")?,
        due_date: r.try_get("due_date")?,
        due_at: r.try_get("due_ms")?,
        updated_at: r.try_get("updated_ms")?,
    })
}

fn attribution_of(r: &AnyRow) -> Result<Attribution, CaseError> {
    let kind: String = r.try_get("actor_kind")?;
    Ok(match kind.as_str() {
        record::APPLICANT_ACTOR => Attribution::Applicant,
        _ => Attribution::Staff {
            id: r
                .try_get::<Option<String>, _>("actor_id")?
                .unwrap_or_default(),
            role: r
                .try_get::<Option<String>, _>("actor_role")?
                .unwrap_or_default(),
        },
    })
}

fn leaf_of(r: &AnyRow) -> Result<Option<u64>, CaseError> {
    Ok(r.try_get::<Option<i64>, _>("leaf")?
        .and_then(|l| u64::try_from(l).ok()))
}

impl Cases {
    /// Cases over a migrated `store` ([`crate::migrate`]), recording in `ledger` with
    /// applicants hashed under `key` (the platform's subject key, the one the exchange uses,
    /// so the data tracker finds a citizen's entries by one tag).
    pub fn new(store: Store, ledger: Arc<Mutex<Sequencer>>, key: SubjectKey) -> Cases {
        Cases {
            shared: Arc::new(Shared { store, ledger, key }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The ratings of these cases.
    pub fn ratings(&self) -> crate::Ratings {
        crate::Ratings {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The follow-ups of bad ratings of these cases.
    pub fn follow_ups(&self) -> crate::FollowUps {
        crate::FollowUps {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Applies for `service`: checks `applicant` and every value against the form, then opens
    /// a case in state `submitted`, due `service.time_limit_days` working days after `now`.
    /// An invalid application is [`CaseError::InvalidApplication`] with every field's error,
    /// and changes nothing.
    pub async fn submit(
        &self,
        service: &Service,
        applicant: &Applicant,
        values: &Values,
        now: Millis,
    ) -> Result<Case, CaseError> {
        let subject = canonical_subject(&applicant.subject)?;
        let division = DivisionCode::parse(applicant.division.trim())
            .map_err(|e| CaseError::InvalidApplicant(format!("division code: {e}")))?
            .to_string();
        let values = validate(service, values).map_err(CaseError::InvalidApplication)?;
        let form = serde_json::to_string(&values)
            .map_err(|e| CaseError::Corrupt(format!("the form does not encode: {e}")))?;
        let Deadline { date, ends } = calendar::deadline(now, service.time_limit_days);

        let mut tx = record::write_tx(&self.shared.store).await?;
        let id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 AS id FROM services_cases")
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
        sqlx::query(
            "INSERT INTO services_cases (id, service_id, service_version, department, applicant, \
             division, state, form, time_limit_days, submitted_ms, due_date, due_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(id)
        .bind(&service.id)
        .bind(i64::from(service.version))
        .bind(&service.department)
        .bind(&subject)
        .bind(&division)
        .bind(CaseState::Submitted.code())
        .bind(&form)
        .bind(i64::from(service.time_limit_days))
        .bind(now)
        .bind(date.to_string())
        .bind(ends)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        record::insert_event(
            &mut tx,
            &record::NewEvent {
                case: id,
                kind: record::EventKind::Transition,
                from: None,
                to: Some(CaseState::Submitted),
                detail: None,
                by: &Attribution::Applicant,
                note: None,
                at: now,
            },
        )
        .await?;
        tx.commit().await?;
        self.shared.flush().await?;
        Ok(Case {
            id,
            service: service.id.clone(),
            service_version: service.version,
            department: service.department.clone(),
            applicant: subject,
            division,
            state: CaseState::Submitted,
            values,
            time_limit_days: service.time_limit_days,
            submitted_at: now,
            due_date: date.to_string(),
            due_at: ends,
            updated_at: now,
        })
    }

    /// Moves case `id` to `to`, attributed to `actor`, with an optional note. Only a legal
    /// transition ([`CaseState::next`]) is made, by staff whose scope covers the case; the
    /// applicant may only move their own case from `more_info_needed` back to `in_review`
    /// (see also [`Cases::supply`]). Anything else is refused and changes nothing.
    pub async fn transition(
        &self,
        id: i64,
        to: CaseState,
        actor: &Actor,
        note: Option<&str>,
        now: Millis,
    ) -> Result<Case, CaseError> {
        self.step(id, to, actor, note, None, now).await
    }

    /// The applicant supplies what was asked for: new values for the whole form (checked like
    /// a submission) and an optional note, and the case goes back to `in_review`.
    pub async fn supply(
        &self,
        id: i64,
        service: &Service,
        subject: &str,
        values: &Values,
        note: Option<&str>,
        now: Millis,
    ) -> Result<Case, CaseError> {
        self.step(
            id,
            CaseState::InReview,
            &Actor::Applicant(subject.to_owned()),
            note,
            Some((service, values)),
            now,
        )
        .await
    }

    async fn step(
        &self,
        id: i64,
        to: CaseState,
        actor: &Actor,
        note: Option<&str>,
        form: Option<(&Service, &Values)>,
        now: Millis,
    ) -> Result<Case, CaseError> {
        let note = note
            .filter(|n| !n.trim().is_empty())
            .map(|n| check_text("note", n, MAX_NOTE))
            .transpose()?;
        let by = match actor {
            Actor::Applicant(subject) => {
                canonical_subject(subject)?;
                Attribution::Applicant
            }
            Actor::Staff(staff) => {
                staff.check()?;
                Attribution::Staff {
                    id: staff.id.clone(),
                    role: staff.role.clone(),
                }
            }
        };
        let mut tx = record::write_tx(&self.shared.store).await?;
        let row = sqlx::query("SELECT * FROM services_cases WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(CaseError::UnknownCase(id))?;
        let mut case = case_of(&row)?;
        case.check_visible(actor)?;
        let from = case.state;
        if !from.can_become(to) {
            return Err(CaseError::IllegalTransition { case: id, from, to });
        }
        let by_applicant = matches!(actor, Actor::Applicant(_));
        if by_applicant && !(from == CaseState::MoreInfoNeeded && to == CaseState::InReview) {
            return Err(CaseError::StaffOnly { case: id, from, to });
        }
        let values = match form {
            None => None,
            Some((service, _)) if service.id != case.service => {
                return Err(CaseError::WrongService {
                    case: id,
                    case_service: case.service.clone(),
                    given: service.id.clone(),
                });
            }
            Some((service, values)) => {
                Some(validate(service, values).map_err(CaseError::InvalidApplication)?)
            }
        };
        // Conditional on the state read: of two racing steps, one finds the case moved on.
        let changed = match &values {
            None => {
                sqlx::query(
                    "UPDATE services_cases SET state = $1, updated_ms = $2 \
                     WHERE id = $3 AND state = $4",
                )
                .bind(to.code())
                .bind(now)
                .bind(id)
                .bind(from.code())
                .execute(&mut *tx)
                .await?
            }
            Some(values) => {
                let form = serde_json::to_string(values)
                    .map_err(|e| CaseError::Corrupt(format!("the form does not encode: {e}")))?;
                sqlx::query(
                    "UPDATE services_cases SET state = $1, updated_ms = $2, form = $3 \
                     WHERE id = $4 AND state = $5",
                )
                .bind(to.code())
                .bind(now)
                .bind(form)
                .bind(id)
                .bind(from.code())
                .execute(&mut *tx)
                .await?
            }
        }
        .rows_affected();
        if changed != 1 {
            let now_state: String = sqlx::query("SELECT state FROM services_cases WHERE id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("state")?;
            return Err(CaseError::Conflict {
                case: id,
                now: CaseState::parse(&now_state).unwrap_or(from),
            });
        }
        record::insert_event(
            &mut tx,
            &record::NewEvent {
                case: id,
                kind: record::EventKind::Transition,
                from: Some(from),
                to: Some(to),
                detail: None,
                by: &by,
                note: note.as_deref(),
                at: now,
            },
        )
        .await?;
        tx.commit().await?;
        self.shared.flush().await?;
        case.state = to;
        case.updated_at = now;
        if let Some(values) = values {
            case.values = values;
        }
        Ok(case)
    }

    /// Case `id` with its history.
    pub async fn get(&self, id: i64) -> Result<CaseRecord, CaseError> {
        let row = sqlx::query("SELECT * FROM services_cases WHERE id = $1")
            .bind(id)
            .fetch_optional(self.shared.store.pool())
            .await?
            .ok_or(CaseError::UnknownCase(id))?;
        let case = case_of(&row)?;
        let rows = sqlx::query(
            "SELECT * FROM services_events WHERE case_id = $1 AND kind = $2 ORDER BY seq",
        )
        .bind(id)
        .bind(record::EventKind::Transition.code())
        .fetch_all(self.shared.store.pool())
        .await?;
        let mut history = Vec::with_capacity(rows.len());
        for r in &rows {
            let parse = |column: &str| -> Result<Option<CaseState>, CaseError> {
                r.try_get::<Option<String>, _>(column)?
                    .map(|s| {
                        CaseState::parse(&s).ok_or_else(|| {
                            CaseError::Corrupt(format!("case {id}: unknown state {s:?}"))
                        })
                    })
                    .transpose()
            };
            history.push(Transition {
                seq: r.try_get("seq")?,
                from: parse("from_state")?,
                to: parse("to_state")?.ok_or_else(|| {
                    CaseError::Corrupt(format!("case {id}: a step with no state"))
                })?,
                by: attribution_of(r)?,
                note: r.try_get("note")?,
                at: r.try_get("at_ms")?,
                ledger_index: leaf_of(r)?,
            });
        }
        Ok(CaseRecord { case, history })
    }

    /// Case `id` with its history, if `actor` may see it ([`Case::check_visible`]).
    pub async fn get_as(&self, id: i64, actor: &Actor) -> Result<CaseRecord, CaseError> {
        let record = self.get(id).await?;
        record.case.check_visible(actor)?;
        Ok(record)
    }

    /// The cases of the applicant with citizen ID number `subject`, oldest first.
    pub async fn of_applicant(&self, subject: &str) -> Result<Vec<Case>, CaseError> {
        let subject = canonical_subject(subject)?;
        let rows = sqlx::query("SELECT * FROM services_cases WHERE applicant = $1 ORDER BY id")
            .bind(subject)
            .fetch_all(self.shared.store.pool())
            .await?;
        rows.iter().map(case_of).collect()
    }

    /// The open cases in `scope` (every state but `delivered` and `rejected`), the earliest
    /// due first, each marked overdue if its time limit has run out at `now` undecided.
    pub async fn queue(&self, scope: &Scope, now: Millis) -> Result<Vec<Queued>, CaseError> {
        let rows = sqlx::query(
            "SELECT * FROM services_cases WHERE department = $1 AND division LIKE $2 \
             AND state NOT IN ('delivered', 'rejected') ORDER BY due_ms, id",
        )
        .bind(scope.department())
        .bind(scope.division_pattern())
        .fetch_all(self.shared.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let case = case_of(r)?;
                let overdue = case.is_overdue(now);
                Ok(Queued { case, overdue })
            })
            .collect()
    }

    /// The ledger leaves of every step, rating and answer on the cases of `subject`, in order:
    /// what the data tracker lists for a citizen beside the reads of their data.
    pub async fn ledger_leaves_of(&self, subject: &str) -> Result<Vec<u64>, CaseError> {
        let subject = canonical_subject(subject)?;
        let rows = sqlx::query(
            "SELECT e.leaf FROM services_events e JOIN services_cases c ON c.id = e.case_id \
             WHERE c.applicant = $1 AND e.leaf IS NOT NULL ORDER BY e.leaf",
        )
        .bind(subject)
        .fetch_all(self.shared.store.pool())
        .await?;
        rows.iter()
            .map(|r| Ok(leaf_of(r)?.unwrap_or_default()))
            .collect()
    }

    /// Appends every recorded event not yet in the ledger, first settling an append that an
    /// interrupted run planned. Returns how many it appended.
    pub async fn flush_ledger(&self) -> Result<u64, CaseError> {
        self.shared.flush().await
    }

    /// Events recorded, and events in the ledger.
    pub async fn ledger_backlog(&self) -> Result<(i64, i64), CaseError> {
        self.shared.backlog().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transitions_are_the_documented_ones() {
        use CaseState::*;
        let legal: Vec<(CaseState, CaseState)> = CaseState::ALL
            .into_iter()
            .flat_map(|f| CaseState::ALL.into_iter().map(move |t| (f, t)))
            .filter(|(f, t)| f.can_become(*t))
            .collect();
        assert_eq!(
            legal,
            [
                (Submitted, Accepted),
                (Submitted, Rejected),
                (Accepted, InReview),
                (InReview, MoreInfoNeeded),
                (InReview, Approved),
                (InReview, Rejected),
                (MoreInfoNeeded, InReview),
                (Approved, Delivered),
            ]
        );
        assert!(Delivered.is_final() && Rejected.is_final() && !Approved.is_final());
    }

    #[test]
    fn states_are_snake_case_in_json() {
        for s in CaseState::ALL {
            assert_eq!(
                serde_json::to_string(&s).expect("encodes"),
                format!("\"{}\"", s.code())
            );
            assert_eq!(CaseState::parse(s.code()), Some(s));
        }
    }

    #[test]
    fn scopes_cover_by_department_and_prefix() {
        let county = Scope::new("taxation", "520102").expect("a scope");
        assert!(county.covers("taxation", "520102001003"));
        assert!(!county.covers("taxation", "520103001003"));
        assert!(!county.covers("courts", "520102001003"));
        assert!(Scope::new("taxation", "")
            .expect("province-wide")
            .covers("taxation", "520103001003"));
        assert!(Scope::new("tax", "52").is_err());
        assert!(Scope::new("taxation", "52%").is_err());
        assert!(Scope::new("taxation", "5201020010031").is_err());
    }

    #[test]
    fn debug_output_masks_the_applicant() {
        let a = Applicant {
            subject: "52010219900307105X".into(),
            division: "520102001003".into(),
        };
        let text = format!("{a:?}");
        assert!(!text.contains("52010219900307105X"), "{text}");
        assert!(text.contains("5201**********105X"), "{text}");
    }
}
