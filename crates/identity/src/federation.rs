//! Federation between regions: this provider trusts another region's provider (an upstream)
//! and lets its citizens log in here with the identity they proved there.
//!
//! The upstream is an ordinary OpenID Connect provider, and this one is its relying party:
//! the browser goes there with `state`, `nonce` and PKCE S256, comes back with a code, the
//! code is exchanged with the client's secret, the ID token is verified against the upstream's
//! JWKS (issuer, audience, expiry, nonce), and UserInfo gives the name, phone and ID number.
//! The upstream's subject is then linked to a local account: the one already linked, else the
//! checked account holding the same ID number, else a new one. The level of assurance the
//! upstream reports (`acr`) is carried over, capped at the level this installation grants that
//! upstream; an account the upstream checked at L2 or above counts as checked here too.
//!
//! HTTP to the upstream goes through `ureq` on the blocking pool (plain HTTP only in this
//! build; an upstream in production needs a TLS-enabled client).

use std::time::Duration;

use errandless_store::Store;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use crate::account::{Account, Accounts, UpstreamIdentity};
use crate::error::IdentityError;
use crate::level::Level;
use crate::provider::jose::{self, VerifyingKey};
use crate::token::{b64url, hash_secret, random_token, same_secret, Millis};

/// A login on its way to the upstream and back must return within this time.
pub const STATE_MS: Millis = 10 * 60_000;

/// An upstream provider this one trusts.
#[derive(Clone, Debug)]
pub struct Upstream {
    /// A short name, used in paths: letters, digits and '-'.
    pub name: String,
    /// Its issuer URL, as its discovery document states it.
    pub issuer: String,
    /// This provider's client id and secret at the upstream.
    pub client_id: String,
    pub client_secret: String,
    /// The highest level this installation accepts from it.
    pub max_level: Level,
}

/// Why a federated login failed.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    #[error("{0:?} is not a trusted upstream")]
    UnknownUpstream(String),
    #[error("the upstream could not be reached or answered badly: {0}")]
    Upstream(String),
    #[error("the login's state is unknown, used, expired or from another browser")]
    BadState,
    #[error("the upstream refused the code: {0}")]
    CodeRefused(String),
    #[error("the upstream's ID token is not acceptable: {0}")]
    BadIdToken(String),
    #[error("the upstream did not release {0}")]
    MissingClaim(&'static str),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl From<sqlx::Error> for FederationError {
    fn from(e: sqlx::Error) -> FederationError {
        FederationError::Identity(e.into())
    }
}

/// What a finished federated login gives.
#[derive(Clone, Debug)]
pub struct FederatedLogin {
    pub account: Account,
    pub level: Level,
    /// The local authorisation request the login was for.
    pub request_id: String,
}

/// The upstreams and the links to local accounts.
#[derive(Clone, Debug)]
pub struct Federation {
    store: Store,
    accounts: Accounts,
    issuer: String,
    upstreams: Vec<Upstream>,
}

struct Discovered {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    jwks_uri: String,
}

/// One HTTP exchange on the blocking pool: (status, body).
async fn call(
    request: ureq::Request,
    body: Option<Vec<(String, String)>>,
) -> Result<(u16, String), FederationError> {
    tokio::task::spawn_blocking(move || {
        let result = match body {
            Some(form) => {
                let pairs: Vec<(&str, &str)> =
                    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                request.send_form(&pairs)
            }
            None => request.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(FederationError::Upstream(e.to_string())),
        };
        let status = response.status();
        let text = response
            .into_string()
            .map_err(|e| FederationError::Upstream(e.to_string()))?;
        Ok((status, text))
    })
    .await
    .map_err(|e| FederationError::Upstream(e.to_string()))?
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(10))
        .build()
}

async fn get_json(url: &str, bearer: Option<&str>) -> Result<Value, FederationError> {
    let mut request = agent().get(url);
    if let Some(token) = bearer {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    let (status, text) = call(request, None).await?;
    if status != 200 {
        return Err(FederationError::Upstream(format!(
            "{url} answered {status}"
        )));
    }
    serde_json::from_str(&text).map_err(|e| FederationError::Upstream(format!("{url}: {e}")))
}

fn text(v: &Value, name: &str) -> Result<String, FederationError> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| FederationError::Upstream(format!("the discovery document has no {name}")))
}

