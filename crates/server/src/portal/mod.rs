//! The citizens' portal and the staff console: server-rendered HTML in zh-CN and English.
//!
//! The request path: [`routes`] maps a path to a handler in [`citizen`] or [`console`]; the
//! handler finds who is asking ([`Visitor`], from the portal's session cookie), asks the
//! domain crates, and renders an askama template (`templates/`) around the shared
//! [`Chrome`]. Nothing here decides a business rule.
//!
//! - **Login** goes through this server's own OpenID Connect provider: [`auth`] is an
//!   authorisation-code client with PKCE, state and nonce, whose token exchange and ID-token
//!   check run in-process against the provider. The portal then holds a session of its own.
//! - **Forms** carry a token bound to the session ([`Visitor::csrf`]) and must come from this
//!   origin; a POST without both is refused and changes nothing.
//! - **Errors** are pages: a friendly 404 for unknown paths, a 403 that is written to the
//!   ledger as a `refusal` entry, and a 500 that never shows internals.
//! - **Assets** (one stylesheet, htmx) are built into the binary and served from `/assets/`;
//!   no page loads anything from elsewhere.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use errandless_identity::{Account, Assignment};
use serde::Deserialize;

use crate::oidc::IdentityService;
use crate::App;

mod auth;
mod citizen;
mod console;
mod data;
mod i18n;
mod policy_runs;
mod registration;
pub(crate) mod services;

pub use i18n::{Lang, Messages, Tr};

/// The portal's session cookie (`__Host-portal` under https).
pub const PORTAL_COOKIE: &str = "portal";
/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "lang";
/// The portal's client id at the provider.
pub const PORTAL_CLIENT: &str = "portal";

/// Why the portal could not start.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("the portal's messages are broken: {0}")]
    Messages(String),
    #[error("the portal's tables could not be prepared: {0}")]
    Store(String),
    #[error("the portal's client could not be registered at the provider: {0}")]
    Client(#[from] errandless_identity::ClientError),
    #[error("the portal's client {client:?} is registered with other redirect URIs ({found:?}); it needs {needed:?}")]
    RedirectMismatch {
        client: String,
        found: Vec<String>,
        needed: String,
    },
}

/// What the portal's handlers share.
pub(crate) struct Portal {
    pub app: Arc<App>,
    pub identity: Arc<IdentityService>,
    pub messages: Messages,
    /// Where the provider sends the browser back after login.
    pub redirect_uri: String,
    /// Applications and cases, when the services are served.
    pub applications: Option<services::Applications>,
    /// Policies simulated and enacted from the console, when this server may run them.
    pub decider: Option<Arc<crate::Decider>>,
    /// The console's policy runs.
    pub runs: policy_runs::PolicyRuns,
    /// The policies' titles, read once.
    titles:
        std::sync::RwLock<Option<Arc<std::collections::HashMap<String, errandless_policy::Title>>>>,
}

pub(crate) type Shared = Arc<Portal>;

/// Registers the portal as a client of the provider (once), and returns its routes.
pub(crate) async fn routes(
    app: Arc<App>,
    identity: Arc<IdentityService>,
    options: crate::PortalOptions,
) -> Result<Router, PortalError> {
    let crate::PortalOptions {
        prefill_as,
        decider,
    } = options;
    let messages = Messages::builtin().map_err(PortalError::Messages)?;
    let issuer = identity.provider.issuer().trim_end_matches('/').to_owned();
    let redirect_uri = format!("{issuer}/auth/callback");
    auth::register_client(&identity, &issuer, &redirect_uri).await?;
    let store = app.exchange.store().clone();
    errandless_services::migrate(&store)
        .await
        .map_err(|e| PortalError::Store(e.to_string()))?;
    let cases = errandless_services::Cases::new(
        store,
        app.exchange.ledger(),
        app.exchange.subject_key().clone(),
    );
    // Events an interrupted run left unlogged go into the ledger before anything new.
    cases
        .flush_ledger()
        .await
        .map_err(|e| PortalError::Store(e.to_string()))?;
    let applications = Some(services::Applications::new(cases, prefill_as));
    let portal = Arc::new(Portal {
        applications,
        decider,
        runs: policy_runs::PolicyRuns::default(),
        app,
        identity,
        messages,
        redirect_uri,
        titles: std::sync::RwLock::new(None),
    });
    Ok(Router::new()
        .route("/", get(citizen::home))
        .route("/login", get(auth::login))
        .route("/auth/callback", get(auth::callback))
        .route("/logout", post(auth::logout))
        .route("/lang", get(switch_lang))
        .route("/benefits/{policy}/{period}", get(citizen::benefit))
        .route("/my-data", get(citizen::my_data))
        .route("/my-data/verify", post(citizen::verify))
        .merge(citizen::service_routes())
        .merge(console::routes())
        .merge(registration::routes())
        .route("/assets/portal.css", get(stylesheet))
        .route("/assets/htmx.min.js", get(htmx))
        .fallback(not_found)
        .with_state(portal))
}

