//! The OpenID Connect provider's endpoints and the login and consent pages. Every protocol
//! rule is the identity crate's [`Provider`]; this module reads cookies and forms, calls it,
//! and renders the answer.
//!
//! Cookies: `errandless_session` (the session id), `errandless_flow` (binds an authorisation
//! request to the browser that began it) and `errandless_device` (the device cookie that
//! keeps a citizen's own devices out of a lockout). All are HttpOnly and SameSite=Lax, and
//! Secure when the issuer is https. Login and consent forms carry a token bound to the flow or
//! session cookie, and a POST whose `Origin` is another site is refused, so a cross-site form
//! post does nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

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
    now_millis, provider, AuthorizeError, AuthorizeParams, ClientAuth, Credentials, IdentityError,
    Level, LogoutParams, NewAccount, OAuthError, Pending, Provider, RateLimit, Registry, Session,
    Sessions, TokenRequest,
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
    attempts: RateLimit,
}

impl IdentityService {
    pub fn new(
        provider: Provider,
        sessions: Sessions,
        registry: Option<Registry>,
    ) -> IdentityService {
        IdentityService {
            provider,
            sessions,
            registry,
            attempts: RateLimit::new(ATTEMPTS_PER_MINUTE, 60_000),
        }
    }

    fn secure(&self) -> bool {
        self.provider.issuer().starts_with("https://")
    }

    fn cookie(&self, name: &str, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure() { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .expect("cookie values are base64url")
    }
}

type Service = Arc<IdentityService>;

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
        .route("/oauth/logout", get(logout))
        .route("/account/register", post(register))
        .route("/account/confirm", post(confirm))
        .route("/account/logout-everywhere", post(logout_everywhere))
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
fn same_origin(service: &IdentityService, headers: &HeaderMap) -> bool {
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\
         <body><main><h1>{}</h1>{body}</main></body></html>",
        escape(title),
        escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    response
}

fn error_page(status: StatusCode, e: &OAuthError) -> Response {
    page(
        status,
        "无法登录 / Cannot log in",
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

fn login_form(service: &IdentityService, pending: &Pending, message: Option<&str>) -> String {
    let token = service.provider.form_token(&pending.browser, &pending.id);
    let second = if pending.level >= Level::L3 {
        "<p>此应用需要第二因素 / This app needs your second factor.</p>"
    } else {
        ""
    };
    format!(
        "<p>{} 请求登录 / asks you to log in.</p>{second}{}\
         <form method=\"post\" action=\"/oauth/login\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
         <label>手机号码 / Phone <input name=\"phone\" autocomplete=\"tel\" required></label>\
         <label>密码 / Password <input name=\"password\" type=\"password\" required></label>\
         <label>动态码 / Authenticator code <input name=\"totp\" inputmode=\"numeric\"></label>\
         <button>登录 / Log in</button></form>",
        escape(&pending.client.name),
        message
            .map(|m| format!("<p role=\"alert\">{}</p>", escape(m)))
            .unwrap_or_default(),
        escape(&pending.id),
    )
}

fn consent_form(service: &IdentityService, pending: &Pending, session_cookie: &str) -> String {
    let token = service.provider.form_token(session_cookie, &pending.id);
    let claims: String = pending
        .scopes
        .iter()
        .filter_map(|s| provider::scope(s))
        .map(|s| format!("<li>{} / {}</li>", escape(s.zh), escape(s.en)))
        .collect();
    format!(
        "<p><strong>{}</strong> 想要获取 / asks for:</p><ul>{claims}</ul>\
         <p>用途 / Purpose: {}</p>\
         <form method=\"post\" action=\"/oauth/consent\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
         <button name=\"decision\" value=\"allow\">同意 / Allow</button>\
         <button name=\"decision\" value=\"deny\">拒绝 / Deny</button></form>",
        escape(&pending.client.name),
        escape(&pending.client.purpose),
        escape(&pending.id),
    )
}

async fn live_session(service: &IdentityService, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie(headers, SESSION_COOKIE)?;
    let session = service.sessions.find(id, now_millis()).await.ok()?;
    Some((id.to_owned(), session))
}

async fn discovery(State(service): State<Service>) -> Response {
    Json(service.provider.discovery()).into_response()
}

async fn jwks(State(service): State<Service>) -> Response {
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
async fn authorize(
    State(service): State<Service>,
    headers: HeaderMap,
    params: Result<Query<AuthorizeParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &OAuthError::invalid_request("the query cannot be read"),
        );
    };
    let now = now_millis();
    let pending = match service
        .provider
        .authorize(&params, cookie(&headers, FLOW_COOKIE), now)
        .await
    {
        Ok(p) => p,
        Err(AuthorizeError::Show(e)) => return error_page(StatusCode::BAD_REQUEST, &e),
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
                    Err(e) => error_page(StatusCode::BAD_REQUEST, &e),
                },
                _ => page(
                    StatusCode::OK,
                    "授权 / Consent",
                    &consent_form(&service, &pending, &id),
                ),
            }
        }
        _ => page(
            StatusCode::OK,
            "统一身份认证 / One login",
            &login_form(&service, &pending, None),
        ),
    };
    response.headers_mut().append(
        header::SET_COOKIE,
        service.cookie(FLOW_COOKIE, &pending.browser, 3600),
    );
    response
}

