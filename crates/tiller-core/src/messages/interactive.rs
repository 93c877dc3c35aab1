//! The `interactive` object: a bot's button or list prompt, or the user's pick from one.
//!
//! The shape follows WhatsApp's interactive messages (spec §1.3): the bot sends
//! `{"type":"button"|"list", "body", "footer", "action"}`, and the inbound API reports the
//! user's choice as `{"type":"button_reply"|"list_reply", "button_reply"|"list_reply": {id, title}}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `content.interactive`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interactive {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<InteractiveKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<TextBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<TextBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<InteractiveAction>,
    /// The user's pick from a button prompt (`kind == ButtonReply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_reply: Option<Choice>,
    /// The user's pick from a list prompt (`kind == ListReply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_reply: Option<Choice>,
    /// Fields the docs do not define (e.g. a WhatsApp `header`), kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Interactive {
    /// The choices a prompt offers, in order: the buttons' `reply` objects, then every row
    /// of every list section.
    pub fn options(&self) -> impl Iterator<Item = &Choice> {
        let action = self.action.as_ref();
        let buttons = action
            .and_then(|a| a.buttons.as_deref())
            .unwrap_or_default()
            .iter()
            .filter_map(|b| b.reply.as_ref());
        let rows = action
            .and_then(|a| a.sections.as_deref())
            .unwrap_or_default()
            .iter()
            .flat_map(|s| s.rows.as_deref().unwrap_or_default());
        buttons.chain(rows)
    }

    /// The user's pick, for a `button_reply` / `list_reply` object.
    pub fn selection(&self) -> Option<&Choice> {
        self.button_reply.as_ref().or(self.list_reply.as_ref())
    }
}

/// `interactive.type`. Open: an unlisted kind is kept as [`InteractiveKind::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractiveKind {
    /// A prompt with reply buttons (bot → user).
    Button,
    /// A prompt with a pop-up list (bot → user).
    List,
    /// The user tapped a reply button (inbound API).
    ButtonReply,
    /// The user picked a list row (inbound API).
    ListReply,
    #[serde(untagged)]
    Other(String),
}

/// `{"text": "…"}`, the shape of `body` and `footer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `interactive.action`: the buttons of a button prompt, or the sections of a list prompt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InteractiveAction {
    /// The label of the button that opens a list's pop-up; may be left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<InteractiveButton>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<ListSection>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `action.buttons`: `{"type":"reply","reply":{"id","title"}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InteractiveButton {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Choice>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One section of a list prompt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<Choice>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An option of a prompt, or the user's pick of one: a button's `reply`, a list row, a
/// `button_reply` or a `list_reply`.
///
/// `id` has the form `<32hex>-<a>-<b>-button-<i>-` or `<32hex>-<a>-<b>-list-<section>-<row>-`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Given (often `""`) on list rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
