//! Ratings and follow-ups on both backends: only the applicant, only once, only a finished
//! case; a bad rating opens a follow-up due in 15 working days, which staff in scope answer
//! once; every rating and answer is in the ledger.

mod common;

use common::*;
use errandless_ledger::SubjectKey;
use errandless_services::{Case, CaseError, CaseState, RatingLevel, Staff};
use errandless_store::testing::for_each_backend;

async fn finished(f: &Fixture, sequence: u16, end: CaseState, officer: &Staff, now: i64) -> Case {
    let case = f
        .submit_tax(&applicant(520102, sequence, "001003"), now)
        .await;
    let steps: &[CaseState] = match end {
        CaseState::Delivered => &[
            CaseState::Accepted,
            CaseState::InReview,
            CaseState::Approved,
            CaseState::Delivered,
        ],
        CaseState::Rejected => &[CaseState::Rejected],
        CaseState::InReview => &[CaseState::Accepted, CaseState::InReview],
        other => panic!("no walk to {other}"),
    };
    for step in steps {
        f.cases
            .transition(case.id, *step, &officer.clone().into(), None, now)
            .await
            .expect("a legal step");
    }
    f.cases.get(case.id).await.expect("reads").case
}

#[tokio::test]
async fn only_the_applicant_rates_a_finished_case_once() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let officer = staff("officer-1", "taxation", "520102");
        let t0 = at("2026-03-02", 9);
        let ratings = f.cases.ratings();

        let open = finished(&f, 201, CaseState::InReview, &officer, t0).await;
        let before = tables(&f.store).await;
        let err = ratings
            .rate(open.id, &open.applicant, RatingLevel::Satisfied, None, t0)
            .await
            .expect_err("not finished");
        assert!(
            matches!(
                err,
                CaseError::NotRateable {
                    state: CaseState::InReview,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(tables(&f.store).await, before);

        let done = finished(&f, 202, CaseState::Delivered, &officer, t0).await;
        let before = tables(&f.store).await;
        let size = f.ledger_size();
        for (subject, code) in [
            (citizen(520102, 203), "not_visible"),
            ("not an id".to_owned(), "invalid_applicant"),
        ] {
            let err = ratings
                .rate(done.id, &subject, RatingLevel::VerySatisfied, None, t0)
                .await
                .expect_err(code);
            assert_eq!(err.code(), code);
        }
        let err = ratings
            .rate(
                done.id,
                &done.applicant,
                RatingLevel::Satisfied,
                Some(&"好".repeat(501)),
                t0,
            )
            .await
            .expect_err("too long");
        assert_eq!(err.code(), "invalid_text");
        let err = ratings
            .rate(999, &done.applicant, RatingLevel::Satisfied, None, t0)
            .await
            .expect_err("no such case");
        assert!(matches!(err, CaseError::UnknownCase(999)));
        assert_eq!(tables(&f.store).await, before);
        assert_eq!(f.ledger_size(), size);
        assert!(ratings
            .rated_by(&done.applicant)
            .await
            .expect("reads")
            .is_empty());

        let rated = ratings
            .rate(
                done.id,
                &done.applicant,
                RatingLevel::VerySatisfied,
                Some("办理很快，谢谢"),
                t0 + 1_000,
            )
            .await
            .expect("rates");
        assert!(
            rated.follow_up.is_none(),
            "a good rating opens no follow-up"
        );
        assert_eq!(
            ratings.of_case(done.id).await.expect("reads"),
            Some(rated.rating.clone())
        );
        assert_eq!(
            ratings.rated_by(&done.applicant).await.expect("reads"),
            [done.id].into_iter().collect(),
            "the rated case, and not the open one"
        );
        assert!(ratings
            .rated_by(&open.applicant)
            .await
            .expect("reads")
            .iter()
            .all(|id| *id != open.id));
        let after = tables(&f.store).await;
        let err = ratings
            .rate(
                done.id,
                &done.applicant,
                RatingLevel::Dissatisfied,
                None,
                t0 + 2_000,
            )
            .await
            .expect_err("once");
        assert!(matches!(err, CaseError::AlreadyRated(id) if id == done.id));
        assert_eq!(tables(&f.store).await, after);

        let entry = f.entry_at(size);
        assert_eq!(entry.kind.as_str(), "rating");
        assert_eq!(entry.actor, "applicant");
        assert_eq!(
            entry.subject,
            Some(SubjectKey::from_bytes(SUBJECT_KEY).tag(&done.applicant))
        );
        assert_eq!(entry.body["level"], "very_satisfied");
        assert_eq!(entry.body["text"], true);
        let text = String::from_utf8(entry.to_bytes().expect("encodes")).expect("utf-8");
        assert!(
            !text.contains("谢谢"),
            "the comment stays out of the ledger"
        );
        assert!(f
            .cases
            .ledger_leaves_of(&done.applicant)
            .await
            .expect("lists")
            .contains(&size));

        // A rejected case can be rated too.
        let rejected = finished(&f, 204, CaseState::Rejected, &officer, t0).await;
        ratings
            .rate(
                rejected.id,
                &rejected.applicant,
                RatingLevel::BasicallySatisfied,
                None,
                t0,
            )
            .await
            .expect("a rejected case is rateable");
    })
    .await;
}

