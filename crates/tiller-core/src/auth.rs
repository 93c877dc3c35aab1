//! The token API (`POST /service/cloud/auth`): an app key and secret are swapped for a
//! token that lives 24 hours; asking again while it is valid returns the same token with
//! its lifetime recalculated from now (AIRUDDER Quick Start).
//!
//! Tokens are not kept at rest. The store holds the token's SHA-256 and a random nonce;
//! the token itself is an HMAC of the nonce keyed with the tenant's app secret, which the
//! store holds only as a hash. So asking again can hand back the same token (the caller
//! presents the app secret), while a read of the database hands out no live token.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{
    tenant::{Tenant, TenantStore},
    Clock, Entity, SharedClock, StoreError, StoreResult, TenantId,
};

/// Storage port of API tokens.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    /// Returns the tenant's token that is still valid at `now`, with its expiry pushed to
    /// `expires_at`; or, when none is valid, stores `candidate` with that expiry.
    async fn issue_token(
        &self,
        t: TenantId,
        candidate: &TokenRecord,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<IssuedToken>;
    /// The owner of the token with this hash, if it exists and has not expired at `now`.
    async fn token_owner(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<TenantId>;
}

/// A shared store serves the port too (see the same impl of `TenantStore`).
#[async_trait::async_trait]
impl<S: TokenStore + ?Sized> TokenStore for Arc<S> {
    async fn issue_token(
        &self,
        t: TenantId,
        candidate: &TokenRecord,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<IssuedToken> {
        (**self).issue_token(t, candidate, now, expires_at).await
    }
    async fn token_owner(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<TenantId> {
        (**self).token_owner(token_hash, now).await
    }
}

/// What the token rules need of the store: tenants by app key, and their tokens.
pub trait AuthStore: TenantStore + TokenStore {}

impl<S: TenantStore + TokenStore + ?Sized> AuthStore for S {}

/// Who holds a presented credential: the narrow port the auth extractors ask (behind the
/// server's credential cache), so checking a caller reaches nothing else of the store.
/// Every [`AuthStore`] serves it; `NotFound(Tenant)` (`NotFound(Token)` for a token) means
/// no tenant holds the credential.
#[async_trait::async_trait]
pub trait Credentials: Send + Sync {
    async fn by_sign_key(&self, sign_key: &str) -> StoreResult<Tenant>;
    async fn by_access_key(&self, access_key: &str) -> StoreResult<Tenant>;
    /// The owner of a token that is still valid at `now`.
    async fn by_token(&self, token: &str, now: DateTime<Utc>) -> StoreResult<TenantId>;
}

#[async_trait::async_trait]
impl<S: AuthStore + ?Sized> Credentials for S {
    async fn by_sign_key(&self, sign_key: &str) -> StoreResult<Tenant> {
        self.tenant_by_sign_key(sign_key).await
    }
    async fn by_access_key(&self, access_key: &str) -> StoreResult<Tenant> {
        self.tenant_by_access_key(access_key).await
    }
    async fn by_token(&self, token: &str, now: DateTime<Utc>) -> StoreResult<TenantId> {
        token_owner(self, token, now).await
    }
}

pub const DEFAULT_TOKEN_TTL: Duration = Duration::hours(24);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub token: String,
    pub tenant: TenantId,
    pub expires_at: DateTime<Utc>,
}

/// What the store keeps of a token: its hash (to resolve a presented token) and the nonce
/// it was derived from (to derive it again for the holder of the app secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub hash: String,
    pub nonce: String,
}

/// The store's answer to an issue request: the valid token's nonce and its new expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub nonce: String,
    pub tenant: TenantId,
    pub expires_at: DateTime<Utc>,
}

/// What the store does for an issue request, decided by [`plan_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPlan {
    /// Push the valid token's expiry (row `hash`) to the new one and hand back its nonce.
    Extend { hash: String, nonce: String },
    /// Drop the tenant's expired tokens and store the candidate.
    Insert(TokenRecord),
}

impl TokenPlan {
    /// The nonce the caller derives the token from.
    pub fn nonce(&self) -> &str {
        match self {
            TokenPlan::Extend { nonce, .. } => nonce,
            TokenPlan::Insert(record) => &record.nonce,
        }
    }
}

