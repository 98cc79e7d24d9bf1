//! Parsers of outside input never panic, whatever bytes they are given, and proofs read from
//! tiles on disk equal proofs computed from the whole tree in memory.

use errandless_ledger::*;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_refuse_garbage_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = SignedNote::parse(&bytes);
        let _ = Checkpoint::parse_text(&text);
        let _ = Receipt::parse(&bytes);
        let _ = AddCheckpoint::parse(&bytes);
        let _ = Entry::from_bytes(&bytes);
        let _ = EntryRequest::from_json(&text);
        let _ = NoteVerifier::from_vkey(&text);
        let _ = NoteSigner::from_private_key(&text);
        let _ = Hash::from_base64(&text);
        let key = NoteSigner::from_seed("example.gov/fuzz", ALG_ED25519, [1; 32]).expect("name");
        let _ = SignedCheckpoint::verify(&bytes, &key.verifier());
        let _ = read_witness_reply(200, &bytes, &text, &key.verifier());
        let _ = read_witness_reply(409, &bytes, &text, &key.verifier());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn mutated_receipts_never_prove_another_entry(flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let dir = tempfile::tempdir().expect("dir");
        let key = NoteSigner::from_seed("example.gov/fuzz", ALG_ED25519, [2; 32]).expect("name");
        let vkey = key.verifier();
        let mut seq = Sequencer::create(dir.path(), key).expect("log").with_durability(Durability::Unsynced);
        let entries: Vec<Vec<u8>> = (0..40u32).map(|i| i.to_be_bytes().to_vec()).collect();
        seq.append(&entries).expect("append");
        let receipt = Receipt::prove(dir.path(), &vkey, 17).expect("receipt").to_text();
        let mut bad = receipt.clone();
        let at = flip.index(bad.len());
        bad[at] ^= 1 << bit;
        // A flipped bit may only land in ignorable places (none exist in this format except
        // equal-meaning base64 padding bits); whatever it hits, the entry must not change.
        if let Ok(r) = Receipt::parse(&bad) {
            if let Ok((_, entry)) = r.verify(&vkey, None) {
                prop_assert_eq!(entry, entries[17].clone());
                prop_assert_eq!(r.index, 17);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn tile_proofs_equal_memory_proofs(n in 1u64..1200, seed in any::<u64>(), batch in 1usize..300) {
        let dir = tempfile::tempdir().expect("dir");
        let key = NoteSigner::from_seed("example.gov/tiles", ALG_ED25519, [3; 32]).expect("name");
        let mut seq = Sequencer::create(dir.path(), key).expect("log").with_durability(Durability::Unsynced);
        let entries: Vec<Vec<u8>> = (0..n).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut memory = MemoryTree::new();
        for chunk in entries.chunks(batch) {
            seq.append(chunk).expect("append");
        }
        for e in &entries {
            memory.push(leaf_hash(e));
        }
        prop_assert_eq!(seq.checkpoint().checkpoint.root, memory.root(n));
        let tiles = TileReader::new(dir.path(), n);
        let index = seed % n;
        let from_tiles = inclusion_proof(&tiles, index, n).expect("tiles").expect("in range");
        let from_memory = inclusion_proof(&memory, index, n).unwrap_or_else(|never| match never {}).expect("in range");
        prop_assert_eq!(from_tiles, from_memory);
        let old = 1 + seed % n;
        let from_tiles = consistency_proof(&tiles, old, n).expect("tiles").expect("in order");
        let from_memory = consistency_proof(&memory, old, n).unwrap_or_else(|never| match never {}).expect("in order");
        prop_assert_eq!(from_tiles, from_memory);
    }
}
