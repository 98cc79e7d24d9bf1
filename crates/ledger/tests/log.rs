//! The log on disk: appends, recovery after an unfinished batch, and corruption found and named.

use errandless_ledger::*;
use std::path::Path;

const ORIGIN: &str = "example.gov/ledger-test";

fn key() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, ALG_ED25519, [9; 32]).expect("valid name")
}

fn entries(from: u64, to: u64) -> Vec<Vec<u8>> {
    (from..to)
        .map(|i| format!("entry {i}").into_bytes())
        .collect()
}

fn log_of(n: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut seq = Sequencer::create(dir.path(), key())
        .expect("create")
        .with_durability(Durability::Unsynced);
    let mut at = 0;
    while at < n {
        let end = (at + 97).min(n);
        assert_eq!(seq.append(&entries(at, end)).expect("append"), at..end);
        at = end;
    }
    dir
}

fn verify(dir: &Path) -> Result<VerifyReport, VerifyError> {
    verify_log(dir, &key().verifier(), None, |_, _| {})
}

#[test]
fn appended_entries_verify_and_prove() {
    let dir = log_of(1000);
    let report = verify(dir.path()).expect("a fresh log verifies");
    assert_eq!(report.entries, 1000);
    for i in [0, 255, 256, 999] {
        let r = Receipt::prove(dir.path(), &key().verifier(), i).expect("receipt");
        let parsed = Receipt::parse(&r.to_text()).expect("round trip");
        let (_, e) = parsed
            .verify(&key().verifier(), None)
            .expect("verifies offline");
        assert_eq!(e, format!("entry {i}").into_bytes());
        assert!(parsed.verify(&key().verifier(), Some(b"forged")).is_err());
    }
    let reader = TileReader::new(dir.path(), 1000);
    assert!(reader.entry(999).is_ok());
    assert!(matches!(
        reader.entry(1000),
        Err(StorageError::Missing { .. })
    ));
    assert!(matches!(
        Receipt::prove(dir.path(), &key().verifier(), 1000),
        Err(ReceiptError::Proof(ProofError::IndexBeyondSize { .. }))
    ));
}

#[test]
fn reopening_continues_where_the_checkpoint_is() {
    let dir = log_of(300);
    let mut seq = Sequencer::open(dir.path(), key()).expect("reopen");
    assert_eq!(seq.size(), 300);
    seq.append(&entries(300, 600)).expect("append more");
    drop(seq);
    assert_eq!(verify(dir.path()).expect("verifies").entries, 600);
}

#[test]
fn a_second_appender_is_refused() {
    let dir = log_of(3);
    let _first = Sequencer::open(dir.path(), key()).expect("first");
    assert!(matches!(
        Sequencer::open(dir.path(), key()),
        Err(SequencerError::LogBusy { .. })
    ));
}

#[test]
fn an_unfinished_batch_is_overwritten_on_recovery() {
    let dir = log_of(300);
    // A batch that died before its checkpoint leaves torn files beyond the checkpoint's size:
    // full tiles and bundles, partial ones of other widths, a half-written checkpoint.
    for (path, data) in [
        ("tile/entries/001", &b"torn"[..]),
        ("tile/0/001", &[7u8; 100][..]),
        ("tile/0/002.p/5", &[7u8; 160][..]),
        ("tile/1/000.p/3", &[7u8; 96][..]),
        (".checkpoint.new", &b"half a checkp"[..]),
    ] {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        std::fs::write(p, data).expect("garbage");
    }
    assert_eq!(
        verify(dir.path())
            .expect("leftovers beyond the checkpoint are ignored")
            .entries,
        300
    );
    let mut seq = Sequencer::open(dir.path(), key()).expect("recovers");
    assert_eq!(seq.size(), 300);
    seq.append(&entries(300, 600)).expect("continues");
    drop(seq);
    assert_eq!(verify(dir.path()).expect("verifies").entries, 600);
    let r = Receipt::prove(dir.path(), &key().verifier(), 512).expect("receipt");
    assert_eq!(r.extra.as_deref(), Some(&b"entry 512"[..]));
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = std::fs::read(path).expect("file");
    b[at] ^= 0x20;
    std::fs::write(path, b).expect("write");
}

