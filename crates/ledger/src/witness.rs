//! C2SP tlog-witness, both sides, without HTTP: the witness's state machine for
//! `add-checkpoint` (durable, atomic per origin), and the client's request body and reply.
//!
//! The HTTP server and client are thin layers over these (the `errandless witness` command and
//! `errandless ledger checkpoint --witnesses`).

use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::hash::Hash;
use crate::note::{NoteError, NoteSignature, NoteSigner, NoteVerifier, SignedNote};
use crate::proof::verify_consistency;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Content type of a 409 answer's body (C2SP tlog-witness).
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
pub const MAX_PROOF_LINES: usize = 63;

/// The witness's answer to one add-checkpoint request: an HTTP status, a content type and a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl WitnessReply {
    fn text(status: u16, body: &str) -> WitnessReply {
        WitnessReply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.as_bytes().to_vec(),
        }
    }
}

/// The witness could not start or keep its state.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the stored checkpoint is unreadable: {problem}")]
    CorruptState { path: PathBuf, problem: String },
    #[error("log key {0}: a log is trusted through an Ed25519 note key (type 0x01)")]
    NotALogKey(String),
    #[error("another witness process uses the state in {path}")]
    StateBusy { path: PathBuf },
}

/// A witness: its cosigning key, the logs it follows (origin → key), and the latest checkpoint
/// it cosigned for each, kept durably in `state_dir` (one file per origin).
#[derive(Debug)]
pub struct Witness {
    key: NoteSigner,
    logs: HashMap<String, NoteVerifier>,
    state_dir: PathBuf,
    // tlog-witness: checking the old size and persisting the new checkpoint must be atomic:
    // the mutex orders this process's requests, the directory lock keeps other processes out.
    lock: Mutex<()>,
    _state_lock: std::fs::File,
}

/// The latest checkpoint a witness cosigned for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedState {
    pub size: u64,
    pub root: Hash,
}

impl Witness {
    pub fn new(
        key: NoteSigner,
        logs: Vec<NoteVerifier>,
        state_dir: &Path,
    ) -> Result<Witness, WitnessError> {
        std::fs::create_dir_all(state_dir).map_err(|source| WitnessError::Io {
            path: state_dir.to_owned(),
            source,
        })?;
        let state_lock = crate::sequencer::lock_dir(state_dir).map_err(|e| match e {
            crate::sequencer::SequencerError::LogBusy { path } => WitnessError::StateBusy { path },
            crate::sequencer::SequencerError::Io { path, source } => {
                WitnessError::Io { path, source }
            }
            other => WitnessError::Io {
                path: state_dir.to_owned(),
                source: std::io::Error::other(other.to_string()),
            },
        })?;
        let mut map = HashMap::new();
        for log in logs {
            if log.is_cosigner() {
                return Err(WitnessError::NotALogKey(log.to_vkey()));
            }
            map.insert(log.name().to_owned(), log);
        }
        Ok(Witness {
            key,
            logs: map,
            state_dir: state_dir.to_owned(),
            lock: Mutex::new(()),
            _state_lock: state_lock,
        })
    }

    pub fn verifier(&self) -> NoteVerifier {
        self.key.verifier()
    }

    fn state_path(&self, origin: &str) -> PathBuf {
        let digest = Sha256::digest(origin.as_bytes());
        let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        self.state_dir.join(name)
    }

    /// The latest checkpoint cosigned for `origin`, if any.
    pub fn state(&self, origin: &str) -> Result<Option<WitnessedState>, WitnessError> {
        let path = self.state_path(origin);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(WitnessError::Io { path, source }),
        };
        let corrupt = |problem: String| WitnessError::CorruptState {
            path: path.clone(),
            problem,
        };
        let note = SignedNote::parse(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let cp = Checkpoint::parse_text(&note.text).map_err(|e| corrupt(e.to_string()))?;
        Ok(Some(WitnessedState {
            size: cp.size,
            root: cp.root,
        }))
    }

