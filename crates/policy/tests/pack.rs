//! Every policy of the demonstration pack passes the checks and carries its examples.

use std::path::PathBuf;

use errandless_policy::{Frequency, Policy};

fn pack() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the policies directory is in the repository")
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_pack_file_passes_check() {
    let files = pack();
    assert_eq!(files.len(), 5, "{files:?}");
    for file in files {
        let policy = match Policy::load(&file) {
            Ok(p) => p,
            Err(errors) => {
                let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
                panic!("{}", all.join("\n"));
            }
        };
        assert!(policy.examples.len() >= 5, "{}: few examples", policy.id);
        assert!(policy.examples.iter().any(|e| e.eligible), "{}", policy.id);
        assert!(policy.examples.iter().any(|e| !e.eligible), "{}", policy.id);
        assert!(policy.legal_basis.len() >= 2, "{}", policy.id);
        assert!(policy.conditions.iter().all(|c| !c.cite.is_empty()));
    }
}

#[test]
fn the_pack_pays_as_the_issue_says() {
    let load = |name: &str| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        Policy::load(&dir.join(name)).expect("a valid pack file")
    };
    let freshman = load("freshman-subsidy.toml");
    // Paid once, in the year of admission: each year's freshmen at that year's amounts.
    assert_eq!(
        freshman.payment.as_ref().map(|p| p.frequency),
        Some(Frequency::Yearly)
    );
    let elderly = load("elderly-allowance.toml");
    assert_eq!(
        elderly.payment.as_ref().map(|p| p.frequency),
        Some(Frequency::Monthly)
    );
    // Monthly over every year from 2026, the policy in force until it is repealed.
    for month in ["2026-12", "2027-03"] {
        let period = elderly.period(month).expect("a month of the validity");
        assert_eq!(elderly.payments_in(&period), 12, "{month}");
    }
    assert_eq!(elderly.valid_to, None);
    let screen = load("dibao-screen.toml");
    assert!(screen.payment.is_none(), "the screen pays nothing");
    let status = freshman
        .inputs
        .iter()
        .find(|i| i.name == "household_status")
        .expect("the input is read");
    assert_eq!(status.dataset, "rural_revitalisation.poor_household");
    assert_eq!(
        (status.field.as_str(), status.element.as_str()),
        ("status", "poverty_status")
    );
}
