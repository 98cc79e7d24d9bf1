//! The portal's login: an OpenID Connect authorisation-code client of this server's own
//! provider, with PKCE (S256), state and nonce. The browser goes through the provider's login
//! and consent pages like any relying party's; only the token exchange and the ID-token check
//! run in-process instead of over HTTP.

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use errandless_identity::provider::{jose, Alg};
use errandless_identity::{
    now_millis, ClientAuth, IdentityError, Level, NewClient, OAuthError, TokenRequest,
};
use rand::RngCore as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::{local_path, see_other, Shared, Visitor, PORTAL_CLIENT, PORTAL_COOKIE};
use crate::oidc::IdentityService;

/// The cookie that carries one login's state, PKCE verifier, nonce and return path.
const FLOW: &str = "portal_flow";
/// How long a login may take, in seconds.
const FLOW_SECONDS: i64 = 600;
const SCOPES: &str = "openid profile citizen_id";

/// Registers the portal at the provider on first start: a public client (PKCE; the token
/// exchange runs in this process, so there is no secret to keep), EdDSA ID tokens.
pub(super) async fn register_client(
    identity: &IdentityService,
    issuer: &str,
    redirect_uri: &str,
) -> Result<(), super::PortalError> {
    let clients = identity.provider.clients();
    if let Some(client) = clients
        .find(PORTAL_CLIENT)
        .await
        .map_err(errandless_identity::ClientError::Identity)?
    {
        if client.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Ok(());
        }
        return Err(super::PortalError::RedirectMismatch {
            client: PORTAL_CLIENT.to_owned(),
            found: client.redirect_uris,
            needed: redirect_uri.to_owned(),
        });
    }
    let new = NewClient {
        id: PORTAL_CLIENT.to_owned(),
        name: "免跑腿门户 / Errandless portal".to_owned(),
        purpose:
            "查看你的待遇、办件和数据使用记录 / To show your benefits, cases and who used your data"
                .to_owned(),
        redirect_uris: vec![redirect_uri.to_owned()],
        post_logout_redirect_uris: vec![format!("{issuer}/")],
        scopes: SCOPES.split(' ').map(str::to_owned).collect(),
        confidential: false,
        id_token_alg: Alg::EdDsa,
        min_level: Level::L1,
    };
    match clients.add(&new, now_millis()).await {
        Ok(_) | Err(errandless_identity::ClientError::AlreadyExists(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64URL.encode(bytes)
}

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    next: Option<String>,
    /// A level to reach (`L3` for a second factor), for a service that needs it.
    acr: Option<String>,
}

/// Starts a login: a fresh state, nonce and PKCE verifier in a short-lived cookie, and the
/// browser off to the provider.
pub(super) async fn login(State(portal): State<Shared>, Query(q): Query<LoginQuery>) -> Response {
    let (state, nonce, verifier) = (random(), random(), random());
    let challenge = B64URL.encode(Sha256::digest(verifier.as_bytes()));
    let next = B64URL.encode(local_path(q.next.as_deref()));
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", PORTAL_CLIENT)
        .append_pair("redirect_uri", &portal.redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", SCOPES)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair(
            "acr_values",
            q.acr
                .as_deref()
                .and_then(|a| a.parse::<Level>().ok())
                .unwrap_or(Level::L1)
                .code(),
        )
        .finish();
    let mut r = see_other(&format!("/oauth/authorize?{query}"));
    r.headers_mut().append(
        header::SET_COOKIE,
        portal.identity.cookie(
            FLOW,
            &format!("{state}.{nonce}.{verifier}.{next}"),
            FLOW_SECONDS,
        ),
    );
    r
}

#[derive(Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Why a login could not finish; shown plainly, logged in full.
#[derive(Debug, thiserror::Error)]
enum LoginError {
    #[error("the login was started in another browser or has expired")]
    NoFlow,
    #[error("the provider answered: {0}")]
    Provider(String),
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// The provider's answer: the code is exchanged, the ID token checked (signature, issuer,
/// audience, nonce, expiry), and a portal session started for the account.
pub(super) async fn callback(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    let flow = portal
        .identity
        .read_cookie(&headers, FLOW)
        .map(str::to_owned);
    match finish(&portal, flow.as_deref(), &q).await {
        Ok((session, next)) => {
            let mut r = see_other(&next);
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                portal.identity.cookie(
                    PORTAL_COOKIE,
                    &session,
                    errandless_identity::ABSOLUTE_MS / 1000,
                ),
            );
            h.append(header::SET_COOKIE, portal.identity.cookie(FLOW, "", 0));
            r
        }
        Err(e) => {
            tracing::info!(error = %e, "a portal login did not finish");
            super::message(
                &portal,
                &visitor,
                StatusCode::BAD_REQUEST,
                "error-bad-request-title",
                "error-csrf",
            )
        }
    }
}

async fn finish(
    portal: &super::Portal,
    flow: Option<&str>,
    q: &CallbackQuery,
) -> Result<(String, String), LoginError> {
    let mut parts = flow.ok_or(LoginError::NoFlow)?.split('.');
    let (Some(state), Some(nonce), Some(verifier), Some(next), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(LoginError::NoFlow);
    };
    if let Some(error) = &q.error {
        return Err(LoginError::Provider(error.clone()));
    }
    if q.state.as_deref() != Some(state) {
        return Err(LoginError::NoFlow);
    }
    let code = q
        .code
        .clone()
        .ok_or_else(|| LoginError::Provider("no code".into()))?;
    let provider = &portal.identity.provider;
    let now = now_millis();
    let tokens = provider
        .token(
            &TokenRequest {
                grant_type: Some("authorization_code".into()),
                code: Some(code),
                redirect_uri: Some(portal.redirect_uri.clone()),
                code_verifier: Some(verifier.to_owned()),
                client_id: Some(PORTAL_CLIENT.into()),
                ..TokenRequest::default()
            },
            &ClientAuth {
                id: Some(PORTAL_CLIENT.into()),
                secret: None,
            },
            now,
        )
        .await?;
    let claims = jose::verify(&tokens.id_token, &provider.keys().published())
        .map_err(|e| LoginError::IdToken(e.to_string()))?;
    let now_s = now / 1000;
    let checks = [
        (claims["iss"] == provider.issuer(), "iss"),
        (claims["aud"] == PORTAL_CLIENT, "aud"),
        (claims["nonce"] == nonce, "nonce"),
        (claims["exp"].as_i64().is_some_and(|e| e > now_s), "exp"),
    ];
    if let Some((_, claim)) = checks.iter().find(|(ok, _)| !ok) {
        return Err(LoginError::IdToken(format!("{claim} does not match")));
    }
    let (account, client, _) = provider
        .account_of_access_token(&tokens.access_token, now)
        .await?;
    if client != PORTAL_CLIENT || claims["sub"] != provider.subject(PORTAL_CLIENT, &account.id) {
        return Err(LoginError::IdToken("sub does not match".into()));
    }
    let level: Level = claims["acr"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or(Level::L1);
    let amr: Vec<String> = claims["amr"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // The access token did its work; it is not kept.
    if let Err(e) = provider
        .revoke(
            &tokens.access_token,
            &ClientAuth {
                id: Some(PORTAL_CLIENT.into()),
                secret: None,
            },
            now,
        )
        .await
    {
        tracing::warn!(error = %e, "the portal's access token could not be revoked");
    }
    let (session, _) = portal
        .identity
        .sessions
        .start(&account.id, level, &amr, None, now)
        .await?;
    let next = B64URL
        .decode(next)
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    Ok((session, local_path(next.as_deref())))
}

#[derive(Deserialize)]
pub(super) struct LogoutForm {
    csrf: String,
}

/// Ends the portal session (a form with the session's token), then the provider's.
pub(super) async fn logout(
    State(portal): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<LogoutForm>,
) -> Response {
    let visitor = match Visitor::posting(&portal, &headers, &uri, &form.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Some(s) = &visitor.signed_in {
        if let Err(e) = portal.identity.sessions.end(&s.session).await {
            return super::internal(&portal, &visitor, &e);
        }
    }
    let mut r = see_other("/");
    r.headers_mut().append(
        header::SET_COOKIE,
        portal.identity.cookie(PORTAL_COOKIE, "", 0),
    );
    // The provider's own session ends too: a shared computer is left signed out everywhere.
    if let Some(id) = portal
        .identity
        .read_cookie(&headers, crate::oidc::SESSION_COOKIE)
    {
        let _ = portal.identity.sessions.end(id).await;
        r.headers_mut().append(
            header::SET_COOKIE,
            portal.identity.cookie(crate::oidc::SESSION_COOKIE, "", 0),
        );
    }
    r
}
