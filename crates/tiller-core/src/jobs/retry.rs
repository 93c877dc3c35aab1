//! When a failed job is tried again. The webhook policy documented by AIRUDDER is a retry
//! every minute, at most 5 retries; tenants may configure their own list of delays. Delays
//! get ±jitter, a `Retry-After` is honoured within `[delay, 2 × delay]`, and a 429 or a
//! timeout doubles the wait.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Verdict;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The delay before retry 1, 2, …; its length is the number of retries.
    pub delays: Vec<Duration>,
    /// Fraction of each delay to randomise by, either way (0.0 for exact delays).
    pub jitter: f64,
}

/// Why an attempt failed, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Failure {
    /// A non-2xx answer, with its `Retry-After` when one was given.
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    Timeout,
    /// No answer: refused connection, DNS failure, refused address.
    Network,
}

impl RetryPolicy {
    /// One retry every minute, five at most (AIRUDDER's documented webhook policy).
    pub fn documented() -> Self {
        Self {
            delays: vec![Duration::from_mins(1); 5],
            jitter: 0.1,
        }
    }

    /// What follows failed attempt number `attempt` (1 is the first try). `unit` is a
    /// random number in `[0, 1)` for the jitter.
    pub fn after_failure(
        &self,
        attempt: u32,
        failure: Failure,
        now: DateTime<Utc>,
        unit: f64,
    ) -> Verdict {
        let Some(base) = self.delays.get(attempt as usize - 1).copied() else {
            return Verdict::GiveUp;
        };
        let jittered = base.mul_f64((1.0 + self.jitter * (2.0 * unit - 1.0)).max(0.0));
        let delay = match failure {
            Failure::Status {
                retry_after: Some(asked),
                ..
            } => asked.clamp(base, base * 2),
            Failure::Status { code: 429, .. } | Failure::Timeout => jittered * 2,
            Failure::Status { .. } | Failure::Network => jittered,
        };
        let delay = chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        Verdict::Retry { at: now + delay }
    }
}

/// Parses `"1s,1s,2s"` or `"1m, 5m, 30m"` (humantime units).
pub fn parse_delays(raw: &str) -> Result<Vec<Duration>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_millis;

    fn at(v: &Verdict) -> i64 {
        match v {
            Verdict::Retry { at } => at.timestamp(),
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_policy_retries_five_times_a_minute_apart() {
        let p = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::documented()
        };
        let now = from_millis(0);
        for attempt in 1..=5 {
            assert_eq!(
                at(&p.after_failure(attempt, Failure::Network, now, 0.5)),
                60
            );
        }
        assert_eq!(
            p.after_failure(6, Failure::Network, now, 0.5),
            Verdict::GiveUp
        );
    }

    #[test]
    fn retry_after_is_clamped_and_429_or_timeouts_wait_longer() {
        let p = RetryPolicy {
            delays: vec![Duration::from_secs(10)],
            jitter: 0.0,
        };
        let now = from_millis(0);
        let status = |code, ra: Option<u64>| Failure::Status {
            code,
            retry_after: ra.map(Duration::from_secs),
        };
        assert_eq!(at(&p.after_failure(1, status(503, Some(15)), now, 0.0)), 15);
        assert_eq!(at(&p.after_failure(1, status(503, Some(1)), now, 0.0)), 10);
        assert_eq!(
            at(&p.after_failure(1, status(503, Some(3600)), now, 0.0)),
            20
        );
        assert_eq!(at(&p.after_failure(1, status(429, None), now, 0.0)), 20);
        assert_eq!(at(&p.after_failure(1, Failure::Timeout, now, 0.0)), 20);
        assert_eq!(at(&p.after_failure(1, status(500, None), now, 0.0)), 10);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let p = RetryPolicy {
            delays: vec![Duration::from_secs(100)],
            jitter: 0.1,
        };
        let now = from_millis(0);
        assert_eq!(at(&p.after_failure(1, Failure::Network, now, 0.0)), 90);
        assert_eq!(
            at(&p.after_failure(1, Failure::Network, now, 0.999_999)),
            109
        );
    }

    #[test]
    fn delays_parse_from_config_text() {
        assert_eq!(
            parse_delays("1s,1s,2s").unwrap(),
            vec![
                Duration::from_secs(1),
                Duration::from_secs(1),
                Duration::from_secs(2)
            ]
        );
        assert_eq!(
            parse_delays("1m, 5m").unwrap(),
            vec![Duration::from_mins(1), Duration::from_mins(5)]
        );
        assert!(parse_delays("soon").is_err());
        assert!(parse_delays("").unwrap().is_empty());
    }
}
