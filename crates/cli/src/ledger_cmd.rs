//! `errandless ledger`: create, append to, prove from, verify and audit the transparency log.
//!
//! Files, for a log directory `<dir>/<name>` (by default `<data>/ledger`):
//! - `<dir>/<name>/` holds only what may be published: `checkpoint` and `tile/...` (C2SP
//!   tlog-tiles), served read-only as they are;
//! - `<dir>/<name>.key` is the log's signing key (mode 0600, C2SP signed-note private key);
//! - `<dir>/<name>.subject-key` is the platform secret that hashes subjects' ID numbers
//!   (HMAC-SHA-256, mode 0600);
//! - `<dir>/<name>.vkey` is the log's public key, to hand to verifiers and witnesses;
//! - `<dir>/<name>.witnesses` (optional) lists witnesses, one `<witness vkey> <URL prefix>` a line.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{BufRead as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use errandless_ledger::{
    consistency_proof, read_witness_reply, replace_checkpoint_signatures, verify_log,
    AddCheckpoint, Durability, Entry, EntryRequest, NoteSigner, NoteVerifier, Receipt, Sequencer,
    SignedCheckpoint, SubjectKey, TileReader, WitnessRefusal, ALG_ED25519, CHECKPOINT_FILE,
};

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Create a log: its signing key (mode 0600), the subject secret (mode 0600) and the empty
    /// signed checkpoint. Prints the verifier key (C2SP signed-note vkey).
    Keygen {
        #[command(flatten)]
        log: LogDir,
        /// The log's origin line, e.g. "ledger.example.gov/province". Also the key's name.
        #[arg(long)]
        origin: String,
    },
    /// Append entries: one JSON object a line on stdin, with at least "kind" and "actor", and
    /// optionally "subject" (an ID number, hashed before it is logged), "purpose" and "body".
    /// Prints each entry's index once it is durable. Malformed lines are reported on stderr
    /// with their line number and skipped; the exit status is 1 if any line was refused.
    Append {
        #[command(flatten)]
        log: LogDir,
        /// Most entries integrated under one fsync.
        #[arg(long, default_value_t = 4096)]
        max_batch: usize,
    },
    /// Print the current checkpoint; with witnesses configured, have them cosign it first.
    Checkpoint {
        #[command(flatten)]
        log: LogDir,
        /// Witnesses to ask, one "<witness vkey> <URL prefix>" a line (default:
        /// <log>.witnesses beside the log, when it exists).
        #[arg(long, value_name = "FILE")]
        witnesses: Option<PathBuf>,
    },
    /// Print a c2sp.org/tlog-proof receipt for the entry at INDEX (the entry travels in its
    /// "extra" line), verifiable offline with the log's public key.
    Prove {
        #[command(flatten)]
        log: LogDir,
        #[arg(long)]
        index: u64,
    },
    /// Rebuild every tile and the root from the entry bundles and check the checkpoint, or
    /// check a receipt. Names the exact file, tile position or entry that is wrong.
    Verify {
        /// The log directory to verify (default: --log).
        dir: Option<PathBuf>,
        #[command(flatten)]
        log: LogDir,
        /// A checkpoint seen earlier; the log must be consistent with it.
        #[arg(long, value_name = "FILE")]
        trusted_checkpoint: Option<PathBuf>,
        /// The log's verifier key, or a file holding it (default: <log>.vkey beside the log).
        #[arg(long, value_name = "VKEY|FILE")]
        vkey: Option<String>,
        /// Check this receipt instead of a log directory; prints the entry it proves.
        #[arg(long, value_name = "FILE")]
        receipt: Option<PathBuf>,
    },
    /// Verify the log, then read every entry: counts by kind and actor, entries that are not
    /// canonical, and with --subject the indexes of the entries about one person.
    Audit {
        #[command(flatten)]
        log: LogDir,
        /// An ID number; lists the entries whose subject it is (needs the subject secret).
        #[arg(long)]
        subject: Option<String>,
    },
    /// Measure append, proof and verify speed on a fresh log and print the figures.
    Bench {
        /// Where to build the benchmark log (default: a new directory under the system's
        /// temporary directory, removed afterwards).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Entries in the log for the unsynced append, proof and verify figures.
        #[arg(long, default_value_t = 1_000_000)]
        entries: u64,
        /// Entries appended with fsync for the durable figure.
        #[arg(long, default_value_t = 200_000)]
        durable_entries: u64,
        /// Inclusion proofs to time.
        #[arg(long, default_value_t = 10_000)]
        proofs: u64,
        /// Size of each benchmark entry in bytes (a typical access record is about 150).
        #[arg(long, default_value_t = 150)]
        entry_bytes: usize,
    },
}

