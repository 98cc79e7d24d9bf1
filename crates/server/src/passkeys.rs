//! The passkey endpoints: a logged-in citizen registers passkeys, and steps a session up to L3
//! with one. Each ceremony is two JSON posts (`…/start` gives the options for the browser's
//! `navigator.credentials.create()` or `.get()` and a ceremony id; `…/finish` takes the
//! ceremony id and the browser's answer). Every rule is the identity crate's [`Passkeys`]; a
//! successful authentication ends the session and starts a new one (a new cookie) at L3 when
//! the real name was checked, with `pop` added to its methods.
//!
//! [`Passkeys`]: errandless_identity::Passkeys

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use errandless_identity::{
    now_millis, IdentityError, Level, PasskeyError, Passkeys, PublicKeyCredential,
    RegisterPublicKeyCredential, Session, PASSKEY_AMR,
};
use serde::Deserialize;
use serde_json::json;

use crate::oidc::{live_session, same_origin, Service, SESSION_COOKIE};

fn passkey_error(e: PasskeyError) -> Response {
    let status = match &e {
        PasskeyError::Identity(IdentityError::UnknownSession) => StatusCode::UNAUTHORIZED,
        PasskeyError::UnknownCeremony
        | PasskeyError::UnknownCredential
        | PasskeyError::NoPasskey => StatusCode::NOT_FOUND,
        PasskeyError::AlreadyRegistered => StatusCode::CONFLICT,
        PasskeyError::WrongOrigin | PasskeyError::ClonedCredential | PasskeyError::Refused(_) => {
            StatusCode::FORBIDDEN
        }
        e if e.is_internal() => {
            tracing::warn!(error = %e, "passkeys failed");
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    (
        status,
        Json(crate::ErrorBody {
            code: e.code().to_owned(),
            message: e.to_string(),
        }),
    )
        .into_response()
}

fn bad_body(what: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(crate::ErrorBody {
            code: "invalid_request".into(),
            message: format!("the body must be JSON with {what}"),
        }),
    )
        .into_response()
}

/// The passkeys, the session and its cookie of a same-site request, or the answer refusing it.
async fn caller(
    service: &Service,
    headers: &HeaderMap,
) -> Result<(Passkeys, String, Session), Response> {
    let Some(passkeys) = service.passkeys.clone() else {
        return Err((
            StatusCode::NOT_FOUND,
            Json(crate::ErrorBody {
                code: "passkeys_unavailable".into(),
                message: "passkeys need the provider on a domain name (not an IP address)".into(),
            }),
        )
            .into_response());
    };
    if !same_origin(service, headers) {
        return Err(passkey_error(IdentityError::UnknownSession.into()));
    }
    let Some((cookie, session)) = live_session(service, headers).await else {
        return Err(passkey_error(IdentityError::UnknownSession.into()));
    };
    Ok((passkeys, cookie, session))
}

/// The logged-in citizen's passkeys.
#[utoipa::path(get, path = "/account/passkeys", tag = "identity",
    responses(
        (status = 200, description = "`passkeys`: id, name, created_at, last_used_at", body = Object),
        (status = 401, description = "unknown_session", body = crate::ErrorBody),
    ))]
