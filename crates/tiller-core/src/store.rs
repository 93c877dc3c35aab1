//! Storage ports: small traits per aggregate, joined into [`Store`] and used as
//! [`DynStore`]. `tiller-store` implements them for SQLite and PostgreSQL.
//!
//! Methods on tenant-owned data take the [`TenantId`] explicitly, so forgetting the
//! scope is a compile error rather than a data leak. Lookups by credential key are the
//! exception: they are how a request finds its tenant in the first place.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    auth::ApiToken,
    tenant::{NewTenant, Tenant},
    StoreResult, TenantId,
};

#[async_trait::async_trait]
pub trait TenantStore: Send + Sync {
    /// Fails with `Conflict` when the company code is taken.
    async fn insert_tenant(&self, new: &NewTenant, now: DateTime<Utc>) -> StoreResult<Tenant>;
    async fn tenant(&self, id: TenantId) -> StoreResult<Tenant>;
    async fn tenant_by_app_key(&self, app_key: &str) -> StoreResult<Tenant>;
    async fn tenant_by_sign_key(&self, sign_key: &str) -> StoreResult<Tenant>;
    async fn tenant_by_access_key(&self, access_key: &str) -> StoreResult<Tenant>;
    /// Oldest first.
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>>;
}

#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    /// Returns the tenant's token that is still valid at `now`, with its expiry pushed to
    /// `expires_at`; or, when none is valid, stores `candidate` with that expiry.
    async fn issue_token(
        &self,
        t: TenantId,
        candidate: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<ApiToken>;
    /// The token's owner, if the token exists and has not expired at `now`.
    async fn token_owner(&self, token: &str, now: DateTime<Utc>) -> StoreResult<TenantId>;
}

/// What `/readyz` asks of the database.
#[async_trait::async_trait]
pub trait HealthStore: Send + Sync {
    async fn ping(&self) -> StoreResult<()>;
    async fn migration_status(&self) -> StoreResult<MigrationStatus>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Versions embedded in this binary.
    pub expected: Vec<i64>,
    /// Versions the database records as successfully applied.
    pub applied: Vec<i64>,
}

impl MigrationStatus {
    pub fn is_current(&self) -> bool {
        self.expected.iter().all(|v| self.applied.contains(v))
    }
}

pub trait Store: TenantStore + TokenStore + HealthStore {
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
}

pub type DynStore = Arc<dyn Store>;