/// Who is asking: nobody, or a signed-in account.
pub(crate) struct Visitor {
    pub lang: Lang,
    /// The path asked for, for the language switch and the return after login.
    pub path: String,
    pub signed_in: Option<SignedIn>,
    /// Whether the request came from this origin (for POSTs).
    pub same_origin: bool,
}

/// A signed-in account and its session.
pub(crate) struct SignedIn {
    pub session: String,
    pub account: Account,
    /// The level the login reached.
    pub level: errandless_identity::Level,
    pub roles: Vec<Assignment>,
}

impl SignedIn {
    /// The citizen ID number, once the real-name check has passed; records tied to an ID
    /// number are shown only then.
    pub fn citizen_id(&self) -> Option<errandless_standards::CitizenId> {
        if !self.account.real_name_checked {
            return None;
        }
        self.account.citizen_id.parse().ok()
    }
}

impl Visitor {
    /// Reads the language and the portal session from the request.
    pub async fn of(portal: &Portal, headers: &HeaderMap, uri: &Uri) -> Visitor {
        let lang = portal
            .identity
            .read_cookie(headers, LANG_COOKIE)
            .map(Lang::parse)
            .unwrap_or_default();
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".to_owned());
        let same_origin = crate::oidc::same_origin(&portal.identity, headers);
        let mut visitor = Visitor {
            lang,
            path,
            signed_in: None,
            same_origin,
        };
        let Some(cookie) = portal.identity.read_cookie(headers, PORTAL_COOKIE) else {
            return visitor;
        };
        let now = portal.app.now();
        let Ok(session) = portal.identity.sessions.find(cookie, now).await else {
            return visitor;
        };
        let provider = &portal.identity.provider;
        let staff = provider.staff();
        let (account, roles) = tokio::join!(
            provider.accounts().find(&session.account_id),
            staff.of(&session.account_id)
        );
        let Ok(account) = account else {
            return visitor;
        };
        visitor.signed_in = Some(SignedIn {
            session: cookie.to_owned(),
            account,
            level: session.level,
            roles: roles.unwrap_or_default(),
        });
        visitor
    }

    pub fn tr<'a>(&self, portal: &'a Portal) -> Tr<'a> {
        Tr {
            lang: self.lang,
            messages: &portal.messages,
        }
    }

    /// The token every form of this session carries.
    pub fn csrf(&self, portal: &Portal) -> String {
        match &self.signed_in {
            Some(s) => portal.identity.provider.form_token(&s.session, "portal"),
            None => String::new(),
        }
    }

    /// The visitor of a form's POST once its token and origin are checked; otherwise the page
    /// that refuses it, with nothing changed.
    pub async fn posting(
        portal: &Portal,
        headers: &HeaderMap,
        uri: &Uri,
        token: &str,
    ) -> Result<Visitor, Response> {
        let visitor = Visitor::of(portal, headers, uri).await;
        if visitor.form_ok(portal, token) {
            Ok(visitor)
        } else {
            Err(stale_form(portal, &visitor))
        }
    }

    /// Whether a POST may act: signed in, from this origin, with this session's form token.
    pub fn form_ok(&self, portal: &Portal, token: &str) -> bool {
        self.same_origin
            && self.signed_in.as_ref().is_some_and(|s| {
                portal
                    .identity
                    .provider
                    .form_token_ok(token, &s.session, "portal")
            })
    }

    /// The page frame of a page titled `title`.
    pub fn chrome<'a>(&self, portal: &'a Portal, title: String) -> Chrome<'a> {
        Chrome {
            tr: self.tr(portal),
            title,
            name: self.signed_in.as_ref().map(|s| s.account.name.clone()),
            staff: self.signed_in.as_ref().is_some_and(|s| !s.roles.is_empty()),
            csrf: self.csrf(portal),
            switch_to: self.lang.other().tag(),
            back_q: urlencode(&self.path),
        }
    }
}

/// What every page shows around its content: the header, the language switch, the footer.
pub(crate) struct Chrome<'a> {
    pub tr: Tr<'a>,
    pub title: String,
    /// The signed-in account's name.
    pub name: Option<String>,
    /// Whether to show the console link.
    pub staff: bool,
    pub csrf: String,
    pub switch_to: &'static str,
    /// The page's own path, URL-encoded, to come back to.
    pub back_q: String,
}

