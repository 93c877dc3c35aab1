//! The token API (`POST /service/cloud/auth`): an app key and secret are swapped for a
//! token that lives 24 hours; asking again while it is valid returns the same token with
//! its lifetime recalculated from now (AIRUDDER Quick Start).

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};

use crate::{store::Store, Clock, StoreError, TenantId};

pub const DEFAULT_TOKEN_TTL: Duration = Duration::hours(24);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub token: String,
    pub tenant: TenantId,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown key or wrong secret: the caller learns nothing about which.
    #[error("invalid APPKey or APPSecret")]
    BadCredentials,
    #[error(transparent)]
    Store(StoreError),
}

/// Checks the app credentials and issues (or extends) the tenant's token.
pub async fn issue_token(
    store: &dyn Store,
    clock: &dyn Clock,
    ttl: Duration,
    app_key: &str,
    app_secret: &str,
) -> Result<ApiToken, AuthError> {
    let tenant = match store.tenant_by_app_key(app_key).await {
        Ok(t) => t,
        Err(StoreError::NotFound) => return Err(AuthError::BadCredentials),
        Err(e) => return Err(AuthError::Store(e)),
    };
    if !tenant.app_secret_matches(app_secret) {
        return Err(AuthError::BadCredentials);
    }
    let now = clock.now();
    store
        .issue_token(tenant.id, &new_token(), now, now + ttl)
        .await
        .map_err(AuthError::Store)
}

/// 39 random bytes as standard base64: 52 characters, the length of the documented example.
fn new_token() -> String {
    let raw: [u8; 32] = rand::random();
    let tail: [u8; 7] = rand::random();
    let mut bytes = raw.to_vec();
    bytes.extend_from_slice(&tail);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_52_chars_and_fresh() {
        let a = super::new_token();
        assert_eq!(a.len(), 52);
        assert_ne!(a, super::new_token());
    }
}
