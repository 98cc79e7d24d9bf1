//! `errandless demo` walks the exchange: members, grants, signed reads, the bulk sync and one
//! citizen's data tracker, with proofs that verify; and it runs again in the same directory.

mod common;

use common::{errandless, text};
use sha2::{Digest as _, Sha256};

/// The lines of the data tracker section.
fn tracker_lines(shown: &str) -> Vec<&str> {
    shown
        .lines()
        .skip_while(|l| !l.starts_with("== 7."))
        .filter(|l| l.contains("proof") || l.contains("verified") || l.contains("FAILED"))
        .filter(|l| !l.trim_start().starts_with("ledger"))
        .collect()
}

#[test]
fn the_demo_walks_the_exchange_and_runs_again() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let d = tmp.path();
    let out = errandless(
        d,
        &["demo", "--no-serve", "--people", "2000", "--data", "data"],
    );
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    let data = d.join("data");

    // Members: the 17 island departments and the data bureau, with their keys.
    let list = errandless(d, &["--data", "data", "member", "list"]);
    assert!(list.status.success(), "{}", text(&list));
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    let ids: Vec<&str> = listed
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(ids.len(), 18, "{listed}");
    for id in [
        "data_bureau",
        "civil_affairs",
        "public_security",
        "taxation",
    ] {
        assert!(ids.contains(&id), "{id} in {listed}");
        assert!(data.join("members").join(format!("{id}.key")).is_file());
    }
    for line in listed.lines().skip(1) {
        let uscc = line.split_whitespace().nth(1).expect("a code");
        let check = errandless(d, &["standard", "check", "uscc", uscc]);
        assert_eq!(check.status.code(), Some(0), "{uscc}: {}", text(&check));
    }

    // Grants made, one refused, and reads recorded with their outcome.
    assert!(shown.contains("disabled_persons.certificate"), "{shown}");
    assert!(shown.contains("《中华人民共和国残疾人保障法》"), "{shown}");
    assert!(shown.contains("rejected"), "{shown}");
    // The identity provider's real-name check is granted, so a demo citizen can reach L2.
    assert!(
        shown.contains("《中华人民共和国居民身份证法》第十三条"),
        "{shown}"
    );
    assert!(shown.contains("owner's signature verified"), "{shown}");
    assert!(shown.contains("refused: field_not_granted"), "{shown}");

    // Snapshots in the data center, each named by the SHA-256 of its bytes.
    let mut snapshots = 0;
    for entry in std::fs::read_dir(data.join("datacenter")).expect("a data center") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let Some(hex) = name.strip_suffix(".parquet") else {
            continue;
        };
        if hex.ends_with(".delta") {
            continue;
        }
        let digest = Sha256::digest(std::fs::read(&path).expect("readable"));
        let digest: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, digest, "{name}");
        snapshots += 1;
    }
    assert!(snapshots >= 8, "{snapshots} snapshots");

    // The ledger rebuilds and verifies.
    let verify = errandless(d, &["--data", "data", "ledger", "verify", "data/ledger"]);
    assert!(verify.status.success(), "{}", text(&verify));

    // The tracker shows the citizen's reads, each proof verified.
    let lines = tracker_lines(&shown);
    assert!(lines.len() >= 4, "{shown}");
    assert!(
        lines.iter().all(|l| l.contains("verified in tree of size")),
        "{shown}"
    );
    assert!(
        lines.iter().any(|l| l.contains("field_not_granted")),
        "{shown}"
    );

    // The whole pack is evaluated over the snapshots the walk synced, and the bulk reads of
    // the sync show in the citizen's tracker.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("data_bureau") && l.contains("allowed")),
        "{shown}"
    );
    let pack = shown
        .split("== 8. the policy pack")
        .nth(1)
        .expect("the simulation step");
    for id in [
        "freshman-subsidy",
        "elderly-allowance",
        "disability-living-allowance",
        "disability-nursing-allowance",
        "dibao-screen",
    ] {
        let row = pack
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} in {pack}"));
        let evaluated: u64 = row
            .split_whitespace()
            .nth(2)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a count in {row}"));
        assert!(evaluated > 0, "{row}");
    }

    // A second run in the same directory keeps the ledger, members and grants.
    let ledger_key = std::fs::read(data.join("ledger.key")).expect("the ledger key");
    let member_key = std::fs::read(data.join("members/data_bureau.key")).expect("a member key");
    // A member whose key file went missing is given a new key, as `member rotate-key` does.
    std::fs::remove_file(data.join("members/taxation.key")).expect("a key to lose");
    let again = errandless(
        d,
        &["demo", "--no-serve", "--people", "1500", "--data", "data"],
    );
    let shown = text(&again);
    assert!(again.status.success(), "{shown}");
    assert!(data.join("members/taxation.key").is_file());
    let list = errandless(d, &["--data", "data", "member", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    let retired = |id: &str| {
        listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(3))
            .map(str::to_owned)
    };
    assert_eq!(retired("taxation").as_deref(), Some("1"), "{listed}");
    assert_eq!(retired("data_bureau").as_deref(), Some("0"), "{listed}");
    assert!(shown.contains("in force"), "{shown}");
    assert_eq!(
        std::fs::read(data.join("ledger.key")).expect("kept"),
        ledger_key
    );
    assert_eq!(
        std::fs::read(data.join("members/data_bureau.key")).expect("kept"),
        member_key
    );
    let lines = tracker_lines(&shown);
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.contains("verified in tree of size")),
        "{shown}"
    );
    let verify = errandless(d, &["--data", "data", "ledger", "verify", "data/ledger"]);
    assert!(verify.status.success(), "{}", text(&verify));
}
