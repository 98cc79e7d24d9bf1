//! The OpenID Connect provider's endpoints and the login and consent pages. Every protocol
//! rule is the identity crate's [`Provider`]; this module reads cookies and forms, calls it,
//! and renders the answer.
//!
//! Cookies: `errandless_session` (the session id), `errandless_flow` (binds an authorisation
//! request to the browser that began it) and `errandless_device` (the device cookie that
//! keeps a citizen's own devices out of a lockout). All are HttpOnly, SameSite=Lax and
//! `Path=/` with no `Domain`. When the issuer is https they are Secure and named with the
//! `__Host-` prefix (`__Host-errandless_session`…), so no other host can set or shadow them.
//! Over plain http, meant only for development on loopback (`http://localhost:PORT`), they
//! keep the bare names and are not Secure: browsers refuse a `__Host-` cookie that is not. Login and consent forms carry a token bound to the flow or
//! session cookie, and a POST whose `Origin` is another site is refused, so a cross-site form
//! post does nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::portal::Lang;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use errandless_identity::{
    now_millis, provider, AuthorizeError, AuthorizeParams, ClientAuth, Credentials, Federation,
    IdentityError, Level, LogoutParams, NewAccount, OAuthError, Pending, Provider, RateLimit,
    Registry, Session, Sessions, TokenRequest,
};
use serde::Deserialize;
use serde_json::json;

pub const SESSION_COOKIE: &str = "errandless_session";
pub const FLOW_COOKIE: &str = "errandless_flow";
pub const DEVICE_COOKIE: &str = "errandless_device";

/// Logins and registrations a client address may try per minute.
pub const ATTEMPTS_PER_MINUTE: u32 = 30;

/// What the identity endpoints need.
pub struct IdentityService {
    pub provider: Provider,
    pub sessions: Sessions,
    /// Household registration, for the real-name check at registration; without it accounts
    /// stay at L1.
    pub registry: Option<Registry>,
    /// Other regions' providers whose citizens may log in here.
    pub federation: Option<Federation>,
    /// Passkeys as a second factor; `None` when the issuer is on an IP address, which WebAuthn
    /// does not accept as a relying party (develop on `http://localhost:PORT`).
    pub passkeys: Option<errandless_identity::Passkeys>,
    attempts: RateLimit,
}

impl IdentityService {
    pub fn new(
        provider: Provider,
        sessions: Sessions,
        registry: Option<Registry>,
    ) -> IdentityService {
        let passkeys = match provider.passkeys() {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::info!(error = %e, "passkeys are off");
                None
            }
        };
        IdentityService {
            provider,
            sessions,
            registry,
            federation: None,
            passkeys,
            attempts: RateLimit::new(ATTEMPTS_PER_MINUTE, 60_000),
        }
    }

    /// Lets citizens of `federation`'s upstreams log in here.
    pub fn with_federation(mut self, federation: Federation) -> IdentityService {
        self.federation = Some(federation);
        self
    }

    fn secure(&self) -> bool {
        self.provider.issuer().starts_with("https://")
    }

    /// The name a cookie has in browsers: under https with the `__Host-` prefix, which binds
    /// it to this host (Secure, `Path=/`, no `Domain`), so a sibling subdomain cannot plant or
    /// shadow it; over plain http (development on loopback) without it, since browsers keep a
    /// `__Host-` cookie only when it is Secure.
    fn cookie_name(&self, name: &str) -> String {
        if self.secure() {
            format!("__Host-{name}")
        } else {
            name.to_owned()
        }
    }

    pub(crate) fn cookie(&self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure() { "; Secure" } else { "" };
        let name = self.cookie_name(name);
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .expect("cookie values are base64url")
    }

    /// The value of one of this provider's cookies (`SESSION_COOKIE`, `FLOW_COOKIE`,
    /// `DEVICE_COOKIE`), under the name [`cookie`](Self::cookie) gave it.
    pub(crate) fn read_cookie<'a>(&self, headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
        cookie(headers, &self.cookie_name(name))
    }
}

pub(crate) type Service = Arc<IdentityService>;

/// An authorisation request's query (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuthorizeQuery {
    /// A registered client id.
    client_id: Option<String>,
    /// Exactly one of the client's registered redirect URIs.
    redirect_uri: Option<String>,
    /// `code`: the only flow served.
    response_type: Option<String>,
    /// `openid`, and any of `profile`, `phone`, `citizen_id` the client may ask for.
    scope: Option<String>,
    /// Required; refused when the client sent it before.
    state: Option<String>,
    /// Required; refused when the client sent it before.
    nonce: Option<String>,
    /// Required: base64url SHA-256 of the verifier (RFC 7636).
    code_challenge: Option<String>,
    /// `S256`: the only method accepted.
    code_challenge_method: Option<String>,
    /// Levels the client asks for: `L1`, `L2` or `L3`; the highest counts.
    acr_values: Option<String>,
}

impl From<AuthorizeQuery> for AuthorizeParams {
    fn from(q: AuthorizeQuery) -> AuthorizeParams {
        AuthorizeParams {
            client_id: q.client_id,
            redirect_uri: q.redirect_uri,
            response_type: q.response_type,
            scope: q.scope,
            state: q.state,
            nonce: q.nonce,
            code_challenge: q.code_challenge,
            code_challenge_method: q.code_challenge_method,
            acr_values: q.acr_values,
        }
    }
}