/// The reuse rule: asking again while a token is valid returns the same token with its
/// lifetime recalculated; otherwise the candidate becomes the tenant's token.
/// `valid` is the tenant's newest token still valid at the time of the request, as the
/// store found it.
pub fn plan_token(valid: Option<TokenRecord>, candidate: &TokenRecord) -> TokenPlan {
    match valid {
        Some(TokenRecord { hash, nonce }) => TokenPlan::Extend { hash, nonce },
        None => TokenPlan::Insert(candidate.clone()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown key or wrong secret: the caller learns nothing about which.
    #[error("invalid APPKey or APPSecret")]
    BadCredentials,
    /// The credentials are right and the tenant is disabled.
    #[error("this company is disabled")]
    Disabled,
    #[error(transparent)]
    Store(StoreError),
}

/// Checks the app credentials and issues (or extends) the tenant's token.
pub async fn issue_token<S: TenantStore + TokenStore + ?Sized>(
    store: &S,
    clock: &dyn Clock,
    ttl: Duration,
    app_key: &str,
    app_secret: &str,
) -> Result<ApiToken, AuthError> {
    let tenant = match store.tenant_by_app_key(app_key).await {
        Ok(t) => t,
        Err(StoreError::NotFound(Entity::Tenant)) => return Err(AuthError::BadCredentials),
        Err(e) => return Err(AuthError::Store(e)),
    };
    if !tenant.app_secret_matches(app_secret) {
        return Err(AuthError::BadCredentials);
    }
    if tenant.is_disabled() {
        return Err(AuthError::Disabled);
    }
    let now = clock.now();
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let candidate = TokenRecord {
        hash: token_hash(&derive_token(app_secret, tenant.id, &nonce)),
        nonce,
    };
    let issued = store
        .issue_token(tenant.id, &candidate, now, now + ttl)
        .await
        .map_err(AuthError::Store)?;
    Ok(ApiToken {
        token: derive_token(app_secret, tenant.id, &issued.nonce),
        tenant: issued.tenant,
        expires_at: issued.expires_at,
    })
}

/// The token API's service: swaps app credentials for the tenant's token.
#[derive(Clone)]
pub struct Tokens {
    store: Arc<dyn AuthStore>,
    clock: SharedClock,
    ttl: Duration,
}

impl Tokens {
    pub fn new(store: Arc<dyn AuthStore>, clock: SharedClock, ttl: Duration) -> Self {
        Self { store, clock, ttl }
    }

    /// See [`issue_token`].
    pub async fn issue(&self, app_key: &str, app_secret: &str) -> Result<ApiToken, AuthError> {
        issue_token(&*self.store, &*self.clock, self.ttl, app_key, app_secret).await
    }
}

/// The tenant a presented token belongs to, if it exists and is valid at `now`.
pub async fn token_owner<S: TokenStore + ?Sized>(
    store: &S,
    token: &str,
    now: DateTime<Utc>,
) -> Result<TenantId, StoreError> {
    store.token_owner(&token_hash(token), now).await
}

/// How a token is found again: the hex SHA-256 of its text.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// HMAC-SHA256 of the tenant and nonce, keyed with the app secret, plus 7 more bytes of the
/// same construction: 39 bytes as standard base64, 52 characters, the length of the
/// documented example.
fn derive_token(app_secret: &str, tenant: TenantId, nonce: &str) -> String {
    let block = |counter: u8| {
        let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(format!("tiller-token:{}:{nonce}:{counter}", tenant.0).as_bytes());
        mac.finalize().into_bytes()
    };
    let mut bytes = block(0).to_vec();
    bytes.extend_from_slice(&block(1)[..7]);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_52_chars_and_depend_on_secret_tenant_and_nonce() {
        let a = derive_token("secret", TenantId(1), "n1");
        assert_eq!(a.len(), 52);
        assert_eq!(a, derive_token("secret", TenantId(1), "n1"));
        assert_ne!(a, derive_token("other", TenantId(1), "n1"));
        assert_ne!(a, derive_token("secret", TenantId(2), "n1"));
        assert_ne!(a, derive_token("secret", TenantId(1), "n2"));
    }

    #[test]
    fn a_valid_token_is_extended_else_the_candidate_is_stored() {
        let candidate = TokenRecord {
            hash: "h2".into(),
            nonce: "n2".into(),
        };
        let valid = TokenRecord {
            hash: "h1".into(),
            nonce: "n1".into(),
        };
        let extend = plan_token(Some(valid), &candidate);
        assert_eq!(
            extend,
            TokenPlan::Extend {
                hash: "h1".into(),
                nonce: "n1".into()
            }
        );
        assert_eq!(extend.nonce(), "n1");
        let insert = plan_token(None, &candidate);
        assert_eq!(insert, TokenPlan::Insert(candidate));
        assert_eq!(insert.nonce(), "n2");
    }

    #[test]
    fn the_stored_hash_is_not_the_token() {
        let token = derive_token("secret", TenantId(1), "n1");
        let hash = token_hash(&token);
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(hash, token_hash(&token));
        assert_ne!(hash, token_hash(&derive_token("secret", TenantId(1), "n2")));
    }
}
