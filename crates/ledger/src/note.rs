//! C2SP signed-note: notes, Ed25519 signatures, verifier keys (vkeys), and the Ed25519
//! cosignatures of C2SP tlog-cosignature.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature type of an Ed25519 note signature (C2SP signed-note, "Signature types").
pub const ALG_ED25519: u8 = 0x01;
/// Signature type of an Ed25519 timestamped cosignature (C2SP tlog-cosignature).
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Notes larger than this are refused unread (the Go and Cloudflare parsers use 1 MB too).
pub const MAX_NOTE_SIZE: usize = 1_000_000;
/// At most this many signature lines are parsed (C2SP signed-note allows refusing more).
pub const MAX_SIGNATURES: usize = 100;

/// A note, key or signature could not be read or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("key name {0:?} is empty or contains a space or '+'")]
    InvalidKeyName(String),
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
    #[error("malformed private key: {0}")]
    MalformedPrivateKey(&'static str),
    #[error("the key ID in the key does not match its name and public key")]
    KeyIdMismatch,
    #[error("note is larger than {MAX_NOTE_SIZE} bytes")]
    NoteTooLarge,
    #[error("note is not UTF-8 or holds a control character other than newline")]
    NoteNotText,
    #[error("note has no blank line before its signatures")]
    MissingSignatureBlock,
    #[error("signature line {line} is malformed")]
    MalformedSignatureLine { line: usize },
    #[error("note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("the signature of {name} does not verify")]
    BadSignature { name: String },
    #[error("no signature from {name} is on the note")]
    NotSigned { name: String },
}

/// Key ID of C2SP signed-note: the first four bytes of SHA-256(name || "\n" || type || key).
pub fn key_id(name: &str, alg: u8, public_key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// C2SP signed-note: a key name is non-empty and has no Unicode space and no '+'.
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// An Ed25519 private key with its name, able to sign notes (type 0x01) or to cosign
/// checkpoints (type 0x04).
pub struct NoteSigner {
    name: String,
    alg: u8,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A new random key (type 0x01 for a log, 0x04 for a witness).
    pub fn generate(name: &str, alg: u8) -> Result<NoteSigner, NoteError> {
        check_key_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).expect("the operating system provides randomness");
        Ok(NoteSigner {
            name: name.to_owned(),
            alg,
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// A key from its 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, alg: u8, seed: [u8; 32]) -> Result<NoteSigner, NoteError> {
        check_key_name(name)?;
        Ok(NoteSigner {
            name: name.to_owned(),
            alg,
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Reads `PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>`, the private key format of
    /// Go's golang.org/x/mod/sumdb/note that C2SP signed-note implementations share.
    pub fn from_private_key(text: &str) -> Result<NoteSigner, NoteError> {
        let rest =
            text.trim_end()
                .strip_prefix("PRIVATE+KEY+")
                .ok_or(NoteError::MalformedPrivateKey(
                    "missing PRIVATE+KEY+ prefix",
                ))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedPrivateKey(
                "want three '+'-separated fields",
            ));
        };
        let id = parse_key_id(id).ok_or(NoteError::MalformedPrivateKey("bad key ID"))?;
        let raw = BASE64
            .decode(b64)
            .map_err(|_| NoteError::MalformedPrivateKey("key is not base64"))?;
        let (&alg, seed) = raw
            .split_first()
            .ok_or(NoteError::MalformedPrivateKey("key is empty"))?;
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(NoteError::MalformedPrivateKey("unknown signature type"));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::MalformedPrivateKey("Ed25519 seed is not 32 bytes"))?;
        let signer = NoteSigner::from_seed(name, alg, seed)?;
        if signer.key_id() != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(signer)
    }

    /// The key in `PRIVATE+KEY+...` form; keep it secret.
    pub fn to_private_key(&self) -> String {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id(),
            BASE64.encode(raw)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        key_id(&self.name, self.alg, self.key.verifying_key().as_bytes())
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            alg: self.alg,
            id: self.key_id(),
            key: self.key.verifying_key(),
        }
    }

    /// A note signature line's payload over `text` (type 0x01): the raw Ed25519 signature.
    pub fn sign_note(&self, text: &str) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            id: self.key_id(),
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        }
    }

    /// A tlog-cosignature/v1 over a checkpoint's note text at `timestamp` (POSIX seconds):
    /// timestamp (u64, big-endian) || Ed25519 signature over
    /// `"cosignature/v1\ntime <timestamp>\n" || text`.
    pub fn cosign(&self, text: &str, timestamp: u64) -> NoteSignature {
        let message = cosigned_message(text, timestamp);
        let mut signature = timestamp.to_be_bytes().to_vec();
        signature.extend_from_slice(&self.key.sign(&message).to_bytes());
        NoteSignature {
            name: self.name.clone(),
            id: self.key_id(),
            signature,
        }
    }
}

