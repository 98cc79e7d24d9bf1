//! The GovStack Payments building block's G2P bulk-payment shapes, as Rust types.
//!
//! Three endpoints matter to a paying department: handing over a batch of credit instructions
//! (`POST /batchtransactions?type=raw`, [`CreditInstruction`] in, [`BatchAccepted`] out), the
//! status update of a batch (`POST /api/v1/batch`, [`BatchStatusUpdate`]), and the detail of a
//! batch, page by page (`GET /api/v1/batch/detail`, [`TransactionDetail`]). The OpenAPI files
//! are in `testdata/` with their licence. The HTTP layer belongs to the server crate.
//!
//! GovStack writes amounts as JSON numbers. [`JsonAmount`] keeps them as integer fen: it writes
//! the number whose shortest decimal form is the amount in yuan, and reads a number only if
//! its shortest decimal form is a whole number of fen, so no rounding ever happens silently.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::xml::{CreditTransfer, Party, CURRENCY};
use crate::{iso_date_time, BatchSummary, BatchTally, BatchTransfer, Fen, PaymentStatus};

/// An amount written as a JSON number of yuan and read back as exact fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct JsonAmount(pub Fen);

impl Serialize for JsonAmount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fen = self.0 .0;
        if fen % 100 == 0 {
            return s.serialize_i64(fen / 100);
        }
        // The nearest double to the two-decimal text; its shortest form is that text again.
        let value: f64 = self
            .0
            .to_decimal()
            .parse()
            .map_err(serde::ser::Error::custom)?;
        s.serialize_f64(value)
    }
}

impl<'de> Deserialize<'de> for JsonAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonAmount, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = JsonAmount;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a non-negative amount in yuan with at most two decimals")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<JsonAmount, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(|v| v.checked_mul(100))
                    .map(|f| JsonAmount(Fen(f)))
                    .ok_or_else(|| E::custom("amount too large"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<JsonAmount, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("amount is negative"))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<JsonAmount, E> {
                if !v.is_finite() || v < 0.0 {
                    return Err(E::custom("amount is negative or not finite"));
                }
                // Display gives the shortest text that reads back as `v`.
                Fen::parse_decimal(&format!("{v}"))
                    .map(JsonAmount)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A `{key, value}` pair identifying a party (GovStack's `creditParty`/`debitParty` items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// One credit instruction of `POST /batchtransactions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreditInstruction {
    /// At most 16 characters.
    pub request_id: String,
    pub credit_party: Vec<KeyValue>,
    pub debit_party: Vec<KeyValue>,
    /// At most 20 characters, e.g. `BANK_ACCOUNT`.
    pub payment_mode: String,
    pub amount: JsonAmount,
    /// ISO 4217, three letters.
    pub currency: String,
    /// At most 50 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_text: Option<String>,
}

/// A field does not fit the GovStack shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {rule}")]
pub struct ShapeError {
    pub field: &'static str,
    pub rule: String,
}

impl CreditInstruction {
    /// The instruction for one transfer of a batch, paid from `debtor`.
    pub fn from_transfer(
        request_id: &str,
        transfer: &CreditTransfer,
        debtor: &Party,
    ) -> Result<CreditInstruction, ShapeError> {
        let party = |p: &Party| {
            vec![
                KeyValue {
                    key: "accountNumber".into(),
                    value: p.account.clone(),
                },
                KeyValue {
                    key: "name".into(),
                    value: p.name.clone(),
                },
                KeyValue {
                    key: "bank".into(),
                    value: p.bank.clone(),
                },
            ]
        };
        let description: String = transfer.remittance.chars().take(50).collect();
        let i = CreditInstruction {
            request_id: request_id.to_owned(),
            credit_party: party(&transfer.creditor),
            debit_party: party(debtor),
            payment_mode: "BANK_ACCOUNT".into(),
            amount: JsonAmount(transfer.amount),
            currency: CURRENCY.into(),
            description_text: (!description.is_empty()).then_some(description),
        };
        i.check()?;
        Ok(i)
    }

    /// Checks the lengths the API sets.
    pub fn check(&self) -> Result<(), ShapeError> {
        let max = |field: &'static str, v: &str, n: usize| {
            if v.chars().count() > n {
                Err(ShapeError {
                    field,
                    rule: format!("must be at most {n} characters"),
                })
            } else {
                Ok(())
            }
        };
        max("requestId", &self.request_id, 16)?;
        max("paymentMode", &self.payment_mode, 20)?;
        max("currency", &self.currency, 3)?;
        if let Some(d) = &self.description_text {
            max("descriptionText", d, 50)?;
        }
        if self.request_id.is_empty() {
            return Err(ShapeError {
                field: "requestId",
                rule: "must not be empty".into(),
            });
        }
        Ok(())
    }
}

/// The `202 Accepted` answer to `POST /batchtransactions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchAccepted {
    /// At most 50 characters; Errandless uses the pain.001 MsgId.
    pub batch_id: String,
}

