//! Passkeys (WebAuthn Level 2) as a second factor: on top of a password login at L2, a passkey
//! gives L3 as a TOTP code does.
//!
//! The ceremonies are webauthn-rs's passkey ceremonies (user verification required). Each has
//! two requests: `start_*` makes a challenge and keeps the ceremony's state in the platform
//! store under the SHA-256 of a random id the browser holds, and `finish_*` takes that state
//! back once (a ceremony cannot be answered twice) and checks the authenticator's answer: the
//! origin and relying-party id, the challenge, the signature, user verification, and the
//! signature counter. A counter that does not rise past the stored one means two copies of the
//! key exist (a cloned authenticator) and the authentication is refused; the counter is raised
//! by a conditional update, so two answers carrying the same counter cannot both pass.
//!
//! webauthn-rs verifies with OpenSSL: the one exception to the crate's RustCrypto stack.

use errandless_store::Store;
use sha2::{Digest, Sha256};
use sqlx::Row as _;
use url::Url;
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

use crate::account::Account;
use crate::error::IdentityError;
use crate::token::{b64url, hash_secret, random_token, Millis};

/// The RFC 8176 method a passkey adds to a login's `amr`: proof of possession of a key.
pub const PASSKEY_AMR: &str = "pop";

/// A ceremony must be finished this long after it was started.
pub const CEREMONY_MS: Millis = 5 * 60_000;

/// A passkey name's length in characters.
pub const NAME_CHARS: std::ops::RangeInclusive<usize> = 1..=64;

/// Why a passkey ceremony was refused or failed. Each has a stable [`code`](Self::code).
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error("the relying party is misconfigured: {0}")]
    Configuration(String),
    #[error("the passkey ceremony has expired, was already finished, or is someone else's")]
    UnknownCeremony,
    #[error("no passkey is registered for this account")]
    NoPasskey,
    #[error("this passkey is not registered for this account")]
    UnknownCredential,
    #[error("this passkey is already registered")]
    AlreadyRegistered,
    #[error("a passkey's name must be 1 to 64 characters")]
    InvalidName,
    #[error("the answer was made for another site")]
    WrongOrigin,
    #[error("the passkey's signature counter went backwards: it may have been copied")]
    ClonedCredential,
    #[error("the authenticator's answer was refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl PasskeyError {
    /// The stable code, for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            PasskeyError::Configuration(_) => "internal",
            PasskeyError::UnknownCeremony => "unknown_ceremony",
            PasskeyError::NoPasskey => "no_second_factor",
            PasskeyError::UnknownCredential => "unknown_credential",
            PasskeyError::AlreadyRegistered => "passkey_registered",
            PasskeyError::InvalidName => "invalid_name",
            PasskeyError::WrongOrigin => "wrong_origin",
            PasskeyError::ClonedCredential => "cloned_credential",
            PasskeyError::Refused(_) => "passkey_refused",
            PasskeyError::Identity(e) => e.code(),
        }
    }

    /// Whether the fault is the platform's rather than the caller's.
    pub fn is_internal(&self) -> bool {
        match self {
            PasskeyError::Configuration(_) => true,
            PasskeyError::Identity(e) => e.is_internal(),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for PasskeyError {
    fn from(e: sqlx::Error) -> PasskeyError {
        PasskeyError::Identity(e.into())
    }
}

fn refused(e: WebauthnError) -> PasskeyError {
    match e {
        WebauthnError::InvalidRPOrigin | WebauthnError::InvalidRPIDHash => {
            PasskeyError::WrongOrigin
        }
        WebauthnError::CredentialPossibleCompromise => PasskeyError::ClonedCredential,
        other => PasskeyError::Refused(other.to_string()),
    }
}

fn state_error(e: serde_json::Error) -> PasskeyError {
    PasskeyError::Identity(IdentityError::Database(format!(
        "a stored passkey or ceremony is malformed: {e}"
    )))
}

/// A registered passkey, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// The credential id, base64url.
    pub id: String,
    pub name: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
}

/// The passkeys of accounts, for one relying party (the provider's host).
#[derive(Clone)]
pub struct Passkeys {
    store: Store,
    webauthn: std::sync::Arc<Webauthn>,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkeys").finish_non_exhaustive()
    }
}

