//! Typed identifiers. Formats fixed by the external contracts are parsed at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A tenant (company). Numeric because nxlink's chat-records API passes `tenant_id` as a Long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub i64);

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// 32 lowercase hex characters from fresh randomness: the shape of AIRUDDER's
/// `request_id`, `call_id` and `msg_id`.
pub fn random_hex32() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex32_is_32_lowercase_hex_and_fresh() {
        let a = random_hex32();
        let b = random_hex32();
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }
}
