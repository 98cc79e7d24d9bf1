//! The pack's examples run on DataFusion and hold; a wrong expectation fails at its entry.

use std::path::PathBuf;

use errandless_evaluation::{check_examples, compile};
use errandless_policy::{ErrorKind, Policy};
use errandless_standards::Standard;

fn pack_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

#[test]
fn every_example_of_the_pack_holds() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(pack_dir())
        .expect("the pack is in the repository")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 5);
    for file in files {
        let policy = Policy::load(&file).expect("a valid pack file");
        let name = file.display().to_string();
        match check_examples(&policy, &name) {
            Ok(n) => assert_eq!(n, policy.examples.len()),
            Err(errors) => {
                let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                panic!("{}\n{}", all.join("\n"), compile(&policy).sql);
            }
        }
    }
}

#[test]
fn a_wrong_expected_amount_fails_at_its_test_entry() {
    let text = std::fs::read_to_string(pack_dir().join("freshman-subsidy.toml")).expect("read");
    let wrong = text.replacen("amount = 500000", "amount = 400000", 1);
    assert_ne!(text, wrong);
    let policy = Policy::parse("freshman.toml", &wrong, Standard::builtin()).expect("valid");
    let errors = check_examples(&policy, "freshman.toml").expect_err("the example must fail");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    let line = wrong
        .lines()
        .position(|l| l.starts_with("[[test]]"))
        .expect("a test entry")
        + 1;
    assert_eq!(
        (e.kind, e.file.as_str(), e.line, e.column),
        (ErrorKind::ExampleFailed, "freshman.toml", line, 1)
    );
    assert!(
        e.message.contains("expects eligible, 400000 fen"),
        "{}",
        e.message
    );
    assert!(
        e.message.contains("decides eligible, 500000 fen"),
        "{}",
        e.message
    );
}

#[test]
fn a_wrong_expected_eligibility_fails() {
    let text = std::fs::read_to_string(pack_dir().join("elderly-allowance.toml")).expect("read");
    let wrong = text.replacen(
        "name = \"aged 79\"\ninputs = { birth_date = \"1946-01-02\", registration = \"registered\" }\neligible = false",
        "name = \"aged 79\"\ninputs = { birth_date = \"1946-01-02\", registration = \"registered\" }\neligible = true\namount = 10000",
        1,
    );
    assert_ne!(text, wrong);
    let policy = Policy::parse("elderly.toml", &wrong, Standard::builtin()).expect("valid");
    let errors = check_examples(&policy, "elderly.toml").expect_err("the example must fail");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].message.contains("aged_80_or_over=false"),
        "{}",
        errors[0].message
    );
}