impl Passkeys {
    /// The passkeys of the relying party at `origin` (the provider's issuer URL; its host is
    /// the relying-party id). WebAuthn needs a domain name, so an origin on an IP address
    /// is refused: develop on `http://localhost:PORT`.
    pub fn new(store: Store, origin: &str, name: &str) -> Result<Passkeys, PasskeyError> {
        let origin = Url::parse(origin)
            .map_err(|e| PasskeyError::Configuration(format!("the origin {origin:?}: {e}")))?;
        let rp_id = origin.domain().ok_or_else(|| {
            PasskeyError::Configuration(format!(
                "the origin {origin} has no domain name, which WebAuthn needs (use localhost, not an IP address)"
            ))
        })?;
        let webauthn = WebauthnBuilder::new(rp_id, &origin)
            .and_then(|b| b.rp_name(name).build())
            .map_err(|e| PasskeyError::Configuration(e.to_string()))?;
        Ok(Passkeys {
            store,
            webauthn: std::sync::Arc::new(webauthn),
        })
    }

    /// Starts registering a passkey for `account`: the options for the browser's
    /// `navigator.credentials.create()` and the ceremony's id.
    pub async fn start_registration(
        &self,
        account: &Account,
        now: Millis,
    ) -> Result<(String, CreationChallengeResponse), PasskeyError> {
        let existing = self.passkeys_of(&account.id).await?;
        let exclude = existing.iter().map(|p| p.cred_id().clone()).collect();
        let (options, state) = self
            .webauthn
            .start_passkey_registration(
                user_handle(&account.id),
                &crate::outbox::mask_phone(&account.phone),
                &crate::outbox::mask_phone(&account.phone),
                Some(exclude),
            )
            .map_err(refused)?;
        let state = serde_json::to_string(&state).map_err(state_error)?;
        let id = self.keep(&account.id, "registration", &state, now).await?;
        Ok((id, options))
    }

    /// Finishes a registration with the authenticator's answer and keeps the passkey under
    /// `name`.
    pub async fn finish_registration(
        &self,
        account_id: &str,
        ceremony: &str,
        answer: &RegisterPublicKeyCredential,
        name: &str,
        now: Millis,
    ) -> Result<PasskeyInfo, PasskeyError> {
        let name = name.trim();
        if !NAME_CHARS.contains(&name.chars().count()) {
            return Err(PasskeyError::InvalidName);
        }
        let state: PasskeyRegistration =
            serde_json::from_str(&self.take(account_id, "registration", ceremony, now).await?)
                .map_err(state_error)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(answer, &state)
            .map_err(refused)?;
        let id = b64url(passkey.cred_id().as_ref());
        let json = serde_json::to_string(&passkey).map_err(state_error)?;
        let inserted = sqlx::query(
            "INSERT INTO identity_passkeys (credential_id, account_id, name, passkey, counter, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (credential_id) DO NOTHING",
        )
        .bind(&id)
        .bind(account_id)
        .bind(name)
        .bind(&json)
        .bind(now)
        .execute(self.store.pool())
        .await?;
        if inserted.rows_affected() != 1 {
            return Err(PasskeyError::AlreadyRegistered);
        }
        Ok(PasskeyInfo {
            id,
            name: name.to_owned(),
            created_at: now,
            last_used_at: None,
        })
    }

    /// Starts an authentication with one of the account's passkeys: the options for the
    /// browser's `navigator.credentials.get()` and the ceremony's id.
    pub async fn start_authentication(
        &self,
        account_id: &str,
        now: Millis,
    ) -> Result<(String, RequestChallengeResponse), PasskeyError> {
        let passkeys = self.passkeys_of(account_id).await?;
        if passkeys.is_empty() {
            return Err(PasskeyError::NoPasskey);
        }
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(refused)?;
        let state = serde_json::to_string(&state).map_err(state_error)?;
        let id = self.keep(account_id, "authentication", &state, now).await?;
        Ok((id, options))
    }

