//! Property tests of form checking: any submitted values either validate or give field errors,
//! never a panic; what validates is stable; and an invalid submission leaves the services
//! tables and the ledger exactly as they were, on both backends.

mod common;

use std::collections::BTreeSet;

use common::*;
use errandless_services::{validate, CaseError, Catalogue, FieldKind, FormField, Service, Values};
use errandless_standards::{CitizenId, Date, Uscc};
use errandless_store::testing::for_each_backend;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

/// A value the field accepts.
fn sample(field: &FormField) -> String {
    match field.kind {
        FieldKind::Text => "贵阳市南明区".into(),
        FieldKind::Date => "2026-03-02".into(),
        FieldKind::Number => "12.5".chars().take(field.limit() as usize).collect(),
        FieldKind::Choice => field.options[0].value.clone(),
        FieldKind::Phone => "13912345678".into(),
        FieldKind::Email => "li.mei@example.cn".into(),
        FieldKind::CitizenId => {
            CitizenId::compose(520102, Date::new(1990, 3, 7).expect("a date"), 105)
                .as_str()
                .to_owned()
        }
        FieldKind::Uscc => Uscc::compose(b'9', b'1', 520102, 12_345).to_string(),
    }
}

/// Anything a client might send as a value: arbitrary text, digits, long text, near misses.
fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,20}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "1[0-9]{10}",
        "-?[0-9]{1,6}(\\.[0-9]{0,3})?",
        "[a-z.]{0,10}@[a-z.]{0,10}",
        "\\PC{1990,2010}",
        "[ \t\r\n]{0,5}",
    ]
}

/// (which service, per field: 0 leave out, 1 a good value, 2 garbage, 3 a good value padded
/// with spaces; unknown extra fields).
type Submission = (usize, Vec<(u8, String)>, Vec<(String, String)>);

fn submission() -> impl Strategy<Value = Submission> {
    let n = Catalogue::builtin().services().len();
    (
        0..n,
        prop::collection::vec((0u8..4, garbage()), 0..16),
        prop::collection::vec(("\\PC{0,80}", garbage()), 0..3),
    )
}

fn build((index, choices, extra): &Submission) -> (&'static Service, Values) {
    let service = &Catalogue::builtin().services()[*index];
    let mut values = Values::new();
    for (field, (mode, junk)) in service.fields.iter().zip(choices) {
        let value = match mode {
            0 => continue,
            1 => sample(field),
            2 => junk.clone(),
            _ => format!("  {}\t", sample(field)),
        };
        values.insert(field.name.clone(), value);
    }
    for (k, v) in extra {
        values.insert(k.clone(), v.clone());
    }
    (service, values)
}

proptest! {
    #![proptest_config(Config::with_cases(512))]

    #[test]
    fn any_submission_validates_or_gives_field_errors(s in submission()) {
        let (service, values) = build(&s);
        match validate(service, &values) {
            Ok(clean) => {
                prop_assert_eq!(validate(service, &clean), Ok(clean.clone()), "stable");
                for field in &service.fields {
                    if field.required {
                        prop_assert!(clean.contains_key(&field.name), "{} is required", field.name);
                    }
                }
                for (name, value) in &clean {
                    let field = service.field(name).expect("only the form's fields");
                    prop_assert!(!value.is_empty() && value.trim() == value);
                    prop_assert!(value.chars().count() <= field.limit() as usize);
                }
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                let mut seen = BTreeSet::new();
                for e in &errors {
                    prop_assert!(seen.insert(e.field.clone()), "one error per field: {}", e.field);
                    prop_assert!(
                        service.field(&e.field).is_some()
                            || values.keys().any(|k| k.chars().take(64).collect::<String>() == e.field),
                        "{} is a field or a key submitted", e.field
                    );
                    prop_assert!(!e.message.zh.is_empty() && !e.message.en.is_empty());
                }
            }
        }
    }

    #[test]
    fn good_values_always_validate(index in 0..Catalogue::builtin().services().len(), pad in any::<bool>()) {
        let service = &Catalogue::builtin().services()[index];
        let values: Values = service
            .fields
            .iter()
            .map(|f| (f.name.clone(), if pad { format!(" {} ", sample(f)) } else { sample(f) }))
            .collect();
        let clean = validate(service, &values);
        prop_assert!(clean.is_ok(), "{}: {:?}", service.id, clean);
    }
}

#[tokio::test]
async fn an_invalid_submission_leaves_the_tables_and_the_ledger_unchanged() {
    for_each_backend(|store| async move {
        let f = fixture(store).await;
        let mut runner = TestRunner::deterministic();
        let strategy = submission();
        let (mut accepted, mut refused) = (0, 0);
        for i in 0..96 {
            let mut s = strategy
                .new_tree(&mut runner)
                .expect("a submission")
                .current();
            if i % 3 == 0 {
                // Every third one good, perhaps padded with spaces, so both paths are taken.
                let n = Catalogue::builtin().services()[s.0].fields.len();
                s.1 = (0..n)
                    .map(|k| (1 + 2 * (k % 2) as u8, String::new()))
                    .collect();
                s.2.clear();
            }
            let (service, values) = build(&s);
            let before = tables(&f.store).await;
            let size = f.ledger_size();
            let who = applicant(520102, 300 + i, "001003");
            match f
                .cases
                .submit(service, &who, &values, at("2026-03-02", 9))
                .await
            {
                Ok(case) => {
                    accepted += 1;
                    assert_eq!(Ok(case.values.clone()), validate(service, &values));
                    assert_eq!(f.ledger_size(), size + 1);
                }
                Err(CaseError::InvalidApplication(errors)) => {
                    refused += 1;
                    assert_eq!(Err(errors), validate(service, &values));
                    assert_eq!(tables(&f.store).await, before, "nothing changed");
                    assert_eq!(f.ledger_size(), size);
                }
                Err(other) => panic!("{}: {other}", service.id),
            }
        }
        assert!(
            accepted > 0 && refused > 0,
            "{accepted} accepted, {refused} refused"
        );
    })
    .await;
}
