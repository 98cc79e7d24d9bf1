//! Calendar dates without a time zone, as the standard's date elements need them.
//!
//! A small proleptic Gregorian date: enough for birth dates, registration dates and validity
//! periods. Conversions follow Howard Hinnant's `days_from_civil` algorithm.

use std::fmt;
use std::str::FromStr;

/// A calendar date (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

/// Why a date was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("month {0} does not exist")]
    NoSuchMonth(u32),
    #[error("day {day} does not exist in {year}-{month:02}")]
    NoSuchDay { year: i32, month: u32, day: u32 },
    #[error("'{0}' is not a date of the form YYYY-MM-DD or YYYYMMDD")]
    Format(String),
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// The number of days in `month` of `year`, or 0 when the month does not exist.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A date, if it exists in the calendar.
    pub fn new(year: i32, month: u32, day: u32) -> Result<Date, DateError> {
        if !(1..=12).contains(&month) {
            return Err(DateError::NoSuchMonth(month));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(DateError::NoSuchDay { year, month, day });
        }
        Ok(Date {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    pub fn year(self) -> i32 {
        self.year
    }
    pub fn month(self) -> u32 {
        u32::from(self.month)
    }
    pub fn day(self) -> u32 {
        u32::from(self.day)
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// The date `days` later (or earlier, when negative).
    pub fn add_days(self, days: i64) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + days)
    }

    /// Today's date in China Standard Time (UTC+8), from the system clock. Code that
    /// depends on the date is handed a [`crate::Clock`] and asks it instead.
    pub fn today() -> Date {
        crate::Clock::system().today()
    }

    /// Whole years of age on `on`.
    pub fn age_on(self, on: Date) -> i32 {
        let mut age = on.year - self.year;
        if (on.month, on.day) < (self.month, self.day) {
            age -= 1;
        }
        age
    }

    /// The compact form `YYYYMMDD` used inside ID numbers.
    pub fn compact(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Date, DateError> {
        let bad = || DateError::Format(s.to_string());
        let digits: String = match s.len() {
            10 if s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' => {
                [&s[0..4], &s[5..7], &s[8..10]].concat()
            }
            8 => s.to_string(),
            _ => return Err(bad()),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n = |r: std::ops::Range<usize>| digits[r].parse::<u32>().map_err(|_| bad());
        Date::new(n(0..4)? as i32, n(4..6)?, n(6..8)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn leap_days() {
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(2000, 2, 29).is_ok());
        assert_eq!(
            Date::new(1900, 2, 29),
            Err(DateError::NoSuchDay {
                year: 1900,
                month: 2,
                day: 29
            })
        );
        assert!(Date::new(2023, 2, 29).is_err());
    }

    #[test]
    fn parses_both_forms() {
        assert_eq!("2026-11-26".parse::<Date>(), Date::new(2026, 11, 26));
        assert_eq!("20261126".parse::<Date>(), Date::new(2026, 11, 26));
        assert!("2026-13-01".parse::<Date>().is_err());
        assert!("2026/11/26".parse::<Date>().is_err());
        assert!("２０２６１１２６".parse::<Date>().is_err());
    }

    #[test]
    fn epoch_anchor() {
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_epoch(), 0);
        assert_eq!(Date::new(2000, 3, 1).unwrap().days_since_epoch(), 11_017);
    }

    #[test]
    fn age() {
        let b = Date::new(2008, 9, 1).unwrap();
        assert_eq!(b.age_on(Date::new(2026, 8, 31).unwrap()), 17);
        assert_eq!(b.age_on(Date::new(2026, 9, 1).unwrap()), 18);
    }

    proptest! {
        #[test]
        fn days_round_trip(days in -800_000i64..800_000) {
            let d = Date::from_days_since_epoch(days);
            prop_assert_eq!(d.days_since_epoch(), days);
            prop_assert!(Date::new(d.year(), d.month(), d.day()).is_ok());
        }
    }
}
