//! Meta's webhooks in: the subscription handshake and a signed body's user messages
//! recorded on their sessions. The server only moves bytes; every rule is here.

use super::{
    whatsapp::{read_webhook, Event, InboundMessage, WebhookError},
    Channel, ChannelId, WhatsAppChannel,
};
use crate::{
    conversations::{CallId, ChatUser, ConversationError, Conversations, NewSession, UserMessage},
    signing::meta,
    store::DynStore,
    Entity, StoreError,
};

/// The session `channel` of every WhatsApp conversation.
pub const WHATSAPP_CHANNEL: &str = "WhatsApp";

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// No WhatsApp channel has this id (or the path's id is not one).
    #[error("no WhatsApp channel has this id")]
    NotFound,
    /// The `X-Hub-Signature-256` is missing or not the app secret's.
    #[error("the webhook signature is missing or wrong")]
    Unauthorized,
    /// The handshake's `hub.mode` or `hub.verify_token` is not the channel's.
    #[error("the verify token is wrong")]
    Forbidden,
    /// The channel's tenant is disabled: its users' messages are refused, so Meta keeps
    /// redelivering them and none is lost if the tenant is enabled again in time.
    #[error("this company is disabled")]
    Disabled,
    /// A signed body that is not a WhatsApp webhook.
    #[error(transparent)]
    Invalid(#[from] WebhookError),
    #[error(transparent)]
    Conversation(#[from] ConversationError),
    #[error(transparent)]
    Store(StoreError),
}

/// What one webhook did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundOutcome {
    /// User messages newly stored (a redelivered wamid is not counted again).
    pub stored: usize,
    /// Delivery statuses seen, not stored yet: the status model lands with sends.
    pub statuses: usize,
    /// Value-level errors seen, not stored yet.
    pub errors: usize,
    /// Changes addressed to another number or account of the same app, skipped.
    pub skipped_changes: usize,
}

#[derive(Clone)]
pub struct WhatsAppInbound {
    store: DynStore,
    conversations: Conversations,
}

impl WhatsAppInbound {
    pub fn new(store: DynStore, conversations: Conversations) -> Self {
        Self {
            store,
            conversations,
        }
    }

    /// The challenge to echo for Meta's `GET` handshake.
    pub async fn subscribe(
        &self,
        channel_id: &str,
        mode: &str,
        verify_token: &str,
        challenge: &str,
    ) -> Result<String, InboundError> {
        let channel = self.channel(channel_id).await?;
        whatsapp_of(&channel)?
            .accept_subscription(mode, verify_token, challenge)
            .map(str::to_owned)
            .ok_or(InboundError::Forbidden)
    }

    /// Verifies, reads and records one webhook body. Returns only once every user message
    /// is committed, so a 200 to Meta means nothing is lost; a redelivery is idempotent
    /// through the wamid being the `msg_id`.
    pub async fn receive(
        &self,
        channel_id: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<InboundOutcome, InboundError> {
        let channel = self.channel(channel_id).await?;
        let wa = whatsapp_of(&channel)?;
        // Before parsing: an unsigned body costs one HMAC, nothing more.
        if !meta::verify(wa.app_secret.expose(), body, signature) {
            return Err(InboundError::Unauthorized);
        }
        let batch = read_webhook(body)?;
        let mut outcome = InboundOutcome::default();
        let mut by_user: Vec<(&str, Vec<&InboundMessage>)> = Vec::new();
        for change in &batch.changes {
            if !change.is_for(wa) {
                outcome.skipped_changes += 1;
                continue;
            }
            for event in &change.events {
                match event {
                    Event::Message(m) => match by_user.iter_mut().find(|(u, _)| *u == m.from) {
                        Some((_, ms)) => ms.push(m),
                        None => by_user.push((&m.from, vec![m])),
                    },
                    Event::Status(_) => outcome.statuses += 1,
                    Event::Error(_) => outcome.errors += 1,
                    _ => {}
                }
            }
        }
        if by_user.is_empty() {
            return Ok(outcome);
        }
        let tenant = self
            .store
            .tenant(channel.tenant_id)
            .await
            .map_err(InboundError::Store)?;
        if tenant.is_disabled() {
            return Err(InboundError::Disabled);
        }
        for (wa_id, messages) in by_user {
            let session = new_session(&channel.id, wa, wa_id, messages[0])?;
            let inbound = self
                .conversations
                .receive(
                    &tenant,
                    session,
                    messages.into_iter().map(user_message).collect(),
                )
                .await?;
            outcome.stored += inbound.inserted;
        }
        Ok(outcome)
    }

    async fn channel(&self, raw_id: &str) -> Result<Channel, InboundError> {
        let id = ChannelId::parse(raw_id).map_err(|_| InboundError::NotFound)?;
        match self.store.whatsapp_channel_by_id(&id).await {
            Ok(channel) => Ok(channel),
            Err(StoreError::NotFound(Entity::Channel)) => Err(InboundError::NotFound),
            Err(other) => Err(InboundError::Store(other)),
        }
    }
}

fn whatsapp_of(channel: &Channel) -> Result<&WhatsAppChannel, InboundError> {
    channel.whatsapp().ok_or(InboundError::NotFound)
}

/// One session per (channel, user), across closes: a closed session reopens on the same
/// `call_id`, so a user's whole history on a number stays in one place. The full channel
/// id keeps two numbers of one tenant apart; the result is at most ~55 characters.
pub fn whatsapp_call_id(channel: &ChannelId, wa_id: &str) -> Result<CallId, InboundError> {
    CallId::parse(&format!("wa-{channel}-{wa_id}"))
        .map_err(|e| InboundError::Conversation(ConversationError::Invalid(e.to_string())))
}

fn new_session(
    channel: &ChannelId,
    wa: &WhatsAppChannel,
    wa_id: &str,
    first: &InboundMessage,
) -> Result<NewSession, InboundError> {
    Ok(NewSession {
        call_id: whatsapp_call_id(channel, wa_id)?,
        channel: WHATSAPP_CHANNEL.to_owned(),
        channel_id: wa.display_number.clone(),
        user: ChatUser {
            id: wa_id.to_owned(),
            name: first
                .profile_name
                .clone()
                .unwrap_or_else(|| wa_id.to_owned()),
        },
        robot_id: None,
        variables: serde_json::Map::new(),
    })
}

fn user_message(m: &InboundMessage) -> UserMessage {
    UserMessage {
        content: m.content.clone(),
        msg_id: Some(m.wamid.clone()),
        timestamp: Some(m.timestamp).filter(|t| *t > 0),
        reply_to: m.reply_to_wamid().map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_id_is_fixed_per_channel_and_user() {
        let a = ChannelId::generate();
        let b = ChannelId::generate();
        let id = whatsapp_call_id(&a, "16505551234").unwrap();
        assert_eq!(id.to_string(), format!("wa-{a}-16505551234"));
        assert_eq!(id, whatsapp_call_id(&a, "16505551234").unwrap());
        assert_ne!(id, whatsapp_call_id(&b, "16505551234").unwrap());
        assert_ne!(id, whatsapp_call_id(&a, "16505551235").unwrap());
    }
}
