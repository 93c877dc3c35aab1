//! A user's pick: a tap on a reply button, a list row, or a template quick-reply button.
//!
//! Inbound it arrives as `{"type":"interactive","interactive":{"type":"button_reply",
//! "button_reply":{id,title}}}` (or `list_reply`, or `{"type":"button","text":"no"}`); it is
//! stored as it came (the robot matches the option by its id) with a message-level
//! [`Reply`] naming the message it answers, decided here by [`answered_message`]. Every
//! listing then shows it the way the documents do ([`listed`]): `{"type":"interactive",
//! "text":"女"}` with the reply in the surface's shape ([`ReplyShape`]).

use serde_json::Map;

use super::{
    Choice, Content, InlineReply, InteractiveContent, Message, Reply, ReplyMessage, SenderType,
};

/// How a listing writes a reply; the seeds show two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyShape {
    /// `{"msg_id","type":"interactive","interactive":{…}}`: the message list APIs (seed 000).
    Flat,
    /// `{"msg_id","sender_type","timestamp","content":{…}}`: callbacks and the `session.end`
    /// transcript (seed 002).
    Full,
}

/// What a user's content picks, if it is a pick.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pick<'a> {
    /// A reply button or list row: its `id` (if given) and `title`.
    Option {
        id: Option<&'a str>,
        title: Option<&'a str>,
    },
    /// A template quick-reply button's text.
    TemplateButton(Option<&'a str>),
}

fn pick_of(content: &Content) -> Option<Pick<'_>> {
    match content {
        Content::Interactive(c) => {
            let choice: &Choice = c.interactive()?.selection()?;
            Some(Pick::Option {
                id: choice.id.as_deref().filter(|id| !id.is_empty()),
                title: choice.title.as_deref(),
            })
        }
        Content::Button(c) => Some(Pick::TemplateButton(c.text.as_deref())),
        _ => None,
    }
}

/// Whether `content` is a user's pick (which then answers an earlier message).
pub fn is_pick(content: &Content) -> bool {
    pick_of(content).is_some()
}

/// An option id matches itself, or itself followed by `-<title>` (LINE postback data,
/// `…-button-1--女`).
fn id_matches(option: &str, picked: &str) -> bool {
    picked == option
        || picked
            .strip_prefix(option)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// The message a pick answers, from the session's earlier messages given **newest first**:
/// the newest prompt (an interactive message not sent by the user) offering the picked
/// option's id, else the newest offering its title; for a template button, the newest
/// template with a button of that text, else the newest template. `None` when `content`
/// is no pick or nothing matches.
pub fn answered_message<'a>(content: &Content, newest_first: &'a [Message]) -> Option<&'a Message> {
    let prompts = || {
        newest_first
            .iter()
            .filter(|m| !matches!(m.sender_type, SenderType::User | SenderType::System))
    };
    match pick_of(content)? {
        Pick::Option { id, title } => {
            let options = |m: &'a Message| match &m.content {
                Content::Interactive(c) => c.interactive().map(|i| i.options().collect::<Vec<_>>()),
                _ => None,
            };
            let by_id = id.and_then(|id| {
                prompts().find(|m| {
                    options(m).is_some_and(|opts| {
                        opts.iter()
                            .any(|o| o.id.as_deref().is_some_and(|oid| id_matches(oid, id)))
                    })
                })
            });
            by_id.or_else(|| {
                let title = title?;
                prompts().find(|m| {
                    options(m)
                        .is_some_and(|opts| opts.iter().any(|o| o.title.as_deref() == Some(title)))
                })
            })
        }
        Pick::TemplateButton(text) => {
            let templates = || prompts().filter(|m| matches!(m.content, Content::Template(_)));
            let has_button = |m: &Message| {
                let Content::Template(t) = &m.content else {
                    return false;
                };
                t.template
                    .as_deref()
                    .and_then(super::Template::whatsapp)
                    .and_then(|w| w.button.as_deref())
                    .is_some_and(|bs| bs.iter().any(|b| b.text.as_deref() == text))
            };
            templates()
                .find(|m| has_button(m))
                .or_else(|| templates().next())
        }
    }
}

/// The message-level reply that points at `answered`, in full form.
pub fn reply_to(answered: &Message) -> Reply {
    Reply::Message(ReplyMessage {
        msg_id: Some(answered.msg_id.clone()),
        seat_id: None,
        timestamp: Some(answered.timestamp),
        sender_type: Some(answered.sender_type),
        status: None,
        content: answered.content.clone(),
        extra: Map::new(),
    })
}

