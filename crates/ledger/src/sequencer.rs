//! The sequencer: integrates batches of entries into the tiles, makes them durable, and only
//! then signs the next checkpoint.
//!
//! Write order of one batch, so that a crash anywhere leaves the last durable state:
//! 1. entry bundles and hash tiles that are new at the new size are written (C2SP tlog-tiles
//!    paths; a path that belongs to the committed tree is never rewritten);
//! 2. every written file and every directory that gained a file is fsynced;
//! 3. the checkpoint is written to a temporary file, which is fsynced together with them (one
//!    round of fsyncs), then renamed over `checkpoint`, and the log directory is fsynced. Only
//!    then are the entries acknowledged.
//!
//! On opening, `checkpoint` is the truth: tiles and bundles beyond its size are leftovers of an
//! unfinished batch and are overwritten by the next one. The sequencer holds an exclusive lock
//! on the log directory, and checks on opening that the partial tiles of the checkpoint's size
//! rebuild the checkpoint's root, so it only ever signs extensions of what it signed before.

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::hash::{fold_right, leaf_hash, perfect_root, Hash};
use crate::note::NoteSigner;
use crate::tiles::{
    bundle_path, push_bundle_entry, read_file, split_bundle, tile_path, StorageError, TileReader,
    MAX_ENTRY_LEN, TILE_HEIGHT, TILE_WIDTH,
};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Name of the checkpoint file inside the log directory (C2SP tlog-tiles `<prefix>/checkpoint`).
pub const CHECKPOINT_FILE: &str = "checkpoint";
const CHECKPOINT_TEMP: &str = ".checkpoint.new";

/// Whether a batch is fsynced before its checkpoint is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// fsync files, directories and the checkpoint: an acknowledged entry survives power loss.
    Fsync,
    /// No fsync: for benchmarks and throwaway logs only.
    Unsynced,
}

/// The log could not be created, opened or appended to.
#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    #[error("{path} already holds a log")]
    LogExists { path: PathBuf },
    #[error("{path} holds no log (no checkpoint); create one first")]
    NoLog { path: PathBuf },
    #[error("another process is appending to {path}")]
    LogBusy { path: PathBuf },
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the tiles at size {size} rebuild root {rebuilt}, but the checkpoint says {signed}")]
    TilesDisagreeWithCheckpoint {
        size: u64,
        rebuilt: Hash,
        signed: Hash,
    },
    #[error(
        "entry {position} of the batch has {len} bytes; entries are limited to {MAX_ENTRY_LEN}"
    )]
    EntryTooLarge { position: usize, len: usize },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SequencerError + '_ {
    move |source| SequencerError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Appends entries to one log directory. Memory holds only the rightmost partial tile of each
/// level and the current partial entry bundle: at most a few hundred KiB plus one bundle.
#[derive(Debug)]
pub struct Sequencer {
    dir: PathBuf,
    key: NoteSigner,
    durability: Durability,
    size: u64,
    /// `levels[l]`: the hashes of the rightmost, unfinished tile at level `l`.
    levels: Vec<Vec<Hash>>,
    bundle: Vec<u8>,
    checkpoint: SignedCheckpoint,
    made_dirs: BTreeSet<PathBuf>,
    _lock: File,
}

