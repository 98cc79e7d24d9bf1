//! Cross-checks with an independent implementation: Cloudflare's `tlog_tiles` and
//! `signed_note` (ports of Go's golang.org/x/mod/sumdb), which read C2SP formats.

use errandless_ledger as ledger;
use errandless_ledger::{Durability, NoteSigner, NoteVerifier, Sequencer, ALG_ED25519};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{HashReader, TileHashReader};

struct DirTiles(std::path::PathBuf);

impl tlog_tiles::TileReader for DirTiles {
    fn height(&self) -> u8 {
        8
    }
    fn read_tiles(&self, tiles: &[tlog_tiles::Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                // Their paths are sumdb's tile/8/L/N; C2SP tlog-tiles drops the height.
                let path =
                    ledger::tile_path(u32::from(t.level()), t.level_index(), u64::from(t.width()));
                std::fs::read(self.0.join(path)).map_err(|_| tlog_tiles::Error::InvalidTile)
            })
            .collect()
    }
    fn save_tiles(&self, _: &[tlog_tiles::Tile], _: &[Vec<u8>]) {}
}

fn their_hash(h: &ledger::Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(h.0)
}

fn our_hash(h: &tlog_tiles::Hash) -> ledger::Hash {
    ledger::Hash(h.0)
}

fn build_log(n: u64) -> (tempfile::TempDir, NoteVerifier, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = NoteSigner::generate("example.gov/interop", ALG_ED25519).expect("name");
    let vkey = key.verifier();
    let mut seq = Sequencer::create(dir.path(), key)
        .expect("new log")
        .with_durability(Durability::Unsynced);
    let entries: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
    // Uneven batches, so partial tiles of many widths are written and replaced.
    let mut at = 0usize;
    let mut step = 1usize;
    while at < entries.len() {
        let end = (at + step).min(entries.len());
        seq.append(&entries[at..end]).expect("append");
        at = end;
        step = step * 3 % 1000 + 1;
    }
    (dir, vkey, entries)
}

#[test]
fn they_verify_our_checkpoint_tiles_and_proofs() {
    let n = 70_000;
    let (dir, vkey, entries) = build_log(n);
    let bytes = std::fs::read(dir.path().join("checkpoint")).expect("checkpoint");

    // signed_note verifies our signature with our vkey.
    let verifier = StandardVerifier::new(&vkey.to_vkey()).expect("their parser takes our vkey");
    let note = Note::from_bytes(&bytes).expect("their parser takes our note");
    note.verify(&VerifierList::new(vec![Box::new(verifier)]))
        .expect("our signature verifies");
    let cp =
        tlog_tiles::Checkpoint::from_bytes(note.text()).expect("their parser takes our checkpoint");
    assert_eq!(cp.size(), n);

    // tlog_tiles reads our tiles, authenticating each against the checkpoint's root.
    let tiles = DirTiles(dir.path().to_owned());
    let reader = TileHashReader::new(cp.size(), *cp.hash(), &tiles);
    assert_eq!(
        tlog_tiles::tree_hash(n, &reader).expect("root from tiles"),
        *cp.hash()
    );
    for index in [0, 1, 255, 256, 65_535, 65_536, 69_999] {
        let proof =
            tlog_tiles::prove_record(n, index, &reader).expect("their proof from our tiles");
        let leaf = tlog_tiles::record_hash(&entries[index as usize]);
        tlog_tiles::check_record(&proof, n, *cp.hash(), index, leaf).expect("their check");
        // Our receipt's proof verifies with their checker too.
        let receipt = ledger::Receipt::prove(dir.path(), &vkey, index).expect("our receipt");
        let ours: Vec<tlog_tiles::Hash> = receipt.proof.iter().map(their_hash).collect();
        tlog_tiles::check_record(&ours, n, *cp.hash(), index, leaf)
            .expect("our proof, their check");
    }
    // Consistency: our proof between two sizes passes their check.
    let ours = ledger::TileReader::new(dir.path(), n);
    for old in [1, 255, 256, 1000, 65_536] {
        let old_root = ledger::range_hash(&ours, 0, old).expect("old root");
        assert_eq!(
            tlog_tiles::tree_hash(old, &reader).expect("their old root"),
            their_hash(&old_root)
        );
        let proof: Vec<tlog_tiles::Hash> = ledger::consistency_proof(&ours, old, n)
            .expect("tiles readable")
            .expect("sizes in order")
            .iter()
            .map(their_hash)
            .collect();
        tlog_tiles::check_tree(&proof, n, *cp.hash(), old, their_hash(&old_root))
            .expect("their check");
    }
}

struct Stored(Vec<tlog_tiles::Hash>);

impl HashReader for Stored {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
    }
}

