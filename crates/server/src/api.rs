//! The routes and the read endpoint.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use errandless_exchange::{ReadRequest, ReadResponse, Row, SignedReadRequest};
use serde::{Deserialize, Serialize};
use tower_http::services::ServeDir;
use utoipa::OpenApi as _;

use crate::error::{ApiError, ErrorBody};
use crate::tracker::{self, DataUsage, Reference};
use crate::App;

/// The consumer, as GovStack names the X-Road client: a member id, or
/// `INSTANCE/CLASS/MEMBER/SUBSYSTEM` whose MEMBER part is the member id.
pub const CLIENT_HEADER: &str = "Information-Mediator-Client";
/// The purpose code of the read.
pub const PURPOSE_HEADER: &str = "X-Purpose";
/// The consumer's request id, unique per consumer (a second use is a replay).
pub const REQUEST_ID_HEADER: &str = "X-Request-Id";
/// Standard base64 of the consumer's Ed25519 signature over the request's canonical bytes.
pub const SIGNATURE_HEADER: &str = "X-Signature";
/// Hex SHA-256 of the request's canonical bytes, as X-Road's `X-Road-Request-Hash`.
pub const REQUEST_HASH_HEADER: &str = "X-Request-Hash";
/// The ledger index that records the read.
pub const LEDGER_INDEX_HEADER: &str = "X-Ledger-Index";
/// The only version of the datasets' API so far.
pub const DATASET_VERSION: &str = "1.0";

pub(crate) fn routes(app: Arc<App>) -> Router {
    let ledger = ServeDir::new(app.config.ledger_dir.clone());
    Router::new()
        .route("/data/myPersonalDataUsage", get(tracker::data_usage))
        .route("/data/{dataset}/{version}/read", get(read))
        .route("/openapi.json", get(openapi_json))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .merge(crate::g2p::routes())
        .nest_service("/ledger", ledger)
        .with_state(app)
}

/// The query of a read.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadParams {
    /// The subject: a citizen ID number, or a social credit code for organisation datasets.
    subject: Option<String>,
    /// The fields wanted, comma-separated standard field names.
    fields: Option<String>,
}

/// The answer to an allowed read.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadBody {
    /// The subject's rows, each holding exactly the requested fields (GovStack `content`).
    #[schema(value_type = Vec<Object>)]
    pub content: Vec<Row>,
    /// What the owner signed: the rows again with the request id, the request's SHA-256, the
    /// consumer, owner, dataset, purpose, grant, time and ledger index.
    #[schema(value_type = Object)]
    pub response: ReadResponse,
    /// Standard base64 of the owner's Ed25519 signature over the response's canonical bytes.
    pub signature: String,
}

