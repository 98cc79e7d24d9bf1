//! Compact JWS (RFC 7515) for ID tokens, with RS256 (RFC 7518 §3.3, which OpenID Connect Core
//! §15.1 requires of every provider) and EdDSA over Ed25519 (RFC 8037), and the public keys as
//! a JWK Set (RFC 7517). Only these two algorithms are ever accepted: a token whose header
//! says `none`, an HMAC or anything else is refused, and a key is used only for its own
//! algorithm.

use ed25519_dalek::{Signer as _, Verifier as _};
use rsa::pkcs1v15;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::signature::SignatureEncoding;
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::token::{b64url, b64url_decode};

/// RSA modulus length for new keys.
pub const RSA_BITS: usize = 2048;

/// A signing algorithm the provider uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Alg {
    Rs256,
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::Rs256, Alg::EdDsa];

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::EdDsa => "EdDSA",
        }
    }

    pub fn parse(name: &str) -> Option<Alg> {
        match name {
            "RS256" => Some(Alg::Rs256),
            "EdDSA" => Some(Alg::EdDsa),
            _ => None,
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    #[error("the token is not three base64url parts")]
    Malformed,
    #[error("the algorithm {0:?} is not accepted")]
    AlgorithmRefused(String),
    #[error("no published key has id {0:?} for this algorithm")]
    UnknownKey(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the key cannot be read: {0}")]
    BadKey(String),
}

struct RsaParts {
    private: RsaPrivateKey,
    signer: pkcs1v15::SigningKey<Sha256>,
    public: RsaPublicKey,
}

impl RsaParts {
    fn new(private: RsaPrivateKey) -> Box<RsaParts> {
        Box::new(RsaParts {
            signer: pkcs1v15::SigningKey::new(private.clone()),
            public: private.to_public_key(),
            private,
        })
    }
}

enum Secret {
    Rsa(Box<RsaParts>),
    Ed(Box<ed25519_dalek::SigningKey>),
}

/// A private signing key with its key id.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    secret: Secret,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A public key that verifies tokens.
#[derive(Clone, Debug)]
pub struct VerifyingKey {
    pub kid: String,
    pub alg: Alg,
    public: Public,
}

#[derive(Clone, Debug)]
enum Public {
    Rsa(pkcs1v15::VerifyingKey<Sha256>, RsaPublicKey),
    Ed(ed25519_dalek::VerifyingKey),
}

impl SigningKey {
    /// A new key. RSA key generation takes a while; it runs once per rotation.
    pub fn generate(alg: Alg, kid: String) -> Result<SigningKey, JoseError> {
        let secret = match alg {
            Alg::Rs256 => {
                let key = RsaPrivateKey::new(&mut rand_core::OsRng, RSA_BITS)
                    .map_err(|e| JoseError::BadKey(e.to_string()))?;
                Secret::Rsa(RsaParts::new(key))
            }
            Alg::EdDsa => Secret::Ed(Box::new(ed25519_dalek::SigningKey::from_bytes(
                &crate::token::random_bytes::<32>(),
            ))),
        };
        Ok(SigningKey { kid, alg, secret })
    }

    /// The private key as stored: base64url of PKCS#8 DER (RSA) or of the 32-byte seed.
    pub fn to_stored(&self) -> Result<String, JoseError> {
        Ok(match &self.secret {
            Secret::Rsa(parts) => b64url(
                parts
                    .private
                    .to_pkcs8_der()
                    .map_err(|e| JoseError::BadKey(e.to_string()))?
                    .as_bytes(),
            ),
            Secret::Ed(key) => b64url(&key.to_bytes()),
        })
    }

    /// Reads a key written by [`to_stored`](Self::to_stored).
    pub fn from_stored(kid: String, alg: Alg, stored: &str) -> Result<SigningKey, JoseError> {
        let bytes =
            b64url_decode(stored).ok_or_else(|| JoseError::BadKey("not base64url".into()))?;
        let secret = match alg {
            Alg::Rs256 => {
                let key = RsaPrivateKey::from_pkcs8_der(&bytes)
                    .map_err(|e| JoseError::BadKey(e.to_string()))?;
                Secret::Rsa(RsaParts::new(key))
            }
            Alg::EdDsa => {
                let seed: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| JoseError::BadKey("an Ed25519 seed is 32 bytes".into()))?;
                Secret::Ed(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
        };
        Ok(SigningKey { kid, alg, secret })
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        let public = match &self.secret {
            Secret::Rsa(parts) => Public::Rsa(
                pkcs1v15::VerifyingKey::new(parts.public.clone()),
                parts.public.clone(),
            ),
            Secret::Ed(key) => Public::Ed(key.verifying_key()),
        };
        VerifyingKey {
            kid: self.kid.clone(),
            alg: self.alg,
            public,
        }
    }

    /// Signs `claims` as a compact JWS with `typ` JWT.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": self.alg.name(), "typ": "JWT", "kid": self.kid });
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let signature = match &self.secret {
            Secret::Rsa(parts) => parts.signer.sign(input.as_bytes()).to_vec(),
            Secret::Ed(key) => key.sign(input.as_bytes()).to_bytes().to_vec(),
        };
        format!("{input}.{}", b64url(&signature))
    }
}

impl VerifyingKey {
    /// The public key as a JWK (RFC 7517 §4, RFC 7518 §6.3, RFC 8037 §2).
    pub fn jwk(&self) -> Value {
        match &self.public {
            Public::Rsa(_, public) => json!({
                "kty": "RSA", "use": "sig", "alg": self.alg.name(), "kid": self.kid,
                "n": b64url(&public.n().to_bytes_be()), "e": b64url(&public.e().to_bytes_be()),
            }),
            Public::Ed(key) => json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": self.alg.name(),
                "kid": self.kid, "x": b64url(key.as_bytes()),
            }),
        }
    }

    /// The key a JWK describes, if it is an RS256 RSA key or an Ed25519 key with a `kid`.
    pub fn from_jwk(jwk: &Value) -> Option<VerifyingKey> {
        let text = |name: &str| jwk.get(name).and_then(Value::as_str);
        let kid = text("kid")?.to_owned();
        match (text("kty")?, text("alg")) {
            ("RSA", None | Some("RS256")) => {
                let n = rsa::BigUint::from_bytes_be(&b64url_decode(text("n")?)?);
                let e = rsa::BigUint::from_bytes_be(&b64url_decode(text("e")?)?);
                let public = RsaPublicKey::new(n, e).ok()?;
                Some(VerifyingKey {
                    kid,
                    alg: Alg::Rs256,
                    public: Public::Rsa(pkcs1v15::VerifyingKey::new(public.clone()), public),
                })
            }
            ("OKP", None | Some("EdDSA")) if text("crv")? == "Ed25519" => {
                let x: [u8; 32] = b64url_decode(text("x")?)?.try_into().ok()?;
                Some(VerifyingKey {
                    kid,
                    alg: Alg::EdDsa,
                    public: Public::Ed(ed25519_dalek::VerifyingKey::from_bytes(&x).ok()?),
                })
            }
            _ => None,
        }
    }

    fn verifies(&self, input: &[u8], signature: &[u8]) -> bool {
        match &self.public {
            Public::Rsa(key, _) => pkcs1v15::Signature::try_from(signature)
                .map(|s| key.verify(input, &s).is_ok())
                .unwrap_or(false),
            Public::Ed(key) => <[u8; 64]>::try_from(signature)
                .map(|s| {
                    key.verify(input, &ed25519_dalek::Signature::from_bytes(&s))
                        .is_ok()
                })
                .unwrap_or(false),
        }
    }
}

