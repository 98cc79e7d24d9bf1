//! What enacting a policy would do, summed from its decisions, with no side effect: how many
//! qualify and what they cost, by city and county, and the near misses.
//!
//! A subject is placed in the county of their ID number's address code (GB 11643 digits 1 to
//! 6) and the city of its first four digits. A near miss is a subject who is not eligible,
//! meets at least one condition, would be eligible if the one condition they fail held, and is
//! not excluded; a subject who qualifies but has no
//! payee account is counted apart, since they are paid once the account is known.

use std::collections::BTreeMap;

use errandless_policy::Policy;

use crate::Decision;

/// Eligible subjects and their cost in one place.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub eligible: u64,
    /// Per payment, in fen, over the payable eligible subjects.
    pub amount: i64,
}

/// The summary of one evaluation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Simulation {
    /// Subjects evaluated: everyone with a row in any dataset the policy reads.
    pub evaluated: u64,
    pub eligible: u64,
    /// Eligible and with a payee account.
    pub payable: u64,
    /// Eligible but with no payee account.
    pub without_account: u64,
    /// One payment to every payable subject, in fen.
    pub per_payment: i64,
    /// Payments per subject in the year of the period simulated: 1, or the months of the
    /// validity in that year for a monthly policy; 0 for a screen.
    pub payments: u32,
    /// Per city (the 6-digit code `ccdd00`), then per county (6 digits).
    pub by_city: BTreeMap<String, Tally>,
    pub by_county: BTreeMap<String, Tally>,
    /// Per condition: subjects who miss eligibility on that condition alone.
    pub near_misses: BTreeMap<String, u64>,
}

impl Simulation {
    /// The whole cost over the year of the period simulated, in fen.
    pub fn total(&self) -> i64 {
        self.per_payment.saturating_mul(i64::from(self.payments))
    }

    /// Subjects who miss on one condition alone.
    pub fn near_miss_count(&self) -> u64 {
        self.near_misses.values().sum()
    }
}

/// Sums `decisions` of `policy` over `evaluated` subjects (the decisions may be all of
/// theirs, or only the recorded ones: the eligible and the near misses). The payments are
/// counted in the year of the period the policy was resolved for, or of its first period.
pub fn simulate(policy: &Policy, evaluated: u64, decisions: &[Decision]) -> Simulation {
    let period = policy.resolved_for.clone().or_else(|| {
        let name = policy.period_on(policy.valid_from).ok()?;
        policy.period(&name).ok()
    });
    let mut s = Simulation {
        evaluated,
        payments: period.as_ref().map_or(0, |p| policy.payments_in(p)),
        ..Simulation::default()
    };
    for d in decisions {
        if d.eligible {
            s.eligible += 1;
            if !d.payable {
                s.without_account += 1;
                continue;
            }
            s.payable += 1;
            s.per_payment = s.per_payment.saturating_add(d.amount);
            let county = d.subject.get(..6).unwrap_or("unknown").to_owned();
            let city = match d.subject.get(..4) {
                Some(c) => format!("{c}00"),
                None => "unknown".to_owned(),
            };
            for tally in [
                s.by_county.entry(county).or_default(),
                s.by_city.entry(city).or_default(),
            ] {
                tally.eligible += 1;
                tally.amount = tally.amount.saturating_add(d.amount);
            }
            continue;
        }
        if let Some(condition) = d.near_miss() {
            *s.near_misses.entry(condition.to_owned()).or_default() += 1;
        }
    }
    s
}
