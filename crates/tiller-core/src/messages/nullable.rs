//! Fields the docs allow to be `null` (e.g. `media`, `location`, `interactive`, Line
//! `actions`) are `Option<Option<T>>`: absent is `None`, an explicit `null` is `Some(None)`.
//! Serde reads both as `None` by default, which would drop a documented `null` on the way
//! back out; [`deserialize`] keeps the difference.

use serde::{Deserialize, Deserializer};

/// Use as `#[serde(default, deserialize_with = "nullable::deserialize",
/// skip_serializing_if = "Option::is_none")]` on an `Option<Option<T>>` field.
#[expect(
    clippy::option_option,
    reason = "absent vs explicit null is the point; serde_with's double_option idiom"
)]
pub(super) fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