#[test]
fn corrupt_or_truncated_files_are_named() {
    let dir = log_of(600);
    let p = dir.path();

    flip_byte(&p.join("tile/0/001"), 40);
    match verify(p) {
        Err(VerifyError::TileMismatch {
            path,
            position,
            first_entry,
        }) => {
            assert_eq!(
                (path.as_str(), position, first_entry),
                ("tile/0/001", 1, 257)
            );
        }
        other => panic!("{other:?}"),
    }
    flip_byte(&p.join("tile/0/001"), 40);

    flip_byte(&p.join("tile/entries/000"), 5);
    match verify(p) {
        Err(VerifyError::TileMismatch { path, position, .. }) => {
            assert_eq!((path.as_str(), position), ("tile/0/000", 0))
        }
        other => panic!("{other:?}"),
    }
    flip_byte(&p.join("tile/entries/000"), 5);

    let bundle = std::fs::read(p.join("tile/entries/002.p/88")).expect("bundle");
    std::fs::write(p.join("tile/entries/002.p/88"), &bundle[..bundle.len() - 3]).expect("truncate");
    match verify(p) {
        Err(VerifyError::Storage(StorageError::TruncatedBundle { path, entry })) => {
            assert_eq!((path.as_str(), entry), ("tile/entries/002.p/88", 87))
        }
        other => panic!("{other:?}"),
    }
    std::fs::write(p.join("tile/entries/002.p/88"), &bundle).expect("restore");

    let tile = std::fs::read(p.join("tile/1/000.p/2")).expect("tile");
    std::fs::write(p.join("tile/1/000.p/2"), &tile[..40]).expect("truncate");
    match verify(p) {
        Err(VerifyError::Storage(StorageError::WrongLength {
            path,
            len: 40,
            want: 64,
        })) => {
            assert_eq!(path, "tile/1/000.p/2")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Sequencer::open(p, key()),
        Err(SequencerError::Storage(StorageError::WrongLength { .. }))
    ));
    std::fs::write(p.join("tile/1/000.p/2"), &tile).expect("restore");

    let cp = std::fs::read(p.join("checkpoint")).expect("checkpoint");
    std::fs::write(
        p.join("checkpoint"),
        String::from_utf8_lossy(&cp).replace("\n600\n", "\n601\n"),
    )
    .expect("tamper");
    assert!(matches!(
        verify(p),
        Err(VerifyError::Checkpoint {
            source: CheckpointError::Signature(_),
            ..
        })
    ));
    std::fs::write(p.join("checkpoint"), &cp[..20]).expect("truncate");
    assert!(matches!(verify(p), Err(VerifyError::Checkpoint { .. })));
    std::fs::write(p.join("checkpoint"), &cp).expect("restore");

    std::fs::remove_file(p.join("tile/0/000")).expect("remove");
    assert!(matches!(verify(p), Err(VerifyError::TileMissing { path }) if path == "tile/0/000"));
}

#[test]
fn wrong_key_and_foreign_origin_are_refused() {
    let dir = log_of(10);
    let impostor = NoteSigner::from_seed(ORIGIN, ALG_ED25519, [1; 32]).expect("name");
    assert!(matches!(
        verify_log(dir.path(), &impostor.verifier(), None, |_, _| {}),
        Err(VerifyError::Checkpoint {
            source: CheckpointError::Signature(_),
            ..
        })
    ));
    assert!(matches!(
        Sequencer::open(dir.path(), impostor),
        Err(SequencerError::Checkpoint(_))
    ));
    let foreign = NoteSigner::from_seed("example.gov/other", ALG_ED25519, [9; 32]).expect("name");
    assert!(matches!(
        verify_log(dir.path(), &foreign.verifier(), None, |_, _| {}),
        Err(VerifyError::Checkpoint {
            source: CheckpointError::ForeignOrigin { .. },
            ..
        })
    ));
}

#[test]
fn a_trusted_checkpoint_catches_rollback_and_forks() {
    let dir = log_of(500);
    let old = std::fs::read(dir.path().join("checkpoint")).expect("checkpoint");
    {
        let mut seq = Sequencer::open(dir.path(), key()).expect("open");
        seq.append(&entries(500, 700)).expect("append");
    }
    let r = verify_log(dir.path(), &key().verifier(), Some(&old), |_, _| {}).expect("consistent");
    assert_eq!(r.entries, 700);

    // A fork: the same key signs a different history of 600 entries.
    let fork = log_of(0);
    {
        let mut seq = Sequencer::open(fork.path(), key()).expect("open");
        seq.append(&entries(10_000, 10_600)).expect("append");
    }
    let forked = std::fs::read(fork.path().join("checkpoint")).expect("checkpoint");
    assert!(matches!(
        verify_log(dir.path(), &key().verifier(), Some(&forked), |_, _| {}),
        Err(VerifyError::Inconsistent {
            trusted: 600,
            size: 700,
            ..
        })
    ));
    let newer = std::fs::read(dir.path().join("checkpoint")).expect("checkpoint");
    assert!(matches!(
        verify_log(fork.path(), &key().verifier(), Some(&newer), |_, _| {}),
        Err(VerifyError::RolledBack {
            size: 600,
            trusted: 700
        })
    ));
}

#[test]
fn oversized_entries_are_refused_whole() {
    let dir = log_of(5);
    let mut seq = Sequencer::open(dir.path(), key()).expect("open");
    let big = vec![0u8; MAX_ENTRY_LEN + 1];
    assert!(matches!(
        seq.append(&[b"ok".to_vec(), big]),
        Err(SequencerError::EntryTooLarge { position: 1, .. })
    ));
    assert_eq!(seq.size(), 5);
}