/// A token request (RFC 6749 §4.1.3 and §6), form-encoded.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct TokenBody {
    /// `authorization_code` or `refresh_token`.
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    /// With `client_secret`, when HTTP Basic is not used.
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TokenAnswer {
    access_token: String,
    token_type: String,
    expires_in: i64,
    refresh_token: String,
    /// A compact JWS, RS256 or EdDSA as the client was registered.
    id_token: String,
    scope: String,
}

/// An OAuth error (RFC 6749 §5.2).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct OAuthErrorBody {
    error: String,
    error_description: String,
}

/// RP-initiated logout's query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogoutQuery {
    /// An ID token this provider issued (it may have expired).
    id_token_hint: Option<String>,
    client_id: Option<String>,
    /// One of the client's registered post-logout redirect URIs.
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// The routes of the provider and the login pages.
pub fn routes(service: Service) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth/jwks", get(jwks))
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/login", post(login))
        .route("/oauth/consent", get(consent_page).post(consent))
        .route("/oauth/token", post(token))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/introspect", post(introspect))
        .route("/oauth/logout", get(logout).post(logout_confirmed))
        .route("/account/register", post(register))
        .route("/account/confirm", post(confirm))
        .route("/account/logout-everywhere", post(logout_everywhere))
        .route("/account/passkeys", get(crate::passkeys::list))
        .route(
            "/account/passkeys/register/start",
            post(crate::passkeys::register_start),
        )
        .route(
            "/account/passkeys/register/finish",
            post(crate::passkeys::register_finish),
        )
        .route(
            "/account/passkeys/authenticate/start",
            post(crate::passkeys::authenticate_start),
        )
        .route(
            "/account/passkeys/authenticate/finish",
            post(crate::passkeys::authenticate_finish),
        )
        .route("/federation/{upstream}/start", get(federation_start))
        .route("/federation/{upstream}/callback", get(federation_callback))
        .with_state(service)
}

/// The client's address, when the server was started with connection info.
pub struct ClientAddr(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 256)
}

/// Whether a POST came from a page of this provider: its `Origin`, when the browser sends one,
/// must be the issuer's, and `Sec-Fetch-Site` must not say cross-site.
pub(crate) fn same_origin(service: &IdentityService, headers: &HeaderMap) -> bool {
    let issuer = url::Url::parse(service.provider.issuer()).ok();
    let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => issuer
            .as_ref()
            .is_some_and(|i| i.origin().ascii_serialization() == origin),
    };
    let fetch_ok = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v != "cross-site");
    origin_ok && fetch_ok
}

/// Text made safe for HTML outside a template.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The language of the provider's pages: the one the portal's switch chose (its `lang`
/// cookie), Chinese by default.
fn page_lang(service: &IdentityService, headers: &HeaderMap) -> Lang {
    service
        .read_cookie(headers, crate::portal::LANG_COOKIE)
        .map(Lang::parse)
        .unwrap_or_default()
}

fn page(lang: Lang, status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"/assets/portal.css\"></head>\
         <body><header class=\"top\"><div class=\"bar\"><span class=\"brand\">免跑腿 · Errandless</span></div></header>\
         <main><h1>{}</h1><div class=\"card\">{body}</div></main></body></html>",
        lang.tag(),
        escape(title),
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    response
}

fn error_page(lang: Lang, status: StatusCode, e: &OAuthError) -> Response {
    page(
        lang,
        status,
        lang.pick("无法登录", "Cannot log in"),
        &format!(
            "<p><code>{}</code>: {}</p>",
            e.error,
            escape(&e.description)
        ),
    )
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn login_form(
    lang: Lang,
    service: &IdentityService,
    pending: &Pending,
    message: Option<&str>,
) -> String {
    let token = service.provider.form_token(&pending.browser, &pending.id);
    let second = if pending.level >= Level::L3 {
        lang.pick(
            "<p>此应用需要第二因素。</p>",
            "<p>This app needs your second factor.</p>",
        )
    } else {
        ""
    };
    let t = |zh, en| lang.pick(zh, en);
    format!(
        "<p>{}</p>{second}{}\
         <form method=\"post\" action=\"/oauth/login\" class=\"stack\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
         <label>{} <input name=\"phone\" autocomplete=\"tel\" required></label>\
         <label>{} <input name=\"password\" type=\"password\" required></label>\
         <label>{} <input name=\"totp\" inputmode=\"numeric\"></label>\
         <button>{}</button></form>{}",
        match lang {
            Lang::Zh => format!("{} 请求登录。", escape(&pending.client.name)),
            Lang::En => format!("{} asks you to log in.", escape(&pending.client.name)),
        },
        message
            .map(|m| format!("<p role=\"alert\">{}</p>", escape(m)))
            .unwrap_or_default(),
        escape(&pending.id),
        t("手机号码", "Phone"),
        t("密码", "Password"),
        t("动态码", "Authenticator code"),
        t("登录", "Log in"),
        upstream_links(lang, service, pending),
    )
}

/// Links to log in through each trusted upstream region instead.
fn upstream_links(lang: Lang, service: &IdentityService, pending: &Pending) -> String {
    let Some(federation) = &service.federation else {
        return String::new();
    };
    federation
        .upstreams()
        .iter()
        .map(|u| {
            let name = escape(&u.name);
            let text = match lang {
                Lang::Zh => format!("用{name}的账号登录"),
                Lang::En => format!("Log in with {name}"),
            };
            format!(
                "<p><a href=\"/federation/{name}/start?request={}\">{text}</a></p>",
                escape(&pending.id),
            )
        })
        .collect()
}

fn consent_form(
    lang: Lang,
    service: &IdentityService,
    pending: &Pending,
    session_cookie: &str,
) -> String {
    let token = service.provider.form_token(session_cookie, &pending.id);
    let claims: String = pending
        .scopes
        .iter()
        .filter_map(|s| provider::scope(s))
        .map(|s| format!("<li>{}</li>", escape(lang.pick(s.zh, s.en))))
        .collect();
    let t = |zh, en| lang.pick(zh, en);
    format!(
        "<p><strong>{}</strong> {}</p><ul>{claims}</ul>\
         <p>{} {}</p>\
         <form method=\"post\" action=\"/oauth/consent\" class=\"stack\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
         <button name=\"decision\" value=\"allow\">{}</button>\
         <button name=\"decision\" value=\"deny\">{}</button></form>",
        escape(&pending.client.name),
        t("想要获取：", "asks for:"),
        t("用途：", "Purpose:"),
        escape(&pending.client.purpose),
        escape(&pending.id),
        t("同意", "Allow"),
        t("拒绝", "Deny"),
    )
}

pub(crate) async fn live_session(
    service: &IdentityService,
    headers: &HeaderMap,
) -> Option<(String, Session)> {
    let id = service.read_cookie(headers, SESSION_COOKIE)?;
    let session = service.sessions.find(id, now_millis()).await.ok()?;
    Some((id.to_owned(), session))
}

/// OpenID Connect Discovery 1.0 §4: the provider's metadata.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "identity",
    responses((status = 200, description = "The discovery document", body = Object)))]
