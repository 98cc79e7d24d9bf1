//! The OpenID Connect provider: the protocol, without HTTP (the `server` crate maps its
//! endpoints onto these functions).
//!
//! It follows OpenID Connect Core 1.0 and Discovery 1.0 for the authorization code flow only,
//! with PKCE S256 required of every client (RFC 7636; OAuth 2.0 Security BCP, RFC 9700 §2.1.1),
//! `state` and `nonce` required and refused when a client sends one twice, redirect URIs
//! compared exactly, codes that work once for one minute (a second use revokes what the first
//! gave, RFC 6749 §4.1.2), refresh tokens rotated at every use with reuse detection (a used
//! refresh token presented again revokes its whole family, RFC 9700 §4.14.2), revocation
//! (RFC 7009), introspection (RFC 7662), RP-initiated logout (OpenID Connect RP-Initiated
//! Logout 1.0) and the `iss` authorization response parameter (RFC 9207).
//!
//! `sub` is pairwise (OpenID Connect Core §8.1): an HMAC of the account under the
//! installation's secret and the client's id, so two apps cannot join their users by `sub`,
//! as the national online ID (网号) gives each app its own pseudonym. The ID number is
//! released only under the `citizen_id` scope, and only once it was checked.

use errandless_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use crate::account::Accounts;
use crate::error::IdentityError;
use crate::level::Level;
use crate::session::Session;
use crate::token::{b64url, hash_secret, keyed_hash, random_token, same_secret, Millis};
use crate::Secret;
use spend::{NewToken, SpendKind, Spends};

mod client;
mod error;
pub mod jose;
mod keys;
mod scope;
mod spend;

pub use client::{check_redirect_uri, Client, ClientError, Clients, NewClient};
pub use error::OAuthError;
pub use jose::{Alg, JoseError};
pub use keys::{Keys, PUBLISH_RETIRED_MS};
pub use scope::{all_claims, scope, ScopeInfo, SCOPES};

/// A code works this long.
pub const CODE_MS: Millis = 60_000;
/// An access token works this long.
pub const ACCESS_TOKEN_MS: Millis = 10 * 60_000;
/// A refresh token works this long unless used (and so rotated) first.
pub const REFRESH_TOKEN_MS: Millis = 30 * 24 * 3_600_000;
/// An ID token's lifetime.
pub const ID_TOKEN_MS: Millis = 10 * 60_000;
/// A pending authorisation waits this long for login and consent.
pub const AUTH_REQUEST_MS: Millis = 10 * 60_000;
/// How long a client's nonces and states are remembered, to refuse them when replayed.
pub const USED_VALUE_MS: Millis = 24 * 3_600_000;

/// The parameters of an authorisation request (OpenID Connect Core §3.1.2.1).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// Levels the client asks for, highest counts (`L1`, `L2`, `L3`).
    pub acr_values: Option<String>,
}

/// Why an authorisation request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: tell the person, never redirect
    /// (RFC 6749 §4.1.2.1).
    Show(OAuthError),
    /// Send the browser back to the client with the error.
    Redirect(String),
}

/// An authorisation waiting for login and consent.
#[derive(Clone, Debug)]
pub struct Pending {
    pub id: String,
    pub client: Client,
    pub scopes: Vec<String>,
    /// The level the login must reach.
    pub level: Level,
    /// The value of the cookie that binds the request to the browser that began it.
    pub browser: String,
}

/// A token request's form (RFC 6749 §4.1.3 and §6).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The client's credentials, from HTTP Basic or the form (RFC 6749 §2.3.1).
#[derive(Clone, Debug, Default)]
pub struct ClientAuth {
    pub id: Option<String>,
    pub secret: Option<String>,
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub id_token: String,
    pub scope: String,
}

/// RP-initiated logout's parameters.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