#[derive(Debug, Args)]
pub struct LogDir {
    /// The log directory (default: <data>/ledger).
    #[arg(long = "log", value_name = "DIR")]
    log: Option<PathBuf>,
}

impl LogDir {
    fn resolve(&self, data_dir: &Path) -> PathBuf {
        self.log.clone().unwrap_or_else(|| data_dir.join("ledger"))
    }
}

/// The secret and public files kept beside (never inside) a log directory.
struct KeyFiles {
    signing: PathBuf,
    subject: PathBuf,
    vkey: PathBuf,
    witnesses: PathBuf,
}

fn key_files(log: &Path) -> KeyFiles {
    let name = log
        .file_name()
        .map_or_else(|| "ledger".into(), |n| n.to_string_lossy().into_owned());
    let parent = log
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    KeyFiles {
        signing: parent.join(format!("{name}.key")),
        subject: parent.join(format!("{name}.subject-key")),
        vkey: parent.join(format!("{name}.vkey")),
        witnesses: parent.join(format!("{name}.witnesses")),
    }
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("while creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

pub(crate) fn load_signer(log: &Path) -> anyhow::Result<NoteSigner> {
    let path = key_files(log).signing;
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "while reading the log's signing key {} (create it with `errandless ledger keygen`)",
            path.display()
        )
    })?;
    NoteSigner::from_private_key(&text)
        .with_context(|| format!("while reading the signing key {}", path.display()))
}

pub(crate) fn load_subject_key(log: &Path) -> anyhow::Result<SubjectKey> {
    let path = key_files(log).subject;
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("while reading the subject secret {}", path.display()))?;
    let bytes: Vec<u8> = (0..text.trim().len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(text.trim().get(i..i + 2)?, 16).ok())
        .collect();
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{} is not 64 hexadecimal digits", path.display()))?;
    Ok(SubjectKey::from_bytes(bytes))
}

pub(crate) fn load_verifier(log: &Path, vkey: Option<&str>) -> anyhow::Result<NoteVerifier> {
    let text = match vkey {
        Some(v) if NoteVerifier::from_vkey(v).is_ok() => v.to_owned(),
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("while reading the verifier key file {file}"))?,
        None => {
            let path = key_files(log).vkey;
            std::fs::read_to_string(&path)
                .with_context(|| format!("while reading {} (or pass --vkey)", path.display()))?
        }
    };
    NoteVerifier::from_vkey(text.trim()).context("while reading the log's verifier key")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn run(cmd: LedgerCommand, data_dir: &Path) -> anyhow::Result<ExitCode> {
    match cmd {
        LedgerCommand::Keygen { log, origin } => keygen(&log.resolve(data_dir), &origin),
        LedgerCommand::Append { log, max_batch } => append(&log.resolve(data_dir), max_batch),
        LedgerCommand::Checkpoint { log, witnesses } => {
            checkpoint(&log.resolve(data_dir), witnesses.as_deref())
        }
        LedgerCommand::Prove { log, index } => {
            let dir = log.resolve(data_dir);
            let verifier = load_verifier(&dir, None)?;
            let receipt = Receipt::prove(&dir, &verifier, index)
                .with_context(|| format!("while proving entry {index} of {}", dir.display()))?;
            std::io::stdout().write_all(&receipt.to_text())?;
            Ok(ExitCode::SUCCESS)
        }
        LedgerCommand::Verify {
            dir,
            log,
            trusted_checkpoint,
            vkey,
            receipt,
        } => {
            let log_dir = dir.unwrap_or_else(|| log.resolve(data_dir));
            let verifier = load_verifier(&log_dir, vkey.as_deref())?;
            match receipt {
                Some(file) => verify_receipt(&file, &verifier),
                None => verify(&log_dir, &verifier, trusted_checkpoint.as_deref()),
            }
        }
        LedgerCommand::Audit { log, subject } => audit(&log.resolve(data_dir), subject.as_deref()),
        LedgerCommand::Bench {
            dir,
            entries,
            durable_entries,
            proofs,
            entry_bytes,
        } => bench(dir, entries, durable_entries, proofs, entry_bytes),
    }
}

