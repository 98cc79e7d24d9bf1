//! The clock: what time it is, as a value the code is given rather than reads for itself.
//!
//! Everything that depends on the date (the period a monthly policy pays, a person's age, a
//! case's due date, a token's expiry) asks a [`Clock`] it was handed. In production that is
//! [`Clock::system`]; a rehearsal or a test runs the same code at another time with
//! [`Clock::starting_at`] (time passes from a given instant at the system clock's pace) or
//! [`Clock::fixed`] (time stands still). The `errandless` command takes one from `--clock`,
//! `ERRANDLESS_CLOCK` or the configuration file's `[clock] start`, written as [`Clock::parse`]
//! reads it.
//!
//! Dates are China Standard Time (UTC+8), the time zone of the platform's law: a month or a
//! day starts at midnight in Beijing.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Date;

/// Milliseconds since the Unix epoch (1970-01-01T00:00:00Z).
pub type Millis = i64;

/// The offset of China Standard Time from UTC, in milliseconds.
const CST_MS: i64 = 8 * 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// What time it is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The system's clock, plus this many milliseconds (0 for the real time).
    Offset(i64),
    /// Always this instant.
    Fixed(Millis),
}

/// Why a clock setting was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a time: write a date YYYY-MM-DD (midnight in Beijing), \
     YYYY-MM-DDTHH:MM[:SS] with an optional Z or ±HH:MM offset (Beijing time without one), or \
     @ and milliseconds since 1970-01-01T00:00:00Z"
)]
pub struct ClockError(String);

impl Clock {
    /// The system's clock: the real time.
    pub fn system() -> Clock {
        Clock {
            kind: Kind::Offset(0),
        }
    }

    /// A clock that reads `start` now and then runs at the system clock's pace.
    pub fn starting_at(start: Millis) -> Clock {
        Clock {
            kind: Kind::Offset(start.saturating_sub(system_millis())),
        }
    }

    /// A clock that always reads `at`.
    pub fn fixed(at: Millis) -> Clock {
        Clock {
            kind: Kind::Fixed(at),
        }
    }

    /// Reads a clock setting: a date `YYYY-MM-DD` (midnight in Beijing), a time
    /// `YYYY-MM-DDTHH:MM[:SS]` with an optional `Z` or `±HH:MM` offset (Beijing time without
    /// one), or `@` and milliseconds since the epoch. The clock starts there and runs;
    /// `system` (or `now`, or nothing) is the real time.
    pub fn parse(text: &str) -> Result<Clock, ClockError> {
        let text = text.trim();
        if text.is_empty() || text == "system" || text == "now" {
            return Ok(Clock::system());
        }
        if let Some(ms) = text.strip_prefix('@') {
            return ms
                .parse::<Millis>()
                .ok()
                .filter(|_| ms.bytes().all(|b| b.is_ascii_digit()))
                .map(Clock::starting_at)
                .ok_or_else(|| ClockError(text.to_owned()));
        }
        Ok(Clock::starting_at(parse_instant(text)?))
    }

    /// Milliseconds since the Unix epoch, now.
    pub fn now_millis(&self) -> Millis {
        match self.kind {
            Kind::Offset(offset) => system_millis().saturating_add(offset),
            Kind::Fixed(at) => at,
        }
    }

    /// Today's date in China Standard Time.
    pub fn today(&self) -> Date {
        date_of(self.now_millis())
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Offset(0) => write!(f, "Clock::system"),
            Kind::Offset(_) => write!(f, "Clock::starting_at(now {})", self.now_millis()),
            Kind::Fixed(at) => write!(f, "Clock::fixed({at})"),
        }
    }
}

/// The date in China Standard Time of the instant `ms`.
fn date_of(ms: Millis) -> Date {
    Date::from_days_since_epoch((ms + CST_MS).div_euclid(DAY_MS))
}

/// Midnight in Beijing at the start of `date`, in milliseconds since the epoch.
fn start_of(date: Date) -> Millis {
    date.days_since_epoch() * DAY_MS - CST_MS
}

