//! Cases on both backends: the whole life of a case with every step in the ledger, refusals
//! that change nothing, racing steps of which one wins, due dates over weekends, and queues
//! and visibility scoped by department and division.

mod common;

use common::*;
use errandless_ledger::SubjectKey;
use errandless_services::{Actor, Attribution, CaseError, CaseState, FieldErrorCode, Staff};
use errandless_store::testing::for_each_backend;

/// Moves case `id` along `steps`, as `staff`, at `now`.
async fn walk(f: &Fixture, id: i64, steps: &[CaseState], staff: &Staff, now: i64) {
    for step in steps {
        f.cases
            .transition(id, *step, &staff.clone().into(), None, now)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
}

#[tokio::test]
async fn a_case_goes_through_its_whole_life_and_every_step_is_in_the_ledger() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let alice = applicant(520102, 101, "001003");
        let officer = staff("officer-1", "taxation", "520102");
        let t0 = at("2026-03-02", 9);
        let case = f.submit_tax(&alice, t0).await;
        assert_eq!(case.state, CaseState::Submitted);
        assert_eq!(case.department, "taxation");
        assert_eq!(case.division, "520102001003");
        assert_eq!(case.due_date, "2026-03-03");
        assert_eq!(case.values, tax_form());

        let by = |s: &Staff| Actor::Staff(s.clone());
        let me = Actor::Applicant(alice.subject.to_lowercase());
        f.cases
            .transition(
                case.id,
                CaseState::Accepted,
                &by(&officer),
                None,
                t0 + 1_000,
            )
            .await
            .expect("accepts");
        f.cases
            .transition(
                case.id,
                CaseState::InReview,
                &by(&officer),
                None,
                t0 + 2_000,
            )
            .await
            .expect("reviews");
        f.cases
            .transition(
                case.id,
                CaseState::MoreInfoNeeded,
                &by(&officer),
                Some("请补充贷款用途说明"),
                t0 + 3_000,
            )
            .await
            .expect("asks for more");
        let mut more = tax_form();
        more.insert("email".into(), "wang.xiaoming@example.cn".into());
        let supplied = f
            .cases
            .supply(
                case.id,
                service("income-tax-certificate"),
                &alice.subject,
                &more,
                Some("已补充邮箱"),
                t0 + 4_000,
            )
            .await
            .expect("the applicant supplies");
        assert_eq!(supplied.state, CaseState::InReview);
        assert_eq!(supplied.values["email"], "wang.xiaoming@example.cn");
        f.cases
            .transition(
                case.id,
                CaseState::Approved,
                &by(&officer),
                None,
                t0 + 5_000,
            )
            .await
            .expect("approves");
        f.cases
            .transition(
                case.id,
                CaseState::Delivered,
                &by(&officer),
                None,
                t0 + 6_000,
            )
            .await
            .expect("delivers");

        let record = f
            .cases
            .get_as(case.id, &me)
            .await
            .expect("the applicant sees it");
        assert_eq!(record.case.state, CaseState::Delivered);
        assert_eq!(record.case.values["email"], "wang.xiaoming@example.cn");
        let states: Vec<(Option<CaseState>, CaseState)> =
            record.history.iter().map(|t| (t.from, t.to)).collect();
        use CaseState::*;
        assert_eq!(
            states,
            [
                (None, Submitted),
                (Some(Submitted), Accepted),
                (Some(Accepted), InReview),
                (Some(InReview), MoreInfoNeeded),
                (Some(MoreInfoNeeded), InReview),
                (Some(InReview), Approved),
                (Some(Approved), Delivered),
            ]
        );
        assert_eq!(record.history[0].by, Attribution::Applicant);
        assert_eq!(record.history[4].by, Attribution::Applicant);
        assert_eq!(
            record.history[1].by,
            Attribution::Staff {
                id: "officer-1".into(),
                role: "department_officer".into()
            }
        );
        assert_eq!(
            record.history[3].note.as_deref(),
            Some("请补充贷款用途说明")
        );
        assert_eq!(
            record.history.iter().map(|t| t.at).collect::<Vec<_>>(),
            (0..7).map(|i| t0 + i * 1_000).collect::<Vec<_>>()
        );

        // Every step is a `case` entry naming the applicant by their keyed hash only.
        let tag = SubjectKey::from_bytes(SUBJECT_KEY).tag(&alice.subject);
        let mut leaves = Vec::new();
        for step in &record.history {
            let leaf = step.ledger_index.expect("in the ledger");
            leaves.push(leaf);
            let entry = f.entry_at(leaf);
            assert_eq!(entry.kind.as_str(), "case");
            assert_eq!(entry.subject, Some(tag));
            assert_eq!(entry.purpose.as_deref(), Some("income-tax-certificate"));
            assert_eq!(
                entry.time,
                Some(u64::try_from(step.at / 1000).expect("positive"))
            );
            assert_eq!(entry.body["case"], case.id);
            assert_eq!(entry.body["to"], step.to.code());
            assert_eq!(entry.body["department"], "taxation");
            assert_eq!(entry.body["text"], step.note.is_some());
            match &step.by {
                Attribution::Applicant => assert_eq!(entry.actor, "applicant"),
                Attribution::Staff { id, role } => {
                    assert_eq!(&entry.actor, id);
                    assert_eq!(entry.body["role"], role.as_str());
                }
            }
            let text = String::from_utf8(entry.to_bytes().expect("encodes")).expect("utf-8");
            assert!(!text.contains(&alice.subject), "no ID number in the ledger");
            assert!(!text.contains("王小明"), "no form value in the ledger");
            assert!(!text.contains("贷款用途"), "no note text in the ledger");
        }
        assert_eq!(
            f.cases
                .ledger_leaves_of(&alice.subject)
                .await
                .expect("the tracker's list"),
            leaves
        );
        assert_eq!(f.ledger_size(), 7);
        let (events, logged) = f.cases.ledger_backlog().await.expect("backlog");
        assert_eq!((events, logged), (7, 7));
        assert_eq!(
            f.cases.of_applicant(&alice.subject).await.expect("lists"),
            vec![record.case.clone()]
        );
    })
    .await;
}

