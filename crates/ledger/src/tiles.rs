//! C2SP tlog-tiles on a filesystem: hash tiles `tile/<L>/<N>[.p/<W>]`, entry bundles
//! `tile/entries/<N>[.p/<W>]`, and reading proofs' hashes back from them.

use crate::hash::{Hash, HASH_LEN};
use crate::proof::SubtreeHashes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Tile height of C2SP tlog-tiles: each tile spans 8 levels of the tree.
pub const TILE_HEIGHT: u32 = 8;
/// Hashes in a full tile, and entries in a full bundle.
pub const TILE_WIDTH: u64 = 256;
/// Entry bundles prefix each entry with a big-endian uint16 length (C2SP tlog-tiles).
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// A tile or bundle is missing, cut short or unreadable. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path} is missing")]
    Missing { path: String },
    #[error("{path} has {len} bytes, want {want}")]
    WrongLength { path: String, len: u64, want: u64 },
    #[error("{path}: entry {entry} of the bundle is cut short")]
    TruncatedBundle { path: String, entry: u64 },
    #[error("{path}: {bytes} bytes follow the last of its {entries} entries")]
    TrailingBytes {
        path: String,
        entries: u64,
        bytes: u64,
    },
    #[error("{path} holds {found} entries, want {want}")]
    BundleCount { path: String, found: u64, want: u64 },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    pub(crate) fn io(path: &str, source: std::io::Error) -> StorageError {
        if source.kind() == std::io::ErrorKind::NotFound {
            StorageError::Missing {
                path: path.to_owned(),
            }
        } else {
            StorageError::Io {
                path: path.to_owned(),
                source,
            }
        }
    }
}

/// `<N>` of C2SP tlog-tiles: zero-padded 3-digit path elements, all but the last prefixed "x".
fn encode_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    while n >= 1000 {
        n /= 1000;
        parts.push(format!("x{:03}", n % 1000));
    }
    parts.reverse();
    parts.join("/")
}

fn with_width(base: String, width: u64) -> String {
    if width == TILE_WIDTH {
        base
    } else {
        format!("{base}.p/{width}")
    }
}

/// Path of the hash tile at `level`, index `index`, holding `width` hashes (1..=256).
pub fn tile_path(level: u32, index: u64, width: u64) -> String {
    with_width(format!("tile/{level}/{}", encode_index(index)), width)
}

/// Path of the entry bundle `index` holding `width` entries (1..=256).
pub fn bundle_path(index: u64, width: u64) -> String {
    with_width(format!("tile/entries/{}", encode_index(index)), width)
}

/// The width of tile `index` at `level` in a tree of `size` leaves, or None if it has none:
/// C2SP tlog-tiles, "the partial tile at level l for a tree of size s has floor(s / 256**l)
/// mod 256 entries".
pub fn tile_width(size: u64, level: u32, index: u64) -> Option<u64> {
    let count = size.checked_shr(TILE_HEIGHT * level).unwrap_or(0);
    let full = count / TILE_WIDTH;
    if index < full {
        Some(TILE_WIDTH)
    } else if index == full && !count.is_multiple_of(TILE_WIDTH) {
        Some(count % TILE_WIDTH)
    } else {
        None
    }
}

/// Appends one entry to a bundle being built.
pub fn push_bundle_entry(bundle: &mut Vec<u8>, entry: &[u8]) {
    debug_assert!(entry.len() <= MAX_ENTRY_LEN);
    bundle.extend_from_slice(&(entry.len() as u16).to_be_bytes());
    bundle.extend_from_slice(entry);
}

/// Splits an entry bundle into its entries; `path` and `want` name the file in errors.
pub fn split_bundle<'a>(
    data: &'a [u8],
    path: &str,
    want: u64,
) -> Result<Vec<&'a [u8]>, StorageError> {
    let mut entries = Vec::with_capacity(want as usize);
    let mut at = 0usize;
    while at < data.len() {
        let entry = entries.len() as u64;
        if entry == want {
            return Err(StorageError::TrailingBytes {
                path: path.to_owned(),
                entries: want,
                bytes: (data.len() - at) as u64,
            });
        }
        let truncated = || StorageError::TruncatedBundle {
            path: path.to_owned(),
            entry,
        };
        let len_bytes = data.get(at..at + 2).ok_or_else(truncated)?;
        let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
        let e = data.get(at + 2..at + 2 + len).ok_or_else(truncated)?;
        entries.push(e);
        at += 2 + len;
    }
    if entries.len() as u64 != want {
        return Err(StorageError::BundleCount {
            path: path.to_owned(),
            found: entries.len() as u64,
            want,
        });
    }
    Ok(entries)
}