pub(crate) async fn discovery(State(service): State<Service>) -> Response {
    Json(service.provider.discovery()).into_response()
}

/// The JWK Set of the ID-token keys, active and recently retired (RFC 7517 §5).
#[utoipa::path(get, path = "/oauth/jwks", tag = "identity",
    responses((status = 200, description = "The public keys", body = Object)))]
pub(crate) async fn jwks(State(service): State<Service>) -> Response {
    let mut r = Json(service.provider.keys().jwks()).into_response();
    // Short, so a rotation reaches relying parties quickly.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=300"),
    );
    r
}

/// The authorisation endpoint: checks the request, then shows the login page, the consent
/// page, or (with a session and consent already given) sends the code back at once.
#[utoipa::path(get, path = "/oauth/authorize", tag = "identity", params(AuthorizeQuery),
    responses(
        (status = 200, description = "The login or consent page (HTML)", body = String),
        (status = 303, description = "Back to the client with `code`, `state` and `iss`, or with `error`"),
        (status = 400, description = "Unknown client or unregistered redirect URI: shown, never redirected", body = String),
    ))]
pub(crate) async fn authorize(
    State(service): State<Service>,
    headers: HeaderMap,
    params: Result<Query<AuthorizeQuery>, QueryRejection>,
) -> Response {
    let lang = page_lang(&service, &headers);
    let Ok(Query(params)) = params else {
        return error_page(
            lang,
            StatusCode::BAD_REQUEST,
            &OAuthError::invalid_request("the query cannot be read"),
        );
    };
    let now = now_millis();
    let params = AuthorizeParams::from(params);
    let pending = match service
        .provider
        .authorize(&params, service.read_cookie(&headers, FLOW_COOKIE), now)
        .await
    {
        Ok(p) => p,
        Err(AuthorizeError::Show(e)) => return error_page(lang, StatusCode::BAD_REQUEST, &e),
        Err(AuthorizeError::Redirect(to)) => return redirect(&to),
    };
    let mut response = match live_session(&service, &headers).await {
        Some((id, session)) if session.level >= pending.level => {
            match service
                .provider
                .has_consent(&session.account_id, &pending)
                .await
            {
                Ok(true) => match service
                    .provider
                    .approve(&pending.id, &pending.browser, &session, now)
                    .await
                {
                    Ok(to) => redirect(&to),
                    Err(e) => error_page(lang, StatusCode::BAD_REQUEST, &e),
                },
                _ => page(
                    lang,
                    StatusCode::OK,
                    lang.pick("授权", "Consent"),
                    &consent_form(lang, &service, &pending, &id),
                ),
            }
        }
        _ => page(
            lang,
            StatusCode::OK,
            lang.pick("统一身份认证", "One login"),
            &login_form(lang, &service, &pending, None),
        ),
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        service.cookie(FLOW_COOKIE, &pending.browser, 3600),
    );
    response
}

/// The login form.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct LoginForm {
    request: Option<String>,
    form_token: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    totp: Option<String>,
}

fn login_status(e: &IdentityError) -> StatusCode {
    match e {
        IdentityError::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
        e if e.is_internal() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNAUTHORIZED,
    }
}

/// The login form's target: a new session (never the one the browser had), then consent.
#[utoipa::path(post, path = "/oauth/login", tag = "identity",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Logged in: on to the consent page, with a new session cookie"),
        (status = 401, description = "Wrong phone or password, or the level the app needs was not reached", body = String),
        (status = 403, description = "A form from another site, or a wrong form token", body = String),
        (status = 429, description = "Locked out for a while, or too many attempts from this address", body = String),
    ))]
