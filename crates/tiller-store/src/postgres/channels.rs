//! A tenant's channels on PostgreSQL.

use tiller_core::{
    channels::{Channel, ChannelId},
    store::ChannelStore,
    Entity, StoreError, StoreResult, TenantId,
};

use super::PgStore;
use crate::{
    error::{not_found, store_error},
    rows::{channels, ChannelRow, CHANNEL_COLUMNS},
};

impl PgStore {
    async fn channel_where(&self, filter: &str, value: &str) -> StoreResult<Channel> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE {filter}");
        let row: ChannelRow = sqlx::query_as(&sql)
            .bind(value)
            .fetch_one(&self.pool)
            .await
            .map_err(not_found(Entity::Channel))?;
        row.try_into()
    }
}

#[async_trait::async_trait]
impl ChannelStore for PgStore {
    async fn create_channel(&self, channel: &Channel) -> StoreResult<()> {
        let r = ChannelRow::from(channel);
        let sql = format!(
            "INSERT INTO channels ({CHANNEL_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        sqlx::query(&sql)
            .bind(r.id)
            .bind(r.tenant_id)
            .bind(r.kind)
            .bind(r.name)
            .bind(r.phone_number_id)
            .bind(r.waba_id)
            .bind(r.display_number)
            .bind(r.access_token)
            .bind(r.app_secret)
            .bind(r.verify_token)
            .bind(r.graph_url)
            .bind(r.graph_version)
            .bind(r.created_at)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn channel(&self, t: TenantId, id: &ChannelId) -> StoreResult<Channel> {
        let sql =
            format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE tenant_id = $1 AND id = $2");
        let row: ChannelRow = sqlx::query_as(&sql)
            .bind(t.0)
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(not_found(Entity::Channel))?;
        row.try_into()
    }

    async fn channels(&self, t: TenantId) -> StoreResult<Vec<Channel>> {
        // Ids in byte order (`COLLATE "C"`) break ties as SQLite does.
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE tenant_id = $1 \
             ORDER BY created_at, id COLLATE \"C\""
        );
        let rows: Vec<ChannelRow> = sqlx::query_as(&sql)
            .bind(t.0)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        channels(rows)
    }

    async fn remove_channel(&self, t: TenantId, id: &ChannelId) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM channels WHERE tenant_id = $1 AND id = $2")
            .bind(t.0)
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(Entity::Channel));
        }
        Ok(())
    }

    async fn whatsapp_channel_by_id(&self, id: &ChannelId) -> StoreResult<Channel> {
        self.channel_where("id = $1 AND kind = 'whatsapp'", id.as_str())
            .await
    }

    async fn whatsapp_channel_by_number(&self, phone_number_id: &str) -> StoreResult<Channel> {
        self.channel_where("phone_number_id = $1", phone_number_id)
            .await
    }
}
