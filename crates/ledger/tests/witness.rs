//! C2SP tlog-witness: the witness answers 200, 400, 403, 404, 409 and 422 exactly as the spec
//! says, keeps its state across restarts, and the client reads its cosignatures.

use errandless_ledger::*;

const ORIGIN: &str = "example.gov/witnessed";

fn log_key() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, ALG_ED25519, [3; 32]).expect("name")
}

fn witness_key() -> NoteSigner {
    NoteSigner::from_seed("witness.example/w1", ALG_COSIGNATURE_V1, [4; 32]).expect("name")
}

struct Fixture {
    _log: tempfile::TempDir,
    state: tempfile::TempDir,
    tree: MemoryTree,
}

impl Fixture {
    fn new(n: u64) -> Fixture {
        let mut tree = MemoryTree::new();
        for i in 0..n {
            tree.push(leaf_hash(&i.to_be_bytes()));
        }
        Fixture {
            _log: tempfile::tempdir().expect("dir"),
            state: tempfile::tempdir().expect("dir"),
            tree,
        }
    }

    fn witness(&self) -> Witness {
        Witness::new(witness_key(), vec![log_key().verifier()], self.state.path()).expect("witness")
    }

    fn checkpoint(&self, size: u64, key: &NoteSigner) -> Vec<u8> {
        Checkpoint {
            origin: key.name().to_owned(),
            size,
            root: self.tree.root(size),
            extensions: vec![],
        }
        .sign(key)
        .to_bytes()
    }

    fn request(&self, old: u64, size: u64) -> Vec<u8> {
        let proof = if old == 0 {
            vec![]
        } else {
            consistency_proof(&self.tree, old, size)
                .unwrap_or_else(|never| match never {})
                .expect("sizes in order")
        };
        AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: self.checkpoint(size, &log_key()),
        }
        .to_bytes()
    }
}

#[test]
fn cosigns_consistent_checkpoints_and_remembers_across_restarts() {
    let f = Fixture::new(100);
    let w = f.witness();
    let reply = w
        .add_checkpoint(&f.request(0, 10), 1000)
        .expect("storage works");
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let text = Checkpoint::parse_text(
        &SignedNote::parse(&f.checkpoint(10, &log_key()))
            .expect("note")
            .text,
    )
    .expect("checkpoint")
    .to_text();
    let sig = read_witness_reply(reply.status, &reply.body, &text, &witness_key().verifier())
        .expect("a valid cosignature");
    assert_eq!(witness_key().verifier().verify(&text, &sig), Ok(Some(1000)));

    let reply = w
        .add_checkpoint(&f.request(10, 60), 1001)
        .expect("storage works");
    assert_eq!(reply.status, 200);
    drop(w);

    // A restarted witness remembers size 60.
    let w = f.witness();
    let reply = w
        .add_checkpoint(&f.request(10, 70), 1002)
        .expect("storage works");
    assert_eq!(
        (reply.status, reply.content_type),
        (409, TLOG_SIZE_CONTENT_TYPE)
    );
    assert_eq!(reply.body, b"60\n");
    assert_eq!(
        read_witness_reply(409, &reply.body, "", &witness_key().verifier()),
        Err(WitnessRefusal::Conflict { size: 60 })
    );
    assert_eq!(
        w.add_checkpoint(&f.request(60, 70), 1003)
            .expect("ok")
            .status,
        200
    );
    // The same size again with the same root is fine; with another root it is a conflict.
    assert_eq!(
        w.add_checkpoint(&f.request(70, 70), 1004)
            .expect("ok")
            .status,
        200
    );
}

#[test]
fn refusals_follow_the_spec() {
    let f = Fixture::new(100);
    let w = f.witness();
    assert_eq!(
        w.add_checkpoint(&f.request(0, 20), 1).expect("ok").status,
        200
    );

    // 400: old size above the checkpoint size; and malformed bodies.
    assert_eq!(w.add_checkpoint(b"", 1).expect("ok").status, 400);
    let body = AddCheckpoint {
        old_size: 30,
        proof: vec![],
        checkpoint: f.checkpoint(20, &log_key()),
    }
    .to_bytes();
    assert_eq!(w.add_checkpoint(&body, 1).expect("ok").status, 400);
    assert_eq!(w.add_checkpoint(b"old 01\n\n", 1).expect("ok").status, 400);

    // 404: unknown origin.
    let other = NoteSigner::from_seed("example.gov/unknown", ALG_ED25519, [5; 32]).expect("name");
    let body = AddCheckpoint {
        old_size: 20,
        proof: vec![],
        checkpoint: f.checkpoint(20, &other),
    }
    .to_bytes();
    assert_eq!(w.add_checkpoint(&body, 1).expect("ok").status, 404);

    // 403: the right origin, signed by a key the witness does not trust.
    let impostor = NoteSigner::from_seed(ORIGIN, ALG_ED25519, [6; 32]).expect("name");
    let body = AddCheckpoint {
        old_size: 20,
        proof: vec![],
        checkpoint: f.checkpoint(30, &impostor),
    }
    .to_bytes();
    assert_eq!(w.add_checkpoint(&body, 1).expect("ok").status, 403);

    // 409: a stale old size, and an equal size with another root.
    let r = w.add_checkpoint(&f.request(10, 30), 1).expect("ok");
    assert_eq!((r.status, r.body.as_slice()), (409, &b"20\n"[..]));
    let mut forked_tree = MemoryTree::new();
    for i in 0..20u64 {
        forked_tree.push(leaf_hash(&(i + 1000).to_be_bytes()));
    }
    let forked = Checkpoint {
        origin: ORIGIN.into(),
        size: 20,
        root: forked_tree.root(20),
        extensions: vec![],
    }
    .sign(&log_key())
    .to_bytes();
    let body = AddCheckpoint {
        old_size: 20,
        proof: vec![],
        checkpoint: forked,
    }
    .to_bytes();
    assert_eq!(w.add_checkpoint(&body, 1).expect("ok").status, 409);

    // 422: a proof that does not verify.
    let mut req = AddCheckpoint::parse(&f.request(20, 50)).expect("well formed");
    req.proof[0].0[0] ^= 1;
    assert_eq!(
        w.add_checkpoint(&req.to_bytes(), 1).expect("ok").status,
        422
    );
    req.proof.clear();
    assert_eq!(
        w.add_checkpoint(&req.to_bytes(), 1).expect("ok").status,
        422
    );

    // None of that moved the witness.
    assert_eq!(w.state(ORIGIN).expect("state").map(|s| s.size), Some(20));
}

#[test]
fn a_second_witness_process_on_the_same_state_is_refused() {
    let f = Fixture::new(1);
    let _first = f.witness();
    assert!(matches!(
        Witness::new(witness_key(), vec![log_key().verifier()], f.state.path()),
        Err(WitnessError::StateBusy { .. })
    ));
}

#[test]
fn a_log_key_must_be_a_note_key() {
    let state = tempfile::tempdir().expect("dir");
    assert!(matches!(
        Witness::new(witness_key(), vec![witness_key().verifier()], state.path()),
        Err(WitnessError::NotALogKey(_))
    ));
}
