//! SQLite backend: the embedded default, in WAL mode with `synchronous=NORMAL`. One writer
//! (SQLite serialises writers anyway; a single connection avoids `SQLITE_BUSY` churn) on
//! its own thread with group commit (`writer.rs`), and readers that run on the caller's
//! thread (`reader.rs`), both on the synchronous `rusqlite` driver. sqlx only creates the
//! file and applies the migrations, which both backends share.

mod channels;
mod chat_records;
mod checkpointer;
mod conversations;
mod jobs;
mod messages;
mod reader;
mod robots;
mod seats;
mod statements;
mod webhooks;
mod writer;

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use rusqlite::params;
use sqlx::{
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use tiller_core::{
    auth::{plan_token, IssuedToken, TokenPlan, TokenRecord, TokenStore},
    clock::{from_millis, to_millis},
    store::{HealthStore, MigrationStatus, Store},
    tenant::{plan_tenant_change, NewTenant, Tenant, TenantChange, TenantStore},
    Entity, StoreResult, TenantId,
};

use self::{
    reader::Readers,
    statements::{all, execute, found, one, optional},
    writer::Writer,
};
use crate::{
    error::ConnectError,
    rows::{TenantRow, TENANT_COLUMNS},
    ConnectOptions,
};

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a statement waits for a lock held by another connection (another process, or
/// a migration) before it fails as `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    writer: Writer,
    readers: Readers,
}

impl SqliteStore {
    pub(crate) async fn connect(url: &str, opts: &ConnectOptions) -> Result<Self, ConnectError> {
        let rest = url.strip_prefix("sqlite:").unwrap_or(url);
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.split('?').next().unwrap_or_default().is_empty() {
            return Err(ConnectError::MissingSqlitePath);
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(ConnectError::InvalidUrl)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        if let Some(dir) = options
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| ConnectError::CreateDir(dir.display().to_string(), e))?;
        }
        // sqlx creates the file and applies migrations, before the writer thread opens it.
        let setup = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(ConnectError::Connect)?;
        if opts.migrate {
            MIGRATOR.run(&setup).await.map_err(ConnectError::Migrate)?;
        }
        setup.close().await;
        let writer =
            Writer::open(options.get_filename(), BUSY_TIMEOUT).map_err(ConnectError::Open)?;
        let readers = Readers::open(
            options.get_filename(),
            BUSY_TIMEOUT,
            opts.max_connections as usize,
        )
        .map_err(ConnectError::Open)?;
        Ok(Self { writer, readers })
    }

    fn tenant_where(&self, column: &str, value: impl rusqlite::ToSql) -> StoreResult<Tenant> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE {column} = ?");
        let row: TenantRow = self
            .readers
            .read(|c| found(c, &sql, params![value], Entity::Tenant))?;
        Ok(row.into())
    }
}

#[async_trait::async_trait]
impl TenantStore for SqliteStore {
    async fn insert_tenant(&self, new: &NewTenant, now: DateTime<Utc>) -> StoreResult<Tenant> {
        let new = new.clone();
        self.writer
            .run(move |tx| {
                let sql = format!(
                    "INSERT INTO tenants (name, company, app_key, app_secret_hash, sign_key, \
                     sign_secret, access_key, access_secret, created_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {TENANT_COLUMNS}"
                );
                let row: TenantRow = one(
                    tx,
                    &sql,
                    params![
                        &new.name,
                        &new.company,
                        &new.app_key,
                        &new.app_secret_hash,
                        &new.sign_key,
                        new.sign_secret.expose(),
                        &new.access_key,
                        new.access_secret.expose(),
                        to_millis(now),
                    ],
                )?;
                Ok(row.into())
            })
            .await
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Tenant> {
        self.tenant_where("id", id.0)
    }

    async fn tenant_by_app_key(&self, app_key: &str) -> StoreResult<Tenant> {
        self.tenant_where("app_key", app_key)
    }

    async fn tenant_by_sign_key(&self, sign_key: &str) -> StoreResult<Tenant> {
        self.tenant_where("sign_key", sign_key)
    }

    async fn tenant_by_access_key(&self, access_key: &str) -> StoreResult<Tenant> {
        self.tenant_where("access_key", access_key)
    }

    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY id");
        let rows: Vec<TenantRow> = self.readers.read(|c| all(c, &sql, []))?;
        Ok(rows.into_iter().map(Tenant::from).collect())
    }

