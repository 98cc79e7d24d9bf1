//! Accounts: registration, the phone code, the real-name check, passwords, TOTP and login.

use errandless_standards::CitizenId;
use errandless_store::Store;
use sqlx::Row as _;

use crate::error::IdentityError;
use crate::level::Level;
use crate::lockout::{Lockout, Source};
use crate::outbox::Outbox;
use crate::realname::Registry;
use crate::token::{
    b64url, b64url_decode, hash_secret, keyed_hash, random_bytes, random_id, same_secret, Millis,
};
use crate::{password, totp, Secret};

/// A phone code lives this long.
pub const PHONE_CODE_MS: Millis = 10 * 60_000;
/// Wrong tries before a phone code is void.
pub const PHONE_CODE_ATTEMPTS: i64 = 5;

/// What a citizen gives to register.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub citizen_id: String,
    pub name: String,
    pub phone: String,
    pub password: String,
}

/// A citizen's account, without its secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub citizen_id: String,
    pub name: String,
    pub phone: String,
    pub created_at: Millis,
    pub phone_confirmed: bool,
    pub real_name_checked: bool,
    /// The ledger entry that recorded the real-name check.
    pub real_name_ledger: Option<u64>,
    pub totp_enabled: bool,
}

impl Account {
    /// The level a login with a password alone reaches, if the phone is confirmed.
    pub fn level(&self) -> Option<Level> {
        match (self.phone_confirmed, self.real_name_checked) {
            (false, _) => None,
            (true, false) => Some(Level::L1),
            (true, true) => Some(Level::L2),
        }
    }
}

/// What a login attempt gives.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub phone: String,
    pub password: String,
    /// A TOTP code, for level L3.
    pub totp: Option<String>,
    /// The device cookie from an earlier login, if the browser has one.
    pub device: Option<String>,
}

/// A successful login.
#[derive(Clone, Debug)]
pub struct Login {
    pub account: Account,
    pub level: Level,
    /// RFC 8176 methods: `pwd`, and `otp` when a TOTP code was given.
    pub amr: Vec<String>,
    /// The device cookie to keep (new, or the one given).
    pub device: String,
}

/// Who an upstream region says logged in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UpstreamIdentity<'a> {
    pub upstream: &'a str,
    pub subject: &'a str,
    pub citizen_id: &'a str,
    pub name: &'a str,
    pub phone: &'a str,
    /// Whether the upstream checked the real name (its level is L2 or above).
    pub checked: bool,
}

/// The accounts of the installation.
#[derive(Clone, Debug)]
pub struct Accounts {
    store: Store,
    outbox: Outbox,
    secret: Secret,
    lockout: Lockout,
}

fn check_phone(phone: &str) -> Result<(), IdentityError> {
    let ok =
        phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(()).ok_or(IdentityError::InvalidPhone)
}

fn check_name(name: &str) -> Result<(), IdentityError> {
    let n = name.trim().chars().count();
    if (1..=64).contains(&n) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(IdentityError::InvalidName)
    }
}

