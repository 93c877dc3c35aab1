//! The channel model: what a tenant connects (a WhatsApp business number, or a channel the
//! integrator carries itself), with the secrets each needs and the rules its inputs meet.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Secret, TenantId};

/// A channel's id: 32 lowercase hex, the shape of Tiller's other ids. It appears in the
/// channel's webhook path, so nothing else is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("channel id must be 32 lowercase hex characters")]
pub struct ChannelIdError;

impl ChannelId {
    pub fn parse(raw: &str) -> Result<Self, ChannelIdError> {
        let hex = raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ChannelIdError)
        }
    }

    pub fn generate() -> Self {
        Self(crate::ids::random_hex32())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChannelId {
    type Error = ChannelIdError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ChannelId> for String {
    fn from(id: ChannelId) -> Self {
        id.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored channel. Holds secrets, so it is not serialisable; APIs show
/// [`Channel::public_view`].
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: ChannelId,
    pub tenant_id: TenantId,
    pub kind: ChannelKind,
    pub created_at: DateTime<Utc>,
}

/// What a channel is. LINE and Instagram get their own variants when they land; until
/// then an integrator carries them as [`ChannelKind::Custom`].
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// A business phone number on Meta's Cloud API: webhooks in, the Graph API out.
    WhatsApp(WhatsAppChannel),
    /// A channel the integrator carries itself (`bot`, `huawei`, …): messages come in
    /// through the AIRUDDER inbound API and go out through callbacks, so Tiller holds no
    /// credential for it.
    Custom { name: String },
}

/// Graph API defaults, used when a channel names none. The URL is overridable so tests
/// and `tiller dev` can point a channel at the WhatsApp fake.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_VERSION: &str = "v21.0";

/// A WhatsApp business number.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatsAppChannel {
    /// The Graph API id of the number; messages are sent as `POST /{phone_number_id}/messages`
    /// and webhooks name it in `metadata.phone_number_id`.
    pub phone_number_id: String,
    /// The WhatsApp Business Account (webhook `entry[].id`); templates belong to it.
    pub waba_id: String,
    /// The number as people see it (`+1 555 078 3881`).
    pub display_number: String,
    /// System-user token for the Graph API.
    pub access_token: Secret,
    /// The Meta app's secret, the key of `X-Hub-Signature-256`.
    pub app_secret: Secret,
    /// Echoed by Meta's subscription handshake (`hub.verify_token`).
    pub verify_token: Secret,
    /// `None`: [`DEFAULT_GRAPH_URL`]. No trailing slash.
    pub graph_url: Option<String>,
    /// `None`: [`DEFAULT_GRAPH_VERSION`].
    pub graph_version: Option<String>,
}

impl WhatsAppChannel {
    pub fn graph_url(&self) -> &str {
        self.graph_url.as_deref().unwrap_or(DEFAULT_GRAPH_URL)
    }

    pub fn graph_version(&self) -> &str {
        self.graph_version
            .as_deref()
            .unwrap_or(DEFAULT_GRAPH_VERSION)
    }

    /// `POST` here to send a message or mark one read.
    pub fn messages_url(&self) -> String {
        format!(
            "{}/{}/{}/messages",
            self.graph_url(),
            self.graph_version(),
            self.phone_number_id
        )
    }

    /// `GET` here for a media object's short-lived download URL.
    pub fn media_url(&self, media_id: &str) -> String {
        format!("{}/{}/{media_id}", self.graph_url(), self.graph_version())
    }

    /// Meta's subscription handshake (`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`):
    /// the challenge to echo back, or `None` to refuse. The token is compared in constant time.
    pub fn accept_subscription<'a>(
        &self,
        mode: &str,
        verify_token: &str,
        challenge: &'a str,
    ) -> Option<&'a str> {
        let expose = self.verify_token.expose();
        (mode == "subscribe" && !expose.is_empty() && self.verify_token.ct_eq(verify_token))
            .then_some(challenge)
    }
}

impl Channel {
    /// Where the provider posts this channel's webhooks; `None` for a custom channel, whose
    /// messages come through the AIRUDDER inbound API.
    pub fn webhook_path(&self) -> Option<String> {
        match &self.kind {
            ChannelKind::WhatsApp(_) => Some(format!("/webhooks/whatsapp/{}", self.id)),
            ChannelKind::Custom { .. } => None,
        }
    }

    /// The WhatsApp settings, if this is a WhatsApp channel.
    pub fn whatsapp(&self) -> Option<&WhatsAppChannel> {
        match &self.kind {
            ChannelKind::WhatsApp(wa) => Some(wa),
            ChannelKind::Custom { .. } => None,
        }
    }

    /// What the APIs and the CLI show: everything but the secrets, each of which is only
    /// said to be set.
    pub fn public_view(&self) -> ChannelView {
        let kind = match &self.kind {
            ChannelKind::WhatsApp(wa) => ChannelKindView::WhatsApp {
                phone_number_id: wa.phone_number_id.clone(),
                waba_id: wa.waba_id.clone(),
                display_number: wa.display_number.clone(),
                graph_url: wa.graph_url().to_owned(),
                graph_version: wa.graph_version().to_owned(),
                access_token_set: !wa.access_token.expose().is_empty(),
                app_secret_set: !wa.app_secret.expose().is_empty(),
                verify_token_set: !wa.verify_token.expose().is_empty(),
            },
            ChannelKind::Custom { name } => ChannelKindView::Custom { name: name.clone() },
        };
        ChannelView {
            id: self.id.clone(),
            tenant_id: self.tenant_id,
            kind,
            webhook_path: self.webhook_path(),
            created_at: self.created_at,
        }
    }
}

/// A channel without its secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelView {
    pub id: ChannelId,
    pub tenant_id: TenantId,
    #[serde(flatten)]
    pub kind: ChannelKindView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_path: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChannelKindView {
    #[serde(rename = "whatsapp")]
    WhatsApp {
        phone_number_id: String,
        waba_id: String,
        display_number: String,
        graph_url: String,
        graph_version: String,
        access_token_set: bool,
        app_secret_set: bool,
        verify_token_set: bool,
    },
    Custom {
        name: String,
    },
}