/// Reads a file of the log, naming it on failure.
pub(crate) fn read_file(dir: &Path, rel: &str) -> Result<Vec<u8>, StorageError> {
    std::fs::read(dir.join(rel)).map_err(|e| StorageError::io(rel, e))
}

/// Reads tiles and bundles of a log directory as of a tree size, following the partial-tile rule
/// of C2SP tlog-tiles: the partial tile of that size, or the full tile when the partial one was
/// deleted after the tile filled up.
#[derive(Debug)]
pub struct TileReader {
    dir: PathBuf,
    size: u64,
    /// Tiles with every level inside them computed, by (tile level, index): level-0 tiles in a
    /// small cache (proofs touch them at random), higher ones in a larger one (shared by many
    /// proofs). Each is emptied when full, so memory stays bounded.
    low: Mutex<HashMap<(u32, u64), Arc<Expanded>>>,
    high: Mutex<HashMap<(u32, u64), Arc<Expanded>>>,
    cache_limit: usize,
}

/// A tile's hashes and the roots of every perfect subtree inside it: `rows[k][i]` is the root
/// of hashes `i << k .. (i + 1) << k` of the tile.
type Expanded = Vec<Vec<Hash>>;

fn expand(hashes: Vec<Hash>) -> Expanded {
    let mut rows = vec![hashes];
    for _ in 0..TILE_HEIGHT {
        let prev = rows.last().expect("at least one row");
        let next: Vec<Hash> = prev
            .chunks_exact(2)
            .map(|p| crate::hash::node_hash(&p[0], &p[1]))
            .collect();
        rows.push(next);
    }
    rows
}

impl TileReader {
    pub fn new(dir: impl Into<PathBuf>, size: u64) -> TileReader {
        TileReader {
            dir: dir.into(),
            size,
            low: Mutex::new(HashMap::new()),
            high: Mutex::new(HashMap::new()),
            cache_limit: 2048,
        }
    }

    /// Keeps at most `tiles` tiles above level 0 (16 KiB each, with their inner levels) and
    /// 1/32 as many level-0 tiles in memory; 0 disables the cache.
    pub fn with_cache_limit(mut self, tiles: usize) -> TileReader {
        self.cache_limit = tiles;
        self
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The hashes of tile `index` at `level` as of this reader's tree size.
    pub fn tile(&self, level: u32, index: u64) -> Result<Vec<Hash>, StorageError> {
        let width = tile_width(self.size, level, index).ok_or_else(|| StorageError::Missing {
            path: tile_path(level, index, 1),
        })?;
        let path = tile_path(level, index, width);
        let data = match read_file(&self.dir, &path) {
            Err(StorageError::Missing { .. }) if width < TILE_WIDTH => {
                let full = tile_path(level, index, TILE_WIDTH);
                let mut data = read_file(&self.dir, &full).map_err(|e| match e {
                    StorageError::Missing { .. } => StorageError::Missing { path: path.clone() },
                    other => other,
                })?;
                if data.len() as u64 != TILE_WIDTH * HASH_LEN as u64 {
                    return Err(StorageError::WrongLength {
                        path: full,
                        len: data.len() as u64,
                        want: TILE_WIDTH * HASH_LEN as u64,
                    });
                }
                data.truncate(width as usize * HASH_LEN);
                data
            }
            other => other?,
        };
        if data.len() as u64 != width * HASH_LEN as u64 {
            return Err(StorageError::WrongLength {
                path,
                len: data.len() as u64,
                want: width * HASH_LEN as u64,
            });
        }
        Ok(data
            .chunks_exact(HASH_LEN)
            .map(|c| Hash(c.try_into().expect("chunks of 32")))
            .collect())
    }

    fn expanded(&self, level: u32, index: u64) -> Result<Arc<Expanded>, StorageError> {
        let (cache, limit) = if level == 0 {
            (&self.low, self.cache_limit / 32)
        } else {
            (&self.high, self.cache_limit)
        };
        if let Some(t) = cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(level, index))
        {
            return Ok(t.clone());
        }
        let tile = Arc::new(expand(self.tile(level, index)?));
        if limit > 0 {
            let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= limit {
                cache.clear();
            }
            cache.insert((level, index), tile.clone());
        }
        Ok(tile)
    }