fn system_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn parse_instant(text: &str) -> Result<Millis, ClockError> {
    let bad = || ClockError(text.to_owned());
    let (Some(date), Some(rest)) = (text.get(..10), text.get(10..)) else {
        return Err(bad());
    };
    let date: Date = date.parse().map_err(|_| bad())?;
    if rest.is_empty() {
        return Ok(start_of(date));
    }
    let rest = rest
        .strip_prefix('T')
        .or_else(|| rest.strip_prefix(' '))
        .ok_or_else(bad)?;
    // The offset: Z, +HH:MM or -HH:MM, or none (Beijing time).
    let (time, offset_ms) = if let Some(time) = rest.strip_suffix('Z') {
        (time, 0)
    } else if let Some(at) = rest.rfind(['+', '-']) {
        let (time, offset) = rest.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (h, m) = offset[1..].split_once(':').ok_or_else(bad)?;
        let (h, m): (i64, i64) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 14 || m > 59 || offset.len() != 6 {
            return Err(bad());
        }
        (time, sign * (h * 60 + m) * 60_000)
    } else {
        (rest, CST_MS)
    };
    let parts: Vec<&str> = time.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
        return Err(bad());
    }
    let field = |i: usize, max: i64| -> Result<i64, ClockError> {
        match parts.get(i) {
            None => Ok(0),
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|v| (0..=max).contains(v))
                .ok_or_else(bad),
        }
    };
    let (h, m, s) = (field(0, 23)?, field(1, 59)?, field(2, 59)?);
    Ok(date.days_since_epoch() * DAY_MS + ((h * 60 + m) * 60 + s) * 1000 - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().expect("a date")
    }

    #[test]
    fn a_date_is_midnight_in_beijing() {
        let clock = Clock::parse("2027-03-01").expect("a clock");
        assert_eq!(clock.today(), date("2027-03-01"));
        // 2027-03-01T00:00+08:00 is 2027-02-28T16:00Z.
        let at = parse_instant("2027-03-01").expect("an instant");
        assert_eq!(
            at,
            parse_instant("2027-02-28T16:00:00Z").expect("an instant")
        );
        assert_eq!(at, parse_instant("2027-03-01T00:00").expect("an instant"));
        assert_eq!(
            parse_instant("2027-03-01T01:30:00+09:00").expect("an instant"),
            at + 30 * 60_000
        );
        assert_eq!(date_of(at - 1), date("2027-02-28"));
        assert_eq!(start_of(date("1970-01-01")), -CST_MS);
    }

    #[test]
    fn a_started_clock_runs_and_a_fixed_one_stands() {
        let start = parse_instant("2027-12-31T23:59:59").expect("an instant");
        let running = Clock::starting_at(start);
        let first = running.now_millis();
        assert!((first - start).abs() < 60_000, "{first} {start}");
        assert!(running.now_millis() >= first);
        let fixed = Clock::fixed(start_of(date("2027-01-15")) + 9 * 3_600_000);
        assert_eq!(fixed.now_millis(), fixed.now_millis());
        assert_eq!(fixed.today(), date("2027-01-15"));
        assert_eq!(Clock::parse("system"), Ok(Clock::system()));
        let at = Clock::parse("@1794790800000").expect("a clock");
        assert_eq!(at.today(), date("2026-11-16"));
        assert!(Clock::parse("@-5").is_err() && Clock::parse("@").is_err());
        assert_ne!(running, Clock::system());
    }

    #[test]
    fn bad_settings_are_refused_with_the_form_to_use() {
        for bad in [
            "2027-02-30",
            "2027-3-1",
            "tomorrow",
            "2027-03-01T25:00",
            "2027-03-01T10",
            "2027-03-01T10:00+8",
            "2027-03-01X10:00",
            "2027-03-01T10:00:00+15:00",
            "２０２７-03-01",
        ] {
            let e = Clock::parse(bad).expect_err(bad);
            assert!(e.to_string().contains("YYYY-MM-DD"), "{bad}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_setting_panics(text in "\\PC{0,40}") {
            let _ = Clock::parse(&text);
        }

        #[test]
        fn every_day_reads_back(days in -50_000i64..100_000) {
            let d = Date::from_days_since_epoch(days);
            let clock = Clock::parse(&d.to_string()).expect("a clock");
            proptest::prop_assert_eq!(Clock::fixed(start_of(d)).today(), d);
            proptest::prop_assert!(clock.today() >= d);
        }
    }
}
