//! External robots speaking the Rasa REST channel contract: Tiller POSTs
//! `{"sender": <call_id>, "message": <text>}` and gets back a list of bot messages
//! (`text`, `image`, `buttons`, `custom`). A `custom` payload can also steer the session:
//! `{"handoff": true, "output_label": "E"}` asks for an agent, `{"end": true}` ends the
//! session, `{"slots": {..}, "intention": "A", "event_labels": {..}}` records a conclusion;
//! a `custom` with a `type` is sent as that content (any type of the catalogue).

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::flow::{deserialize, DialogueState, FlowError, FlowErrors, HttpRequest, Step};
use crate::messages::Content;

/// Where the variables keep the payloads of the buttons last offered (option id or
/// title → payload), so a tapped button is sent back as its payload.
const BUTTONS_VAR: &str = "rasa_buttons";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RasaRobot {
    pub name: String,
    /// The REST channel webhook, e.g. `http://nlu:5005/webhooks/rest/webhook`.
    pub url: String,
    pub timeout_secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RasaDoc {
    name: String,
    #[serde(default)]
    description: Option<String>,
    rasa: RasaSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RasaSettings {
    url: String,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
}

fn default_timeout() -> u64 {
    10
}

impl RasaRobot {
    pub fn parse(source: &str) -> Result<Self, FlowErrors> {
        let doc: RasaDoc = deserialize(source)?;
        let _ = doc.description;
        if !(doc.rasa.url.starts_with("http://") || doc.rasa.url.starts_with("https://")) {
            let line = source
                .lines()
                .position(|l| l.contains("url"))
                .map_or(1, |i| i + 1);
            return Err(FlowErrors(vec![FlowError {
                line,
                message: format!("rasa.url {:?} must be an http(s) URL", doc.rasa.url),
            }]));
        }
        Ok(Self {
            name: doc.name,
            url: doc.rasa.url,
            timeout_secs: doc.rasa.timeout_secs.clamp(1, 60),
        })
    }

    /// The call that hands one user message to the robot.
    pub fn request(&self, sender: &str, state: &DialogueState, user: &Content) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            url: self.url.clone(),
            headers: Vec::new(),
            body: Some(json!({ "sender": sender, "message": message_text(state, user) })),
            timeout_secs: self.timeout_secs,
        }
    }

    /// Applies the robot's answer: replies to `out`, conclusions to `state`, and what
    /// happens next. An answer that is not a list of messages is an error (`None`).
    pub fn apply(
        &self,
        flow_id: &str,
        state: &mut DialogueState,
        answer: &Value,
        out: &mut Vec<Content>,
    ) -> Option<Step> {
        let items = answer.as_array()?;
        state.talk_round += 1;
        let mut step = Step::AwaitUser;
        let mut buttons = Map::new();
        for (n, item) in items.iter().enumerate() {
            if let Some(text) = item.get("text").and_then(Value::as_str) {
                if item.get("buttons").is_none() {
                    out.push(Content::plain_text(text));
                }
            }
            if let Some(url) = item.get("image").and_then(Value::as_str) {
                out.push(content(
                    json!({"type": "image", "media": {"origin_url": url}}),
                )?);
            }
            if let Some(list) = item.get("buttons").and_then(Value::as_array) {
                let body = item.get("text").and_then(Value::as_str).unwrap_or_default();
                out.push(button_prompt(flow_id, n + 1, body, list, &mut buttons)?);
            }
            if let Some(custom) = item.get("custom") {
                if custom.get("type").is_some() {
                    out.push(content(custom.clone())?);
                } else {
                    step = steer(state, custom).unwrap_or(step);
                }
            }
        }
        state
            .variables
            .insert(BUTTONS_VAR.into(), Value::Object(buttons));
        Some(step)
    }
}

fn content(raw: Value) -> Option<Content> {
    serde_json::from_value(raw).ok()
}

/// Rasa buttons as an interactive prompt: reply buttons for up to three, a list beyond
/// (WhatsApp's limits), with option ids in the documented pattern (node 0: no flow node).
fn button_prompt(
    flow_id: &str,
    n: usize,
    body: &str,
    list: &[Value],
    payloads: &mut Map<String, Value>,
) -> Option<Content> {
    let mut options = Vec::new();
    for (i, b) in list.iter().enumerate() {
        let title = b.get("title").and_then(Value::as_str).unwrap_or_default();
        let payload = b.get("payload").and_then(Value::as_str).unwrap_or(title);
        let kind = if list.len() <= 3 { "button" } else { "list" };
        let id = if kind == "button" {
            format!("{flow_id}-0-{n}-button-{i}-")
        } else {
            format!("{flow_id}-0-{n}-list-0-{i}-")
        };
        payloads.insert(id.clone(), json!(payload));
        payloads.insert(title.to_lowercase(), json!(payload));
        options.push((id, title.to_owned()));
    }
    let raw = if options.len() <= 3 {
        let buttons: Vec<Value> = options
            .iter()
            .map(|(id, title)| json!({"type": "reply", "reply": {"id": id, "title": title}}))
            .collect();
        json!({"type": "interactive", "interactive": {"type": "button",
            "body": {"text": body}, "action": {"buttons": buttons}}})
    } else {
        let rows: Vec<Value> = options
            .iter()
            .map(|(id, title)| json!({"id": id, "title": title}))
            .collect();
        json!({"type": "interactive", "interactive": {"type": "list",
            "body": {"text": body}, "action": {"button": "…", "sections": [{"title": "", "rows": rows}]}}})
    };
    content(raw)
}

