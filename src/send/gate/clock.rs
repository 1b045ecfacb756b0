//! Time arithmetic on what a server says, capped: a pause never exceeds [`MAX_PAUSE`] (one
//! day) and every instant sum is checked, so no header can panic the gate.

use std::time::Duration;

use tokio::time::Instant;

/// The longest pause a 429 can impose (longer Retry-Afters are cut to this).
pub const MAX_PAUSE: Duration = crate::net::client::MAX_RETRY_AFTER;

/// `at + by`, or `at` if that overflowed (`by` is capped by the callers anyway).
pub(super) fn later(at: Instant, by: Duration) -> Instant {
    at.checked_add(by.min(MAX_PAUSE)).unwrap_or(at)
}
