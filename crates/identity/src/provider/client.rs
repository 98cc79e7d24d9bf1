//! Relying parties: the apps that log citizens in through the provider. An operator registers
//! each with its name, stated purpose, exact redirect URIs, the scopes it may ask for, the
//! algorithm of its ID tokens and the level of assurance it needs.

use errandless_store::Store;
use sqlx::Row as _;

use super::error::OAuthError;
use super::jose::Alg;
use super::scope::SCOPES;
use crate::error::IdentityError;
use crate::level::Level;
use crate::token::{hash_secret, random_token, same_secret, Millis};

/// What an operator gives to register a client.
#[derive(Clone, Debug)]
pub struct NewClient {
    /// Letters, digits, `-`, `_` and `.`, at most 64.
    pub id: String,
    pub name: String,
    /// Why the app asks for data, shown on the consent screen.
    pub purpose: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes it may ask for; `openid` is always among them.
    pub scopes: Vec<String>,
    /// A confidential client gets a secret; a public one (a phone app) relies on PKCE alone.
    pub confidential: bool,
    pub id_token_alg: Alg,
    pub min_level: Level,
}

/// A registered client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub confidential: bool,
    pub id_token_alg: Alg,
    pub min_level: Level,
    pub created_at: Millis,
}

/// Why a client could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the client id {0:?} must be 1 to 64 letters, digits, '-', '_' or '.'")]
    InvalidId(String),
    #[error("a client needs a name and a purpose")]
    MissingText,
    #[error("a client needs at least one redirect URI")]
    NoRedirectUri,
    #[error("{0:?} is not an absolute https URI (http only on loopback) without a fragment")]
    InvalidRedirectUri(String),
    #[error("{0:?} is not a scope this provider knows")]
    UnknownScope(String),
    #[error("client {0:?} already exists")]
    AlreadyExists(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl From<sqlx::Error> for ClientError {
    fn from(e: sqlx::Error) -> ClientError {
        ClientError::Identity(e.into())
    }
}

/// Whether `uri` may be a redirect target: absolute, no fragment, https, or http to a loopback
/// address (RFC 8252 §7.3, OAuth 2.0 Security BCP §4.1).
pub fn check_redirect_uri(uri: &str) -> Result<(), ClientError> {
    let bad = || ClientError::InvalidRedirectUri(uri.to_owned());
    let parsed = url::Url::parse(uri).map_err(|_| bad())?;
    if parsed.fragment().is_some() || parsed.cannot_be_a_base() {
        return Err(bad());
    }
    let loopback = matches!(parsed.host(), Some(url::Host::Domain("localhost")))
        || matches!(parsed.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(parsed.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(bad()),
    }
}

fn list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn client_of(r: &sqlx::any::AnyRow) -> Result<Client, IdentityError> {
    let secret: Option<String> = r.try_get("secret_hash")?;
    let alg: String = r.try_get("id_token_alg")?;
    let level: String = r.try_get("min_level")?;
    Ok(Client {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        purpose: r.try_get("purpose")?,
        redirect_uris: list(&r.try_get::<String, _>("redirect_uris")?),
        post_logout_redirect_uris: list(&r.try_get::<String, _>("post_logout_redirect_uris")?),
        scopes: list(&r.try_get::<String, _>("scopes")?),
        confidential: secret.is_some(),
        id_token_alg: Alg::parse(&alg)
            .ok_or_else(|| IdentityError::Database(format!("algorithm {alg}")))?,
        min_level: level
            .parse()
            .map_err(|e: crate::UnknownLevel| IdentityError::Database(e.to_string()))?,
        created_at: r.try_get("created_at")?,
    })
}

/// The registered clients.
#[derive(Clone, Debug)]
pub struct Clients {
    store: Store,
}

const COLUMNS: &str = "id, secret_hash, name, purpose, redirect_uris, post_logout_redirect_uris, \
    scopes, id_token_alg, min_level, created_at";

impl Clients {
    pub fn new(store: Store) -> Clients {
        Clients { store }
    }

    /// Registers a client; a confidential one gets its secret, shown this once.
    pub async fn add(
        &self,
        new: &NewClient,
        now: Millis,
    ) -> Result<(Client, Option<String>), ClientError> {
        let id_ok = !new.id.is_empty()
            && new.id.len() <= 64
            && new
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !id_ok {
            return Err(ClientError::InvalidId(new.id.clone()));
        }
        if new.name.trim().is_empty() || new.purpose.trim().is_empty() {
            return Err(ClientError::MissingText);
        }
        if new.redirect_uris.is_empty() {
            return Err(ClientError::NoRedirectUri);
        }
        for uri in new
            .redirect_uris
            .iter()
            .chain(&new.post_logout_redirect_uris)
        {
            check_redirect_uri(uri)?;
        }
        let mut scopes = vec!["openid".to_owned()];
        for s in &new.scopes {
            if !SCOPES.iter().any(|known| known.name == s) {
                return Err(ClientError::UnknownScope(s.clone()));
            }
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        let secret = new.confidential.then(random_token);
        let json = |v: &Vec<String>| serde_json::to_string(v).expect("strings encode");
        let inserted = sqlx::query(
            "INSERT INTO identity_clients (id, secret_hash, name, purpose, redirect_uris, \
             post_logout_redirect_uris, scopes, id_token_alg, min_level, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&new.id)
        .bind(secret.as_deref().map(hash_secret))
        .bind(new.name.trim())
        .bind(new.purpose.trim())
        .bind(json(&new.redirect_uris))
        .bind(json(&new.post_logout_redirect_uris))
        .bind(json(&scopes))
        .bind(new.id_token_alg.name())
        .bind(new.min_level.code())
        .bind(now)
        .execute(self.store.pool())
        .await;
        match inserted {
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                return Err(ClientError::AlreadyExists(new.id.clone()))
            }
            other => other?,
        };
        Ok((
            self.find(&new.id)
                .await?
                .ok_or(IdentityError::Database("client vanished".into()))?,
            secret,
        ))
    }

    /// Every client, by id.
    pub async fn list(&self) -> Result<Vec<Client>, IdentityError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM identity_clients ORDER BY id"
        ))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter().map(client_of).collect()
    }

    pub async fn find(&self, id: &str) -> Result<Option<Client>, IdentityError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM identity_clients WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        row.as_ref().map(client_of).transpose()
    }

    /// Authenticates a client at the token, revocation or introspection endpoint: a
    /// confidential client by its secret, a public one by its id alone.
    pub async fn authenticate(&self, id: &str, secret: Option<&str>) -> Result<Client, OAuthError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM identity_clients WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        let unknown = || OAuthError::invalid_client("client authentication failed");
        let row = row.ok_or_else(unknown)?;
        let stored: Option<String> = row.try_get("secret_hash")?;
        match (stored, secret) {
            (Some(stored), Some(given))
                if same_secret(stored.as_bytes(), hash_secret(given).as_bytes()) => {}
            (None, None) => {}
            _ => return Err(unknown()),
        }
        Ok(client_of(&row)?)
    }
}
