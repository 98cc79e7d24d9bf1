//! The platform's HTTP server (axum).
//!
//! What it serves, and which public shape each path follows:
//!
//! | path | what | shape |
//! |---|---|---|
//! | `GET /data/{dataset}/{version}/read` | a signed, grant-checked, recorded per-subject read through [`Exchange::read`] | GovStack Digital Registries `read`, with X-Road's request hash |
//! | `GET /data/myPersonalDataUsage` | who read one citizen's data, when and why, each with a ledger receipt | GovStack Digital Registries `myPersonalDataUsage` (the Estonian Data Tracker) |
//! | `GET /openapi.json` | this API, generated from the handlers | OpenAPI 3.1 |
//! | `GET /metrics` | reads by outcome, read latency | Prometheus / OpenMetrics text |
//! | `GET /healthz` | liveness | |
//! | `GET /ledger/*` | the ledger's checkpoint, tiles and entry bundles, read-only | C2SP tlog-tiles |
//!
//! A read request names its consumer, purpose and request id in headers
//! ([`CLIENT_HEADER`], [`PURPOSE_HEADER`], [`REQUEST_ID_HEADER`]) and the subject and fields in
//! the query (`?subject=…&fields=a,b`); [`SIGNATURE_HEADER`] carries the consumer's Ed25519
//! signature over [`ReadRequest::canonical_bytes`]. The answer carries the owner's signature
//! over the response, which binds the request's SHA-256, also sent as [`REQUEST_HASH_HEADER`].
//! Refusals are JSON `{ "code", "message" }` with the exchange's stable codes.
//!
//! [`identity_router`] serves the OpenID Connect provider of the identity crate: discovery,
//! JWKS, authorisation with its login and consent pages, token, UserInfo, revocation,
//! introspection, logout, registration and federation (`/.well-known`, `/oauth`, `/account`,
//! `/federation`). [`router_with_identity`] serves both, and then the data tracker answers a
//! signed-in citizen about their own reads and an auditor about their division, besides the
//! operator token (`Authorization: Bearer …`); with [`router`] alone it answers only that
//! token, and is disabled when none is configured.
//!
//! This crate holds no business rule: every check of a read is the exchange's, every proof the
//! ledger's, every login and authorisation decision the identity crate's. It is not the portal
//! (HTML beyond the login and consent pages comes later).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use errandless_exchange::Exchange;
use errandless_ledger::NoteVerifier;

mod api;
mod decider;
mod error;
mod g2p;
mod metrics;
mod oidc;
mod passkeys;
mod portal;
mod time;
mod tracker;

pub use api::{
    openapi, ReadBody, CLIENT_HEADER, DATASET_VERSION, LEDGER_INDEX_HEADER, PURPOSE_HEADER,
    REQUEST_HASH_HEADER, REQUEST_ID_HEADER, SIGNATURE_HEADER,
};
pub use decider::{DecideError, Decider, Enacted, Stage};
pub use errandless_exchange::ReadRequest;
pub use error::ErrorBody;
pub use g2p::{G2pAccess, CORRELATION_HEADER, MAX_PAGE_SIZE as G2P_MAX_PAGE_SIZE, TENANT_HEADER};
pub use oidc::{IdentityService, DEVICE_COOKIE, FLOW_COOKIE, SESSION_COOKIE};
pub use portal::{PortalError, PORTAL_CLIENT, PORTAL_COOKIE};
pub use tracker::{data_usage_of, DataUsage, Reference, TrackerError};

/// What the server needs besides the exchange.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The ledger's directory, served read-only under `/ledger/` and proven from.
    pub ledger_dir: PathBuf,
    /// The ledger's public key, with which receipts are checked before they are handed out.
    pub ledger_verifier: NoteVerifier,
    /// The data center's directory, whose delta files list the subjects of each bulk sync.
    pub datacenter_dir: PathBuf,
    /// The token that opens the data tracker; `None` disables it.
    pub operator_token: Option<String>,
    /// Who may follow the payment files through the GovStack G2P API; `None` serves no G2P.
    pub g2p: Option<g2p::G2pAccess>,
}

/// Appends one entry of `kind` by `actor`, with `body`, to the ledger.
pub(crate) async fn record_entry(
    exchange: &Exchange,
    kind: &str,
    actor: &str,
    body: serde_json::Value,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut entry = errandless_ledger::Entry::new(errandless_ledger::Kind::new(kind)?, actor)?;
    entry.time = Some(u64::try_from(errandless_identity::now_millis() / 1000).unwrap_or_default());
    entry.body = body;
    exchange.append_entries(vec![entry.to_bytes()?]).await?;
    Ok(())
}

/// The server's shared state.
pub(crate) struct App {
    pub exchange: Arc<Exchange>,
    pub config: ServerConfig,
    pub metrics: metrics::Metrics,
    /// Sessions and staff roles, when the provider is served too: the data tracker then
    /// answers a citizen about their own records and an auditor about their division.
    pub identity: Option<Arc<IdentityService>>,
}

impl App {
    /// What time it is for the installation: the clock its exchange was given (the system's
    /// unless a rehearsal set another), which every record the portal makes is timed by.
    pub fn now(&self) -> errandless_standards::Millis {
        self.exchange.clock().now_millis()
    }
}

/// The router of every endpoint, over an exchange that records in the ledger at
/// `config.ledger_dir`.
pub fn router(exchange: Arc<Exchange>, config: ServerConfig) -> axum::Router {
    let app = Arc::new(App {
        exchange,
        metrics: metrics::Metrics::new(),
        config,
        identity: None,
    });
    api::routes(app)
}

/// Every endpoint and the OpenID Connect provider, with the data tracker open to signed-in
/// citizens (their own records) and auditors (their division) as well as the operator.
pub fn router_with_identity(
    exchange: Arc<Exchange>,
    config: ServerConfig,
    identity: Arc<IdentityService>,
) -> axum::Router {
    let app = Arc::new(App {
        exchange,
        metrics: metrics::Metrics::new(),
        config,
        identity: Some(Arc::clone(&identity)),
    });
    api::routes(app).merge(oidc::routes(identity))
}

/// What the portal serves beyond the pages every installation has.
#[derive(Default)]
pub struct PortalOptions {
    /// The member (and its key) whose grants fill application forms; without it, forms are
    /// typed in full.
    pub prefill_as: Option<(String, ed25519_dalek::SigningKey)>,
    /// Policies simulated and enacted from the console; without it, the console shows the
    /// policies and their runs and points to the command line.
    pub decider: Option<Arc<Decider>>,
}

/// Everything [`router_with_identity`] serves, and the citizens' portal and the staff
/// console (HTML) besides. The portal registers itself as a client of the provider on first
/// start.
pub async fn router_with_portal(
    exchange: Arc<Exchange>,
    config: ServerConfig,
    identity: Arc<IdentityService>,
    options: PortalOptions,
) -> Result<axum::Router, PortalError> {
    let app = Arc::new(App {
        exchange,
        metrics: metrics::Metrics::new(),
        config,
        identity: Some(Arc::clone(&identity)),
    });
    let portal = portal::routes(Arc::clone(&app), Arc::clone(&identity), options).await?;
    Ok(api::routes(app).merge(oidc::routes(identity)).merge(portal))
}

/// The router of the OpenID Connect provider and the login pages.
pub fn identity_router(service: Arc<IdentityService>) -> axum::Router {
    oidc::routes(service)
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes the requests in
/// flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, "serving");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