impl Sequencer {
    /// Creates an empty log in `dir` (which may exist but must not hold a checkpoint), with the
    /// key's name as the origin, and signs its empty checkpoint.
    pub fn create(dir: &Path, key: NoteSigner) -> Result<Sequencer, SequencerError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock = lock_dir(dir)?;
        if dir.join(CHECKPOINT_FILE).exists() {
            return Err(SequencerError::LogExists {
                path: dir.to_owned(),
            });
        }
        let checkpoint = Checkpoint {
            origin: key.name().to_owned(),
            size: 0,
            root: Hash::empty_tree(),
            extensions: vec![],
        }
        .sign(&key);
        write_checkpoint(dir, &checkpoint.to_bytes(), Durability::Fsync)?;
        Ok(Sequencer {
            dir: dir.to_owned(),
            key,
            durability: Durability::Fsync,
            size: 0,
            levels: vec![Vec::new()],
            bundle: Vec::new(),
            checkpoint,
            made_dirs: BTreeSet::new(),
            _lock: lock,
        })
    }

    /// Opens the log in `dir`, recovering from any unfinished batch: the checkpoint is the truth.
    pub fn open(dir: &Path, key: NoteSigner) -> Result<Sequencer, SequencerError> {
        let lock = lock_dir(dir)?;
        let state = load(dir, &key)?;
        Ok(Sequencer {
            dir: dir.to_owned(),
            key,
            durability: Durability::Fsync,
            size: state.size,
            levels: state.levels,
            bundle: state.bundle,
            checkpoint: state.checkpoint,
            made_dirs: BTreeSet::new(),
            _lock: lock,
        })
    }

    pub fn with_durability(mut self, durability: Durability) -> Sequencer {
        self.durability = durability;
        self
    }

    /// Entries in the log, all durable.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Integrates a batch, makes it durable, signs and publishes the new checkpoint, and returns
    /// the indexes the entries received. Nothing of a refused batch is published.
    pub fn append<E: AsRef<[u8]>>(&mut self, entries: &[E]) -> Result<Range<u64>, SequencerError> {
        for (position, e) in entries.iter().enumerate() {
            let len = e.as_ref().len();
            if len > MAX_ENTRY_LEN {
                return Err(SequencerError::EntryTooLarge { position, len });
            }
        }
        let old = self.size;
        if entries.is_empty() {
            return Ok(old..old);
        }
        let mut written: Vec<PathBuf> = Vec::new();
        let mut completed: Vec<String> = Vec::new();
        let result = self.integrate(entries, &mut written, &mut completed);
        if let Err(e) = result {
            // Leave memory as the durable state says; the files written are beyond it.
            self.reload_after_failure();
            return Err(e);
        }
        if let Err(e) = self.publish(old, &written) {
            self.reload_after_failure();
            return Err(e);
        }
        for partials in completed {
            // C2SP tlog-tiles: a partial tile MAY be deleted once its full tile is available.
            let _ = std::fs::remove_dir_all(self.dir.join(partials));
        }
        Ok(old..self.size)
    }

    fn reload_after_failure(&mut self) {
        if let Ok(state) = load(&self.dir, &self.key) {
            self.size = state.size;
            self.levels = state.levels;
            self.bundle = state.bundle;
            self.checkpoint = state.checkpoint;
        }
    }

    fn integrate<E: AsRef<[u8]>>(
        &mut self,
        entries: &[E],
        written: &mut Vec<PathBuf>,
        completed: &mut Vec<String>,
    ) -> Result<(), SequencerError> {
        let old = self.size;
        for e in entries {
            let e = e.as_ref();
            push_bundle_entry(&mut self.bundle, e);
            self.levels[0].push(leaf_hash(e));
            self.size += 1;
            if self.levels[0].len() as u64 == TILE_WIDTH {
                let index = self.size / TILE_WIDTH - 1;
                let path = bundle_path(index, TILE_WIDTH);
                let capacity = self.bundle.capacity();
                let bundle = std::mem::replace(&mut self.bundle, Vec::with_capacity(capacity));
                self.write(&path, bundle, written)?;
                completed.push(format!("{path}.p"));
                self.complete_tiles(written, completed)?;
            }
        }
        // Partial tiles and bundle of the new size, at paths the committed tree never had.
        for level in 0..self.levels.len() as u32 {
            let new_count = self.size >> (TILE_HEIGHT * level);
            let old_count = old >> (TILE_HEIGHT * level);
            let width = self.levels[level as usize].len() as u64;
            if new_count != old_count && width > 0 {
                let path = tile_path(level, new_count / TILE_WIDTH, width);
                let data = hashes_bytes(&self.levels[level as usize]);
                self.write(&path, data, written)?;
            }
        }
        let width = self.size % TILE_WIDTH;
        if width > 0 {
            let path = bundle_path(self.size / TILE_WIDTH, width);
            self.write(&path, self.bundle.clone(), written)?;
        }
        Ok(())
    }

    /// Writes every tile that the last leaf completed and carries its root one tile level up.
    fn complete_tiles(
        &mut self,
        written: &mut Vec<PathBuf>,
        completed: &mut Vec<String>,
    ) -> Result<(), SequencerError> {
        let mut level = 0usize;
        while self.levels[level].len() as u64 == TILE_WIDTH {
            let index = (self.size >> (TILE_HEIGHT * level as u32)) / TILE_WIDTH - 1;
            let path = tile_path(level as u32, index, TILE_WIDTH);
            let tile = std::mem::replace(
                &mut self.levels[level],
                Vec::with_capacity(TILE_WIDTH as usize),
            );
            self.write(&path, hashes_bytes(&tile), written)?;
            completed.push(format!("{path}.p"));
            let root = perfect_root(&tile);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(root);
            level += 1;
        }
        Ok(())
    }

    fn write(
        &mut self,
        rel: &str,
        data: Vec<u8>,
        written: &mut Vec<PathBuf>,
    ) -> Result<(), SequencerError> {
        let path = self.dir.join(rel);
        if let Some(parent) = path.parent() {
            if !self.made_dirs.contains(parent) {
                std::fs::create_dir_all(parent).map_err(io_err(parent))?;
                self.made_dirs.insert(parent.to_owned());
            }
        }
        std::fs::write(&path, data).map_err(io_err(&path))?;
        written.push(path);
        Ok(())
    }

    fn publish(&mut self, old: u64, written: &[PathBuf]) -> Result<(), SequencerError> {
        let checkpoint = Checkpoint {
            origin: self.key.name().to_owned(),
            size: self.size,
            root: root_of(&self.levels),
            extensions: vec![],
        }
        .sign(&self.key);
        debug_assert!(self.size > old);
        // The next checkpoint is known before anything is durable, so its temporary file is
        // synced in the same round as the tiles and bundles: one round of fsyncs, then the
        // rename and the directory's, instead of three rounds one after the other. It still
        // replaces `checkpoint` only once everything it covers is durable.
        let temp = self.dir.join(CHECKPOINT_TEMP);
        std::fs::write(&temp, checkpoint.to_bytes()).map_err(io_err(&temp))?;
        if self.durability == Durability::Fsync {
            let mut dirs = BTreeSet::new();
            for path in written {
                // A new file, or a new directory, is durable only once its parent is synced.
                let mut p = path.parent();
                while let Some(d) = p {
                    if !dirs.insert(d.to_owned()) || d == self.dir {
                        break;
                    }
                    p = d.parent();
                }
            }
            let mut all: Vec<&Path> = written.iter().map(PathBuf::as_path).collect();
            all.extend(dirs.iter().map(PathBuf::as_path));
            all.push(&temp);
            sync_concurrently(&all)?;
        }
        let target = self.dir.join(CHECKPOINT_FILE);
        std::fs::rename(&temp, &target).map_err(io_err(&target))?;
        if self.durability == Durability::Fsync {
            sync_dir(&self.dir)?;
        }
        self.checkpoint = checkpoint;
        Ok(())
    }
}