pub(crate) async fn list(State(service): State<Service>, headers: HeaderMap) -> Response {
    let (passkeys, _, session) = match caller(&service, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match passkeys.list(&session.account_id).await {
        Ok(list) => Json(json!({
            "passkeys": list.iter().map(|p| json!({
                "id": p.id, "name": p.name, "created_at": p.created_at, "last_used_at": p.last_used_at,
            })).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => passkey_error(e),
    }
}

/// Starts registering a passkey for the logged-in citizen.
#[utoipa::path(post, path = "/account/passkeys/register/start", tag = "identity",
    responses(
        (status = 200, description = "`ceremony` and `options` (`publicKey` for navigator.credentials.create)", body = Object),
        (status = 401, description = "unknown_session", body = crate::ErrorBody),
    ))]
pub(crate) async fn register_start(State(service): State<Service>, headers: HeaderMap) -> Response {
    let (passkeys, _, session) = match caller(&service, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let account = match service.provider.accounts().find(&session.account_id).await {
        Ok(a) => a,
        Err(e) => return passkey_error(e.into()),
    };
    match passkeys.start_registration(&account, now_millis()).await {
        Ok((ceremony, options)) => {
            Json(json!({ "ceremony": ceremony, "options": options })).into_response()
        }
        Err(e) => passkey_error(e),
    }
}

/// The browser's answer to a registration.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct RegistrationBody {
    ceremony: String,
    /// What the citizen calls this passkey (1 to 64 characters).
    name: String,
    /// The `PublicKeyCredential` from navigator.credentials.create, as JSON (base64url bytes).
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

/// Finishes a registration.
#[utoipa::path(post, path = "/account/passkeys/register/finish", tag = "identity",
    request_body = RegistrationBody,
    responses(
        (status = 201, description = "The passkey's `id` and `name`", body = Object),
        (status = 400, description = "invalid_request, invalid_name", body = crate::ErrorBody),
        (status = 403, description = "wrong_origin, passkey_refused", body = crate::ErrorBody),
        (status = 404, description = "unknown_ceremony", body = crate::ErrorBody),
        (status = 409, description = "passkey_registered", body = crate::ErrorBody),
    ))]
pub(crate) async fn register_finish(
    State(service): State<Service>,
    headers: HeaderMap,
    body: Result<Json<RegistrationBody>, JsonRejection>,
) -> Response {
    let (passkeys, _, session) = match caller(&service, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(Json(b)) = body else {
        return bad_body("ceremony, name and credential");
    };
    match passkeys
        .finish_registration(
            &session.account_id,
            &b.ceremony,
            &b.credential,
            &b.name,
            now_millis(),
        )
        .await
    {
        Ok(p) => (
            StatusCode::CREATED,
            Json(json!({ "id": p.id, "name": p.name })),
        )
            .into_response(),
        Err(e) => passkey_error(e),
    }
}

/// Starts a passkey authentication of the logged-in citizen.
#[utoipa::path(post, path = "/account/passkeys/authenticate/start", tag = "identity",
    responses(
        (status = 200, description = "`ceremony` and `options` (`publicKey` for navigator.credentials.get)", body = Object),
        (status = 401, description = "unknown_session", body = crate::ErrorBody),
        (status = 404, description = "no_second_factor: no passkey registered", body = crate::ErrorBody),
    ))]
pub(crate) async fn authenticate_start(
    State(service): State<Service>,
    headers: HeaderMap,
) -> Response {
    let (passkeys, _, session) = match caller(&service, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match passkeys
        .start_authentication(&session.account_id, now_millis())
        .await
    {
        Ok((ceremony, options)) => {
            Json(json!({ "ceremony": ceremony, "options": options })).into_response()
        }
        Err(e) => passkey_error(e),
    }
}

/// The browser's answer to an authentication.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct AuthenticationBody {
    ceremony: String,
    /// The `PublicKeyCredential` from navigator.credentials.get, as JSON (base64url bytes).
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
}

/// Finishes an authentication: the session is replaced by one at L3 (when the real name was
/// checked), under a new cookie.
#[utoipa::path(post, path = "/account/passkeys/authenticate/finish", tag = "identity",
    request_body = AuthenticationBody,
    responses(
        (status = 200, description = "The session's new `level` and `amr`, with a new session cookie", body = Object),
        (status = 400, description = "invalid_request", body = crate::ErrorBody),
        (status = 403, description = "wrong_origin, cloned_credential, passkey_refused", body = crate::ErrorBody),
        (status = 404, description = "unknown_ceremony, unknown_credential", body = crate::ErrorBody),
    ))]
pub(crate) async fn authenticate_finish(
    State(service): State<Service>,
    headers: HeaderMap,
    body: Result<Json<AuthenticationBody>, JsonRejection>,
) -> Response {
    let (passkeys, cookie, session) = match caller(&service, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(Json(b)) = body else {
        return bad_body("ceremony and credential");
    };
    let now = now_millis();
    if let Err(e) = passkeys
        .finish_authentication(&session.account_id, &b.ceremony, &b.credential, now)
        .await
    {
        return passkey_error(e);
    }
    let level = if session.level == Level::L2 {
        Level::L3
    } else {
        session.level
    };
    let mut amr = session.amr.clone();
    if !amr.iter().any(|m| m == PASSKEY_AMR) {
        amr.push(PASSKEY_AMR.into());
    }
    let started = service
        .sessions
        .start(&session.account_id, level, &amr, Some(&cookie), now)
        .await;
    let (id, _) = match started {
        Ok(s) => s,
        Err(e) => return passkey_error(e.into()),
    };
    let mut response = Json(json!({ "level": level.code(), "amr": amr })).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        service.cookie(SESSION_COOKIE, &id, errandless_identity::ABSOLUTE_MS / 1000),
    );
    response
}
