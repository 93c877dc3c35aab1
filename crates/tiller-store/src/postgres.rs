//! PostgreSQL backend: the scale-out store that several stateless tiller nodes share.

mod changes;
mod channels;
mod chat_records;
mod claims;
mod conversations;
mod group_rows;
mod groups;
mod inbound;
mod jobs;
mod list_reads;
mod messages;
pub(crate) mod relay;
mod robots;
mod seats;
mod statistics;
mod webhooks;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{
    migrate::Migrator,
    postgres::{PgPool, PgPoolOptions},
};
use tiller_core::{
    auth::{plan_token, IssuedToken, TokenPlan, TokenRecord, TokenStore},
    clock::{from_millis, to_millis},
    store::{HealthStore, MigrationStatus, Store},
    tenant::{plan_tenant_change, NewTenant, Tenant, TenantChange, TenantStore},
    Entity, StoreResult, TenantId,
};

use crate::{
    error::{not_found, store_error, ConnectError},
    rows::{TenantRow, TENANT_COLUMNS},
    ConnectOptions,
};

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
    /// Where `record_inbound` calls meet to share transactions.
    inbound: std::sync::Arc<inbound::InboundGroups>,
    /// Where `finish_attempt` calls meet to share transactions.
    finishes: std::sync::Arc<webhooks::FinishGroups>,
    /// Where robot turns' `apply_session_change` calls meet to share transactions.
    changes: std::sync::Arc<changes::ChangeGroups>,
    /// Where `claim_turn` calls meet to share statements.
    claims: std::sync::Arc<claims::ClaimGroups>,
    /// Where `list_messages` calls meet to share statements.
    lists: std::sync::Arc<list_reads::ListReads>,
}

impl PgStore {
    pub(crate) async fn connect(url: &str, opts: &ConnectOptions) -> Result<Self, ConnectError> {
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await;
        let pool = match pool {
            Ok(pool) => pool,
            Err(e) => return Err(explain_connect_error(url, e).await),
        };
        if opts.migrate {
            // sqlx holds an advisory lock while migrating, so nodes starting together are safe.
            let migrated = if opts.migration_lock {
                MIGRATOR.run(&pool).await
            } else {
                let mut unlocked = sqlx::migrate!("migrations/postgres");
                unlocked.set_locking(false);
                unlocked.run(&pool).await
            };
            migrated.map_err(ConnectError::Migrate)?;
        }
        let inbound = std::sync::Arc::new(inbound::start(&pool));
        statistics::keep(pool.clone(), std::sync::Arc::downgrade(&inbound));
        let finishes = std::sync::Arc::new(webhooks::FinishGroups::start(&pool));
        let changes = std::sync::Arc::new(changes::start(&pool));
        let claims = std::sync::Arc::new(claims::start(&pool));
        let lists = std::sync::Arc::new(list_reads::start(&pool));
        Ok(Self {
            pool,
            inbound,
            finishes,
            changes,
            claims,
            lists,
        })
    }

    async fn tenant_where(&self, column: &str, value: &str) -> StoreResult<Tenant> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE {column} = $1");
        let row: TenantRow = sqlx::query_as(&sql)
            .bind(value)
            .fetch_one(&self.pool)
            .await
            .map_err(not_found(Entity::Tenant))?;
        Ok(row.into())
    }
}

/// sqlx reports an unreachable server as a pool timeout; probe the address so the
/// operator reads "connection refused to db:5432" instead.
async fn explain_connect_error(url: &str, e: sqlx::Error) -> ConnectError {
    let Some((host, port)) = url::Url::parse(url)
        .ok()
        .and_then(|u| Some((u.host_str()?.to_owned(), u.port().unwrap_or(5432))))
    else {
        return ConnectError::Connect(e);
    };
    let probe = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)),
    )
    .await;
    let reason = match probe {
        Ok(Ok(_)) => return ConnectError::Connect(e),
        Ok(Err(io)) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".to_owned()
        }
        Ok(Err(io)) => format!("{io}"),
        Err(_) => "connection timed out".to_owned(),
    };
    ConnectError::Unreachable {
        reason,
        host,
        port,
        source: e,
    }
}

