//! Refusals as typed JSON: `{ "code": "...", "message": "..." }`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use errandless_exchange::ReadError;
use serde::{Deserialize, Serialize};

/// The body of every refusal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: for reads, `ReadError::code()` of the exchange.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
}

/// An error answer: a status and its body.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                code: code.to_owned(),
                message: message.into(),
            },
        }
    }
}

/// The HTTP status of a read refusal.
pub(crate) fn read_status(e: &ReadError) -> StatusCode {
    match e {
        ReadError::MalformedRequest(_)
        | ReadError::MalformedSubject { .. }
        | ReadError::UnknownPurpose(_) => StatusCode::BAD_REQUEST,
        ReadError::UnknownConsumer(_) | ReadError::BadSignature => StatusCode::UNAUTHORIZED,
        ReadError::ReplayedRequest(_) => StatusCode::CONFLICT,
        ReadError::UnknownDataset(_) => StatusCode::NOT_FOUND,
        ReadError::NoGrant { .. }
        | ReadError::GrantNotYetValid(_)
        | ReadError::GrantExpired(_)
        | ReadError::GrantRevoked(_)
        | ReadError::FieldNotGranted(_)
        | ReadError::SubjectOutsideScope => StatusCode::FORBIDDEN,
        ReadError::Island(_) | ReadError::Ledger(_) => StatusCode::SERVICE_UNAVAILABLE,
        ReadError::OwnerKeyUnavailable(_) | ReadError::Database(_) | ReadError::Snapshot(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> ApiError {
        let status = read_status(&e);
        if status.is_server_error() {
            tracing::warn!(error = ?e, code = e.code(), "read failed");
        }
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}