/// The body of `POST /api/v1/batch`: how a batch stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchStatusUpdate {
    #[serde(rename = "requestId")]
    pub request_id: String,
    #[serde(rename = "batchId")]
    pub batch_id: String,
    #[serde(rename = "TotalTransactions")]
    pub total_transactions: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ongoing: Option<u64>,
    pub failed: u64,
    pub completed: u64,
    #[serde(rename = "totalAmount")]
    pub total_amount: JsonAmount,
    pub completed_amount: JsonAmount,
    pub ongoing_amount: JsonAmount,
    pub failed_amount: JsonAmount,
    /// Null for a JSON request.
    pub result_file: Option<String>,
    /// `date-time`, UTC.
    #[serde(rename = "resultGeneratedAt")]
    pub result_generated_at: String,
    pub note: String,
}

impl BatchStatusUpdate {
    /// The update for a batch from its transfers and the bank's statuses (matched by
    /// EndToEndId; transfers without a status are ongoing).
    pub fn from_report(
        request_id: &str,
        file: &crate::xml::Pain001,
        report: &crate::xml::Pain002,
        note: &str,
    ) -> BatchStatusUpdate {
        let status: std::collections::HashMap<&str, &str> = report
            .transactions
            .iter()
            .map(|t| (t.original_end_to_end_id.as_str(), t.status.as_str()))
            .collect();
        let mut u = BatchStatusUpdate {
            request_id: request_id.to_owned(),
            batch_id: file.msg_id.clone(),
            total_transactions: file.transfers.len() as u64,
            ongoing: Some(0),
            failed: 0,
            completed: 0,
            total_amount: JsonAmount(file.control_sum()),
            completed_amount: JsonAmount::default(),
            ongoing_amount: JsonAmount::default(),
            failed_amount: JsonAmount::default(),
            result_file: None,
            result_generated_at: report.created.clone(),
            note: note.chars().take(200).collect(),
        };
        for t in &file.transfers {
            let (n, sum) = match status.get(t.end_to_end_id.as_str()).copied() {
                Some("ACSC" | "ACCC") => (&mut u.completed, &mut u.completed_amount),
                Some("RJCT") => (&mut u.failed, &mut u.failed_amount),
                _ => (u.ongoing.get_or_insert(0), &mut u.ongoing_amount),
            };
            *n += 1;
            sum.0 .0 += t.amount.0;
        }
        u
    }
}

/// The context line of what a member signs to query the G2P API.
const QUERY_CONTEXT: &[u8] = b"errandless g2p query v1\n";

/// The bytes a member signs (Ed25519) to query the G2P API: a context line, then as a JSON
/// array the client (the member id), the tenant, the correlation id, and the request's path
/// with its query exactly as sent.
pub fn query_bytes(
    client: &str,
    tenant: &str,
    correlation_id: &str,
    path_and_query: &str,
) -> Vec<u8> {
    let mut out = QUERY_CONTEXT.to_vec();
    serde_json::to_writer(&mut out, &[client, tenant, correlation_id, path_and_query])
        .expect("strings encode as JSON");
    out
}

/// The G2P state of a transfer: `COMPLETED` once the bank has paid it, `FAILED` once it was
/// rejected, `IN_PROGRESS` before (exported, or accepted but not yet settled).
pub fn g2p_status(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Paid => "COMPLETED",
        PaymentStatus::Rejected => "FAILED",
        _ => "IN_PROGRESS",
    }
}

/// The transfer states a G2P status filter names, or `None` for a status G2P does not have.
pub fn statuses_of_g2p(status: &str) -> Option<&'static [PaymentStatus]> {
    match status {
        "COMPLETED" => Some(&[PaymentStatus::Paid]),
        "FAILED" => Some(&[PaymentStatus::Rejected]),
        "IN_PROGRESS" => Some(&[PaymentStatus::Exported, PaymentStatus::Accepted]),
        _ => None,
    }
}

