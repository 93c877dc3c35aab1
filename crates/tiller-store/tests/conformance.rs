#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly at the failing step"
)]

//! One story per aggregate, run against every backend: a fresh SQLite file always, and a
//! fresh PostgreSQL database whenever `TILLER_TEST_PG_URL` is set (CI always sets it).

use chrono::Duration;
use tiller_core::{
    auth::TokenRecord, store::DynStore, tenant::NewTenant, Clock, Entity, StoreError, Unique,
};
use tiller_store::{connect, testing::TestDatabase, ConnectOptions};
use tiller_testkit::ManualClock;

/// Runs `story` on SQLite and, when configured, on PostgreSQL.
macro_rules! on_every_backend {
    ($name:ident, $story:ident) => {
        #[tokio::test]
        async fn $name() {
            let db = TestDatabase::sqlite();
            $story(open(&db).await).await;
            if let Some(db) = TestDatabase::postgres().await {
                $story(open(&db).await).await;
            }
        }
    };
}

// A crate root resolves modules beside itself; a file directly in `tests/` would be a test
// binary of its own.
#[path = "conformance/channel_reports.rs"]
mod channel_reports;
#[path = "conformance/channels.rs"]
mod channels;
#[path = "conformance/conversations.rs"]
mod conversations;
#[path = "conformance/finish_bursts.rs"]
mod finish_bursts;
#[path = "conformance/inbound_bursts.rs"]
mod inbound_bursts;
#[path = "conformance/jobs.rs"]
mod jobs;
#[path = "conformance/list_bursts.rs"]
mod list_bursts;
#[path = "conformance/robots.rs"]
mod robots;
#[path = "conformance/seats.rs"]
mod seats;
#[path = "conformance/turn_bursts.rs"]
mod turn_bursts;
#[path = "conformance/webhooks.rs"]
mod webhooks;

async fn open(db: &TestDatabase) -> DynStore {
    connect(&db.url, &ConnectOptions::default())
        .await
        .expect("connect test store")
}

on_every_backend!(tenants, tenant_story);
on_every_backend!(tokens, token_story);
on_every_backend!(health, health_story);
on_every_backend!(tenant_standing, tenant_standing_story);

async fn tenant_story(store: DynStore) {
    let clock = ManualClock::new();
    let (new, issued) = NewTenant::generate("Acme Lending").unwrap();
    let acme = store.insert_tenant(&new, clock.now()).await.unwrap();
    assert_eq!(acme.company, "acme_lending");
    assert_eq!(acme.created_at, clock.now());
    assert!(acme.app_secret_matches(issued.app_secret.expose()));
    assert!(!acme.app_secret_matches("wrong"));
    assert_eq!(acme.sign_secret, issued.sign_secret);

    assert_eq!(store.tenant(acme.id).await.unwrap(), acme);
    assert_eq!(
        store.tenant_by_app_key(&issued.app_key).await.unwrap().id,
        acme.id
    );
    assert_eq!(
        store.tenant_by_sign_key(&issued.sign_key).await.unwrap().id,
        acme.id
    );
    assert_eq!(
        store
            .tenant_by_access_key(&issued.access_key)
            .await
            .unwrap()
            .id,
        acme.id
    );
    assert!(matches!(
        store.tenant_by_app_key("nope").await,
        Err(StoreError::NotFound(Entity::Tenant))
    ));
    assert!(matches!(
        store.tenant(tiller_core::TenantId(9_999)).await,
        Err(StoreError::NotFound(Entity::Tenant))
    ));

    let (dup, _) = NewTenant::generate("acme lending").unwrap();
    match store.insert_tenant(&dup, clock.now()).await {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Unique::TenantCompany),
        other => panic!("expected a company conflict, got {other:?}"),
    }

    let (beta, _) = NewTenant::generate("Beta").unwrap();
    let beta = store.insert_tenant(&beta, clock.now()).await.unwrap();
    let listed: Vec<_> = store
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, vec![acme.id, beta.id]);
}

/// A token record named `n`: hash `h-n`, nonce `n-n`.
fn rec(n: &str) -> TokenRecord {
    TokenRecord {
        hash: format!("h-{n}"),
        nonce: format!("n-{n}"),
    }
}

