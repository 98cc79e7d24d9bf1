//! Typed, versioned entries with one canonical encoding, and keyed subject tags.
//!
//! An entry's bytes are canonical JSON: the fields in a fixed order (`v`, `kind`, `actor`,
//! `purpose`, `subject`, `time`, `body`), absent optional fields left out, object keys inside
//! `body` sorted by their UTF-8 bytes, no insignificant whitespace. Decoding re-encodes and
//! refuses anything that is not byte-identical, so one entry has exactly one encoding.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use std::fmt;

/// The version of the entry encoding that this crate writes and reads.
pub const ENTRY_VERSION: u64 = 1;

/// An entry could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("kind {0:?} must be 1 to 64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter")]
    InvalidKind(String),
    #[error("{field} must not be empty")]
    EmptyField { field: &'static str },
    #[error("subject tag {0:?} is not 64 lowercase hexadecimal digits")]
    InvalidSubjectTag(String),
    #[error("not a JSON entry: {0}")]
    NotJson(String),
    #[error("entry version {0} is not supported")]
    UnsupportedVersion(u64),
    #[error("the entry is not in canonical form")]
    NotCanonical,
    #[error("the body must be a JSON object")]
    BodyNotObject,
    #[error("the encoded entry has {0} bytes; entries are limited to 65535")]
    TooLarge(usize),
}

/// What an entry records. Well-known kinds have constants; other crates name their own
/// (for example `Kind::new("exchange.bulk_sync")`) without changing this crate.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kind(String);

impl Kind {
    pub const ACCESS: &'static str = "access";
    pub const REFUSAL: &'static str = "refusal";
    pub const DECISION: &'static str = "decision";
    pub const PAYMENT: &'static str = "payment";
    pub const GRANT: &'static str = "grant";
    pub const CREDENTIAL: &'static str = "credential";
    pub const DELIVERY: &'static str = "delivery";

    pub fn new(kind: &str) -> Result<Kind, EntryError> {
        let ok = (1..=64).contains(&kind.len())
            && kind.starts_with(|c: char| c.is_ascii_lowercase())
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if ok {
            Ok(Kind(kind.to_owned()))
        } else {
            Err(EntryError::InvalidKind(kind.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The platform secret that turns an ID number into a [`SubjectTag`]. Never logged. The HMAC's
/// keyed state is computed once, so that a tag costs two SHA-256 blocks instead of four: a bulk
/// sync tags ten million subjects.
#[derive(Clone)]
pub struct SubjectKey {
    secret: [u8; 32],
    mac: Hmac<Sha256>,
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey(..)")
    }
}

impl SubjectKey {
    pub fn generate() -> SubjectKey {
        let mut k = [0u8; 32];
        getrandom::getrandom(&mut k).expect("the operating system provides randomness");
        SubjectKey::from_bytes(k)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> SubjectKey {
        SubjectKey {
            secret: bytes,
            mac: Hmac::<Sha256>::new_from_slice(&bytes).expect("HMAC takes a key of any length"),
        }
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.secret
    }

    /// HMAC-SHA-256(secret, ID number), with the ID number trimmed and upper-cased so that a
    /// GB 11643 check character 'x' and 'X' name the same person.
    pub fn tag(&self, id_number: &str) -> SubjectTag {
        let mut mac = self.mac.clone();
        let id = id_number.trim();
        let mut upper = [0u8; 32];
        if id.len() <= upper.len() && id.is_ascii() {
            let upper = &mut upper[..id.len()];
            upper.copy_from_slice(id.as_bytes());
            upper.make_ascii_uppercase();
            mac.update(upper);
        } else {
            mac.update(id.to_uppercase().as_bytes());
        }
        SubjectTag(mac.finalize().into_bytes().into())
    }
}

/// A subject as the log names it: a keyed hash of their ID number, never the number itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectTag(pub [u8; 32]);

impl SubjectTag {
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        out
    }

    pub fn from_hex(hex: &str) -> Result<SubjectTag, EntryError> {
        let bad = || EntryError::InvalidSubjectTag(hex.to_owned());
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(SubjectTag(out))
    }
}

impl fmt::Debug for SubjectTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectTag({})", self.to_hex())
    }
}

/// One record of the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub kind: Kind,
    /// Who acted: a staff member, a department or a service, by its stable identifier.
    pub actor: String,
    /// Why, for example the purpose named by a grant.
    pub purpose: Option<String>,
    pub subject: Option<SubjectTag>,
    /// POSIX seconds at which the entry was made.
    pub time: Option<u64>,
    /// Kind-specific details; a JSON object, or Null for none.
    pub body: Value,
}

impl Entry {
    pub fn new(kind: Kind, actor: &str) -> Result<Entry, EntryError> {
        if actor.is_empty() {
            return Err(EntryError::EmptyField { field: "actor" });
        }
        Ok(Entry {
            kind,
            actor: actor.to_owned(),
            purpose: None,
            subject: None,
            time: None,
            body: Value::Null,
        })
    }

