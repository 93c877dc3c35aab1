//! Running a script: drive the flow turn by turn and compare what it did with what the
//! turn expects.

use serde_json::{json, Map, Value};

use super::{HttpDef, Mismatch, OneOrMany, PickDef, Script, ScriptReport, Turn, UserDef};
use crate::{
    messages::{Content, Interactive},
    robots::flow::{DialogueState, Flow, HttpResponse, Step, TurnContext},
};

pub(super) fn run(flow: &Flow, script: &Script) -> ScriptReport {
    let ctx = TurnContext {
        flow_id: &script.flow_id,
        variables: &script.variables,
    };
    let mut state = DialogueState::default();
    let mut last: Vec<Content> = Vec::new();
    let mut failures = Vec::new();
    for (i, turn) in script.turns.iter().enumerate() {
        let mut t = TurnCheck {
            step: i + 1,
            turn,
            failures: &mut failures,
        };
        let mut out = Vec::new();
        let mut step = if turn.def.refused {
            flow.transfer_refused(&mut state, &ctx, &mut out)
        } else if let Some(user) = &turn.def.user {
            let content = t.input(user, &last);
            flow.answer(&mut state, &ctx, &content, &mut out)
        } else {
            flow.start(&mut state, &ctx, &mut out)
        };
        let responses: Vec<&HttpDef> = match &turn.def.http {
            None => Vec::new(),
            Some(OneOrMany::One(h)) => vec![h],
            Some(OneOrMany::Many(all)) => all.iter().collect(),
        };
        let mut responses = responses.into_iter();
        while let Step::Http(req) = &step {
            let Some(h) = responses.next() else {
                let call = json!({"method": req.method, "url": req.url, "body": req.body});
                t.fail(
                    json!("an `http:` answer"),
                    call,
                    "the flow asked for an HTTP call the turn does not answer",
                );
                break;
            };
            let response = (!h.failed).then(|| HttpResponse {
                status: h.status,
                body: h.body.clone(),
            });
            step = flow.http_result(&mut state, &ctx, response.as_ref(), &mut out);
        }
        if responses.next().is_some() {
            t.fail(
                json!("no more HTTP calls"),
                json!(step_name(&step)),
                "the turn answers an HTTP call the flow did not make",
            );
        }
        t.expect(&step, &state, &out);
        last = out;
    }
    ScriptReport {
        passed: failures.is_empty(),
        steps: script.turns.len(),
        failures,
    }
}

struct TurnCheck<'a> {
    step: usize,
    turn: &'a Turn,
    failures: &'a mut Vec<Mismatch>,
}

