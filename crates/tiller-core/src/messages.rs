//! The chat message model shared by every surface: [`Message`], its [`Content`] and the
//! small vocabularies around them (spec `airudder-api.md` §1.2–1.3).
//!
//! These types read and write the AIRUDDER wire shapes *losslessly*: every field the docs
//! define is typed, every other field is kept in an `extra` map, an unknown content `type`
//! is kept whole in [`Content::Other`], and the fields the docs allow to be `null` are
//! `Option<Option<T>>` so an explicit `null` survives. The one deliberate normalisation is
//! [`MessageStatus`]: `"send"` is read as `sent` and written as `"sent"`.
//!
//! Request and response envelopes (the inbound "user send message" body, the send API,
//! webhook wrappers) are HTTP wire DTOs and live in `tiller-server`; they embed these types.

mod content;
mod interactive;
mod media;
mod message;
mod nullable;
mod picks;
mod status;
mod template;
#[cfg(test)]
mod tests;

pub use content::{
    ContactsContent, Content, InteractiveContent, LocationContent, MediaContent, SystemContent,
    TemplateContent, TextContent,
};
pub use interactive::{
    Choice, Interactive, InteractiveAction, InteractiveButton, InteractiveKind, ListSection,
    TextBody,
};
pub use media::{Contact, Location, Media};
pub use message::{InlineReply, Message, Reply, ReplyMessage};
pub use picks::{answered_message, is_pick, listed, reply_to, ReplyShape};
pub use status::{MessageStatus, SenderType, SystemEvent, SystemEventKind};
pub use template::{
    CarouselCard, InsButton, InsElement, InsPayload, InsTemplate, LineAction, LineColumn,
    LineTemplate, Template, TemplateButton, TemplateChannel, TemplateInfo, WaTemplate,
};