    /// The canonical encoding (see the module documentation).
    pub fn to_bytes(&self) -> Result<Vec<u8>, EntryError> {
        let mut out = String::with_capacity(128);
        out.push_str("{\"v\":");
        out.push_str(&ENTRY_VERSION.to_string());
        out.push_str(",\"kind\":");
        write_json(&mut out, &Value::String(self.kind.0.clone()));
        out.push_str(",\"actor\":");
        write_json(&mut out, &Value::String(self.actor.clone()));
        if let Some(p) = &self.purpose {
            out.push_str(",\"purpose\":");
            write_json(&mut out, &Value::String(p.clone()));
        }
        if let Some(s) = &self.subject {
            out.push_str(",\"subject\":\"");
            out.push_str(&s.to_hex());
            out.push('"');
        }
        if let Some(t) = self.time {
            out.push_str(",\"time\":");
            out.push_str(&t.to_string());
        }
        match &self.body {
            Value::Null => {}
            Value::Object(_) => {
                out.push_str(",\"body\":");
                write_json(&mut out, &self.body);
            }
            _ => return Err(EntryError::BodyNotObject),
        }
        out.push('}');
        if out.len() > crate::tiles::MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge(out.len()));
        }
        Ok(out.into_bytes())
    }

    /// Reads an entry and refuses any encoding but the canonical one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Entry, EntryError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            v: u64,
            kind: String,
            actor: String,
            purpose: Option<String>,
            subject: Option<String>,
            time: Option<u64>,
            body: Option<Value>,
        }
        let w: Wire =
            serde_json::from_slice(bytes).map_err(|e| EntryError::NotJson(e.to_string()))?;
        if w.v != ENTRY_VERSION {
            return Err(EntryError::UnsupportedVersion(w.v));
        }
        let mut entry = Entry::new(Kind::new(&w.kind)?, &w.actor)?;
        entry.purpose = w.purpose;
        entry.subject = w.subject.as_deref().map(SubjectTag::from_hex).transpose()?;
        entry.time = w.time;
        entry.body = w.body.unwrap_or(Value::Null);
        if entry.to_bytes()? != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }
}

/// Writes JSON with object keys sorted, whatever map order serde_json was built with.
fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_json(out, &map[*k]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// One line of `errandless ledger append`: at least `kind` and `actor`; `subject` is a plain
/// ID number that is hashed with the platform secret before it is logged.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRequest {
    pub kind: String,
    pub actor: String,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub body: Option<Value>,
}

impl EntryRequest {
    pub fn from_json(line: &str) -> Result<EntryRequest, EntryError> {
        serde_json::from_str(line).map_err(|e| EntryError::NotJson(e.to_string()))
    }