/// One transaction of `GET /api/v1/batch/detail`. Errandless pays by account: the parties are
/// identified by account number (`ACCOUNT_ID`) and their bank stands as the DFSP. The payee's
/// name is not given out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransactionDetail {
    /// The EndToEndId of the pain.001 transfer.
    pub transaction_id: String,
    pub batch_id: String,
    /// When the file was made, `date-time` UTC.
    pub started_at: String,
    /// When the bank paid or rejected it; absent while in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED` ([`g2p_status`]).
    pub status: String,
    /// Errandless's own state: `exported`, `accepted`, `paid` or `rejected`, with the bank's
    /// text for a rejection.
    pub status_detail: String,
    pub payee_dfsp_id: String,
    pub payee_party_id: String,
    pub payee_party_id_type: String,
    pub payer_dfsp_id: String,
    pub payer_party_id: String,
    pub payer_party_id_type: String,
    pub amount: JsonAmount,
    pub currency: String,
    /// Always `OUTGOING`: Errandless pays out.
    pub direction: String,
    /// The bank's ISO 20022 reason code of a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_information: Option<String>,
}

impl TransactionDetail {
    /// The detail of one transfer of `batch`.
    pub fn from_transfer(t: &BatchTransfer, batch: &BatchSummary) -> TransactionDetail {
        let settled = matches!(t.status, PaymentStatus::Paid | PaymentStatus::Rejected);
        let status_detail = match &t.reason_text {
            Some(text) => format!("{}: {text}", t.status.as_str()),
            None => t.status.as_str().to_owned(),
        };
        TransactionDetail {
            transaction_id: t.end_to_end_id.clone(),
            batch_id: t.batch.clone(),
            started_at: iso_date_time(t.exported_ms),
            completed_at: settled.then(|| iso_date_time(t.updated_ms)),
            status: g2p_status(t.status).to_owned(),
            status_detail,
            payee_dfsp_id: t.bank.clone(),
            payee_party_id: t.account.clone(),
            payee_party_id_type: "ACCOUNT_ID".into(),
            payer_dfsp_id: batch.debtor_bank.clone(),
            payer_party_id: batch.debtor_account.clone(),
            payer_party_id_type: "ACCOUNT_ID".into(),
            amount: JsonAmount(t.amount),
            currency: CURRENCY.into(),
            direction: "OUTGOING".into(),
            error_information: t.reason.clone(),
        }
    }
}

impl BatchStatusUpdate {
    /// How `batch` stands from its transfers counted by state ([`crate::batch_tally`]), at
    /// `now` (milliseconds).
    pub fn from_tally(
        request_id: &str,
        batch: &BatchSummary,
        tally: &[BatchTally],
        now: i64,
    ) -> BatchStatusUpdate {
        let mut u = BatchStatusUpdate {
            request_id: request_id.to_owned(),
            batch_id: batch.msg_id.clone(),
            total_transactions: 0,
            ongoing: Some(0),
            failed: 0,
            completed: 0,
            total_amount: JsonAmount::default(),
            completed_amount: JsonAmount::default(),
            ongoing_amount: JsonAmount::default(),
            failed_amount: JsonAmount::default(),
            result_file: None,
            result_generated_at: iso_date_time(now),
            note: String::new(),
        };
        for t in tally {
            let n = u64::try_from(t.transfers).unwrap_or(0);
            let (count, sum) = match g2p_status(t.status) {
                "COMPLETED" => (&mut u.completed, &mut u.completed_amount),
                "FAILED" => (&mut u.failed, &mut u.failed_amount),
                _ => (u.ongoing.get_or_insert(0), &mut u.ongoing_amount),
            };
            *count += n;
            sum.0 .0 += t.amount.0;
            u.total_transactions += n;
            u.total_amount.0 .0 += t.amount.0;
        }
        u.note = format!(
            "{} of {} transfers settled; {} rejected by the bank",
            u.completed + u.failed,
            u.total_transactions,
            u.failed
        );
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BULK_PAYMENT_YAML: &str = include_str!("../testdata/BulkPayment.yml");
    const STATUS_YAML: &str = include_str!("../testdata/BulkPaymentStatusUpdate.yml");
    const DETAIL_YAML: &str = include_str!("../testdata/BatchDetails.yml");

    /// Every name listed under a `required:` in the YAML (a line-based reading that suffices
    /// for these files).
    fn required(yaml: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut lines = yaml.lines().peekable();
        while let Some(l) = lines.next() {
            if l.trim() == "required:" {
                while let Some(next) = lines.peek() {
                    match next.trim().strip_prefix("- ") {
                        Some(name) => {
                            out.push(name.to_owned());
                            lines.next();
                        }
                        None => break,
                    }
                }
            }
        }
        out
    }

    fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    out.push(k.clone());
                    keys(v, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }

    fn check_against(yaml: &str, json: &serde_json::Value, ignore: &[&str]) {
        let mut found = Vec::new();
        keys(json, &mut found);
        for r in required(yaml) {
            if ignore.contains(&r.as_str()) {
                continue;
            }
            assert!(
                found.contains(&r),
                "required property {r} is missing from {json}"
            );
        }
        for k in found {
            assert!(
                yaml.contains(&format!(" {k}:")),
                "property {k} is not in the API description"
            );
        }
    }

    const BULK_EXAMPLE: &str = r#"[
      {"requestId":"E1a2b3c4-1-1","creditParty":[{"key":"accountNumber","value":"6217000000000000001"},{"key":"name","value":"张三"},{"key":"bank","value":"农村信用社"}],
       "debitParty":[{"key":"accountNumber","value":"520000000000000000001"},{"key":"name","value":"省财政厅"},{"key":"bank","value":"国家金库"}],
       "paymentMode":"BANK_ACCOUNT","amount":5000,"currency":"CNY","descriptionText":"freshman-subsidy 2026"},
      {"requestId":"E1a2b3c4-2-1","creditParty":[{"key":"accountNumber","value":"6217000000000000002"}],
       "debitParty":[{"key":"accountNumber","value":"520000000000000000001"}],
       "paymentMode":"BANK_ACCOUNT","amount":123.45,"currency":"CNY"}
    ]"#;

