//! Channels: where a tenant's conversations happen, and the pure half of talking to their
//! providers.
//!
//! - [`Channel`] / [`ChannelKind`]: what a tenant connects, with its secrets, checked by
//!   [`check_channel_kind`].
//! - [`ChannelConnector`]: the port a worker sends through; `tiller-server` implements it.
//! - [`WhatsAppInbound`]: Meta's webhooks in, verified and recorded on sessions.
//! - [`whatsapp`]: Meta's Cloud API wire format mapped to and from Tiller's message model,
//!   the delivery-status rule and the 24-hour window. Nothing here does I/O.

mod connector;
mod inbound_service;
mod model;
mod rules;
pub mod whatsapp;

pub use connector::{ChannelConnector, FetchedMedia, OutboundSend, SendError, SendReceipt};
pub use inbound_service::{
    whatsapp_call_id, InboundError, InboundOutcome, WhatsAppInbound, WHATSAPP_CHANNEL,
};
pub use model::{
    Channel, ChannelId, ChannelIdError, ChannelKind, ChannelKindView, ChannelView, WhatsAppChannel,
    DEFAULT_GRAPH_URL, DEFAULT_GRAPH_VERSION,
};
pub use rules::{check_channel_kind, ChannelError};
