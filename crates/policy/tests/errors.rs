//! Each kind of mistake is refused with its file, line and column.

use errandless_policy::{ErrorKind, Policy, PolicyError};
use errandless_standards::Standard;

/// A valid policy; tests replace one line of it.
const BASE: &str = r#"id = "test-policy"
title = { zh = "测试", en = "Test" }
legal_basis = [{ ref = "Notice 1 (synthetic)" }]
subject = "person"
valid = { from = "2026-01-01", to = "2026-12-31" }
amount = "CASE level WHEN 'bachelor' THEN 500000 ELSE 300000 END"
pay_to = "account"
frequency = "one-off"
eligible = "poor AND fresh"
[inputs]
status = "rural_revitalisation.poor_household.status"
year = "education.admission.year"
level = "education.admission.level"
born = "public_security.resident.birth_date"
area = "natural_resources.real_estate.floor_area"
account = "finance.one_card.account"
[[condition]]
id = "poor"
when = "status IN ('active', 'monitored')"
cite = "art. 2"
[[condition]]
id = "fresh"
when = "year = 2026 AND born >= '2000-01-01'"
cite = "art. 3"
[[test]]
name = "eligible"
inputs = { status = "active", year = 2026, level = "bachelor", born = "2007-05-01", account = "1" }
eligible = true
amount = 500000
"#;

fn parse(text: &str) -> Result<Policy, Vec<PolicyError>> {
    Policy::parse("p.toml", text, Standard::builtin())
}

/// BASE with the line that starts with `prefix` replaced (the first one).
fn with(prefix: &str, line: &str) -> String {
    let mut done = false;
    let out: Vec<&str> = BASE
        .lines()
        .map(|l| {
            if !done && l.starts_with(prefix) {
                done = true;
                line
            } else {
                l
            }
        })
        .collect();
    assert!(done, "no line starts with {prefix}");
    out.join("\n") + "\n"
}

/// The one error of `text`, as (kind, line, column).
fn only_error(text: &str) -> (ErrorKind, usize, usize, String) {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(errors) => {
            assert_eq!(errors.len(), 1, "{errors:#?}");
            let e = &errors[0];
            assert_eq!(e.file, "p.toml");
            (e.kind, e.line, e.column, e.message.clone())
        }
    }
}

#[test]
fn the_base_policy_is_valid() {
    let p = parse(BASE).expect("valid");
    assert_eq!(p.examples.len(), 1);
    assert_eq!((p.examples[0].line, p.examples[0].column), (25, 1));
}