    #[test]
    fn bulk_payment_round_trips_and_matches_the_yaml() {
        let parsed: Vec<CreditInstruction> =
            serde_json::from_str(BULK_EXAMPLE).expect("the example parses");
        assert_eq!(parsed[0].amount, JsonAmount(Fen(500_000)));
        assert_eq!(parsed[1].amount, JsonAmount(Fen(12_345)));
        let written = serde_json::to_value(&parsed).expect("serialises");
        let original: serde_json::Value = serde_json::from_str(BULK_EXAMPLE).expect("json");
        assert_eq!(written, original);
        check_against(BULK_PAYMENT_YAML, &written, &["batchId"]);
        let accepted = BatchAccepted {
            batch_id: "ERRANDLESS-000001-1a2b3c4d".into(),
        };
        let json = serde_json::to_string(&accepted).expect("serialises");
        assert_eq!(json, r#"{"batchId":"ERRANDLESS-000001-1a2b3c4d"}"#);
        assert_eq!(
            serde_json::from_str::<BatchAccepted>(&json).expect("parses"),
            accepted
        );
    }

    #[test]
    fn status_update_round_trips_and_matches_the_yaml() {
        let example = r#"{"requestId":"R1","batchId":"ERRANDLESS-000001-1a2b3c4d","TotalTransactions":3,
            "ongoing":0,"failed":1,"completed":2,"totalAmount":10000.05,"completed_amount":5000.05,
            "ongoing_amount":0,"failed_amount":5000,"result_file":null,
            "resultGeneratedAt":"2026-11-27T06:00:00Z","note":"AC04 on one transfer"}"#;
        let u: BatchStatusUpdate = serde_json::from_str(example).expect("parses");
        assert_eq!(u.completed_amount, JsonAmount(Fen(500_005)));
        let written = serde_json::to_value(&u).expect("serialises");
        let original: serde_json::Value = serde_json::from_str(example).expect("json");
        assert_eq!(written, original);
        check_against(STATUS_YAML, &written, &[]);
    }

    #[test]
    fn amounts_that_are_not_whole_fen_are_refused() {
        for bad in ["0.001", "-1", "1e300", "0.30000000000000004"] {
            assert!(
                serde_json::from_str::<JsonAmount>(bad).is_err(),
                "{bad} must be refused"
            );
        }
        assert_eq!(
            serde_json::from_str::<JsonAmount>("0.1").expect("parses"),
            JsonAmount(Fen(10))
        );
    }

