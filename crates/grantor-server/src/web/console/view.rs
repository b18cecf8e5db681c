//! How console pages show things: how many items a list holds, and times as people read them.

/// Items a console list shows; the management API pages through the rest.
pub const LIST_MAX: usize = 500;

/// A Unix time as people read it, in UTC: `2026-11-22 18:56 UTC`.
pub fn when(at: i64) -> String {
    // Days to civil date (Howard Hinnant's algorithm), to avoid a date crate for one format.
    let days = at.div_euclid(86_400);
    let secs = at.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_795_200_000), "2026-11-20 18:40 UTC");
        assert_eq!(when(951_782_400), "2000-02-29 00:00 UTC");
    }
}
