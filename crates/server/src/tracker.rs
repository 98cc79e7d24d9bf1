//! The data tracker: who read one citizen's data, when and why, each read with a ledger
//! receipt that anyone holding the ledger's public key can check offline.

use std::path::Path;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use errandless_exchange::Exchange;
use errandless_ledger::{Entry, NoteVerifier, Receipt};
use errandless_standards::CitizenId;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorBody};
use crate::time::rfc3339;
use crate::App;

/// The query of the tracker (GovStack `myPersonalDataUsage`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsageParams {
    /// The citizen's ID number (GB 11643).
    #[serde(rename = "userId")]
    user_id: Option<String>,
    /// Only reads of this dataset, e.g. `public_security.resident`.
    #[serde(rename = "databaseId")]
    database_id: Option<String>,
}

/// A dataset a read touched (GovStack `refrences` item).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reference {
    #[serde(rename = "ReferenceID")]
    pub reference_id: String,
}

/// One read of the citizen's data, in the GovStack `PersonalDataUsage` shape with the
/// exchange's details and the ledger receipt added.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataUsage {
    /// The ledger index of the record.
    pub id: String,
    /// The member that read (or tried to read).
    pub reader_id: String,
    /// Its unified social credit code, when it is a registered member.
    pub reader_institution_id: Option<String>,
    /// Its name, Chinese then English, when it is a registered member.
    pub reader_institution_name: Option<String>,
    /// When the read was answered (UTC).
    pub search_date_time: String,
    /// The datasets read (GovStack spells it `refrences`).
    pub refrences: Vec<Reference>,
    /// Why: the purpose code the reader gave.
    pub purpose: Option<String>,
    /// The fields asked for.
    pub fields: Vec<String>,
    /// `allowed`, or the refusal code.
    pub outcome: String,
    /// The c2sp.org/tlog-proof receipt: the entry, its inclusion proof and the signed
    /// checkpoint it is proven against.
    pub receipt: String,
    /// That checkpoint on its own (C2SP signed note).
    pub checkpoint: String,
}

/// Who asks: the operator (by token) or someone signed in (by session cookie).
enum Caller {
    Operator,
    Session(errandless_identity::Session),
}

async fn caller(app: &App, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let (Some(expected), Some(given)) = (app.config.operator_token.as_deref(), given) {
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Ok(Caller::Operator);
        }
    }
    if let Some(identity) = &app.identity {
        if let Some(id) = identity.read_cookie(headers, crate::SESSION_COOKIE) {
            if let Ok(session) = identity
                .sessions
                .find(id, errandless_identity::now_millis())
                .await
            {
                return Ok(Caller::Session(session));
            }
        }
    }
    if app.config.operator_token.is_none() && app.identity.is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "tracker_disabled",
            "the data tracker needs an operator token configured until citizens sign in",
        ));
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the data tracker needs a signed-in session, or the operator token as `Authorization: Bearer …`",
    ))
}

/// Whether a signed-in caller may see `subject`'s records: a citizen their own (once their
/// real name is checked), an auditor those of the citizens registered in their division.
async fn may_see(
    app: &App,
    session: &errandless_identity::Session,
    subject: &CitizenId,
) -> Result<(), ApiError> {
    let identity = app
        .identity
        .as_ref()
        .expect("sessions come only from the identity service");
    let forbidden = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "you may see your own records, or as an auditor those of your division",
        )
    };
    let internal = |e: errandless_identity::IdentityError| {
        tracing::warn!(error = %e, "the tracker could not check who asks");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "internal", "try again")
    };
    let account = identity
        .provider
        .accounts()
        .find(&session.account_id)
        .await
        .map_err(|_| forbidden())?;
    if account.real_name_checked && account.citizen_id == subject.as_str() {
        return Ok(());
    }
    let held = identity
        .provider
        .staff()
        .of(&account.id)
        .await
        .map_err(internal)?;
    let division = subject.issuing_division();
    errandless_identity::decide(
        &held,
        errandless_identity::Action::ReadDataUsage {
            division: &division,
        },
    )
    .map_err(|_| forbidden())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who read a citizen's data, when and why (GovStack `myPersonalDataUsage`). Each item
