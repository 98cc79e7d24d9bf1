//! The files validate against the ISO 20022 schemas, checked by an independent validator:
//! `xmllint --schema` (Debian package libxml2-utils). Without xmllint the checks say so and
//! are skipped.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{entitlement, ledger, payments};
use errandless_payments::bank::{simulate, Faults};
use errandless_payments::xml::{
    read_pain001, read_pain002, write_pain001, write_pain002, CreditTransfer, Pain001, Party,
};
use errandless_payments::{Entitlement, Fen};
use errandless_store::testing::on_sqlite;

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name)
}

/// Validates `file` against `xsd`; None when xmllint is not installed (and
/// `ERRANDLESS_TEST_XMLLINT` does not demand it).
fn xmllint(xsd: &str, file: &Path) -> Option<Result<(), String>> {
    let out = match Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema(xsd))
        .arg(file)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // CI sets ERRANDLESS_TEST_XMLLINT after installing it: there a missing xmllint is
            // a failure, not a skip.
            assert!(
                std::env::var_os("ERRANDLESS_TEST_XMLLINT").is_none(),
                "ERRANDLESS_TEST_XMLLINT is set but xmllint is not installed"
            );
            let _ = writeln!(
                std::io::stderr(),
                "xmllint not found: XSD validation skipped (install libxml2-utils)"
            );
            return None;
        }
        Err(e) => panic!("xmllint could not run: {e}"),
    };
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

#[tokio::test]
async fn exported_files_and_bank_reports_validate_against_the_schemas() {
    on_sqlite(|db| async move {
        let dir = tempfile::tempdir().expect("tmp");
        let p = payments(
            db.open().await.expect("store"),
            ledger(&dir.path().join("ledger")),
        )
        .await;
        let mut items: Vec<Entitlement> = (0..300).map(entitlement).collect();
        items[1].payee_name = "O'Brien & <李> \"四\"".into();
        items[2].amount_fen = 1;
        p.entitle(&items, 1_795_759_262_000)
            .await
            .expect("entitled");
        let out = dir.path().join("out");
        let files = p
            .export(&out, 200, 1_795_759_262_000, &mut |_| {})
            .await
            .expect("exported");
        assert_eq!(files.len(), 2);
        for f in &files {
            let Some(result) = xmllint("pain.001.001.09.xsd", &f.path) else {
                return;
            };
            result.unwrap_or_else(|e| panic!("{} does not validate: {e}", f.path.display()));
            let msg = read_pain001(std::io::BufReader::new(
                std::fs::File::open(&f.path).expect("open"),
            ))
            .expect("our reader reads our file");
            let report = simulate(&msg, 11, &Faults::default(), "2026-11-27T09:00:00Z");
            let bank = dir.path().join(format!("{}.pain002.xml", msg.msg_id));
            let mut bytes = Vec::new();
            write_pain002(&mut bytes, &report, "Demo Bank").expect("written");
            std::fs::write(&bank, &bytes).expect("saved");
            if let Some(result) = xmllint("pain.002.001.12.xsd", &bank) {
                result.unwrap_or_else(|e| panic!("the bank's report does not validate: {e}"));
            }
        }
        p.store().close().await;
    })
    .await;
}

#[test]
fn a_broken_file_fails_validation_so_the_check_can_fail() {
    let dir = tempfile::tempdir().expect("tmp");
    let msg = Pain001 {
        msg_id: "M".repeat(36), // MsgId is Max35Text
        created: "2026-11-27T06:00:00Z".into(),
        initiating_party: "F".into(),
        payment_info_id: "P".into(),
        execution_date: "2026-11-27".into(),
        debtor: Party {
            name: "F".into(),
            account: "1".into(),
            bank: "B".into(),
        },
        transfers: vec![CreditTransfer {
            end_to_end_id: "E".into(),
            amount: Fen(1),
            creditor: Party {
                name: "N".into(),
                account: "2".into(),
                bank: "B".into(),
            },
            remittance: "r".into(),
        }],
    };
    let file = dir.path().join("bad.xml");
    let mut bytes = Vec::new();
    write_pain001(&mut bytes, &msg).expect("written");
    std::fs::write(&file, bytes).expect("saved");
    if let Some(result) = xmllint("pain.001.001.09.xsd", &file) {
        assert!(result.is_err(), "a 36-character MsgId must fail the schema");
    }
}

const HANDWRITTEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.12">
  <CstmrPmtStsRpt>
    <GrpHdr>
      <MsgId>CB-20261128-0001</MsgId>
      <CreDtTm>2026-11-28T10:15:00+08:00</CreDtTm>
      <InitgPty><Nm>Guizhou Rural Credit Union</Nm></InitgPty>
    </GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>ERRANDLESS-000001-1a2b3c4d</OrgnlMsgId>
      <OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>
      <OrgnlNbOfTxs>3</OrgnlNbOfTxs>
      <GrpSts>PART</GrpSts>
    </OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>ERRANDLESS-000001-1a2b3c4d-1</OrgnlPmtInfId>
      <TxInfAndSts>
        <OrgnlEndToEndId>E1a2b3c4d-1-1</OrgnlEndToEndId>
        <TxSts>ACSC</TxSts>
      </TxInfAndSts>
      <TxInfAndSts>
        <StsId>S2</StsId>
        <OrgnlEndToEndId>E1a2b3c4d-2-1</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf>
          <Rsn><Cd>AC04</Cd></Rsn>
          <AddtlInf>账户已销户 (account closed)</AddtlInf>
        </StsRsnInf>
      </TxInfAndSts>
      <TxInfAndSts>
        <OrgnlEndToEndId>E1a2b3c4d-3-1</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>BE01</Cd></Rsn></StsRsnInf>
        <AccptncDtTm>2026-11-28T10:14:00+08:00</AccptncDtTm>
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
"#;

#[test]
fn a_handwritten_report_validates_and_reads() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("handwritten.xml");
    std::fs::write(&file, HANDWRITTEN).expect("saved");
    if let Some(result) = xmllint("pain.002.001.12.xsd", &file) {
        result.unwrap_or_else(|e| panic!("the handwritten report is not valid: {e}"));
    }
    let r = read_pain002(HANDWRITTEN.as_bytes()).expect("read");
    assert_eq!(r.original_msg_id, "ERRANDLESS-000001-1a2b3c4d");
    let s: Vec<(&str, &str, Option<&str>)> = r
        .transactions
        .iter()
        .map(|t| {
            (
                t.original_end_to_end_id.as_str(),
                t.status.as_str(),
                t.reason.as_ref().map(|r| r.code.as_str()),
            )
        })
        .collect();
    assert_eq!(
        s,
        [
            ("E1a2b3c4d-1-1", "ACSC", None),
            ("E1a2b3c4d-2-1", "RJCT", Some("AC04")),
            ("E1a2b3c4d-3-1", "RJCT", Some("BE01")),
        ]
    );
    assert_eq!(
        r.transactions[1]
            .reason
            .as_ref()
            .and_then(|r| r.additional.as_deref()),
        Some("账户已销户 (account closed)")
    );
}
