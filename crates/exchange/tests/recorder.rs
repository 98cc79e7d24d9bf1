//! Group commit: concurrent appends share batches, every entry gets its own index and is
//! durable when its caller hears back; and the caches never outlive a revocation or rotation.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use errandless_exchange::{
    migrate, Exchange, Grants, Islands, IslandsConfig, LegalBasis, LegalBasisKind, Members, Mode,
    NewMember, Purpose, ReadRequest, Recorder, Terms,
};
use errandless_ledger::{verify_log, NoteSigner, Sequencer, SubjectKey, ALG_ED25519};
use errandless_standards::Uscc;
use errandless_store::testing::for_each_backend;
use errandless_synth::testing::{pick, province};

fn log_key() -> NoteSigner {
    NoteSigner::from_seed("ledger.example.gov/recorder-test", ALG_ED25519, [9; 32])
        .expect("a log key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_fsyncs_and_each_gets_its_own_durable_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = Arc::new(Recorder::spawn(
        Sequencer::create(dir.path(), log_key()).expect("a log"),
    ));
    let tasks: Vec<_> = (0..400u32)
        .map(|i| {
            let recorder = Arc::clone(&recorder);
            tokio::spawn(async move {
                let range = recorder
                    .append(vec![format!("entry {i}").into_bytes()])
                    .await
                    .expect("appended");
                (i, range)
            })
        })
        .collect();
    let mut indexes = Vec::new();
    for t in tasks {
        let (_, range) = t.await.expect("the task");
        assert_eq!(range.end - range.start, 1);
        indexes.push(range.start);
    }
    let many = recorder
        .append(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
        .await
        .expect("a batch");
    assert_eq!(many, 400..403);
    indexes.sort_unstable();
    assert_eq!(indexes, (0..400).collect::<Vec<u64>>());
    assert_eq!(recorder.size(), 403);
    let batches = recorder.batches();
    assert!(
        batches < 200,
        "400 concurrent appends took {batches} fsyncs"
    );
    let too_big = recorder.append(vec![vec![0; 70_000]]).await;
    assert!(
        too_big.is_err(),
        "an oversized entry is refused before the batch"
    );
    drop(Arc::into_inner(recorder).expect("the last handle"));
    // The thread has stopped and released the log; everything acknowledged is on disk.
    let report = verify_log(dir.path(), &log_key().verifier(), None, |_, _| {}).expect("verifies");
    assert_eq!(report.entries, 403);
    let reopened = Sequencer::open(dir.path(), log_key()).expect("reopens");
    assert_eq!(reopened.size(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placement_names_before_the_fsync_the_indexes_the_entries_then_take() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = Arc::new(Recorder::spawn(
        Sequencer::create(dir.path(), log_key()).expect("a log"),
    ));
    let tasks: Vec<_> = (0..200u32)
        .map(|i| {
            let recorder = Arc::clone(&recorder);
            tokio::spawn(async move {
                let entries = vec![format!("entry {i}").into_bytes(); 1 + (i % 3) as usize];
                if i % 2 == 0 {
                    let mut placement = recorder.append_placed(entries).expect("submitted");
                    let placed = placement.placed().await.expect("placed");
                    let durable = placement.durable().await.expect("durable");
                    assert_eq!(placed, durable, "entry {i}");
                    durable
                } else {
                    recorder.append(entries).await.expect("appended")
                }
            })
        })
        .collect();
    let mut ranges = Vec::new();
    for t in tasks {
        ranges.push(t.await.expect("the task"));
    }
    ranges.sort_by_key(|r| r.start);
    let mut next = 0;
    for r in &ranges {
        assert_eq!(r.start, next, "no gap or overlap: {ranges:?}");
        next = r.end;
    }
    assert_eq!(recorder.size(), next);
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

#[tokio::test]
async fn revocation_and_rotation_take_effect_on_the_next_read_despite_the_caches() {
    for_each_backend(|store| async move {
        migrate(&store).await.expect("migrates");
        let members = Members::new(store.clone());
        for (id, n) in [("civil_affairs", 1u8), ("public_security", 2)] {
            let new = NewMember {
                id: id.into(),
                uscc: Uscc::compose(b'1', b'1', 520000, u32::from(n)).to_string(),
                name_zh: id.into(),
                name_en: id.into(),
                key: key(n).verifying_key(),
            };
            members.register(new, 0).await.expect("registers");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let islands = Islands::open(&IslandsConfig::synthetic(province()), province())
            .await
            .expect("islands open");
        let log = Sequencer::create(dir.path(), log_key()).expect("a log");
        let mut exchange =
            Exchange::new(store.clone(), islands, log, SubjectKey::from_bytes([3; 32]));
        exchange.add_owner_key("public_security", key(2));
        let mut grant_ids = Vec::new();
        for _ in 0..2 {
            let terms = Terms {
                consumer: "civil_affairs".into(),
                dataset: "public_security.resident".into(),
                fields: vec!["name".into()],
                purpose: Purpose::BenefitEligibility,
                legal_basis: LegalBasis {
                    kind: LegalBasisKind::AdministrativeRegulation,
                    reference: "社会救助暂行办法 第十一条".into(),
                },
                valid_from: 0,
                valid_until: i64::MAX,
                scope: None,
                mode: Mode::PerSubject,
            };
            let request = exchange.file_request(terms, 0).await.expect("files");
            let grant = exchange
                .approve(&request.id, "public_security", 0)
                .await
                .expect("approves");
            grant_ids.push(grant.id);
        }
        let subject = pick("public_security", "SELECT id_number FROM resident LIMIT 1");
        let read = |id: &str| ReadRequest {
            request_id: id.into(),
            consumer: "civil_affairs".into(),
            dataset: "public_security.resident".into(),
            subject: subject.clone(),
            fields: vec!["name".into()],
            purpose: "benefit_eligibility".into(),
        };
        let code = |r: Result<_, errandless_exchange::ReadError>| {
            r.map(|_| "allowed").unwrap_or_else(|e| e.code())
        };
        assert_eq!(
            code(exchange.read(&read("1").sign(&key(1))).await),
            "allowed"
        );
        // Revoked through the exchange: refused at once.
        exchange
            .revoke(&grant_ids[0], "public_security", "done", 1)
            .await
            .expect("revokes");
        assert_eq!(
            code(exchange.read(&read("2").sign(&key(1))).await),
            "allowed",
            "the other grant still holds"
        );
        // Revoked through another handle on the same store: refused at once too.
        Grants::new(store.clone())
            .revoke(&grant_ids[1], "public_security", "done", 1)
            .await
            .expect("revokes");
        assert_eq!(
            code(exchange.read(&read("3").sign(&key(1))).await),
            "grant_revoked"
        );
        // A rotated key: the old one signs no new request.
        exchange
            .members()
            .rotate_key("civil_affairs", key(7).verifying_key(), 2)
            .await
            .expect("rotates");
        assert_eq!(
            code(exchange.read(&read("4").sign(&key(1))).await),
            "bad_signature"
        );
        assert_eq!(
            code(exchange.read(&read("5").sign(&key(7))).await),
            "grant_revoked"
        );
        // Replays are refused whether the first use is committed or not.
        assert_eq!(
            code(exchange.read(&read("5").sign(&key(7))).await),
            "replayed_request"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_writer_appends_under_the_recorders_lock_and_indexes_follow_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = Recorder::spawn(Sequencer::create(dir.path(), log_key()).expect("a log"));
    assert_eq!(
        recorder
            .append(vec![b"first".to_vec()])
            .await
            .expect("appended"),
        0..1
    );
    // An outbox of the same process appends directly, holding the lock.
    let ledger = recorder.ledger();
    {
        let mut log = ledger.lock().await;
        let range = log
            .append(&[b"second".as_slice(), b"third".as_slice()])
            .expect("appended");
        assert_eq!(range, 1..3);
    }
    assert_eq!(
        recorder.size(),
        3,
        "the size counts the other writer's entries"
    );
    assert_eq!(
        recorder
            .append(vec![b"fourth".to_vec()])
            .await
            .expect("appended"),
        3..4,
        "the recorder continues after them"
    );
    drop(ledger);
    drop(recorder);
    let log = Sequencer::open(dir.path(), log_key()).expect("reopens");
    assert_eq!(log.size(), 4);
}