/// A uniform six-digit code.
fn six_digits() -> String {
    loop {
        let n = u32::from_be_bytes(random_bytes::<4>());
        // Reject the top of the range so that every code is equally likely.
        if n < u32::MAX - u32::MAX % 1_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

const ACCOUNT_COLUMNS: &str = "id, citizen_id, name, phone, created_at, phone_confirmed_at, \
    real_name_checked_at, real_name_ledger, totp_enabled";

pub(crate) fn account_of(r: &sqlx::any::AnyRow) -> Result<Account, sqlx::Error> {
    let confirmed: Option<i64> = r.try_get("phone_confirmed_at")?;
    let checked: Option<i64> = r.try_get("real_name_checked_at")?;
    let ledger: Option<i64> = r.try_get("real_name_ledger")?;
    let totp: i64 = r.try_get("totp_enabled")?;
    Ok(Account {
        id: r.try_get("id")?,
        citizen_id: r.try_get("citizen_id")?,
        name: r.try_get("name")?,
        phone: r.try_get("phone")?,
        created_at: r.try_get("created_at")?,
        phone_confirmed: confirmed.is_some(),
        real_name_checked: checked.is_some(),
        real_name_ledger: ledger.and_then(|l| u64::try_from(l).ok()),
        totp_enabled: totp == 1,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Accounts {
    pub fn new(store: Store, outbox: Outbox, secret: Secret) -> Accounts {
        Accounts {
            lockout: Lockout::new(store.clone()),
            store,
            outbox,
            secret,
        }
    }

    pub fn lockout(&self) -> &Lockout {
        &self.lockout
    }

    /// Registers a citizen and queues a code to the phone. An unconfirmed account with the
    /// same phone is replaced: only whoever holds the phone can finish, so nobody can hold a
    /// number they cannot read.
    pub async fn register(&self, new: &NewAccount, now: Millis) -> Result<Account, IdentityError> {
        let citizen_id = CitizenId::parse(new.citizen_id.trim())
            .map_err(|e| IdentityError::InvalidCitizenId(e.rule().to_owned()))?;
        check_name(&new.name)?;
        check_phone(&new.phone)?;
        password::check_new(&new.password)?;
        let hash = password::hash(&new.password)?;
        let id = random_id();
        let mut tx = self.store.pool().begin().await?;
        sqlx::query(
            "DELETE FROM identity_accounts WHERE phone = $1 AND phone_confirmed_at IS NULL",
        )
        .bind(&new.phone)
        .execute(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO identity_accounts (id, citizen_id, name, phone, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(citizen_id.as_str())
        .bind(new.name.trim())
        .bind(&new.phone)
        .bind(&hash)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => return Err(IdentityError::PhoneTaken),
            other => other?,
        };
        self.queue_code(&mut tx, &id, &new.phone, now).await?;
        tx.commit().await?;
        self.find(&id).await
    }

    /// Registration as the public endpoint offers it: like [`register`](Self::register), but a
    /// phone number that already has a confirmed account is not refused. The number's owner is
    /// told someone tried it, and the caller gets an id that behaves as a real registration's
    /// (its codes are refused as wrong, then as too many, then as expired), after the same
    /// password hashing, so nobody learns whether a number is taken. Returns the id to confirm.
    pub async fn enrol(&self, new: &NewAccount, now: Millis) -> Result<String, IdentityError> {
        match self.register(new, now).await {
            Ok(account) => Ok(account.id),
            Err(IdentityError::PhoneTaken) => {
                let id = random_id();
                let mut tx = self.store.pool().begin().await?;
                sqlx::query(
                    "INSERT INTO identity_decoy_registrations (id, expires_at, attempts) VALUES ($1, $2, 0)",
                )
                .bind(&id)
                .bind(now + PHONE_CODE_MS)
                .execute(&mut *tx)
                .await?;
                let body = "【Errandless】有人试图用本号码注册新账户；您的账户未受影响。Someone tried to register a new account with this number; your account is unchanged.";
                Outbox::queue(&mut tx, &new.phone, body, now).await?;
                tx.commit().await?;
                Ok(id)
            }
            Err(e) => Err(e),
        }
    }

    /// A code given for a decoy registration: refused as a real registration's wrong code is.
    async fn confirm_decoy(&self, id: &str, now: Millis) -> Result<Account, IdentityError> {
        let row = sqlx::query(
            "SELECT expires_at, attempts FROM identity_decoy_registrations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?
        .ok_or(IdentityError::CodeExpired)?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let attempts: i64 = row.try_get("attempts")?;
        if now >= expires_at {
            return Err(IdentityError::CodeExpired);
        }
        if attempts >= PHONE_CODE_ATTEMPTS {
            return Err(IdentityError::TooManyAttempts);
        }
        sqlx::query(
            "UPDATE identity_decoy_registrations SET attempts = attempts + 1 WHERE id = $1",
        )
        .bind(id)
        .execute(self.store.pool())
        .await?;
        Err(if attempts + 1 >= PHONE_CODE_ATTEMPTS {
            IdentityError::TooManyAttempts
        } else {
            IdentityError::WrongCode
        })
    }

    async fn queue_code(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        account_id: &str,
        phone: &str,
        now: Millis,
    ) -> Result<(), IdentityError> {
        let code = six_digits();
        sqlx::query(
            "INSERT INTO identity_phone_codes (account_id, code_hash, expires_at, attempts) \
             VALUES ($1, $2, $3, 0) ON CONFLICT (account_id) DO UPDATE \
             SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0",
        )
        .bind(account_id)
        .bind(self.code_hash(account_id, &code))
        .bind(now + PHONE_CODE_MS)
        .execute(&mut **tx)
        .await?;
        let body = format!("【Errandless】验证码 {code}，10分钟内有效。Your code is {code}; it expires in 10 minutes.");
        Outbox::queue(tx, phone, &body, now).await?;
        Ok(())
    }

    fn code_hash(&self, account_id: &str, code: &str) -> String {
        crate::token::hex(&keyed_hash(
            self.secret.bytes(),
            &[b"phone-code", account_id.as_bytes(), code.as_bytes()],
        ))
    }

    /// Sends a new phone code, replacing the old one.
    pub async fn resend_code(&self, account_id: &str, now: Millis) -> Result<(), IdentityError> {
        let account = self.find(account_id).await?;
        let mut tx = self.store.pool().begin().await?;
        self.queue_code(&mut tx, &account.id, &account.phone, now)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Delivers queued messages through the outbox's channel.
    pub async fn deliver(&self) -> Result<usize, IdentityError> {
        self.outbox.deliver().await
    }

    /// Confirms the phone with the code sent to it: the account reaches L1.
    pub async fn confirm_phone(
        &self,
        account_id: &str,
        code: &str,
        now: Millis,
    ) -> Result<Account, IdentityError> {
        let row = sqlx::query(
            "SELECT code_hash, expires_at, attempts FROM identity_phone_codes WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(self.store.pool())
        .await?;
        let Some(row) = row else {
            return self.confirm_decoy(account_id, now).await;
        };
        let stored: String = row.try_get("code_hash")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let attempts: i64 = row.try_get("attempts")?;
        if now >= expires_at {
            return Err(IdentityError::CodeExpired);
        }
        if attempts >= PHONE_CODE_ATTEMPTS {
            return Err(IdentityError::TooManyAttempts);
        }
        if !same_secret(
            stored.as_bytes(),
            self.code_hash(account_id, code.trim()).as_bytes(),
        ) {
            sqlx::query(
                "UPDATE identity_phone_codes SET attempts = attempts + 1 WHERE account_id = $1",
            )
            .bind(account_id)
            .execute(self.store.pool())
            .await?;
            return Err(if attempts + 1 >= PHONE_CODE_ATTEMPTS {
                IdentityError::TooManyAttempts
            } else {
                IdentityError::WrongCode
            });
        }
        let mut tx = self.store.pool().begin().await?;
        sqlx::query("DELETE FROM identity_phone_codes WHERE account_id = $1")
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE identity_accounts SET phone_confirmed_at = $1 WHERE id = $2")
            .bind(now)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.find(account_id).await
    }

    /// Checks the account's name and ID number against household registration through the
    /// exchange: the account reaches L2. Mismatches count like failed logins, so the check
    /// cannot be used to guess names.
    pub async fn check_real_name(
        &self,
        account_id: &str,
        registry: &Registry,
        now: Millis,
    ) -> Result<Account, IdentityError> {
        let account = self.find(account_id).await?;
        if !account.phone_confirmed {
            return Err(IdentityError::PhoneNotConfirmed);
        }
        if account.real_name_checked {
            return Ok(account);
        }
        let source = Source::Check("real_name");
        self.lockout.check(account_id, &source, now).await?;
        let ledger = match registry.check(&account.citizen_id, &account.name).await {
            Ok(index) => index,
            Err(e @ (IdentityError::RealNameMismatch | IdentityError::NotRegistered)) => {
                self.lockout.fail(account_id, &source, now).await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let updated = sqlx::query(
            "UPDATE identity_accounts SET real_name_checked_at = $1, real_name_ledger = $2 WHERE id = $3",
        )
        .bind(now)
        .bind(i64::try_from(ledger).unwrap_or(i64::MAX))
        .bind(account_id)
        .execute(self.store.pool())
        .await;
        match updated {
            Err(e) if is_unique_violation(&e) => return Err(IdentityError::CitizenIdTaken),
            other => other?,
        };
        self.find(account_id).await
    }

    /// The account with this id.
    pub async fn find(&self, account_id: &str) -> Result<Account, IdentityError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM identity_accounts WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(account_id)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or(IdentityError::UnknownAccount)?;
        Ok(account_of(&row)?)
    }

    /// The confirmed account with this phone number.
    pub async fn find_by_phone(&self, phone: &str) -> Result<Account, IdentityError> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} FROM identity_accounts WHERE phone = $1 AND phone_confirmed_at IS NOT NULL"
        );
        let row = sqlx::query(&sql)
            .bind(phone)
            .fetch_optional(self.store.pool())
            .await?
            .ok_or(IdentityError::UnknownAccount)?;
        Ok(account_of(&row)?)
    }

    /// The local account of an upstream's subject: the one already linked, else the checked
    /// account with the same ID number (when the upstream checked it), else a new one with the
    /// phone the upstream confirmed and no usable password. Links it for next time.
    pub(crate) async fn link_federated(
        &self,
        who: &UpstreamIdentity<'_>,
        now: Millis,
    ) -> Result<Account, IdentityError> {
        let UpstreamIdentity {
            upstream,
            subject,
            citizen_id,
            name,
            phone,
            checked,
        } = *who;
        let linked = sqlx::query(
            "SELECT account_id FROM identity_federated_links WHERE upstream = $1 AND subject = $2",
        )
        .bind(upstream)
        .bind(subject)
        .fetch_optional(self.store.pool())
        .await?;
        if let Some(row) = linked {
            let id: String = row.try_get("account_id")?;
            return self.find(&id).await;
        }
        let citizen_id = CitizenId::parse(citizen_id.trim())
            .map_err(|e| IdentityError::InvalidCitizenId(e.rule().to_owned()))?;
        check_name(name)?;
        check_phone(phone)?;
        let mut tx = self.store.pool().begin().await?;
        let existing = if checked {
            sqlx::query(
                "SELECT id FROM identity_accounts WHERE citizen_id = $1 AND real_name_checked_at IS NOT NULL",
            )
            .bind(citizen_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
        } else {
            None
        };
        let id = match existing {
            Some(row) => row.try_get::<String, _>("id")?,
            None => {
                let id = random_id();
                sqlx::query(
                    "DELETE FROM identity_accounts WHERE phone = $1 AND phone_confirmed_at IS NULL",
                )
                .bind(phone)
                .execute(&mut *tx)
                .await?;
                // "!" is no PHC string, so no password ever matches it.
                let inserted = sqlx::query(
                    "INSERT INTO identity_accounts (id, citizen_id, name, phone, password_hash, created_at, \
                     phone_confirmed_at, real_name_checked_at) VALUES ($1, $2, $3, $4, '!federated', $5, $5, $6)",
                )
                .bind(&id)
                .bind(citizen_id.as_str())
                .bind(name.trim())
                .bind(phone)
                .bind(now)
                .bind(checked.then_some(now))
                .execute(&mut *tx)
                .await;
                match inserted {
                    Err(e) if is_unique_violation(&e) => return Err(IdentityError::PhoneTaken),
                    other => other?,
                };
                id
            }
        };
        sqlx::query(
            "INSERT INTO identity_federated_links (upstream, subject, account_id, linked_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(upstream)
        .bind(subject)
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.find(&id).await
    }

    /// Starts setting up TOTP: a new secret, returned for the authenticator app, which takes
    /// effect only when [`confirm_totp`](Self::confirm_totp) sees a code made from it.
    pub async fn begin_totp(&self, account_id: &str) -> Result<Vec<u8>, IdentityError> {
        let account = self.find(account_id).await?;
        if account.totp_enabled {
            return Err(IdentityError::Crypto(
                "a second factor is already set up".into(),
            ));
        }
        let secret = random_bytes::<{ totp::SECRET_BYTES }>().to_vec();
        sqlx::query("UPDATE identity_accounts SET totp_secret = $1 WHERE id = $2")
            .bind(totp::base32(&secret))
            .bind(account_id)
            .execute(self.store.pool())
            .await?;
        Ok(secret)
    }

    /// Turns TOTP on once the app shows a valid code.
    pub async fn confirm_totp(
        &self,
        account_id: &str,
        code: &str,
        now: Millis,
    ) -> Result<Account, IdentityError> {
        let step = self.accept_totp(account_id, code, now).await?;
        sqlx::query(
            "UPDATE identity_accounts SET totp_enabled = 1, totp_last_step = $1 WHERE id = $2",
        )
        .bind(i64::try_from(step).unwrap_or(i64::MAX))
        .bind(account_id)
        .execute(self.store.pool())
        .await?;
        self.find(account_id).await
    }

    /// The step of a valid, unused code, or why there is none.
    async fn accept_totp(
        &self,
        account_id: &str,
        code: &str,
        now: Millis,
    ) -> Result<u64, IdentityError> {
        let row =
            sqlx::query("SELECT totp_secret, totp_last_step FROM identity_accounts WHERE id = $1")
                .bind(account_id)
                .fetch_optional(self.store.pool())
                .await?
                .ok_or(IdentityError::UnknownAccount)?;
        let secret: Option<String> = row.try_get("totp_secret")?;
        let last: Option<i64> = row.try_get("totp_last_step")?;
        let secret = secret
            .as_deref()
            .and_then(totp::base32_decode)
            .ok_or(IdentityError::NoSecondFactor)?;
        let seconds = u64::try_from(now / 1000).unwrap_or(0);
        totp::accept(
            &secret,
            code,
            seconds,
            last.and_then(|l| u64::try_from(l).ok()),
        )
        .ok_or(IdentityError::WrongSecondFactor)
    }

    /// A device cookie for `account_id`: `account.random.mac`.
    fn device_cookie(&self, account_id: &str) -> String {
        let nonce = b64url(&random_bytes::<16>());
        let mac = keyed_hash(
            self.secret.bytes(),
            &[b"device", account_id.as_bytes(), nonce.as_bytes()],
        );
        format!("{account_id}.{nonce}.{}", b64url(&mac))
    }

    /// The device a cookie proves for `account_id`, if it is genuine and for that account.
    fn device_of(&self, cookie: &str, account_id: &str) -> Option<String> {
        let mut parts = cookie.split('.');
        let (account, nonce, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || account != account_id {
            return None;
        }
        let expected = keyed_hash(
            self.secret.bytes(),
            &[b"device", account.as_bytes(), nonce.as_bytes()],
        );
        let given = b64url_decode(mac)?;
        same_secret(&expected, &given).then(|| hash_secret(nonce)[..32].to_owned())
    }

    /// Logs in with phone and password, and a TOTP code for L3. Failures are counted per
    /// source ([`Lockout`]); a locked source is refused before the password is even hashed.
    pub async fn login(
        &self,
        credentials: &Credentials,
        now: Millis,
    ) -> Result<Login, IdentityError> {
        let account = match self.find_by_phone(credentials.phone.trim()).await {
            Ok(a) => a,
            Err(IdentityError::UnknownAccount) => {
                password::verify_nothing(&credentials.password);
                return Err(IdentityError::BadCredentials);
            }
            Err(e) => return Err(e),
        };
        let device = credentials
            .device
            .as_deref()
            .and_then(|c| self.device_of(c, &account.id));
        let source = match &device {
            Some(d) => Source::Device(d.clone()),
            None => Source::Untrusted,
        };
        self.lockout.check(&account.id, &source, now).await?;
        let stored: String =
            sqlx::query("SELECT password_hash FROM identity_accounts WHERE id = $1")
                .bind(&account.id)
                .fetch_one(self.store.pool())
                .await?
                .try_get("password_hash")?;
        let password = credentials.password.clone();
        let matches = tokio::task::spawn_blocking(move || password::verify(&password, &stored))
            .await
            .map_err(|e| IdentityError::Crypto(e.to_string()))?;
        if !matches {
            self.lockout.fail(&account.id, &source, now).await?;
            return Err(IdentityError::BadCredentials);
        }
        let mut amr = vec!["pwd".to_owned()];
        let mut level = account.level().ok_or(IdentityError::PhoneNotConfirmed)?;
        if let Some(code) = credentials.totp.as_deref().filter(|c| !c.trim().is_empty()) {
            if !account.totp_enabled {
                return Err(IdentityError::NoSecondFactor);
            }
            let step = match self.accept_totp(&account.id, code, now).await {
                Ok(step) => step,
                Err(e) => {
                    self.lockout.fail(&account.id, &source, now).await?;
                    return Err(e);
                }
            };
            sqlx::query("UPDATE identity_accounts SET totp_last_step = $1 WHERE id = $2")
                .bind(i64::try_from(step).unwrap_or(i64::MAX))
                .bind(&account.id)
                .execute(self.store.pool())
                .await?;
            amr.push("otp".into());
            if level == Level::L2 {
                level = Level::L3;
            }
        }
        self.lockout.succeed(&account.id, &source).await?;
        let device = match (&device, &credentials.device) {
            (Some(_), Some(cookie)) => cookie.clone(),
            _ => self.device_cookie(&account.id),
        };
        Ok(Login {
            account,
            level,
            amr,
            device,
        })
    }
}
