//! The server's one clock read: handlers take it once per request (see `http::extract::Now`),
//! background tasks once per tick, and pass it down to core.

use std::time::{SystemTime, UNIX_EPOCH};

/// Current time in Unix seconds; read once per request and passed down.
#[allow(clippy::disallowed_methods)] // the one place the server reads the clock
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
