//! The compiled flow the interpreter walks: references checked, regexes compiled, defaults
//! filled in. Node targets stay ids (not indexes) so a state stored by an older version of
//! the same flow still names something meaningful.

use regex::Regex;
use serde_json::{Map, Value};

pub(super) use super::def::SlotKind;

#[derive(Debug, Clone)]
pub(super) struct Node {
    pub id: String,
    pub say: Vec<Message>,
    pub set: Option<Set>,
    pub action: Action,
}

impl Node {
    /// Every message the node can send, numbered as in option ids: the `say` list from 1,
    /// then the fallback / reprompt messages.
    pub fn numbered(&self) -> impl Iterator<Item = (usize, &Message)> {
        let retry: &[Message] = match &self.action {
            Action::Ask(ask) => &ask.fallback.say,
            Action::Capture(capture) => &capture.retry.say,
            _ => &[],
        };
        self.say
            .iter()
            .chain(retry)
            .enumerate()
            .map(|(i, m)| (i + 1, m))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MediaKind {
    Image,
    Video,
    Audio,
    File,
}

#[derive(Debug, Clone)]
pub(super) enum Message {
    Text(String),
    Media {
        kind: MediaKind,
        url: String,
        name: Option<String>,
    },
    Buttons {
        body: String,
        footer: Option<String>,
        options: Vec<String>,
    },
    List {
        body: String,
        footer: Option<String>,
        button: String,
        sections: Vec<(String, Vec<String>)>,
    },
    /// Any content JSON, checked to parse as [`crate::messages::Content`].
    Raw(Value),
}

#[derive(Debug, Clone)]
pub(super) struct Set {
    pub intention: Option<String>,
    pub event_labels: Map<String, Value>,
    pub variables: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub(super) enum Action {
    Goto(String),
    Ask(Ask),
    Capture(Capture),
    Http(Http),
    Transfer(Transfer),
    End,
}

#[derive(Debug, Clone)]
pub(super) struct Route {
    pub test: Test,
    pub goto: String,
}

#[derive(Debug, Clone)]
pub(super) enum Test {
    Option(String),
    Keywords(Vec<String>),
    Regex(Regex),
}

/// What happens on a wrong answer: say these, and after `retries` re-asks go to `goto`
/// (`None`: keep asking).
#[derive(Debug, Clone)]
pub(super) struct Retry {
    pub say: Vec<Message>,
    pub retries: u32,
    pub goto: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Ask {
    pub slot: Option<String>,
    pub routes: Vec<Route>,
    pub fallback: Retry,
}

#[derive(Debug, Clone)]
pub(super) struct Capture {
    pub slot: String,
    pub kind: SlotKind,
    pub pattern: Option<Regex>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub retry: Retry,
    pub goto: String,
}

#[derive(Debug, Clone)]
pub(super) struct Http {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub timeout_secs: u64,
    pub save_as: Option<String>,
    pub routes: Vec<HttpRoute>,
    pub goto: String,
    pub on_error: Option<String>,
}

#[derive(Debug, Clone)]
pub(super) struct HttpRoute {
    pub path: String,
    pub equals: Value,
    pub goto: String,
}

#[derive(Debug, Clone)]
pub(super) struct Transfer {
    pub output_label: Option<String>,
    /// `None`: end the dialogue when the transfer is refused.
    pub on_refused: Option<String>,
}