#[tokio::test]
async fn a_bad_rating_opens_a_follow_up_that_staff_in_scope_answer_once() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let officer = staff("officer-1", "taxation", "520102");
        let neighbour = staff("officer-2", "taxation", "520103");
        let courts = staff("judge-1", "courts", "");
        let ratings = f.cases.ratings();
        let follow_ups = f.cases.follow_ups();
        let t0 = at("2026-03-02", 9);
        let done = finished(&f, 210, CaseState::Delivered, &officer, t0).await;
        let other = finished(&f, 211, CaseState::Delivered, &officer, t0).await;

        // Friday afternoon: 15 working days later is three weeks on, a Friday.
        let friday = at("2026-03-06", 15);
        let rated = ratings
            .rate(
                done.id,
                &done.applicant,
                RatingLevel::VeryDissatisfied,
                Some("窗口人员态度差"),
                friday,
            )
            .await
            .expect("rates");
        let follow_up = rated.follow_up.expect("a bad rating opens a follow-up");
        assert_eq!(follow_up.due_date, "2026-03-27");
        assert_eq!(follow_up.due_at, at("2026-03-28", 0));
        assert_eq!(follow_up.level, RatingLevel::VeryDissatisfied);
        assert_eq!(follow_up.comment.as_deref(), Some("窗口人员态度差"));
        assert!(!follow_up.is_overdue(at("2026-03-27", 23)));
        assert!(follow_up.is_overdue(at("2026-03-28", 0)));
        let second = ratings
            .rate(
                other.id,
                &other.applicant,
                RatingLevel::Dissatisfied,
                None,
                friday + 1,
            )
            .await
            .expect("rates")
            .follow_up
            .expect("dissatisfied is bad too");

        let open = |scope: errandless_services::Scope| {
            let follow_ups = follow_ups.clone();
            async move {
                follow_ups
                    .open_in(&scope)
                    .await
                    .expect("lists")
                    .into_iter()
                    .map(|f| f.id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(open(officer.scope.clone()).await, [follow_up.id, second.id]);
        assert!(open(neighbour.scope.clone()).await.is_empty());
        assert!(open(courts.scope.clone()).await.is_empty());

        let before = tables(&f.store).await;
        let size = f.ledger_size();
        for (who, text, code) in [
            (&neighbour, "已整改", "not_visible"),
            (&courts, "已整改", "not_visible"),
            (&officer, "   ", "invalid_text"),
        ] {
            let err = follow_ups
                .answer(follow_up.id, who, text, friday + 10)
                .await
                .expect_err(code);
            assert_eq!(err.code(), code);
        }
        let err = follow_ups
            .answer(999, &officer, "已整改", friday + 10)
            .await
            .expect_err("no such follow-up");
        assert!(matches!(err, CaseError::UnknownFollowUp(999)));
        assert_eq!(tables(&f.store).await, before);
        assert_eq!(f.ledger_size(), size);

        let answered = follow_ups
            .answer(
                follow_up.id,
                &officer,
                "已约谈窗口人员并回访申请人，申请人表示认可。",
                at("2026-03-10", 10),
            )
            .await
            .expect("answers");
        let answer = answered.answer.clone().expect("answered");
        assert_eq!(answer.at, at("2026-03-10", 10));
        assert!(
            !answered.is_overdue(at("2026-04-30", 0)),
            "an answered follow-up is never late"
        );
        assert_eq!(follow_ups.get(follow_up.id).await.expect("reads"), answered);
        assert_eq!(
            follow_ups.of_case(done.id).await.expect("reads"),
            Some(answered.clone())
        );
        assert_eq!(open(officer.scope.clone()).await, [second.id]);
        let after = tables(&f.store).await;
        let err = follow_ups
            .answer(follow_up.id, &officer, "再次答复", at("2026-03-11", 10))
            .await
            .expect_err("once");
        assert!(matches!(err, CaseError::AlreadyAnswered(id) if id == follow_up.id));
        assert_eq!(tables(&f.store).await, after);

        let entry = f.entry_at(size);
        assert_eq!(entry.kind.as_str(), "follow_up");
        assert_eq!(entry.actor, "officer-1");
        assert_eq!(entry.body["follow_up"], follow_up.id.to_string());
        assert_eq!(entry.body["role"], "department_officer");
        assert_eq!(f.ledger_size(), size + 1);
        let (events, logged) = f.cases.ledger_backlog().await.expect("backlog");
        assert_eq!(events, logged);
    })
    .await;
}
