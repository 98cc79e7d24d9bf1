//! The recorder: one thread that owns the ledger's [`Sequencer`] and appends with group commit.
//!
//! Callers hand it entries over a channel and wait for their indexes. The thread takes one
//! job, then everything else already waiting, appends it all as one batch with one fsync (the
//! sequencer's durable append), and only then answers each waiter with its indexes. So many
//! concurrent reads share one fsync, and none is answered before its entry is durable.
//!
//! The thread holds the ledger's lock only while it appends a batch. Other writers of the same
//! process (the outboxes of payments, decisions and cases) append through
//! [`Recorder::ledger`] under the same lock, so the log has one writer at a time.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use errandless_ledger::{Sequencer, MAX_ENTRY_LEN};
use tokio::sync::oneshot;

/// Entries in one batch at most, so one fsync never waits on an unbounded backlog.
const MAX_BATCH: usize = 4096;

/// The ledger could not record entries.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("entry {position} has {len} bytes; entries are limited to {MAX_ENTRY_LEN}")]
    EntryTooLarge { position: usize, len: usize },
    #[error("the ledger refused the batch: {0}")]
    Append(String),
    #[error("the recorder has stopped")]
    Stopped,
}

struct Job {
    entries: Vec<Vec<u8>>,
    /// Told the indexes the entries will take as soon as their batch is formed.
    placed: Option<oneshot::Sender<Range<u64>>>,
    reply: oneshot::Sender<Result<Range<u64>, RecorderError>>,
}

/// Entries handed to the recorder: where they will be, and then whether they are durable.
pub struct Placement {
    placed: oneshot::Receiver<Range<u64>>,
    durable: oneshot::Receiver<Result<Range<u64>, RecorderError>>,
}

impl Placement {
    /// The indexes the entries take if their batch becomes durable, known before the batch's
    /// fsync: a caller may write what refers to them while the fsync runs, and must take it
    /// back if [`Placement::durable`] fails.
    pub async fn placed(&mut self) -> Result<Range<u64>, RecorderError> {
        (&mut self.placed).await.map_err(|_| RecorderError::Stopped)
    }

    /// The entries' indexes once they are durable.
    pub async fn durable(self) -> Result<Range<u64>, RecorderError> {
        self.durable.await.map_err(|_| RecorderError::Stopped)?
    }
}

/// A handle on the recorder thread. Dropping it lets the thread finish what is queued and
/// waits for it, so the ledger's directory lock is released when this returns.
pub struct Recorder {
    ledger: Arc<tokio::sync::Mutex<Sequencer>>,
    jobs: Option<mpsc::Sender<Job>>,
    size: Arc<AtomicU64>,
    batches: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Starts the thread `Recorder`, which appends to `ledger` from now on.
    pub fn spawn(ledger: Sequencer) -> Recorder {
        let size = Arc::new(AtomicU64::new(ledger.size()));
        let ledger = Arc::new(tokio::sync::Mutex::new(ledger));
        let (jobs, queue) = mpsc::channel::<Job>();
        let batches = Arc::new(AtomicU64::new(0));
        let (published, appended) = (Arc::clone(&size), Arc::clone(&batches));
        let shared = Arc::clone(&ledger);
        let thread = std::thread::Builder::new()
            .name("Recorder".into())
            .spawn(move || run(&shared, &queue, &published, &appended))
            .expect("the operating system starts a thread");
        Recorder {
            ledger,
            jobs: Some(jobs),
            size,
            batches,
            thread: Some(thread),
        }
    }

    /// The ledger itself, for the other writers of this process: lock it, append, release.
    /// Nothing may wait for this recorder while holding the lock.
    pub fn ledger(&self) -> Arc<tokio::sync::Mutex<Sequencer>> {
        Arc::clone(&self.ledger)
    }

    /// Entries in the ledger, all durable, whoever appended them; while the ledger is busy
    /// with an append, the size after the recorder's latest batch.
    pub fn size(&self) -> u64 {
        match self.ledger.try_lock() {
            Ok(ledger) => ledger.size(),
            Err(_) => self.size.load(Ordering::SeqCst),
        }
    }

    /// Batches appended so far: each one fsync, however many entries it held.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::SeqCst)
    }

    fn submit(
        &self,
        entries: Vec<Vec<u8>>,
        placed: Option<oneshot::Sender<Range<u64>>>,
    ) -> Result<oneshot::Receiver<Result<Range<u64>, RecorderError>>, RecorderError> {
        if let Some((position, e)) = entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.len() > MAX_ENTRY_LEN)
        {
            return Err(RecorderError::EntryTooLarge {
                position,
                len: e.len(),
            });
        }
        let (reply, answer) = oneshot::channel();
        self.jobs
            .as_ref()
            .ok_or(RecorderError::Stopped)?
            .send(Job {
                entries,
                placed,
                reply,
            })
            .map_err(|_| RecorderError::Stopped)?;
        Ok(answer)
    }

    /// Appends `entries` together, in order, and returns their indexes once they are durable.
    /// They share their batch (and its one fsync) with whatever else is waiting.
    pub async fn append(&self, entries: Vec<Vec<u8>>) -> Result<Range<u64>, RecorderError> {
        self.submit(entries, None)?
            .await
            .map_err(|_| RecorderError::Stopped)?
    }

    /// Appends `entries` like [`append`](Self::append), telling their indexes as soon as their
    /// batch is formed ([`Placement`]).
    pub fn append_placed(&self, entries: Vec<Vec<u8>>) -> Result<Placement, RecorderError> {
        let (placed, told) = oneshot::channel();
        let durable = self.submit(entries, Some(placed))?;
        Ok(Placement {
            placed: told,
            durable,
        })
    }

    /// [`append`](Self::append) for code outside an async runtime.
    pub fn append_blocking(&self, entries: Vec<Vec<u8>>) -> Result<Range<u64>, RecorderError> {
        self.submit(entries, None)?
            .blocking_recv()
            .map_err(|_| RecorderError::Stopped)?
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's loop: wait for a job, gather what else waits, append once, answer everyone.
fn run(
    shared: &tokio::sync::Mutex<Sequencer>,
    queue: &mpsc::Receiver<Job>,
    size: &AtomicU64,
    batches: &AtomicU64,
) {
    while let Ok(first) = queue.recv() {
        let mut count = first.entries.len();
        let mut batch = vec![first];
        while count < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => {
                    count += job.entries.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        // This thread is no task of a runtime, so it may wait for the lock.
        let mut ledger = shared.blocking_lock();
        let mut next = ledger.size();
        for job in &mut batch {
            let end = next + job.entries.len() as u64;
            if let Some(placed) = job.placed.take() {
                let _ = placed.send(next..end);
            }
            next = end;
        }
        let entries: Vec<&[u8]> = batch
            .iter()
            .flat_map(|j| j.entries.iter().map(Vec::as_slice))
            .collect();
        match ledger.append(&entries) {
            Ok(range) => {
                size.store(ledger.size(), Ordering::SeqCst);
                batches.fetch_add(1, Ordering::SeqCst);
                let mut next = range.start;
                for job in batch {
                    let end = next + job.entries.len() as u64;
                    let _ = job.reply.send(Ok(next..end));
                    next = end;
                }
            }
            Err(e) => {
                let error = RecorderError::Append(e.to_string());
                for job in batch {
                    let _ = job.reply.send(Err(error.clone()));
                }
            }
        }
    }
}