/// A `custom` payload without a `type`: conclusions and control.
fn steer(state: &mut DialogueState, custom: &Value) -> Option<Step> {
    if let Some(slots) = custom.get("slots").and_then(Value::as_object) {
        state.slots.extend(slots.clone());
    }
    if let Some(labels) = custom.get("event_labels").and_then(Value::as_object) {
        state.event_labels.extend(labels.clone());
    }
    let label = custom
        .get("output_label")
        .or_else(|| custom.get("intention"))
        .and_then(Value::as_str);
    if let Some(label) = label {
        state.intention = Some(label.to_owned());
    }
    if custom.get("handoff").and_then(Value::as_bool) == Some(true) {
        return Some(Step::Transfer {
            output_label: state.intention.clone().unwrap_or_default(),
        });
    }
    (custom.get("end").and_then(Value::as_bool) == Some(true)).then_some(Step::End)
}

/// What the robot is told the user said: a tapped button's payload, else the text.
fn message_text(state: &DialogueState, user: &Content) -> String {
    let payloads = state.variables.get(BUTTONS_VAR).and_then(Value::as_object);
    let lookup = |key: &str| {
        payloads
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Content::Interactive(c) = user {
        if let Some(choice) = c
            .interactive
            .as_ref()
            .and_then(Option::as_ref)
            .and_then(|i| i.selection())
        {
            let id = choice.id.as_deref().unwrap_or_default();
            let title = choice.title.as_deref().unwrap_or_default();
            return lookup(id)
                .or_else(|| lookup(&title.to_lowercase()))
                .unwrap_or_else(|| title.to_owned());
        }
    }
    let text = user.text().unwrap_or_default();
    lookup(&text.to_lowercase()).unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn robot() -> RasaRobot {
        RasaRobot::parse("name: nlu\nrasa:\n  url: http://127.0.0.1:5005/webhooks/rest/webhook\n")
            .unwrap()
    }

    #[test]
    fn parses_and_refuses_a_non_http_url() {
        assert_eq!(robot().timeout_secs, 10);
        let err = RasaRobot::parse("name: nlu\nrasa:\n  url: ftp://x\n").unwrap_err();
        assert_eq!(err.0[0].line, 3, "{err}");
        let err =
            RasaRobot::parse("name: nlu\nrasa:\n  url: http://x\n  colour: red\n").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }

    #[test]
    fn maps_answers_and_sends_button_payloads_back() {
        let r = robot();
        let mut state = DialogueState::default();
        let mut out = Vec::new();
        let answer = json!([
            {"recipient_id": "c", "text": "hello"},
            {"recipient_id": "c", "text": "pick", "buttons": [
                {"title": "Track", "payload": "/track"}, {"title": "Agent", "payload": "/agent"}]},
            {"recipient_id": "c", "custom": {"slots": {"city": "Jakarta"}, "intention": "B"}}
        ]);
        let step = r
            .apply(&"a".repeat(32), &mut state, &answer, &mut out)
            .unwrap();
        assert_eq!(step, Step::AwaitUser);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text(), Some("hello"));
        let prompt = serde_json::to_value(&out[1]).unwrap();
        let id = prompt["interactive"]["action"]["buttons"][1]["reply"]["id"]
            .as_str()
            .unwrap();
        assert_eq!(id, format!("{}-0-2-button-1-", "a".repeat(32)));
        assert_eq!(state.slots["city"], "Jakarta");
        assert_eq!(state.intention.as_deref(), Some("B"));
        assert_eq!(state.talk_round, 1);

        let tap: Content = serde_json::from_value(json!({"type": "interactive", "interactive":
            {"type": "button_reply", "button_reply": {"id": id, "title": "Agent"}}}))
        .unwrap();
        let req = r.request("call-1", &state, &tap);
        assert_eq!(
            req.body.unwrap(),
            json!({"sender": "call-1", "message": "/agent"})
        );
        let typed = Content::plain_text("track");
        assert_eq!(
            r.request("c", &state, &typed).body.unwrap()["message"],
            "/track"
        );
    }

    #[test]
    fn custom_payloads_hand_off_and_end() {
        let r = robot();
        let mut state = DialogueState::default();
        let mut out = Vec::new();
        let handoff = json!([{"custom": {"handoff": true, "output_label": "E"}}]);
        assert_eq!(
            r.apply("f", &mut state, &handoff, &mut out),
            Some(Step::Transfer {
                output_label: "E".into()
            })
        );
        assert_eq!(
            r.apply(
                "f",
                &mut state,
                &json!([{"custom": {"end": true}}]),
                &mut out
            ),
            Some(Step::End)
        );
        assert_eq!(
            r.apply("f", &mut state, &json!({"oops": 1}), &mut out),
            None
        );
        assert!(out.is_empty());
    }
}
