//! One login for citizens (统一身份认证): accounts whose name and ID number are checked once
//! against household registration, and the OpenID Connect provider through which that login
//! opens every other government app.
//!
//! - [`Accounts`]: registration (ID number, name, phone, password), the phone's one-time code
//!   through an [`Outbox`] and a [`Channel`] ([`DevelopmentChannel`] writes to a table and the
//!   log), the real-name check through the exchange ([`Registry`], purpose "identity
//!   verification", so the read is in the ledger), passwords hashed with Argon2id at OWASP's
//!   parameters ([`password`]), TOTP ([`totp`], RFC 6238), and [`Accounts::login`] with a
//!   [`Lockout`] that counts failures per device so that nobody can lock a citizen out.
//! - [`Passkeys`]: WebAuthn passkeys as the other second factor, registered and checked through
//!   webauthn-rs's ceremonies; a passkey whose signature counter goes backwards (a copied
//!   authenticator) or an answer made for another origin is refused. webauthn-rs verifies with
//!   OpenSSL: this is the one exception to the crate's single crypto stack (RustCrypto), taken
//!   because no RustCrypto WebAuthn library of its standing exists; its default features are
//!   off, and ceremony state is serialised only to wait in the platform store.
//! - [`Level`]: L1 (phone confirmed), L2 (real name checked), L3 (L2 and a second factor: a
//!   TOTP code or a passkey).
//! - [`Sessions`]: server-side sessions whose id changes at every login; "log out everywhere".
//! - [`Provider`]: the OpenID Connect provider (authorization code with PKCE, ID tokens signed
//!   RS256 or EdDSA, rotating keys, refresh tokens with reuse detection, revocation,
//!   introspection, RP-initiated logout, pairwise `sub`), and [`Clients`], the apps it serves.
//!
//! - [`Federation`]: logins through another region's provider, linked to local accounts with
//!   their level of assurance carried over.
//!
//! - [`Staff`]: roles (department officer, policy officer, auditor, operator) scoped by
//!   department and division-code prefix, and [`decide`], the one rule every endpoint asks.
//!
//! It is not an HTTP server (the `server` crate serves the login pages and the provider's
//! endpoints) and it never reads an island itself: the real-name check is an exchange read.
//!
//! ```no_run
//! use errandless_identity::{migrate, Accounts, Credentials, DevelopmentChannel, NewAccount, Outbox, Secret};
//! use std::sync::Arc;
//! # async fn run(store: errandless_store::Store, registry: errandless_identity::Registry) -> Result<(), Box<dyn std::error::Error>> {
//! migrate(&store).await?;
//! let secret = Secret::load_or_create(&store).await?;
//! let outbox = Outbox::new(store.clone(), Arc::new(DevelopmentChannel::new(store.clone())));
//! let accounts = Accounts::new(store.clone(), outbox, secret);
//! let now = errandless_identity::now_millis();
//! let account = accounts
//!     .register(&NewAccount { citizen_id: "520102199001010071".into(), name: "张三".into(), phone: "13800000001".into(), password: "a long passphrase".into() }, now)
//!     .await?;
//! accounts.deliver().await?; // the code goes out through the channel
//! accounts.confirm_phone(&account.id, "123456", now).await?; // the code the citizen read
//! accounts.check_real_name(&account.id, &registry, now).await?; // level L2
//! let login = accounts.login(&Credentials { phone: "13800000001".into(), password: "a long passphrase".into(), ..Default::default() }, now).await?;
//! # let _ = login; Ok(()) }
//! ```

use errandless_store::{Store, StoreError};
use sqlx::Row as _;

mod account;
mod error;
mod federation;
mod level;
mod lockout;
mod outbox;
mod passkey;
pub mod password;
pub mod provider;
mod realname;
mod session;
mod staff;
#[cfg(feature = "testing")]
pub mod testing;
mod throttle;
mod token;
pub mod totp;

pub use account::{
    Account, Accounts, Credentials, Login, NewAccount, PHONE_CODE_ATTEMPTS, PHONE_CODE_MS,
};
pub use error::IdentityError;
pub use federation::{FederatedLogin, Federation, FederationError, Upstream, STATE_MS};
pub use level::{Level, UnknownLevel};
pub use lockout::{Lockout, Source, BASE_LOCK_MS, MAX_LOCK_MS, THRESHOLD};
pub use outbox::{mask_phone, Channel, DevelopmentChannel, Message, Outbox, Sending};
pub use passkey::{PasskeyError, PasskeyInfo, Passkeys, CEREMONY_MS, PASSKEY_AMR};
pub use provider::{
    AuthorizeError, AuthorizeParams, Client, ClientAuth, ClientError, Clients, LogoutParams,
    NewClient, OAuthError, Pending, Provider, TokenRequest, TokenResponse,
};
pub use realname::{Registry, RESIDENT_DATASET};
pub use session::{Session, Sessions, ABSOLUTE_MS, IDLE_MS};
pub use staff::{decide, Action, Assignment, Role, Staff, StaffError};
pub use throttle::RateLimit;
pub use token::{now_millis, Millis};
/// The WebAuthn messages a browser and the server exchange in the passkey ceremonies.
pub use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

/// The identity crate's migrations, embedded at compile time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Creates or updates the identity tables (`identity_*`) in the platform store.
pub async fn migrate(store: &Store) -> Result<(), StoreError> {
    store.migrate("identity", &MIGRATOR).await.map(drop)
}

/// The installation's secret: it keys phone-code hashes, device cookies and pairwise subjects.
/// Made once, kept in the platform store; losing it changes every pairwise subject.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Secret {
    pub fn from_bytes(bytes: [u8; 32]) -> Secret {
        Secret(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The installation's secret, made on first use. Two processes starting at once agree on
    /// one: the first insert wins and both read it back.
    pub async fn load_or_create(store: &Store) -> Result<Secret, IdentityError> {
        let fresh = token::hex(&token::random_bytes::<32>());
        sqlx::query(
            "INSERT INTO identity_secrets (name, value) VALUES ('master', $1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&fresh)
        .execute(store.pool())
        .await?;
        let value: String = sqlx::query("SELECT value FROM identity_secrets WHERE name = 'master'")
            .fetch_one(store.pool())
            .await?
            .try_get("value")?;
        let mut bytes = [0u8; 32];
        if value.len() != 64 {
            return Err(IdentityError::Crypto(
                "the stored secret is malformed".into(),
            ));
        }
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&value[2 * i..2 * i + 2], 16)
                .map_err(|_| IdentityError::Crypto("the stored secret is malformed".into()))?;
        }
        Ok(Secret(bytes))
    }
}