/// The claims of a compact JWS signed by one of `keys`, after checking the header's algorithm
/// against the key's own. Claims such as `exp` and `aud` are the caller's to check.
pub fn verify(token: &str, keys: &[VerifyingKey]) -> Result<Value, JoseError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed);
    };
    let header: Value = b64url_decode(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JoseError::Malformed)?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let alg =
        Alg::parse(alg_name).ok_or_else(|| JoseError::AlgorithmRefused(alg_name.to_owned()))?;
    if header.get("crit").is_some() {
        return Err(JoseError::AlgorithmRefused("crit".into()));
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = keys
        .iter()
        .find(|k| k.kid == kid && k.alg == alg)
        .ok_or_else(|| JoseError::UnknownKey(kid.to_owned()))?;
    let signature = b64url_decode(s).ok_or(JoseError::Malformed)?;
    if !key.verifies(format!("{h}.{p}").as_bytes(), &signature) {
        return Err(JoseError::BadSignature);
    }
    b64url_decode(p)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JoseError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed() -> SigningKey {
        SigningKey::generate(Alg::EdDsa, "ed-1".into()).unwrap()
    }

    #[test]
    fn a_signed_token_verifies_and_round_trips_through_storage() {
        let key = ed();
        let token = key.sign(&json!({"sub": "x"}));
        assert_eq!(verify(&token, &[key.verifying_key()]).unwrap()["sub"], "x");
        let again =
            SigningKey::from_stored("ed-1".into(), Alg::EdDsa, &key.to_stored().unwrap()).unwrap();
        assert_eq!(
            verify(&token, &[again.verifying_key()]).unwrap()["sub"],
            "x"
        );
        let from_jwk = VerifyingKey::from_jwk(&key.verifying_key().jwk()).expect("a JWK");
        assert_eq!(verify(&token, &[from_jwk]).unwrap()["sub"], "x");
        assert!(VerifyingKey::from_jwk(&json!({"kty": "oct", "kid": "k", "k": "AAAA"})).is_none());
    }

    #[test]
    fn alg_none_tampering_and_other_keys_are_refused() {
        let key = ed();
        let keys = [key.verifying_key()];
        let token = key.sign(&json!({"sub": "x"}));
        let parts: Vec<&str> = token.split('.').collect();
        let none = format!(
            "{}.{}.",
            b64url(br#"{"alg":"none","kid":"ed-1"}"#),
            parts[1]
        );
        assert_eq!(
            verify(&none, &keys),
            Err(JoseError::AlgorithmRefused("none".into()))
        );
        let hs = format!(
            "{}.{}.{}",
            b64url(br#"{"alg":"HS256","kid":"ed-1"}"#),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            verify(&hs, &keys),
            Err(JoseError::AlgorithmRefused(_))
        ));
        let rs = format!(
            "{}.{}.{}",
            b64url(br#"{"alg":"RS256","kid":"ed-1"}"#),
            parts[1],
            parts[2]
        );
        assert!(
            matches!(verify(&rs, &keys), Err(JoseError::UnknownKey(_))),
            "a key serves its own alg only"
        );
        let forged = format!("{}.{}.{}", parts[0], b64url(br#"{"sub":"y"}"#), parts[2]);
        assert_eq!(verify(&forged, &keys), Err(JoseError::BadSignature));
        assert_eq!(
            verify(&token, &[ed().verifying_key()]),
            Err(JoseError::BadSignature)
        );
        assert_eq!(verify("a.b", &keys), Err(JoseError::Malformed));
    }
}
