//! The `template` object: a pre-approved channel template (WhatsApp, Instagram, Line).
//!
//! Each channel keeps its body under its own key (spec §1.3). WhatsApp has two forms: the
//! list API puts it under `wa_content` (button types lower-case, `quick_reply`), the
//! Workflow webhook under `content` (upper-case, `QUICK_REPLY` / `OPT_OUT`). Both are kept as
//! given; [`Template::whatsapp`] reads whichever is present.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{nullable, Content};

/// `content.template`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Template {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<TemplateChannel>,
    /// WhatsApp body, list API form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_content: Option<WaTemplate>,
    /// WhatsApp body, Workflow webhook form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<WaTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ins_content: Option<InsTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_content: Option<LineTemplate>,
    /// Which approved template this is (WhatsApp only in the examples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<TemplateInfo>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Template {
    /// The WhatsApp body in either form (`wa_content` first, then `content`).
    pub fn whatsapp(&self) -> Option<&WaTemplate> {
        self.wa_content.as_ref().or(self.content.as_ref())
    }
}

/// `template.type`. Open: an unlisted channel is kept as [`TemplateChannel::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TemplateChannel {
    WhatsApp,
    Instagram,
    Line,
    #[serde(untagged)]
    Other(String),
}

/// A WhatsApp template body (`wa_content` or `content`), including the carousel variant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaTemplate {
    /// e.g. `marketing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// e.g. `blank`, `carousel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcate: Option<String>,
    /// Shaped like a message content: `{"type":"image","media":{…}}`,
    /// `{"type":"location","location":{…}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Box<Content>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// Note the singular key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<Vec<TemplateButton>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carousel: Option<Vec<CarouselCard>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One card of a WhatsApp carousel template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CarouselCard {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Box<Content>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// Note the plural key, unlike [`WaTemplate::button`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<TemplateButton>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A WhatsApp template button. `kind` is kept as spelled (`quick_reply`, `QUICK_REPLY`,
/// `OPT_OUT`, …) because the two forms disagree on case.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateButton {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Fields the docs do not define (e.g. a URL button's `url`), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `template.info`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateInfo {
    /// An integer in the examples (`35`, `96`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `template.ins_content`: an Instagram generic template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsTemplate {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<InsPayload>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ins_content.payload`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsPayload {
    /// `generic` in the examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elements: Option<Vec<InsElement>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One element (card) of an Instagram generic template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsElement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<InsButton>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An Instagram button; `payload` carries the interactive option id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InsButton {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `template.line_content`: a Line `buttons` or `carousel` template.
///
/// `actions` and `columns` are given as explicit `null` when unused, so they are
/// `Option<Option<_>>`: `Some(None)` is written back as `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LineTemplate {
    /// `buttons` or `carousel`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<LineAction>,
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub actions: Option<Option<Vec<LineAction>>>,
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub columns: Option<Option<Vec<LineColumn>>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One column of a Line carousel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LineColumn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<LineAction>,
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub actions: Option<Option<Vec<LineAction>>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A Line action. `data` is the interactive option id with the option title appended after
/// the final dash (`…-2-1-button-0--男`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LineAction {
    /// `postback`, or `""` in an unused `default_action`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_text: Option<String>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
