//! Micro-benchmarks of the ledger's hot paths, small enough for CI. The full-size figures
//! (append rates, proofs in a 100-million-entry log, verify of 10 million) come from
//! `errandless ledger bench`.

use errandless_ledger::{
    inclusion_proof, leaf_hash, node_hash, Durability, Hash, NoteSigner, Sequencer, TileReader,
    ALG_ED25519,
};

fn main() {
    divan::main();
}

fn entry(i: u64) -> Vec<u8> {
    format!("{i:0150}").into_bytes()
}

#[divan::bench]
fn leaf_hash_150_bytes(b: divan::Bencher) {
    let e = entry(7);
    b.bench(|| leaf_hash(divan::black_box(&e)));
}

#[divan::bench]
fn node_hash_pair(b: divan::Bencher) {
    let (l, r) = (Hash([1; 32]), Hash([2; 32]));
    b.bench(|| node_hash(divan::black_box(&l), divan::black_box(&r)));
}

/// One batch of 65,536 entries integrated and written without fsync.
#[divan::bench(sample_count = 10)]
fn append_batch_65536_unsynced(b: divan::Bencher) {
    let entries: Vec<Vec<u8>> = (0..65_536).map(entry).collect();
    b.with_inputs(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = NoteSigner::generate("bench.example/log", ALG_ED25519).expect("name");
        let seq = Sequencer::create(dir.path(), key)
            .expect("create")
            .with_durability(Durability::Unsynced);
        (dir, seq)
    })
    .counter(divan::counter::ItemsCount::new(entries.len()))
    .bench_local_values(|(dir, mut seq)| {
        seq.append(&entries).expect("append");
        (dir, seq)
    });
}

/// Inclusion proofs in a log of 1,000,000 entries, tiles warm.
#[divan::bench(sample_count = 20)]
fn inclusion_proof_in_1m(b: divan::Bencher) {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = NoteSigner::generate("bench.example/log", ALG_ED25519).expect("name");
    let mut seq = Sequencer::create(dir.path(), key)
        .expect("create")
        .with_durability(Durability::Unsynced);
    let n = 1_000_000u64;
    for start in (0..n).step_by(100_000) {
        let batch: Vec<Vec<u8>> = (start..start + 100_000)
            .map(|i| i.to_be_bytes().to_vec())
            .collect();
        seq.append(&batch).expect("append");
    }
    let reader = TileReader::new(dir.path(), n);
    let mut x = 88_172_645_463_325_252u64;
    b.bench_local(|| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        inclusion_proof(&reader, x % n, n)
            .expect("tiles")
            .expect("in range")
    });
}