/// A stored message the way listings show it: a button or list pick becomes
/// `{"type":"interactive","text":<title>}`, and a reply takes the listing's `shape`.
/// Anything else is returned as stored.
pub fn listed(m: &Message, shape: ReplyShape) -> Message {
    let mut out = m.clone();
    if let Some(Pick::Option { title, .. }) = pick_of(&m.content) {
        out.content = Content::Interactive(InteractiveContent {
            text: title.map(str::to_owned),
            ..InteractiveContent::default()
        });
    }
    if let (ReplyShape::Flat, Some(Reply::Message(full))) = (shape, m.reply.as_deref()) {
        out.reply = Some(Box::new(Reply::Inline(InlineReply {
            msg_id: full.msg_id.clone(),
            content: full.content.clone(),
        })));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn msg(id: &str, sender: &str, content: &serde_json::Value) -> Message {
        serde_json::from_value(json!({"msg_id": id, "timestamp": 1, "sender_type": sender,
            "content": content}))
        .unwrap()
    }

    fn prompt(id: &str, prefix: &str) -> Message {
        msg(
            id,
            "robot",
            &json!({"type": "interactive", "interactive": {"type": "button",
            "body": {"text": "?"}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": format!("{prefix}-button-0-"), "title": "男"}},
                {"type": "reply", "reply": {"id": format!("{prefix}-button-1-"), "title": "女"}}]}}}),
        )
    }

    fn tap(id: Option<&str>, title: &str) -> Content {
        serde_json::from_value(
            json!({"type": "interactive", "interactive": {"type": "button_reply",
            "button_reply": {"id": id, "title": title}}}),
        )
        .unwrap()
    }

    #[test]
    fn a_pick_answers_the_newest_prompt_offering_its_id_else_its_title() {
        let older = prompt("p1", "a");
        let newer = prompt("p2", "b");
        let text = msg("t", "robot", &json!({"type": "text", "text": "hi"}));
        let recent = [text, newer, older];
        let id = |c: &Content| answered_message(c, &recent).map(|m| m.msg_id.clone());
        assert_eq!(id(&tap(Some("a-button-1-"), "女")).as_deref(), Some("p1"));
        assert_eq!(
            id(&tap(Some("b-button-1--女"), "女")).as_deref(),
            Some("p2"),
            "LINE data"
        );
        assert_eq!(
            id(&tap(None, "女")).as_deref(),
            Some("p2"),
            "by title, newest"
        );
        assert_eq!(id(&tap(Some("zzz"), "其他")), None);
        assert_eq!(id(&Content::plain_text("女")), None);
    }

    #[test]
    fn a_template_tap_answers_the_template_with_that_button() {
        let tpl = |id: &str, text: &str| {
            msg(
                id,
                "chatbot",
                &json!({"type": "template", "template": {"type": "WhatsApp",
                "content": {"body": "b", "button": [{"type": "QUICK_REPLY", "text": text}]}}}),
            )
        };
        let recent = [tpl("t2", "yes"), tpl("t1", "no")];
        let tap = |t: &str| {
            Content::Button(super::super::TextContent {
                text: Some(t.into()),
                ..Default::default()
            })
        };
        assert_eq!(answered_message(&tap("no"), &recent).unwrap().msg_id, "t1");
        assert_eq!(
            answered_message(&tap("other"), &recent).unwrap().msg_id,
            "t2"
        );
    }

    #[test]
    fn listings_show_the_title_and_the_reply_in_their_shape() {
        let p = prompt("p1", "a");
        let mut user = msg(
            "u1",
            "user",
            &serde_json::to_value(tap(Some("a-button-1-"), "女")).unwrap(),
        );
        user.reply = Some(Box::new(reply_to(&p)));
        let flat = serde_json::to_value(listed(&user, ReplyShape::Flat)).unwrap();
        assert_eq!(
            flat["content"],
            json!({"type": "interactive", "text": "女"})
        );
        assert_eq!(flat["reply"]["msg_id"], "p1");
        assert_eq!(
            flat["reply"]["interactive"],
            serde_json::to_value(&p.content).unwrap()["interactive"]
        );
        assert!(flat["reply"].get("content").is_none());
        let full = serde_json::to_value(listed(&user, ReplyShape::Full)).unwrap();
        assert_eq!(
            full["reply"]["content"],
            serde_json::to_value(&p.content).unwrap()
        );
        assert_eq!(
            (
                full["reply"]["sender_type"].as_str(),
                full["reply"]["timestamp"].as_i64()
            ),
            (Some("robot"), Some(1))
        );
        let text = msg("x", "user", &json!({"type": "text", "text": "hi"}));
        assert_eq!(listed(&text, ReplyShape::Flat), text);
    }
}
