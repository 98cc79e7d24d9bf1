//! The good/bad review of government services (政务服务“好差评”): the applicant rates a
//! finished case on five levels, once; a bad rating opens a follow-up (差评整改) that the
//! department must answer within 15 working days.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row as _;

use crate::calendar;
use crate::case::{canonical_subject, case_of, check_text, Attribution, CaseState, Scope, Staff};
use crate::record::{self, Shared};
use crate::{Actor, CaseError, Millis};

/// The working days a department has to answer a bad rating.
pub const FOLLOW_UP_DAYS: u32 = 15;
/// The longest comment on a rating, in characters.
pub const MAX_COMMENT: usize = 500;
/// The longest answer to a follow-up, in characters.
pub const MAX_ANSWER: usize = 2000;

/// The five levels of the national scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingLevel {
    VerySatisfied,
    Satisfied,
    BasicallySatisfied,
    Dissatisfied,
    VeryDissatisfied,
}

impl RatingLevel {
    pub const ALL: [RatingLevel; 5] = [
        RatingLevel::VerySatisfied,
        RatingLevel::Satisfied,
        RatingLevel::BasicallySatisfied,
        RatingLevel::Dissatisfied,
        RatingLevel::VeryDissatisfied,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RatingLevel::VerySatisfied => "very_satisfied",
            RatingLevel::Satisfied => "satisfied",
            RatingLevel::BasicallySatisfied => "basically_satisfied",
            RatingLevel::Dissatisfied => "dissatisfied",
            RatingLevel::VeryDissatisfied => "very_dissatisfied",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            RatingLevel::VerySatisfied => "非常满意",
            RatingLevel::Satisfied => "满意",
            RatingLevel::BasicallySatisfied => "基本满意",
            RatingLevel::Dissatisfied => "不满意",
            RatingLevel::VeryDissatisfied => "非常不满意",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            RatingLevel::VerySatisfied => "Very satisfied",
            RatingLevel::Satisfied => "Satisfied",
            RatingLevel::BasicallySatisfied => "Basically satisfied",
            RatingLevel::Dissatisfied => "Dissatisfied",
            RatingLevel::VeryDissatisfied => "Very dissatisfied",
        }
    }

    pub fn parse(code: &str) -> Option<RatingLevel> {
        RatingLevel::ALL.into_iter().find(|l| l.code() == code)
    }

    /// Whether this is a bad rating (差评), which opens a follow-up.
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            RatingLevel::Dissatisfied | RatingLevel::VeryDissatisfied
        )
    }
}

impl fmt::Display for RatingLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The applicant's rating of a case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub case: i64,
    pub level: RatingLevel,
    pub comment: Option<String>,
    pub at: Millis,
}

/// What [`Ratings::rate`] recorded: the rating, and the follow-up a bad one opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rated {
    pub rating: Rating,
    pub follow_up: Option<FollowUp>,
}

/// The department's answer to a follow-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub by: Attribution,
    pub text: String,
    pub at: Millis,
}

/// A bad rating waiting for, or given, the department's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub id: i64,
    pub case: i64,
    pub service: String,
    pub department: String,
    pub level: RatingLevel,
    pub comment: Option<String>,
    pub opened_at: Millis,
    /// The last working day to answer (China Standard Time), `YYYY-MM-DD`.
    pub due_date: String,
    /// The instant the time to answer ends.
    pub due_at: Millis,
    pub answer: Option<Answer>,
}

impl FollowUp {
    /// Whether the time to answer has run out at `now` without an answer.
    pub fn is_overdue(&self, now: Millis) -> bool {
        self.answer.is_none() && now >= self.due_at
    }
}

/// Ratings of cases. Made by [`crate::Cases::ratings`]; cheap to clone.
#[derive(Clone)]
pub struct Ratings {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Ratings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ratings").finish_non_exhaustive()
    }
}

/// Follow-ups of bad ratings. Made by [`crate::Cases::follow_ups`]; cheap to clone.
#[derive(Clone)]
pub struct FollowUps {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for FollowUps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FollowUps").finish_non_exhaustive()
    }
}

const FOLLOW_UP_SELECT: &str = "SELECT f.id, f.case_id, f.opened_ms, f.due_date, f.due_ms, \
     f.answer, f.answered_by, f.answered_role, f.answered_ms, c.service_id, c.department, \
     r.level, r.comment \
     FROM services_follow_ups f JOIN services_cases c ON c.id = f.case_id \
     JOIN services_ratings r ON r.case_id = f.case_id";

