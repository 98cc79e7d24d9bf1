//! Enactment records each decision once, in the store and the ledger, on SQLite and on
//! PostgreSQL: a repeated run records nothing, a changed decision is recorded again, an append
//! that a crash left unconfirmed is settled from the log rather than doubled, and each explanation is rebuilt
//! from the stored policy version with the values behind every condition.

use std::sync::Arc;

use errandless_ledger::{Entry, NoteSigner, Sequencer, SubjectKey, TileReader, ALG_ED25519};
use errandless_policy::enactment::{explanation, migrate, policy_hash};
use errandless_policy::{Decision, Enactment, Enactments, Lang, Policy, Run, Source};
use errandless_standards::Standard;
use errandless_store::testing::for_each_backend;

const POLICY: &str = include_str!("../../../policies/freshman-subsidy.toml");

fn sources() -> Vec<Source> {
    ["education.admission", "rural_revitalisation.poor_household"]
        .iter()
        .enumerate()
        .map(|(i, d)| Source {
            dataset: (*d).to_owned(),
            department_zh: "部门".into(),
            department_en: "Department".into(),
            dataset_zh: "数据集".into(),
            dataset_en: "Dataset".into(),
            snapshot: format!("{i:064x}"),
            version: 1,
        })
        .collect()
}

/// A decision over the freshman policy's inputs (household_status, admitted_year, level,
/// died_on, account, payee_name, bank).
fn decision(policy: &Policy, subject: &str, poor: bool, admitted: bool) -> Decision {
    let mut values: Vec<Option<String>> = vec![None; policy.inputs.len()];
    let mut set = |name: &str, v: &str| {
        let i = policy
            .inputs
            .iter()
            .position(|x| x.name == name)
            .expect("an input");
        values[i] = Some(v.to_owned());
    };
    set("household_status", if poor { "active" } else { "lifted" });
    set("level", "bachelor");
    set("account", "6228480000000000011");
    if admitted {
        set("admitted_year", "2026");
    }
    let conditions = vec![
        ("registered_poor".to_owned(), poor),
        ("admitted_this_year".to_owned(), admitted),
        ("undergraduate".to_owned(), true),
    ];
    let eligible = poor && admitted;
    Decision {
        subject: subject.to_owned(),
        eligible_if_met: vec![admitted, poor, eligible],
        conditions,
        exclusions: vec![("deceased".to_owned(), false)],
        eligible,
        payable: true,
        amount: if eligible { 500_000 } else { 0 },
        values,
    }
}

const A: &str = "52010219900307105X";
const B: &str = "520102200801011237";
const C: &str = "520102200802021234";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_recorded_once_logged_once_and_explained() {
    for_each_backend(|store| async move {
        migrate(&store).await.expect("migrations");
        let dir = tempfile::tempdir().expect("temp dir");
        let log = Sequencer::create(
            dir.path(),
            NoteSigner::generate("enactment.example/log", ALG_ED25519).expect("a key"),
        )
        .expect("a ledger");
        let ledger = Arc::new(tokio::sync::Mutex::new(log));
        let key = SubjectKey::generate();
        let enactments = Enactments::new(store.clone(), ledger.clone(), key.clone(), "data_bureau");
        let policy = Policy::parse("freshman.toml", POLICY, Standard::builtin()).expect("valid");
        let sources = sources();
        let period = policy.period_on(policy.valid_from).expect("a period");
        let run = Enactment {
            policy: &policy,
            source: POLICY,
            period: &period,
            sources: &sources,
            run: Run::Batch,
            evaluated: 3,
        };
        // A eligible, B a near miss (admitted, not poor), C neither: not recorded.
        let mut c = decision(&policy, C, false, false);
        c.values.clear();
        let decisions = vec![
            decision(&policy, A, true, true),
            decision(&policy, B, false, true),
            c,
        ];
        let first = enactments
            .enact(&run, &decisions, 1_000)
            .await
            .expect("enacts");
        assert_eq!(
            (first.evaluated, first.recorded, first.unchanged),
            (3, 2, 0)
        );
        assert_eq!((first.eligible, first.near_misses), (1, 1));
        assert_eq!(first.payable, vec![(0, "decision-1".to_owned())]);
        assert_eq!(ledger.lock().await.size(), 2);

        // Again: nothing new, the same reference for the payment.
        let again = enactments
            .enact(&run, &decisions, 2_000)
            .await
            .expect("enacts");
        assert_eq!((again.recorded, again.unchanged), (0, 2));
        assert_eq!(again.payable, first.payable);
        assert_eq!(ledger.lock().await.size(), 2);

        // B is admitted and now poor: one new decision, logged once.
        let changed = vec![decision(&policy, B, true, true)];
        let delta = Enactment {
            run: Run::Delta,
            ..run
        };
        let third = enactments
            .enact(&delta, &changed, 3_000)
            .await
            .expect("enacts");
        assert_eq!((third.recorded, third.unchanged), (1, 0));
        assert_eq!(third.payable, vec![(0, "decision-3".to_owned())]);
        assert_eq!(ledger.lock().await.size(), 3);

        // The entries name the policy version and the subject by their keyed tag.
        {
            let log = ledger.lock().await;
            let reader = TileReader::new(log.dir(), log.size());
            let entry = Entry::from_bytes(&reader.entry(2).expect("entry 2")).expect("an entry");
            assert_eq!(entry.kind.as_str(), "decision");
            assert_eq!(entry.subject, Some(key.tag(B)));
            assert_eq!(entry.body["policy_hash"], policy_hash(POLICY).as_str());
            assert_eq!(entry.body["outcome"], "eligible");
        }
        let recorded = enactments.decisions_of(B).await.expect("decisions");
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[0].near_miss.as_deref(), Some("registered_poor"));
        assert_eq!(
            recorded.iter().map(|r| r.leaf).collect::<Vec<_>>(),
            vec![Some(1), Some(2)]
        );

        // A crash after the append but before it was confirmed: the plan is found in the log
        // and settled, not appended again.
        sqlx::query(
            "UPDATE policy_ledger_cursor SET logged_through = 2, plan_first_seq = 3, \
             plan_last_seq = 3, plan_first_index = 2 WHERE id = 1",
        )
        .execute(store.pool())
        .await
        .expect("rewinds the cursor");
        sqlx::query("UPDATE policy_decisions SET leaf = NULL WHERE seq = 3")
            .execute(store.pool())
            .await
            .expect("forgets the leaf");
        assert_eq!(enactments.flush_ledger().await.expect("flushes"), 0);
        assert_eq!(ledger.lock().await.size(), 3);
        let recorded = enactments.decisions_of(B).await.expect("decisions");
        assert_eq!(recorded[1].leaf, Some(2));

        // A plan naming leaves the log does not hold is dropped, and the decision appended.
        sqlx::query(
            "UPDATE policy_ledger_cursor SET logged_through = 2, plan_first_seq = 3, \
             plan_last_seq = 3, plan_first_index = 7 WHERE id = 1",
        )
        .execute(store.pool())
        .await
        .expect("rewinds the cursor");
        assert_eq!(enactments.flush_ledger().await.expect("flushes"), 1);
        assert_eq!(ledger.lock().await.size(), 4);
        let recorded = enactments.decisions_of(B).await.expect("decisions");
        assert_eq!(recorded[1].leaf, Some(3));

        // The explanation, rebuilt from the stored version, in both languages.
        let (found, e) = explanation(&store, &policy.id, Some(&period), A)
            .await
            .expect("reads")
            .expect("a decision about A");
        assert_eq!(found.seq, 1);
        assert!(e.eligible && e.payable);
        assert_eq!(e.account.as_deref(), Some("****0011"));
        let en = e.render(Lang::En);
        assert!(en.contains("[met] registered_poor"), "{en}");
        assert!(en.contains("household_status"), "{en}");
        assert!(en.contains("\"active\""), "{en}");
        assert!(en.contains("5000.00 yuan"), "{en}");
        assert!(en.contains(&format!("{:064x}", 1)), "{en}");
        assert!(en.contains(&policy_hash(POLICY)), "{en}");
        assert!(
            !en.contains("6228480000000000011"),
            "the account is masked: {en}"
        );
        let zh = e.render(Lang::Zh);
        assert!(zh.contains("[满足] registered_poor"), "{zh}");
        assert!(zh.contains("符合条件"), "{zh}");
        let (_, near) = explanation(&store, &policy.id, None, B)
            .await
            .expect("reads")
            .expect("a decision about B");
        assert!(near.eligible, "the latest decision about B");
        assert!(explanation(&store, &policy.id, None, C)
            .await
            .expect("reads")
            .is_none());
    })
    .await;
}