pub(crate) async fn login(
    State(service): State<Service>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let lang = page_lang(&service, &headers);
    let now = now_millis();
    let form = form.map(|f| f.0).unwrap_or_default();
    if !same_origin(&service, &headers) {
        return error_page(
            lang,
            StatusCode::FORBIDDEN,
            &OAuthError::new("access_denied", "a form from another site was refused"),
        );
    }
    let (Some(request), Some(flow)) = (
        form.request.as_deref(),
        service.read_cookie(&headers, FLOW_COOKIE),
    ) else {
        return error_page(
            lang,
            StatusCode::BAD_REQUEST,
            &OAuthError::invalid_request(
                "start again from the app: this form has no login request",
            ),
        );
    };
    let pending = match service.provider.pending(request, flow, now).await {
        Ok(p) => p,
        Err(e) => return error_page(lang, StatusCode::BAD_REQUEST, &e),
    };
    let token_ok = form
        .form_token
        .as_deref()
        .is_some_and(|t| service.provider.form_token_ok(t, flow, request));
    if !token_ok {
        return error_page(
            lang,
            StatusCode::FORBIDDEN,
            &OAuthError::new("access_denied", "the form token is missing or wrong"),
        );
    }
    if let Some(ip) = addr {
        if service.attempts.hit(&ip.to_string(), now).is_err() {
            let message = lang.pick(
                "尝试过多，请一分钟后再试。",
                "Too many attempts; wait a minute.",
            );
            return page(
                lang,
                StatusCode::TOO_MANY_REQUESTS,
                lang.pick("统一身份认证", "One login"),
                &login_form(lang, &service, &pending, Some(message)),
            );
        }
    }
    let credentials = Credentials {
        phone: form.phone.unwrap_or_default(),
        password: form.password.unwrap_or_default(),
        totp: form.totp,
        device: service
            .read_cookie(&headers, DEVICE_COOKIE)
            .map(str::to_owned),
    };
    let login = match service.provider.accounts().login(&credentials, now).await {
        Ok(l) => l,
        Err(e) => {
            if e.is_internal() {
                tracing::warn!(error = %e, "login failed");
            }
            return page(
                lang,
                login_status(&e),
                lang.pick("统一身份认证", "One login"),
                &login_form(lang, &service, &pending, Some(&e.to_string())),
            );
        }
    };
    if login.level < pending.level {
        let message = match lang {
            Lang::Zh => format!(
                "此应用需要 {} 级身份认证，你的登录为 {} 级。",
                pending.level, login.level
            ),
            Lang::En => format!(
                "This app needs level {}; your login reached {}.",
                pending.level, login.level
            ),
        };
        return page(
            lang,
            StatusCode::UNAUTHORIZED,
            lang.pick("统一身份认证", "One login"),
            &login_form(lang, &service, &pending, Some(&message)),
        );
    }
    let started = service
        .sessions
        .start(
            &login.account.id,
            login.level,
            &login.amr,
            service.read_cookie(&headers, SESSION_COOKIE),
            now,
        )
        .await;
    let (session_id, _) = match started {
        Ok(s) => s,
        Err(e) => {
            return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, &OAuthError::from(e));
        }
    };
    let mut response = redirect(&format!("/oauth/consent?request={}", pending.id));
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        service.cookie(
            SESSION_COOKIE,
            &session_id,
            errandless_identity::ABSOLUTE_MS / 1000,
        ),
    );
    h.append(
        header::SET_COOKIE,
        service.cookie(DEVICE_COOKIE, &login.device, 400 * 24 * 3600),
    );
    response
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConsentQuery {
    request: Option<String>,
}

/// The consent page: the app's name and purpose and the claims it asks for.
#[utoipa::path(get, path = "/oauth/consent", tag = "identity",
    params(("request" = String, Query, description = "The pending authorisation")),
    responses(
        (status = 200, description = "The consent page (HTML)", body = String),
        (status = 401, description = "No live session", body = String),
    ))]
pub(crate) async fn consent_page(
    State(service): State<Service>,
    headers: HeaderMap,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Response {
    let lang = page_lang(&service, &headers);
    let request = query.ok().and_then(|q| q.0.request).unwrap_or_default();
    let (Some(flow), Some((session_id, session))) = (
        service.read_cookie(&headers, FLOW_COOKIE),
        live_session(&service, &headers).await,
    ) else {
        return error_page(
            lang,
            StatusCode::UNAUTHORIZED,
            &OAuthError::new("login_required", "log in first, from the app"),
        );
    };
    let now = now_millis();
    let pending = match service.provider.pending(&request, flow, now).await {
        Ok(p) => p,
        Err(e) => return error_page(lang, StatusCode::BAD_REQUEST, &e),
    };
    if session.level < pending.level {
        return page(
            lang,
            StatusCode::UNAUTHORIZED,
            lang.pick("统一身份认证", "One login"),
            &login_form(lang, &service, &pending, None),
        );
    }
    page(
        lang,
        StatusCode::OK,
        lang.pick("授权", "Consent"),
        &consent_form(lang, &service, &pending, &session_id),
    )
}

/// The consent form.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct ConsentForm {
    request: Option<String>,
    form_token: Option<String>,
    decision: Option<String>,
}

