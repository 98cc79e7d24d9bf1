//! Policy periods: what one entitlement pays for.
//!
//! A one-off policy has one period, its validity (`2026-07-01_2026-12-31`); a monthly policy
//! has one per month of its validity (`2026-11`).

use errandless_standards::Date;

use crate::{Frequency, Policy};

impl Policy {
    /// The period that `date` falls in, or why there is none.
    pub fn period_on(&self, date: Date) -> Result<String, String> {
        match self.payment.as_ref().map(|p| p.frequency) {
            Some(Frequency::Monthly { .. }) => {
                if date < self.valid_from || date > self.valid_to {
                    return Err(format!(
                        "{} is valid from {} to {}, and {date} is outside it: name a month with --period",
                        self.id, self.valid_from, self.valid_to
                    ));
                }
                Ok(format!("{:04}-{:02}", date.year(), date.month()))
            }
            _ => Ok(self.whole_period()),
        }
    }

    /// The one period of a one-off policy or a screen.
    fn whole_period(&self) -> String {
        format!("{}_{}", self.valid_from, self.valid_to)
    }

    /// Checks that `period` is one of this policy's periods.
    pub fn check_period(&self, period: &str) -> Result<(), String> {
        let ok = match self.payment.as_ref().map(|p| p.frequency) {
            Some(Frequency::Monthly { .. }) => {
                let first = |d: Date| (d.year(), d.month());
                period
                    .split_once('-')
                    .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, m.parse::<u32>().ok()?)))
                    .is_some_and(|ym| {
                        period.len() == 7
                            && ym >= first(self.valid_from)
                            && ym <= first(self.valid_to)
                    })
            }
            _ => period == self.whole_period(),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "'{period}' is not a period of {}: {}",
                self.id,
                match self.payment.as_ref().map(|p| p.frequency) {
                    Some(Frequency::Monthly { .. }) => format!(
                        "a month YYYY-MM from {} to {}",
                        self.valid_from, self.valid_to
                    ),
                    _ => format!("its only period is {}", self.whole_period()),
                }
            ))
        }
    }
}
