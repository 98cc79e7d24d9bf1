//! The services' events as the ledger's outbox: `services_events` numbered by `seq`, the cursor
//! in `services_ledger_cursor`, each event's leaf stored beside it once appended (the protocol
//! is `errandless_ledger::outbox`, as the payments and the decisions use it).

use std::sync::Arc;

use errandless_ledger::outbox::{self, Outbox, OutboxError, Planned};
use errandless_ledger::{Entry, Kind, Sequencer, SubjectKey};
use errandless_store::{cursor, Store};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{Any, Row as _, Transaction};
use tokio::sync::Mutex;

use crate::case::{Attribution, CaseState};
use crate::{CaseError, Millis};

/// Events appended to the ledger per batch (one fsync round each).
const LEDGER_CHUNK: i64 = 20_000;
const CURSOR: &str = "services_ledger_cursor";
/// The actor kind, and the ledger actor, of a step the applicant made.
pub(crate) const APPLICANT_ACTOR: &str = "applicant";
const STAFF_ACTOR: &str = "staff";

/// What the cases, ratings and follow-ups share: the store, the ledger, the subject key.
pub(crate) struct Shared {
    pub store: Store,
    pub ledger: Arc<Mutex<Sequencer>>,
    pub key: SubjectKey,
}

/// What an event records, and the ledger entry kind it becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    Transition,
    Rating,
    FollowUpAnswer,
}

impl EventKind {
    /// As stored in `services_events.kind`.
    pub fn code(self) -> &'static str {
        match self {
            EventKind::Transition => "transition",
            EventKind::Rating => "rating",
            EventKind::FollowUpAnswer => "follow_up",
        }
    }

    /// The ledger entry kind.
    fn ledger_kind(self) -> &'static str {
        match self {
            EventKind::Transition => "case",
            EventKind::Rating => "rating",
            EventKind::FollowUpAnswer => "follow_up",
        }
    }

    fn parse(code: &str) -> Option<EventKind> {
        [
            EventKind::Transition,
            EventKind::Rating,
            EventKind::FollowUpAnswer,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }
}

/// An event to record with the change it belongs to.
pub(crate) struct NewEvent<'a> {
    pub case: i64,
    pub kind: EventKind,
    pub from: Option<CaseState>,
    pub to: Option<CaseState>,
    /// A rating's level, or the id of the follow-up answered.
    pub detail: Option<String>,
    pub by: &'a Attribution,
    pub note: Option<&'a str>,
    pub at: Millis,
}