fn keygen(log: &Path, origin: &str) -> anyhow::Result<ExitCode> {
    let vkey = create_log(log, origin)?;
    println!("{vkey}");
    Ok(ExitCode::SUCCESS)
}

/// Whether the log at `log` has its signing key beside it.
pub(crate) fn has_signing_key(log: &Path) -> bool {
    key_files(log).signing.exists()
}

/// Creates a log as `errandless ledger keygen` does: the signing key and the subject secret
/// (mode 0600), the verifier key and the empty signed checkpoint. Returns the verifier key.
pub(crate) fn create_log(log: &Path, origin: &str) -> anyhow::Result<String> {
    let files = key_files(log);
    if log.join(CHECKPOINT_FILE).exists() {
        bail!("{} already holds a log", log.display());
    }
    for p in [&files.signing, &files.subject] {
        if p.exists() {
            bail!("{} exists; refusing to replace a key", p.display());
        }
    }
    let signer = NoteSigner::generate(origin, ALG_ED25519).context("while checking the origin")?;
    let vkey = signer.verifier().to_vkey();
    if let Some(parent) = files.signing.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("while creating {}", parent.display()))?;
    }
    write_secret(&files.signing, &format!("{}\n", signer.to_private_key()))?;
    let secret: String = SubjectKey::generate()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    write_secret(&files.subject, &format!("{secret}\n"))?;
    std::fs::write(&files.vkey, format!("{vkey}\n"))
        .with_context(|| format!("while writing {}", files.vkey.display()))?;
    Sequencer::create(log, signer)
        .with_context(|| format!("while creating the log in {}", log.display()))?;
    Ok(vkey)
}

