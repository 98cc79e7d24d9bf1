//! c2sp.org/tlog-proof receipts: an entry's index, its inclusion proof and the checkpoint,
//! verifiable offline with only the log's public key.
//!
//! Our receipts carry the entry itself in the `extra` line, so a holder needs nothing else. The
//! extra data is not trusted as such: it only counts once its leaf hash proves into the tree.

use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::hash::{leaf_hash, Hash};
use crate::note::NoteVerifier;
use crate::proof::{inclusion_proof, verify_inclusion, ProofError};
use crate::sequencer::CHECKPOINT_FILE;
use crate::tiles::{StorageError, TileReader};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use std::path::Path;

/// First line of every receipt.
pub const RECEIPT_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A receipt could not be made, read or verified.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("receipt line {line}: {problem}")]
    Malformed { line: usize, problem: &'static str },
    #[error("the receipt carries no entry and none was given")]
    NoEntry,
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("inclusion proof: {0}")]
    Proof(#[from] ProofError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A parsed receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub extra: Option<Vec<u8>>,
    pub index: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint, verbatim (with any cosignatures).
    pub checkpoint: Vec<u8>,
}

impl Receipt {
    /// Builds the receipt of entry `index` from a log directory, against its current
    /// checkpoint, which must verify with `log`.
    pub fn prove(dir: &Path, log: &NoteVerifier, index: u64) -> Result<Receipt, ReceiptError> {
        let bytes = crate::tiles::read_file(dir, CHECKPOINT_FILE)?;
        let cp = SignedCheckpoint::verify(&bytes, log)?;
        let reader = TileReader::new(dir, cp.checkpoint.size);
        let proof = inclusion_proof(&reader, index, cp.checkpoint.size)??;
        let entry = reader.entry(index)?;
        verify_inclusion(
            index,
            cp.checkpoint.size,
            &leaf_hash(&entry),
            &proof,
            &cp.checkpoint.root,
        )?;
        Ok(Receipt {
            extra: Some(entry),
            index,
            proof,
            checkpoint: bytes,
        })
    }

    pub fn to_text(&self) -> Vec<u8> {
        let mut out = format!("{RECEIPT_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", BASE64.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            out.push_str(&h.to_base64());
            out.push('\n');
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.checkpoint);
        bytes
    }

    pub fn parse(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
        let malformed = |line, problem| ReceiptError::Malformed { line, problem };
        let mut rest = bytes;
        let mut line_no = 0usize;
        let mut next_line = |rest: &mut &[u8]| -> Option<(usize, String)> {
            let end = rest.iter().position(|&b| b == b'\n')?;
            let line = String::from_utf8(rest[..end].to_vec()).ok()?;
            *rest = &rest[end + 1..];
            line_no += 1;
            Some((line_no, line))
        };
        let (_, header) = next_line(&mut rest).ok_or(malformed(1, "missing header line"))?;
        if header != RECEIPT_HEADER {
            return Err(malformed(1, "not a c2sp.org/tlog-proof@v1 receipt"));
        }
        let (mut n, mut line) = next_line(&mut rest).ok_or(malformed(2, "missing index line"))?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                BASE64
                    .decode(b64)
                    .map_err(|_| malformed(n, "extra data is not base64"))?,
            );
            (n, line) = next_line(&mut rest).ok_or(malformed(n + 1, "missing index line"))?;
        }
        let index = line
            .strip_prefix("index ")
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .filter(|d| d.len() == 1 || !d.starts_with('0'))
            .and_then(|d| d.parse().ok())
            .ok_or(malformed(
                n,
                "want 'index' and a decimal without leading zeroes",
            ))?;
        let mut proof = Vec::new();
        loop {
            let (n, line) = next_line(&mut rest)
                .ok_or(malformed(n + 1, "missing blank line before the checkpoint"))?;
            if line.is_empty() {
                break;
            }
            if proof.len() == 64 {
                return Err(malformed(n, "more than 64 proof hashes"));
            }
            proof.push(
                Hash::from_base64(&line).map_err(|_| malformed(n, "not a base64 SHA-256 hash"))?,
            );
        }
        Ok(Receipt {
            extra,
            index,
            proof,
            checkpoint: rest.to_vec(),
        })
    }

    /// Verifies the receipt offline: the checkpoint is signed by `log` and has its origin, and
    /// `entry` (or the entry carried in `extra`) is at `index` in that checkpoint's tree.
    /// Returns the checkpoint and the entry's bytes.
    pub fn verify(
        &self,
        log: &NoteVerifier,
        entry: Option<&[u8]>,
    ) -> Result<(SignedCheckpoint, Vec<u8>), ReceiptError> {
        let cp = SignedCheckpoint::verify(&self.checkpoint, log)?;
        let entry = entry
            .map(<[u8]>::to_vec)
            .or_else(|| self.extra.clone())
            .ok_or(ReceiptError::NoEntry)?;
        verify_inclusion(
            self.index,
            cp.checkpoint.size,
            &leaf_hash(&entry),
            &self.proof,
            &cp.checkpoint.root,
        )?;
        Ok((cp, entry))
    }
}
