//! Times as people in Vietnam read them: Vietnam time (Asia/Ho_Chi_Minh, UTC+07:00 all year —
//! no daylight saving since 1975, so a fixed offset is exact), day before month, as in
//! `03/12/2026 17:25 (+07:00)`. Every page and the console show times this way.

const VIETNAM: time::UtcOffset = match time::UtcOffset::from_hms(7, 0, 0) {
    Ok(o) => o,
    Err(_) => time::UtcOffset::UTC,
};

fn local(t: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .map(|dt| dt.to_offset(VIETNAM))
}

/// To the minute: `03/12/2026 17:25 (+07:00)`.
pub fn when(t: i64) -> String {
    match local(t) {
        Some(dt) => format!(
            "{:02}/{:02}/{:04} {:02}:{:02} (+07:00)",
            dt.day(),
            u8::from(dt.month()),
            dt.year(),
            dt.hour(),
            dt.minute()
        ),
        None => t.to_string(),
    }
}

/// To the second, for signing and timestamp times: `03/12/2026 17:25:09 (+07:00)`.
pub fn when_exact(t: i64) -> String {
    match local(t) {
        Some(dt) => format!(
            "{:02}/{:02}/{:04} {:02}:{:02}:{:02} (+07:00)",
            dt.day(),
            u8::from(dt.month()),
            dt.year(),
            dt.hour(),
            dt.minute(),
            dt.second()
        ),
        None => t.to_string(),
    }
}

/// The day only: `03/12/2026`.
pub fn day(t: i64) -> String {
    match local(t) {
        Some(dt) => format!(
            "{:02}/{:02}/{:04}",
            dt.day(),
            u8::from(dt.month()),
            dt.year()
        ),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnam_time_day_first() {
        assert_eq!(when(0), "01/01/1970 07:00 (+07:00)");
        assert_eq!(when(1_764_079_380), "25/11/2025 21:03 (+07:00)");
        assert_eq!(when(951_782_400), "29/02/2000 07:00 (+07:00)");
        // Past midnight in Vietnam while still the day before in UTC.
        assert_eq!(when(1_764_090_000), "26/11/2025 00:00 (+07:00)");
        assert_eq!(day(1_764_090_000), "26/11/2025");
        assert_eq!(when_exact(1_764_079_389), "25/11/2025 21:03:09 (+07:00)");
        assert_eq!(when(i64::MAX), i64::MAX.to_string());
    }
}