    #[test]
    fn instructions_come_from_transfers() {
        let t = CreditTransfer {
            end_to_end_id: "E1".into(),
            amount: Fen(1),
            creditor: Party {
                name: "n".into(),
                account: "1".into(),
                bank: "b".into(),
            },
            remittance: "x".repeat(80),
        };
        let debtor = t.creditor.clone();
        let i = CreditInstruction::from_transfer("R1", &t, &debtor).expect("fits");
        assert_eq!(i.description_text.as_deref().map(str::len), Some(50));
        assert!(CreditInstruction::from_transfer("R12345678901234567", &t, &debtor).is_err());
    }

    fn summary() -> BatchSummary {
        BatchSummary {
            msg_id: "ERRANDLESS-000001-1a2b3c4d".into(),
            state: "written".into(),
            created_ms: 1_790_000_000_000,
            transfers: 3,
            amount: Fen(1_500_000),
            file_name: None,
            debtor_account: "520000000000000000001".into(),
            debtor_bank: "国家金库".into(),
        }
    }

    fn transfer(status: PaymentStatus, amount: i64) -> BatchTransfer {
        BatchTransfer {
            end_to_end_id: format!("E1a2b3c4d-{amount}-1"),
            batch: "ERRANDLESS-000001-1a2b3c4d".into(),
            payee_name: "张三".into(),
            account: "6217000000000000001".into(),
            bank: "农村信用社".into(),
            amount: Fen(amount),
            status,
            reason: (status == PaymentStatus::Rejected).then(|| "AC04".into()),
            reason_text: (status == PaymentStatus::Rejected).then(|| "account closed".into()),
            exported_ms: 1_790_000_000_000,
            updated_ms: 1_790_000_360_000,
        }
    }

    #[test]
    fn transaction_details_match_the_yaml_and_keep_the_payee_name_out() {
        let b = summary();
        let details: Vec<TransactionDetail> = [
            transfer(PaymentStatus::Paid, 500_000),
            transfer(PaymentStatus::Rejected, 500_001),
            transfer(PaymentStatus::Exported, 499_999),
        ]
        .iter()
        .map(|t| TransactionDetail::from_transfer(t, &b))
        .collect();
        let json = serde_json::to_value(&details).expect("serialises");
        check_against(DETAIL_YAML, &json, &[]);
        assert!(!json.to_string().contains("张三"), "{json}");
        assert_eq!(details[0].status, "COMPLETED");
        assert_eq!(details[0].amount, JsonAmount(Fen(500_000)));
        assert_eq!(details[1].status, "FAILED");
        assert_eq!(details[1].error_information.as_deref(), Some("AC04"));
        assert_eq!(details[1].status_detail, "rejected: account closed");
        assert_eq!(details[2].status, "IN_PROGRESS");
        assert_eq!(details[2].completed_at, None);
        assert_eq!(
            details[0].completed_at.as_deref(),
            Some("2026-09-21T14:19:20Z")
        );
        let back: Vec<TransactionDetail> = serde_json::from_value(json).expect("parses");
        assert_eq!(back, details);
        for (g2p, ours) in [
            ("COMPLETED", PaymentStatus::Paid),
            ("FAILED", PaymentStatus::Rejected),
            ("IN_PROGRESS", PaymentStatus::Exported),
            ("IN_PROGRESS", PaymentStatus::Accepted),
        ] {
            assert_eq!(g2p_status(ours), g2p);
            assert!(statuses_of_g2p(g2p).expect("known").contains(&ours));
        }
        assert_eq!(statuses_of_g2p("completed"), None);
    }

    #[test]
    fn a_status_update_sums_a_tally() {
        let tally = [
            BatchTally {
                status: PaymentStatus::Accepted,
                transfers: 2,
                amount: Fen(300),
            },
            BatchTally {
                status: PaymentStatus::Paid,
                transfers: 5,
                amount: Fen(1_000),
            },
            BatchTally {
                status: PaymentStatus::Rejected,
                transfers: 1,
                amount: Fen(7),
            },
        ];
        let u = BatchStatusUpdate::from_tally("R1", &summary(), &tally, 1_790_000_000_000);
        assert_eq!(
            (u.total_transactions, u.completed, u.failed, u.ongoing),
            (8, 5, 1, Some(2))
        );
        assert_eq!(u.total_amount, JsonAmount(Fen(1_307)));
        assert_eq!(u.completed_amount, JsonAmount(Fen(1_000)));
        assert_eq!(u.ongoing_amount, JsonAmount(Fen(300)));
        assert_eq!(u.failed_amount, JsonAmount(Fen(7)));
        let json = serde_json::to_value(&u).expect("serialises");
        check_against(STATUS_YAML, &json, &[]);
    }
}