#[derive(Debug, Default, Deserialize)]
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
async fn login(
    State(service): State<Service>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let now = now_millis();
    let form = form.map(|f| f.0).unwrap_or_default();
    if !same_origin(&service, &headers) {
        return error_page(
            StatusCode::FORBIDDEN,
            &OAuthError::new("access_denied", "a form from another site was refused"),
        );
    }
    let (Some(request), Some(flow)) = (form.request.as_deref(), cookie(&headers, FLOW_COOKIE))
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &OAuthError::invalid_request(
                "start again from the app: this form has no login request",
            ),
        );
    };
    let pending = match service.provider.pending(request, flow, now).await {
        Ok(p) => p,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    let token_ok = form
        .form_token
        .as_deref()
        .is_some_and(|t| service.provider.form_token_ok(t, flow, request));
    if !token_ok {
        return error_page(
            StatusCode::FORBIDDEN,
            &OAuthError::new("access_denied", "the form token is missing or wrong"),
        );
    }
    if let Some(ip) = addr {
        if service.attempts.hit(&ip.to_string(), now).is_err() {
            let message = "尝试过多，请稍后再试 / Too many attempts; wait a minute";
            return page(
                StatusCode::TOO_MANY_REQUESTS,
                "统一身份认证 / One login",
                &login_form(&service, &pending, Some(message)),
            );
        }
    }
    let credentials = Credentials {
        phone: form.phone.unwrap_or_default(),
        password: form.password.unwrap_or_default(),
        totp: form.totp,
        device: cookie(&headers, DEVICE_COOKIE).map(str::to_owned),
    };
    let login = match service.provider.accounts().login(&credentials, now).await {
        Ok(l) => l,
        Err(e) => {
            if e.is_internal() {
                tracing::warn!(error = %e, "login failed");
            }
            return page(
                login_status(&e),
                "统一身份认证 / One login",
                &login_form(&service, &pending, Some(&e.to_string())),
            );
        }
    };
    if login.level < pending.level {
        let message = format!(
            "此应用需要 {} / This app needs level {}; your login reached {}",
            pending.level, pending.level, login.level
        );
        return page(
            StatusCode::UNAUTHORIZED,
            "统一身份认证 / One login",
            &login_form(&service, &pending, Some(&message)),
        );
    }
    let started = service
        .sessions
        .start(
            &login.account.id,
            login.level,
            &login.amr,
            cookie(&headers, SESSION_COOKIE),
            now,
        )
        .await;
    let (session_id, _) = match started {
        Ok(s) => s,
        Err(e) => {
            return error_page(StatusCode::SERVICE_UNAVAILABLE, &OAuthError::from(e));
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

async fn consent_page(
    State(service): State<Service>,
    headers: HeaderMap,
    query: Result<Query<ConsentQuery>, QueryRejection>,
) -> Response {
    let request = query.ok().and_then(|q| q.0.request).unwrap_or_default();
    let (Some(flow), Some((session_id, session))) = (
        cookie(&headers, FLOW_COOKIE),
        live_session(&service, &headers).await,
    ) else {
        return error_page(
            StatusCode::UNAUTHORIZED,
            &OAuthError::new("login_required", "log in first, from the app"),
        );
    };
    let now = now_millis();
    let pending = match service.provider.pending(&request, flow, now).await {
        Ok(p) => p,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e),
    };
    if session.level < pending.level {
        return page(
            StatusCode::UNAUTHORIZED,
            "统一身份认证 / One login",
            &login_form(&service, &pending, None),
        );
    }
    page(
        StatusCode::OK,
        "授权 / Consent",
        &consent_form(&service, &pending, &session_id),
    )
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConsentForm {
    request: Option<String>,
    form_token: Option<String>,
    decision: Option<String>,
}

async fn consent(
    State(service): State<Service>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Response {
    let form = form.map(|f| f.0).unwrap_or_default();
    let now = now_millis();
    if !same_origin(&service, &headers) {
        return error_page(
            StatusCode::FORBIDDEN,
            &OAuthError::new("access_denied", "a form from another site was refused"),
        );
    }
    let request = form.request.unwrap_or_default();
    let (Some(flow), Some((session_id, session))) = (
        cookie(&headers, FLOW_COOKIE),
        live_session(&service, &headers).await,
    ) else {
        return error_page(
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
        Err(e) => error_page(oauth_status(&e), &e),
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

async fn token(
    State(service): State<Service>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let Ok(Form(req)) = form else {
        return oauth_error(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
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

async fn userinfo(State(service): State<Service>, headers: HeaderMap) -> Response {
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

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn revoke(
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

async fn introspect(
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

/// RP-initiated logout: ends this browser's session and goes back to the app if it asked.
async fn logout(
    State(service): State<Service>,
    headers: HeaderMap,
    params: Result<Query<LogoutParams>, QueryRejection>,
) -> Response {
    let params = params.map(|q| q.0).unwrap_or_default();
    let target = match service.provider.logout(&params).await {
        Ok(t) => t,
        Err(e) => return error_page(oauth_status(&e), &e),
    };
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = service.sessions.end(id).await {
            return error_page(StatusCode::SERVICE_UNAVAILABLE, &OAuthError::from(e));
        }
    }
    let mut response = match target {
        Some(to) => redirect(&to),
        None => page(
            StatusCode::OK,
            "已退出 / Logged out",
            "<p>已退出登录 / You are logged out.</p>",
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

#[derive(Debug, Deserialize)]
pub(crate) struct RegisterBody {
    citizen_id: String,
    name: String,
    phone: String,
    password: String,
}

/// Registration: the account is made and a code sent to the phone.
async fn register(
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
    match accounts.register(&new, now).await {
        Ok(account) => {
            if let Err(e) = accounts.deliver().await {
                tracing::warn!(error = %e, "the phone code waits in the outbox");
            }
            (
                StatusCode::CREATED,
                Json(json!({ "account_id": account.id })),
            )
                .into_response()
        }
        Err(e) => identity_error(e),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ConfirmBody {
    account_id: String,
    code: String,
}

/// Confirms the phone (L1), then checks the real name through the exchange (L2).
async fn confirm(
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
async fn logout_everywhere(State(service): State<Service>, headers: HeaderMap) -> Response {
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