async fn token_story(store: DynStore) {
    let clock = ManualClock::new();
    let ttl = Duration::hours(24);
    let (a, _) = NewTenant::generate("A").unwrap();
    let (b, _) = NewTenant::generate("B").unwrap();
    let a = store.insert_tenant(&a, clock.now()).await.unwrap();
    let b = store.insert_tenant(&b, clock.now()).await.unwrap();

    let first = store
        .issue_token(a.id, &rec("1"), clock.now(), clock.now() + ttl)
        .await
        .unwrap();
    assert_eq!(first.nonce, "n-1");
    assert_eq!(store.token_owner("h-1", clock.now()).await.unwrap(), a.id);

    // Asking again while valid returns the same token's nonce, valid 24 h from the new
    // request.
    clock.advance(Duration::hours(23));
    let again = store
        .issue_token(a.id, &rec("2"), clock.now(), clock.now() + ttl)
        .await
        .unwrap();
    assert_eq!(again.nonce, "n-1");
    assert_eq!(again.expires_at, clock.now() + ttl);
    assert!(matches!(
        store.token_owner("h-2", clock.now()).await,
        Err(StoreError::NotFound(Entity::Token))
    ));
    clock.advance(Duration::hours(2));
    assert_eq!(store.token_owner("h-1", clock.now()).await.unwrap(), a.id);

    // Another tenant never receives or resolves to A's token.
    let other = store
        .issue_token(b.id, &rec("b"), clock.now(), clock.now() + ttl)
        .await
        .unwrap();
    assert_eq!(other.nonce, "n-b");
    assert_eq!(store.token_owner("h-b", clock.now()).await.unwrap(), b.id);

    // Once expired it resolves to nothing, and the next request stores a new token.
    clock.advance(Duration::hours(23));
    assert!(matches!(
        store.token_owner("h-1", clock.now()).await,
        Err(StoreError::NotFound(Entity::Token))
    ));
    let fresh = store
        .issue_token(a.id, &rec("3"), clock.now(), clock.now() + ttl)
        .await
        .unwrap();
    assert_eq!(fresh.nonce, "n-3");
    assert!(matches!(
        store.token_owner("unknown", clock.now()).await,
        Err(StoreError::NotFound(Entity::Token))
    ));
}

/// Disabling, enabling and rotating: the store writes core's plan and revokes the tenant's
/// tokens (only its own) when the plan says so.
async fn tenant_standing_story(store: DynStore) {
    use tiller_core::tenant::{NewSecrets, TenantChange};
    let clock = ManualClock::new();
    let ttl = Duration::hours(24);
    let (a, _) = NewTenant::generate("A").unwrap();
    let (b, _) = NewTenant::generate("B").unwrap();
    let a = store.insert_tenant(&a, clock.now()).await.unwrap();
    let b = store.insert_tenant(&b, clock.now()).await.unwrap();
    assert_eq!(a.disabled_at, None);
    for (t, n) in [(&a, "a"), (&b, "b")] {
        store
            .issue_token(t.id, &rec(n), clock.now(), clock.now() + ttl)
            .await
            .unwrap();
    }

    clock.advance(Duration::minutes(5));
    let disabled = store
        .change_tenant(a.id, &TenantChange::Disable, clock.now())
        .await
        .unwrap();
    assert_eq!(disabled.disabled_at, Some(clock.now()));
    assert_eq!(store.tenant(a.id).await.unwrap(), disabled);
    assert!(
        store
            .tenant_by_sign_key(&a.sign_key)
            .await
            .unwrap()
            .is_disabled(),
        "lookups by key see the standing"
    );
    assert!(matches!(
        store.token_owner("h-a", clock.now()).await,
        Err(StoreError::NotFound(Entity::Token))
    ));
    assert_eq!(store.token_owner("h-b", clock.now()).await.unwrap(), b.id);
    assert_eq!(store.tenant(b.id).await.unwrap().disabled_at, None);

    let enabled = store
        .change_tenant(a.id, &TenantChange::Enable, clock.now())
        .await
        .unwrap();
    assert_eq!(enabled.disabled_at, None);
    assert_eq!(enabled.sign_secret, a.sign_secret);

    let (secrets, _) = NewSecrets::generate();
    let rotated = store
        .change_tenant(b.id, &TenantChange::Rotate(secrets.clone()), clock.now())
        .await
        .unwrap();
    assert_eq!(rotated.sign_secret, secrets.sign_secret);
    assert_eq!(rotated.access_secret, secrets.access_secret);
    assert_eq!(rotated.app_secret_hash, secrets.app_secret_hash);
    assert_eq!((rotated.sign_key, rotated.app_key), (b.sign_key, b.app_key));
    assert_eq!(
        store
            .tenant_by_access_key(&b.access_key)
            .await
            .unwrap()
            .access_secret,
        secrets.access_secret
    );
    assert!(matches!(
        store.token_owner("h-b", clock.now()).await,
        Err(StoreError::NotFound(Entity::Token))
    ));
    assert!(matches!(
        store
            .change_tenant(
                tiller_core::TenantId(9_999),
                &TenantChange::Disable,
                clock.now()
            )
            .await,
        Err(StoreError::NotFound(Entity::Tenant))
    ));
}

async fn health_story(store: DynStore) {
    store.ping().await.unwrap();
    let status = store.migration_status().await.unwrap();
    assert!(status.is_current(), "{status:?}");
    assert!(!status.expected.is_empty());
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

/// `migration_lock: false` (for databases without `pg_advisory_lock`) still migrates.
#[tokio::test]
async fn migrations_run_without_the_advisory_lock_when_asked() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let opts = ConnectOptions {
        migration_lock: false,
        ..ConnectOptions::default()
    };
    let store = connect(&db.url, &opts).await.unwrap();
    let status = store.migration_status().await.unwrap();
    assert!(status.is_current(), "{status:?}");
    assert!(!status.applied.is_empty());
}

#[tokio::test]
async fn an_unmigrated_database_reports_pending_migrations() {
    let db = TestDatabase::sqlite();
    let opts = ConnectOptions {
        migrate: false,
        ..ConnectOptions::default()
    };
    let store = connect(&db.url, &opts).await.unwrap();
    let status = store.migration_status().await.unwrap();
    assert!(status.applied.is_empty());
    assert!(!status.is_current());
}
