//! The application's one clock read: each request takes it once and passes it down.

use std::time::{SystemTime, UNIX_EPOCH};

/// Current time in Unix seconds.
#[allow(clippy::disallowed_methods)] // the one place the application reads the clock
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
