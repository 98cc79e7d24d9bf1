//! Arbitrary text given to the checker is refused or accepted, never a panic.

use errandless_policy::Policy;
use errandless_standards::Standard;
use proptest::prelude::*;

const HEAD: &str = r#"id = "p"
title = { zh = "测", en = "T" }
legal_basis = [{ ref = "x" }]
subject = "person"
valid = { from = "2026-01-01", to = "2026-12-31" }
eligible = "c"
[inputs]
status = "rural_revitalisation.poor_household.status"
year = "education.admission.year"
born = "public_security.resident.birth_date"
[[condition]]
id = "c"
cite = "a"
"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_file_text(text in "\\PC*") {
        let _ = Policy::parse("f.toml", &text, Standard::builtin());
    }

    #[test]
    fn any_expression(expr in "[a-z_ 0-9'().,<>=!%*/+-]{0,60}|(status|year|born|NOT|AND|OR|IN|CASE|WHEN|THEN|ELSE|END|BETWEEN|CAST|AS|BIGINT|DATE|NULL|IS|'2026-01-01'|'active'|1|2.5|\\(|\\)|,|=|<|>|/| ){0,30}") {
        let escaped = expr.replace('\\', "\\\\").replace('"', "\\\"");
        let text = format!("{HEAD}when = \"{escaped}\"\n");
        let _ = Policy::parse("f.toml", &text, Standard::builtin());
    }

    #[test]
    fn deep_nesting(depth in 0usize..400) {
        let expr = format!("{}year = 1{}", "(".repeat(depth), ")".repeat(depth));
        let text = format!("{HEAD}when = \"{expr}\"\n");
        let _ = Policy::parse("f.toml", &text, Standard::builtin());
    }
}