fn append(log: &Path, max_batch: usize) -> anyhow::Result<ExitCode> {
    let signer = load_signer(log)?;
    let subject_key = load_subject_key(log)?;
    let mut seq = Sequencer::open(log, signer)
        .with_context(|| format!("while opening the log {}", log.display()))?;
    let (tx, rx) = mpsc::sync_channel::<(u64, std::io::Result<String>)>(max_batch.max(1) * 2);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for (i, line) in stdin.lock().lines().enumerate() {
            if tx.send((i as u64 + 1, line)).is_err() {
                break;
            }
        }
    });
    let mut rejected = 0u64;
    let mut stdout = std::io::stdout().lock();
    // Each batch takes whatever lines are waiting, so a pipe is integrated in large batches
    // under one fsync while a person typing gets each line acknowledged at once.
    while let Ok(first) = rx.recv() {
        let mut lines = vec![first];
        while lines.len() < max_batch {
            match rx.try_recv() {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        let time = now();
        let mut batch = Vec::with_capacity(lines.len());
        for (line_no, line) in lines {
            let line = line.with_context(|| format!("while reading line {line_no} of stdin"))?;
            if line.trim().is_empty() {
                continue;
            }
            let entry = EntryRequest::from_json(&line)
                .and_then(|r| r.into_entry(&subject_key, time))
                .and_then(|e| e.to_bytes());
            match entry {
                Ok(bytes) => batch.push(bytes),
                Err(e) => {
                    rejected += 1;
                    eprintln!("line {line_no}: refused: {e}");
                }
            }
        }
        let indexes = seq
            .append(&batch)
            .with_context(|| format!("while appending to {}", log.display()))?;
        for index in indexes {
            writeln!(stdout, "{index}")?;
        }
        stdout.flush()?;
    }
    if rejected > 0 {
        eprintln!("{rejected} line(s) refused; the others were logged");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn checkpoint(log: &Path, witnesses: Option<&Path>) -> anyhow::Result<ExitCode> {
    let verifier = load_verifier(log, None)?;
    let bytes = std::fs::read(log.join(CHECKPOINT_FILE))
        .with_context(|| format!("while reading the checkpoint of {}", log.display()))?;
    let mut signed = SignedCheckpoint::verify(&bytes, &verifier)
        .with_context(|| format!("while checking {}/checkpoint", log.display()))?;
    let list = witnesses
        .map(Path::to_owned)
        .or_else(|| Some(key_files(log).witnesses).filter(|p| p.exists()));
    let mut status = ExitCode::SUCCESS;
    if let Some(list) = list {
        let text = std::fs::read_to_string(&list)
            .with_context(|| format!("while reading the witness list {}", list.display()))?;
        let mut added = 0;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (vkey, url) = line.split_once(char::is_whitespace).with_context(|| {
                format!("{} line {}: want '<vkey> <URL>'", list.display(), n + 1)
            })?;
            let witness = NoteVerifier::from_vkey(vkey)
                .with_context(|| format!("{} line {}: witness key", list.display(), n + 1))?;
            match cosign(log, &signed, &witness, url.trim()) {
                Ok(sig) => {
                    signed.note.add_signature(sig);
                    added += 1;
                }
                Err(e) => {
                    eprintln!("witness {}: {e:#}", witness.name());
                    status = ExitCode::FAILURE;
                }
            }
        }
        if added > 0 {
            let replaced =
                replace_checkpoint_signatures(log, &signed.note.text, &signed.to_bytes())
                    .context("while storing the cosigned checkpoint")?;
            if !replaced {
                eprintln!("the log moved on while witnesses cosigned; cosignatures not stored");
            }
        }
    }
    std::io::stdout().write_all(&signed.to_bytes())?;
    Ok(status)
}

/// C2SP tlog-witness client: submit with old size 0 to learn the witness's size (409), then
/// with a consistency proof from there.
fn cosign(
    log: &Path,
    signed: &SignedCheckpoint,
    witness: &NoteVerifier,
    url: &str,
) -> anyhow::Result<errandless_ledger::NoteSignature> {
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let size = signed.checkpoint.size;
    let mut old = 0u64;
    for _attempt in 0..3 {
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            consistency_proof(&TileReader::new(log, size), old, size)
                .context("while reading tiles for a consistency proof")?
                .context("while building a consistency proof")?
        };
        let body = AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: signed.to_bytes(),
        }
        .to_bytes();
        let (status, reply) = match ureq::post(&endpoint)
            .set("Content-Type", "text/plain; charset=utf-8")
            .send_bytes(&body)
        {
            Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
            Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
            Err(e) => return Err(e).with_context(|| format!("while posting to {endpoint}")),
        };
        match read_witness_reply(status, reply.as_bytes(), &signed.note.text, witness) {
            Ok(sig) => return Ok(sig),
            Err(WitnessRefusal::Conflict { size: theirs }) if theirs != old && theirs <= size => {
                old = theirs;
            }
            Err(e) => return Err(e.into()),
        }
    }
    bail!("the witness kept answering 409 Conflict")
}