    /// Finishes an authentication: `Ok` only if one of the account's passkeys signed this
    /// ceremony's challenge for this site, with user verification, and a counter that rose.
    pub async fn finish_authentication(
        &self,
        account_id: &str,
        ceremony: &str,
        answer: &PublicKeyCredential,
        now: Millis,
    ) -> Result<PasskeyInfo, PasskeyError> {
        let state: PasskeyAuthentication = serde_json::from_str(
            &self
                .take(account_id, "authentication", ceremony, now)
                .await?,
        )
        .map_err(state_error)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(answer, &state)
            .map_err(refused)?;
        let id = b64url(result.cred_id().as_ref());
        let row = sqlx::query(
            "SELECT name, passkey, counter, created_at FROM identity_passkeys \
             WHERE credential_id = $1 AND account_id = $2",
        )
        .bind(&id)
        .bind(account_id)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(PasskeyError::UnknownCredential)?;
        let mut passkey: Passkey =
            serde_json::from_str(&row.try_get::<String, _>("passkey")?).map_err(state_error)?;
        let stored: i64 = row.try_get("counter")?;
        let counter = i64::from(result.counter());
        passkey.update_credential(&result);
        let json = serde_json::to_string(&passkey).map_err(state_error)?;
        // An authenticator without a counter always says 0; one with a counter must say more
        // than any earlier use, including one that raced this one.
        let (sql, floor) = if counter > 0 || stored > 0 {
            (
                "UPDATE identity_passkeys SET passkey = $1, counter = $2, last_used_at = $3 \
                 WHERE credential_id = $4 AND counter < $2",
                counter,
            )
        } else {
            (
                "UPDATE identity_passkeys SET passkey = $1, counter = $2, last_used_at = $3 \
                 WHERE credential_id = $4",
                0,
            )
        };
        let updated = sqlx::query(sql)
            .bind(&json)
            .bind(floor)
            .bind(now)
            .bind(&id)
            .execute(self.store.pool())
            .await?;
        if updated.rows_affected() != 1 {
            tracing::warn!("a passkey's counter did not rise: it may have been copied");
            return Err(PasskeyError::ClonedCredential);
        }
        Ok(PasskeyInfo {
            id,
            name: row.try_get("name")?,
            created_at: row.try_get("created_at")?,
            last_used_at: Some(now),
        })
    }

    /// The account's passkeys, oldest first.
    pub async fn list(&self, account_id: &str) -> Result<Vec<PasskeyInfo>, PasskeyError> {
        let rows = sqlx::query(
            "SELECT credential_id, name, created_at, last_used_at FROM identity_passkeys \
             WHERE account_id = $1 ORDER BY created_at, credential_id",
        )
        .bind(account_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PasskeyInfo {
                    id: r.try_get("credential_id")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                })
            })
            .collect()
    }

    /// Removes one of the account's passkeys.
    pub async fn remove(&self, account_id: &str, id: &str) -> Result<(), PasskeyError> {
        let done = sqlx::query(
            "DELETE FROM identity_passkeys WHERE credential_id = $1 AND account_id = $2",
        )
        .bind(id)
        .bind(account_id)
        .execute(self.store.pool())
        .await?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(PasskeyError::UnknownCredential)
        }
    }

    async fn passkeys_of(&self, account_id: &str) -> Result<Vec<Passkey>, PasskeyError> {
        let rows = sqlx::query(
            "SELECT passkey FROM identity_passkeys WHERE account_id = $1 ORDER BY created_at, credential_id",
        )
        .bind(account_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| serde_json::from_str(&r.try_get::<String, _>("passkey")?).map_err(state_error))
            .collect()
    }

    /// Keeps a ceremony's state; returns the id the browser holds.
    async fn keep(
        &self,
        account_id: &str,
        kind: &str,
        state: &str,
        now: Millis,
    ) -> Result<String, PasskeyError> {
        let id = random_token();
        sqlx::query("DELETE FROM identity_passkey_ceremonies WHERE expires_at < $1")
            .bind(now)
            .execute(self.store.pool())
            .await?;
        sqlx::query(
            "INSERT INTO identity_passkey_ceremonies (id_hash, account_id, kind, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_secret(&id))
        .bind(account_id)
        .bind(kind)
        .bind(state)
        .bind(now + CEREMONY_MS)
        .execute(self.store.pool())
        .await?;
        Ok(id)
    }

    /// Takes a live ceremony of this account and kind back, once.
    async fn take(
        &self,
        account_id: &str,
        kind: &str,
        id: &str,
        now: Millis,
    ) -> Result<String, PasskeyError> {
        let hash = hash_secret(id);
        let row = sqlx::query(
            "SELECT account_id, kind, state, expires_at FROM identity_passkey_ceremonies WHERE id_hash = $1",
        )
        .bind(&hash)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(PasskeyError::UnknownCeremony)?;
        let deleted = sqlx::query("DELETE FROM identity_passkey_ceremonies WHERE id_hash = $1")
            .bind(&hash)
            .execute(self.store.pool())
            .await?;
        let owner: String = row.try_get("account_id")?;
        let stored_kind: String = row.try_get("kind")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        if deleted.rows_affected() != 1
            || owner != account_id
            || stored_kind != kind
            || now >= expires_at
        {
            return Err(PasskeyError::UnknownCeremony);
        }
        Ok(row.try_get("state")?)
    }
}

/// The WebAuthn user handle of an account: stable, and not its row id.
fn user_handle(account_id: &str) -> Uuid {
    let digest = Sha256::digest([b"passkey-user:".as_slice(), account_id.as_bytes()].concat());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}