/// The grant a token request spends: a code, or a refresh token (each by its hash).
#[derive(Clone, Copy)]
enum Spend<'a> {
    Code(&'a str),
    Refresh(&'a str),
}

/// What a token row says.
struct TokenRow {
    kind: String,
    family: String,
    client_id: String,
    account_id: String,
    scope: String,
    level: Level,
    amr: Vec<String>,
    auth_time: Millis,
    created_at: Millis,
    expires_at: Millis,
    used_at: Option<Millis>,
    revoked_at: Option<Millis>,
}

/// The OpenID Connect provider.
#[derive(Clone, Debug)]
pub struct Provider {
    store: Store,
    /// On SQLite, write transactions wait here for one another rather than in SQLite's busy
    /// handler, which sleeps and retries; on PostgreSQL only the token requests' batches take
    /// it, one batch at a time.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Token requests waiting to be committed together (see `spend.rs`).
    spends: Spends,
    issuer: String,
    keys: Keys,
    clients: Clients,
    accounts: Accounts,
    secret: Secret,
}

fn redirect_with(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        Err(_) => uri.to_owned(),
    }
}

/// Whether a PKCE value has the form RFC 7636 §4.1 gives: 43 to 128 unreserved characters.
fn pkce_shaped(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn seconds(ms: Millis) -> i64 {
    ms / 1000
}

fn token_row(r: &sqlx::any::AnyRow) -> Result<TokenRow, IdentityError> {
    let level: String = r.try_get("level")?;
    let amr: String = r.try_get("amr")?;
    Ok(TokenRow {
        kind: r.try_get("kind")?,
        family: r.try_get("family")?,
        client_id: r.try_get("client_id")?,
        account_id: r.try_get("account_id")?,
        scope: r.try_get("scope")?,
        level: level
            .parse()
            .map_err(|e: crate::UnknownLevel| IdentityError::Database(e.to_string()))?,
        amr: amr.split_whitespace().map(str::to_owned).collect(),
        auth_time: r.try_get("auth_time")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

impl Provider {
    /// The provider of `issuer` (its public base URL, no trailing slash), making signing keys
    /// on first start.
    pub async fn open(
        store: Store,
        issuer: &str,
        accounts: Accounts,
        secret: Secret,
        now: Millis,
    ) -> Result<Provider, IdentityError> {
        Ok(Provider {
            keys: Keys::open(store.clone(), now).await?,
            clients: Clients::new(store.clone()),
            issuer: issuer.trim_end_matches('/').to_owned(),
            writer: std::sync::Arc::default(),
            spends: Spends::default(),
            store,
            accounts,
            secret,
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The passkeys of this provider's accounts, its issuer's host being the WebAuthn relying
    /// party. Refused for an issuer on an IP address, which WebAuthn does not accept.
    pub fn passkeys(&self) -> Result<crate::Passkeys, crate::PasskeyError> {
        crate::Passkeys::new(self.store.clone(), &self.issuer, "Errandless")
    }

    /// The staff roles kept beside the accounts.
    pub fn staff(&self) -> crate::Staff {
        crate::Staff::new(self.store.clone())
    }

    /// The token a form of the login pages carries, bound to the browser's session (or flow)
    /// cookie and to the request, so a form posted from another site is refused.
    pub fn form_token(&self, cookie: &str, request: &str) -> String {
        b64url(&keyed_hash(
            self.secret.bytes(),
            &[b"form", cookie.as_bytes(), request.as_bytes()],
        ))
    }

    /// Whether `token` is [`form_token`](Self::form_token) of this cookie and request.
    pub fn form_token_ok(&self, token: &str, cookie: &str, request: &str) -> bool {
        same_secret(
            token.as_bytes(),
            self.form_token(cookie, request).as_bytes(),
        )
    }

    /// Waits for the other writers of this process, on SQLite only.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.store.backend() {
            errandless_store::Backend::Sqlite => Some(self.writer.lock().await),
            errandless_store::Backend::Postgres => None,
        }
    }

    /// The pairwise subject of an account for a client.
    pub fn subject(&self, client_id: &str, account_id: &str) -> String {
        b64url(&keyed_hash(
            self.secret.bytes(),
            &[b"pairwise-sub", client_id.as_bytes(), account_id.as_bytes()],
        ))
    }

    /// The discovery document (OpenID Connect Discovery 1.0 §3).
    pub fn discovery(&self) -> Value {
        let at = |path: &str| format!("{}{path}", self.issuer);
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": at("/oauth/authorize"),
            "token_endpoint": at("/oauth/token"),
            "userinfo_endpoint": at("/oauth/userinfo"),
            "jwks_uri": at("/oauth/jwks"),
            "revocation_endpoint": at("/oauth/revoke"),
            "introspection_endpoint": at("/oauth/introspect"),
            "end_session_endpoint": at("/oauth/logout"),
            "scopes_supported": SCOPES.iter().map(|s| s.name).collect::<Vec<_>>(),
            "claims_supported": all_claims(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "acr_values_supported": ["L1", "L2", "L3"],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
        })
    }

    /// Checks an authorisation request and keeps it until login and consent. `browser` is the
    /// flow cookie the browser already has, if any.
    pub async fn authorize(
        &self,
        p: &AuthorizeParams,
        browser: Option<&str>,
        now: Millis,
    ) -> Result<Pending, AuthorizeError> {
        let show = |e: OAuthError| AuthorizeError::Show(e);
        let client_id = p.client_id.as_deref().unwrap_or_default();
        let client = self
            .clients
            .find(client_id)
            .await
            .map_err(|e| show(e.into()))?
            .ok_or_else(|| show(OAuthError::new("invalid_client", "unknown client_id")))?;
        let redirect_uri = p.redirect_uri.as_deref().unwrap_or_default();
        if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
            return Err(show(OAuthError::invalid_request(
                "redirect_uri is not one the client registered",
            )));
        }
        let state = p.state.as_deref().unwrap_or_default();
        let fail = |error: &'static str, description: &str| {
            let mut pairs = vec![("error", error), ("error_description", description)];
            if !state.is_empty() {
                pairs.push(("state", state));
            }
            pairs.push(("iss", &self.issuer));
            AuthorizeError::Redirect(redirect_with(redirect_uri, &pairs))
        };
        if p.response_type.as_deref() != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        let scopes: Vec<String> = p
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err(fail("invalid_scope", "the openid scope is required"));
        }
        if let Some(s) = scopes.iter().find(|s| !client.scopes.contains(s)) {
            return Err(fail(
                "invalid_scope",
                &format!("scope {s} is not allowed for this client"),
            ));
        }
        if state.is_empty() || state.len() > 512 {
            return Err(fail(
                "invalid_request",
                "state is required (at most 512 characters)",
            ));
        }
        let nonce = p.nonce.as_deref().unwrap_or_default();
        if nonce.is_empty() || nonce.len() > 512 {
            return Err(fail(
                "invalid_request",
                "nonce is required (at most 512 characters)",
            ));
        }
        let challenge = p.code_challenge.as_deref().unwrap_or_default();
        if p.code_challenge_method.as_deref() != Some("S256") || !pkce_shaped(challenge) {
            return Err(fail(
                "invalid_request",
                "PKCE is required: code_challenge with code_challenge_method=S256",
            ));
        }
        let mut level = client.min_level;
        for asked in p
            .acr_values
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
        {
            if let Ok(l) = asked.parse::<Level>() {
                level = level.max(l);
            }
        }
        let internal = |e: sqlx::Error| fail("server_error", &IdentityError::from(e).to_string());
        let _turn = self.write_turn().await;
        let mut tx = self.store.pool().begin().await.map_err(internal)?;
        sqlx::query("DELETE FROM identity_used_values WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        for (kind, value) in [("nonce", nonce), ("state", state)] {
            let inserted = sqlx::query(
                "INSERT INTO identity_used_values (client_id, kind, value_hash, expires_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, kind, value_hash) DO NOTHING",
            )
            .bind(&client.id)
            .bind(kind)
            .bind(hash_secret(value))
            .bind(now + USED_VALUE_MS)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
            if inserted.rows_affected() == 0 {
                return Err(fail(
                    "invalid_request",
                    &format!("this {kind} has been used before"),
                ));
            }
        }
        let browser = browser
            .filter(|b| b.len() == 43)
            .map(str::to_owned)
            .unwrap_or_else(random_token);
        let id = random_token();
        sqlx::query(
            "INSERT INTO identity_auth_requests (id, client_id, redirect_uri, scope, state, nonce, \
             code_challenge, level, browser_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&id)
        .bind(&client.id)
        .bind(redirect_uri)
        .bind(scopes.join(" "))
        .bind(state)
        .bind(nonce)
        .bind(challenge)
        .bind(level.code())
        .bind(hash_secret(&browser))
        .bind(now)
        .bind(now + AUTH_REQUEST_MS)
        .execute(&mut *tx)
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(Pending {
            id,
            client,
            scopes,
            level,
            browser,
        })
    }

    /// The pending authorisation `id`, if it is live and this browser began it.
    pub async fn pending(
        &self,
        id: &str,
        browser: &str,
        now: Millis,
    ) -> Result<Pending, OAuthError> {
        let row = sqlx::query(
            "SELECT client_id, scope, level, browser_hash, expires_at FROM identity_auth_requests WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        let gone = || {
            OAuthError::invalid_request(
                "the login request has expired or is unknown; start again from the app",
            )
        };
        let row = row.ok_or_else(gone)?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let bound: String = row.try_get("browser_hash")?;
        if now >= expires_at {
            return Err(gone());
        }
        if !same_secret(bound.as_bytes(), hash_secret(browser).as_bytes()) {
            return Err(OAuthError::new(
                "access_denied",
                "this login request was begun in another browser",
            ));
        }
        let client_id: String = row.try_get("client_id")?;
        let client = self.clients.find(&client_id).await?.ok_or_else(gone)?;
        let scope: String = row.try_get("scope")?;
        let level: String = row.try_get("level")?;
        Ok(Pending {
            id: id.to_owned(),
            client,
            scopes: scope.split_whitespace().map(str::to_owned).collect(),
            level: level.parse().unwrap_or(Level::L3),
            browser: browser.to_owned(),
        })
    }

    /// Whether the account already consented to this client for these scopes.
    pub async fn has_consent(
        &self,
        account_id: &str,
        pending: &Pending,
    ) -> Result<bool, IdentityError> {
        let row = sqlx::query(
            "SELECT scope FROM identity_consents WHERE account_id = $1 AND client_id = $2",
        )
        .bind(account_id)
        .bind(&pending.client.id)
        .fetch_optional(self.store.pool())
        .await?;
        Ok(match row {
            Some(r) => {
                let granted: String = r.try_get("scope")?;
                let granted: Vec<&str> = granted.split_whitespace().collect();
                pending.scopes.iter().all(|s| granted.contains(&s.as_str()))
            }
            None => false,
        })
    }

    /// The citizen consented: records the consent, issues a code and returns where to send the
    /// browser. The session must have reached the request's level.
    pub async fn approve(
        &self,
        id: &str,
        browser: &str,
        session: &Session,
        now: Millis,
    ) -> Result<String, OAuthError> {
        let pending = self.pending(id, browser, now).await?;
        if session.level < pending.level {
            return Err(OAuthError::new(
                "login_required",
                format!(
                    "this app needs level {}; log in with your second factor",
                    pending.level
                ),
            ));
        }
        let row = sqlx::query(
            "SELECT redirect_uri, state, nonce, code_challenge FROM identity_auth_requests WHERE id = $1",
        )
        .bind(id)
        .fetch_one(self.store.pool())
        .await?;
        let redirect_uri: String = row.try_get("redirect_uri")?;
        let state: String = row.try_get("state")?;
        let nonce: String = row.try_get("nonce")?;
        let challenge: String = row.try_get("code_challenge")?;
        let code = random_token();
        let scope = pending.scopes.join(" ");
        let _turn = self.write_turn().await;
        let mut tx = self.store.pool().begin().await?;
        let deleted = sqlx::query("DELETE FROM identity_auth_requests WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() != 1 {
            return Err(OAuthError::invalid_request(
                "this login request was already answered",
            ));
        }
        sqlx::query(
            "INSERT INTO identity_consents (account_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(&session.account_id)
        .bind(&pending.client.id)
        .bind(&scope)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO identity_codes (code_hash, client_id, account_id, redirect_uri, scope, nonce, \
             code_challenge, level, amr, auth_time, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(hash_secret(&code))
        .bind(&pending.client.id)
        .bind(&session.account_id)
        .bind(&redirect_uri)
        .bind(&scope)
        .bind(&nonce)
        .bind(&challenge)
        .bind(session.level.code())
        .bind(session.amr.join(" "))
        .bind(session.auth_time)
        .bind(now + CODE_MS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(redirect_with(
            &redirect_uri,
            &[("code", &code), ("state", &state), ("iss", &self.issuer)],
        ))
    }

    /// The citizen refused: the browser goes back with `access_denied`.
    pub async fn deny(&self, id: &str, browser: &str, now: Millis) -> Result<String, OAuthError> {
        self.pending(id, browser, now).await?;
        let row =
            sqlx::query("SELECT redirect_uri, state FROM identity_auth_requests WHERE id = $1")
                .bind(id)
                .fetch_one(self.store.pool())
                .await?;
        sqlx::query("DELETE FROM identity_auth_requests WHERE id = $1")
            .bind(id)
            .execute(self.store.pool())
            .await?;
        let redirect_uri: String = row.try_get("redirect_uri")?;
        let state: String = row.try_get("state")?;
        Ok(redirect_with(
            &redirect_uri,
            &[
                ("error", "access_denied"),
                ("error_description", "the citizen did not consent"),
                ("state", &state),
                ("iss", &self.issuer),
            ],
        ))
    }

    async fn client_of(&self, auth: &ClientAuth) -> Result<Client, OAuthError> {
        let id = auth
            .id
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_client("client_id is missing"))?;
        self.clients.authenticate(id, auth.secret.as_deref()).await
    }

    /// The token endpoint: a code (with its PKCE verifier) or a refresh token for tokens.
    pub async fn token(
        &self,
        req: &TokenRequest,
        auth: &ClientAuth,
        now: Millis,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.client_of(auth).await?;
        match req.grant_type.as_deref() {
            Some("authorization_code") => self.exchange_code(req, &client, now).await,
            Some("refresh_token") => self.refresh(req, &client, now).await,
            Some(other) => Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported"),
            )),
            None => Err(OAuthError::invalid_request("grant_type is missing")),
        }
    }

    async fn exchange_code(
        &self,
        req: &TokenRequest,
        client: &Client,
        now: Millis,
    ) -> Result<TokenResponse, OAuthError> {
        let code = req
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
        let code_hash = hash_secret(code);
        let row = sqlx::query(
            "SELECT client_id, account_id, redirect_uri, scope, nonce, code_challenge, level, amr, \
             auth_time, expires_at, used_at FROM identity_codes WHERE code_hash = $1",
        )
        .bind(&code_hash)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the code is unknown"))?;
        let client_id: String = row.try_get("client_id")?;
        if client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the code was issued to another client",
            ));
        }
        let used_at: Option<i64> = row.try_get("used_at")?;
        if used_at.is_some() {
            self.revoke_family(&code_hash, now).await?;
            return Err(OAuthError::invalid_grant(
                "the code was already used; the tokens it gave are revoked",
            ));
        }
        let expires_at: i64 = row.try_get("expires_at")?;
        if now >= expires_at {
            return Err(OAuthError::invalid_grant("the code has expired"));
        }
        let redirect_uri: String = row.try_get("redirect_uri")?;
        if req.redirect_uri.as_deref() != Some(redirect_uri.as_str()) {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorisation request's",
            ));
        }
        let verifier = req.code_verifier.as_deref().ok_or_else(|| {
            OAuthError::invalid_grant("code_verifier is missing (PKCE is required)")
        })?;
        let challenge: String = row.try_get("code_challenge")?;
        let computed = b64url(&Sha256::digest(verifier.as_bytes()));
        if !pkce_shaped(verifier) || !same_secret(computed.as_bytes(), challenge.as_bytes()) {
            return Err(OAuthError::invalid_grant(
                "the code_verifier does not match the code_challenge",
            ));
        }
        let level: String = row.try_get("level")?;
        let amr: String = row.try_get("amr")?;
        let nonce: String = row.try_get("nonce")?;
        let grant = TokenRow {
            kind: "refresh".into(),
            family: code_hash,
            client_id,
            account_id: row.try_get("account_id")?,
            scope: row.try_get("scope")?,
            level: level
                .parse()
                .map_err(|_| OAuthError::new("server_error", "bad level"))?,
            amr: amr.split_whitespace().map(str::to_owned).collect(),
            auth_time: row.try_get("auth_time")?,
            created_at: now,
            expires_at: now,
            used_at: None,
            revoked_at: None,
        };
        self.issue(
            client,
            &grant,
            Some(&nonce),
            Spend::Code(&grant.family),
            now,
        )
        .await
    }

    async fn refresh(
        &self,
        req: &TokenRequest,
        client: &Client,
        now: Millis,
    ) -> Result<TokenResponse, OAuthError> {
        let token = req
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
        let hash = hash_secret(token);
        let row = self
            .token_row(&hash)
            .await?
            .filter(|t| t.kind == "refresh")
            .ok_or_else(|| OAuthError::invalid_grant("the refresh token is unknown"))?;
        if row.client_id != client.id {
            return Err(OAuthError::invalid_grant(
                "the refresh token was issued to another client",
            ));
        }
        if row.revoked_at.is_some() {
            return Err(OAuthError::invalid_grant(
                "the refresh token has been revoked",
            ));
        }
        if row.used_at.is_some() {
            self.revoke_family(&row.family, now).await?;
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of its family is revoked",
            ));
        }
        if now >= row.expires_at {
            return Err(OAuthError::invalid_grant("the refresh token has expired"));
        }
        if let Some(asked) = req.scope.as_deref() {
            let granted: Vec<&str> = row.scope.split_whitespace().collect();
            if asked.split_whitespace().any(|s| !granted.contains(&s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "a refresh cannot widen the scope",
                ));
            }
        }
        self.issue(client, &row, None, Spend::Refresh(&hash), now)
            .await
    }

    /// Issues an access token, a refresh token in `grant`'s family, and an ID token.
    /// In one transaction, spends the code or refresh token (only if no one else has) and
    /// stores the new tokens, so a grant is never spent without its tokens nor used twice; the
    /// transaction is shared with the token requests waiting at the same time (`spend.rs`).
    async fn issue(
        &self,
        client: &Client,
        grant: &TokenRow,
        nonce: Option<&str>,
        spend: Spend<'_>,
        now: Millis,
    ) -> Result<TokenResponse, OAuthError> {
        self.accounts
            .find(&grant.account_id)
            .await
            .map_err(|_| OAuthError::invalid_grant("the account no longer exists"))?;
        let access = random_token();
        let refresh = random_token();
        let (kind, hash) = match spend {
            Spend::Code(hash) => (SpendKind::Code, hash),
            Spend::Refresh(hash) => (SpendKind::Refresh, hash),
        };
        let spent = self
            .spends
            .commit(
                &self.store,
                &self.writer,
                spend::Spend {
                    kind,
                    hash: hash.to_owned(),
                    now,
                    family: grant.family.clone(),
                    client_id: client.id.clone(),
                    account_id: grant.account_id.clone(),
                    scope: grant.scope.clone(),
                    level: grant.level.code(),
                    amr: grant.amr.join(" "),
                    auth_time: grant.auth_time,
                    tokens: vec![
                        NewToken {
                            hash: hash_secret(&access),
                            kind: "access",
                            expires_at: now + ACCESS_TOKEN_MS,
                        },
                        NewToken {
                            hash: hash_secret(&refresh),
                            kind: "refresh",
                            expires_at: now + REFRESH_TOKEN_MS,
                        },
                    ],
                },
            )
            .await?;
        if !spent {
            self.revoke_family(&grant.family, now).await?;
            return Err(OAuthError::invalid_grant(
                "the code or refresh token was already used; its family is revoked",
            ));
        }
        let mut claims = json!({
            "iss": self.issuer,
            "sub": self.subject(&client.id, &grant.account_id),
            "aud": client.id,
            "iat": seconds(now),
            "exp": seconds(now + ID_TOKEN_MS),
            "auth_time": seconds(grant.auth_time),
            "acr": grant.level.code(),
            "amr": grant.amr,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let key = self.keys.signing(client.id_token_alg)?;
        Ok(TokenResponse {
            access_token: access,
            token_type: "Bearer".into(),
            expires_in: seconds(ACCESS_TOKEN_MS),
            refresh_token: refresh,
            id_token: key.sign(&claims),
            scope: grant.scope.clone(),
        })
    }

    async fn token_row(&self, hash: &str) -> Result<Option<TokenRow>, IdentityError> {
        let row = sqlx::query(
            "SELECT kind, family, client_id, account_id, scope, level, amr, auth_time, created_at, \
             expires_at, used_at, revoked_at FROM identity_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(token_row).transpose()
    }

    async fn revoke_family(&self, family: &str, now: Millis) -> Result<(), IdentityError> {
        let done = sqlx::query(
            "UPDATE identity_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(family)
        .execute(self.store.pool())
        .await?;
        tracing::warn!(
            revoked = done.rows_affected(),
            "a code or refresh token was reused; its family is revoked"
        );
        Ok(())
    }

    /// The account an access token speaks for, with the client and scope it was issued to.
    /// First-party clients in this process (the portal) use it instead of an HTTP round trip.
    pub async fn account_of_access_token(
        &self,
        access_token: &str,
        now: Millis,
    ) -> Result<(crate::Account, String, String), OAuthError> {
        // The token and its account in one query: UserInfo is the provider's busiest read.
        let row = sqlx::query(
            "SELECT a.id, a.citizen_id, a.name, a.phone, a.created_at, a.phone_confirmed_at, \
             a.real_name_checked_at, a.real_name_ledger, a.totp_enabled, \
             t.kind, t.client_id, t.scope, t.expires_at, t.revoked_at \
             FROM identity_tokens t JOIN identity_accounts a ON a.id = t.account_id \
             WHERE t.token_hash = $1",
        )
        .bind(hash_secret(access_token))
        .fetch_optional(self.store.pool())
        .await?;
        let invalid =
            || OAuthError::invalid_token("the access token is invalid, expired or revoked");
        let row = row.ok_or_else(invalid)?;
        let kind: String = row.try_get("kind")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let revoked_at: Option<i64> = row.try_get("revoked_at")?;
        if kind != "access" || revoked_at.is_some() || now >= expires_at {
            return Err(invalid());
        }
        let client_id: String = row.try_get("client_id")?;
        let scope: String = row.try_get("scope")?;
        let account = crate::account::account_of(&row)?;
        Ok((account, client_id, scope))
    }

    /// The UserInfo answer for an access token (OpenID Connect Core §5.3): the claims its
    /// scopes release.
    pub async fn userinfo(&self, access_token: &str, now: Millis) -> Result<Value, OAuthError> {
        let (account, client_id, scope) = self.account_of_access_token(access_token, now).await?;
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(self.subject(&client_id, &account.id)));
        for s in scope.split_whitespace() {
            match s {
                "profile" => {
                    claims.insert("name".into(), json!(account.name));
                }
                "phone" => {
                    claims.insert(
                        "phone_number".into(),
                        json!(format!("+86{}", account.phone)),
                    );
                    claims.insert(
                        "phone_number_verified".into(),
                        json!(account.phone_confirmed),
                    );
                }
                "citizen_id" if account.real_name_checked => {
                    claims.insert("citizen_id".into(), json!(account.citizen_id));
                }
                _ => {}
            }
        }
        Ok(Value::Object(claims))
    }

    /// Revocation (RFC 7009): a refresh token takes its family with it, an access token goes
    /// alone. Unknown tokens and other clients' tokens are answered the same way, as success.
    pub async fn revoke(
        &self,
        token: &str,
        auth: &ClientAuth,
        now: Millis,
    ) -> Result<(), OAuthError> {
        let client = self.client_of(auth).await?;
        let hash = hash_secret(token);
        if let Some(row) = self
            .token_row(&hash)
            .await?
            .filter(|t| t.client_id == client.id)
        {
            if row.kind == "refresh" {
                self.revoke_family(&row.family, now).await?;
            } else {
                sqlx::query("UPDATE identity_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
                    .bind(now)
                    .bind(&hash)
                    .execute(self.store.pool())
                    .await?;
            }
        }
        Ok(())
    }

    /// Introspection (RFC 7662): whether a token is active, for the client it was issued to
    /// (anyone else learns only `active: false`).
    pub async fn introspect(
        &self,
        token: &str,
        auth: &ClientAuth,
        now: Millis,
    ) -> Result<Value, OAuthError> {
        let client = self.client_of(auth).await?;
        let row = self.token_row(&hash_secret(token)).await?.filter(|t| {
            t.client_id == client.id
                && t.revoked_at.is_none()
                && t.used_at.is_none()
                && now < t.expires_at
        });
        Ok(match row {
            Some(t) => json!({
                "active": true,
                "scope": t.scope,
                "client_id": t.client_id,
                "token_type": if t.kind == "access" { "access_token" } else { "refresh_token" },
                "exp": seconds(t.expires_at),
                "iat": seconds(t.created_at),
                "sub": self.subject(&t.client_id, &t.account_id),
                "aud": t.client_id,
                "iss": self.issuer,
                "acr": t.level.code(),
                "auth_time": seconds(t.auth_time),
            }),
            None => json!({ "active": false }),
        })
    }

    /// RP-initiated logout: checks the hint and the redirect, and returns where to send the
    /// browser afterwards (the caller ends the browser's session).
    pub async fn logout(&self, p: &LogoutParams) -> Result<Option<String>, OAuthError> {
        let mut client_id = p.client_id.clone();
        if let Some(hint) = p.id_token_hint.as_deref() {
            let claims = jose::verify(hint, &self.keys.published())
                .map_err(|e| OAuthError::invalid_request(format!("id_token_hint: {e}")))?;
            if claims["iss"] != json!(self.issuer) {
                return Err(OAuthError::invalid_request(
                    "id_token_hint was issued by another provider",
                ));
            }
            let aud = match &claims["aud"] {
                Value::String(s) => s.clone(),
                Value::Array(a) => a
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                _ => String::new(),
            };
            if client_id.as_deref().is_some_and(|c| c != aud) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the hint's audience",
                ));
            }
            client_id = Some(aud);
        }
        let Some(uri) = p.post_logout_redirect_uri.as_deref() else {
            return Ok(None);
        };
        let client = match client_id.as_deref() {
            Some(id) => self.clients.find(id).await?,
            None => None,
        }
        .ok_or_else(|| {
            OAuthError::invalid_request("post_logout_redirect_uri needs id_token_hint or client_id")
        })?;
        if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
            return Err(OAuthError::invalid_request(
                "post_logout_redirect_uri is not registered",
            ));
        }
        let mut pairs = Vec::new();
        if let Some(state) = p.state.as_deref() {
            pairs.push(("state", state));
        }
        Ok(Some(redirect_with(uri, &pairs)))
    }

    /// Deletes what can no longer be used: expired pending authorisations, remembered nonces
    /// and states, tokens, sessions, and codes a day after they expired (kept that long so a
    /// late second use still revokes what the first gave). Returns how many rows went.
    pub async fn sweep(&self, now: Millis) -> Result<u64, IdentityError> {
        let mut gone = 0;
        for (sql, before) in [
            (
                "DELETE FROM identity_auth_requests WHERE expires_at < $1",
                now,
            ),
            (
                "DELETE FROM identity_used_values WHERE expires_at < $1",
                now,
            ),
            (
                "DELETE FROM identity_codes WHERE expires_at < $1",
                now - 24 * 3_600_000,
            ),
            ("DELETE FROM identity_tokens WHERE expires_at < $1", now),
            (
                "DELETE FROM identity_decoy_registrations WHERE expires_at < $1",
                now,
            ),
            ("DELETE FROM identity_sessions WHERE expires_at < $1", now),
            (
                "DELETE FROM identity_sessions WHERE last_seen_at < $1",
                now - crate::session::IDLE_MS,
            ),
        ] {
            gone += sqlx::query(sql)
                .bind(before)
                .execute(self.store.pool())
                .await?
                .rows_affected();
        }
        Ok(gone)
    }

    /// Ends every session and revokes every token of an account ("log out everywhere").
    pub async fn log_out_everywhere(
        &self,
        account_id: &str,
        now: Millis,
    ) -> Result<u64, IdentityError> {
        sqlx::query("UPDATE identity_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(account_id)
            .execute(self.store.pool())
            .await?;
        crate::session::Sessions::new(self.store.clone())
            .end_all(account_id)
            .await
    }
}