/// The consent form's target: `allow` issues the code, anything else sends `access_denied`.
#[utoipa::path(post, path = "/oauth/consent", tag = "identity",
    request_body(content = ConsentForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Back to the client with a code, or with access_denied"),
        (status = 401, description = "No live session, or the level the app needs was not reached", body = String),
        (status = 403, description = "A form from another site, or a wrong form token", body = String),
    ))]
pub(crate) async fn consent(
    State(service): State<Service>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let lang = page_lang(&service, &headers);
    let form = form.map(|f| f.0).unwrap_or_default();
    let now = now_millis();
    if !same_origin(&service, &headers) {
        return error_page(
            lang,
            StatusCode::FORBIDDEN,
            &OAuthError::new("access_denied", "a form from another site was refused"),
        );
    }
    let request = form.request.unwrap_or_default();
    let (Some(flow), Some((session_id, session))) = (
        service.read_cookie(&headers, FLOW_COOKIE),
        live_session(&service, &headers).await,
    ) else {
        return error_page(
            lang,
            StatusCode::UNAUTHORIZED,
            &OAuthError::new("login_required", "log in first, from the app"),
        );
    };
    let token_ok = form
        .form_token
        .as_deref()
        .is_some_and(|t| service.provider.form_token_ok(t, &session_id, &request));
    if !token_ok {
        return error_page(
            lang,
            StatusCode::FORBIDDEN,
            &OAuthError::new("access_denied", "the form token is missing or wrong"),
        );
    }
    let answer = if form.decision.as_deref() == Some("allow") {
        service
            .provider
            .approve(&request, flow, &session, now)
            .await
    } else {
        service.provider.deny(&request, flow, now).await
    };
    match answer {
        Ok(to) => redirect(&to),
        Err(e) => error_page(lang, oauth_status(&e), &e),
    }
}

fn oauth_status(e: &OAuthError) -> StatusCode {
    match e.error {
        "invalid_client" | "invalid_token" | "login_required" => StatusCode::UNAUTHORIZED,
        "access_denied" => StatusCode::FORBIDDEN,
        "server_error" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// An OAuth error as JSON (RFC 6749 §5.2), with `WWW-Authenticate` where RFC 6749 §5.2 and
/// RFC 6750 §3 ask for it.
fn oauth_error(e: OAuthError) -> Response {
    let status = oauth_status(&e);
    let mut r = (
        status,
        Json(json!({ "error": e.error, "error_description": e.description })),
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match e.error {
        "invalid_client" => {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"errandless\""),
            );
        }
        "invalid_token" => {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
        }
        _ => {}
    }
    r
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The client's credentials: HTTP Basic (RFC 6749 §2.3.1: each part form-urlencoded) or the
/// form's `client_id` and `client_secret`.
fn client_auth(
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> ClientAuth {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| BASE64.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(i, p)| (form_decode(i), form_decode(p)))
        });
    match basic {
        Some((id, secret)) => ClientAuth {
            id: Some(id),
            secret: Some(secret),
        },
        None => ClientAuth {
            id: form_id.map(str::to_owned),
            secret: form_secret.map(str::to_owned),
        },
    }
}

/// The token endpoint: a code with its PKCE verifier, or a refresh token, for tokens.
#[utoipa::path(post, path = "/oauth/token", tag = "identity",
    request_body(content = TokenBody, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens", body = TokenAnswer),
        (status = 400, description = "invalid_request, invalid_grant, invalid_scope, unsupported_grant_type", body = OAuthErrorBody),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
    ))]
pub(crate) async fn token(
    State(service): State<Service>,
    headers: HeaderMap,
    form: Result<Form<TokenBody>, FormRejection>,
) -> Response {
    let Ok(Form(body)) = form else {
        return oauth_error(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    };
    let req = TokenRequest {
        grant_type: body.grant_type,
        code: body.code,
        redirect_uri: body.redirect_uri,
        code_verifier: body.code_verifier,
        refresh_token: body.refresh_token,
        scope: body.scope,
        client_id: body.client_id,
        client_secret: body.client_secret,
    };
    let auth = client_auth(
        &headers,
        req.client_id.as_deref(),
        req.client_secret.as_deref(),
    );
    match service.provider.token(&req, &auth, now_millis()).await {
        Ok(answer) => {
            let mut r = Json(answer).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => oauth_error(e),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// UserInfo (OpenID Connect Core §5.3): the claims the access token's scopes release.
#[utoipa::path(get, path = "/oauth/userinfo", tag = "identity",
    params(("Authorization" = String, Header, description = "Bearer ACCESS_TOKEN")),
    responses(
        (status = 200, description = "sub (pairwise), and name, phone_number, citizen_id as granted", body = Object),
        (status = 401, description = "invalid_token", body = OAuthErrorBody),
    ))]
pub(crate) async fn userinfo(State(service): State<Service>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return oauth_error(OAuthError::invalid_token(
            "a Bearer access token is required",
        ));
    };
    match service.provider.userinfo(token, now_millis()).await {
        Ok(claims) => Json(claims).into_response(),
        Err(e) => oauth_error(e),
    }
}

/// A token to revoke or introspect, with the client's credentials.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct TokenForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Revocation (RFC 7009): a refresh token takes its whole family with it.
#[utoipa::path(post, path = "/oauth/revoke", tag = "identity",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or not this client's token (the same answer)"),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
    ))]
