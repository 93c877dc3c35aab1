//! Rows of `channels`, shared by both dialects: one row per channel, the WhatsApp columns
//! NULL for a custom one.

use tiller_core::{
    channels::{Channel, ChannelId, ChannelKind, WhatsAppChannel},
    clock::{from_millis, to_millis},
    Secret, StoreError, TenantId,
};

use super::SqliteRow;
use crate::error::corrupt;

pub(crate) const CHANNEL_COLUMNS: &str = "id, tenant_id, kind, name, phone_number_id, waba_id, \
     display_number, access_token, app_secret, verify_token, graph_url, graph_version, \
     created_at";

const WHATSAPP: &str = "whatsapp";
const CUSTOM: &str = "custom";

/// A channel as stored, in [`CHANNEL_COLUMNS`] order: what a write binds and a read gets.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct ChannelRow {
    pub id: String,
    pub tenant_id: i64,
    pub kind: String,
    pub name: Option<String>,
    pub phone_number_id: Option<String>,
    pub waba_id: Option<String>,
    pub display_number: Option<String>,
    pub access_token: Option<String>,
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
    pub graph_url: Option<String>,
    pub graph_version: Option<String>,
    pub created_at: i64,
}

impl SqliteRow for ChannelRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            tenant_id: r.get("tenant_id")?,
            kind: r.get("kind")?,
            name: r.get("name")?,
            phone_number_id: r.get("phone_number_id")?,
            waba_id: r.get("waba_id")?,
            display_number: r.get("display_number")?,
            access_token: r.get("access_token")?,
            app_secret: r.get("app_secret")?,
            verify_token: r.get("verify_token")?,
            graph_url: r.get("graph_url")?,
            graph_version: r.get("graph_version")?,
            created_at: r.get("created_at")?,
        })
    }
}

impl From<&Channel> for ChannelRow {
    fn from(c: &Channel) -> Self {
        let mut row = Self {
            id: c.id.to_string(),
            tenant_id: c.tenant_id.0,
            kind: match c.kind {
                ChannelKind::WhatsApp(_) => WHATSAPP,
                ChannelKind::Custom { .. } => CUSTOM,
            }
            .to_owned(),
            name: None,
            phone_number_id: None,
            waba_id: None,
            display_number: None,
            access_token: None,
            app_secret: None,
            verify_token: None,
            graph_url: None,
            graph_version: None,
            created_at: to_millis(c.created_at),
        };
        match &c.kind {
            ChannelKind::WhatsApp(wa) => {
                row.phone_number_id = Some(wa.phone_number_id.clone());
                row.waba_id = Some(wa.waba_id.clone());
                row.display_number = Some(wa.display_number.clone());
                row.access_token = Some(wa.access_token.expose().to_owned());
                row.app_secret = Some(wa.app_secret.expose().to_owned());
                row.verify_token = Some(wa.verify_token.expose().to_owned());
                row.graph_url.clone_from(&wa.graph_url);
                row.graph_version.clone_from(&wa.graph_version);
            }
            ChannelKind::Custom { name } => {
                row.name = Some(name.clone());
            }
        }
        row
    }
}

impl TryFrom<ChannelRow> for Channel {
    type Error = StoreError;

    fn try_from(r: ChannelRow) -> Result<Self, StoreError> {
        let id = ChannelId::parse(&r.id).map_err(|_| corrupt(format!("channel id {:?}", r.id)))?;
        // A missing column names the channel, never a value: some are secrets.
        let need = |v: Option<String>, column: &str| {
            v.ok_or_else(|| corrupt(format!("channel {id}: no {column}")))
        };
        let kind = match r.kind.as_str() {
            WHATSAPP => ChannelKind::WhatsApp(WhatsAppChannel {
                phone_number_id: need(r.phone_number_id, "phone_number_id")?,
                waba_id: need(r.waba_id, "waba_id")?,
                display_number: need(r.display_number, "display_number")?,
                access_token: Secret::new(need(r.access_token, "access_token")?),
                app_secret: Secret::new(need(r.app_secret, "app_secret")?),
                verify_token: Secret::new(need(r.verify_token, "verify_token")?),
                graph_url: r.graph_url,
                graph_version: r.graph_version,
            }),
            CUSTOM => ChannelKind::Custom {
                name: need(r.name, "name")?,
            },
            other => return Err(corrupt(format!("channel {id}: kind {other:?}"))),
        };
        Ok(Channel {
            id,
            tenant_id: TenantId(r.tenant_id),
            kind,
            created_at: from_millis(r.created_at),
        })
    }
}

/// Rows read back as channels; the first unreadable one fails the read.
pub(crate) fn channels(rows: Vec<ChannelRow>) -> Result<Vec<Channel>, StoreError> {
    rows.into_iter().map(Channel::try_from).collect()
}
