//! WhatsApp (Meta Cloud API): the webhook body in, the Graph API's send body out, the
//! delivery-status rule and the 24-hour window. Pure: the server moves the bytes.
//!
//! # Inbound: Meta message `type` → Tiller content (AIRUDDER shapes, spec §1.3)
//!
//! | Meta `type` | Tiller `content` |
//! |---|---|
//! | `text` | `{"type":"text","text":body}` |
//! | `image` / `video` / `audio` | `{"type":"image"\|"video"\|"audio","media":{"origin_url":"","id","mime_type","sha256",…},"text":caption}` (`voice: true` kept in `media` for voice notes) |
//! | `document` | `{"type":"file","media":{"origin_url":"","name":filename,"id","mime_type","sha256"},"text":caption}` |
//! | `sticker` | `{"type":"sticker","media":{"origin_url":"","id","mime_type","sha256","animated"}}` (no AIRUDDER type; kept as its own) |
//! | `location` | `{"type":"location","location":{latitude,longitude,name,address,url…}}` |
//! | `contacts` | `{"type":"contacts","contacts":[{"name":formatted_name,"phone_number":first phone,"name_parts":{…},"phones":[…],…}]}` |
//! | `interactive` `button_reply` / `list_reply` | `{"type":"interactive","interactive":{"type":"button_reply","button_reply":{id,title}}}` (the inbound API form) |
//! | `interactive`, other kinds (`nfm_reply`, …) | `{"type":"interactive","interactive":<Meta's object>}` |
//! | `button` (template quick reply) | `{"type":"button","text":text,"payload":payload}` |
//! | `reaction` | `{"type":"reaction","reaction":{"message_id":wamid,"emoji":"👍"}}`; removal: `"emoji":""` |
//! | `system` (`user_changed_number`) | `{"type":"system","system":{"type":"user_changed_number","body":…,"wa_id":new}}` |
//! | `unsupported`, `unknown`, `order`, anything else | [`Content::Other`](crate::messages::Content::Other): the message minus `from`/`id`/`timestamp`/`context`/`referral`, as received |
//!
//! `context.id` (the quoted wamid; also a pick's prompt) and a reaction's `message_id`
//! are [`InboundMessage::reply_to_wamid`], for the caller to turn into Tiller's `reply`;
//! `referral` stays typed on [`InboundMessage::referral`]; Meta's whole message is kept
//! in [`InboundMessage::raw`].
//!
//! # Media
//!
//! Webhooks carry a Meta media id, not a file. The content keeps that id in `media.id`
//! with `origin_url` set to `""`, and a download job fetches it ([`pending_media_id`]),
//! stores it and fills `origin_url` in ([`attach_downloaded_media`]). Until then an
//! AIRUDDER client sees the media object with an empty `origin_url`.

mod graph;
mod inbound;
mod inbound_content;
mod outbound;
mod status;
mod window;
pub mod wire;

#[cfg(test)]
mod inbound_tests;
#[cfg(test)]
mod outbound_tests;

pub use graph::{
    read_error, read_mark_read_response, read_media_info, read_send_response, sha256_matches,
    transport_failure, GraphError, MediaInfo,
};
pub use inbound::{
    read_webhook, Change, Event, InboundMessage, StatusUpdate, WebhookBatch, WebhookError, OBJECT,
};
pub use inbound_content::{attach_downloaded_media, pending_media_id, NumberChange};
pub use outbound::{mark_read_body, send_body, OutboundError};
pub use status::{advance, advance_all, DeliveryState, Failure, Transition};
pub use window::{free_form_allowed, send_allowed, WindowClosed, WINDOW};
