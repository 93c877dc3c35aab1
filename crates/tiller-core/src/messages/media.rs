//! Leaf objects shared by several content types: a media file, a map location, a contact.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// A media attachment (`content.media`; also a template header's `media`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// Where the file can be fetched. AIRUDDER hands out pre-signed URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_url: Option<String>,
    /// The file name, given for `file` content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A map location (`content.location`; also a template header's `location`).
///
/// The coordinates are kept as JSON numbers, not `f64`, so an integer such as `31` is
/// written back as `31` rather than `31.0`; use [`Location::latitude_f64`] /
/// [`Location::longitude_f64`] for arithmetic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Location {
    /// The latitude in degrees, if given.
    pub fn latitude_f64(&self) -> Option<f64> {
        self.latitude.as_ref().and_then(Number::as_f64)
    }

    /// The longitude in degrees, if given.
    pub fn longitude_f64(&self) -> Option<f64> {
        self.longitude.as_ref().and_then(Number::as_f64)
    }
}

/// One entry of `content.contacts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E.164 with a leading `+` in the examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