fn cosigned_message(text: &str, timestamp: u64) -> Vec<u8> {
    let mut m = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    m.extend_from_slice(text.as_bytes());
    m
}

fn parse_key_id(hex: &str) -> Option<u32> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// A public key as C2SP signed-note names it: `<name>+<hex key ID>+<base64(type || key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    alg: u8,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Reads a vkey; type 0x01 (note signatures) and 0x04 (cosignatures) are understood.
    pub fn from_vkey(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedVerifierKey(
                "want three '+'-separated fields",
            ));
        };
        check_key_name(name)?;
        let id = parse_key_id(id).ok_or(NoteError::MalformedVerifierKey("bad key ID"))?;
        let raw = BASE64
            .decode(b64)
            .map_err(|_| NoteError::MalformedVerifierKey("key is not base64"))?;
        let (&alg, key) = raw
            .split_first()
            .ok_or(NoteError::MalformedVerifierKey("key is empty"))?;
        if alg != ALG_ED25519 && alg != ALG_COSIGNATURE_V1 {
            return Err(NoteError::MalformedVerifierKey("unknown signature type"));
        }
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| NoteError::MalformedVerifierKey("Ed25519 key is not 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&key)
            .map_err(|_| NoteError::MalformedVerifierKey("not an Ed25519 point"))?;
        if key_id(name, alg, key.as_bytes()) != id {
            return Err(NoteError::KeyIdMismatch);
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            alg,
            id,
            key,
        })
    }

    pub fn to_vkey(&self) -> String {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, BASE64.encode(raw))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    pub fn is_cosigner(&self) -> bool {
        self.alg == ALG_COSIGNATURE_V1
    }

    /// Whether `sig` is this key's (by name and key ID, as C2SP signed-note matches them).
    pub fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.id == self.id
    }

    /// Checks a signature of this key over `text`. For a cosigner key the timestamp inside the
    /// cosignature is returned.
    pub fn verify(&self, text: &str, sig: &NoteSignature) -> Result<Option<u64>, NoteError> {
        let bad = || NoteError::BadSignature {
            name: self.name.clone(),
        };
        if !self.matches(sig) {
            return Err(bad());
        }
        if self.alg == ALG_COSIGNATURE_V1 {
            if sig.signature.len() != 72 {
                return Err(bad());
            }
            let (ts, raw) = sig.signature.split_at(8);
            let timestamp = u64::from_be_bytes(ts.try_into().expect("split at 8"));
            if timestamp > i64::MAX as u64 {
                return Err(bad());
            }
            let raw = ed25519_dalek::Signature::from_slice(raw).map_err(|_| bad())?;
            self.key
                .verify_strict(&cosigned_message(text, timestamp), &raw)
                .map_err(|_| bad())?;
            Ok(Some(timestamp))
        } else {
            let raw = ed25519_dalek::Signature::from_slice(&sig.signature).map_err(|_| bad())?;
            self.key
                .verify_strict(text.as_bytes(), &raw)
                .map_err(|_| bad())?;
            Ok(None)
        }
    }
}

/// One signature line of a note: `— <name> base64(key ID || signature)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub id: u32,
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Parses one line without its final newline.
    pub fn from_line(line: &str) -> Option<NoteSignature> {
        let rest = line.strip_prefix("\u{2014} ")?;
        let (name, b64) = rest.split_once(' ')?;
        check_key_name(name).ok()?;
        let raw = BASE64.decode(b64).ok()?;
        if raw.len() < 5 {
            return None;
        }
        Some(NoteSignature {
            name: name.to_owned(),
            id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
            signature: raw[4..].to_vec(),
        })
    }

    /// The line with its final newline.
    pub fn to_line(&self) -> String {
        let mut raw = self.id.to_be_bytes().to_vec();
        raw.extend_from_slice(&self.signature);
        format!("\u{2014} {} {}\n", self.name, BASE64.encode(raw))
    }
}