#[test]
fn periods_are_checked() {
    // A one-off policy has one period, its whole validity.
    // (Its examples of 2027 fall outside such a validity, and are left out.)
    let one_off = POLICY
        .split("\n[[test]]\nname = \"admitted in 2027")
        .next()
        .expect("the policy's text")
        .replace(
            "valid = { from = \"2026-07-01\" }",
            "valid = { from = \"2026-07-01\", to = \"2026-12-31\" }",
        )
        .replace("frequency = \"yearly\"", "frequency = \"one-off\"");
    let policy = Policy::parse("one-off.toml", &one_off, Standard::builtin()).expect("valid");
    assert_eq!(
        policy.period_on(policy.valid_from).expect("a period"),
        "2026-07-01_2026-12-31"
    );
    assert!(policy.check_period("2026-07-01_2026-12-31").is_ok());
    assert!(policy.check_period("2026-09").is_err());
    // Without an end it could not be paid once: a one-off payment needs one.
    let open = POLICY.replace("frequency = \"yearly\"", "frequency = \"one-off\"");
    let errors = Policy::parse("open.toml", &open, Standard::builtin()).expect_err("refused");
    assert!(
        errors[0].message.contains("needs an end"),
        "{}",
        errors[0].message
    );

    // The pack's freshman subsidy is paid year by year, from its start in July 2026.
    let freshman = Policy::parse("freshman.toml", POLICY, Standard::builtin()).expect("valid");
    assert_eq!(
        freshman.period_on(freshman.valid_from).expect("a period"),
        "2026"
    );
    let year = freshman.period("2026").expect("a year of the validity");
    assert_eq!(
        (year.start.to_string(), year.end.to_string()),
        ("2026-07-01".to_owned(), "2026-12-31".to_owned())
    );
    assert!(freshman.check_period("2027").is_ok());
    assert!(freshman.check_period("2025").is_err());
    assert!(freshman.check_period("2026-09").is_err());

    let elderly = Policy::parse(
        "elderly.toml",
        include_str!("../../../policies/elderly-allowance.toml"),
        Standard::builtin(),
    )
    .expect("valid");
    assert!(elderly.check_period("2026-09").is_ok());
    assert!(
        elderly.check_period("2027-01").is_ok(),
        "in force until repealed"
    );
    assert!(elderly.check_period("2025-12").is_err());
    assert!(elderly.check_period("2026-9").is_err());
    assert!(elderly.check_period("2026-13").is_err());
    let before = errandless_standards::Date::new(2025, 12, 31).expect("a date");
    assert!(elderly.period_on(before).is_err());
    let later = errandless_standards::Date::new(2031, 2, 1).expect("a date");
    assert_eq!(elderly.period_on(later).as_deref(), Ok("2031-02"));
}
