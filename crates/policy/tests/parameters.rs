//! Dated parameters and the period's values: `policy check` refuses gaps, overlaps and values
//! that leave part of the validity without one; a policy resolved for a period reads the
//! value in force on its first day; `age(…)` is checked where it is written.

use errandless_policy::{ErrorKind, Policy, PolicyError};
use errandless_standards::Standard;

/// A monthly allowance in force from 2026 with no end, its amount a dated parameter.
fn policy(values: &str, extra: &str) -> String {
    format!(
        r#"id = "dated"
title = {{ zh = "测试", en = "Test" }}
legal_basis = [{{ ref = "Measures 1 (synthetic)" }}]
subject = "person"
valid = {{ from = "2026-01-01" }}
amount = "CASE WHEN age(born, year_start) >= 90 THEN monthly + 5000 ELSE monthly END"
pay_to = "account"
frequency = "monthly"
eligible = "old"
[inputs]
born = "public_security.resident.birth_date"
account = "finance.one_card.account"
[[condition]]
id = "old"
when = "age(born, year_start) >= 80"
cite = "art. 3: aged 80 or over on 1 January of the year paid"
{extra}
[[parameter]]
id = "monthly"
title = {{ zh = "每月金额（分）", en = "Monthly amount (fen)" }}
values = [
{values}
]
"#
    )
}

const GOOD: &str = r#"  { from = "2026-01-01", to = "2026-12-31", value = 10000, cite = "Measures, art. 4" },
  { from = "2027-01-01", value = 12000, cite = "Notice 2027 No. 3" },"#;

fn parse(text: &str) -> Result<Policy, Vec<PolicyError>> {
    Policy::parse("p.toml", text, Standard::builtin())
}

/// The errors of `text`, as (kind, message).
fn errors(text: &str) -> Vec<(ErrorKind, String)> {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(errors) => errors.into_iter().map(|e| (e.kind, e.message)).collect(),
    }
}

fn one_error(text: &str, kind: ErrorKind, says: &str) {
    let all = errors(text);
    assert!(
        all.iter().any(|(k, m)| *k == kind && m.contains(says)),
        "expected {kind:?} saying {says:?}, got {all:?}"
    );
}

#[test]
fn a_parameter_reads_the_value_in_force_for_the_period() {
    let p = parse(&policy(GOOD, "")).expect("valid");
    assert!(p.needs_period());
    for (month, amount) in [
        ("2026-12", "10000"),
        ("2027-01", "12000"),
        ("2031-06", "12000"),
    ] {
        let period = p.period(month).expect("a month");
        let used = p.parameters_in(&period);
        assert_eq!(used.len(), 1);
        assert_eq!(used[0].value, amount, "{month}");
        let resolved = p.resolve(&period);
        let amount_expr = &resolved.payment.as_ref().expect("pays").amount.expr;
        assert!(amount_expr.contains(amount), "{month}: {amount_expr}");
        assert!(!amount_expr.contains("year_start"), "{amount_expr}");
        assert_eq!(resolved.resolved_for.as_ref(), Some(&period));
    }
    // 80 on 1 January 2027: born on 1 January 1947 at the latest.
    let march = p.resolve(&p.period("2027-03").expect("a month"));
    assert_eq!(march.conditions[0].when, "(born) <= '1947-01-01'");
}

#[test]
fn gaps_overlaps_and_uncovered_days_are_refused() {
    let cases: &[(&str, ErrorKind, &str)] = &[
        (
            r#"  { from = "2026-01-01", to = "2026-11-30", value = 10000, cite = "a" },
  { from = "2027-01-01", value = 12000, cite = "b" },"#,
            ErrorKind::Parameter,
            "no value from 2026-12-01 to 2026-12-31",
        ),
        (
            r#"  { from = "2026-01-01", to = "2027-01-31", value = 10000, cite = "a" },
  { from = "2027-01-01", value = 12000, cite = "b" },"#,
            ErrorKind::Parameter,
            "overlap",
        ),
        (
            r#"  { from = "2027-01-01", value = 12000, cite = "b" },
  { from = "2026-01-01", value = 10000, cite = "a" },"#,
            ErrorKind::Parameter,
            "overlap",
        ),
        (
            r#"  { from = "2026-03-01", value = 10000, cite = "a" },"#,
            ErrorKind::Parameter,
            "no value from 2026-01-01",
        ),
        (
            r#"  { from = "2026-01-01", to = "2026-12-31", value = 10000, cite = "a" },"#,
            ErrorKind::Parameter,
            "no value after 2026-12-31",
        ),
        (
            r#"  { from = "2026-01-01", to = "2025-12-31", value = 10000, cite = "a" },"#,
            ErrorKind::Parameter,
            "ends (2025-12-31) before it starts",
        ),
        (
            r#"  { from = "2026-01-01", to = "2026-12-31", value = 10000, cite = "a" },
  { from = "2027-01-01", value = "2027-01-01", cite = "b" },"#,
            ErrorKind::Parameter,
            "not all of one type",
        ),
        (
            r#"  { from = "2026-01-01", value = 10000, cite = " " },"#,
            ErrorKind::Parameter,
            "cites the instrument",
        ),
        (
            r#"  { from = "2026-02-30", value = 10000, cite = "a" },"#,
            ErrorKind::Malformed,
            "'2026-02-30' is not a date",
        ),
    ];
    for (values, kind, says) in cases {
        one_error(&policy(values, ""), *kind, says);
    }
    // A parameter may not take an input's, a period value's or another parameter's name.
    one_error(
        &policy(
            GOOD,
            "[[parameter]]\nid = \"period_year\"\ntitle = { zh = \"年\", en = \"year\" }\nvalues = [{ from = \"2026-01-01\", value = 1, cite = \"a\" }]",
        ),
        ErrorKind::Parameter,
        "already an input, a period value or a parameter",
    );
}

#[test]
fn age_is_compared_with_a_number_known_before_the_data() {
    let base = policy(GOOD, "");
    let with_when = |when: &str| {
        base.replace(
            "when = \"age(born, year_start) >= 80\"",
            &format!("when = \"{when}\""),
        )
    };
    one_error(
        &with_when("age(born, year_start) + 1 >= 80"),
        ErrorKind::Type,
        "compared with a whole number",
    );
    one_error(
        &with_when("age(born, born) >= 80"),
        ErrorKind::Type,
        "known before the data is read",
    );
    one_error(
        &with_when("age(account, year_start) >= 80"),
        ErrorKind::Type,
        "counts from a date",
    );
    one_error(
        &with_when("age(born) >= 80"),
        ErrorKind::Syntax,
        "two dates",
    );
    one_error(
        &with_when("age(born, year_start) >= account"),
        ErrorKind::Type,
        "a whole number known before the data is read",
    );
    one_error(
        &with_when("period_start >= 80"),
        ErrorKind::Type,
        "cannot compare",
    );
    // These are fine.
    for when in [
        "age(born, '2027-01-01') BETWEEN 80 AND 120",
        "NOT age(born, period_end) < 80",
        "80 <= age(born, period_start) AND born <= period_end",
    ] {
        parse(&with_when(when)).unwrap_or_else(|e| panic!("{when}: {e:?}"));
    }
}

#[test]
fn examples_are_decided_on_their_day_within_the_validity() {
    let text = policy(GOOD, "")
        + r#"[[test]]
name = "too early"
on = "2025-06-01"
inputs = { born = "1940-01-01", account = "1" }
eligible = true
amount = 10000
"#;
    one_error(&text, ErrorKind::Example, "outside the validity");
}