impl TurnCheck<'_> {
    fn fail(&mut self, expected: Value, actual: Value, message: &str) {
        self.failures.push(Mismatch {
            step: self.step,
            line: self.turn.line,
            expected,
            actual,
            message: message.to_owned(),
        });
    }

    /// The content a user input stands for. A button or list pick takes its id from the
    /// robot's previous messages, as a real channel would.
    fn input(&mut self, user: &UserDef, last: &[Content]) -> Content {
        let pick = match user {
            UserDef::Text(text) => return Content::plain_text(text.clone()),
            UserDef::Pick(p) => p,
        };
        let (kind, id, title) = match pick {
            PickDef { id: Some(id), .. } => {
                let kind = if id.contains("-list-") {
                    "list_reply"
                } else {
                    "button_reply"
                };
                (kind, Some(id.clone()), None)
            }
            PickDef {
                button: Some(title),
                ..
            } => (
                "button_reply",
                self.option_id(last, title, true),
                Some(title),
            ),
            PickDef {
                list: Some(title), ..
            } => (
                "list_reply",
                self.option_id(last, title, false),
                Some(title),
            ),
            PickDef { .. } => ("button_reply", None, None),
        };
        let mut choice = Map::new();
        if let Some(id) = id {
            choice.insert("id".into(), Value::String(id));
        }
        if let Some(title) = title {
            choice.insert("title".into(), Value::String(title.clone()));
        }
        let raw = json!({"type": "interactive", "interactive": {"type": kind, kind: choice}});
        Content::from_value(raw).unwrap_or_else(|_| Content::plain_text(String::new()))
    }

    fn option_id(&mut self, last: &[Content], title: &str, button: bool) -> Option<String> {
        let found = last
            .iter()
            .filter_map(|c| match c {
                Content::Interactive(i) => i.interactive(),
                _ => None,
            })
            .filter(|i| {
                i.action.as_ref().is_some_and(|a| {
                    if button {
                        a.buttons.is_some()
                    } else {
                        a.sections.is_some()
                    }
                })
            })
            .flat_map(Interactive::options)
            .find(|o| o.title.as_deref() == Some(title))
            .and_then(|o| o.id.clone());
        if found.is_none() {
            let what = if button { "button" } else { "list row" };
            self.fail(
                json!(title),
                json!(offered(last)),
                &format!("no {what} `{title}` among the robot's last messages"),
            );
        }
        found
    }

    fn expect(&mut self, step: &Step, state: &DialogueState, out: &[Content]) {
        let def = &self.turn.def;
        if let Some(robot) = &def.robot {
            for i in 0..robot.len().max(out.len()) {
                let (want, got) = (robot.get(i), out.get(i));
                let actual = got.map_or(Value::Null, |c| view(c, want));
                if want != Some(&actual) {
                    let message = format!("robot message {} differs", i + 1);
                    self.fail(want.cloned().unwrap_or(Value::Null), actual, &message);
                }
            }
        }
        let transferred = match step {
            Step::Transfer { output_label } => Some(output_label),
            _ => None,
        };
        if let Some(want) = def.transfer.filter(|w| *w != transferred.is_some()) {
            self.fail(
                json!({"transfer": want}),
                json!(step_name(step)),
                "transfer",
            );
        }
        if let Some(label) = &def.output_label {
            if transferred != Some(label) {
                self.fail(
                    json!(label),
                    json!(transferred),
                    "output_label of the transfer",
                );
            }
        }
        if let Some(want) = def.end.filter(|w| *w != (*step == Step::End)) {
            self.fail(json!({"end": want}), json!(step_name(step)), "end");
        }
        for (k, want) in def.slots.iter().flatten() {
            let got = state.slots.get(k).cloned().unwrap_or(Value::Null);
            if !loosely_equal(want, &got) {
                self.fail(want.clone(), got, &format!("slot `{k}`"));
            }
        }
        if let Some(want) = &def.intention {
            if state.intention.as_ref() != Some(want) {
                self.fail(json!(want), json!(state.intention), "intention");
            }
        }
    }
}

/// What a robot message looks like through the eyes of an expectation: a string compares
/// the message's text (a text's text, an interactive's body, a media url); an object
/// compares the keys it gives (`text`, `buttons`, `list`, `content`).
fn view(content: &Content, want: Option<&Value>) -> Value {
    let json = serde_json::to_value(content).unwrap_or(Value::Null);
    let text = json
        .pointer("/text")
        .or_else(|| json.pointer("/interactive/body/text"))
        .or_else(|| json.pointer("/media/origin_url"))
        .cloned();
    let Some(Value::Object(keys)) = want else {
        return text.unwrap_or(json);
    };
    let titles = |c: &Content, buttons: bool| -> Value {
        let Content::Interactive(i) = c else {
            return Value::Null;
        };
        let Some(i) = i.interactive() else {
            return Value::Null;
        };
        let has = i.action.as_ref().is_some_and(|a| {
            if buttons {
                a.buttons.is_some()
            } else {
                a.sections.is_some()
            }
        });
        if !has {
            return Value::Null;
        }
        i.options()
            .filter_map(|o| o.title.clone())
            .map(Value::String)
            .collect()
    };
    keys.keys()
        .map(|k| {
            let v = match k.as_str() {
                "text" => text.clone().unwrap_or(Value::Null),
                "buttons" => titles(content, true),
                "list" => titles(content, false),
                "content" => json.clone(),
                _ => Value::Null,
            };
            (k.clone(), v)
        })
        .collect::<Map<_, _>>()
        .into()
}

/// The titles the robot offered last, for a failed pick's report.
fn offered(last: &[Content]) -> Vec<String> {
    last.iter()
        .filter_map(|c| match c {
            Content::Interactive(i) => i.interactive(),
            _ => None,
        })
        .flat_map(|i| i.options().filter_map(|o| o.title.clone()))
        .collect()
}

fn step_name(step: &Step) -> Value {
    match step {
        Step::AwaitUser => json!("await_user"),
        Step::Http(req) => json!({"http": req.url}),
        Step::Transfer { output_label } => json!({"transfer": output_label}),
        Step::End => json!("end"),
    }
}

/// JSON equality, except that scalars compare by their text (`1500` matches `"1500"` and
/// `1500.0`), since YAML authors should not have to think about number types.
fn loosely_equal(want: &Value, got: &Value) -> bool {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string())),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    want == got || matches!((scalar(want), scalar(got)), (Some(a), Some(b)) if a == b)
}
