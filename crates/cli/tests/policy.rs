//! `errandless policy check`: the pack passes, mistakes are named at their place, exit codes.

use std::path::PathBuf;

mod common;
use common::errandless;

fn pack() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

#[test]
fn the_pack_checks_ok() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let mut args = vec!["policy".to_string(), "check".to_string()];
    let mut files: Vec<_> = std::fs::read_dir(pack())
        .expect("the pack is in the repository")
        .map(|e| e.expect("an entry").path().display().to_string())
        .collect();
    files.sort();
    args.extend(files.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = errandless(tmp.path(), &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len()
    );
    assert!(stdout.contains("freshman-subsidy"), "{stdout}");
    assert!(stdout.contains("7 examples run"), "{stdout}");
}

#[test]
fn a_bad_file_exits_1_with_file_line_column() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let good = std::fs::read_to_string(pack().join("freshman-subsidy.toml")).expect("readable");
    let bad = good.replace(
        "\"education.admission.year\"",
        "\"education.admission.yeer\"",
    );
    assert_ne!(good, bad);
    let line = bad
        .lines()
        .position(|l| l.contains("admission.yeer"))
        .expect("the line")
        + 1;
    std::fs::write(tmp.path().join("bad.toml"), bad).expect("writable");
    let out = errandless(tmp.path(), &["policy", "check", "bad.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("bad.toml:{line}:17: ")),
        "{stderr}"
    );
    assert!(stderr.contains("[unknown_element]"), "{stderr}");

    let missing = errandless(tmp.path(), &["policy", "check", "absent.toml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("absent.toml:1:1: "));
}

#[test]
fn a_wrong_expected_amount_exits_1_at_its_test_entry() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let good = std::fs::read_to_string(pack().join("freshman-subsidy.toml")).expect("readable");
    let bad = good.replacen("amount = 500000", "amount = 400000", 1);
    assert_ne!(good, bad);
    let line = bad
        .lines()
        .position(|l| l == "[[test]]")
        .expect("a test entry")
        + 1;
    std::fs::write(tmp.path().join("wrong.toml"), bad).expect("writable");
    let out = errandless(tmp.path(), &["policy", "check", "wrong.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("wrong.toml:{line}:1: ")),
        "{stderr}"
    );
    assert!(stderr.contains("[example_failed]"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let out = errandless(tmp.path(), &["policy", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let out = errandless(tmp.path(), &["policy", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}
