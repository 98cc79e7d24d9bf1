//! The real-name check: a citizen's name and ID number against public security's household
//! registration, read through the exchange with purpose "identity verification", so that the
//! read is granted, signed and recorded in the ledger like any other.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use errandless_exchange::{Exchange, FieldValue, Purpose, ReadError, ReadRequest};

use crate::error::IdentityError;
use crate::token::random_id;

/// The dataset the check reads.
pub const RESIDENT_DATASET: &str = "public_security.resident";
/// The registration status of a living resident.
const REGISTERED: &str = "registered";

/// Household registration as the identity service sees it: the exchange, and the member the
/// service reads as, with that member's signing key.
#[derive(Clone)]
pub struct Registry {
    exchange: Arc<Exchange>,
    consumer: String,
    key: SigningKey,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Reads as `consumer`, a member holding a grant on [`RESIDENT_DATASET`]'s `name` and
    /// `status` for [`Purpose::IdentityVerification`].
    pub fn new(exchange: Arc<Exchange>, consumer: &str, key: SigningKey) -> Registry {
        Registry {
            exchange,
            consumer: consumer.to_owned(),
            key,
        }
    }

    /// Checks that `name` is the registered name of the living resident `citizen_id`, and
    /// returns the ledger index of the read.
    pub async fn check(&self, citizen_id: &str, name: &str) -> Result<u64, IdentityError> {
        let request = ReadRequest {
            request_id: format!("identity-{}", random_id()),
            consumer: self.consumer.clone(),
            dataset: RESIDENT_DATASET.into(),
            subject: citizen_id.to_owned(),
            fields: vec!["name".into(), "status".into()],
            purpose: Purpose::IdentityVerification.code().into(),
        };
        let answer = self
            .exchange
            .read(&request.sign(&self.key))
            .await
            .map_err(|e| match e {
                ReadError::MalformedSubject { rule, .. } => IdentityError::InvalidCitizenId(rule),
                other => IdentityError::RegistryUnavailable(format!("{}: {other}", other.code())),
            })?;
        let text = |row: &errandless_exchange::Row, field: &str| match row.get(field) {
            Some(FieldValue::Text(s)) => s.trim().to_owned(),
            _ => String::new(),
        };
        let living: Vec<_> = answer
            .response
            .rows
            .iter()
            .filter(|row| text(row, "status") == REGISTERED)
            .collect();
        if living.is_empty() {
            return Err(IdentityError::NotRegistered);
        }
        if !living.iter().any(|row| text(row, "name") == name.trim()) {
            return Err(IdentityError::RealNameMismatch);
        }
        Ok(answer.response.ledger_index)
    }
}
