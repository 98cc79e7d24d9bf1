//! Password hashing: Argon2id (RFC 9106) at the parameters of OWASP's Password Storage Cheat
//! Sheet (19 MiB of memory, 2 passes, 1 lane), stored in the PHC string format so that the
//! parameters travel with each hash and can be raised later without breaking old hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::IdentityError;
use crate::token::random_bytes;

/// Memory cost in KiB (OWASP: 19 MiB).
pub const MEMORY_KIB: u32 = 19_456;
/// Passes over the memory (OWASP: 2).
pub const PASSES: u32 = 2;
/// Lanes (OWASP: 1).
pub const LANES: u32 = 1;

/// The shortest and longest password accepted (NIST SP 800-63B §5.1.1.2: at least 8, and
/// at least 64 allowed).
pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

fn argon2() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, None).expect("the OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the length of a new password, counted in characters.
pub fn check_new(password: &str) -> Result<(), IdentityError> {
    let n = password.chars().count();
    if (MIN_LENGTH..=MAX_LENGTH).contains(&n) {
        Ok(())
    } else {
        Err(IdentityError::WeakPassword {
            min: MIN_LENGTH,
            max: MAX_LENGTH,
        })
    }
}

/// Hashes a password with a fresh 128-bit salt, as a PHC string (`$argon2id$v=19$m=…`).
pub fn hash(password: &str) -> Result<String, IdentityError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|e| IdentityError::Crypto(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Crypto(e.to_string()))
}

/// Whether `password` matches the stored PHC string. The parameters are read from the
/// string, so hashes made with older parameters still verify.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LENGTH * 4 {
        return false;
    }
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one verification, for logins that name no account, so that the
/// answer's timing does not tell which phone numbers have accounts.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("not a password of anyone").unwrap_or_default());
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_owasp_parameters_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterz", &h));
        assert_ne!(h, hash("correct horse battery").unwrap(), "salts differ");
    }

    #[test]
    fn garbage_hashes_do_not_verify() {
        assert!(!verify("x", ""));
        assert!(!verify("x", "$argon2id$v=19$garbage"));
    }

    #[test]
    fn lengths_are_checked_in_characters() {
        assert!(check_new("short").is_err());
        assert!(check_new("八个汉字的密码好").is_ok());
        assert!(check_new(&"a".repeat(129)).is_err());
    }
}
