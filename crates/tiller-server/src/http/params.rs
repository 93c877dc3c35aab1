//! Request parameters shared by several routes, each checked one way.

use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use serde::{
    de::{Error as _, SeqAccess, Visitor},
    Deserialize, Deserializer,
};

use super::ApiError;

/// `Path<T>` with its rejection (a value that does not parse, bad percent-encoding) as a
/// 400 in the surface's envelope instead of axum's plain-text `Invalid URL: …`.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for PathParams<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// Most items one list call returns.
pub const MAX_PAGE: u32 = 100;
/// Most messages in one request (`messages` of the send and user-message APIs).
pub const MAX_MESSAGES: usize = 100;
/// Most ids in one request (`msg_ids` of mark-as-read).
pub const MAX_IDS: usize = 1000;
/// Most event types on one webhook endpoint (`events`).
pub const MAX_EVENT_TYPES: usize = 32;

/// `#[serde(deserialize_with = "params::messages")]`: `messages`, at most [`MAX_MESSAGES`].
pub fn messages<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    d.deserialize_seq(Bounded::new("messages", MAX_MESSAGES))
}

/// `msg_ids`, at most [`MAX_IDS`]; `null` or absent is `None`.
pub fn msg_ids<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    d.deserialize_option(Bounded::new("msg_ids", MAX_IDS))
}

/// `events`, at most [`MAX_EVENT_TYPES`]; `null` or absent is `None`.
pub fn event_types<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Vec<T>>, D::Error> {
    d.deserialize_option(Bounded::new("events", MAX_EVENT_TYPES))
}

/// A JSON array of at most `max` items. Reading stops at item `max + 1`, so a huge list
/// costs neither memory nor a query. As an option visitor it also takes `null`.
struct Bounded<T, Out> {
    field: &'static str,
    max: usize,
    items: PhantomData<(T, Out)>,
}

impl<T, Out> Bounded<T, Out> {
    fn new(field: &'static str, max: usize) -> Self {
        Self {
            field,
            max,
            items: PhantomData,
        }
    }
}

/// What the list visitor yields: `Vec<T>`, or `Option<Vec<T>>` through `visit_some`.
trait FromList<T>: Sized {
    fn from_list(items: Vec<T>) -> Self;
    fn none() -> Option<Self> {
        None
    }
}

impl<T> FromList<T> for Vec<T> {
    fn from_list(items: Vec<T>) -> Self {
        items
    }
}

impl<T> FromList<T> for Option<Vec<T>> {
    fn from_list(items: Vec<T>) -> Self {
        Some(items)
    }
    fn none() -> Option<Self> {
        Some(None)
    }
}

impl<'de, T: Deserialize<'de>, Out: FromList<T>> Visitor<'de> for Bounded<T, Out> {
    type Value = Out;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "an array of at most {} items", self.max)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Out, E> {
        Out::none().ok_or_else(|| E::invalid_type(serde::de::Unexpected::Unit, &self))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Out, E> {
        self.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Out, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Out, A::Error> {
        let Bounded { field, max, .. } = self;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(max));
        while let Some(item) = seq.next_element()? {
            if items.len() == max {
                return Err(A::Error::custom(format!(
                    "{field} holds more than {max} items; send at most {max} per request"
                )));
            }
            items.push(item);
        }
        Ok(Out::from_list(items))
    }
}

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

    #[derive(Debug, serde::Deserialize)]
    struct Lists {
        #[serde(deserialize_with = "messages")]
        ids: Vec<u32>,
        #[serde(default, deserialize_with = "msg_ids")]
        more: Option<Vec<u32>>,
    }

    #[test]
    fn lists_are_bounded() {
        let json = |ids: usize, more: &str| {
            format!(
                r#"{{"ids":{},"more":{more}}}"#,
                serde_json::json!(vec![1; ids])
            )
        };
        let ok: Lists = serde_json::from_str(&json(MAX_MESSAGES, "null")).unwrap();
        assert_eq!((ok.ids.len(), ok.more), (MAX_MESSAGES, None));
        let ok: Lists = serde_json::from_str(&json(0, "[3]")).unwrap();
        assert_eq!(ok.more, Some(vec![3]));
        assert!(serde_json::from_str::<Lists>(r#"{"ids":[]}"#)
            .unwrap()
            .more
            .is_none());
        let e = serde_json::from_str::<Lists>(&json(MAX_MESSAGES + 1, "null")).unwrap_err();
        assert!(
            e.to_string().contains("messages holds more than 100"),
            "{e}"
        );
        let many = serde_json::json!(vec![1; MAX_IDS + 1]).to_string();
        let e = serde_json::from_str::<Lists>(&json(0, &many)).unwrap_err();
        assert!(
            e.to_string().contains("msg_ids holds more than 1000"),
            "{e}"
        );
        assert!(serde_json::from_str::<Lists>(r#"{"ids":null}"#).is_err());
    }

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
