//! Verification of a whole log directory from its entry bundles: every tile, the root, the
//! checkpoint's signature, and consistency with a checkpoint trusted earlier.

use crate::checkpoint::{CheckpointError, SignedCheckpoint};
use crate::hash::{leaf_hash, perfect_root, Hash};
use crate::note::NoteVerifier;
use crate::proof::{consistency_proof, verify_consistency, ProofError};
use crate::sequencer::CHECKPOINT_FILE;
use crate::tiles::{
    bundle_path, read_file, split_bundle, tile_path, tile_width, StorageError, TileReader,
    TILE_HEIGHT, TILE_WIDTH,
};
use std::path::Path;

/// What is wrong with a log. Every variant names the file, tile position or entry.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{path}: {source}")]
    Checkpoint {
        path: String,
        #[source]
        source: CheckpointError,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{path}: hash {position} (entry {first_entry}) does not match what the entries below rebuild")]
    TileMismatch {
        path: String,
        position: u64,
        first_entry: u64,
    },
    #[error("{path} is missing but entries below it exist")]
    TileMissing { path: String },
    #[error("the entries rebuild root {rebuilt} at size {size}, but the checkpoint says {signed}")]
    RootMismatch {
        size: u64,
        rebuilt: Hash,
        signed: Hash,
    },
    #[error("the log (size {size}) is smaller than the trusted checkpoint (size {trusted}): rolled back")]
    RolledBack { size: u64, trusted: u64 },
    #[error("the log at size {size} is not consistent with the trusted checkpoint at size {trusted}: {source}")]
    Inconsistent {
        size: u64,
        trusted: u64,
        #[source]
        source: ProofError,
    },
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub checkpoint: SignedCheckpoint,
    pub entries: u64,
    pub tiles: u64,
}

/// Checks the log in `dir`: the checkpoint verifies with `log`; every entry bundle decodes;
/// every hash tile (full, and partial at the checkpoint's size) equals what the entries
/// rebuild; the root equals the checkpoint's; and, if given, `trusted` (a checkpoint seen
/// earlier) is consistent with it. Memory stays bounded: one bundle and one tile per level.
/// `on_entry` sees every entry with its index (for audits); pass `|_, _| {}` otherwise.
pub fn verify_log(
    dir: &Path,
    log: &NoteVerifier,
    trusted: Option<&[u8]>,
    mut on_entry: impl FnMut(u64, &[u8]),
) -> Result<VerifyReport, VerifyError> {
    let bytes = read_file(dir, CHECKPOINT_FILE)?;
    let checkpoint =
        SignedCheckpoint::verify(&bytes, log).map_err(|source| VerifyError::Checkpoint {
            path: CHECKPOINT_FILE.into(),
            source,
        })?;
    let size = checkpoint.checkpoint.size;
    let trusted = trusted
        .map(|t| {
            SignedCheckpoint::verify(t, log).map_err(|source| VerifyError::Checkpoint {
                path: "trusted checkpoint".into(),
                source,
            })
        })
        .transpose()?;

    // levels[l]: hashes at tile level l rebuilt so far for the rightmost tile.
    let mut levels: Vec<Vec<Hash>> = vec![Vec::new()];
    let mut tiles = 0u64;
    let bundles = size.div_ceil(TILE_WIDTH);
    for b in 0..bundles {
        let width = tile_width(size, 0, b).expect("b is below the bundle count");
        let entries = read_bundle(dir, b, width)?;
        for (i, e) in entries.iter().enumerate() {
            on_entry(b * TILE_WIDTH + i as u64, e);
            levels[0].push(leaf_hash(e));
        }
        // Every tile that is full now is checked and carried up.
        let mut level = 0usize;
        while levels[level].len() as u64 == TILE_WIDTH {
            let count = if level == 0 {
                (b + 1) * TILE_WIDTH
            } else {
                size.min((b + 1) * TILE_WIDTH) >> (TILE_HEIGHT * level as u32)
            };
            let index = count / TILE_WIDTH - 1;
            check_tile(dir, level as u32, index, TILE_WIDTH, &levels[level])?;
            tiles += 1;
            let root = perfect_root(&levels[level]);
            levels[level].clear();
            if levels.len() == level + 1 {
                levels.push(Vec::new());
            }
            levels[level + 1].push(root);
            level += 1;
        }
    }
    // The partial tiles of the checkpoint's size.
    for (level, hashes) in levels.iter().enumerate() {
        if !hashes.is_empty() {
            let count = size >> (TILE_HEIGHT * level as u32);
            check_tile(
                dir,
                level as u32,
                count / TILE_WIDTH,
                hashes.len() as u64,
                hashes,
            )?;
            tiles += 1;
        }
    }
    let rebuilt = crate::sequencer::root_of(&levels);
    if rebuilt != checkpoint.checkpoint.root {
        return Err(VerifyError::RootMismatch {
            size,
            rebuilt,
            signed: checkpoint.checkpoint.root,
        });
    }
    if let Some(t) = trusted {
        let tsize = t.checkpoint.size;
        if tsize > size {
            return Err(VerifyError::RolledBack {
                size,
                trusted: tsize,
            });
        }
        let inconsistent = |source| VerifyError::Inconsistent {
            size,
            trusted: tsize,
            source,
        };
        if tsize == 0 {
            if t.checkpoint.root != Hash::empty_tree() {
                return Err(inconsistent(ProofError::RootMismatch));
            }
        } else {
            let reader = TileReader::new(dir, size);
            let proof = consistency_proof(&reader, tsize, size)?.map_err(inconsistent)?;
            verify_consistency(tsize, size, &t.checkpoint.root, &rebuilt, &proof)
                .map_err(inconsistent)?;
        }
    }
    Ok(VerifyReport {
        checkpoint,
        entries: size,
        tiles,
    })
}

fn read_bundle(dir: &Path, index: u64, width: u64) -> Result<Vec<Vec<u8>>, VerifyError> {
    let path = bundle_path(index, width);
    let data = match read_file(dir, &path) {
        Err(StorageError::Missing { .. }) if width < TILE_WIDTH => {
            let full = bundle_path(index, TILE_WIDTH);
            let data =
                read_file(dir, &full).map_err(|_| StorageError::Missing { path: path.clone() })?;
            let all = split_bundle(&data, &full, TILE_WIDTH)?;
            return Ok(all[..width as usize].iter().map(|e| e.to_vec()).collect());
        }
        other => other?,
    };
    Ok(split_bundle(&data, &path, width)?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect())
}

fn check_tile(
    dir: &Path,
    level: u32,
    index: u64,
    width: u64,
    want: &[Hash],
) -> Result<(), VerifyError> {
    let reader = TileReader::new(
        dir,
        ((index * TILE_WIDTH + width) << (TILE_HEIGHT * level)).max(1),
    )
    .with_cache_limit(0);
    let path = tile_path(level, index, width);
    let found = reader.tile(level, index).map_err(|e| match e {
        StorageError::Missing { .. } => VerifyError::TileMissing { path: path.clone() },
        other => VerifyError::Storage(other),
    })?;
    for (position, (a, b)) in found.iter().zip(want).enumerate() {
        if a != b {
            return Err(VerifyError::TileMismatch {
                path,
                position: position as u64,
                first_entry: (index * TILE_WIDTH + position as u64) << (TILE_HEIGHT * level),
            });
        }
    }
    Ok(())
}