/// Begins a writing transaction that holds the services tables' write lock.
pub(crate) async fn write_tx(store: &Store) -> Result<Transaction<'static, Any>, CaseError> {
    let mut tx = store.pool().begin().await?;
    sqlx::query("UPDATE services_lock SET n = n + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Records `event` as the next `seq`, inside the writer's transaction. Returns its `seq`.
pub(crate) async fn insert_event(
    tx: &mut Transaction<'static, Any>,
    event: &NewEvent<'_>,
) -> Result<i64, CaseError> {
    let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM services_events")
        .fetch_one(&mut **tx)
        .await?
        .try_get("s")?;
    let (kind, id, role) = match event.by {
        Attribution::Applicant => (APPLICANT_ACTOR, None, None),
        Attribution::Staff { id, role } => (STAFF_ACTOR, Some(id.as_str()), Some(role.as_str())),
    };
    sqlx::query(
        "INSERT INTO services_events (seq, case_id, kind, from_state, to_state, detail, \
         actor_kind, actor_id, actor_role, note, at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(seq)
    .bind(event.case)
    .bind(event.kind.code())
    .bind(event.from.map(CaseState::code))
    .bind(event.to.map(CaseState::code))
    .bind(event.detail.as_deref())
    .bind(kind)
    .bind(id)
    .bind(role)
    .bind(event.note)
    .bind(event.at)
    .execute(&mut **tx)
    .await?;
    Ok(seq)
}

fn ledger_err(e: impl std::fmt::Display) -> CaseError {
    CaseError::Ledger(e.to_string())
}

impl From<OutboxError> for CaseError {
    fn from(e: OutboxError) -> CaseError {
        match e {
            OutboxError::Ledger(e) => CaseError::Ledger(e),
            OutboxError::Gap(after) => CaseError::Corrupt(format!(
                "events after {after} are not numbered without gaps"
            )),
        }
    }
}

impl Shared {
    /// Appends every committed event not yet in the ledger.
    pub async fn flush(&self) -> Result<u64, CaseError> {
        let mut log = self.ledger.lock().await;
        outbox::flush(&mut log, &EventOutbox(self), LEDGER_CHUNK).await
    }

    /// Events recorded, and events in the ledger.
    pub async fn backlog(&self) -> Result<(i64, i64), CaseError> {
        let events: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS m FROM services_events")
            .fetch_one(self.store.pool())
            .await?
            .try_get("m")?;
        let (logged, _) = cursor::read(&self.store, CURSOR).await?;
        Ok((events, logged))
    }

    async fn event_rows(&self, after: i64, through: i64) -> Result<Vec<AnyRow>, CaseError> {
        Ok(sqlx::query(
            "SELECT e.seq, e.case_id, e.kind, e.from_state, e.to_state, e.detail, e.actor_kind, \
             e.actor_id, e.actor_role, e.note, e.at_ms, c.service_id, c.service_version, \
             c.department, c.applicant \
             FROM services_events e JOIN services_cases c ON c.id = e.case_id \
             WHERE e.seq > $1 AND e.seq <= $2 ORDER BY e.seq",
        )
        .bind(after)
        .bind(through)
        .fetch_all(self.store.pool())
        .await?)
    }

    /// The ledger entry of one event row, rebuilt the same way every time. It names the
    /// applicant only by their keyed hash, and carries no form value and no free text.
    fn entry_bytes(&self, r: &AnyRow) -> Result<Vec<u8>, CaseError> {
        let seq: i64 = r.try_get("seq")?;
        let kind_code: String = r.try_get("kind")?;
        let kind = EventKind::parse(&kind_code)
            .ok_or_else(|| CaseError::Corrupt(format!("event {seq}: kind {kind_code:?}")))?;
        let actor_kind: String = r.try_get("actor_kind")?;
        let staff_id: Option<String> = r.try_get("actor_id")?;
        let actor = match (actor_kind.as_str(), &staff_id) {
            (APPLICANT_ACTOR, _) => APPLICANT_ACTOR.to_owned(),
            (_, Some(id)) => id.clone(),
            _ => return Err(CaseError::Corrupt(format!("event {seq}: no actor"))),
        };
        let mut entry = Entry::new(Kind::new(kind.ledger_kind()).map_err(ledger_err)?, &actor)
            .map_err(ledger_err)?;
        let service: String = r.try_get("service_id")?;
        let applicant: String = r.try_get("applicant")?;
        entry.purpose = Some(service.clone());
        entry.subject = Some(self.key.tag(&applicant));
        entry.time = Some(u64::try_from(r.try_get::<i64, _>("at_ms")? / 1000).unwrap_or(0));
        let mut body = json!({
            "seq": seq,
            "case": r.try_get::<i64, _>("case_id")?,
            "service": service,
            "service_version": r.try_get::<i64, _>("service_version")?,
            "department": r.try_get::<String, _>("department")?,
            "by": actor_kind,
            "text": r.try_get::<Option<String>, _>("note")?.is_some(),
        });
        if let Some(role) = r.try_get::<Option<String>, _>("actor_role")? {
            body["role"] = json!(role);
        }
        for (column, key) in [("from_state", "from"), ("to_state", "to")] {
            if let Some(v) = r.try_get::<Option<String>, _>(column)? {
                body[key] = json!(v);
            }
        }
        if let Some(detail) = r.try_get::<Option<String>, _>("detail")? {
            let key = match kind {
                EventKind::Rating => "level",
                EventKind::FollowUpAnswer => "follow_up",
                EventKind::Transition => "detail",
            };
            body[key] = json!(detail);
        }
        entry.body = body;
        entry.to_bytes().map_err(ledger_err)
    }
}

/// The outbox over `services_events`.
struct EventOutbox<'a>(&'a Shared);

impl Outbox for EventOutbox<'_> {
    type Error = CaseError;

    async fn cursor(&self) -> Result<(i64, Option<Planned>), CaseError> {
        let (logged, plan) = cursor::read(&self.0.store, CURSOR).await?;
        Ok((
            logged,
            plan.map(|(first, last, index)| Planned { first, last, index }),
        ))
    }

    async fn plan(&self, plan: Planned) -> Result<(), CaseError> {
        cursor::plan(&self.0.store, CURSOR, (plan.first, plan.last, plan.index)).await?;
        Ok(())
    }

    async fn settle(&self, appended: Option<Planned>) -> Result<(), CaseError> {
        let mut tx = self.0.store.pool().begin().await?;
        if let Some(p) = appended {
            sqlx::query(
                "UPDATE services_events SET leaf = seq - $1 + $2 WHERE seq >= $1 AND seq <= $3",
            )
            .bind(p.first)
            .bind(p.index)
            .bind(p.last)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE services_ledger_cursor SET logged_through = $1 WHERE id = 1")
                .bind(p.last)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE services_ledger_cursor SET plan_first_seq = NULL, plan_last_seq = NULL, \
             plan_first_index = NULL WHERE id = 1",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn entries(&self, after: i64, through: i64) -> Result<Vec<(i64, Vec<u8>)>, CaseError> {
        let rows = self.0.event_rows(after, through).await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("seq")?, self.0.entry_bytes(r)?)))
            .collect()
    }
}
