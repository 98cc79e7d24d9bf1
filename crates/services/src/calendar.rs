//! Working days (工作日) in China Standard Time, for statutory time limits.
//!
//! Days are counted in UTC+8 (China has one time zone and no daylight saving). A limit of `n`
//! working days runs from the day after the start, counting Monday to Friday only, and ends at
//! the end of the `n`-th such day: a case submitted on a Friday evening with a limit of one
//! working day is due at the end of Monday. Public holidays and the weekend days worked in
//! their place (调休) are not modelled yet, so around a holiday the due date comes early.

use errandless_standards::Date;

use crate::Millis;

const DAY_MS: i64 = 86_400_000;
/// China Standard Time is UTC+8 all year.
const CST_OFFSET_MS: i64 = 8 * 3_600_000;

/// The day number (days since 1970-01-01) of an instant, in China Standard Time.
pub fn local_day(at: Millis) -> i64 {
    (at + CST_OFFSET_MS).div_euclid(DAY_MS)
}

/// The calendar date of an instant, in China Standard Time.
pub fn local_date(at: Millis) -> Date {
    Date::from_days_since_epoch(local_day(at))
}

/// Whether a day number falls on Monday to Friday (1970-01-01 was a Thursday).
pub fn is_working_day(day: i64) -> bool {
    (day + 3).rem_euclid(7) < 5
}

/// A statutory deadline: the last day, and the instant it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// The last day on which the step is on time (China Standard Time).
    pub date: Date,
    /// The instant that day ends (the next day's midnight, UTC+8): late from then on.
    pub ends: Millis,
}

/// The deadline `working_days` working days after `start`.
pub fn deadline(start: Millis, working_days: u32) -> Deadline {
    let mut day = local_day(start);
    let mut left = working_days;
    while left > 0 {
        day += 1;
        if is_working_day(day) {
            left -= 1;
        }
    }
    Deadline {
        date: Date::from_days_since_epoch(day),
        ends: (day + 1) * DAY_MS - CST_OFFSET_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Midnight UTC+8 of a date, plus `hours`.
    fn at(date: &str, hours: i64) -> Millis {
        let d: Date = date.parse().expect("a date");
        d.days_since_epoch() * DAY_MS - CST_OFFSET_MS + hours * 3_600_000
    }

    #[test]
    fn weekdays_are_right() {
        // 2026-03-02 is a Monday.
        let monday: Date = "2026-03-02".parse().expect("a date");
        let d = monday.days_since_epoch();
        assert!((0..5).all(|i| is_working_day(d + i)));
        assert!(!is_working_day(d + 5) && !is_working_day(d + 6));
    }

    #[test]
    fn the_day_is_china_standard_time() {
        // 2026-03-06 20:00 UTC is already Saturday 04:00 in Beijing.
        assert_eq!(local_date(at("2026-03-07", 4)).to_string(), "2026-03-07");
        assert_eq!(local_date(at("2026-03-06", 23)).to_string(), "2026-03-06");
    }

    #[test]
    fn deadlines_skip_weekends() {
        let friday_evening = at("2026-03-06", 19);
        let one = deadline(friday_evening, 1);
        assert_eq!(one.date.to_string(), "2026-03-09", "Monday");
        assert_eq!(one.ends, at("2026-03-10", 0));
        assert_eq!(deadline(friday_evening, 5).date.to_string(), "2026-03-13");
        assert_eq!(deadline(friday_evening, 6).date.to_string(), "2026-03-16");
        let saturday = at("2026-03-07", 10);
        assert_eq!(deadline(saturday, 1).date.to_string(), "2026-03-09");
        let wednesday = at("2026-03-04", 9);
        assert_eq!(deadline(wednesday, 2).date.to_string(), "2026-03-06");
        assert_eq!(deadline(wednesday, 3).date.to_string(), "2026-03-09");
        assert_eq!(deadline(wednesday, 15).date.to_string(), "2026-03-25");
    }
}
