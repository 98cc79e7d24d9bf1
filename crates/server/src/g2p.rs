//! The GovStack Payments building block's G2P API over the payment files: how a batch stands
//! (`GET /api/v1/batch`, a [`BatchStatusUpdate`]) and its transfers page by page (`GET
//! /api/v1/batch/detail`, [`TransactionDetail`]s). The shapes are `errandless_payments::govstack`;
//! this module is their HTTP.
//!
//! Only the paying member (the finance department that the files pay from) may ask: the
//! request names it in `Information-Mediator-Client`, as the exchange's reads do, and carries
//! its Ed25519 signature over [`query_bytes`] in `X-Signature`. `Platform-TenantId` must be the
//! province's division code. Each answer that gives out transfers is recorded in the ledger
//! (`g2p_query`), and so is each refusal of a known member (`refusal`).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::Signature;
use errandless_payments::govstack::{
    query_bytes, statuses_of_g2p, BatchStatusUpdate, TransactionDetail,
};
use errandless_payments::{now_ms, BatchSummary, PaymentsError};
use serde::Deserialize;

use crate::api::{CLIENT_HEADER, SIGNATURE_HEADER};
use crate::error::ApiError;
use crate::App;

/// The tenant the request scopes its data to: the province's division code.
pub const TENANT_HEADER: &str = "Platform-TenantId";
/// The client's id for the request, echoed in the answer.
pub const CORRELATION_HEADER: &str = "X-CorrelationID";
/// Transfers per page unless the request says otherwise, and at most.
pub const DEFAULT_PAGE_SIZE: i64 = 100;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Who may use the G2P API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct G2pAccess {
    /// The member the payment files pay from.
    pub payer: String,
    /// The `Platform-TenantId` it must send: the province's division code, e.g. `520000`.
    pub tenant: String,
}

pub(crate) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/batch", get(batch_status))
        .route("/api/v1/batch/detail", get(batch_detail))
}

