//! The data-requirement workflow on both backends, and the catalog.

use ed25519_dalek::SigningKey;
use errandless_exchange::{
    migrate, Catalog, GrantError, GrantState, Grants, LegalBasis, LegalBasisKind, Members, Mode,
    NewMember, Purpose, RequestStatus, Terms,
};
use errandless_standards::{DivisionCode, Sensitivity, Standard, Uscc};
use errandless_store::testing::for_each_backend;
use errandless_store::Store;

/// Whether an error is the one a case expects.
type Expected = fn(&GrantError) -> bool;

async fn with_members(store: &Store) {
    migrate(store).await.expect("migrations apply");
    let members = Members::new(store.clone());
    for (i, (id, zh, en)) in [
        ("finance", "财政厅", "Department of Finance"),
        ("education", "教育厅", "Department of Education"),
        (
            "disabled_persons",
            "残疾人联合会",
            "Disabled Persons' Federation",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let n = u8::try_from(i).expect("few members") + 1;
        members
            .register(
                NewMember {
                    id: id.into(),
                    uscc: Uscc::compose(b'1', b'1', 520000, u32::from(n)).to_string(),
                    name_zh: zh.into(),
                    name_en: en.into(),
                    key: SigningKey::from_bytes(&[n; 32]).verifying_key(),
                },
                0,
            )
            .await
            .expect("registers");
    }
}

fn terms(dataset: &str, fields: &[&str], mode: Mode, kind: LegalBasisKind) -> Terms {
    Terms {
        consumer: "finance".into(),
        dataset: dataset.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        purpose: Purpose::BenefitEligibility,
        legal_basis: LegalBasis {
            kind,
            reference: "Provincial Notice 2026-12, art. 3".into(),
        },
        valid_from: 1_000,
        valid_until: 10_000,
        scope: Some(DivisionCode::parse("520100000000").expect("a city")),
        mode,
    }
}

#[tokio::test]
async fn a_request_is_approved_into_a_grant_that_revocation_ends_at_once() {
    for_each_backend(|store| async move {
        with_members(&store).await;
        let grants = Grants::new(store);
        let t = terms(
            "education.admission",
            &["year", "level"],
            Mode::PerSubject,
            LegalBasisKind::NormativeDocument,
        );
        let request = grants.file(t.clone(), 500).await.expect("files");
        assert_eq!(request.owner, "education");
        assert_eq!(request.status, RequestStatus::Pending);
        assert_eq!(grants.pending_for("education").await.expect("lists").len(), 1);

        let not_owner = grants.approve(&request.id, "finance", 600).await;
        assert!(matches!(not_owner, Err(GrantError::NotOwner { .. })), "{not_owner:?}");
        let grant = grants.approve(&request.id, "education", 600).await.expect("approves");
        assert_eq!(grant.terms, t);
        assert_eq!(grant.state_at(999), GrantState::NotYetValid);
        assert_eq!(grant.state_at(1_000), GrantState::Valid);
        assert_eq!(grant.state_at(10_000), GrantState::Expired);
        assert!(grant.covers(&["year".into()]));
        assert!(!grant.covers(&["year".into(), "major".into()]));
        let twice = grants.approve(&request.id, "education", 700).await;
        assert!(matches!(twice, Err(GrantError::AlreadyDecided(_))), "{twice:?}");
        let decided = grants.request(&request.id).await.expect("reads").expect("exists");
        assert!(matches!(decided.status, RequestStatus::Approved { grant: ref g, at: 600 } if *g == grant.id));

        let revoked = grants
            .revoke(&grant.id, "education", "the notice was withdrawn", 2_000)
            .await
            .expect("revokes");
        assert_eq!(revoked.state_at(1_999), GrantState::Valid);
        assert_eq!(revoked.state_at(2_000), GrantState::Revoked);
        let again = grants.revoke(&grant.id, "education", "again", 2_001).await;
        assert!(matches!(again, Err(GrantError::AlreadyRevoked(_))), "{again:?}");
        let held = grants.grants_of("finance", "education.admission").await.expect("lists");
        assert_eq!(held, vec![revoked]);
    })
    .await;
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_grants_nothing() {
    for_each_backend(|store| async move {
        with_members(&store).await;
        let grants = Grants::new(store);
        let t = terms(
            "finance.one_card",
            &["account"],
            Mode::PerSubject,
            LegalBasisKind::Law,
        );
        let mut t = t;
        t.consumer = "education".into();
        let request = grants.file(t, 1).await.expect("files");
        let r = grants.reject(&request.id, "finance", "  ", 2).await;
        assert!(matches!(r, Err(GrantError::NoReason)), "{r:?}");
        let rejected = grants
            .reject(&request.id, "finance", "no statutory duty shown", 2)
            .await
            .expect("rejects");
        assert_eq!(
            rejected.status,
            RequestStatus::Rejected {
                reason: "no statutory duty shown".into(),
                at: 2
            }
        );
        assert!(grants
            .grants_of("education", "finance.one_card")
            .await
            .expect("lists")
            .is_empty());
    })
    .await;
}

#[tokio::test]
async fn bad_terms_are_refused_and_nothing_is_filed() {
    for_each_backend(|store| async move {
        with_members(&store).await;
        let grants = Grants::new(store);
        let base = || {
            terms(
                "disabled_persons.certificate",
                &["grade"],
                Mode::PerSubject,
                LegalBasisKind::NormativeDocument,
            )
        };
        let ds = Standard::builtin().dataset("disabled_persons.certificate");
        let ds = ds.expect("the standard has disability certificates");
        let sensitive = ds
            .fields
            .iter()
            .find(|f| {
                Standard::builtin()
                    .element(&f.element)
                    .map(|e| e.sensitivity)
                    == Some(Sensitivity::SensitivePersonal)
            })
            .expect("a sensitive field")
            .name
            .clone();
        let cases: Vec<(Terms, Expected)> = vec![
            (
                Terms {
                    consumer: "nobody".into(),
                    ..base()
                },
                |e| matches!(e, GrantError::UnknownMember(_)),
            ),
            (
                Terms {
                    dataset: "x.y".into(),
                    ..base()
                },
                |e| matches!(e, GrantError::UnknownDataset(_)),
            ),
            (
                Terms {
                    fields: vec![],
                    ..base()
                },
                |e| matches!(e, GrantError::NoFields),
            ),
            (
                Terms {
                    fields: vec!["shoe_size".into()],
                    ..base()
                },
                |e| matches!(e, GrantError::UnknownField { .. }),
            ),
            (
                Terms {
                    fields: vec![sensitive.clone(), sensitive.clone()],
                    ..base()
                },
                |e| matches!(e, GrantError::RepeatedField(_)),
            ),
            (
                Terms {
                    valid_until: 1_000,
                    ..base()
                },
                |e| matches!(e, GrantError::EmptyPeriod),
            ),
            (
                Terms {
                    scope: Some(DivisionCode::parse("520102001000").expect("a township")),
                    ..base()
                },
                |e| matches!(e, GrantError::ScopeTooFine(_)),
            ),
            (
                Terms {
                    fields: vec![sensitive.clone()],
                    mode: Mode::Bulk,
                    ..base()
                },
                |e| matches!(e, GrantError::SensitiveBulkNeedsLaw { .. }),
            ),
        ];
        for (t, expected) in cases {
            let e = grants.file(t.clone(), 1).await.expect_err("refused");
            assert!(expected(&e), "{t:?}: {e}");
        }
        assert!(grants
            .pending_for("disabled_persons")
            .await
            .expect("lists")
            .is_empty());
        // The same sensitive field in bulk is allowed under a law.
        let law = Terms {
            fields: vec![sensitive],
            mode: Mode::Bulk,
            legal_basis: LegalBasis {
                kind: LegalBasisKind::Law,
                reference: "中华人民共和国残疾人保障法 第四十八条".into(),
            },
            ..base()
        };
        grants.file(law, 1).await.expect("files under a law");
    })
    .await;
}

#[test]
fn the_catalog_describes_datasets_with_sensitivity_and_owner() {
    let standard = Standard::builtin();
    let catalog = Catalog::new(standard.datasets());
    assert_eq!(catalog.list().len(), standard.datasets().count());
    let one_card = catalog.describe("finance.one_card").expect("published");
    assert_eq!(one_card.summary.owner, "finance");
    assert_eq!(one_card.owner_en, "Department of Finance");
    assert_eq!(one_card.summary.sensitivity, Sensitivity::SensitivePersonal);
    assert_eq!(one_card.subject, "person");
    let account = one_card
        .fields
        .iter()
        .find(|f| f.name == "account")
        .expect("field");
    assert_eq!(account.sensitivity, Sensitivity::SensitivePersonal);
    assert_eq!(
        catalog
            .describe("education.admission")
            .expect("published")
            .subject,
        "person_via:education.student"
    );
    assert!(catalog
        .list_of("education")
        .iter()
        .all(|d| d.owner == "education"));
    assert!(Catalog::new([]).describe("finance.one_card").is_none());
}