/// The member id named by the client header.
pub(crate) fn consumer_of(client: &str) -> String {
    let parts: Vec<&str> = client.split('/').collect();
    match parts.as_slice() {
        [_instance, _class, member, _subsystem] => (*member).to_owned(),
        _ => client.to_owned(),
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A per-subject read (GovStack Digital Registries `read`, as a GET with the subject in the
/// query). Every outcome, allowed or refused, is recorded in the ledger before it is answered.
#[utoipa::path(
    get,
    path = "/data/{dataset}/{version}/read",
    tag = "registries",
    params(
        ("dataset" = String, Path, description = "The dataset, e.g. public_security.resident"),
        ("version" = String, Path, description = "The API version of the dataset: 1.0"),
        ReadParams,
        ("Information-Mediator-Client" = String, Header, description = "The consumer: a member id, or INSTANCE/CLASS/MEMBER/SUBSYSTEM"),
        ("X-Purpose" = String, Header, description = "The purpose code, e.g. benefit_eligibility"),
        ("X-Request-Id" = String, Header, description = "Unique per consumer; a second use is refused as a replay"),
        ("X-Signature" = String, Header, description = "Base64 Ed25519 signature of the consumer over the request's canonical bytes"),
    ),
    responses(
        (status = 200, description = "The fields, signed by the owner", body = ReadBody,
         headers(("X-Request-Hash" = String, description = "Hex SHA-256 of the request's canonical bytes"),
                 ("X-Ledger-Index" = u64, description = "The ledger entry that records the read"))),
        (status = 400, description = "malformed_request, malformed_subject, unknown_purpose", body = ErrorBody),
        (status = 401, description = "unknown_consumer, bad_signature", body = ErrorBody),
        (status = 403, description = "no_grant, grant_not_yet_valid, grant_expired, grant_revoked, field_not_granted, subject_outside_scope", body = ErrorBody),
        (status = 404, description = "unknown_dataset, unknown_version", body = ErrorBody),
        (status = 409, description = "replayed_request", body = ErrorBody),
        (status = 503, description = "island_unavailable, ledger_unavailable", body = ErrorBody),
    )
)]
pub(crate) async fn read(
    State(app): State<Arc<App>>,
    Path((dataset, version)): Path<(String, String)>,
    query: Result<Query<ReadParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    if version != DATASET_VERSION {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_version",
            format!("version {version:?} is not served; use {DATASET_VERSION}"),
        )
        .into_response();
    }
    let params = query.map(|q| q.0).unwrap_or_default();
    let request = ReadRequest {
        request_id: header_text(&headers, REQUEST_ID_HEADER),
        consumer: consumer_of(&header_text(&headers, CLIENT_HEADER)),
        dataset,
        subject: params.subject.unwrap_or_default(),
        fields: params
            .fields
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect(),
        purpose: header_text(&headers, PURPOSE_HEADER),
    };
    let signature = BASE64
        .decode(header_text(&headers, SIGNATURE_HEADER))
        .unwrap_or_default();
    let signed = SignedReadRequest { request, signature };
    // On a task of its own, so a client that hangs up cannot cut a read between its ledger
    // entry and its index row.
    let exchange = Arc::clone(&app.exchange);
    let result = match tokio::spawn(async move { exchange.read(&signed).await }).await {
        Ok(result) => result,
        Err(e) => Err(errandless_exchange::ReadError::Database(format!(
            "the read task failed: {e}"
        ))),
    };
    let outcome = match &result {
        Ok(_) => "allowed",
        Err(e) => e.code(),
    };
    app.metrics.observe_read(outcome, started.elapsed());
    match result {
        Ok(answer) => {
            let hash = answer.response.request_hash.clone();
            let index = answer.response.ledger_index;
            let body = ReadBody {
                content: answer.response.rows.clone(),
                signature: BASE64.encode(&answer.signature),
                response: answer.response,
            };
            let mut response = Json(body).into_response();
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&hash) {
                h.insert(REQUEST_HASH_HEADER, v);
            }
            h.insert(LEDGER_INDEX_HEADER, HeaderValue::from(index));
            response
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "ok", body = String)))]
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// Prometheus metrics in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "OpenMetrics text", body = String)))]
pub(crate) async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.render(
            app.exchange.ledger_size(),
            app.exchange.recorder().batches(),
        ),
    )
        .into_response()
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Errandless",
        description = "Per-subject registry reads under grants, and the citizen's data tracker. \
            Paths under /data follow the GovStack Digital Registries BB API 1.3.0; the read is a \
            GET whose subject and fields are query parameters, with the consumer's signature and \
            X-Road's request hash added. /ledger/ serves the ledger's C2SP tlog-tiles files. \
            /oauth and /.well-known are the OpenID Connect provider (Core, Discovery, RFC 7636 \
            PKCE, RFC 7009, RFC 7662, RP-Initiated Logout); /account is citizen registration.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        read,
        tracker::data_usage,
        healthz,
        metrics,
        crate::g2p::batch_status,
        crate::g2p::batch_detail
    ),
    components(schemas(ReadBody, ErrorBody, DataUsage, Reference))
)]
struct ApiDoc;

/// The OpenAPI description of this server, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::oidc::IdentityDoc::openapi());
    doc
}

async fn openapi_json() -> Response {
    match openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the API description could not be written: {e}"),
        )
        .into_response(),
    }
}