fn verify(log: &Path, verifier: &NoteVerifier, trusted: Option<&Path>) -> anyhow::Result<ExitCode> {
    let trusted = trusted
        .map(|p| std::fs::read(p).with_context(|| format!("while reading {}", p.display())))
        .transpose()?;
    let started = Instant::now();
    match verify_log(log, verifier, trusted.as_deref(), |_, _| {}) {
        Ok(report) => {
            println!(
                "ok: {} entries, {} tiles, root {} verified in {:.1?}",
                report.entries,
                report.tiles,
                report.checkpoint.checkpoint.root,
                started.elapsed()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {e}", log.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn verify_receipt(file: &Path, verifier: &NoteVerifier) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("while reading {}", file.display()))?;
    let result = Receipt::parse(&bytes).and_then(|r| {
        let index = r.index;
        r.verify(verifier, None)
            .map(|(cp, entry)| (index, cp, entry))
    });
    match result {
        Ok((index, cp, entry)) => {
            println!(
                "ok: entry {index} is in {} at size {}",
                cp.checkpoint.origin, cp.checkpoint.size
            );
            println!("{}", String::from_utf8_lossy(&entry));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

fn audit(log: &Path, subject: Option<&str>) -> anyhow::Result<ExitCode> {
    let verifier = load_verifier(log, None)?;
    let tag = subject
        .map(|id| load_subject_key(log).map(|k| k.tag(id)))
        .transpose()?;
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut actors: BTreeMap<String, u64> = BTreeMap::new();
    let mut bad: Vec<(u64, String)> = Vec::new();
    let mut about: Vec<u64> = Vec::new();
    let result = verify_log(
        log,
        &verifier,
        None,
        |index, bytes| match Entry::from_bytes(bytes) {
            Ok(e) => {
                *kinds.entry(e.kind.to_string()).or_default() += 1;
                *actors.entry(e.actor.clone()).or_default() += 1;
                if tag.is_some() && e.subject == tag {
                    about.push(index);
                }
            }
            Err(err) => bad.push((index, err.to_string())),
        },
    );
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", log.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "log {} verified: {} entries, root {}",
        report.checkpoint.checkpoint.origin, report.entries, report.checkpoint.checkpoint.root
    );
    let cosigners = report.checkpoint.note.signatures.len().saturating_sub(1);
    println!("checkpoint signatures besides the log's: {cosigners}");
    println!("by kind:");
    for (k, n) in &kinds {
        println!("  {k}: {n}");
    }
    println!("by actor:");
    for (a, n) in &actors {
        println!("  {a}: {n}");
    }
    if let Some(id) = subject {
        let _ = id; // never printed: the audit output may be shared
        println!("entries about the given subject: {about:?}");
    }
    for (index, err) in &bad {
        eprintln!("entry {index}: not a valid ledger entry: {err}");
    }
    Ok(if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bench(
    dir: Option<PathBuf>,
    entries: u64,
    durable_entries: u64,
    proofs: u64,
    entry_bytes: usize,
) -> anyhow::Result<ExitCode> {
    let temp;
    let root = match dir {
        Some(d) => {
            std::fs::create_dir_all(&d)?;
            d
        }
        None => {
            temp = TempDir::new()?;
            temp.0.clone()
        }
    };
    // Distinct entries of the requested size: the index, zero-padded.
    let sample = |i: u64| -> Vec<u8> { format!("{i:0entry_bytes$}").into_bytes() };
    let key = || NoteSigner::generate("bench.errandless.invalid/log", ALG_ED25519);

    // 1. Batched append without fsync.
    let big = root.join("unsynced");
    let big_key = key()?;
    let big_vkey = big_key.verifier();
    let mut seq = Sequencer::create(&big, big_key)?.with_durability(Durability::Unsynced);
    let batch = 65_536u64;
    let mut buf: Vec<Vec<u8>> = Vec::with_capacity(batch as usize);
    let mut spent = std::time::Duration::ZERO;
    let mut on_cpu = std::time::Duration::ZERO;
    let mut at = 0u64;
    while at < entries {
        let end = (at + batch).min(entries);
        buf.clear();
        buf.extend((at..end).map(sample));
        let (t, c) = (Instant::now(), thread_cpu_time());
        seq.append(&buf)?;
        spent += t.elapsed();
        on_cpu += thread_cpu_time().saturating_sub(c);
        at = end;
    }
    drop(seq);
    println!(
        "append, batched, no fsync: {entries} entries in {:.2?} = {:.0} entries/s; \
         {:.2?} on the CPU = {:.0} entries per CPU-second",
        spent,
        entries as f64 / spent.as_secs_f64(),
        on_cpu,
        entries as f64 / on_cpu.as_secs_f64().max(f64::MIN_POSITIVE)
    );

    // 2. Durable append with batched fsync.
    let durable = root.join("durable");
    let mut seq = Sequencer::create(&durable, key()?)?;
    let batch = 8192u64;
    let t = Instant::now();
    let mut at = 0u64;
    while at < durable_entries {
        let end = (at + batch).min(durable_entries);
        let buf: Vec<Vec<u8>> = (at..end).map(sample).collect();
        seq.append(&buf)?;
        at = end;
    }
    let spent = t.elapsed();
    drop(seq);
    println!(
        "append, durable (fsync per batch of {batch}): {durable_entries} entries in {spent:.2?} = {:.0} entries/s",
        durable_entries as f64 / spent.as_secs_f64()
    );

    // 3. Inclusion proofs from tiles, warm (the tiles in the page cache and the reader's
    // bounded tile cache).
    let size = entries;
    let reader = TileReader::new(&big, size);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next_index = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % size.max(1)
    };
    if size > 0 && proofs > 0 {
        for _ in 0..proofs {
            let _ = errandless_ledger::inclusion_proof(&reader, next_index(), size)?;
        }
        let t = Instant::now();
        for _ in 0..proofs {
            let p = errandless_ledger::inclusion_proof(&reader, next_index(), size)??;
            std::hint::black_box(&p);
        }
        let per = t.elapsed() / u32::try_from(proofs).unwrap_or(u32::MAX);
        println!("inclusion proof from tiles, warm, tree of {size}: {per:.1?} per proof");
    }

    // 4. Verify: every tile and the root rebuilt from the entry bundles.
    let (t, c) = (Instant::now(), thread_cpu_time());
    let report = verify_log(&big, &big_vkey, None, |_, _| {})?;
    println!(
        "verify of {} entries from the bundles: {:.2?} ({:.2?} on the CPU)",
        report.entries,
        t.elapsed(),
        thread_cpu_time().saturating_sub(c)
    );
    Ok(ExitCode::SUCCESS)
}

/// CPU time this thread has run (Linux `/proc/thread-self/schedstat`, nanoseconds), so that
/// figures taken on a busy machine can be read per core; zero where it is not available.
fn thread_cpu_time() -> std::time::Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(std::time::Duration::ZERO, std::time::Duration::from_nanos)
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<TempDir> {
        let p =
            std::env::temp_dir().join(format!("errandless-ledger-bench-{}", std::process::id()));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(subcommand)]
        cmd: LedgerCommand,
    }

    #[test]
    fn the_arguments_are_well_formed() {
        use clap::CommandFactory as _;
        Wrapper::command().debug_assert();
        let w = Wrapper::parse_from(["x", "verify", "some/dir", "--trusted-checkpoint", "cp"]);
        assert!(matches!(w.cmd, LedgerCommand::Verify { dir: Some(_), .. }));
    }

    #[test]
    fn keys_live_beside_the_published_directory() {
        let k = key_files(Path::new("data/ledger"));
        assert_eq!(k.signing, Path::new("data/ledger.key"));
        assert_eq!(k.subject, Path::new("data/ledger.subject-key"));
        let k = key_files(Path::new("ledger"));
        assert_eq!(k.vkey, Path::new("./ledger.vkey"));
    }
}