#[tokio::test]
async fn illegal_steps_are_refused_and_change_nothing() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let alice = applicant(520102, 102, "001003");
        let officer = staff("officer-1", "taxation", "520102");
        let neighbour = staff("officer-2", "taxation", "520103");
        let courts = staff("judge-1", "courts", "520102");
        let t0 = at("2026-03-02", 9);
        let case = f.submit_tax(&alice, t0).await;
        let before = tables(&f.store).await;
        let size = f.ledger_size();

        let officer_acts = Actor::Staff(officer.clone());
        let cases: Vec<(CaseState, Actor, &str)> = vec![
            (
                CaseState::Approved,
                officer_acts.clone(),
                "illegal_transition",
            ),
            (
                CaseState::InReview,
                officer_acts.clone(),
                "illegal_transition",
            ),
            (
                CaseState::Delivered,
                officer_acts.clone(),
                "illegal_transition",
            ),
            (
                CaseState::Submitted,
                officer_acts.clone(),
                "illegal_transition",
            ),
            (
                CaseState::Accepted,
                Actor::Applicant(alice.subject.clone()),
                "staff_only",
            ),
            (
                CaseState::Accepted,
                Actor::Staff(neighbour.clone()),
                "not_visible",
            ),
            (
                CaseState::Accepted,
                Actor::Staff(courts.clone()),
                "not_visible",
            ),
            (
                CaseState::Accepted,
                Actor::Applicant(citizen(520102, 103)),
                "not_visible",
            ),
            (
                CaseState::Accepted,
                Actor::Applicant("52010219850615103Y".into()),
                "invalid_applicant",
            ),
        ];
        for (to, actor, code) in cases {
            let err = f
                .cases
                .transition(case.id, to, &actor, None, t0 + 1)
                .await
                .expect_err(code);
            assert_eq!(err.code(), code, "{to}: {err}");
            assert_eq!(
                tables(&f.store).await,
                before,
                "{to} by {actor:?} changed nothing"
            );
        }
        let err = f
            .cases
            .transition(999, CaseState::Accepted, &officer_acts, None, t0 + 1)
            .await
            .expect_err("no such case");
        assert!(matches!(err, CaseError::UnknownCase(999)));
        let long = "长".repeat(1001);
        let err = f
            .cases
            .transition(
                case.id,
                CaseState::Accepted,
                &officer_acts,
                Some(&long),
                t0 + 1,
            )
            .await
            .expect_err("too long a note");
        assert_eq!(err.code(), "invalid_text");
        assert_eq!(tables(&f.store).await, before);
        assert_eq!(f.ledger_size(), size, "nothing refused reaches the ledger");

        // The applicant may not supply while the case is not waiting for them, nor for
        // another service's form.
        let err = f
            .cases
            .supply(
                case.id,
                service("income-tax-certificate"),
                &alice.subject,
                &tax_form(),
                None,
                t0 + 1,
            )
            .await
            .expect_err("not waiting");
        assert_eq!(err.code(), "illegal_transition");
        walk(
            &f,
            case.id,
            &[
                CaseState::Accepted,
                CaseState::InReview,
                CaseState::MoreInfoNeeded,
            ],
            &officer,
            t0 + 2,
        )
        .await;
        let waiting = tables(&f.store).await;
        let err = f
            .cases
            .supply(
                case.id,
                service("passport-application"),
                &alice.subject,
                &values(&[]),
                None,
                t0 + 3,
            )
            .await
            .expect_err("another service's form");
        assert_eq!(err.code(), "wrong_service");
        let err = f
            .cases
            .supply(
                case.id,
                service("income-tax-certificate"),
                &citizen(520102, 103),
                &tax_form(),
                None,
                t0 + 3,
            )
            .await
            .expect_err("someone else's case");
        assert_eq!(err.code(), "not_visible");
        let mut bad = tax_form();
        bad.insert("tax_year".into(), "twenty".into());
        let err = f
            .cases
            .supply(
                case.id,
                service("income-tax-certificate"),
                &alice.subject,
                &bad,
                None,
                t0 + 3,
            )
            .await
            .expect_err("an invalid form");
        assert_eq!(err.code(), "invalid_application");
        assert_eq!(tables(&f.store).await, waiting);

        // A finished case moves no more.
        walk(
            &f,
            case.id,
            &[CaseState::InReview, CaseState::Rejected],
            &officer,
            t0 + 4,
        )
        .await;
        let done = tables(&f.store).await;
        for to in CaseState::ALL {
            let err = f
                .cases
                .transition(case.id, to, &officer_acts, None, t0 + 5)
                .await
                .expect_err("final");
            assert_eq!(err.code(), "illegal_transition");
        }
        assert_eq!(tables(&f.store).await, done);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_steps_exactly_one_wins() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let alice = applicant(520102, 104, "001003");
        let t0 = at("2026-03-02", 9);
        let officer = staff("officer-1", "taxation", "520102");
        for round in 0..3 {
            let case = f.submit_tax(&alice, t0).await;
            walk(
                &f,
                case.id,
                &[CaseState::Accepted, CaseState::InReview],
                &officer,
                t0,
            )
            .await;
            let mut tasks = Vec::new();
            for i in 0..8 {
                let cases = f.cases.clone();
                let actor = Actor::Staff(staff(&format!("officer-{i}"), "taxation", "5201"));
                let to = if i % 2 == 0 {
                    CaseState::Approved
                } else {
                    CaseState::Rejected
                };
                tasks.push(tokio::spawn(async move {
                    cases.transition(case.id, to, &actor, None, t0 + 10).await
                }));
            }
            let mut won = Vec::new();
            for task in tasks {
                match task.await.expect("the task runs") {
                    Ok(c) => won.push(c.state),
                    Err(e) => assert!(
                        matches!(
                            e,
                            CaseError::IllegalTransition { .. } | CaseError::Conflict { .. }
                        ),
                        "round {round}: {e}"
                    ),
                }
            }
            assert_eq!(won.len(), 1, "round {round}: exactly one wins, {won:?}");
            let record = f.cases.get(case.id).await.expect("reads");
            assert_eq!(record.case.state, won[0]);
            assert_eq!(record.history.len(), 4, "one decision is recorded");
            assert!(record.history.iter().all(|t| t.ledger_index.is_some()));
        }
        let (events, logged) = f.cases.ledger_backlog().await.expect("backlog");
        assert_eq!(events, 12);
        assert_eq!(logged, 12);
        assert_eq!(f.ledger_size(), 12);
    })
    .await;
}

