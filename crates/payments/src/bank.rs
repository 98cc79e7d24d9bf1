//! A demo bank: answers a pain.001 file with a realistic pain.002 status report.
//!
//! Deterministic from a seed. Most transfers settle (`ACSC`); a few are rejected with the
//! reasons a real bank gives most often for benefit payments. Whether an account is closed
//! or wrong depends on the account (and the name), not on the attempt, so resending to the
//! same account is rejected again; a passing fault (a missed cut-off) depends on the
//! EndToEndId, so a retry usually goes through.

use crate::xml::{Pain001, Pain002, Reason, TxStatus, PAIN001_NAME};

/// How often, per thousand transfers, the demo bank rejects for each reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Faults {
    /// AC04: the account is closed.
    pub closed_account: u64,
    /// AC01: the account number is wrong.
    pub incorrect_account: u64,
    /// BE01: the name does not match the account holder.
    pub wrong_name: u64,
    /// TM01: received after the cut-off time; a retry goes through.
    pub cut_off: u64,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            closed_account: 15,
            incorrect_account: 5,
            wrong_name: 10,
            cut_off: 5,
        }
    }
}

/// The bank's name on its reports.
pub const BANK_NAME: &str = "Errandless Demo Bank";

fn fnv(seed: u64, parts: &[&str]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    // splitmix64 finaliser, so nearby inputs spread.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The status report for `file`, made at `created` (`xs:dateTime`).
pub fn simulate(file: &Pain001, seed: u64, faults: &Faults, created: &str) -> Pain002 {
    let mut transactions = Vec::with_capacity(file.transfers.len());
    for t in &file.transfers {
        let account = fnv(seed, &["account", &t.creditor.account]) % 1000;
        let name = fnv(seed, &["name", &t.creditor.account, &t.creditor.name]) % 1000;
        let attempt = fnv(seed, &["attempt", &t.end_to_end_id]) % 1000;
        let reject = |code: &str, text: &str| {
            Some(Reason {
                code: code.into(),
                additional: Some(text.into()),
            })
        };
        let reason = if account < faults.closed_account {
            reject("AC04", "Account closed")
        } else if account < faults.closed_account + faults.incorrect_account {
            reject("AC01", "Account number does not exist")
        } else if name < faults.wrong_name {
            reject("BE01", "Creditor name does not match the account holder")
        } else if attempt < faults.cut_off {
            reject("TM01", "Received after the cut-off time; resend")
        } else {
            None
        };
        transactions.push(TxStatus {
            original_end_to_end_id: t.end_to_end_id.clone(),
            status: if reason.is_some() { "RJCT" } else { "ACSC" }.into(),
            reason,
        });
    }
    let rejected = transactions.iter().filter(|t| t.status == "RJCT").count();
    let group_status = if rejected == 0 {
        "ACSC"
    } else if rejected == transactions.len() {
        "RJCT"
    } else {
        "PART"
    };
    Pain002 {
        msg_id: format!("BANK-{:016x}", fnv(seed, &["report", &file.msg_id])),
        created: created.to_owned(),
        original_msg_id: file.msg_id.clone(),
        original_msg_name_id: PAIN001_NAME.into(),
        group_status: Some(group_status.into()),
        group_reason: None,
        original_payment_info_id: Some(file.payment_info_id.clone()),
        transactions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{CreditTransfer, Party};
    use crate::Fen;

    fn file(n: usize) -> Pain001 {
        Pain001 {
            msg_id: "M".into(),
            created: "2026-11-27T00:00:00Z".into(),
            initiating_party: "F".into(),
            payment_info_id: "M-1".into(),
            execution_date: "2026-11-27".into(),
            debtor: Party {
                name: "F".into(),
                account: "1".into(),
                bank: "B".into(),
            },
            transfers: (0..n)
                .map(|i| CreditTransfer {
                    end_to_end_id: format!("E{i}"),
                    amount: Fen(100),
                    creditor: Party {
                        name: format!("N{i}"),
                        account: format!("62170{i:014}"),
                        bank: "B".into(),
                    },
                    remittance: "p".into(),
                })
                .collect(),
        }
    }

    #[test]
    fn mostly_settled_a_few_rejected_and_deterministic() {
        let f = file(10_000);
        let a = simulate(&f, 7, &Faults::default(), "2026-11-27T01:00:00Z");
        assert_eq!(
            a,
            simulate(&f, 7, &Faults::default(), "2026-11-27T01:00:00Z")
        );
        assert_ne!(
            a,
            simulate(&f, 8, &Faults::default(), "2026-11-27T01:00:00Z")
        );
        let rejected: Vec<&TxStatus> = a
            .transactions
            .iter()
            .filter(|t| t.status == "RJCT")
            .collect();
        assert!(
            (200..=500).contains(&rejected.len()),
            "{} rejected of 10000",
            rejected.len()
        );
        for code in ["AC04", "AC01", "BE01", "TM01"] {
            assert!(
                rejected
                    .iter()
                    .any(|t| t.reason.as_ref().is_some_and(|r| r.code == code)),
                "no {code}"
            );
        }
        assert_eq!(a.group_status.as_deref(), Some("PART"));
    }
}
