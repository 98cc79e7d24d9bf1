//! Policy periods: what one entitlement pays for, or what one run of a screen decides.
//!
//! A monthly policy has one period per month of its validity (`2027-03`), a yearly one one per
//! calendar year (`2027`), a one-off policy one, its whole validity
//! (`2026-07-01_2026-12-31`). A screen decides over its validity, or year by year when the
//! validity has no end. A policy in force until repealed has periods on every date from its
//! start: its dated parameters say what each one pays.

use errandless_standards::Date;

use crate::parameter::Cadence;
use crate::Policy;

impl Policy {
    /// The name of the period that `date` falls in, or why there is none.
    pub fn period_on(&self, date: Date) -> Result<String, String> {
        let cadence = self.cadence();
        if cadence != Cadence::Whole
            && (date < self.valid_from || self.valid_to.is_some_and(|to| date > to))
        {
            return Err(format!(
                "{} is in force {}, and {date} is outside it: name a period with --period",
                self.id,
                self.validity()
            ));
        }
        Ok(match cadence {
            Cadence::Monthly => format!("{:04}-{:02}", date.year(), date.month()),
            Cadence::Yearly => format!("{:04}", date.year()),
            Cadence::Whole => self.whole_period(),
        })
    }

    /// The validity in words: "from 2026-01-01 to 2026-12-31", or "from 2026-01-01".
    pub fn validity(&self) -> String {
        match self.valid_to {
            Some(to) => format!("from {} to {to}", self.valid_from),
            None => format!("from {}", self.valid_from),
        }
    }

    /// The one period of a one-off policy or a screen with an end.
    fn whole_period(&self) -> String {
        match self.valid_to {
            Some(to) => format!("{}_{to}", self.valid_from),
            None => format!("{}_", self.valid_from),
        }
    }

    /// Checks that `period` is one of this policy's periods.
    pub fn check_period(&self, period: &str) -> Result<(), String> {
        let number = |s: &str| {
            s.parse::<i32>()
                .ok()
                .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
        };
        let (from, to) = (self.valid_from, self.valid_to);
        let cadence = self.cadence();
        let ok = match cadence {
            Cadence::Monthly => {
                let ym = |d: Date| (d.year(), d.month());
                period
                    .split_once('-')
                    .and_then(|(y, m)| Some((number(y)?, u32::try_from(number(m)?).ok()?)))
                    .is_some_and(|m| {
                        period.len() == 7
                            && (1..=12).contains(&m.1)
                            && m >= ym(from)
                            && to.is_none_or(|to| m <= ym(to))
                    })
            }
            Cadence::Yearly => number(period).is_some_and(|y| {
                period.len() == 4 && y >= from.year() && to.is_none_or(|to| y <= to.year())
            }),
            Cadence::Whole => period == self.whole_period(),
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "'{period}' is not a period of {}: {}",
                self.id,
                match cadence {
                    Cadence::Monthly => format!("a month YYYY-MM {}", self.validity()),
                    Cadence::Yearly => format!("a year YYYY {}", self.validity()),
                    Cadence::Whole => format!("its only period is {}", self.whole_period()),
                }
            ))
        }
    }
}