impl Federation {
    /// Federation for the provider of `issuer` (this one), trusting `upstreams`.
    pub fn new(
        store: Store,
        accounts: Accounts,
        issuer: &str,
        upstreams: Vec<Upstream>,
    ) -> Federation {
        Federation {
            store,
            accounts,
            issuer: issuer.trim_end_matches('/').to_owned(),
            upstreams,
        }
    }

    pub fn upstreams(&self) -> &[Upstream] {
        &self.upstreams
    }

    fn upstream(&self, name: &str) -> Result<&Upstream, FederationError> {
        self.upstreams
            .iter()
            .find(|u| u.name == name)
            .ok_or_else(|| FederationError::UnknownUpstream(name.to_owned()))
    }

    /// Where the upstream sends the browser back: register it there as this client's
    /// redirect URI.
    pub fn callback(&self, name: &str) -> String {
        format!("{}/federation/{name}/callback", self.issuer)
    }

    async fn discover(upstream: &Upstream) -> Result<Discovered, FederationError> {
        let doc = get_json(
            &format!(
                "{}/.well-known/openid-configuration",
                upstream.issuer.trim_end_matches('/')
            ),
            None,
        )
        .await?;
        let found = Discovered {
            issuer: text(&doc, "issuer")?,
            authorization_endpoint: text(&doc, "authorization_endpoint")?,
            token_endpoint: text(&doc, "token_endpoint")?,
            userinfo_endpoint: text(&doc, "userinfo_endpoint")?,
            jwks_uri: text(&doc, "jwks_uri")?,
        };
        // OpenID Connect Discovery §4.3: the issuer must be the one asked for.
        if found.issuer != upstream.issuer.trim_end_matches('/') {
            return Err(FederationError::Upstream(
                "the discovery document names another issuer".into(),
            ));
        }
        Ok(found)
    }