pub(crate) async fn revoke(
    State(service): State<Service>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return oauth_error(OAuthError::invalid_request("the body cannot be read"));
    };
    let auth = client_auth(&headers, f.client_id.as_deref(), f.client_secret.as_deref());
    let Some(token) = f.token.as_deref() else {
        return oauth_error(OAuthError::invalid_request("token is missing"));
    };
    match service.provider.revoke(token, &auth, now_millis()).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => oauth_error(e),
    }
}

/// Introspection (RFC 7662), for the client the token was issued to.
#[utoipa::path(post, path = "/oauth/introspect", tag = "identity",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "`active`, and for an active token its scope, sub, exp, acr…", body = Object),
        (status = 401, description = "invalid_client", body = OAuthErrorBody),
    ))]
pub(crate) async fn introspect(
    State(service): State<Service>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return oauth_error(OAuthError::invalid_request("the body cannot be read"));
    };
    let auth = client_auth(&headers, f.client_id.as_deref(), f.client_secret.as_deref());
    let Some(token) = f.token.as_deref() else {
        return oauth_error(OAuthError::invalid_request("token is missing"));
    };
    match service
        .provider
        .introspect(token, &auth, now_millis())
        .await
    {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => oauth_error(e),
    }
}

/// RP-initiated logout. With an `id_token_hint` this provider signed, the app is known and the
/// session ends at once. Without one anyone could link here, so a browser that is logged in is
/// asked first: a page with a form (bound to the session cookie) whose POST ends the session.
#[utoipa::path(get, path = "/oauth/logout", tag = "identity", params(LogoutQuery),
    responses(
        (status = 200, description = "Logged out, or (without id_token_hint, while logged in) the page asking to confirm (HTML)", body = String),
        (status = 303, description = "Logged out, back to the registered post-logout URI with state"),
        (status = 400, description = "A hint that does not verify, or an unregistered redirect", body = String),
    ))]
pub(crate) async fn logout(
    State(service): State<Service>,
    headers: HeaderMap,
    params: Result<Query<LogoutQuery>, QueryRejection>,
) -> Response {
    let lang = page_lang(&service, &headers);
    let q = params.map(|q| q.0).unwrap_or_default();
    let hinted = q.id_token_hint.is_some();
    let params = LogoutParams {
        id_token_hint: q.id_token_hint,
        client_id: q.client_id,
        post_logout_redirect_uri: q.post_logout_redirect_uri,
        state: q.state,
    };
    let target = match service.provider.logout(&params).await {
        Ok(t) => t,
        Err(e) => return error_page(lang, oauth_status(&e), &e),
    };
    if !hinted {
        if let Some((cookie, _)) = live_session(&service, &headers).await {
            let hidden = |name: &str, value: &Option<String>| match value {
                Some(v) => format!(
                    r#"<input type="hidden" name="{name}" value="{}">"#,
                    escape(v)
                ),
                None => String::new(),
            };
            let form = format!(
                r#"<p>{}</p>
<form method="post" action="/oauth/logout">{}{}{}{}
<button type="submit">{}</button></form>"#,
                lang.pick(
                    "要退出统一身份认证吗？",
                    "Log out of your government login?"
                ),
                hidden("client_id", &params.client_id),
                hidden("post_logout_redirect_uri", &params.post_logout_redirect_uri),
                hidden("state", &params.state),
                hidden(
                    "form_token",
                    &Some(service.provider.form_token(&cookie, "logout"))
                ),
                lang.pick("退出", "Log out"),
            );
            return page(lang, StatusCode::OK, lang.pick("退出", "Log out"), &form);
        }
    }
    end_session(&service, &headers, target).await
}

/// The confirmation of a logout asked for without an `id_token_hint`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub(crate) struct LogoutForm {
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    form_token: Option<String>,
}

/// The logout page's form: ends the session it was shown to.
#[utoipa::path(post, path = "/oauth/logout", tag = "identity",
    request_body(content = LogoutForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Logged out (HTML)", body = String),
        (status = 303, description = "Logged out, back to the registered post-logout URI with state"),
        (status = 400, description = "An unregistered redirect", body = String),
        (status = 403, description = "A form from another site, or a wrong form token", body = String),
    ))]
pub(crate) async fn logout_confirmed(
    State(service): State<Service>,
    headers: HeaderMap,
    form: Result<Form<LogoutForm>, FormRejection>,
) -> Response {
    let lang = page_lang(&service, &headers);
    let form = form.map(|f| f.0).unwrap_or_default();
    let token_ok = match (
        service.read_cookie(&headers, SESSION_COOKIE),
        form.form_token.as_deref(),
    ) {
        (Some(session), Some(token)) => service.provider.form_token_ok(token, session, "logout"),
        _ => false,
    };
    if !same_origin(&service, &headers) || !token_ok {
        return error_page(
            lang,
            StatusCode::FORBIDDEN,
            &OAuthError::new(
                "access_denied",
                "a logout form from another site was refused",
            ),
        );
    }
    let params = LogoutParams {
        id_token_hint: None,
        client_id: form.client_id,
        post_logout_redirect_uri: form.post_logout_redirect_uri,
        state: form.state,
    };
    let target = match service.provider.logout(&params).await {
        Ok(t) => t,
        Err(e) => return error_page(lang, oauth_status(&e), &e),
    };
    end_session(&service, &headers, target).await
}

