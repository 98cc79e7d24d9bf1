//! Civil dates and times in UTC for ISO 20022 (`xs:date`, `xs:dateTime`), from milliseconds
//! since the Unix epoch, without a calendar dependency.

/// `2026-11-27` for a time in milliseconds since the epoch (UTC).
pub fn iso_date(ms: i64) -> String {
    let (y, m, d) = civil(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2026-11-27T06:01:02Z` for a time in milliseconds since the epoch (UTC).
pub fn iso_date_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        iso_date(ms),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Year, month, day of a day number since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(iso_date_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_date(951_782_400_000), "2000-02-29");
        assert_eq!(iso_date_time(1_795_759_262_000), "2026-11-27T06:01:02Z");
        assert_eq!(iso_date(-86_400_000), "1969-12-31");
    }
}
