//! The Errandless ledger: a tamper-evident transparency log.
//!
//! Every data access, refusal, decision, payment, grant, credential and delivery of the platform
//! is recorded as an [`Entry`] in an append-only Merkle tree (RFC 6962 / RFC 9162 hashing),
//! stored as C2SP tlog-tiles static files, and committed to by signed C2SP tlog-checkpoints
//! (C2SP signed-note, Ed25519). Anyone holding the log's public key can check an entry's
//! inclusion offline (c2sp.org/tlog-proof receipts), check that the log only ever grew
//! (consistency proofs), and rebuild everything from the entries ([`verify_log`]). Witnesses
//! (C2SP tlog-witness) cosign checkpoints so the log cannot show different histories to
//! different people.
//!
//! This crate is the log and nothing else. It is not a database: it does not index entries by
//! subject (the platform database keeps that index) and it does not serve HTTP (the server
//! crate serves the log directory read-only; the `errandless witness` command wraps
//! [`Witness`]). It never sees an ID number in plain text once an entry is built: subjects are
//! [`SubjectTag`]s, HMAC-SHA-256 under a platform secret.
//!
//! ```
//! use errandless_ledger::{Entry, Kind, NoteSigner, Receipt, Sequencer, SubjectKey, ALG_ED25519};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let key = NoteSigner::generate("ledger.example.gov/log", ALG_ED25519)?;
//! let vkey = key.verifier();
//! let mut log = Sequencer::create(dir.path(), key)?;
//!
//! let secret = SubjectKey::generate();
//! let mut entry = Entry::new(Kind::new(Kind::ACCESS)?, "education-bureau")?;
//! entry.purpose = Some("freshman-subsidy".into());
//! entry.subject = Some(secret.tag("52010219900307105X"));
//! let indexes = log.append(&[entry.to_bytes()?])?; // durable once this returns
//!
//! let receipt = Receipt::prove(dir.path(), &vkey, indexes.start)?;
//! let (_checkpoint, bytes) = Receipt::parse(&receipt.to_text())?.verify(&vkey, None)?;
//! assert_eq!(Entry::from_bytes(&bytes)?, entry);
//! # Ok(()) }
//! ```

mod checkpoint;
mod entry;
mod hash;
mod note;
pub mod outbox;
mod proof;
mod receipt;
mod sequencer;
mod tiles;
mod verify;
mod witness;

pub use checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
pub use entry::{Entry, EntryError, EntryRequest, Kind, SubjectKey, SubjectTag, ENTRY_VERSION};
pub use hash::{leaf_hash, node_hash, Hash, HashFormatError, HASH_LEN};
pub use note::{
    key_id, NoteError, NoteSignature, NoteSigner, NoteVerifier, SignedNote, ALG_COSIGNATURE_V1,
    ALG_ED25519,
};
pub use proof::{
    consistency_proof, inclusion_proof, range_hash, verify_consistency, verify_consistency_bytes,
    verify_inclusion, verify_inclusion_bytes, MemoryTree, ProofError, SubtreeHashes,
};
pub use receipt::{Receipt, ReceiptError, RECEIPT_HEADER};
pub use sequencer::{
    replace_checkpoint_signatures, Durability, Sequencer, SequencerError, CHECKPOINT_FILE,
};
pub use tiles::{
    bundle_path, tile_path, tile_width, StorageError, TileReader, MAX_ENTRY_LEN, TILE_HEIGHT,
    TILE_WIDTH,
};
pub use verify::{verify_log, VerifyError, VerifyReport};
pub use witness::{
    read_witness_reply, AddCheckpoint, Witness, WitnessError, WitnessRefusal, WitnessReply,
    WitnessedState, TLOG_SIZE_CONTENT_TYPE,
};
