//! Request signatures of the two compatible API families, and of the providers that post
//! to Tiller (Meta's `X-Hub-Signature-256`). Pure functions over bytes, each pinned by test
//! vectors.

pub mod airudder;
pub mod meta;
pub mod nxlink;

use subtle::ConstantTimeEq;

/// Compares a presented hex digest with the expected one in constant time,
/// ignoring the case of the presented hex.
fn hex_matches(expected_lower_hex: &str, presented: &str) -> bool {
    let presented = presented.trim().to_ascii_lowercase();
    expected_lower_hex
        .as_bytes()
        .ct_eq(presented.as_bytes())
        .into()
}
