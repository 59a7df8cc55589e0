//! Throttling of password failures: how many are free and how fast they are forgotten, and
//! the doubling delay after them. The counters live in the store, so every replica sees them.

/// Failures allowed before logins for that name or address slow down.
pub const USER_FREE_FAILURES: i64 = 5;
/// Offices share one address behind NAT, so the address gets more room than an account.
pub const IP_FREE_FAILURES: i64 = 20;
/// An account's failures are kept until a success and forgotten one per 15 minutes, so waiting
/// does not restart the doubling delay (a fixed window used to cap it at about 8 minutes).
pub const USER_DECAY_SECS: i64 = 15 * 60;
/// An address recovers faster: it is shared, and its count is only a backstop.
pub const IP_DECAY_SECS: i64 = 60;
pub(crate) const FIRST_DELAY_SECS: i64 = 30;
pub(crate) const MAX_DELAY_SECS: i64 = 15 * 60;

/// Delay imposed after `failures`: none up to `free`, then doubling from 30 s.
pub fn delay_after(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = (failures - free).min(16) as u32;
    (FIRST_DELAY_SECS << doublings).min(MAX_DELAY_SECS)
}
