//! `errandless sync` as a person uses it: clear refusals with a non-zero exit, and the bench
//! that syncs a generated province end to end.

mod common;

use common::{errandless, text};

#[test]
fn sync_without_a_grant_or_of_an_unknown_dataset_fails_clearly() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let d = tmp.path();
    // A province alone, without the members and grants the demo makes.
    let out = errandless(
        d,
        &["synth", "--people", "300", "--out", "errandless-data", "-q"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = errandless(d, &["ledger", "keygen", "--origin", "ledger.example.gov/t"]);
    assert!(out.status.success(), "{}", text(&out));

    let out = errandless(d, &["sync", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("holds no bulk-sync grant"),
        "{}",
        text(&out)
    );
    // No member is registered, so the data center's member is unknown.
    let out = errandless(d, &["sync", "-q", "--dataset", "public_security.resident"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("\"data_bureau\" is not a registered member"),
        "{}",
        text(&out)
    );
    assert!(
        !d.join("errandless-data/datacenter").exists()
            || std::fs::read_dir(d.join("errandless-data/datacenter"))
                .expect("dir")
                .next()
                .is_none()
    );
}

#[test]
fn the_bench_syncs_a_generated_province() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let d = tmp.path();
    let out = errandless(
        d,
        &[
            "sync",
            "bench",
            "--province",
            "p",
            "--rows",
            "1000",
            "--work",
            "w",
        ],
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.contains("first sync") && shown.contains("rows/s"),
        "{shown}"
    );
    assert!(shown.contains("unchanged re-sync"), "{shown}");
    let snapshots = std::fs::read_dir(d.join("w/datacenter"))
        .expect("data center")
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().contains("delta"))
        .count();
    assert_eq!(snapshots, 1, "one version: the re-sync changed nothing");
}