    /// Starts a login at the upstream for the local authorisation request `request_id`, begun
    /// by the browser holding the flow cookie `browser`; returns where to send the browser.
    pub async fn begin(
        &self,
        name: &str,
        request_id: &str,
        browser: &str,
        now: Millis,
    ) -> Result<String, FederationError> {
        let upstream = self.upstream(name)?;
        let found = Self::discover(upstream).await?;
        let (state, nonce, verifier) = (random_token(), random_token(), random_token());
        sqlx::query(
            "INSERT INTO identity_federation_states (state_hash, upstream, nonce, verifier, request_id, browser_hash, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(hash_secret(&state))
        .bind(name)
        .bind(&nonce)
        .bind(&verifier)
        .bind(request_id)
        .bind(hash_secret(browser))
        .bind(now + STATE_MS)
        .execute(self.store.pool())
        .await?;
        let mut url = url::Url::parse(&found.authorization_endpoint)
            .map_err(|e| FederationError::Upstream(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &upstream.client_id)
            .append_pair("redirect_uri", &self.callback(name))
            .append_pair("scope", "openid profile phone citizen_id")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair(
                "code_challenge",
                &b64url(&Sha256::digest(verifier.as_bytes())),
            )
            .append_pair("code_challenge_method", "S256");
        Ok(url.to_string())
    }

    /// Finishes a login when the upstream sends the browser back with `code` and `state`.
    pub async fn finish(
        &self,
        name: &str,
        code: &str,
        state: &str,
        browser: &str,
        now: Millis,
    ) -> Result<FederatedLogin, FederationError> {
        let upstream = self.upstream(name)?;
        let row = sqlx::query(
            "SELECT upstream, nonce, verifier, request_id, browser_hash, expires_at \
             FROM identity_federation_states WHERE state_hash = $1",
        )
        .bind(hash_secret(state))
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(FederationError::BadState)?;
        // A state works once.
        sqlx::query("DELETE FROM identity_federation_states WHERE state_hash = $1")
            .bind(hash_secret(state))
            .execute(self.store.pool())
            .await?;
        let bound: String = row.try_get("browser_hash")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let for_upstream: String = row.try_get("upstream")?;
        if for_upstream != name
            || now >= expires_at
            || !same_secret(bound.as_bytes(), hash_secret(browser).as_bytes())
        {
            return Err(FederationError::BadState);
        }
        let nonce: String = row.try_get("nonce")?;
        let verifier: String = row.try_get("verifier")?;
        let request_id: String = row.try_get("request_id")?;

        let found = Self::discover(upstream).await?;
        let form = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
            ("redirect_uri".to_owned(), self.callback(name)),
            ("code_verifier".to_owned(), verifier),
            ("client_id".to_owned(), upstream.client_id.clone()),
            ("client_secret".to_owned(), upstream.client_secret.clone()),
        ];
        let (status, text) = call(agent().post(&found.token_endpoint), Some(form)).await?;
        let tokens: Value =
            serde_json::from_str(&text).map_err(|e| FederationError::Upstream(e.to_string()))?;
        if status != 200 {
            return Err(FederationError::CodeRefused(
                tokens["error"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned(),
            ));
        }
        let id_token = tokens["id_token"]
            .as_str()
            .ok_or(FederationError::MissingClaim("id_token"))?;
        let access_token = tokens["access_token"]
            .as_str()
            .ok_or(FederationError::MissingClaim("access_token"))?;

        let jwks = get_json(&found.jwks_uri, None).await?;
        let keys: Vec<VerifyingKey> = jwks["keys"]
            .as_array()
            .map(|a| a.iter().filter_map(VerifyingKey::from_jwk).collect())
            .unwrap_or_default();
        let claims = jose::verify(id_token, &keys)
            .map_err(|e| FederationError::BadIdToken(e.to_string()))?;
        let bad = |why: &str| FederationError::BadIdToken(why.to_owned());
        if claims["iss"].as_str() != Some(found.issuer.as_str()) {
            return Err(bad("iss is not the upstream"));
        }
        let audience_ok = match &claims["aud"] {
            Value::String(a) => *a == upstream.client_id,
            Value::Array(a) => a
                .iter()
                .any(|v| v.as_str() == Some(upstream.client_id.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(bad("aud is not this client"));
        }
        if claims["exp"].as_i64().is_none_or(|exp| exp * 1000 <= now) {
            return Err(bad("expired"));
        }
        if claims["nonce"].as_str() != Some(nonce.as_str()) {
            return Err(bad("the nonce is not the one sent"));
        }
        let subject = claims["sub"]
            .as_str()
            .ok_or(FederationError::MissingClaim("sub"))?
            .to_owned();
        let level = claims["acr"]
            .as_str()
            .and_then(|a| a.parse::<Level>().ok())
            .ok_or(FederationError::MissingClaim("acr"))?
            .min(upstream.max_level);

        let info = get_json(&found.userinfo_endpoint, Some(access_token)).await?;
        if info["sub"].as_str() != Some(subject.as_str()) {
            return Err(FederationError::Upstream(
                "UserInfo is about another subject".into(),
            ));
        }
        let name_claim = info["name"]
            .as_str()
            .ok_or(FederationError::MissingClaim("name"))?;
        let phone = info["phone_number"]
            .as_str()
            .ok_or(FederationError::MissingClaim("phone_number"))?;
        let phone = phone.strip_prefix("+86").unwrap_or(phone);
        let citizen_id = info["citizen_id"]
            .as_str()
            .ok_or(FederationError::MissingClaim("citizen_id"))?;
        let account = self
            .accounts
            .link_federated(
                &UpstreamIdentity {
                    upstream: name,
                    subject: &subject,
                    citizen_id,
                    name: name_claim,
                    phone,
                    checked: level >= Level::L2,
                },
                now,
            )
            .await?;
        Ok(FederatedLogin {
            account,
            level,
            request_id,
        })
    }
}
