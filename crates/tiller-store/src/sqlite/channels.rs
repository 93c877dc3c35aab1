//! A tenant's channels on SQLite: writes on the writer thread, reads on the readers.

use rusqlite::params;
use tiller_core::{
    channels::{Channel, ChannelId},
    store::ChannelStore,
    Entity, StoreError, StoreResult, TenantId,
};

use super::{
    statements::{all, execute, found},
    SqliteStore,
};
use crate::rows::{channels, ChannelRow, CHANNEL_COLUMNS};

impl SqliteStore {
    fn channel_where(&self, filter: &str, value: &str) -> StoreResult<Channel> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE {filter}");
        let row: ChannelRow = self
            .readers
            .read(|c| found(c, &sql, params![value], Entity::Channel))?;
        row.try_into()
    }
}

#[async_trait::async_trait]
impl ChannelStore for SqliteStore {
    async fn create_channel(&self, channel: &Channel) -> StoreResult<()> {
        let r = ChannelRow::from(channel);
        self.writer
            .run(move |tx| {
                let sql = format!(
                    "INSERT INTO channels ({CHANNEL_COLUMNS}) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                );
                execute(
                    tx,
                    &sql,
                    params![
                        r.id,
                        r.tenant_id,
                        r.kind,
                        r.name,
                        r.phone_number_id,
                        r.waba_id,
                        r.display_number,
                        r.access_token,
                        r.app_secret,
                        r.verify_token,
                        r.graph_url,
                        r.graph_version,
                        r.created_at
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn channel(&self, t: TenantId, id: &ChannelId) -> StoreResult<Channel> {
        let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE tenant_id = ? AND id = ?");
        let row: ChannelRow = self
            .readers
            .read(|c| found(c, &sql, params![t.0, id.as_str()], Entity::Channel))?;
        row.try_into()
    }

    async fn channels(&self, t: TenantId) -> StoreResult<Vec<Channel>> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE tenant_id = ? ORDER BY created_at, id"
        );
        let rows: Vec<ChannelRow> = self.readers.read(|c| all(c, &sql, params![t.0]))?;
        channels(rows)
    }

    async fn remove_channel(&self, t: TenantId, id: &ChannelId) -> StoreResult<()> {
        let id = id.to_string();
        let removed = self
            .writer
            .run(move |tx| {
                execute(
                    tx,
                    "DELETE FROM channels WHERE tenant_id = ? AND id = ?",
                    params![t.0, id],
                )
            })
            .await?;
        if removed == 0 {
            return Err(StoreError::NotFound(Entity::Channel));
        }
        Ok(())
    }

    async fn whatsapp_channel_by_id(&self, id: &ChannelId) -> StoreResult<Channel> {
        self.channel_where("id = ? AND kind = 'whatsapp'", id.as_str())
    }

    async fn whatsapp_channel_by_number(&self, phone_number_id: &str) -> StoreResult<Channel> {
        self.channel_where("phone_number_id = ?", phone_number_id)
    }
}
