//! The service catalogue, applications with prefill, case progress and ratings.

use axum::Router;

use super::Shared;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
}
