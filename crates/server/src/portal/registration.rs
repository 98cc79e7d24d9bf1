//! The catalogue and a citizen's applications in the shape of the GovStack Registration
//! building block's API (`/registration/services`, `/registration/applications`), for other
//! apps. A citizen's requests carry an access token of this server's provider
//! (`Authorization: Bearer …`) with the `citizen_id` scope; the answers are the services
//! crate's `govstack` types. Applications submitted here are checked exactly as the portal's.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use errandless_services::govstack::{
    ApplicationFile, ApplicationFileListItem, ApplicationFileSubmit, GovService,
};
use errandless_services::{Actor, Applicant, CaseError, Catalogue, Lang};
use errandless_standards::CitizenId;
use serde::Deserialize;

use super::{Portal, Shared};
use crate::error::ApiError;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/registration/services", get(services))
        .route("/registration/services/{id}", get(service))
        .route("/registration/services/{id}/applications", post(submit))
        .route("/registration/applications", get(applications))
        .route("/registration/applications/{id}", get(application))
}

/// English when the client asks for it first, else Chinese.
fn lang(headers: &HeaderMap) -> Lang {
    let asked = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if asked.trim_start().to_ascii_lowercase().starts_with("en") {
        Lang::En
    } else {
        Lang::Zh
    }
}

#[derive(Deserialize)]
struct NameQuery {
    name: Option<String>,
}

async fn services(headers: HeaderMap, Query(q): Query<NameQuery>) -> Response {
    let lang = lang(&headers);
    let catalogue = Catalogue::builtin();
    let name: String = q.name.unwrap_or_default().chars().take(100).collect();
    let found: Vec<GovService> = catalogue
        .search(&name, None)
        .into_iter()
        .map(|s| GovService::from_service(s, lang))
        .collect();
    Json(found).into_response()
}

async fn service(headers: HeaderMap, Path(id): Path<String>) -> Response {
    match Catalogue::builtin().service(&id) {
        Some(s) => Json(GovService::from_service(s, lang(&headers))).into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, "unknown_service", "no such service")
            .into_response(),
    }
}

/// The citizen an access token speaks for: their checked ID number, or the answer that
/// refuses the request.
async fn citizen(portal: &Portal, headers: &HeaderMap) -> Result<CitizenId, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "no_token",
                "send an access token of this provider: Authorization: Bearer …",
            )
            .into_response()
        })?;
    let (account, _, scope) = portal
        .identity
        .provider
        // By the clock of the provider that issued the token.
        .account_of_access_token(token.trim(), errandless_identity::now_millis())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is invalid, expired or revoked",
            )
            .into_response()
        })?;
    let checked = account
        .real_name_checked
        .then(|| account.citizen_id.parse::<CitizenId>().ok())
        .flatten();
    let (true, Some(citizen)) = (scope.split_whitespace().any(|s| s == "citizen_id"), checked)
    else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "applications need the citizen_id scope of a real-name checked account",
        )
        .into_response());
    };
    Ok(citizen)
}

/// The citizen an access token speaks for and the applications served here, or the answer
/// that refuses the request.
async fn applicant<'a>(
    portal: &'a Portal,
    headers: &HeaderMap,
) -> Result<(CitizenId, &'a super::services::Applications), Response> {
    let citizen = citizen(portal, headers).await?;
    let apps = portal.applications.as_ref().ok_or_else(no_services)?;
    Ok((citizen, apps))
}

fn no_services() -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "no_services",
        "applications are not served here",
    )
    .into_response()
}

async fn applications(State(portal): State<Shared>, headers: HeaderMap) -> Response {
    let (citizen, apps) = match applicant(&portal, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = citizen.as_str();
    let lang = lang(&headers);
    let catalogue = Catalogue::builtin();
    match apps.cases.of_applicant(id).await {
        Ok(cases) => Json(
            cases
                .iter()
                .filter_map(|c| {
                    let s = catalogue.service(&c.service)?;
                    Some(ApplicationFileListItem::from_case(c, s, id, lang))
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => internal(&e),
    }
}

async fn application(
    State(portal): State<Shared>,
    headers: HeaderMap,
    Path(file): Path<String>,
) -> Response {
    let (citizen, apps) = match applicant(&portal, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = citizen.as_str();
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_file",
            "no such application file",
        )
    };
    let Ok(case) = file.parse::<i64>() else {
        return not_found().into_response();
    };
    // Another citizen's file is as unknown as a missing one.
    match apps
        .cases
        .get_as(case, &Actor::Applicant(id.to_owned()))
        .await
    {
        Ok(record) => match Catalogue::builtin().service(&record.case.service) {
            Some(s) => Json(ApplicationFile::from_case(
                &record.case,
                s,
                id,
                lang(&headers),
            ))
            .into_response(),
            None => not_found().into_response(),
        },
        Err(CaseError::UnknownCase(_) | CaseError::NotVisible { .. }) => {
            not_found().into_response()
        }
        Err(e) => internal(&e),
    }
}

/// A new application file: the form data checked field by field, as in the portal.
async fn submit(
    State(portal): State<Shared>,
    headers: HeaderMap,
    Path(service): Path<String>,
    body: Result<Json<ApplicationFileSubmit>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let (citizen, apps) = match applicant(&portal, &headers).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let id = citizen.as_str();
    let Some(s) = Catalogue::builtin().service(&service) else {
        return ApiError::new(StatusCode::NOT_FOUND, "unknown_service", "no such service")
            .into_response();
    };
    let Json(file) = match body {
        Ok(b) => b,
        Err(e) => {
            return ApiError::new(StatusCode::BAD_REQUEST, "malformed", e.body_text())
                .into_response()
        }
    };
    if file.applicant_id.trim() != id {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "not_the_applicant",
            "applicantId must be the token's own citizen ID number",
        )
        .into_response();
    }
    let values = file.form_data.map(|f| f.data).unwrap_or_default();
    let applicant = Applicant {
        division: citizen.issuing_division(),
        subject: id.to_owned(),
    };
    let lang = lang(&headers);
    match apps
        .cases
        .submit(s, &applicant, &values, portal.app.now())
        .await
    {
        Ok(case) => (
            StatusCode::CREATED,
            Json(ApplicationFile::from_case(&case, s, id, lang)),
        )
            .into_response(),
        Err(CaseError::InvalidApplication(errors)) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({
                "code": "invalid_application",
                "message": "some fields are invalid",
                "fields": errors.iter().map(|e| serde_json::json!({
                    "field": e.field,
                    "code": e.code.code(),
                    "message": e.message.get(lang),
                })).collect::<Vec<_>>(),
            })),
        )
            .into_response(),
        Err(e) => internal(&e),
    }
}

fn internal(e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a registration request failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the request could not be completed",
    )
    .into_response()
}