#[async_trait::async_trait]
impl TenantStore for PgStore {
    async fn insert_tenant(&self, new: &NewTenant, now: DateTime<Utc>) -> StoreResult<Tenant> {
        let sql = format!(
            "INSERT INTO tenants (name, company, app_key, app_secret_hash, sign_key, sign_secret, \
             access_key, access_secret, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING {TENANT_COLUMNS}"
        );
        let row: TenantRow = sqlx::query_as(&sql)
            .bind(&new.name)
            .bind(&new.company)
            .bind(&new.app_key)
            .bind(&new.app_secret_hash)
            .bind(&new.sign_key)
            .bind(new.sign_secret.expose())
            .bind(&new.access_key)
            .bind(new.access_secret.expose())
            .bind(to_millis(now))
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.into())
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Tenant> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        let row: TenantRow = sqlx::query_as(&sql)
            .bind(id.0)
            .fetch_one(&self.pool)
            .await
            .map_err(not_found(Entity::Tenant))?;
        Ok(row.into())
    }

    async fn tenant_by_app_key(&self, app_key: &str) -> StoreResult<Tenant> {
        self.tenant_where("app_key", app_key).await
    }

    async fn tenant_by_sign_key(&self, sign_key: &str) -> StoreResult<Tenant> {
        self.tenant_where("sign_key", sign_key).await
    }

    async fn tenant_by_access_key(&self, access_key: &str) -> StoreResult<Tenant> {
        self.tenant_where("access_key", access_key).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id");
        let rows: Vec<TenantRow> = sqlx::query_as(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(Tenant::from).collect())
    }

    async fn change_tenant(
        &self,
        id: TenantId,
        change: &TenantChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let select = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1 FOR UPDATE");
        let current: TenantRow = sqlx::query_as(&select)
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(not_found(Entity::Tenant))?;
        let plan = plan_tenant_change(&current.into(), change, now);
        let update = format!(
            "UPDATE tenants SET disabled_at = $1, app_secret_hash = $2, sign_secret = $3, \
             access_secret = $4 WHERE id = $5 RETURNING {TENANT_COLUMNS}"
        );
        let row: TenantRow = sqlx::query_as(&update)
            .bind(plan.disabled_at.map(to_millis))
            .bind(&plan.app_secret_hash)
            .bind(plan.sign_secret.expose())
            .bind(plan.access_secret.expose())
            .bind(id.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        if plan.revoke_tokens {
            sqlx::query("DELETE FROM api_token_hashes WHERE tenant_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        // Delivered at commit to every node's relay, which empties its credential cache.
        relay::notify_credentials_changed(&mut tx).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(row.into())
    }
}

#[async_trait::async_trait]
impl TokenStore for PgStore {
    async fn issue_token(
        &self,
        t: TenantId,
        candidate: &TokenRecord,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<IssuedToken> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // Locking the tenant row serialises concurrent requests from several nodes: the
        // snapshot below is read under it, so a tenant keeps one valid token.
        sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
            .bind(t.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(not_found(Entity::Tenant))?;
        let valid: Option<(String, String)> = sqlx::query_as(
            "SELECT token_hash, nonce FROM api_token_hashes WHERE tenant_id = $1 AND expires_at > $2 \
             ORDER BY expires_at DESC LIMIT 1",
        )
        .bind(t.0)
        .bind(to_millis(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let valid = valid.map(|(hash, nonce)| TokenRecord { hash, nonce });
        let plan = plan_token(valid, candidate);
        match &plan {
            TokenPlan::Extend { hash, .. } => {
                sqlx::query("UPDATE api_token_hashes SET expires_at = $1 WHERE token_hash = $2")
                    .bind(to_millis(expires_at))
                    .bind(hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
            }
            TokenPlan::Insert(record) => {
                sqlx::query(
                    "DELETE FROM api_token_hashes WHERE tenant_id = $1 AND expires_at <= $2",
                )
                .bind(t.0)
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
                sqlx::query(
                    "INSERT INTO api_token_hashes (token_hash, nonce, tenant_id, issued_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&record.hash)
                .bind(&record.nonce)
                .bind(t.0)
                .bind(to_millis(now))
                .bind(to_millis(expires_at))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            }
        }
        let nonce = plan.nonce().to_owned();
        tx.commit().await.map_err(store_error)?;
        Ok(IssuedToken {
            nonce,
            tenant: t,
            expires_at: from_millis(to_millis(expires_at)),
        })
    }

    async fn token_owner(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<TenantId> {
        let id: i64 = sqlx::query_scalar(
            "SELECT tenant_id FROM api_token_hashes WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_millis(now))
        .fetch_one(&self.pool)
        .await
        .map_err(not_found(Entity::Token))?;
        Ok(TenantId(id))
    }
}

#[async_trait::async_trait]
impl HealthStore for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn migration_status(&self) -> StoreResult<MigrationStatus> {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let applied = if exists {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?
        } else {
            Vec::new()
        };
        Ok(MigrationStatus {
            expected: MIGRATOR.iter().map(|m| m.version).collect(),
            applied,
        })
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }
}