#[test]
fn we_verify_their_proofs_and_checkpoints() {
    let mut stored = Stored(Vec::new());
    let n = 1000u64;
    for i in 0..n {
        let hashes =
            tlog_tiles::stored_hashes(i, format!("rec {i}").as_bytes(), &stored).expect("store");
        stored.0.extend(hashes);
    }
    let root = tlog_tiles::tree_hash(n, &stored).expect("their root");
    for index in [0u64, 1, 500, 999] {
        let proof = tlog_tiles::prove_record(n, index, &stored).expect("their proof");
        let proof: Vec<ledger::Hash> = proof.iter().map(our_hash).collect();
        ledger::verify_inclusion(
            index,
            n,
            &ledger::leaf_hash(format!("rec {index}").as_bytes()),
            &proof,
            &our_hash(&root),
        )
        .expect("we verify their inclusion proof");
    }
    for old in [1u64, 2, 3, 512, 999] {
        let old_root = tlog_tiles::tree_hash(old, &stored).expect("their old root");
        let proof = tlog_tiles::prove_tree(n, old, &stored).expect("their proof");
        let proof: Vec<ledger::Hash> = proof.iter().map(our_hash).collect();
        ledger::verify_consistency(old, n, &our_hash(&old_root), &our_hash(&root), &proof)
            .expect("we verify their consistency proof");
    }

    // A checkpoint they format and sign verifies with our parser.
    let (skey, vkey) = signed_note::generate_key(&mut rand_core_rng(), "example.gov/theirs");
    let signer = signed_note::StandardSigner::new(&skey).expect("their signer");
    let cp = tlog_tiles::Checkpoint::new("example.gov/theirs", n, root, "").expect("checkpoint");
    let mut note = Note::new(&cp.to_bytes(), &[]).expect("note");
    note.add_sigs(&[&signer]).expect("sign");
    let ours = NoteVerifier::from_vkey(&vkey).expect("we read their vkey");
    let signed = ledger::SignedCheckpoint::verify(&note.to_bytes(), &ours)
        .expect("we verify their checkpoint");
    assert_eq!(signed.checkpoint.size, n);
    assert_eq!(signed.checkpoint.root, our_hash(&root));
    // Their private key format is ours too.
    assert_eq!(
        NoteSigner::from_private_key(&skey)
            .expect("same format")
            .verifier(),
        ours
    );
}

fn rand_core_rng() -> impl rand_core::CryptoRng + rand_core::RngCore {
    rand_core::OsRng
}

#[test]
fn the_c2sp_example_key_and_note_verify_with_both() {
    let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let msg = "If you think cryptography is the answer to your problem,\n\
               then you don't know what your problem is.\n\
               \n\
               \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    let ours = ledger::SignedNote::parse(msg.as_bytes()).expect("we parse it");
    ours.verify(&NoteVerifier::from_vkey(vkey).expect("we read the vkey"))
        .expect("we verify it");
    let theirs = Note::from_bytes(msg.as_bytes()).expect("they parse it");
    theirs
        .verify(&VerifierList::new(vec![Box::new(
            StandardVerifier::new(vkey).expect("vkey"),
        )]))
        .expect("they verify it");
}

#[test]
fn they_verify_our_witness_cosignature_key_id() {
    // tlog-cosignature key IDs use type 0x04; signed_note computes key IDs the same way.
    let w = NoteSigner::generate("witness.example/w1", ledger::ALG_COSIGNATURE_V1).expect("name");
    let v = w.verifier();
    let raw = base64_decode(v.to_vkey().splitn(3, '+').nth(2).expect("key"));
    assert_eq!(raw[0], 0x04);
    assert_eq!(signed_note::key_id("witness.example/w1", &raw), v.key_id());
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64")
}

/// The README's walk-through: a receipt from `errandless ledger prove` checked with nothing
/// but the outside crates and the log's vkey.
fn verify_receipt_with_outside_crates(receipt: &[u8], vkey: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = std::str::from_utf8(receipt).map_err(|e| e.to_string())?;
    let (head, note) = text.split_once("\n\n").ok_or("no blank line")?;
    let mut lines = head.lines();
    if lines.next() != Some("c2sp.org/tlog-proof@v1") {
        return Err("not a tlog-proof".into());
    }
    let entry = b64
        .decode(
            lines
                .next()
                .and_then(|l| l.strip_prefix("extra "))
                .ok_or("no extra")?,
        )
        .map_err(|e| e.to_string())?;
    let index: u64 = lines
        .next()
        .and_then(|l| l.strip_prefix("index "))
        .ok_or("no index")?
        .parse()
        .map_err(|e: std::num::ParseIntError| e.to_string())?;
    let proof = lines
        .map(|l| tlog_tiles::Hash::parse_hash(l).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let verifier = StandardVerifier::new(vkey).map_err(|e| e.to_string())?;
    let note = Note::from_bytes(note.as_bytes()).map_err(|e| e.to_string())?;
    note.verify(&VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| e.to_string())?;
    let cp = tlog_tiles::Checkpoint::from_bytes(note.text()).map_err(|e| e.to_string())?;
    let origin = vkey.split('+').next().unwrap_or_default();
    if cp.origin() != origin {
        return Err("foreign origin".into());
    }
    tlog_tiles::check_record(
        &proof,
        cp.size(),
        *cp.hash(),
        index,
        tlog_tiles::record_hash(&entry),
    )
    .map_err(|e| e.to_string())?;
    Ok(entry)
}

#[test]
fn our_receipts_verify_with_outside_crates_only() {
    let (dir, vkey, entries) = build_log(600);
    for index in [0u64, 299, 599] {
        let receipt = ledger::Receipt::prove(dir.path(), &vkey, index)
            .expect("receipt")
            .to_text();
        let entry =
            verify_receipt_with_outside_crates(&receipt, &vkey.to_vkey()).expect("verifies");
        assert_eq!(entry, entries[index as usize]);
        let mut forged = receipt.clone();
        let at = forged.len() / 3;
        forged[at] ^= 1;
        assert!(verify_receipt_with_outside_crates(&forged, &vkey.to_vkey()).is_err());
    }
    let other = NoteSigner::generate("example.gov/interop", ALG_ED25519).expect("name");
    let receipt = ledger::Receipt::prove(dir.path(), &vkey, 1)
        .expect("receipt")
        .to_text();
    assert!(verify_receipt_with_outside_crates(&receipt, &other.verifier().to_vkey()).is_err());
}