    /// The entries of bundle `index` as of this reader's tree size.
    pub fn bundle(&self, index: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let width = tile_width(self.size, 0, index).ok_or_else(|| StorageError::Missing {
            path: bundle_path(index, 1),
        })?;
        let path = bundle_path(index, width);
        match read_file(&self.dir, &path) {
            Err(StorageError::Missing { .. }) if width < TILE_WIDTH => {
                let full = bundle_path(index, TILE_WIDTH);
                let data = read_file(&self.dir, &full)?;
                let all = split_bundle(&data, &full, TILE_WIDTH)?;
                Ok(all[..width as usize].iter().map(|e| e.to_vec()).collect())
            }
            other => {
                let data = other?;
                Ok(split_bundle(&data, &path, width)?
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect())
            }
        }
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, StorageError> {
        let mut bundle = self.bundle(index / TILE_WIDTH)?;
        let at = (index % TILE_WIDTH) as usize;
        if at >= bundle.len() {
            return Err(StorageError::Missing {
                path: format!(
                    "{} (entry {index})",
                    bundle_path(index / TILE_WIDTH, at as u64 + 1)
                ),
            });
        }
        Ok(bundle.swap_remove(at))
    }
}

impl SubtreeHashes for TileReader {
    type Error = StorageError;

    fn perfect(&self, level: u8, index: u64) -> Result<Hash, StorageError> {
        let tile_level = u32::from(level) / TILE_HEIGHT;
        let within = u32::from(level) % TILE_HEIGHT;
        let first = index << within;
        let tile_index = first / TILE_WIDTH;
        let tile = self.expanded(tile_level, tile_index)?;
        let at = ((first % TILE_WIDTH) >> within) as usize;
        tile[within as usize]
            .get(at)
            .copied()
            .ok_or_else(|| StorageError::Missing {
                path: tile_path(tile_level, tile_index, (first % TILE_WIDTH) + (1 << within)),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_c2sp_tlog_tiles() {
        assert_eq!(tile_path(0, 1234067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_path(4, 1234067, 1), "tile/4/x001/x234/067.p/1");
        assert_eq!(bundle_path(0, 17), "tile/entries/000.p/17");
        assert_eq!(bundle_path(1000, 256), "tile/entries/x001/000");
    }

    #[test]
    fn widths_follow_the_spec_example() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
        // level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width
        // 17, and one partial level 2 tile of width 1."
        assert_eq!(tile_width(70_000, 0, 272), Some(256));
        assert_eq!(tile_width(70_000, 0, 273), Some(112));
        assert_eq!(tile_width(70_000, 0, 274), None);
        assert_eq!(tile_width(70_000, 1, 0), Some(256));
        assert_eq!(tile_width(70_000, 1, 1), Some(17));
        assert_eq!(tile_width(70_000, 2, 0), Some(1));
        assert_eq!(tile_width(70_000, 3, 0), None);
        assert_eq!(tile_width(256, 1, 0), Some(1));
    }

    #[test]
    fn bundles_split_and_refuse_truncation() {
        let mut b = Vec::new();
        push_bundle_entry(&mut b, b"one");
        push_bundle_entry(&mut b, b"");
        assert_eq!(
            split_bundle(&b, "x", 2).expect("well formed"),
            vec![&b"one"[..], b""]
        );
        assert!(matches!(
            split_bundle(&b[..4], "x", 2),
            Err(StorageError::TruncatedBundle { entry: 0, .. })
        ));
        assert!(matches!(
            split_bundle(&b, "x", 3),
            Err(StorageError::BundleCount { found: 2, .. })
        ));
    }
}
