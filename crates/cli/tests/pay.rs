//! The payment walk through the `errandless` command: entitle, export, the demo bank, import,
//! status, and clear refusals (non-zero exit, nothing changed) for bad files.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use errandless_standards::{CitizenId, Date};

const EXE: &str = env!("CARGO_BIN_EXE_errandless");

fn errandless(data: &Path, args: &[&str]) -> Output {
    Command::new(EXE)
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("errandless runs")
}

fn ok(data: &Path, args: &[&str]) -> String {
    let out = errandless(data, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(data: &Path, args: &[&str], says: &str) {
    let out = errandless(data, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?} must fail: {stderr}");
    assert!(
        stderr.contains(says),
        "{args:?}: {stderr:?} should say {says:?}"
    );
}

#[test]
fn pay_walk_with_the_demo_bank_and_refusals() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    ok(&data, &["ledger", "keygen", "--origin", "pay.example/log"]);
    let file = tmp.path().join("e.jsonl");
    let mut f = std::fs::File::create(&file).expect("file");
    for i in 0..500u64 {
        let id = CitizenId::compose(520102, Date::new(2008, 1, 1).expect("date"), i as u16);
        let line = serde_json::json!({
            "policy_id": "freshman-subsidy", "period": "2026", "subject_id": id.as_str(),
            "payee_name": format!("学生{i}"), "account": format!("62170{i:014}"),
            "bank": "贵州农村信用社", "amount_fen": 500_000, "decision_ref": format!("d{i}"),
        });
        writeln!(f, "{line}").expect("written");
    }
    drop(f);
    let file = file.to_str().expect("utf-8");
    assert!(ok(&data, &["pay", "entitle", file]).contains("500 entitlements recorded"));
    assert!(ok(&data, &["pay", "entitle", file]).contains("0 entitlements recorded, 500 already"));

    let export = ok(&data, &["pay", "export"]);
    let pain001 = PathBuf::from(export.split('\t').next().expect("a file"));
    assert!(pain001.starts_with(data.join("payments/out")), "{export}");
    let bank = ok(
        &data,
        &[
            "bank",
            "simulate",
            pain001.to_str().expect("utf-8"),
            "--seed",
            "5",
        ],
    );
    assert!(bank.contains("500 transfers"), "{bank}");
    let pain002 = pain001.with_file_name(format!(
        "{}.pain002.xml",
        pain001.file_stem().expect("stem").to_string_lossy()
    ));
    let before = ok(&data, &["pay", "status"]);

    // Bad files: a clear error, exit 1, nothing changed.
    let bad = tmp.path().join("bad.xml");
    std::fs::write(
        &bad,
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.03\"/>",
    )
    .expect("bad");
    refused(
        &data,
        &["pay", "import", bad.to_str().expect("utf-8")],
        "not a valid pain.002.001.12",
    );
    let text = std::fs::read_to_string(&pain002).expect("report");
    let unknown = tmp.path().join("unknown.xml");
    std::fs::write(
        &unknown,
        text.replacen("<OrgnlEndToEndId>E", "<OrgnlEndToEndId>X", 1),
    )
    .expect("unknown");
    refused(
        &data,
        &["pay", "import", unknown.to_str().expect("utf-8")],
        "is not in batch",
    );
    refused(
        &data,
        &["bank", "simulate", pain002.to_str().expect("utf-8")],
        "not a valid pain.001.001.09",
    );
    refused(
        &data,
        &["pay", "import", "/nonexistent/report.xml"],
        "cannot open",
    );
    assert_eq!(
        ok(&data, &["pay", "status"]),
        before,
        "refusals change nothing"
    );

    let import = ok(&data, &["pay", "import", pain002.to_str().expect("utf-8")]);
    assert!(import.contains(" paid, "), "{import}");
    let again = ok(&data, &["pay", "import", pain002.to_str().expect("utf-8")]);
    assert!(again.contains("imported before"), "{again}");
    let status = ok(&data, &["pay", "status"]);
    assert!(status.contains("paid"), "{status}");
    let audit = ok(&data, &["ledger", "audit"]);
    assert!(audit.contains("payment:"), "{audit}");
}