#[tokio::test]
async fn due_dates_count_working_days_and_late_cases_are_overdue() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let officer = staff("officer-1", "taxation", "520102");
        let scope = officer.scope.clone();
        // Friday evening, one working day: due at the end of Monday.
        let friday = at("2026-03-06", 18);
        let first = f
            .cases
            .submit(
                service("income-tax-certificate"),
                &applicant(520102, 105, "001003"),
                &tax_form(),
                friday,
            )
            .await
            .expect("submits");
        assert_eq!(first.due_date, "2026-03-09");
        assert_eq!(first.due_at, at("2026-03-10", 0));
        // Saturday, five working days (social security card): due the next Friday.
        let saturday = at("2026-03-07", 10);
        let card = f
            .cases
            .submit(
                service("social-security-card-replacement"),
                &applicant(520102, 106, "001003"),
                &values(&[
                    ("name", "李梅"),
                    ("card_no", "A52010212"),
                    ("bank", "中国农业银行"),
                    ("reason", "lost"),
                    ("delivery_address", "贵阳市南明区花果园大街1号"),
                    ("phone", "13912345678"),
                ]),
                saturday,
            )
            .await
            .expect("submits");
        assert_eq!(card.due_date, "2026-03-13");
        // Wednesday, one working day: due Thursday, so it is first in the queue.
        let wednesday = at("2026-03-04", 9);
        let early = f
            .cases
            .submit(
                service("income-tax-certificate"),
                &applicant(520102, 107, "001003"),
                &tax_form(),
                wednesday,
            )
            .await
            .expect("submits");
        assert_eq!(early.due_date, "2026-03-05");

        let queue = |now| {
            let cases = f.cases.clone();
            let scope = scope.clone();
            async move {
                cases
                    .queue(&scope, now)
                    .await
                    .expect("a queue")
                    .into_iter()
                    .map(|q| (q.case.id, q.overdue))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            queue(at("2026-03-09", 23)).await,
            [(early.id, true), (first.id, false)],
            "the card is another department's"
        );
        assert_eq!(
            queue(at("2026-03-10", 0)).await,
            [(early.id, true), (first.id, true)]
        );
        // A decided case is not late, and a finished one leaves the queue.
        walk(
            &f,
            early.id,
            &[
                CaseState::Accepted,
                CaseState::InReview,
                CaseState::Approved,
            ],
            &officer,
            at("2026-03-10", 1),
        )
        .await;
        assert_eq!(
            queue(at("2026-03-10", 2)).await,
            [(early.id, false), (first.id, true)]
        );
        walk(
            &f,
            early.id,
            &[CaseState::Delivered],
            &officer,
            at("2026-03-10", 3),
        )
        .await;
        assert_eq!(queue(at("2026-03-10", 4)).await, [(first.id, true)]);
        // Waiting for the citizen still counts against the limit (the clock is not stopped).
        walk(
            &f,
            first.id,
            &[
                CaseState::Accepted,
                CaseState::InReview,
                CaseState::MoreInfoNeeded,
            ],
            &officer,
            at("2026-03-10", 5),
        )
        .await;
        assert_eq!(queue(at("2026-03-10", 6)).await, [(first.id, true)]);
        let hr = staff("hr-1", "human_resources", "52");
        let hr_queue = f
            .cases
            .queue(&hr.scope, at("2026-03-13", 23))
            .await
            .expect("a queue");
        assert_eq!(hr_queue.len(), 1);
        assert!(!hr_queue[0].overdue);
        assert!(
            f.cases
                .queue(&hr.scope, at("2026-03-14", 0))
                .await
                .expect("a queue")[0]
                .overdue
        );
    })
    .await;
}