/// A C2SP signed note: text ending in a newline, a blank line, then signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    pub fn parse(bytes: &[u8]) -> Result<SignedNote, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::NoteTooLarge);
        }
        let s = std::str::from_utf8(bytes).map_err(|_| NoteError::NoteNotText)?;
        if s.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::NoteNotText);
        }
        let (text, sigs) = s
            .rsplit_once("\n\n")
            .ok_or(NoteError::MissingSignatureBlock)?;
        let sigs = sigs
            .strip_suffix('\n')
            .ok_or(NoteError::MissingSignatureBlock)?;
        let text_lines = text.matches('\n').count() + 1;
        let mut signatures = Vec::new();
        for (i, line) in sigs.split('\n').enumerate() {
            let line_no = text_lines + 2 + i;
            let sig = NoteSignature::from_line(line)
                .ok_or(NoteError::MalformedSignatureLine { line: line_no })?;
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            signatures.push(sig);
        }
        Ok(SignedNote {
            text: format!("{text}\n"),
            signatures,
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.text.clone();
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out.into_bytes()
    }

    /// Checks the signature of `key`: it must be present and valid. Signatures of other keys
    /// are ignored, as C2SP signed-note requires.
    pub fn verify(&self, key: &NoteVerifier) -> Result<Option<u64>, NoteError> {
        let sig = self
            .signatures
            .iter()
            .find(|s| key.matches(s))
            .ok_or_else(|| NoteError::NotSigned {
                name: key.name().to_owned(),
            })?;
        key.verify(&self.text, sig)
    }

    /// Adds or replaces the signature of the same key.
    pub fn add_signature(&mut self, sig: NoteSignature) {
        self.signatures
            .retain(|s| !(s.name == sig.name && s.id == sig.id));
        self.signatures.push(sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of C2SP signed-note (and of Go's golang.org/x/mod/sumdb/note).
    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n\
                        \n\
                        \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn the_signed_note_example_verifies_and_signs_identically() {
        let v = NoteVerifier::from_vkey(VKEY).expect("example vkey");
        let note = SignedNote::parse(NOTE.as_bytes()).expect("example note");
        assert_eq!(note.verify(&v), Ok(None));
        let s = NoteSigner::from_private_key(SKEY).expect("example skey");
        assert_eq!(s.verifier(), v);
        assert_eq!(s.to_private_key(), SKEY);
        assert_eq!(v.to_vkey(), VKEY);
        let mut ours = SignedNote {
            text: note.text.clone(),
            signatures: vec![],
        };
        ours.add_signature(s.sign_note(&note.text));
        assert_eq!(ours.to_bytes(), NOTE.as_bytes());
    }

    #[test]
    fn a_changed_text_or_other_key_is_refused() {
        let v = NoteVerifier::from_vkey(VKEY).expect("example vkey");
        let tampered = NOTE.replace("answer", "ANSWER");
        let note = SignedNote::parse(tampered.as_bytes()).expect("still well formed");
        assert!(matches!(
            note.verify(&v),
            Err(NoteError::BadSignature { .. })
        ));
        let other = NoteSigner::generate("PeterNeumann", ALG_ED25519).expect("valid name");
        let note = SignedNote::parse(NOTE.as_bytes()).expect("example note");
        assert!(matches!(
            note.verify(&other.verifier()),
            Err(NoteError::NotSigned { .. })
        ));
    }

    #[test]
    fn cosignatures_round_trip() {
        let w = NoteSigner::generate("witness.example/w1", ALG_COSIGNATURE_V1).expect("name");
        let text = "example.com/log\n1\nbjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=\n";
        let sig = w.cosign(text, 1_700_000_000);
        let v = NoteVerifier::from_vkey(&w.verifier().to_vkey()).expect("own vkey");
        assert_eq!(v.verify(text, &sig), Ok(Some(1_700_000_000)));
        assert!(v.verify("example.com/log\n2\n", &sig).is_err());
    }

    #[test]
    fn malformed_keys_and_notes_are_named() {
        assert!(NoteVerifier::from_vkey("a+b").is_err());
        assert_eq!(
            NoteVerifier::from_vkey("Other+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
            Err(NoteError::KeyIdMismatch)
        );
        assert_eq!(
            SignedNote::parse(b"text\n"),
            Err(NoteError::MissingSignatureBlock)
        );
        assert_eq!(
            SignedNote::parse("a\n\n\u{2014} x !!\n".as_bytes()),
            Err(NoteError::MalformedSignatureLine { line: 3 })
        );
        assert_eq!(SignedNote::parse(b"a\x01\n\n"), Err(NoteError::NoteNotText));
    }
}
