//! The payment walk on both store backends: idempotent entitlements, exports that never share
//! a payment, reconciliation, refusals that change nothing, and a ledger entry per change.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use common::{entitlement, ledger, ledger_size, payments};
use errandless_payments::bank::{simulate, Faults};
use errandless_payments::xml::{
    read_pain001, read_pain002, write_pain002, Pain002, Reason, TxStatus,
};
use errandless_payments::{Fen, PaymentStatus, Payments, PaymentsError};
use errandless_store::testing::{for_each_backend, for_each_database};

const NOW: i64 = 1_795_759_262_000;

async fn counts(p: &Payments) -> BTreeMap<PaymentStatus, u64> {
    p.status()
        .await
        .expect("status")
        .into_iter()
        .map(|c| (c.status, c.count))
        .collect()
}

fn files(dir: &Path) -> Vec<errandless_payments::xml::Pain001> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            read_pain001(std::io::BufReader::new(
                std::fs::File::open(p).expect("file"),
            ))
            .expect("pain.001")
        })
        .collect()
}

fn report(msg_id: &str, batch: &str, statuses: &[(&str, &str, Option<&str>)]) -> Pain002 {
    Pain002 {
        msg_id: msg_id.into(),
        created: "2026-11-27T08:00:00Z".into(),
        original_msg_id: batch.into(),
        original_msg_name_id: "pain.001.001.09".into(),
        group_status: Some("PART".into()),
        group_reason: None,
        original_payment_info_id: None,
        transactions: statuses
            .iter()
            .map(|(e2e, s, r)| TxStatus {
                original_end_to_end_id: (*e2e).into(),
                status: (*s).into(),
                reason: r.map(|c| Reason {
                    code: c.into(),
                    additional: None,
                }),
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entitlements_are_created_once_even_when_repeated_or_concurrent() {
    for_each_database(|db| async move {
        let dir = tempfile::tempdir().expect("tmp");
        let log = ledger(dir.path());
        let a = payments(db.open().await.expect("store"), log.clone()).await;
        let b = payments(db.open().await.expect("store"), log.clone()).await;
        let first: Vec<_> = (0..300).map(entitlement).collect();
        let second: Vec<_> = (150..450).map(entitlement).collect();
        let (ra, rb) = tokio::join!(a.entitle(&first, NOW), b.entitle(&second, NOW));
        let (ra, rb) = (ra.expect("a"), rb.expect("b"));
        assert_eq!(ra.created + rb.created, 450, "{ra:?} {rb:?}");
        assert_eq!(ra.already_present + rb.already_present, 150);
        let again = a.entitle(&first, NOW).await.expect("again");
        assert_eq!((again.created, again.already_present), (0, 300));
        assert_eq!(counts(&a).await.get(&PaymentStatus::Pending), Some(&450));
        assert_eq!(
            ledger_size(&log).await,
            450,
            "one ledger entry per entitlement"
        );
        // Bad input changes nothing, not even the good items before it.
        let mut bad: Vec<_> = (1000..1010).map(entitlement).collect();
        bad[7].amount_fen = 0;
        let err = a.entitle(&bad, NOW).await.expect_err("refused");
        assert!(
            matches!(
                err,
                PaymentsError::InvalidEntitlement {
                    index: 7,
                    field: "amount_fen",
                    ..
                }
            ),
            "{err}"
        );
        bad[7] = entitlement(1007);
        bad[3].subject_id = "520102199001011234".into();
        assert!(a.entitle(&bad, NOW).await.is_err());
        assert_eq!(counts(&a).await.get(&PaymentStatus::Pending), Some(&450));
        assert_eq!(ledger_size(&log).await, 450);
        a.store().close().await;
        b.store().close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_exports_never_share_a_payment() {
    for_each_database(|db| async move {
        let dir = tempfile::tempdir().expect("tmp");
        let log = ledger(&dir.path().join("ledger"));
        let out = dir.path().join("out");
        let a = payments(db.open().await.expect("store"), log.clone()).await;
        let b = payments(db.open().await.expect("store"), log.clone()).await;
        let items: Vec<_> = (0..600).map(entitlement).collect();
        a.entitle(&items, NOW).await.expect("entitled");
        let run = |p: Payments, out: std::path::PathBuf| {
            tokio::spawn(async move { p.export(&out, 40, NOW, &mut |_| {}).await })
        };
        let (ta, tb) = (run(a.clone(), out.clone()), run(b.clone(), out.clone()));
        let (fa, fb) = (ta.await.expect("a ran"), tb.await.expect("b ran"));
        let (fa, fb) = (fa.expect("a"), fb.expect("b"));
        assert!(!fa.is_empty() || !fb.is_empty());
        let written = files(&out);
        assert_eq!(written.len(), fa.len() + fb.len());
        let mut e2e = HashSet::new();
        let mut accounts = HashSet::new();
        let mut msg_ids = HashSet::new();
        let mut total = 0i64;
        for f in &written {
            assert!(msg_ids.insert(f.msg_id.clone()), "MsgId {} twice", f.msg_id);
            assert!(f.transfers.len() <= 40);
            for t in &f.transfers {
                assert!(
                    e2e.insert(t.end_to_end_id.clone()),
                    "{} twice",
                    t.end_to_end_id
                );
                assert!(
                    accounts.insert(t.creditor.account.clone()),
                    "{} paid twice",
                    t.creditor.account
                );
                total += t.amount.0;
            }
        }
        assert_eq!(e2e.len(), 600);
        assert_eq!(total, items.iter().map(|e| e.amount_fen).sum::<i64>());
        assert_eq!(counts(&a).await.get(&PaymentStatus::Exported), Some(&600));
        assert_eq!(
            ledger_size(&log).await,
            1200,
            "created and exported, once each"
        );
        // Nothing pending: another export writes nothing.
        assert!(a
            .export(&out, 40, NOW, &mut |_| {})
            .await
            .expect("export")
            .is_empty());
        a.store().close().await;
        b.store().close().await;
    })
    .await;
}

#[tokio::test]
async fn reports_are_reconciled_per_end_to_end_id_and_retries_get_new_ids() {
    for_each_backend(|store| async move {
        let dir = tempfile::tempdir().expect("tmp");
        let log = ledger(&dir.path().join("ledger"));
        let out = dir.path().join("out");
        let p = payments(store, log.clone()).await;
        p.entitle(&(0..20).map(entitlement).collect::<Vec<_>>(), NOW)
            .await
            .expect("entitled");
        let batch = p
            .export(&out, 1000, NOW, &mut |_| {})
            .await
            .expect("export");
        assert_eq!(batch.len(), 1);
        let file = &files(&out)[0];
        let ids: Vec<&str> = file
            .transfers
            .iter()
            .map(|t| t.end_to_end_id.as_str())
            .collect();
        let mut statuses: Vec<(&str, &str, Option<&str>)> = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            statuses.push(match i {
                0..=9 => (id, "ACSC", None),
                10 | 11 => (id, "RJCT", Some("AC04")),
                12 => (id, "RJCT", Some("BE01")),
                13 | 14 => (id, "RJCT", Some("TM01")),
                15 => (id, "ACCP", None),
                _ => continue,
            });
        }
        let r = p
            .import(&report("BANK-1", &file.msg_id, &statuses), NOW + 1000)
            .await
            .expect("imported");
        assert_eq!(
            (r.paid, r.accepted, r.retry, r.needs_account),
            (10, 1, 2, 3),
            "{r:?}"
        );
        let c = counts(&p).await;
        assert_eq!(c.get(&PaymentStatus::Paid), Some(&10));
        assert_eq!(c.get(&PaymentStatus::Accepted), Some(&1));
        assert_eq!(c.get(&PaymentStatus::Pending), Some(&2));
        assert_eq!(c.get(&PaymentStatus::NeedsAccount), Some(&3));
        assert_eq!(c.get(&PaymentStatus::Exported), Some(&4));
        let paid_sum: Fen = p
            .status()
            .await
            .expect("status")
            .iter()
            .find(|s| s.status == PaymentStatus::Paid)
            .map(|s| s.amount)
            .expect("paid");
        assert_eq!(
            paid_sum.0,
            file.transfers[..10].iter().map(|t| t.amount.0).sum::<i64>()
        );

        // The same report again changes nothing.
        let again = p
            .import(&report("BANK-1", &file.msg_id, &statuses), NOW + 2000)
            .await
            .expect("again");
        assert!(again.already_imported);

        // Citizens to notify, with the bank's reason.
        let notices = p.needing_account().await.expect("notices");
        let reasons: Vec<_> = notices.iter().filter_map(|n| n.reason.clone()).collect();
        assert_eq!(reasons, ["AC04", "AC04", "BE01"]);

        // The retries go out in a new batch with new EndToEndIds.
        let size_before = ledger_size(&log).await;
        let second = p
            .export(&out, 1000, NOW + 3000, &mut |_| {})
            .await
            .expect("export");
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].transfers, 2);
        assert_eq!(ledger_size(&log).await, size_before + 2);
        let retried = &files(&out)
            .into_iter()
            .find(|f| f.msg_id == second[0].msg_id)
            .expect("second file");
        for t in &retried.transfers {
            assert!(
                !ids.contains(&t.end_to_end_id.as_str()),
                "a retry has a new EndToEndId"
            );
        }
        let trace = p
            .trace("freshman-subsidy", "2026", &entitlement(13).subject_id)
            .await
            .expect("trace")
            .expect("known");
        assert_eq!(trace.attempts.len(), 2);
        assert_eq!(trace.attempts[0].status, PaymentStatus::Rejected);
        assert_eq!(trace.attempts[0].reason.as_deref(), Some("TM01"));
        assert_eq!(trace.attempts[1].status, PaymentStatus::Exported);
        let statuses: Vec<_> = trace.events.iter().map(|e| e.status).collect();
        use PaymentStatus::*;
        assert_eq!(statuses, [Pending, Exported, Rejected, Pending, Exported]);
        assert!(trace.events.iter().all(|e| e.ledger_index.is_some()));

        // Notices sent, one citizen binds a new account, and is paid in the next batch.
        let id = notices[0].entitlement_id;
        assert_eq!(p.mark_notified(&[id], NOW).await.expect("notified"), 1);
        p.rebind_account(id, "学生10", "6217999999999999999", "工商银行", NOW)
            .await
            .expect("rebound");
        assert!(
            p.rebind_account(id, "x", "1", "b", NOW).await.is_err(),
            "no longer waiting"
        );
        let third = p
            .export(&out, 1000, NOW, &mut |_| {})
            .await
            .expect("export");
        assert_eq!(third[0].transfers, 1);

        // The first file's detail: what was sent and how the bank answered, page by page.
        let store = p.store();
        let first = errandless_payments::batch(store, &file.msg_id)
            .await
            .expect("batch")
            .expect("known");
        assert_eq!(first.transfers, 20);
        let mut pages = Vec::new();
        for page in 0..3 {
            pages.extend(
                errandless_payments::batch_transfers(store, &file.msg_id, &[], page * 8, 8)
                    .await
                    .expect("page"),
            );
        }
        let sent: Vec<(&str, i64)> = file
            .transfers
            .iter()
            .map(|t| (t.end_to_end_id.as_str(), t.amount.0))
            .collect();
        let listed: Vec<(&str, i64)> = pages
            .iter()
            .map(|t| (t.end_to_end_id.as_str(), t.amount.0))
            .collect();
        assert_eq!(listed, sent, "every transfer once, in the file's order");
        let rejected = errandless_payments::batch_transfers(
            store,
            &file.msg_id,
            &[PaymentStatus::Rejected],
            0,
            100,
        )
        .await
        .expect("rejected");
        assert_eq!(rejected.len(), 5);
        assert!(rejected.iter().all(|t| t.reason.is_some()));
        // The citizen who bound a new account: the first file still shows the account it sent.
        let rebound = rejected
            .iter()
            .find(|t| t.end_to_end_id.contains(&format!("-{id}-")))
            .expect("the rebound citizen's first attempt");
        assert_ne!(rebound.account, "6217999999999999999");
        let third_file = errandless_payments::batch_transfers(store, &third[0].msg_id, &[], 0, 10)
            .await
            .expect("third");
        assert_eq!(third_file[0].account, "6217999999999999999");
        let tally = errandless_payments::batch_tally(store, &file.msg_id)
            .await
            .expect("tally");
        let by: BTreeMap<PaymentStatus, (i64, i64)> = tally
            .iter()
            .map(|t| (t.status, (t.transfers, t.amount.0)))
            .collect();
        assert_eq!(by.get(&PaymentStatus::Paid).map(|t| t.0), Some(10));
        assert_eq!(by.get(&PaymentStatus::Rejected).map(|t| t.0), Some(5));
        assert_eq!(by.get(&PaymentStatus::Accepted).map(|t| t.0), Some(1));
        assert_eq!(by.get(&PaymentStatus::Exported).map(|t| t.0), Some(4));
        assert_eq!(by.values().map(|t| t.1).sum::<i64>(), file.control_sum().0);
        assert!(errandless_payments::batch(store, "ERRANDLESS-none")
            .await
            .expect("batch")
            .is_none());

        // Every state change is one ledger entry.
        let (events, logged) = p.ledger_backlog().await.expect("backlog");
        assert_eq!(events, logged);
        assert_eq!(ledger_size(&log).await, events as u64);
        p.store().close().await;
    })
    .await;
}

#[tokio::test]
async fn bad_reports_change_nothing() {
    for_each_backend(|store| async move {
        let dir = tempfile::tempdir().expect("tmp");
        let log = ledger(&dir.path().join("ledger"));
        let out = dir.path().join("out");
        let p = payments(store, log.clone()).await;
        p.entitle(&(0..5).map(entitlement).collect::<Vec<_>>(), NOW)
            .await
            .expect("entitled");
        p.export(&out, 1000, NOW, &mut |_| {}).await.expect("export");
        let file = &files(&out)[0];
        let e: Vec<&str> = file.transfers.iter().map(|t| t.end_to_end_id.as_str()).collect();
        let before = counts(&p).await;
        let size = ledger_size(&log).await;

        let unknown_tx = report("R1", &file.msg_id, &[(e[0], "ACSC", None), ("E-nope", "ACSC", None)]);
        assert!(matches!(
            p.import(&unknown_tx, NOW).await,
            Err(PaymentsError::UnknownEndToEndId { .. })
        ));
        let unknown_batch = report("R2", "ERRANDLESS-999999-00000000", &[(e[0], "ACSC", None)]);
        assert!(matches!(
            p.import(&unknown_batch, NOW).await,
            Err(PaymentsError::UnknownBatch(_))
        ));
        let twice = report("R3", &file.msg_id, &[(e[0], "ACSC", None), (e[0], "ACSC", None)]);
        assert!(matches!(
            p.import(&twice, NOW).await,
            Err(PaymentsError::DuplicateEndToEndId(_))
        ));
        let odd = report("R4", &file.msg_id, &[(e[0], "ACSC", None), (e[1], "ZZZZ", None)]);
        assert!(matches!(
            p.import(&odd, NOW).await,
            Err(PaymentsError::UnknownStatus { .. })
        ));
        let truncated = b"<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.12\"><CstmrPmtStsRpt><GrpHdr><MsgId>R5</MsgId>";
        assert!(read_pain002(&truncated[..]).is_err());
        assert_eq!(counts(&p).await, before, "refused reports change nothing");
        assert_eq!(ledger_size(&log).await, size);

        // A paid transfer cannot be rejected afterwards; the whole report is refused.
        p.import(&report("R6", &file.msg_id, &[(e[0], "ACSC", None)]), NOW)
            .await
            .expect("paid");
        let after_paid = counts(&p).await;
        let size = ledger_size(&log).await;
        let conflict = report("R7", &file.msg_id, &[(e[1], "ACSC", None), (e[0], "RJCT", Some("AC04"))]);
        assert!(matches!(
            p.import(&conflict, NOW).await,
            Err(PaymentsError::Conflict { .. })
        ));
        assert_eq!(counts(&p).await, after_paid);
        assert_eq!(ledger_size(&log).await, size);
        p.store().close().await;
    })
    .await;
}

#[tokio::test]
async fn the_demo_banks_report_reads_back_and_reconciles_every_transfer() {
    for_each_backend(|store| async move {
        let dir = tempfile::tempdir().expect("tmp");
        let log = ledger(&dir.path().join("ledger"));
        let out = dir.path().join("out");
        let p = payments(store, log.clone()).await;
        p.entitle(&(0..2000).map(entitlement).collect::<Vec<_>>(), NOW)
            .await
            .expect("entitled");
        p.export(&out, 5000, NOW, &mut |_| {})
            .await
            .expect("export");
        let file = &files(&out)[0];
        let answer = simulate(file, 3, &Faults::default(), "2026-11-28T09:00:00Z");
        let mut bytes = Vec::new();
        write_pain002(&mut bytes, &answer, "Demo Bank").expect("written");
        let read = read_pain002(&bytes[..]).expect("our reader reads the bank's file");
        assert_eq!(read, answer);
        let r = p.import(&read, NOW).await.expect("imported");
        assert_eq!(r.paid + r.retry + r.needs_account, 2000);
        assert!(r.paid > 1800 && r.needs_account > 10, "{r:?}");
        let (events, logged) = p.ledger_backlog().await.expect("backlog");
        assert_eq!((events, ledger_size(&log).await as i64), (logged, logged));
        p.store().close().await;
    })
    .await;
}

#[tokio::test]
async fn an_interrupted_ledger_append_is_settled_exactly_once() {
    for_each_backend(|store| async move {
        let dir = tempfile::tempdir().expect("tmp");
        let log = ledger(&dir.path().join("ledger"));
        let p = payments(store.clone(), log.clone()).await;
        p.entitle(&(0..10).map(entitlement).collect::<Vec<_>>(), NOW)
            .await
            .expect("entitled");
        assert_eq!(ledger_size(&log).await, 10);
        // As if the process died after the append but before recording it.
        sqlx::raw_sql(
            "DELETE FROM payments_ledger_chunks; UPDATE payments_ledger_cursor SET logged_through = 0, \
             plan_first_seq = 1, plan_last_seq = 10, plan_first_index = 0",
        )
        .execute(store.pool())
        .await
        .expect("reset");
        assert_eq!(p.flush_ledger().await.expect("flushed"), 0, "nothing appended twice");
        assert_eq!(ledger_size(&log).await, 10);
        assert_eq!(p.ledger_backlog().await.expect("backlog"), (10, 10));
        // As if it died after planning but before the append.
        p.entitle(&(10..15).map(entitlement).collect::<Vec<_>>(), NOW)
            .await
            .expect("entitled");
        sqlx::raw_sql(
            "DELETE FROM payments_ledger_chunks WHERE first_seq = 11; UPDATE payments_ledger_cursor \
             SET logged_through = 10, plan_first_seq = 11, plan_last_seq = 15, plan_first_index = 15",
        )
        .execute(store.pool())
        .await
        .expect("reset");
        assert_eq!(p.flush_ledger().await.expect("flushed"), 5);
        assert_eq!(ledger_size(&log).await, 20, "the lost plan's entries are appended after the others");
        let trace = p
            .trace("freshman-subsidy", "2026", &entitlement(12).subject_id)
            .await
            .expect("trace")
            .expect("known");
        assert_eq!(trace.events[0].ledger_index, Some(17));
        p.store().close().await;
    })
    .await;
}

#[tokio::test]
async fn a_batch_claimed_but_not_written_is_written_again_with_the_same_bytes() {
    for_each_backend(|store| async move {
        let dir = tempfile::tempdir().expect("tmp");
        let log = ledger(&dir.path().join("ledger"));
        let out = dir.path().join("out");
        let p = payments(store.clone(), log.clone()).await;
        p.entitle(&(0..30).map(entitlement).collect::<Vec<_>>(), NOW)
            .await
            .expect("entitled");
        let first = p
            .export(&out, 1000, NOW, &mut |_| {})
            .await
            .expect("export");
        let bytes = std::fs::read(&first[0].path).expect("file");
        // As if the run died after the claim committed, before the file was durable.
        std::fs::remove_file(&first[0].path).expect("removed");
        sqlx::query("UPDATE payments_batches SET state = 'claimed', file_name = NULL")
            .execute(store.pool())
            .await
            .expect("reset");
        p.entitle(&(30..35).map(entitlement).collect::<Vec<_>>(), NOW)
            .await
            .expect("more");
        let size = ledger_size(&log).await;
        let again = p
            .export(&out, 1000, NOW + 60_000, &mut |_| {})
            .await
            .expect("rerun");
        assert_eq!(again.len(), 2, "the old batch again, then a new one");
        assert!(again[0].rewritten && !again[1].rewritten);
        assert_eq!(again[0].msg_id, first[0].msg_id);
        assert_eq!(
            std::fs::read(&again[0].path).expect("file"),
            bytes,
            "the same bytes"
        );
        assert_eq!(
            again[1].transfers, 5,
            "only the new entitlements are in the new batch"
        );
        assert_eq!(
            ledger_size(&log).await,
            size + 5,
            "no state change for the rewrite"
        );
        p.store().close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_reaches_only_what_has_not_left_and_eligibility_again_reinstates() {
    for_each_database(|db| async move {
        let dir = tempfile::tempdir().expect("tmp");
        let log = ledger(&dir.path().join("ledger"));
        let p = payments(db.open().await.expect("store"), log.clone()).await;
        let first: Vec<_> = (0..4).map(entitlement).collect();
        p.entitle(&first, NOW).await.expect("entitle");
        // Two leave for the bank; two more come after the export and stay pending.
        p.export(&dir.path().join("out"), 100, NOW, &mut |_| {})
            .await
            .expect("export");
        let later: Vec<_> = (4..6).map(entitlement).collect();
        p.entitle(&later, NOW).await.expect("entitle later");
        let before = ledger_size(&log).await;
        let gone = |i: u64| (entitlement(i).subject_id, format!("decision-{}", 100 + i));
        // Subject 1 was exported, 4 is pending, 9 has no entitlement.
        let w = p
            .withdraw(
                "freshman-subsidy",
                "2026",
                &[gone(1), gone(4), gone(9)],
                NOW,
            )
            .await
            .expect("withdraw");
        assert_eq!((w.withdrawn, w.too_late, w.none), (1, 1, 1), "{w:?}");
        let c = counts(&p).await;
        assert_eq!(c.get(&PaymentStatus::Withdrawn), Some(&1), "{c:?}");
        assert_eq!(c.get(&PaymentStatus::Pending), Some(&1), "{c:?}");
        assert_eq!(
            ledger_size(&log).await,
            before + 1,
            "one entry per withdrawal"
        );
        let t = p
            .trace("freshman-subsidy", "2026", &entitlement(4).subject_id)
            .await
            .expect("trace")
            .expect("an entitlement");
        assert_eq!(t.status, PaymentStatus::Withdrawn);
        // Withdrawing again changes nothing; another period is another entitlement.
        let again = p
            .withdraw("freshman-subsidy", "2026", &[gone(4)], NOW)
            .await
            .expect("again");
        assert_eq!((again.withdrawn, again.none), (0, 1));
        let other = p
            .withdraw("freshman-subsidy", "2027", &[gone(5)], NOW)
            .await
            .expect("other period");
        assert_eq!((other.withdrawn, other.none), (0, 1));
        // The next export leaves the withdrawn one out.
        let files = p
            .export(&dir.path().join("out2"), 100, NOW, &mut |_| {})
            .await
            .expect("export");
        let sent: u64 = files.iter().map(|f| f.transfers).sum();
        assert_eq!(sent, 1, "only subject 5 is paid");
        // Eligible again in the same period, on a new decision: pending again, with it.
        let mut back = entitlement(4);
        back.decision_ref = "decision-200".into();
        back.amount_fen = 123_400;
        let r = p
            .entitle(&[back.clone()], NOW)
            .await
            .expect("again eligible");
        assert_eq!(
            (r.created, r.reinstated, r.already_present),
            (0, 1, 0),
            "{r:?}"
        );
        let t = p
            .trace("freshman-subsidy", "2026", &back.subject_id)
            .await
            .expect("trace")
            .expect("an entitlement");
        assert_eq!(t.status, PaymentStatus::Pending);
        assert_eq!(t.entitlement.amount_fen, 123_400);
        assert_eq!(t.entitlement.decision_ref, "decision-200");
        let r = p.entitle(&[back], NOW).await.expect("once more");
        assert_eq!((r.created, r.reinstated, r.already_present), (0, 0, 1));
        p.store().close().await;
    })
    .await;
}