#[tokio::test]
async fn queues_and_visibility_are_scoped_by_department_and_division() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let t0 = at("2026-03-02", 9);
        let nanming = applicant(520102, 110, "001003");
        let nanming_other_village = applicant(520102, 111, "002001");
        let yunyan = applicant(520103, 112, "001001");
        let zunyi = applicant(520302, 113, "001001");
        let mut ids = Vec::new();
        for (i, who) in [&nanming, &nanming_other_village, &yunyan, &zunyi]
            .iter()
            .enumerate()
        {
            let case = f
                .cases
                .submit(
                    service("income-tax-certificate"),
                    who,
                    &tax_form(),
                    t0 + i as i64,
                )
                .await
                .expect("submits");
            ids.push(case.id);
        }
        let court_case = f
            .cases
            .submit(
                service("court-case-filing"),
                &nanming,
                &values(&[
                    ("plaintiff_name", "张三"),
                    ("plaintiff_address", "贵阳市南明区"),
                    ("phone", "13800000000"),
                    ("defendant_name", "李四"),
                    ("case_type", "private_loan"),
                    ("claims", "判令被告归还借款五万元"),
                ]),
                t0,
            )
            .await
            .expect("submits");
        let in_queue = |scope: errandless_services::Scope| {
            let cases = f.cases.clone();
            async move {
                cases
                    .queue(&scope, t0)
                    .await
                    .expect("a queue")
                    .into_iter()
                    .map(|q| q.case.id)
                    .collect::<Vec<_>>()
            }
        };
        let county = staff("t-1", "taxation", "520102");
        let village = staff("t-2", "taxation", "520102001003");
        let city = staff("t-3", "taxation", "5201");
        let province = staff("t-4", "taxation", "");
        let court = staff("c-1", "courts", "520102");
        assert_eq!(in_queue(county.scope.clone()).await, ids[..2]);
        assert_eq!(in_queue(village.scope.clone()).await, ids[..1]);
        assert_eq!(in_queue(city.scope.clone()).await, ids[..3]);
        assert_eq!(in_queue(province.scope.clone()).await, ids);
        assert_eq!(in_queue(court.scope.clone()).await, [court_case.id]);

        // get_as: staff see their scope, applicants their own cases.
        let of = |s: &Staff| Actor::Staff(s.clone());
        f.cases
            .get_as(ids[2], &of(&city))
            .await
            .expect("in the city");
        for (viewer, id) in [
            (of(&county), ids[2]),
            (of(&village), ids[1]),
            (of(&court), ids[0]),
            (of(&county), court_case.id),
            (Actor::Applicant(yunyan.subject.clone()), ids[0]),
        ] {
            let err = f.cases.get_as(id, &viewer).await.expect_err("not visible");
            assert!(
                matches!(err, CaseError::NotVisible { case, .. } if case == id),
                "{err}"
            );
        }
        let mine = f
            .cases
            .get_as(court_case.id, &Actor::Applicant(nanming.subject.clone()))
            .await
            .expect("their own");
        assert_eq!(mine.case.department, "courts");
        let own: Vec<i64> = f
            .cases
            .of_applicant(&nanming.subject)
            .await
            .expect("lists")
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(own, [ids[0], court_case.id]);
    })
    .await;
}

