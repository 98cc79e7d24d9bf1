//! Per-subject reads: the exchange's answer to a signed request, checked against a grant,
//! signed by the owner and recorded in the ledger.
//!
//! The request follows the GovStack Digital Registries `read` operation (subject, fields,
//! and the consumer, purpose and request id that its headers carry). It is signed with the
//! consumer's Ed25519 key over its canonical encoding; the response is signed with the owner's
//! key and carries the SHA-256 of that encoding, as X-Road's `X-Road-Request-Hash` binds a
//! provider's response to the request it answers (X-Road message protocol for REST §4.4).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::connector::{ConnectorError, Row};
use crate::grant::GrantError;
use crate::member::MemberError;
use crate::Millis;

/// Domain separation for request signatures.
const REQUEST_CONTEXT: &[u8] = b"errandless-exchange/read-request/v1\n";
/// Domain separation for response signatures.
const RESPONSE_CONTEXT: &[u8] = b"errandless-exchange/read-response/v1\n";

/// Limits that keep a request, and so its ledger entry, small.
pub const MAX_FIELDS: usize = 64;
const MAX_NAME: usize = 128;

/// What a consumer asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRequest {
    /// Unique per consumer; a second use is refused as a replay.
    pub request_id: String,
    pub consumer: String,
    pub dataset: String,
    /// The subject: a citizen ID number, or a social credit code for organisation datasets.
    pub subject: String,
    /// Field names of the dataset.
    pub fields: Vec<String>,
    /// A purpose code ([`crate::Purpose`]).
    pub purpose: String,
}

impl ReadRequest {
    /// The bytes that are signed and hashed: a context line, then the request as JSON with its
    /// members in declaration order and no insignificant whitespace.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = REQUEST_CONTEXT.to_vec();
        serde_json::to_writer(&mut out, self).expect("a request encodes as JSON");
        out
    }

    /// The SHA-256 of [`canonical_bytes`](Self::canonical_bytes), in lowercase hexadecimal.
    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.canonical_bytes()))
    }

    /// Signs the request with the consumer's key.
    pub fn sign(self, key: &SigningKey) -> SignedReadRequest {
        let signature = key.sign(&self.canonical_bytes()).to_bytes().to_vec();
        SignedReadRequest {
            request: self,
            signature,
        }
    }
}

/// A request with the consumer's Ed25519 signature (RFC 8032) over its canonical bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReadRequest {
    pub request: ReadRequest,
    pub signature: Vec<u8>,
}

/// What the owner answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadResponse {
    pub request_id: String,
    /// The SHA-256 of the request's canonical bytes.
    pub request_hash: String,
    pub consumer: String,
    pub owner: String,
    pub dataset: String,
    pub purpose: String,
    /// The grant the read was made under.
    pub grant: String,
    /// The subject's rows, each holding exactly the requested fields.
    pub rows: Vec<Row>,
    pub served_at: Millis,
    /// The ledger leaf that records this read.
    pub ledger_index: u64,
}

impl ReadResponse {
    /// The bytes the owner signs, built like [`ReadRequest::canonical_bytes`].
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = RESPONSE_CONTEXT.to_vec();
        serde_json::to_writer(&mut out, self).expect("a response encodes as JSON");
        out
    }
}

/// A response with the owner's signature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignedResponse {
    pub response: ReadResponse,
    pub signature: Vec<u8>,
}

impl SignedResponse {
    /// Whether `owner_key` signed this response and it answers `request`.
    pub fn verify(&self, owner_key: &VerifyingKey, request: &ReadRequest) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(self.signature.as_slice()) else {
            return false;
        };
        self.response.request_hash == request.hash()
            && self.response.request_id == request.request_id
            && owner_key
                .verify(
                    &self.response.canonical_bytes(),
                    &Signature::from_bytes(&bytes),
                )
                .is_ok()
    }
}

/// Why a read was refused. Every refusal is recorded in the ledger before it is returned.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the request is malformed: {0}")]
    MalformedRequest(String),
    #[error("{0:?} is not a registered member")]
    UnknownConsumer(String),
    #[error("the request's signature does not verify with the consumer's key")]
    BadSignature,
    #[error("request id {0:?} has been used before")]
    ReplayedRequest(String),
    #[error("dataset {0:?} is not published")]
    UnknownDataset(String),
    #[error("{0:?} is not a purpose code")]
    UnknownPurpose(String),
    #[error("the subject is not a valid {expected}: {rule}")]
    MalformedSubject {
        expected: &'static str,
        rule: String,
    },
    #[error("no grant lets {consumer:?} read {dataset} for {purpose}")]
    NoGrant {
        consumer: String,
        dataset: String,
        purpose: String,
    },
    #[error("grant {0} is not valid yet")]
    GrantNotYetValid(String),
    #[error("grant {0} has expired")]
    GrantExpired(String),
    #[error("grant {0} has been revoked")]
    GrantRevoked(String),
    #[error("field {0:?} is not granted")]
    FieldNotGranted(String),
    #[error("the subject is outside the division scope of every grant")]
    SubjectOutsideScope,
    #[error("the owner {0:?} has no signing key on this exchange")]
    OwnerKeyUnavailable(String),
    #[error("the island could not be read")]
    Island(#[source] ConnectorError),
    #[error("the ledger could not record the read")]
    Ledger(String),
    #[error("the platform database failed")]
    Database(String),
    #[error("a data-center snapshot could not be read: {0}")]
    Snapshot(String),
}