fn level_of(code: &str) -> Result<RatingLevel, CaseError> {
    RatingLevel::parse(code).ok_or_else(|| CaseError::Corrupt(format!("unknown rating {code:?}")))
}

fn follow_up_of(r: &AnyRow) -> Result<FollowUp, CaseError> {
    let answer = match r.try_get::<Option<String>, _>("answer")? {
        None => None,
        Some(text) => Some(Answer {
            by: Attribution::Staff {
                id: r
                    .try_get::<Option<String>, _>("answered_by")?
                    .unwrap_or_default(),
                role: r
                    .try_get::<Option<String>, _>("answered_role")?
                    .unwrap_or_default(),
            },
            text,
            at: r
                .try_get::<Option<i64>, _>("answered_ms")?
                .unwrap_or_default(),
        }),
    };
    Ok(FollowUp {
        id: r.try_get("id")?,
        case: r.try_get("case_id")?,
        service: r.try_get("service_id")?,
        department: r.try_get("department")?,
        level: level_of(&r.try_get::<String, _>("level")?)?,
        comment: r.try_get("comment")?,
        opened_at: r.try_get("opened_ms")?,
        due_date: r.try_get("due_date")?,
        due_at: r.try_get("due_ms")?,
        answer,
    })
}

impl Ratings {
    /// The applicant with citizen ID number `subject` rates case `case`: only their own case,
    /// only once, and only once it is delivered or rejected. A bad rating opens a follow-up due
    /// [`FOLLOW_UP_DAYS`] working days after `now`. The comment is at most [`MAX_COMMENT`]
    /// characters. Anything refused changes nothing.
    pub async fn rate(
        &self,
        case: i64,
        subject: &str,
        level: RatingLevel,
        comment: Option<&str>,
        now: Millis,
    ) -> Result<Rated, CaseError> {
        canonical_subject(subject)?;
        let comment = comment
            .filter(|c| !c.trim().is_empty())
            .map(|c| check_text("comment", c, MAX_COMMENT))
            .transpose()?;
        let mut tx = record::write_tx(&self.shared.store).await?;
        let row = sqlx::query("SELECT * FROM services_cases WHERE id = $1")
            .bind(case)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(CaseError::UnknownCase(case))?;
        let found = case_of(&row)?;
        found.check_visible(&Actor::Applicant(subject.to_owned()))?;
        if !matches!(found.state, CaseState::Delivered | CaseState::Rejected) {
            return Err(CaseError::NotRateable {
                case,
                state: found.state,
            });
        }
        let rated = sqlx::query("SELECT case_id FROM services_ratings WHERE case_id = $1")
            .bind(case)
            .fetch_optional(&mut *tx)
            .await?;
        if rated.is_some() {
            return Err(CaseError::AlreadyRated(case));
        }
        let seq = record::insert_event(
            &mut tx,
            &record::NewEvent {
                case,
                kind: record::EventKind::Rating,
                from: None,
                to: None,
                detail: Some(level.code().to_owned()),
                by: &Attribution::Applicant,
                note: comment.as_deref(),
                at: now,
            },
        )
        .await?;
        sqlx::query(
            "INSERT INTO services_ratings (case_id, level, comment, rated_ms, seq) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(case)
        .bind(level.code())
        .bind(comment.as_deref())
        .bind(now)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        let follow_up = if level.is_bad() {
            let id: i64 =
                sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 AS id FROM services_follow_ups")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("id")?;
            let due = calendar::deadline(now, FOLLOW_UP_DAYS);
            sqlx::query(
                "INSERT INTO services_follow_ups (id, case_id, opened_ms, due_date, due_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(case)
            .bind(now)
            .bind(due.date.to_string())
            .bind(due.ends)
            .execute(&mut *tx)
            .await?;
            Some(FollowUp {
                id,
                case,
                service: found.service.clone(),
                department: found.department.clone(),
                level,
                comment: comment.clone(),
                opened_at: now,
                due_date: due.date.to_string(),
                due_at: due.ends,
                answer: None,
            })
        } else {
            None
        };
        tx.commit().await?;
        self.shared.flush().await?;
        Ok(Rated {
            rating: Rating {
                case,
                level,
                comment,
                at: now,
            },
            follow_up,
        })
    }

    /// The cases of `applicant` that have been rated, in one query: what a citizen's list of
    /// cases to rate needs.
    pub async fn rated_by(
        &self,
        applicant: &str,
    ) -> Result<std::collections::BTreeSet<i64>, CaseError> {
        let applicant = canonical_subject(applicant)?;
        let rows = sqlx::query(
            "SELECT r.case_id FROM services_ratings r \
             JOIN services_cases c ON c.id = r.case_id WHERE c.applicant = $1",
        )
        .bind(applicant)
        .fetch_all(self.shared.store.pool())
        .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>("case_id").map_err(CaseError::from))
            .collect()
    }

    /// The rating of case `case`, if it has one.
    pub async fn of_case(&self, case: i64) -> Result<Option<Rating>, CaseError> {
        let row = sqlx::query(
            "SELECT case_id, level, comment, rated_ms FROM services_ratings WHERE case_id = $1",
        )
        .bind(case)
        .fetch_optional(self.shared.store.pool())
        .await?;
        row.map(|r| {
            Ok(Rating {
                case: r.try_get("case_id")?,
                level: level_of(&r.try_get::<String, _>("level")?)?,
                comment: r.try_get("comment")?,
                at: r.try_get("rated_ms")?,
            })
        })
        .transpose()
    }
}

impl FollowUps {
    /// The unanswered follow-ups of cases in `scope`, the earliest due first.
    pub async fn open_in(&self, scope: &Scope) -> Result<Vec<FollowUp>, CaseError> {
        let rows = sqlx::query(&format!(
            "{FOLLOW_UP_SELECT} WHERE f.answered_ms IS NULL AND c.department = $1 \
             AND c.division LIKE $2 ORDER BY f.due_ms, f.id"
        ))
        .bind(scope.department())
        .bind(format!("{}%", scope.division_prefix()))
        .fetch_all(self.shared.store.pool())
        .await?;
        rows.iter().map(follow_up_of).collect()
    }

