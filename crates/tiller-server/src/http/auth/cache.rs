//! A short-lived, per-node cache of tenants by credential key. Every signed request looks
//! its tenant up by key; caching saves that database round trip on the hot path. A tenant
//! disabled or rotated empties the cache of every node on PostgreSQL at once (the commit
//! relay's `Work::Credentials`); entries live `auth.credential_cache_secs` besides, which
//! bounds the change's delay where nothing tells the node (SQLite, the CLI being another
//! process; a lost notification). Unknown keys are never cached, so probing cannot fill it.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use tiller_core::{
    bus::{CommitListener, Committed, Work},
    tenant::Tenant,
    Entity, StoreError,
};

use crate::http::ApiError;

/// Which credential a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Sign,
    Access,
}

/// Beyond this many entries the cache starts afresh rather than grow.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug)]
pub struct CredentialCache {
    ttl: Duration,
    entries: RwLock<HashMap<(KeyKind, String), (Tenant, Instant)>>,
}

impl CredentialCache {
    /// `ttl` zero disables caching.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
        }
    }

    /// The tenant holding `key`, from the cache when fresh, else from `lookup`; a key
    /// the store does not know becomes `unknown`.
    pub async fn tenant<F, Fut>(
        &self,
        kind: KeyKind,
        key: &str,
        lookup: F,
        unknown: ApiError,
    ) -> Result<Tenant, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Tenant, StoreError>>,
    {
        let cache_key = (kind, key.to_owned());
        if !self.ttl.is_zero() {
            if let Ok(entries) = self.entries.read() {
                if let Some((tenant, at)) = entries.get(&cache_key) {
                    if at.elapsed() < self.ttl {
                        return Ok(tenant.clone());
                    }
                }
            }
        }
        let tenant = match lookup().await {
            Ok(t) => t,
            Err(StoreError::NotFound(Entity::Tenant)) => return Err(unknown),
            Err(e) => return Err(e.into()),
        };
        if !self.ttl.is_zero() {
            if let Ok(mut entries) = self.entries.write() {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(cache_key, (tenant.clone(), Instant::now()));
            }
        }
        Ok(tenant)
    }
}

impl CredentialCache {
    /// Forgets every entry: the next request of each key asks the store.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}

impl CommitListener for CredentialCache {
    fn on_commit(&self, committed: &Committed) {
        if committed.work() == Work::Credentials {
            self.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tiller_core::tenant::NewTenant;

    use super::*;

    fn tenant() -> Tenant {
        let (new, _) = NewTenant::generate("Acme").unwrap();
        Tenant {
            id: tiller_core::TenantId(1),
            name: new.name,
            company: new.company,
            app_key: new.app_key,
            app_secret_hash: new.app_secret_hash,
            sign_key: new.sign_key,
            sign_secret: new.sign_secret,
            access_key: new.access_key,
            access_secret: new.access_secret,
            created_at: chrono::DateTime::default(),
            disabled_at: None,
        }
    }

    #[tokio::test]
    async fn known_keys_are_cached_and_unknown_ones_are_not() {
        let cache = CredentialCache::new(Duration::from_mins(1));
        let calls = AtomicUsize::new(0);
        let t = tenant();
        for _ in 0..3 {
            let got = cache
                .tenant(
                    KeyKind::Sign,
                    "k",
                    || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Ok(t.clone())
                    },
                    ApiError::unauthorized("x"),
                )
                .await
                .unwrap();
            assert_eq!(got, t);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "looked up once");
        // The same key of another kind is another entry.
        cache
            .tenant(
                KeyKind::Access,
                "k",
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Ok(t.clone())
                },
                ApiError::unauthorized("x"),
            )
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        for _ in 0..2 {
            let miss = cache
                .tenant(
                    KeyKind::Sign,
                    "nope",
                    || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Err(StoreError::NotFound(Entity::Tenant))
                    },
                    ApiError::unauthorized("unknown"),
                )
                .await;
            assert!(miss.is_err());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 4, "misses are not cached");
    }

    #[tokio::test]
    async fn a_credentials_change_anywhere_empties_the_cache() {
        let cache = CredentialCache::new(Duration::from_mins(1));
        let calls = AtomicUsize::new(0);
        let t = tenant();
        let ask = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok(t.clone())
        };
        let unknown = || ApiError::unauthorized("x");
        cache
            .tenant(KeyKind::Sign, "k", ask, unknown())
            .await
            .unwrap();
        cache.on_commit(&Committed::Elsewhere(Work::Turns));
        cache
            .tenant(KeyKind::Sign, "k", ask, unknown())
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "other work leaves it be");
        cache.on_commit(&Committed::Elsewhere(Work::Credentials));
        cache
            .tenant(KeyKind::Sign, "k", ask, unknown())
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "asked the store again");
    }

    #[tokio::test]
    async fn a_zero_ttl_always_asks_the_store() {
        let cache = CredentialCache::new(Duration::ZERO);
        let calls = AtomicUsize::new(0);
        let t = tenant();
        for _ in 0..2 {
            cache
                .tenant(
                    KeyKind::Sign,
                    "k",
                    || async {
                        calls.fetch_add(1, Ordering::SeqCst);
                        Ok(t.clone())
                    },
                    ApiError::unauthorized("x"),
                )
                .await
                .unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
