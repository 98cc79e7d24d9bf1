//! C2SP tlog-checkpoint: the signed tree head, as the text of a C2SP signed-note.

use crate::hash::Hash;
use crate::note::{NoteError, NoteSigner, NoteVerifier, SignedNote};

/// A checkpoint could not be read or was not made by the expected log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint line {line}: {problem}")]
    Malformed { line: usize, problem: &'static str },
    #[error("checkpoint is from origin {found:?}, not {expected:?}")]
    ForeignOrigin { expected: String, found: String },
    #[error("checkpoint signature: {0}")]
    Signature(#[from] NoteError),
}

/// The tree head: origin line, tree size and root hash, with optional extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: `"<origin>\n<size>\n<base64 root>\n"` then the extension lines.
    pub fn to_text(&self) -> String {
        let mut t = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            t.push_str(e);
            t.push('\n');
        }
        t
    }

    /// Parses the note text per C2SP tlog-checkpoint: a non-empty origin, a decimal size with no
    /// leading zeroes, a base64 SHA-256 root, and non-empty extension lines.
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        let malformed = |line, problem| CheckpointError::Malformed { line, problem };
        let body = text
            .strip_suffix('\n')
            .ok_or(malformed(1, "text does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(malformed(1, "empty origin"));
        }
        let size = lines.next().ok_or(malformed(2, "missing tree size"))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(malformed(
                2,
                "tree size is not a decimal without leading zeroes",
            ));
        }
        let size: u64 = size
            .parse()
            .map_err(|_| malformed(2, "tree size too large"))?;
        let root = lines.next().ok_or(malformed(3, "missing root hash"))?;
        let root = Hash::from_base64(root)
            .map_err(|_| malformed(3, "root is not a base64 SHA-256 hash"))?;
        let mut extensions = Vec::new();
        for (i, e) in lines.enumerate() {
            if e.is_empty() {
                return Err(malformed(4 + i, "empty extension line"));
            }
            extensions.push(e.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint as a signed note with the log's key.
    pub fn sign(&self, key: &NoteSigner) -> SignedCheckpoint {
        let text = self.to_text();
        let note = SignedNote {
            signatures: vec![key.sign_note(&text)],
            text,
        };
        SignedCheckpoint {
            checkpoint: self.clone(),
            note,
        }
    }
}

/// A checkpoint with its signed note (the log's signature and any cosignatures).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: SignedNote,
}

impl SignedCheckpoint {
    /// Parses and checks a signed checkpoint: its origin must be the log key's name (the log's
    /// identity), and the log's signature must verify.
    pub fn verify(bytes: &[u8], log: &NoteVerifier) -> Result<SignedCheckpoint, CheckpointError> {
        let note = SignedNote::parse(bytes)?;
        let checkpoint = Checkpoint::parse_text(&note.text)?;
        if checkpoint.origin != log.name() {
            return Err(CheckpointError::ForeignOrigin {
                expected: log.name().to_owned(),
                found: checkpoint.origin,
            });
        }
        note.verify(log)?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.note.to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::ALG_ED25519;

    #[test]
    fn round_trips_and_refuses_foreign_origins_and_keys() {
        let key = NoteSigner::generate("example.org/log", ALG_ED25519).expect("name");
        let cp = Checkpoint {
            origin: "example.org/log".into(),
            size: 7,
            root: Hash::empty_tree(),
            extensions: vec![],
        };
        let bytes = cp.sign(&key).to_bytes();
        let back = SignedCheckpoint::verify(&bytes, &key.verifier()).expect("own checkpoint");
        assert_eq!(back.checkpoint, cp);

        let foreign = NoteSigner::generate("example.org/other", ALG_ED25519).expect("name");
        assert!(matches!(
            SignedCheckpoint::verify(&bytes, &foreign.verifier()),
            Err(CheckpointError::ForeignOrigin { .. })
        ));
        let impostor = NoteSigner::generate("example.org/log", ALG_ED25519).expect("name");
        assert!(matches!(
            SignedCheckpoint::verify(&bytes, &impostor.verifier()),
            Err(CheckpointError::Signature(NoteError::NotSigned { .. }))
        ));
    }

    #[test]
    fn malformed_text_names_the_line() {
        for (text, line) in [
            ("\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", 1),
            ("o\n01\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", 2),
            ("o\n1\nnot-a-hash\n", 3),
            ("o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n", 4),
        ] {
            match Checkpoint::parse_text(text) {
                Err(CheckpointError::Malformed { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }
}
