//! `call_id`: the session id. 32 lowercase hex when Tiller makes one; integrators may bring
//! their own (the Huawei example sends `"netinfo session id"`), so any printable text up to
//! 128 characters is accepted.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallIdError {
    #[error("call_id must not be empty")]
    Empty,
    #[error("call_id must be at most 128 characters")]
    TooLong,
    #[error("call_id must not contain control characters")]
    ControlCharacter,
}

impl CallId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, CallIdError> {
        if raw.is_empty() {
            return Err(CallIdError::Empty);
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(CallIdError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(CallIdError::ControlCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A new id in the documented shape: 32 lowercase hex.
    pub fn generate() -> Self {
        Self(crate::ids::random_hex32())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CallId {
    type Error = CallIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CallId> for String {
    fn from(id: CallId) -> Self {
        id.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integrator_ids_and_generates_hex() {
        assert_eq!(
            CallId::parse("netinfo session id").unwrap().as_str(),
            "netinfo session id"
        );
        assert_eq!(CallId::parse("").unwrap_err(), CallIdError::Empty);
        assert_eq!(
            CallId::parse("a\nb").unwrap_err(),
            CallIdError::ControlCharacter
        );
        assert_eq!(
            CallId::parse(&"x".repeat(129)).unwrap_err(),
            CallIdError::TooLong
        );
        let g = CallId::generate();
        assert_eq!(g.as_str().len(), 32);
        assert!(serde_json::from_str::<CallId>("\"\"").is_err());
    }
}
