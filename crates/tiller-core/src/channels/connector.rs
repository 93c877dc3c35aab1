//! The connector port: how a worker hands a message to a provider. `tiller-server`
//! implements it over HTTP (the Graph API for WhatsApp); the shapes it sends and the way
//! it reads answers are pure functions in [`super::whatsapp`], so the implementation is
//! transport only.

use crate::messages::Content;

use super::Channel;

/// One message to send on a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundSend {
    /// The recipient's id on the channel (a WhatsApp `wa_id`: digits, country code first).
    pub to: String,
    pub content: Content,
    /// The provider's id of the message this one quotes (a wamid), resolved by the caller
    /// from Tiller's `reply`.
    pub reply_to: Option<String>,
}

/// The provider took the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The provider's id (a wamid); its status webhooks name the message by it.
    pub provider_message_id: String,
    /// What the provider said about it, when it said (WhatsApp: `accepted`,
    /// `held_for_quality_assessment`, `paused`).
    pub provider_status: Option<String>,
}

/// A provider's media file, downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMedia {
    pub bytes: Vec<u8>,
    pub mime_type: Option<String>,
    /// Lowercase hex SHA-256 as the provider gave it, when it did.
    pub sha256: Option<String>,
}

/// Why a provider call failed, classified by what the caller should do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later: the provider was down or slow (5xx, a timeout, a dropped
    /// connection) or asked us to slow down. `throttled` asks the job queue for its longer
    /// back-off (429, WhatsApp 130429 / 131056 / 80007 / 131048 / 4).
    #[error("retry later{}: {reason}", code.map(|c| format!(" (code {c})")).unwrap_or_default())]
    Retry {
        code: Option<i64>,
        throttled: bool,
        reason: String,
    },
    /// The provider refused this message for good; sending it again fails the same way.
    /// `code` is the provider's error code, or the HTTP status when it gave none.
    #[error("refused (code {code}): {title}{}", details.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Final {
        code: i64,
        title: String,
        details: Option<String>,
    },
    /// The provider may or may not have taken the message: it answered 2xx without the
    /// message id we need to follow it. Not retried, because a retry could send it twice.
    #[error("outcome unknown: {reason}")]
    Unknown { reason: String },
}

impl SendError {
    pub fn is_retry(&self) -> bool {
        matches!(self, Self::Retry { .. })
    }
}

/// A provider connector. Each call is one provider request (plus the download for media);
/// retrying is the job queue's business, steered by [`SendError`].
#[async_trait::async_trait]
pub trait ChannelConnector: Send + Sync {
    /// Sends one message. The content was checked by the channel's mapping first, so a
    /// content the channel cannot carry never reaches the provider.
    async fn send(&self, channel: &Channel, send: &OutboundSend) -> Result<SendReceipt, SendError>;

    /// Tells the provider the user's message was read (WhatsApp's blue ticks).
    async fn mark_read(
        &self,
        channel: &Channel,
        provider_message_id: &str,
    ) -> Result<(), SendError>;

    /// Downloads a media file the provider holds (a WhatsApp media id from an inbound
    /// message). Held in memory: WhatsApp caps inbound media at 100 MB.
    async fn fetch_media(
        &self,
        channel: &Channel,
        media_id: &str,
    ) -> Result<FetchedMedia, SendError>;
}