#[test]
fn an_unknown_element_is_named_where_it_is_written() {
    let text = with("year =", r#"year = "education.admission.yeer""#);
    let (kind, line, col, msg) = only_error(&text);
    assert_eq!((kind, line, col), (ErrorKind::UnknownElement, 12, 8));
    assert!(msg.contains("education.admission has"), "{msg}");
    assert_eq!(kind.code(), "unknown_element");
}

#[test]
fn an_expression_that_cannot_parse_is_a_syntax_error() {
    let text = with("when = \"status", r#"when = "status IN ('active', ""#);
    let (kind, line, _, _) = only_error(&text.replace(r#"'active', ""#, r#"'active',""#));
    assert_eq!((kind, line), (ErrorKind::Syntax, 19));
    let text = with("when = \"status", r#"when = "status = 'active' 'x'""#);
    let (kind, line, col, _) = only_error(&text);
    assert_eq!((kind, line, col), (ErrorKind::Syntax, 19, 27));
    let text = with("when = \"status", r#"when = "status IN (SELECT 1)""#);
    assert_eq!(only_error(&text).0, ErrorKind::Syntax);
}

#[test]
fn an_unknown_identifier_points_at_the_name() {
    let text = with("when = \"status", r#"when = "statsu = 'active'""#);
    let (kind, line, col, msg) = only_error(&text);
    assert_eq!((kind, line, col), (ErrorKind::UnknownIdentifier, 19, 9));
    assert!(msg.contains("statsu"), "{msg}");
    // A condition may not use another condition; eligibility may.
    let text = with("when = \"year", r#"when = "poor AND year = 2026""#);
    assert_eq!(only_error(&text).0, ErrorKind::UnknownIdentifier);
    let text = with("eligible =", r#"eligible = "poor AND frsh""#);
    let (kind, line, col, _) = only_error(&text);
    assert_eq!((kind, line, col), (ErrorKind::UnknownIdentifier, 9, 22));
}

#[test]
fn type_errors_name_the_comparison() {
    let text = with("when = \"year", r#"when = "year = '2026'""#);
    let (kind, line, col, msg) = only_error(&text);
    assert_eq!((kind, line, col), (ErrorKind::Type, 23, 9));
    assert!(msg.contains("integer") && msg.contains("text"), "{msg}");
    let text = with("when = \"year", r#"when = "born >= '2000-13-01'""#);
    let (kind, _, col, _) = only_error(&text);
    assert_eq!((kind, col), (ErrorKind::Type, 17));
    let text = with("when = \"year", r#"when = "year + 1""#);
    assert_eq!(only_error(&text).0, ErrorKind::Type);
    let text = with("pay_to =", r#"pay_to = "level""#);
    assert_eq!(only_error(&text).0, ErrorKind::Type);
}

#[test]
fn a_code_outside_the_element_codes_is_refused() {
    let text = with(
        "when = \"status",
        r#"when = "status IN ('active', 'poor')""#,
    );
    let (kind, line, col, msg) = only_error(&text);
    assert_eq!((kind, line, col), (ErrorKind::UnknownCode, 19, 30));
    assert!(msg.contains("active, monitored, lifted"), "{msg}");
}

#[test]
fn conditions_no_subject_can_meet() {
    for when in [
        "status IN ('poor', 'needy')",
        "status = 'bogus'",
        "year >= 2026 AND year < 2020",
        "year > 2026 AND year <= 2026",
        "(year BETWEEN 2020 AND 2022) AND year = 2026",
        "status = 'active' AND status = 'lifted'",
        "status NOT IN ('active', 'monitored', 'lifted')",
        "born >= '2000-01-01' AND born < DATE '1990-01-01'",
        "area > 100.5 AND area < 50",
    ] {
        let text = with("when = \"status", &format!("when = \"{when}\""));
        let (kind, line, col, _) = only_error(&text);
        assert_eq!(
            (kind, line, col),
            (ErrorKind::Unsatisfiable, 19, 9),
            "{when}"
        );
    }
    // What can be met passes.
    for when in [
        "year >= 2020 AND year < 2027",
        "year = 2026 OR year = 2020",
        "status <> 'lifted'",
        "year >= 2026 AND year <= 2026",
    ] {
        let text = with("when = \"status", &format!("when = \"{when}\""));
        assert!(parse(&text).is_ok(), "{when}");
    }
}

#[test]
fn an_amount_must_be_integer_fen() {
    for amount in [
        "300000 * 1.5",
        "area * 100",
        "year / 2",
        "CASE WHEN poor THEN 1.0 ELSE 0 END",
    ] {
        let text = with("amount =", &format!("amount = \"{amount}\""));
        let (kind, line, col, _) = only_error(&text);
        assert_eq!(
            (kind, line, col),
            (ErrorKind::NonIntegerAmount, 6, 11),
            "{amount}"
        );
    }
    for amount in [
        "CAST(area * 100 AS BIGINT)",
        "CAST(year / 2 AS BIGINT)",
        "0",
        "NULL",
    ] {
        let text = with("amount =", &format!("amount = \"{amount}\""));
        assert!(parse(&text).is_ok(), "{amount}");
    }
    let text = with("amount =", r#"amount = "level""#);
    assert_eq!(only_error(&text).0, ErrorKind::Type);
}

#[test]
fn malformed_files_are_named_at_the_key() {
    let text = with("subject =", r#"subjects = "person""#);
    let (kind, line, _, _) = only_error(&text);
    assert_eq!((kind, line), (ErrorKind::Malformed, 4));
    let text = with("frequency =", r#"frequency = "weekly""#);
    let (kind, line, col, _) = only_error(&text);
    assert_eq!((kind, line, col), (ErrorKind::Malformed, 8, 13));
    let text = with(
        "valid =",
        r#"valid = { from = "2026-01-01", to = "2025-12-31" }"#,
    );
    assert_eq!(only_error(&text).0, ErrorKind::Malformed);
    let text = with("cite = \"art. 2\"", r#"cite = "  ""#);
    assert_eq!(only_error(&text).0, ErrorKind::Malformed);
    let text = with("pay_to =", "");
    assert_eq!(only_error(&text).0, ErrorKind::Malformed);
}

#[test]
fn examples_are_checked_against_the_inputs() {
    let text = with(
        "inputs = {",
        r#"inputs = { status = "rich", year = 2026, account = "1" }"#,
    );
    let (kind, line, _, msg) = only_error(&text);
    assert_eq!((kind, line), (ErrorKind::Example, 27));
    assert!(msg.contains("status"), "{msg}");
    let text = with(
        "inputs = {",
        r#"inputs = { status = "active", yaer = 2026, account = "1" }"#,
    );
    assert_eq!(only_error(&text).0, ErrorKind::Example);
    let text = with("amount = 500000", "");
    let (kind, line, col, _) = only_error(&text);
    assert_eq!((kind, line, col), (ErrorKind::Example, 25, 1));
}

#[test]
fn errors_display_as_file_line_column() {
    let text = with("year =", r#"year = "education.admission.yeer""#);
    let errors = parse(&text).expect_err("refused");
    assert!(
        errors[0].to_string().starts_with("p.toml:12:8: "),
        "{}",
        errors[0]
    );
}