    async fn change_tenant(
        &self,
        id: TenantId,
        change: &TenantChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Tenant> {
        let change = change.clone();
        // The writer thread serialises snapshot, decision and apply. Nothing can tell a
        // server in another process: its cache's lifetime bounds the change's delay.
        self.writer
            .run(move |tx| {
                let select = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?");
                let current: TenantRow = found(tx, &select, params![id.0], Entity::Tenant)?;
                let plan = plan_tenant_change(&current.into(), &change, now);
                let update = format!(
                    "UPDATE tenants SET disabled_at = ?, app_secret_hash = ?, sign_secret = ?, \
                     access_secret = ? WHERE id = ? RETURNING {TENANT_COLUMNS}"
                );
                let row: TenantRow = one(
                    tx,
                    &update,
                    params![
                        plan.disabled_at.map(to_millis),
                        &plan.app_secret_hash,
                        plan.sign_secret.expose(),
                        plan.access_secret.expose(),
                        id.0,
                    ],
                )?;
                if plan.revoke_tokens {
                    execute(
                        tx,
                        "DELETE FROM api_token_hashes WHERE tenant_id = ?",
                        params![id.0],
                    )?;
                }
                Ok(row.into())
            })
            .await
    }
}

#[async_trait::async_trait]
impl TokenStore for SqliteStore {
    async fn issue_token(
        &self,
        t: TenantId,
        candidate: &TokenRecord,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<IssuedToken> {
        let candidate = candidate.clone();
        // The writer thread serialises snapshot, decision and apply.
        let nonce = self
            .writer
            .run(move |tx| {
                let valid: Option<(String, String)> = optional(
                    tx,
                    "SELECT token_hash, nonce FROM api_token_hashes \
                     WHERE tenant_id = ? AND expires_at > ? \
                     ORDER BY expires_at DESC LIMIT 1",
                    params![t.0, to_millis(now)],
                )?;
                let valid = valid.map(|(hash, nonce)| TokenRecord { hash, nonce });
                let plan = plan_token(valid, &candidate);
                match &plan {
                    TokenPlan::Extend { hash, .. } => {
                        execute(
                            tx,
                            "UPDATE api_token_hashes SET expires_at = ? WHERE token_hash = ?",
                            params![to_millis(expires_at), hash],
                        )?;
                    }
                    TokenPlan::Insert(record) => {
                        execute(
                            tx,
                            "DELETE FROM api_token_hashes WHERE tenant_id = ? AND expires_at <= ?",
                            params![t.0, to_millis(now)],
                        )?;
                        execute(
                            tx,
                            "INSERT INTO api_token_hashes \
                             (token_hash, nonce, tenant_id, issued_at, expires_at) \
                             VALUES (?, ?, ?, ?, ?)",
                            params![
                                &record.hash,
                                &record.nonce,
                                t.0,
                                to_millis(now),
                                to_millis(expires_at)
                            ],
                        )?;
                    }
                }
                Ok(plan.nonce().to_owned())
            })
            .await?;
        Ok(IssuedToken {
            nonce,
            tenant: t,
            expires_at: from_millis(to_millis(expires_at)),
        })
    }

    async fn token_owner(&self, token_hash: &str, now: DateTime<Utc>) -> StoreResult<TenantId> {
        let id: i64 = self.readers.read(|c| {
            found(
                c,
                "SELECT tenant_id FROM api_token_hashes WHERE token_hash = ? AND expires_at > ?",
                params![token_hash, to_millis(now)],
                Entity::Token,
            )
        })?;
        Ok(TenantId(id))
    }
}

#[async_trait::async_trait]
impl HealthStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        let _: i64 = self.readers.read(|c| one(c, "SELECT 1", []))?;
        Ok(())
    }

    async fn migration_status(&self) -> StoreResult<MigrationStatus> {
        let applied = self.readers.read(|c| {
            let table: Option<String> = optional(
                c,
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name = '_sqlx_migrations'",
                [],
            )?;
            match table {
                Some(_) => all(
                    c,
                    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                    [],
                ),
                None => Ok(Vec::new()),
            }
        })?;
        Ok(MigrationStatus {
            expected: MIGRATOR.iter().map(|m| m.version).collect(),
            applied,
        })
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}