impl Chrome<'_> {
    pub fn t(&self, id: &str) -> String {
        self.tr.t(id)
    }

    pub fn lang(&self) -> &'static str {
        self.tr.lang.tag()
    }
}

/// A rendered page with the portal's headers: no caching of personal pages, no framing, no
/// script or style from anywhere but here.
pub(crate) fn page(
    status: StatusCode,
    lang: Lang,
    html: Result<String, askama::Error>,
) -> Response {
    let html = match html {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "a portal page could not be rendered");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "服务暂时不可用 / The service is unavailable for a moment",
            )
                .into_response();
        }
    };
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

/// A redirect that is never cached.
pub(crate) fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Text as one component of a URL's query or path.
pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A path on this site to go back to: only a local absolute path, never `//host` or a URL.
pub(crate) fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && p.len() <= 512
                && !p.chars().any(char::is_control) =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    c: Chrome<'a>,
    text: String,
    back: bool,
}

/// A page that says one thing: an error, a refusal.
pub(crate) fn message(
    portal: &Portal,
    visitor: &Visitor,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    let c = visitor.chrome(portal, visitor.tr(portal).t(title));
    let text = visitor.tr(portal).t(text);
    page(
        status,
        visitor.lang,
        MessagePage {
            c,
            text,
            back: true,
        }
        .render(),
    )
}

/// Something failed inside: logged in full, shown as a calm page.
pub(crate) fn internal(portal: &Portal, visitor: &Visitor, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, path = %visitor.path, "a portal page failed");
    message(
        portal,
        visitor,
        StatusCode::INTERNAL_SERVER_ERROR,
        "error-internal-title",
        "error-internal",
    )
}

/// The visitor may not do this: a 403 page, and a `refusal` entry in the ledger naming who
/// tried what (the account id, never the citizen's ID number).
pub(crate) async fn forbidden(portal: &Portal, visitor: &Visitor, action: &str) -> Response {
    let actor = visitor
        .signed_in
        .as_ref()
        .map(|s| format!("account:{}", s.account.id))
        .unwrap_or_else(|| "anonymous".to_owned());
    tracing::warn!(%actor, action, path = %visitor.path, "refused");
    portal.app.metrics.refused(action);
    if let Err(e) = record_refusal(portal, &actor, action, &visitor.path).await {
        tracing::error!(error = %e, "a refusal could not be recorded in the ledger");
    }
    message(
        portal,
        visitor,
        StatusCode::FORBIDDEN,
        "error-forbidden-title",
        "error-forbidden",
    )
}

async fn record_refusal(
    portal: &Portal,
    actor: &str,
    action: &str,
    path: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let body = serde_json::json!({ "action": action, "path": path });
    crate::record_entry(&portal.app.exchange, "refusal", actor, body).await
}

/// A form whose token or origin is wrong: refused, nothing changed.
pub(crate) fn stale_form(portal: &Portal, visitor: &Visitor) -> Response {
    message(
        portal,
        visitor,
        StatusCode::FORBIDDEN,
        "error-bad-request-title",
        "error-csrf",
    )
}

/// Not signed in: to the login, and back here afterwards.
pub(crate) fn to_login(visitor: &Visitor) -> Response {
    let next = urlencode(&visitor.path);
    see_other(&format!("/login?next={next}"))
}

async fn not_found(State(portal): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let visitor = Visitor::of(&portal, &headers, &uri).await;
    not_found_page(&portal, &visitor)
}

/// The friendly 404.
pub(crate) fn not_found_page(portal: &Portal, visitor: &Visitor) -> Response {
    message(
        portal,
        visitor,
        StatusCode::NOT_FOUND,
        "error-not-found-title",
        "error-not-found",
    )
}

#[derive(Deserialize)]
struct LangQuery {
    to: Option<String>,
    back: Option<String>,
}

/// Switches the language (a cookie for a year) and goes back to the page.
async fn switch_lang(State(portal): State<Shared>, Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::parse(q.to.as_deref().unwrap_or(""));
    let mut r = see_other(&local_path(q.back.as_deref()));
    r.headers_mut().append(
        header::SET_COOKIE,
        portal
            .identity
            .cookie(LANG_COOKIE, lang.tag(), 365 * 24 * 3600),
    );
    r
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_bytes!("../../assets/portal.css"),
    )
}

async fn htmx() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/htmx.min.js"),
    )
}