#[tokio::test]
async fn an_invalid_application_gives_every_field_its_error_and_changes_nothing() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let t0 = at("2026-03-02", 9);
        let before = tables(&f.store).await;
        let form = values(&[
            ("name", "  "),
            ("partner_name", &"名".repeat(51)),
            ("partner_id_number", "520102198506151039"),
            ("date", "2026-02-30"),
            ("slot", "evening"),
            ("phone", "12345678901"),
            ("email", "not-an-address"),
            ("favourite_colour", "blue"),
        ]);
        let err = f
            .cases
            .submit(
                service("marriage-registration-appointment"),
                &applicant(520102, 120, "001003"),
                &form,
                t0,
            )
            .await
            .expect_err("invalid");
        let CaseError::InvalidApplication(errors) = err else {
            panic!("expected field errors, got {err}");
        };
        let got: Vec<(&str, FieldErrorCode)> =
            errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            got,
            [
                ("name", FieldErrorCode::Required),
                ("partner_name", FieldErrorCode::TooLong),
                ("partner_id_number", FieldErrorCode::InvalidCitizenId),
                ("date", FieldErrorCode::InvalidDate),
                ("slot", FieldErrorCode::NotAnOption),
                ("phone", FieldErrorCode::InvalidPhone),
                ("email", FieldErrorCode::InvalidEmail),
                ("favourite_colour", FieldErrorCode::UnknownField),
            ]
        );
        assert_eq!(errors[0].message.zh, "请填写本人姓名");
        assert_eq!(errors[0].message.en, "Your name is required");
        assert!(
            errors[1].message.en.contains("50"),
            "{:?}",
            errors[1].message
        );
        assert_eq!(
            serde_json::to_value(&errors[4]).expect("encodes")["code"],
            "not_an_option"
        );
        for bad in [
            errandless_services::Applicant {
                subject: "52010219850615103".into(),
                division: "520102001003".into(),
            },
            errandless_services::Applicant {
                subject: citizen(520102, 121),
                division: "5201020010".into(),
            },
        ] {
            let err = f
                .cases
                .submit(service("income-tax-certificate"), &bad, &tax_form(), t0)
                .await
                .expect_err("a bad applicant");
            assert_eq!(err.code(), "invalid_applicant");
        }
        assert_eq!(tables(&f.store).await, before);
        assert_eq!(f.ledger_size(), 0);
    })
    .await;
}

