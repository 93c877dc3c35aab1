//! A clock that only moves when a test says so.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use tiller_core::Clock;

#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    /// Starts at a fixed, realistic instant (2025-04-15T06:41:00Z, from the seed examples).
    pub fn new() -> Self {
        Self::at(
            Utc.with_ymd_and_hms(2025, 4, 15, 6, 41, 0)
                .single()
                .expect("valid date"),
        )
    }

    pub fn at(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    pub fn advance(&self, by: Duration) {
        *self.now.lock().expect("clock lock") += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().expect("clock lock") = to;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().expect("clock lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_when_told() {
        let c = ManualClock::new();
        let t0 = c.now();
        assert_eq!(c.now(), t0);
        c.advance(Duration::seconds(90));
        assert_eq!(c.now() - t0, Duration::seconds(90));
        let shared = c.clone();
        shared.advance(Duration::hours(1));
        assert_eq!(c.now() - t0, Duration::seconds(3690));
    }
}