/// The query of both endpoints.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchParams {
    /// The batch: the pain.001 MsgId.
    batch_id: Option<String>,
    /// The page, from 0 (detail only).
    page_no: Option<i64>,
    /// Transfers per page, 1 to 1000, 100 by default (detail only).
    page_size: Option<i64>,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED` (detail only).
    status: Option<String>,
    /// `OUTGOING`, the only direction Errandless pays in (detail only).
    direction: Option<String>,
}

/// The headers of both endpoints, for the API description (the handlers read them by name).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub(crate) struct G2pHeaders {
    /// The province's division code.
    #[param(rename = "Platform-TenantId")]
    tenant: String,
    /// The client's id for the request, at most 20 characters; echoed in the answer.
    #[param(rename = "X-CorrelationID")]
    correlation: String,
    /// The paying member: its id, or `INSTANCE/CLASS/MEMBER/SUBSYSTEM`.
    #[param(rename = "Information-Mediator-Client")]
    client: String,
    /// Base64 Ed25519 signature of the member over the query's canonical bytes.
    #[param(rename = "X-Signature")]
    signature: String,
}

/// How a batch stands: its transfers counted and summed as completed, failed and ongoing.
#[utoipa::path(get, path = "/api/v1/batch", tag = "payments",
    params(
        BatchParams,
        G2pHeaders,
    ),
    responses(
        (status = 200, description = "The GovStack G2P batch status update", body = Object),
        (status = 400, description = "malformed_request", body = crate::error::ErrorBody),
        (status = 401, description = "unknown_consumer, bad_signature", body = crate::error::ErrorBody),
        (status = 403, description = "not_the_payer, unknown_tenant", body = crate::error::ErrorBody),
        (status = 404, description = "g2p_not_served, unknown_batch", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn batch_status(State(app): State<Arc<App>>, asked: Asked) -> Response {
    let store = app.exchange.store();
    let tally = match errandless_payments::batch_tally(store, &asked.batch.msg_id).await {
        Ok(tally) => tally,
        Err(e) => return unavailable(e),
    };
    let update = BatchStatusUpdate::from_tally(&asked.correlation, &asked.batch, &tally, now_ms());
    answered(Json(update).into_response(), &asked.correlation)
}

/// The transfers of a batch, page by page, in the order of the file.
#[utoipa::path(get, path = "/api/v1/batch/detail", tag = "payments",
    params(
        BatchParams,
        G2pHeaders,
    ),
    responses(
        (status = 200, description = "GovStack G2P batch details: one item per transfer", body = Vec<Object>),
        (status = 400, description = "malformed_request, unknown_status", body = crate::error::ErrorBody),
        (status = 401, description = "unknown_consumer, bad_signature", body = crate::error::ErrorBody),
        (status = 403, description = "not_the_payer, unknown_tenant", body = crate::error::ErrorBody),
        (status = 404, description = "g2p_not_served, unknown_batch", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn batch_detail(State(app): State<Arc<App>>, asked: Asked) -> Response {
    let params = &asked.params;
    let page_size = params.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return malformed(format!("pageSize must be 1 to {MAX_PAGE_SIZE}"));
    }
    let page_no = params.page_no.unwrap_or(0);
    let Some(offset) = page_no.checked_mul(page_size).filter(|_| page_no >= 0) else {
        return malformed("pageNo must be 0 or more, and not so large".into());
    };
    let statuses = match params.status.as_deref() {
        None | Some("") => &[][..],
        Some(s) => match statuses_of_g2p(s) {
            Some(statuses) => statuses,
            None => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_status",
                    format!("status {s:?} is none of IN_PROGRESS, COMPLETED, FAILED"),
                )
                .into_response()
            }
        },
    };
    let outgoing = match params.direction.as_deref() {
        None | Some("") | Some("OUTGOING") => true,
        Some("INCOMING") => false,
        Some(d) => return malformed(format!("direction {d:?} is neither OUTGOING nor INCOMING")),
    };
    let store = app.exchange.store();
    let transfers = if outgoing {
        match errandless_payments::batch_transfers(
            store,
            &asked.batch.msg_id,
            statuses,
            offset,
            page_size,
        )
        .await
        {
            Ok(t) => t,
            Err(e) => return unavailable(e),
        }
    } else {
        Vec::new()
    };
    let details: Vec<TransactionDetail> = transfers
        .iter()
        .map(|t| TransactionDetail::from_transfer(t, &asked.batch))
        .collect();
    let body = serde_json::json!({
        "batch": asked.batch.msg_id,
        "page": page_no,
        "transfers": details.len(),
        "correlation": asked.correlation,
    });
    if let Err(e) = crate::record_entry(&app.exchange, "g2p_query", &asked.member, body).await {
        tracing::error!(error = %e, "a G2P query could not be recorded in the ledger");
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ledger_unavailable",
            "the query could not be recorded, so it is not answered",
        )
        .into_response();
    }
    answered(Json(details).into_response(), &asked.correlation)
}

/// A request that passed every check ([`authorised`]): what both handlers start from.
pub(crate) struct Asked {
    member: String,
    correlation: String,
    params: BatchParams,
    batch: BatchSummary,
}

impl FromRequestParts<Arc<App>> for Asked {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        let query = Query::<BatchParams>::from_request_parts(parts, app).await;
        authorised(app, &parts.uri, query, &parts.headers)
            .await
            .map_err(IntoResponse::into_response)
    }
}

/// The checks both endpoints make, in order: the API is served, the query parses, the
/// headers are there, the member is known and signed, is the payer, names the tenant, and
/// the batch exists.
async fn authorised(
    app: &App,
    uri: &Uri,
    query: Result<Query<BatchParams>, axum::extract::rejection::QueryRejection>,
    headers: &HeaderMap,
) -> Result<Asked, ApiError> {
    let Some(access) = &app.config.g2p else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "g2p_not_served",
            "this server has no paying member configured",
        ));
    };
    let Query(params) = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", e.body_text()))?;
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let (client, tenant, correlation) = (
        text(CLIENT_HEADER),
        text(TENANT_HEADER),
        text(CORRELATION_HEADER),
    );
    for (name, value, max) in [
        (CLIENT_HEADER, &client, 200),
        (TENANT_HEADER, &tenant, 20),
        (CORRELATION_HEADER, &correlation, 20),
    ] {
        if value.is_empty() || value.chars().count() > max {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_request",
                format!("the {name} header is required, at most {max} characters"),
            ));
        }
    }
    let member = crate::api::consumer_of(&client);
    let known = app
        .exchange
        .members()
        .get(&member)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database", e.to_string()))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unknown_consumer",
                format!("no member {member:?}"),
            )
        })?;
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let signed = BASE64
        .decode(text(SIGNATURE_HEADER))
        .ok()
        .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
        .is_some_and(|b| {
            known
                .key
                .verify_strict(
                    &query_bytes(&client, &tenant, &correlation, path_and_query),
                    &Signature::from_bytes(&b),
                )
                .is_ok()
        });
    if !signed {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "X-Signature is not the member's signature over this query",
        ));
    }
    let refused = if member != access.payer {
        Some((
            "not_the_payer",
            format!("only {} may follow the payment files", access.payer),
        ))
    } else if tenant != access.tenant {
        Some((
            "unknown_tenant",
            format!("this server serves tenant {}", access.tenant),
        ))
    } else {
        None
    };
    if let Some((code, message)) = refused {
        let body = serde_json::json!({ "action": "g2p", "path": path_and_query, "code": code });
        if let Err(e) = crate::record_entry(&app.exchange, "refusal", &member, body).await {
            tracing::error!(error = %e, "a G2P refusal could not be recorded in the ledger");
        }
        return Err(ApiError::new(StatusCode::FORBIDDEN, code, message));
    }
    let batch_id = params.batch_id.clone().unwrap_or_default();
    if batch_id.is_empty() || batch_id.chars().count() > 50 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "batchId is required, at most 50 characters",
        ));
    }
    let batch = errandless_payments::batch(app.exchange.store(), &batch_id)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database", e.to_string()))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_batch",
                format!("no payment file has MsgId {batch_id:?}"),
            )
        })?;
    Ok(Asked {
        member,
        correlation,
        params,
        batch,
    })
}

fn malformed(message: String) -> Response {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_request", message).into_response()
}

fn unavailable(e: PaymentsError) -> Response {
    tracing::error!(error = %e, "the payment tables could not be read");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database",
        "the payment tables could not be read",
    )
    .into_response()
}

/// The answer, with the client's correlation id echoed.
fn answered(mut response: Response, correlation: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(correlation) {
        response.headers_mut().insert(CORRELATION_HEADER, v);
    }
    response
}
