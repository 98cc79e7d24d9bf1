//! The `errandless` binary as a person uses it: exit codes, messages and files.

mod common;

use common::{errandless, text};
use std::path::Path;

#[test]
fn standard_check_exit_codes_and_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let ok = errandless(d, &["standard", "check", "id", "52010219900307105X"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok));
    assert!(text(&ok).starts_with("valid"));

    let bad = errandless(d, &["standard", "check", "id", "520102199003071051"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad).contains("check-character"), "{}", text(&bad));

    let lower = errandless(d, &["standard", "check", "id", "52010219900307105x"]);
    assert_eq!(lower.status.code(), Some(1));
    assert!(text(&lower).contains("upper-case-x"), "{}", text(&lower));

    let legacy = errandless(d, &["standard", "check", "id", "520102900307105"]);
    assert_eq!(legacy.status.code(), Some(0), "{}", text(&legacy));
    assert!(text(&legacy).contains("52010219900307105X"));

    let uscc = errandless(d, &["standard", "check", "uscc", "91350100M000100Y43"]);
    assert_eq!(uscc.status.code(), Some(0), "{}", text(&uscc));
    let uscc_bad = errandless(d, &["standard", "check", "uscc", "91350100M000100Y44"]);
    assert_eq!(uscc_bad.status.code(), Some(1));

    let div = errandless(d, &["standard", "check", "division", "520102001003"]);
    assert_eq!(div.status.code(), Some(0));
    assert!(
        text(&div).contains("level: village, parent: 520102001000"),
        "{}",
        text(&div)
    );
    let div_bad = errandless(d, &["standard", "check", "division", "520102"]);
    assert_eq!(div_bad.status.code(), Some(1));
    assert!(text(&div_bad).contains("length"));

    let usage = errandless(d, &["standard", "check", "passport", "E12345678"]);
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));
    let missing = errandless(d, &["standard", "check", "id"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn standard_list_and_show() {
    let tmp = tempfile::tempdir().unwrap();
    let list = errandless(tmp.path(), &["standard", "list"]);
    assert!(list.status.success());
    let out = text(&list);
    assert!(
        out.contains("poverty_status") && out.contains("education.admission"),
        "{out}"
    );

    let show = errandless(tmp.path(), &["standard", "show", "citizen_id"]);
    let out = text(&show);
    assert!(
        out.contains("公民身份号码") && out.contains("public_security.resident.id_number"),
        "{out}"
    );
    let ds = errandless(tmp.path(), &["standard", "show", "finance.one_card"]);
    assert!(text(&ds).contains("bank_account"));
    let unknown = errandless(tmp.path(), &["standard", "show", "shoe_size"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn synth_refuses_bad_input_and_leaves_nothing_half_written() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let zero = errandless(d, &["synth", "--people", "0", "--out", "p"]);
    assert_ne!(zero.status.code(), Some(0));
    assert!(text(&zero).contains("at least 1"), "{}", text(&zero));
    assert!(!d.join("p").exists());

    std::fs::write(d.join("file"), "x").unwrap();
    let unwritable = errandless(d, &["synth", "--people", "10", "--out", "file/p"]);
    assert_ne!(unwritable.status.code(), Some(0));
    assert!(
        text(&unwritable).contains("cannot write"),
        "{}",
        text(&unwritable)
    );

    let first = errandless(
        d,
        &[
            "synth", "--people", "200", "--seed", "3", "--out", "p", "-q",
        ],
    );
    assert!(first.status.success(), "{}", text(&first));
    let again = errandless(d, &["synth", "--people", "200", "--out", "p", "-q"]);
    assert_ne!(again.status.code(), Some(0));
    assert!(text(&again).contains("--force"), "{}", text(&again));
    let forced = errandless(
        d,
        &["synth", "--people", "200", "--out", "p", "--force", "-q"],
    );
    assert!(forced.status.success());
    let leftovers = std::fs::read_dir(d)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("partial")
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn demo_generates_into_the_data_directory_and_records_the_installation() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("errandless.toml"),
        "data = \"state\"\n[province]\nseed = 9\n",
    )
    .unwrap();
    let out = errandless(d, &["demo", "--no-serve", "--people", "1500"]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("1500 people in") && shown.contains("seed 9"),
        "{shown}"
    );
    assert!(shown.contains("rural_revitalisation"), "{shown}");
    for part in [
        "islands/finance.sqlite",
        "divisions.csv",
        "province.toml",
        "platform.sqlite",
    ] {
        assert!(d.join("state").join(part).exists(), "{part}");
    }
    // With a province in the data directory, ID address codes are checked against its counties:
    // an unknown county is a warning, not an error.
    let unknown = errandless(
        d,
        &[
            "--data",
            "state",
            "standard",
            "check",
            "id",
            "33010619850611108X",
        ],
    );
    assert_eq!(unknown.status.code(), Some(0), "{}", text(&unknown));
    assert!(
        text(&unknown).contains("warning: address code 330106"),
        "{}",
        text(&unknown)
    );

    // A second run replaces the province and keeps the rest of the data directory.
    let checkpoint = std::fs::read(d.join("state/ledger/checkpoint")).unwrap();
    let again = errandless(d, &["demo", "--no-serve", "--people", "1200"]);
    assert!(again.status.success(), "{}", text(&again));
    let grown = std::fs::read(d.join("state/ledger/checkpoint")).unwrap();
    assert_ne!(grown, checkpoint, "the ledger is kept and grows");
    let manifest = std::fs::read_to_string(d.join("state/province.toml")).unwrap();
    assert!(manifest.contains("people = 1200"), "{manifest}");
}

#[test]
fn a_malformed_standard_file_is_named_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../standards/data");
    let copy = tmp.path().join("standard");
    std::fs::create_dir_all(copy.join("datasets")).unwrap();
    for entry in walk(&data) {
        let rel = entry.strip_prefix(&data).unwrap();
        std::fs::copy(&entry, copy.join(rel)).unwrap();
    }
    let ok = errandless(tmp.path(), &["standard", "validate", "standard"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("17") || text(&ok).contains("datasets"));

    let courts = copy.join("datasets/courts.toml");
    let original = std::fs::read_to_string(&courts).unwrap();
    let line = original
        .lines()
        .position(|l| l.contains("\"owed_amount\""))
        .unwrap()
        + 1;
    std::fs::write(
        &courts,
        original.replace("\"owed_amount\"", "\"owed_amout\""),
    )
    .unwrap();
    let bad = errandless(tmp.path(), &["standard", "validate", "standard"]);
    assert_eq!(bad.status.code(), Some(1));
    let shown = text(&bad);
    assert!(shown.contains(&format!("courts.toml:{line}:")), "{shown}");
    assert!(shown.contains("owed_amout"), "{shown}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_malformed_configuration_file_is_named_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("errandless.toml"),
        "data = \"x\"\n[province]\npeople = \"many\"\n",
    )
    .unwrap();
    let out = errandless(tmp.path(), &["demo", "--no-serve"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("errandless.toml:3:"), "{}", text(&out));
}
