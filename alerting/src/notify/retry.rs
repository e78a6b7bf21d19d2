//! When to try a webhook again: exponential backoff with full jitter, so that receivers
//! recovering from an outage are not hit by every sender at once, and the receiver's own
//! `Retry-After` when it gives one.

use std::time::{Duration, SystemTime};

/// First backoff ceiling.
pub(crate) const DEFAULT_RETRY_BASE: Duration = Duration::from_millis(250);
/// Largest backoff ceiling.
pub(crate) const DEFAULT_RETRY_CAP: Duration = Duration::from_secs(30);
/// How long retries go on after the first attempt when the notifiers file does not say.
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(10 * 60);

/// Retry timing of one notifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// The wait before the first retry is drawn from `0..=base`; the ceiling doubles with
    /// every retry.
    pub base: Duration,
    /// The ceiling stops doubling here.
    pub cap: Duration,
    /// No attempt starts later than this after the first one.
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: DEFAULT_RETRY_BASE,
            cap: DEFAULT_RETRY_CAP,
            max_age: DEFAULT_MAX_AGE,
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): uniform in
    /// `0..=min(cap, base * 2^(attempt - 1))`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_micros() as u64;
        Duration::from_micros(fastrand::u64(0..=ceiling))
    }

    fn ceiling(&self, attempt: u32) -> Duration {
        2u32.checked_pow(attempt.saturating_sub(1))
            .and_then(|factor| self.base.checked_mul(factor))
            .map_or(self.cap, |ceiling| ceiling.min(self.cap))
    }
}

/// Reads `Retry-After`: delay seconds or an HTTP date (a date in the past means now).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_a_doubling_ceiling_up_to_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
            max_age: DEFAULT_MAX_AGE,
        };
        assert_eq!(policy.ceiling(1), Duration::from_millis(250));
        assert_eq!(policy.ceiling(2), Duration::from_millis(500));
        assert_eq!(policy.ceiling(4), Duration::from_secs(2));
        assert_eq!(policy.ceiling(8), Duration::from_secs(30));
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(30));
        for attempt in 1..40 {
            for _ in 0..20 {
                assert!(policy.backoff(attempt) <= policy.ceiling(attempt));
            }
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let policy = RetryPolicy::default();
        let waits: std::collections::HashSet<Duration> =
            (0..20).map(|_| policy.backoff(6)).collect();
        assert!(waits.len() > 1);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