    fn store(&self, origin: &str, checkpoint: &[u8]) -> Result<(), WitnessError> {
        let path = self.state_path(origin);
        let temp = path.with_extension("new");
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| WitnessError::Io { path, source }
        };
        let mut f = std::fs::File::create(&temp).map_err(io(&temp))?;
        f.write_all(checkpoint).map_err(io(&temp))?;
        f.sync_all().map_err(io(&temp))?;
        std::fs::rename(&temp, &path).map_err(io(&path))?;
        std::fs::File::open(&self.state_dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.state_dir))?;
        Ok(())
    }

    /// Answers `POST <prefix>/add-checkpoint` exactly as C2SP tlog-witness says. `now` is the
    /// POSIX time put in the cosignature. An `Err` is a failure of the witness's own storage
    /// (an HTTP 500), never of the request.
    pub fn add_checkpoint(&self, body: &[u8], now: u64) -> Result<WitnessReply, WitnessError> {
        let Some(request) = AddCheckpoint::parse(body) else {
            return Ok(WitnessReply::text(
                400,
                "malformed add-checkpoint request\n",
            ));
        };
        let Ok(note) = SignedNote::parse(&request.checkpoint) else {
            return Ok(WitnessReply::text(
                403,
                "the checkpoint is not a well-formed signed note\n",
            ));
        };
        let Ok(cp) = Checkpoint::parse_text(&note.text) else {
            return Ok(WitnessReply::text(403, "the note is not a checkpoint\n"));
        };
        let Some(log) = self.logs.get(&cp.origin) else {
            return Ok(WitnessReply::text(404, "unknown log origin\n"));
        };
        if SignedCheckpoint::verify(&request.checkpoint, log).is_err() {
            return Ok(WitnessReply::text(
                403,
                "no signature from a trusted log key verifies\n",
            ));
        }
        if request.old_size > cp.size {
            return Ok(WitnessReply::text(
                400,
                "old size is larger than the checkpoint size\n",
            ));
        }
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let stored = self.state(&cp.origin)?;
        let (stored_size, stored_root) = stored
            .as_ref()
            .map_or((0, None), |s| (s.size, Some(s.root)));
        if request.old_size != stored_size {
            return Ok(WitnessReply {
                status: 409,
                content_type: TLOG_SIZE_CONTENT_TYPE,
                body: format!("{stored_size}\n").into_bytes(),
            });
        }
        if request.old_size == cp.size {
            if let Some(root) = stored_root {
                if root != cp.root {
                    return Ok(WitnessReply {
                        status: 409,
                        content_type: TLOG_SIZE_CONTENT_TYPE,
                        body: format!("{stored_size}\n").into_bytes(),
                    });
                }
            }
        }
        let consistent = match stored_root {
            // tlog-witness: "The proof MUST be empty if the old size is zero."
            _ if request.old_size == 0 => {
                request.proof.is_empty() && (cp.size > 0 || cp.root == Hash::empty_tree())
            }
            Some(root) => {
                verify_consistency(request.old_size, cp.size, &root, &cp.root, &request.proof)
                    .is_ok()
            }
            None => false,
        };
        if !consistent {
            return Ok(WitnessReply::text(
                422,
                "the consistency proof does not verify\n",
            ));
        }
        self.store(&cp.origin, &request.checkpoint)?;
        let sig = self.key.cosign(&note.text, now);
        Ok(WitnessReply {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: sig.to_line().into_bytes(),
        })
    }
}

/// The body of an add-checkpoint request: `old <size>`, proof lines, a blank line, the
/// checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    pub checkpoint: Vec<u8>,
}

impl AddCheckpoint {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("old {}\n", self.old_size);
        for h in &self.proof {
            out.push_str(&h.to_base64());
            out.push('\n');
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.checkpoint);
        bytes
    }

    pub fn parse(body: &[u8]) -> Option<AddCheckpoint> {
        let mut rest = body;
        let mut line = || -> Option<&[u8]> {
            let end = rest.iter().position(|&b| b == b'\n')?;
            let (l, r) = rest.split_at(end);
            rest = &r[1..];
            Some(l)
        };
        let old = std::str::from_utf8(line()?).ok()?.strip_prefix("old ")?;
        if old.is_empty()
            || !old.bytes().all(|b| b.is_ascii_digit())
            || (old.len() > 1 && old.starts_with('0'))
        {
            return None;
        }
        let old_size = old.parse().ok()?;
        let mut proof = Vec::new();
        loop {
            let l = line()?;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return None;
            }
            proof.push(Hash::from_base64(std::str::from_utf8(l).ok()?).ok()?);
        }
        Some(AddCheckpoint {
            old_size,
            proof,
            checkpoint: rest.to_vec(),
        })
    }
}

/// What a witness said to an add-checkpoint request, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    #[error("the witness has cosigned size {size}; resubmit with a proof from there")]
    Conflict { size: u64 },
    #[error("the witness does not know this log (404)")]
    UnknownLog,
    #[error("the witness did not accept the log's signature (403)")]
    Forbidden,
    #[error("the witness refused the consistency proof (422): the log may have forked")]
    ProofRefused,
    #[error("the witness answered {status}: {message}")]
    Other { status: u16, message: String },
    #[error("the witness's reply holds no valid cosignature of its key: {0}")]
    BadCosignature(NoteError),
}

/// Reads a witness's reply and checks its cosignature of `checkpoint_text` with `witness`.
pub fn read_witness_reply(
    status: u16,
    body: &[u8],
    checkpoint_text: &str,
    witness: &NoteVerifier,
) -> Result<NoteSignature, WitnessRefusal> {
    let text = String::from_utf8_lossy(body);
    match status {
        200 => {
            let mut last_err = NoteError::NotSigned {
                name: witness.name().to_owned(),
            };
            for line in text.lines() {
                let Some(sig) = NoteSignature::from_line(line) else {
                    continue;
                };
                if !witness.matches(&sig) {
                    continue; // tlog-witness: ignore cosignatures from unknown keys
                }
                match witness.verify(checkpoint_text, &sig) {
                    Ok(_) => return Ok(sig),
                    Err(e) => last_err = e,
                }
            }
            Err(WitnessRefusal::BadCosignature(last_err))
        }
        409 => match text.trim_end_matches('\n').parse() {
            Ok(size) => Err(WitnessRefusal::Conflict { size }),
            Err(_) => Err(WitnessRefusal::Other {
                status,
                message: text.into_owned(),
            }),
        },
        404 => Err(WitnessRefusal::UnknownLog),
        403 => Err(WitnessRefusal::Forbidden),
        422 => Err(WitnessRefusal::ProofRefused),
        _ => Err(WitnessRefusal::Other {
            status,
            message: text.into_owned(),
        }),
    }
}