    /// The entry to log, with the subject replaced by its tag.
    pub fn into_entry(self, key: &SubjectKey, time: u64) -> Result<Entry, EntryError> {
        let mut entry = Entry::new(Kind::new(&self.kind)?, &self.actor)?;
        if let Some(p) = self.purpose {
            if p.is_empty() {
                return Err(EntryError::EmptyField { field: "purpose" });
            }
            entry.purpose = Some(p);
        }
        if let Some(s) = self.subject {
            if s.trim().is_empty() {
                return Err(EntryError::EmptyField { field: "subject" });
            }
            entry.subject = Some(key.tag(&s));
        }
        entry.time = Some(time);
        entry.body = match self.body {
            None | Some(Value::Null) => Value::Null,
            Some(v @ Value::Object(_)) => v,
            Some(_) => return Err(EntryError::BodyNotObject),
        };
        entry.to_bytes()?;
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_subject_is_only_ever_a_keyed_hash() {
        let key = SubjectKey::from_bytes([7; 32]);
        let req = EntryRequest::from_json(
            r#"{"kind":"access","actor":"edu-dept","subject":"52010219900307105x","purpose":"admission","body":{"z":1,"a":[true,null]}}"#,
        )
        .expect("valid line");
        let entry = req.into_entry(&key, 1_700_000_000).expect("valid entry");
        let bytes = entry.to_bytes().expect("encodable");
        let text = String::from_utf8(bytes.clone()).expect("utf-8");
        assert!(!text.contains("52010219900307105"));
        assert_eq!(entry.subject, Some(key.tag("52010219900307105X")));
        assert!(
            text.ends_with(r#""time":1700000000,"body":{"a":[true,null],"z":1}}"#),
            "{text}"
        );
        assert_eq!(Entry::from_bytes(&bytes), Ok(entry));
    }

    #[test]
    fn a_tag_is_the_hmac_of_the_trimmed_upper_cased_number() {
        let key = SubjectKey::from_bytes([9; 32]);
        let mut mac = Hmac::<Sha256>::new_from_slice(&[9; 32]).expect("any key length");
        mac.update(b"52010219900307105X");
        let expected = SubjectTag(mac.finalize().into_bytes().into());
        for written in [
            "52010219900307105X",
            " 52010219900307105x\t",
            "52010219900307105x",
        ] {
            assert_eq!(key.tag(written), expected, "{written:?}");
        }
        let long = "x".repeat(40);
        let mut mac = Hmac::<Sha256>::new_from_slice(&[9; 32]).expect("any key length");
        mac.update("X".repeat(40).as_bytes());
        assert_eq!(
            key.tag(&long).0,
            <[u8; 32]>::from(mac.finalize().into_bytes())
        );
        assert_eq!(key.tag("ä").to_hex().len(), 64);
        assert_eq!(
            SubjectTag([0xa5; 32]).to_hex(),
            "a5".repeat(32),
            "lower-case hex, two digits a byte"
        );
    }

    #[test]
    fn non_canonical_and_invalid_entries_are_refused() {
        assert_eq!(
            Entry::from_bytes(br#"{"kind":"access","v":1,"actor":"a"}"#),
            Err(EntryError::NotCanonical)
        );
        assert_eq!(
            Entry::from_bytes(br#"{"v":2,"kind":"access","actor":"a"}"#),
            Err(EntryError::UnsupportedVersion(2))
        );
        assert!(Kind::new("Access").is_err());
        assert!(Kind::new("").is_err());
        assert!(Kind::new("exchange.bulk_sync").is_ok());
        assert!(EntryRequest::from_json(r#"{"kind":"access"}"#).is_err());
        assert!(EntryRequest::from_json(r#"{"kind":"access","actor":"a","subjct":"x"}"#).is_err());
    }

    proptest! {
        #[test]
        fn every_entry_has_one_encoding(actor in "[a-z]{1,8}", purpose in proptest::option::of(".{0,12}"), n in any::<i64>(), k in "[a-z]{1,4}") {
            let mut e = Entry::new(Kind::new("decision").expect("valid"), &actor).expect("valid");
            e.purpose = purpose;
            e.body = serde_json::json!({ k: n, "nested": {"b": 1, "a": [1, "x"]} });
            let bytes = e.to_bytes().expect("encodable");
            prop_assert_eq!(Entry::from_bytes(&bytes), Ok(e));
        }
    }
}