#[tokio::test]
async fn an_interrupted_append_is_settled_against_the_log_and_a_delayed_one_is_made() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let alice = applicant(520102, 130, "001003");
        let officer = staff("officer-1", "taxation", "520102");
        let t0 = at("2026-03-02", 9);
        let case = f.submit_tax(&alice, t0).await;
        walk(&f, case.id, &[CaseState::Accepted], &officer, t0 + 1).await;
        assert_eq!(f.ledger_size(), 2);

        // A run appended event 2 at leaf 1 and died before settling its plan.
        sqlx::query(
            "UPDATE services_ledger_cursor SET logged_through = 1, plan_first_seq = 2, \
             plan_last_seq = 2, plan_first_index = 1 WHERE id = 1",
        )
        .execute(f.store.pool())
        .await
        .expect("rewinds");
        sqlx::query("UPDATE services_events SET leaf = NULL WHERE seq = 2")
            .execute(f.store.pool())
            .await
            .expect("forgets");
        assert_eq!(
            f.cases.flush_ledger().await.expect("flushes"),
            0,
            "found in the log"
        );
        assert_eq!(f.ledger_size(), 2, "not appended twice");
        let record = f.cases.get(case.id).await.expect("reads");
        assert_eq!(record.history[1].ledger_index, Some(1));

        // A run committed event 3 and died before appending it: the next flush appends it.
        sqlx::query("UPDATE services_cases SET state = 'in_review' WHERE id = $1")
            .bind(case.id)
            .execute(f.store.pool())
            .await
            .expect("commits");
        sqlx::query(
            "INSERT INTO services_events (seq, case_id, kind, from_state, to_state, actor_kind, \
             actor_id, actor_role, at_ms) VALUES (3, $1, 'transition', 'accepted', 'in_review', \
             'staff', 'officer-1', 'department_officer', $2)",
        )
        .bind(case.id)
        .bind(t0 + 2)
        .execute(f.store.pool())
        .await
        .expect("commits");
        assert_eq!(f.cases.ledger_backlog().await.expect("backlog"), (3, 2));
        walk(&f, case.id, &[CaseState::Approved], &officer, t0 + 3).await;
        assert_eq!(f.ledger_size(), 4, "the delayed entry, then the new one");
        let record = f.cases.get(case.id).await.expect("reads");
        let leaves: Vec<Option<u64>> = record.history.iter().map(|t| t.ledger_index).collect();
        assert_eq!(leaves, [Some(0), Some(1), Some(2), Some(3)]);
        assert_eq!(f.entry_at(2).body["to"], "in_review");
        assert_eq!(f.entry_at(3).body["to"], "approved");
    })
    .await;
}
