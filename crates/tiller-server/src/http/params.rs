//! Request parameters shared by several routes, each checked one way.

use chrono::{DateTime, Utc};

use super::ApiError;

/// Most items one list call returns.
pub const MAX_PAGE: u32 = 100;

/// An optional unix-seconds field (`start_time`, `end_time`).
pub fn unix_seconds(secs: Option<i64>, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    secs.map(|s| {
        DateTime::from_timestamp(s, 0)
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be unix seconds")))
    })
    .transpose()
}

/// A page `size`: 1 to [`MAX_PAGE`].
pub fn page_size(size: i64) -> Result<u32, ApiError> {
    u32::try_from(size)
        .ok()
        .filter(|s| (1..=MAX_PAGE).contains(s))
        .ok_or_else(|| {
            ApiError::bad_request(format!("size must be between 1 and {MAX_PAGE}, not {size}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_are_checked() {
        assert_eq!(page_size(1).unwrap(), 1);
        assert_eq!(page_size(100).unwrap(), 100);
        for bad in [0, -1, 101, 10_000] {
            assert!(page_size(bad).is_err(), "{bad}");
        }
        assert_eq!(
            unix_seconds(Some(60), "t").unwrap().unwrap().timestamp(),
            60
        );
        assert!(unix_seconds(None, "t").unwrap().is_none());
        assert!(unix_seconds(Some(i64::MAX), "t").is_err());
    }
}