/// Ends the browser's session and sends it on to `target` or to the logged-out page.
async fn end_session(service: &Service, headers: &HeaderMap, target: Option<String>) -> Response {
    let lang = page_lang(service, headers);
    if let Some(id) = service.read_cookie(headers, SESSION_COOKIE) {
        if let Err(e) = service.sessions.end(id).await {
            return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, &OAuthError::from(e));
        }
    }
    let mut response = match target {
        Some(to) => redirect(&to),
        None => page(
            lang,
            StatusCode::OK,
            lang.pick("已退出", "Logged out"),
            lang.pick("<p>已退出登录。</p>", "<p>You are logged out.</p>"),
        ),
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, service.cookie(SESSION_COOKIE, "", 0));
    response
}

fn identity_error(e: IdentityError) -> Response {
    let status = match &e {
        IdentityError::LockedOut { .. } | IdentityError::TooManyAttempts => {
            StatusCode::TOO_MANY_REQUESTS
        }
        IdentityError::PhoneTaken | IdentityError::CitizenIdTaken => StatusCode::CONFLICT,
        IdentityError::UnknownAccount | IdentityError::UnknownSession => StatusCode::NOT_FOUND,
        IdentityError::RealNameMismatch | IdentityError::NotRegistered => StatusCode::FORBIDDEN,
        e if e.is_internal() => {
            tracing::warn!(error = %e, "identity failed");
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

/// What a citizen gives to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct RegisterBody {
    citizen_id: String,
    name: String,
    phone: String,
    password: String,
}

/// Registration: the account is made and a code sent to the phone.
#[utoipa::path(post, path = "/account/register", tag = "identity", request_body = RegisterBody,
    responses(
        (status = 201, description = "`account_id`; the code is on its way", body = Object),
        (status = 400, description = "invalid_citizen_id, invalid_name, invalid_phone, weak_password", body = crate::ErrorBody),
        (status = 429, description = "too_many_attempts", body = crate::ErrorBody),
    ))]
pub(crate) async fn register(
    State(service): State<Service>,
    ClientAddr(addr): ClientAddr,
    body: Result<Json<RegisterBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let now = now_millis();
    let Ok(Json(b)) = body else {
        return identity_error(IdentityError::InvalidName);
    };
    if let Some(ip) = addr {
        if service.attempts.hit(&ip.to_string(), now).is_err() {
            return identity_error(IdentityError::TooManyAttempts);
        }
    }
    let new = NewAccount {
        citizen_id: b.citizen_id,
        name: b.name,
        phone: b.phone,
        password: b.password,
    };
    let accounts = service.provider.accounts();
    // A number that already has an account gets the same answer (see `Accounts::enrol`).
    match accounts.enrol(&new, now).await {
        Ok(account_id) => {
            if let Err(e) = accounts.deliver().await {
                tracing::warn!(error = %e, "the phone code waits in the outbox");
            }
            (
                StatusCode::CREATED,
                Json(json!({ "account_id": account_id })),
            )
                .into_response()
        }
        Err(e) => identity_error(e),
    }
}

/// The phone code.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct ConfirmBody {
    account_id: String,
    code: String,
}

/// Confirms the phone (L1), then checks the real name through the exchange (L2).
#[utoipa::path(post, path = "/account/confirm", tag = "identity", request_body = ConfirmBody,
    responses(
        (status = 200, description = "`account_id` and the `level` reached", body = Object),
        (status = 400, description = "wrong_code, code_expired", body = crate::ErrorBody),
        (status = 403, description = "real_name_mismatch, not_registered", body = crate::ErrorBody),
        (status = 409, description = "citizen_id_taken", body = crate::ErrorBody),
        (status = 429, description = "too_many_attempts, locked_out", body = crate::ErrorBody),
    ))]
pub(crate) async fn confirm(
    State(service): State<Service>,
    body: Result<Json<ConfirmBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let now = now_millis();
    let Ok(Json(b)) = body else {
        return identity_error(IdentityError::WrongCode);
    };
    let accounts = service.provider.accounts();
    let account = match accounts.confirm_phone(&b.account_id, &b.code, now).await {
        Ok(a) => a,
        Err(e) => return identity_error(e),
    };
    let account = match &service.registry {
        Some(registry) => match accounts.check_real_name(&account.id, registry, now).await {
            Ok(a) => a,
            Err(e) => return identity_error(e),
        },
        None => account,
    };
    Json(json!({ "account_id": account.id, "level": account.level().map(Level::code) }))
        .into_response()
}

/// Ends every session and revokes every token of the logged-in citizen.
#[utoipa::path(post, path = "/account/logout-everywhere", tag = "identity",
    responses(
        (status = 200, description = "`sessions_ended`", body = Object),
        (status = 404, description = "unknown_session", body = crate::ErrorBody),
    ))]