struct DurableState {
    size: u64,
    levels: Vec<Vec<Hash>>,
    bundle: Vec<u8>,
    checkpoint: SignedCheckpoint,
}

/// Reads the durable state: the signed checkpoint, and the partial tiles and bundle of its size,
/// which must rebuild its root.
fn load(dir: &Path, key: &NoteSigner) -> Result<DurableState, SequencerError> {
    let bytes = match std::fs::read(dir.join(CHECKPOINT_FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SequencerError::NoLog {
                path: dir.to_owned(),
            })
        }
        Err(e) => return Err(io_err(&dir.join(CHECKPOINT_FILE))(e)),
    };
    let checkpoint = SignedCheckpoint::verify(&bytes, &key.verifier())?;
    let size = checkpoint.checkpoint.size;
    let reader = TileReader::new(dir, size).with_cache_limit(0);
    let mut levels = vec![Vec::new()];
    let mut level = 0u32;
    while level < 8 && size.checked_shr(TILE_HEIGHT * level).unwrap_or(0) > 0 {
        let count = size >> (TILE_HEIGHT * level);
        if levels.len() <= level as usize {
            levels.push(Vec::new());
        }
        if !count.is_multiple_of(TILE_WIDTH) {
            levels[level as usize] = reader.tile(level, count / TILE_WIDTH)?;
        }
        level += 1;
    }
    let mut bundle = Vec::new();
    let width = size % TILE_WIDTH;
    if width != 0 {
        let path = bundle_path(size / TILE_WIDTH, width);
        let data = read_file(dir, &path)?;
        split_bundle(&data, &path, width)?;
        bundle = data;
    }
    let rebuilt = root_of(&levels);
    if rebuilt != checkpoint.checkpoint.root {
        return Err(SequencerError::TilesDisagreeWithCheckpoint {
            size,
            rebuilt,
            signed: checkpoint.checkpoint.root,
        });
    }
    Ok(DurableState {
        size,
        levels,
        bundle,
        checkpoint,
    })
}