    /// Follow-up `id`.
    pub async fn get(&self, id: i64) -> Result<FollowUp, CaseError> {
        let row = sqlx::query(&format!("{FOLLOW_UP_SELECT} WHERE f.id = $1"))
            .bind(id)
            .fetch_optional(self.shared.store.pool())
            .await?
            .ok_or(CaseError::UnknownFollowUp(id))?;
        follow_up_of(&row)
    }

    /// The follow-up of case `case`, if a bad rating opened one.
    pub async fn of_case(&self, case: i64) -> Result<Option<FollowUp>, CaseError> {
        let row = sqlx::query(&format!("{FOLLOW_UP_SELECT} WHERE f.case_id = $1"))
            .bind(case)
            .fetch_optional(self.shared.store.pool())
            .await?;
        row.as_ref().map(follow_up_of).transpose()
    }

    /// `staff` answers follow-up `id` (at most [`MAX_ANSWER`] characters): once, and only for
    /// a case in their scope. A late answer is still taken; [`FollowUp::is_overdue`] was true
    /// until then.
    pub async fn answer(
        &self,
        id: i64,
        staff: &Staff,
        text: &str,
        now: Millis,
    ) -> Result<FollowUp, CaseError> {
        staff.check()?;
        let by = Attribution::Staff {
            id: staff.id.clone(),
            role: staff.role.clone(),
        };
        let text = check_text("answer", text, MAX_ANSWER)?;
        let mut tx = record::write_tx(&self.shared.store).await?;
        let row = sqlx::query(
            "SELECT f.case_id, f.answered_ms, c.department, c.division \
             FROM services_follow_ups f JOIN services_cases c ON c.id = f.case_id WHERE f.id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(CaseError::UnknownFollowUp(id))?;
        let case: i64 = row.try_get("case_id")?;
        let department: String = row.try_get("department")?;
        let division: String = row.try_get("division")?;
        if !staff.scope.covers(&department, &division) {
            return Err(CaseError::NotVisible {
                case,
                viewer: "staff member",
            });
        }
        if row.try_get::<Option<i64>, _>("answered_ms")?.is_some() {
            return Err(CaseError::AlreadyAnswered(id));
        }
        let changed = sqlx::query(
            "UPDATE services_follow_ups SET answer = $1, answered_by = $2, answered_role = $3, \
             answered_ms = $4 WHERE id = $5 AND answered_ms IS NULL",
        )
        .bind(&text)
        .bind(&staff.id)
        .bind(&staff.role)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(CaseError::AlreadyAnswered(id));
        }
        record::insert_event(
            &mut tx,
            &record::NewEvent {
                case,
                kind: record::EventKind::FollowUpAnswer,
                from: None,
                to: None,
                detail: Some(id.to_string()),
                by: &by,
                note: Some(&text),
                at: now,
            },
        )
        .await?;
        tx.commit().await?;
        self.shared.flush().await?;
        self.get(id).await
    }
}
