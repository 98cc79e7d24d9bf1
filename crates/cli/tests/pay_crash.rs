//! The crash test of payment export: `errandless pay export` is killed with SIGKILL at random
//! moments, again and again, while new entitlements keep arriving. Afterwards a rerun
//! completes every batch, no EndToEndId, MsgId or payee is in two files, every file is a valid
//! pain.001, and the ledger verifies with one entry per state change.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use errandless_standards::{CitizenId, Date};

const EXE: &str = env!("CARGO_BIN_EXE_errandless");

fn run(data: &Path, args: &[&str]) -> String {
    let out = Command::new(EXE)
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("errandless runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn entitlements(file: &Path, from: u64, to: u64) {
    let mut f = std::fs::File::create(file).expect("file");
    for i in from..to {
        let birth = Date::new(
            1950 + (i / 1000 % 60) as i32,
            1 + (i / 60_000 % 12) as u32,
            1,
        )
        .expect("date");
        let id = CitizenId::compose(520102, birth, (i % 1000) as u16);
        let line = serde_json::json!({
            "policy_id": "freshman-subsidy",
            "period": "2026",
            "subject_id": id.as_str(),
            "payee_name": format!("学生{i}"),
            "account": format!("62170{i:014}"),
            "bank": "贵州农村信用社",
            "amount_fen": 300_000 + (i % 7) as i64 * 100_000,
            "decision_ref": format!("decision-{i}"),
        });
        writeln!(f, "{line}").expect("written");
    }
}

fn text_of<'a>(xml: &'a str, tag: &str, from: usize) -> Option<(&'a str, usize)> {
    let open = format!("<{tag}>");
    let start = xml[from..].find(&open)? + from + open.len();
    let end = xml[start..].find('<')? + start;
    Some((&xml[start..end], end))
}

#[test]
fn sigkill_during_export_pays_no_one_twice_and_a_rerun_completes() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let out = tmp.path().join("out");
    let out_arg = out.to_str().expect("utf-8");
    run(
        &data,
        &["ledger", "keygen", "--origin", "pay-crash.example/log"],
    );

    let per_round = 2_500u64;
    let mut total = 0u64;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut killed = 0;
    for _round in 0..12 {
        let file = tmp.path().join("entitlements.jsonl");
        entitlements(&file, total, total + per_round);
        run(&data, &["pay", "entitle", file.to_str().expect("utf-8")]);
        total += per_round;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(EXE)
            .arg("--data")
            .arg(&data)
            .args(["pay", "export", "--max-batch", "700", "--out", out_arg])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("export starts");
        std::thread::sleep(Duration::from_millis(10 + seed % 700));
        if child.try_wait().expect("wait").is_none() {
            killed += 1;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
    }
    // The rerun completes whatever the kills left.
    run(
        &data,
        &["pay", "export", "--max-batch", "700", "--out", out_arg],
    );
    eprintln!("{killed} of 12 exports were killed while running");

    let status = run(&data, &["pay", "status"]);
    let exported = status
        .lines()
        .find(|l| l.starts_with("exported"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("0");
    assert_eq!(
        exported,
        total.to_string(),
        "every entitlement is exported: {status}"
    );
    assert!(status.contains(" 0 claimed but not written"), "{status}");
    let ledger_line = status
        .lines()
        .find(|l| l.starts_with("ledger:"))
        .expect("ledger line");
    let numbers: Vec<&str> = ledger_line.split_whitespace().collect();
    assert_eq!(
        numbers[1], numbers[3],
        "every change is in the ledger: {ledger_line}"
    );
    assert_eq!(
        numbers[1],
        (2 * total).to_string(),
        "created and exported, once each"
    );

    let mut msg_ids = HashSet::new();
    let mut e2e = HashSet::new();
    let mut payees = HashSet::new();
    let mut xml_files = Vec::new();
    for entry in std::fs::read_dir(&out).expect("out dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        if name.starts_with('.') {
            continue; // a temporary file a kill left behind
        }
        let xml = std::fs::read_to_string(&path).expect("file");
        let (msg_id, _) = text_of(&xml, "MsgId", 0).expect("MsgId");
        assert!(
            msg_ids.insert(msg_id.to_owned()),
            "MsgId {msg_id} in two files"
        );
        let mut at = 0;
        while let Some((id, next)) = text_of(&xml, "EndToEndId", at) {
            assert!(e2e.insert(id.to_owned()), "EndToEndId {id} in two files");
            at = next;
        }
        let mut at = xml.find("<CdtTrfTxInf>").unwrap_or(xml.len());
        while let Some((id, next)) = text_of(&xml, "Id", at) {
            if id.starts_with("62170") {
                assert!(
                    payees.insert(id.to_owned()),
                    "account {id} paid in two files"
                );
            }
            at = next;
        }
        xml_files.push(path);
    }
    assert_eq!(
        e2e.len() as u64,
        total,
        "every entitlement is in exactly one file"
    );
    assert_eq!(payees.len() as u64, total);

    let verify = Command::new(EXE)
        .args(["ledger", "verify"])
        .arg(data.join("ledger"))
        .output()
        .expect("verify runs");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    let schema =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../payments/schemas/pain.001.001.09.xsd");
    match Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .args(&xml_files)
        .output()
    {
        Ok(o) => assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => {
            assert!(
                std::env::var_os("ERRANDLESS_TEST_XMLLINT").is_none(),
                "ERRANDLESS_TEST_XMLLINT is set but xmllint is not installed"
            );
            eprintln!("xmllint not found: schema validation skipped");
        }
    }
}
