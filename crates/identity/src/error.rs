//! What can go wrong in accounts, logins and sessions.

use crate::token::Millis;

/// Why an identity operation was refused or failed. Each has a stable [`code`](Self::code).
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("the ID number is not valid: {0}")]
    InvalidCitizenId(String),
    #[error("the name must be 1 to 64 characters")]
    InvalidName,
    #[error("the phone number must be 11 digits beginning with 1")]
    InvalidPhone,
    #[error("the password must be {min} to {max} characters")]
    WeakPassword { min: usize, max: usize },
    #[error("this phone number already belongs to an account")]
    PhoneTaken,
    #[error("this ID number already belongs to a checked account")]
    CitizenIdTaken,
    #[error("no such account")]
    UnknownAccount,
    #[error("the phone number must be confirmed first")]
    PhoneNotConfirmed,
    #[error("the code is wrong")]
    WrongCode,
    #[error("the code has expired or was never sent; ask for a new one")]
    CodeExpired,
    #[error("too many wrong codes; ask for a new one")]
    TooManyAttempts,
    #[error("the name and ID number do not match household registration")]
    RealNameMismatch,
    #[error("household registration does not list this person as living")]
    NotRegistered,
    #[error("household registration could not be asked: {0}")]
    RegistryUnavailable(String),
    #[error("the phone number or password is wrong")]
    BadCredentials,
    #[error("too many failed logins; try again after {until}")]
    LockedOut { until: Millis },
    #[error("this account needs its second factor")]
    SecondFactorRequired,
    #[error("the second factor is wrong")]
    WrongSecondFactor,
    #[error("no second factor is set up")]
    NoSecondFactor,
    #[error("the session has ended or never existed")]
    UnknownSession,
    #[error("the platform database failed: {0}")]
    Database(String),
    #[error("a key or hash could not be made: {0}")]
    Crypto(String),
    #[error(transparent)]
    Staff(#[from] crate::staff::StaffError),
}

impl IdentityError {
    /// The stable code, for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::InvalidCitizenId(_) => "invalid_citizen_id",
            IdentityError::InvalidName => "invalid_name",
            IdentityError::InvalidPhone => "invalid_phone",
            IdentityError::WeakPassword { .. } => "weak_password",
            IdentityError::PhoneTaken => "phone_taken",
            IdentityError::CitizenIdTaken => "citizen_id_taken",
            IdentityError::UnknownAccount => "unknown_account",
            IdentityError::PhoneNotConfirmed => "phone_not_confirmed",
            IdentityError::WrongCode => "wrong_code",
            IdentityError::CodeExpired => "code_expired",
            IdentityError::TooManyAttempts => "too_many_attempts",
            IdentityError::RealNameMismatch => "real_name_mismatch",
            IdentityError::NotRegistered => "not_registered",
            IdentityError::RegistryUnavailable(_) => "registry_unavailable",
            IdentityError::BadCredentials => "bad_credentials",
            IdentityError::LockedOut { .. } => "locked_out",
            IdentityError::SecondFactorRequired => "second_factor_required",
            IdentityError::WrongSecondFactor => "wrong_second_factor",
            IdentityError::NoSecondFactor => "no_second_factor",
            IdentityError::UnknownSession => "unknown_session",
            IdentityError::Database(_) => "internal",
            IdentityError::Crypto(_) => "internal",
            IdentityError::Staff(crate::staff::StaffError::Denied) => "forbidden",
            IdentityError::Staff(_) => "invalid_staff_role",
        }
    }

    /// Whether the fault is the platform's rather than the caller's.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            IdentityError::Database(_)
                | IdentityError::Crypto(_)
                | IdentityError::RegistryUnavailable(_)
        )
    }
}

impl From<sqlx::Error> for IdentityError {
    fn from(e: sqlx::Error) -> IdentityError {
        IdentityError::Database(e.to_string())
    }
}