/// The root of the tree whose rightmost partial tiles are `levels`: the perfect subtrees of the
/// binary decomposition of the size, largest first, folded from the right (RFC 6962 §2.1).
pub(crate) fn root_of(levels: &[Vec<Hash>]) -> Hash {
    let mut subtrees = Vec::new();
    for tile in levels.iter().rev() {
        let mut at = 0usize;
        for bit in (0..TILE_HEIGHT).rev() {
            let span = 1usize << bit;
            if tile.len() & span != 0 {
                subtrees.push(perfect_root(&tile[at..at + span]));
                at += span;
            }
        }
    }
    fold_right(&subtrees)
}

fn hashes_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// fsyncs files and directories from several threads at once, so that the filesystem can
/// commit them in one journal transaction instead of one each.
fn sync_concurrently(paths: &[&Path]) -> Result<(), SequencerError> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<SequencerError>> = Mutex::new(None);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(path) = paths.get(i) else { break };
        if let Err(e) = File::open(path).and_then(|f| f.sync_all()) {
            *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(io_err(path)(e));
        }
    };
    let threads = paths.len().min(SYNC_THREADS);
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    match failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

const SYNC_THREADS: usize = 32;

fn sync_dir(dir: &Path) -> Result<(), SequencerError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir))
}

/// Replaces `checkpoint` atomically: temporary file, fsync, rename, fsync of the directory.
fn write_checkpoint(
    dir: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<(), SequencerError> {
    let temp = dir.join(CHECKPOINT_TEMP);
    let mut f = File::create(&temp).map_err(io_err(&temp))?;
    f.write_all(bytes).map_err(io_err(&temp))?;
    if durability == Durability::Fsync {
        f.sync_all().map_err(io_err(&temp))?;
    }
    drop(f);
    let target = dir.join(CHECKPOINT_FILE);
    std::fs::rename(&temp, &target).map_err(io_err(&target))?;
    if durability == Durability::Fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// An exclusive advisory lock on the log directory, released when the process ends, even by
/// SIGKILL.
pub(crate) fn lock_dir(dir: &Path) -> Result<File, SequencerError> {
    use std::os::fd::AsRawFd as _;
    let f = File::open(dir).map_err(io_err(dir))?;
    // SAFETY: flock on a file descriptor we own; no memory is shared with the kernel.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(SequencerError::LogBusy {
                path: dir.to_owned(),
            });
        }
        return Err(io_err(dir)(e));
    }
    Ok(f)
}

/// Replaces the checkpoint with one that has the same text and more signatures
/// (cosignatures), under the log's lock. Refuses if the log moved on meanwhile.
pub fn replace_checkpoint_signatures(
    dir: &Path,
    expected_text: &str,
    bytes: &[u8],
) -> Result<bool, SequencerError> {
    let _lock = lock_dir(dir)?;
    let current = std::fs::read(dir.join(CHECKPOINT_FILE)).map_err(io_err(dir))?;
    let Ok(note) = crate::note::SignedNote::parse(&current) else {
        return Ok(false);
    };
    if note.text != expected_text {
        return Ok(false);
    }
    write_checkpoint(dir, bytes, Durability::Fsync)?;
    Ok(true)
}