impl ReadError {
    /// The stable code of the refusal, for APIs and the ledger.
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::MalformedRequest(_) => "malformed_request",
            ReadError::UnknownConsumer(_) => "unknown_consumer",
            ReadError::BadSignature => "bad_signature",
            ReadError::ReplayedRequest(_) => "replayed_request",
            ReadError::UnknownDataset(_) => "unknown_dataset",
            ReadError::UnknownPurpose(_) => "unknown_purpose",
            ReadError::MalformedSubject { .. } => "malformed_subject",
            ReadError::NoGrant { .. } => "no_grant",
            ReadError::GrantNotYetValid(_) => "grant_not_yet_valid",
            ReadError::GrantExpired(_) => "grant_expired",
            ReadError::GrantRevoked(_) => "grant_revoked",
            ReadError::FieldNotGranted(_) => "field_not_granted",
            ReadError::SubjectOutsideScope => "subject_outside_scope",
            ReadError::OwnerKeyUnavailable(_) => "owner_key_unavailable",
            ReadError::Island(_) => "island_unavailable",
            ReadError::Ledger(_) => "ledger_unavailable",
            ReadError::Database(_) | ReadError::Snapshot(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ReadError {
    fn from(e: sqlx::Error) -> ReadError {
        ReadError::Database(e.to_string())
    }
}

impl From<GrantError> for ReadError {
    fn from(e: GrantError) -> ReadError {
        ReadError::Database(e.to_string())
    }
}

impl From<MemberError> for ReadError {
    fn from(e: MemberError) -> ReadError {
        ReadError::Database(e.to_string())
    }
}

/// Checks the shape of a request before anything else, so that what is logged stays small.
pub(crate) fn check_shape(r: &ReadRequest) -> Result<(), ReadError> {
    let bad = |what: &str| Err(ReadError::MalformedRequest(what.to_owned()));
    let name_ok =
        |s: &str| !s.is_empty() && s.len() <= MAX_NAME && s.bytes().all(|b| b.is_ascii_graphic());
    if !name_ok(&r.request_id) {
        return bad("the request id must be 1 to 128 printable ASCII characters");
    }
    if !name_ok(&r.consumer) || !name_ok(&r.dataset) || !name_ok(&r.purpose) {
        return bad("consumer, dataset and purpose must be 1 to 128 printable ASCII characters");
    }
    if r.subject.len() > MAX_NAME {
        return bad("the subject is too long");
    }
    if r.fields.is_empty() || r.fields.len() > MAX_FIELDS {
        return bad("a request names 1 to 64 fields");
    }
    if !r.fields.iter().all(|f| name_ok(f)) {
        return bad("field names must be 1 to 128 printable ASCII characters");
    }
    Ok(())
}

/// Signs a response with the owner's key.
pub(crate) fn sign_response(response: ReadResponse, key: &SigningKey) -> SignedResponse {
    let signature = key.sign(&response.canonical_bytes()).to_bytes().to_vec();
    SignedResponse {
        response,
        signature,
    }
}

/// Whether `signature` is `key`'s over the request (RFC 8032 §5.1.7, strict).
pub(crate) fn request_signed_by(request: &SignedReadRequest, key: &VerifyingKey) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(request.signature.as_slice()) else {
        return false;
    };
    key.verify_strict(
        &request.request.canonical_bytes(),
        &Signature::from_bytes(&bytes),
    )
    .is_ok()
}

/// Lower-case hexadecimal, two digits a byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ReadRequest {
        ReadRequest {
            request_id: "r-1".into(),
            consumer: "civil_affairs".into(),
            dataset: "public_security.resident".into(),
            subject: "52010219900307105X".into(),
            fields: vec!["name".into()],
            purpose: "benefit_eligibility".into(),
        }
    }

    #[test]
    fn the_canonical_encoding_is_fixed() {
        let bytes = request().canonical_bytes();
        assert_eq!(
            String::from_utf8(bytes).expect("utf-8"),
            "errandless-exchange/read-request/v1\n{\"request_id\":\"r-1\",\"consumer\":\"civil_affairs\",\
             \"dataset\":\"public_security.resident\",\"subject\":\"52010219900307105X\",\
             \"fields\":[\"name\"],\"purpose\":\"benefit_eligibility\"}"
        );
        assert_eq!(request().hash().len(), 64);
    }

    #[test]
    fn a_signature_covers_every_member_of_the_request() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let signed = request().sign(&key);
        assert!(request_signed_by(&signed, &key.verifying_key()));
        let mut changed = signed.clone();
        changed.request.fields.push("address".into());
        assert!(!request_signed_by(&changed, &key.verifying_key()));
        let mut short = signed;
        short.signature.pop();
        assert!(!request_signed_by(&short, &key.verifying_key()));
    }

    #[test]
    fn oversized_requests_are_malformed() {
        let mut r = request();
        r.fields = (0..=MAX_FIELDS).map(|i| format!("f{i}")).collect();
        assert_eq!(
            check_shape(&r).map_err(|e| e.code()),
            Err("malformed_request")
        );
        let mut r = request();
        r.request_id = "a b".into();
        assert!(check_shape(&r).is_err());
        assert!(check_shape(&request()).is_ok());
    }
}