pub(crate) async fn logout_everywhere(
    State(service): State<Service>,
    headers: HeaderMap,
) -> Response {
    if !same_origin(&service, &headers) {
        return identity_error(IdentityError::UnknownSession);
    }
    let Some((_, session)) = live_session(&service, &headers).await else {
        return identity_error(IdentityError::UnknownSession);
    };
    match service
        .provider
        .log_out_everywhere(&session.account_id, now_millis())
        .await
    {
        Ok(n) => {
            let mut r = Json(json!({ "sessions_ended": n })).into_response();
            r.headers_mut()
                .append(header::SET_COOKIE, service.cookie(SESSION_COOKIE, "", 0));
            r
        }
        Err(e) => identity_error(e),
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        discovery,
        jwks,
        authorize,
        login,
        consent_page,
        consent,
        token,
        userinfo,
        revoke,
        introspect,
        logout,
        logout_confirmed,
        register,
        confirm,
        logout_everywhere,
        crate::passkeys::list,
        crate::passkeys::register_start,
        crate::passkeys::register_finish,
        crate::passkeys::authenticate_start,
        crate::passkeys::authenticate_finish
    ),
    components(schemas(
        TokenBody,
        TokenAnswer,
        OAuthErrorBody,
        LoginForm,
        ConsentForm,
        LogoutForm,
        TokenForm,
        RegisterBody,
        ConfirmBody,
        crate::passkeys::RegistrationBody,
        crate::passkeys::AuthenticationBody
    ))
)]
pub(crate) struct IdentityDoc;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct FederationQuery {
    request: Option<String>,
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn federation_error(lang: Lang, e: errandless_identity::FederationError) -> Response {
    use errandless_identity::FederationError as F;
    let status = match &e {
        F::UnknownUpstream(_) => StatusCode::NOT_FOUND,
        F::Upstream(_) => StatusCode::BAD_GATEWAY,
        F::Identity(i) if i.is_internal() => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::FORBIDDEN,
    };
    if status.is_server_error() {
        tracing::warn!(error = %e, "federated login failed");
    }
    error_page(
        lang,
        status,
        &OAuthError::new("access_denied", e.to_string()),
    )
}

/// Sends the browser to an upstream region's provider to log in there.
pub(crate) async fn federation_start(
    State(service): State<Service>,
    axum::extract::Path(upstream): axum::extract::Path<String>,
    headers: HeaderMap,
    query: Result<Query<FederationQuery>, QueryRejection>,
) -> Response {
    let lang = page_lang(&service, &headers);
    let Some(federation) = &service.federation else {
        return error_page(
            lang,
            StatusCode::NOT_FOUND,
            &OAuthError::invalid_request("no upstream is trusted"),
        );
    };
    let request = query.ok().and_then(|q| q.0.request).unwrap_or_default();
    let Some(flow) = service.read_cookie(&headers, FLOW_COOKIE) else {
        return error_page(
            lang,
            StatusCode::BAD_REQUEST,
            &OAuthError::invalid_request("start again from the app"),
        );
    };
    let now = now_millis();
    if let Err(e) = service.provider.pending(&request, flow, now).await {
        return error_page(lang, StatusCode::BAD_REQUEST, &e);
    }
    match federation.begin(&upstream, &request, flow, now).await {
        Ok(to) => redirect(&to),
        Err(e) => federation_error(lang, e),
    }
}

/// The upstream sends the browser back here: a local session at the level carried over, then
/// consent for the app that asked.
pub(crate) async fn federation_callback(
    State(service): State<Service>,
    axum::extract::Path(upstream): axum::extract::Path<String>,
    headers: HeaderMap,
    query: Result<Query<FederationQuery>, QueryRejection>,
) -> Response {
    let lang = page_lang(&service, &headers);
    let Some(federation) = &service.federation else {
        return error_page(
            lang,
            StatusCode::NOT_FOUND,
            &OAuthError::invalid_request("no upstream is trusted"),
        );
    };
    let q = query.map(|q| q.0).unwrap_or_default();
    if let Some(error) = q.error {
        return error_page(
            lang,
            StatusCode::FORBIDDEN,
            &OAuthError::new("access_denied", format!("the upstream said {error}")),
        );
    }
    let (Some(code), Some(state), Some(flow)) =
        (q.code, q.state, service.read_cookie(&headers, FLOW_COOKIE))
    else {
        return error_page(
            lang,
            StatusCode::BAD_REQUEST,
            &OAuthError::invalid_request("code, state or the flow cookie is missing"),
        );
    };
    let now = now_millis();
    let login = match federation.finish(&upstream, &code, &state, flow, now).await {
        Ok(l) => l,
        Err(e) => return federation_error(lang, e),
    };
    let pending = match service.provider.pending(&login.request_id, flow, now).await {
        Ok(p) => p,
        Err(e) => return error_page(lang, StatusCode::BAD_REQUEST, &e),
    };
    if login.level < pending.level {
        return error_page(
            lang,
            StatusCode::UNAUTHORIZED,
            &OAuthError::new(
                "login_required",
                format!(
                    "this app needs level {}; the upstream login reached {}",
                    pending.level, login.level
                ),
            ),
        );
    }
    let started = service
        .sessions
        .start(
            &login.account.id,
            login.level,
            &["fed".to_owned()],
            service.read_cookie(&headers, SESSION_COOKIE),
            now,
        )
        .await;
    let (session_id, _) = match started {
        Ok(s) => s,
        Err(e) => return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, &OAuthError::from(e)),
    };
    let mut response = redirect(&format!("/oauth/consent?request={}", pending.id));
    response.headers_mut().append(
        header::SET_COOKIE,
        service.cookie(
            SESSION_COOKIE,
            &session_id,
            errandless_identity::ABSOLUTE_MS / 1000,
        ),
    );
    response
}