/// carries a receipt proving its record into the ledger's current checkpoint. Operator only
/// until the identity layer lets citizens sign in.
#[utoipa::path(
    get,
    path = "/data/myPersonalDataUsage",
    tag = "registries",
    params(UsageParams),
    security(("operator_token" = [])),
    responses(
        (status = 200, description = "The reads, oldest first", body = Vec<DataUsage>),
        (status = 400, description = "malformed_subject: not a valid ID number", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: a citizen asked about someone else, or staff outside their division", body = ErrorBody),
        (status = 503, description = "tracker_disabled: no operator token configured", body = ErrorBody),
    )
)]
pub(crate) async fn data_usage(
    State(app): State<Arc<App>>,
    query: Result<Query<UsageParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    match usage(&app, query.map(|q| q.0).unwrap_or_default(), &headers).await {
        Ok(items) => Json(items).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn usage(
    app: &Arc<App>,
    params: UsageParams,
    headers: &HeaderMap,
) -> Result<Vec<DataUsage>, ApiError> {
    let caller = caller(app, headers).await?;
    let id =
        CitizenId::parse(params.user_id.as_deref().unwrap_or_default().trim()).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_subject",
                format!("userId is not a valid citizen ID number: {e}"),
            )
        })?;
    if let Caller::Session(session) = &caller {
        may_see(app, session, &id).await?;
    }
    data_usage_of(
        &app.exchange,
        &app.config.ledger_dir,
        &app.config.datacenter_dir,
        &app.config.ledger_verifier,
        &id,
        params.database_id.as_deref(),
    )
    .await
    .map_err(|e| match e {
        TrackerError::Read(e) => ApiError::from(e),
        e => internal(&e),
    })
}

/// The data tracker could not list or prove a citizen's records.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error(transparent)]
    Read(#[from] errandless_exchange::ReadError),
    #[error("the ledger could not prove a record: {0}")]
    Proof(#[from] errandless_ledger::ReceiptError),
    #[error("a ledger record could not be read: {0}")]
    Entry(String),
    #[error("the citizen's decisions could not be listed: {0}")]
    Decisions(#[from] errandless_policy::EnactError),
}

/// Who read `subject`'s data, oldest first, each with a receipt proving its record into the
/// ledger's current checkpoint (checked with `verifier` before it is handed out); only reads
/// of `dataset` when one is given. What `GET /data/myPersonalDataUsage` answers.
pub async fn data_usage_of(
    exchange: &Exchange,
    ledger_dir: &Path,
    datacenter: &Path,
    verifier: &NoteVerifier,
    subject: &CitizenId,
    dataset: Option<&str>,
) -> Result<Vec<DataUsage>, TrackerError> {
    let mut leaves = exchange.accesses_of(subject.as_str(), datacenter).await?;
    // The automated decisions made about the citizen from their data, unless only the reads
    // of one dataset are asked for.
    if dataset.is_none() {
        let decisions =
            errandless_policy::enactment::decisions_of(exchange.store(), subject.as_str()).await?;
        leaves.extend(decisions.iter().filter_map(|d| d.leaf));
        leaves.sort_unstable();
        leaves.dedup();
    }
    let tag = exchange.subject_tag(subject.as_str());
    let dir = ledger_dir.to_path_buf();
    let verifier = verifier.clone();
    let receipts = tokio::task::spawn_blocking(move || {
        leaves
            .into_iter()
            .map(|leaf| Receipt::prove(&dir, &verifier, leaf))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| TrackerError::Entry(e.to_string()))??;
    let mut out = Vec::with_capacity(receipts.len());
    for receipt in receipts {
        let entry = receipt
            .extra
            .as_deref()
            .map(Entry::from_bytes)
            .transpose()
            .map_err(|e| TrackerError::Entry(e.to_string()))?
            .ok_or_else(|| TrackerError::Entry("a receipt without its entry".to_owned()))?;
        // An index line written beside an entry that a crash then lost can name a leaf that a
        // later entry took: only entries about this citizen are theirs.
        if entry.subject != Some(tag) {
            continue;
        }
        // A read names its dataset; a decision names its policy.
        let read = entry.body["dataset"]
            .as_str()
            .or_else(|| entry.body["policy"].as_str())
            .unwrap_or_default()
            .to_owned();
        if dataset.is_some_and(|d| d != read) {
            continue;
        }
        let member = exchange.members().get(&entry.actor).await.ok().flatten();
        let time = entry.time.and_then(|t| i64::try_from(t).ok()).unwrap_or(0);
        out.push(DataUsage {
            id: receipt.index.to_string(),
            reader_id: entry.actor.clone(),
            reader_institution_id: member.as_ref().map(|m| m.uscc.to_string()),
            reader_institution_name: member.map(|m| format!("{} / {}", m.name_zh, m.name_en)),
            search_date_time: rfc3339(time.saturating_mul(1000)),
            refrences: (!read.is_empty())
                .then(|| Reference {
                    reference_id: read.clone(),
                })
                .into_iter()
                .collect(),
            purpose: entry.purpose.clone(),
            fields: entry.body["fields"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            outcome: entry.body["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            checkpoint: String::from_utf8_lossy(&receipt.checkpoint).into_owned(),
            receipt: String::from_utf8_lossy(&receipt.to_text()).into_owned(),
        });
    }
    Ok(out)
}

fn internal(e: &dyn std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "the data tracker failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the ledger could not prove the records",
    )
}
